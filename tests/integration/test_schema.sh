#!/usr/bin/env bash
# test_schema.sh - checks that docs/event-schema.json and docs/alert-schema.json
# describe what Vigil really writes.
#
# Runs the real sensor (`vigil events` with every event type, as root) while
# it makes syscalls of every kind the sensor reports, then validates every
# line of output against the event schema, checks that each expected
# evt.name was seen, and that the events carry the values the workload used
# (paths, ports, modes, names). It also validates the replay fixture (which
# the reader may take with fields left out) and what the writer prints when
# it replays that fixture, checks the schemas reject renamed or mistyped
# fields, and checks alerts wrapping real events against the alert schema.
#
# Installs Debian's python3-jsonschema when no python3 has jsonschema (needs
# root, as the sensor does). Prints one PASS/FAIL line per check and a final
# "N passed, N failed"; exits non-zero if anything failed.
#
# The sensor runs with --duration DURATION as an upper bound and is stopped
# with SIGINT two seconds after the workload ends: every line it printed is
# validated, and a busy node prints thousands a second.
#
# Environment: VIGIL (a ready binary; default: `make build/vigil`),
# DURATION (default 60), ALERTS_FILE (JSON lines of alerts to validate as
# well), PYTHON (the python3 to use), EVENT_SCHEMA and ALERT_SCHEMA (other
# schema files, to test the test), KEEP_TMP=1 to keep the work directory.
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# The workload changes directory: keep a relative $VIGIL usable.
case ${VIGIL:-} in "" | /*) ;; *) VIGIL=$PWD/$VIGIL ;; esac
EVENT_SCHEMA=${EVENT_SCHEMA:-$ROOT/docs/event-schema.json}
ALERT_SCHEMA=${ALERT_SCHEMA:-$ROOT/docs/alert-schema.json}
FIXTURE=$ROOT/tests/fixtures/events/echo_exec_exit.jsonl
DURATION=${DURATION:-60}
WORK=$(mktemp -d /tmp/vigil-schema.XXXXXX)
PLAY=$WORK/play
passed=0
failed=0
sensor_pid=
sleeper_pid=
PY=

# Every type the sensor knows. bpf, load_module and unload_module are made
# with harmless calls (a tiny map; module calls that fail).
ALL_TYPES=exec,fork,exit,open,mkdir,rmdir,unlink,rename,link,symlink,chmod,chown,utimes,truncate
ALL_TYPES=$ALL_TYPES,setxattr,removexattr,chdir,setuid,setgid,capset,ptrace,signal,prctl,setrlimit
ALL_TYPES=$ALL_TYPES,load_module,unload_module,bpf,mount,umount,memfd_create,mmap,mprotect,unshare
ALL_TYPES=$ALL_TYPES,setns,connect,bind,accept,listen

pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

finish() {
	# Only the processes this script started, by pid.
	[ -n "$sleeper_pid" ] && kill "$sleeper_pid" 2>/dev/null && wait "$sleeper_pid" 2>/dev/null
	[ -n "$sensor_pid" ] && kill "$sensor_pid" 2>/dev/null && wait "$sensor_pid" 2>/dev/null
	if [ "${KEEP_TMP:-0}" = 1 ]; then
		echo "work directory kept: $WORK"
	else
		rm -rf "$WORK"
	fi
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
}

# Ends the run early when later checks cannot work without this one.
give_up() {
	fail "$*"
	finish
	exit 1
}

# A python3 with jsonschema 4+ (draft 2020-12): the one on PATH, Debian's,
# or Debian's after installing python3-jsonschema.
find_python() {
	local py
	for py in ${PYTHON:-} python3 /usr/bin/python3; do
		if "$py" -c 'from jsonschema import Draft202012Validator' 2>/dev/null; then
			PY=$py
			return 0
		fi
	done
	[ "$(id -u)" -eq 0 ] || return 1
	echo "installing python3-jsonschema" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y python3-jsonschema >"$WORK/apt.log" 2>&1 ||
		{ apt-get update >>"$WORK/apt.log" 2>&1 &&
		  DEBIAN_FRONTEND=noninteractive apt-get install -y python3-jsonschema >>"$WORK/apt.log" 2>&1; } ||
		return 1
	/usr/bin/python3 -c 'from jsonschema import Draft202012Validator' 2>/dev/null || return 1
	PY=/usr/bin/python3
}

# The validator and checks, shared by the steps below. Each mode prints
# PASS/FAIL lines itself; the shell counts them.
cat >"$WORK/check.py" <<'PYEOF'
import collections, copy, json, os, re, sys
from jsonschema import Draft202012Validator

def load(path):
    with open(path) as f:
        return json.load(f)

def event_validator(schema):
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)

def alert_validator(alert_schema, event_schema):
    Draft202012Validator.check_schema(alert_schema)
    try:  # jsonschema >= 4.18
        from referencing import Registry, Resource
        reg = Registry().with_resource(event_schema["$id"], Resource.from_contents(event_schema))
        return Draft202012Validator(alert_schema, registry=reg)
    except ImportError:  # Debian 12's 4.10
        from jsonschema import RefResolver
        res = RefResolver.from_schema(alert_schema, store={event_schema["$id"]: event_schema})
        return Draft202012Validator(alert_schema, resolver=res)

def lenient(schema):
    """The schema as the replay reader applies it: every field optional,
    names and types as strict as ever."""
    if isinstance(schema, dict):
        return {k: lenient(v) for k, v in schema.items() if k not in ("required", "dependentRequired")}
    if isinstance(schema, list):
        return [lenient(v) for v in schema]
    return schema

def out(ok, msg):
    print(("PASS: " if ok else "FAIL: ") + msg)

def error_summary(v, events, limit=12):
    """Groups errors by event type, place and message."""
    groups = collections.Counter()
    example = {}
    for lineno, e in events:
        for err in v.iter_errors(e):
            name = e.get("evt", {}).get("name", "?") if isinstance(e, dict) else "?"
            key = (name, err.json_path, err.message[:160])
            groups[key] += 1
            example.setdefault(key, lineno)
    lines = []
    for (name, path, msg), n in groups.most_common(limit):
        lines.append("    %s x%d at %s (line %d): %s" % (name, n, path, example[(name, path, msg)], msg))
    return groups, lines

def read_lines(path):
    """(lineno, object) for each JSON object line; others as (lineno, None)."""
    with open(path, errors="replace") as f:
        for i, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                yield i, json.loads(line)
            except ValueError:
                yield i, None

def mode_schemas(event_path, alert_path):
    es, al = load(event_path), load(alert_path)
    for name, s in (("event", es), ("alert", al)):
        try:
            Draft202012Validator.check_schema(s)
            out(True, "%s schema is a valid draft 2020-12 schema" % name)
        except Exception as exc:
            out(False, "%s schema is not a valid schema: %s" % (name, str(exc).splitlines()[0]))
    for name, s in (("event", es), ("alert", al)):
        out(re.search(r"/[0-9]+\.[0-9]+\.[0-9]+/", s.get("$id", "")) is not None,
            "%s schema $id carries a version (%s)" % (name, s.get("$id")))
    out(al["properties"]["event"].get("$ref") == es.get("$id"),
        "alert schema's event refers to the event schema's $id")

class EventChecker:
    """Validates events, remembering the verdict on subtrees that repeat from
    event to event (ancestors, parent, credentials). Their sub-schemas are
    plain $refs that nothing else in the schema constrains, so a subtree's
    verdict does not depend on the event around it; the rest of the event is
    validated with valid stand-ins in their place. Same result as a full
    validation, several times faster on real streams."""
    STUB_ANCESTOR = {"pid": 1, "ppid": 0, "comm": "x", "credentials": {"uid": 0, "euid": 0}}
    STUB_CREDENTIALS = {"uid": 0, "gid": 0, "euid": 0, "egid": 0, "fsuid": 0, "fsgid": 0,
                        "cap_effective": [], "cap_permitted": []}

    def __init__(self, schema):
        self.full = event_validator(schema)
        self.sub = {name: Draft202012Validator({"$schema": schema["$schema"], "$id": schema["$id"],
                                                "$defs": schema["$defs"], "$ref": "#/$defs/" + name})
                    for name in ("ancestor", "credentials")}
        self.cache = {}

    def _sub_errors(self, kind, obj, where):
        key = (kind, json.dumps(obj, sort_keys=True))
        if key not in self.cache:
            if len(self.cache) > 100000:
                self.cache.clear()
            self.cache[key] = [(err.json_path.replace("$", where, 1), err.message)
                               for err in self.sub[kind].iter_errors(obj)]
        return self.cache[key]

    def errors(self, e):
        """[(json path, message)]"""
        proc = e.get("process") if isinstance(e, dict) else None
        if not isinstance(proc, dict):
            return [(err.json_path, err.message) for err in self.full.iter_errors(e)]
        errs = []
        proc = dict(proc)
        anc = proc.get("ancestors")
        if isinstance(anc, list) and len(anc) <= 32:
            for n, a in enumerate(anc):
                errs += self._sub_errors("ancestor", a, "$.process.ancestors[%d]" % n)
            proc["ancestors"] = []
        if "parent" in proc:
            errs += self._sub_errors("ancestor", proc["parent"], "$.process.parent")
            proc["parent"] = self.STUB_ANCESTOR
        if "credentials" in proc:
            errs += self._sub_errors("credentials", proc["credentials"], "$.process.credentials")
            proc["credentials"] = self.STUB_CREDENTIALS
        e = dict(e)
        e["process"] = proc
        return errs + [(err.json_path, err.message) for err in self.full.iter_errors(e)]

# The writer starts every line with these two; they are all that differs
# between most events of a busy stream.
STAMP = re.compile(r'^\{"timestamp":([0-9]+),"date":("[^"\\]*"),')

class StreamChecker:
    """Validates a stream line by line. Lines that differ only in timestamp
    and date get one validation of the rest (with valid stand-ins for the
    two) and a separate check of the two values; nothing else in the schema
    looks at them, so the result is that of validating every line in full.
    A node running a benchmark prints ~30000 events a second; this keeps
    the check to seconds."""
    def __init__(self, schema):
        self.checker = EventChecker(schema)
        root = schema["properties"]
        self.stamp = Draft202012Validator({"$schema": schema["$schema"], "$id": schema["$id"],
                                           "$defs": schema["$defs"], "type": "object",
                                           "properties": {"timestamp": root["timestamp"], "date": root["date"]}})
        self.cache = {}
        self.full = 0  # lines validated, not found in the cache

    def check(self, text):
        """(event name or None, [(path, message)]); name None and a "not JSON" error if unparsable."""
        m = STAMP.match(text)
        if not m:
            self.full += 1
            try:
                e = json.loads(text)
            except ValueError:
                return None, [("$", "not JSON")]
            name = get(e, "evt.name")
            return (name if isinstance(name, str) else None), self.checker.errors(e)
        key = text[m.end():]
        if key not in self.cache:
            self.full += 1
            if len(self.cache) > 20000:
                self.cache.clear()
            try:
                e = json.loads('{"timestamp":0,"date":"1970-01-01T00:00:00.000000000Z",' + key)
            except ValueError:
                return None, [("$", "not JSON")]
            name = get(e, "evt.name")
            self.cache[key] = ((name if isinstance(name, str) else None), self.checker.errors(e))
        name, errs = self.cache[key]
        try:
            stamp = {"timestamp": int(m.group(1)), "date": json.loads(m.group(2))}
        except ValueError:
            return name, errs + [("$.date", "not a JSON string")]
        return name, errs + [(err.json_path, err.message) for err in self.stamp.iter_errors(stamp)]

def mode_live(event_path, events_path, expected, checks_path):
    checks = load(checks_path)
    # A check's type and string values must appear in a line before it is parsed.
    needles = [['"evt":{"name":%s' % json.dumps(c["type"])] +
               [json.dumps(v) for v in c["where"].values() if isinstance(v, str)] for c in checks]
    found = [False] * len(checks)
    seen = collections.Counter()
    groups = collections.Counter()
    example = {}
    total = not_json = 0
    sc = StreamChecker(load(event_path))
    with open(events_path, errors="replace") as f:
        for lineno, text in enumerate(f, 1):
            text = text.rstrip("\n")
            if not text.strip():
                continue
            total += 1
            name, errs = sc.check(text)
            if name is None and errs == [("$", "not JSON")]:
                not_json += 1
                continue
            seen[name] += 1
            for path, msg in errs:
                key = (name, path, msg[:160])
                groups[key] += 1
                example.setdefault(key, lineno)
            for i, c in enumerate(checks):
                if not found[i] and all(n in text for n in needles[i]):
                    found[i] = matches(json.loads(text), c["where"])
    out(not_json == 0, "every output line is JSON (%d are not)" % not_json)
    out(total > 0, "the sensor printed events (%d lines, %d validated in full)" % (total, sc.full))
    bad = sum(groups.values())
    out(bad == 0 and total > 0, "all %d events match the event schema (%d errors)" % (total, bad))
    for (name, path, msg), n in groups.most_common(12):
        print("    %s x%d at %s (line %d): %s" % (name, n, path, example[(name, path, msg)], msg))
    for name in expected.split(","):
        out(seen[name] > 0, "evt.name %s seen (%d events)" % (name, seen[name]))
    for c, ok in zip(checks, found):
        out(ok, "%s: %s" % (c["type"], c["what"]))

def get(e, path):
    for part in path.split("."):
        if isinstance(e, list):
            if not part.isdigit() or int(part) >= len(e):
                return None
            e = e[int(part)]
        elif isinstance(e, dict):
            if part not in e:
                return None
            e = e[part]
        else:
            return None
    return e

def matches(e, where):
    for path, want in where.items():
        got = get(e, path)
        if isinstance(want, dict) and "contains" in want:
            if not isinstance(got, (str, list)) or want["contains"] not in got:
                return False
        elif got != want:
            return False
    return True

def mode_fixture(event_path, fixture, rejected_lines, replayed):
    schema = load(event_path)
    v = Draft202012Validator(lenient(schema))
    rejected = set(int(x) for x in rejected_lines.split(",") if x)
    for lineno, e in read_lines(fixture):
        if not isinstance(e, dict) or not isinstance(e.get("evt"), dict) or "name" not in e["evt"]:
            print("skip: fixture line %d is not an event object" % lineno)
            continue
        errs = [err.message[:160] for err in v.iter_errors(e)]
        has_pid = isinstance(e.get("process"), dict) and "pid" in e["process"]
        if lineno in rejected:
            out(bool(errs) or not has_pid,
                "fixture line %d, which the replay reader rejects, is rejected by the schema" % lineno)
        else:
            out(not errs and has_pid, "fixture line %d (%s) matches the schema as replay input%s" %
                (lineno, e["evt"]["name"], ": " + errs[0] if errs else ""))
    strict = event_validator(schema)
    events = [(n, e) for n, e in read_lines(replayed) if e is not None]
    groups, lines = error_summary(strict, events)
    out(events and not groups, "the writer's output for the replayed fixture (%d events) matches the schema"
        % len(events))
    for l in lines:
        print(l)

def mutate(e, path, action, value=None):
    """Renames, drops or retypes the field at path; False if absent."""
    parts = path.split(".")
    parent = get(e, ".".join(parts[:-1])) if len(parts) > 1 else e
    key = parts[-1]
    if not isinstance(parent, dict) or key not in parent:
        return False
    if action == "rename":
        parent[key + "_renamed"] = parent.pop(key)
    elif action == "drop":
        del parent[key]
    else:
        parent[key] = value
    return True

def mode_negative(event_path, alert_path, events_path, alerts_file):
    es = load(event_path)
    v = event_validator(es)
    checker = EventChecker(es)
    av = alert_validator(load(alert_path), es)
    by_type = {}
    with open(events_path, errors="replace") as f:
        for text in f:
            m = re.search(r'"evt":\{"name":"([a-z_]+)"', text)
            if not m or m.group(1) in by_type:
                continue
            try:
                e = json.loads(text)
            except ValueError:
                continue
            if not checker.errors(e):
                by_type[m.group(1)] = e
    cases = [
        ("exec", "process.pid", "rename", None), ("exec", "process.credentials.euid", "rename", None),
        ("exec", "exec.file.path", "rename", None), ("exit", "exit.code", "set", "0"),
        ("exit", "exit.cause", "set", "KILLED"), ("open", "open.file.path_resolution", "drop", None),
        ("open", "open.retval", "set", 1.5), ("open", "evt.category", "set", "network"),
        ("open", "evt.outcome", "drop", None), ("exec", "date", "set", "2026-01-01T00:00:00Z"),
        ("connect", "connect.addr.family", "set", "AF_INET7"), ("rename", "rename.file.destination", "drop", None),
        ("exec", "process.ancestors", "set", {}), ("fork", "process.is_thread", "set", "false"),
    ]
    for etype, path, action, value in cases:
        if etype not in by_type:
            out(False, "no valid %s event to mutate for %s %s" % (etype, action, path))
            continue
        e = copy.deepcopy(by_type[etype])
        if not mutate(e, path, action, value):
            out(False, "%s event has no %s to %s" % (etype, path, action))
            continue
        out(bool(list(v.iter_errors(e))), "event schema rejects a %s event with %s %s" %
            (etype, path, "renamed" if action == "rename" else "dropped" if action == "drop" else "set to %r" % (value,)))
    if not by_type:
        out(False, "no valid event to build alerts from")
        return
    e = copy.deepcopy(by_type.get("open") or next(iter(by_type.values())))
    e["exec"] = {}
    out(bool(list(v.iter_errors(e))), "event schema rejects a body object of another event type")
    # Containers: what a resolved one looks like, and what is not one.
    cid = "0123456789abcdef" * 4
    resolved = {"id": cid, "name": "web", "image": {"name": "docker.io/library/nginx", "tag": "1.27"},
                "runtime": "containerd", "created_at": "2026-11-30T08:00:00.000000000Z", "resolved": True}
    pod = {"name": "web-0", "namespace": "default", "uid": "6f1c2b1e-7d1a-4a53-9b0e-2a3c4d5e6f70"}
    for ok, what, extra in [
        (True, "a resolved container with its pod", {"container": resolved, "pod": pod}),
        (False, "a container id that is not 64 hex digits", {"container": dict(resolved, id="abc")}),
        (False, "an unresolved container with an image", {"container": dict(resolved, resolved=False)}),
        (False, "a pod without a container", {"pod": pod}),
    ]:
        e = copy.deepcopy(by_type.get("exec") or next(iter(by_type.values())))
        e.pop("container", None)
        e.pop("pod", None)
        e.update(extra)
        errs = list(v.iter_errors(e))
        out(not errs if ok else bool(errs), "event schema %s %s%s" %
            ("accepts" if ok else "rejects", what, ": " + errs[0].message if ok and errs else ""))

    # Alerts: Falco's keys around real events.
    def alert(ev):
        return {"time": ev["date"], "rule": "schema_test", "priority": "Notice",
                "output": "%s by %s" % (ev["evt"]["name"], ev["process"]["comm"]),
                "output_fields": {"evt.name": ev["evt"]["name"], "process.pid": ev["process"]["pid"],
                                  "process.file.path": get(ev, "process.file.path"),
                                  "process.args": get(ev, "process.args") or []},
                "tags": ["test", "schema"], "source": "vigil", "hostname": ev.get("hostname", "node"),
                "event": ev}
    errors = 0
    for ev in by_type.values():
        errors += len(list(av.iter_errors(alert(ev))))
    out(by_type and errors == 0, "alerts wrapping one real event of each type (%d) match the alert schema"
        % len(by_type))
    base = alert(by_type.get("exec") or next(iter(by_type.values())))
    for what, fn in [
        ("priority \"Info\"", lambda a: a.update(priority="Info")),
        ("source \"syscall\"", lambda a: a.update(source="syscall")),
        ("an extra key \"message\"", lambda a: a.update(message="x")),
        ("no output_fields", lambda a: a.pop("output_fields")),
        ("a time without nanoseconds", lambda a: a.update(time="2026-01-01T00:00:00Z")),
        ("tags that are not strings", lambda a: a.update(tags=[1])),
        ("an event with a renamed field", lambda a: mutate(a["event"], "process.pid", "rename")),
    ]:
        a = copy.deepcopy(base)
        fn(a)
        out(bool(list(av.iter_errors(a))), "alert schema rejects %s" % what)
    if alerts_file:
        alerts = [(n, a) for n, a in read_lines(alerts_file) if a is not None]
        groups, lines = error_summary(av, alerts)
        out(alerts and not groups, "%d alerts in %s match the alert schema" % (len(alerts), alerts_file))
        for l in lines:
            print(l)

if __name__ == "__main__":
    modes = {"schemas": mode_schemas, "live": mode_live, "fixture": mode_fixture, "negative": mode_negative}
    modes[sys.argv[1]](*sys.argv[2:])
PYEOF

# Runs check.py, echoing its lines and counting PASS/FAIL; a crash fails.
run_check() {
	local line rc
	"$PY" "$WORK/check.py" "$@" >"$WORK/check.out" 2>&1
	rc=$?
	while IFS= read -r line; do
		echo "$line"
		case $line in
		PASS:*) passed=$((passed + 1)) ;;
		FAIL:*) failed=$((failed + 1)) ;;
		esac
	done <"$WORK/check.out"
	[ "$rc" -eq 0 ] || fail "check.py $1 exited with status $rc"
}

# The syscalls that bash and coreutils cannot make, in one python process.
cat >"$WORK/syscalls.py" <<'PYEOF'
import ctypes, mmap, os, signal, socket, struct, subprocess, sys, time

play = sys.argv[1]
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.ptrace.restype = ctypes.c_long
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
SYS = {"x86_64": {"finit_module": 313, "delete_module": 176, "bpf": 321},
       "aarch64": {"finit_module": 273, "delete_module": 106, "bpf": 280}}[os.uname().machine]

# xattrs (user.* works on ext4, xfs, btrfs and tmpfs).
path = os.path.join(play, "xattr-file")
open(path, "w").close()
try:
    os.setxattr(path, "user.vigil_schema", b"1")
    os.removexattr(path, "user.vigil_schema")
except OSError as e:
    print("xattr: %s" % e, file=sys.stderr)

# prctl(PR_SET_NAME).
libc.prctl(15, b"vigil-schema", 0, 0, 0)

# memfd_create, and mappings both writable and executable.
fd = os.memfd_create("vigil-schema")
os.ftruncate(fd, 4096)
m = mmap.mmap(fd, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
m.close()
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
# PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS; then ask for execute too.
page = ctypes.c_void_p(libc.mmap(None, 4096, 3, 0x22, -1, 0))
libc.mprotect(page, 4096, 7)  # PROT_READ|PROT_WRITE|PROT_EXEC
os.close(fd)

# Network: TCP over IPv4 and IPv6, a unix socket.
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.bind(("127.0.0.1", 0))
srv.listen(7)
port = srv.getsockname()[1]
cli = socket.create_connection(("127.0.0.1", port))
conn, _ = srv.accept()
for s in (conn, cli, srv):
    s.close()
if socket.has_ipv6:
    try:
        s6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s6.bind(("::1", 0))
        s6.listen(1)
        c6 = socket.create_connection(("::1", s6.getsockname()[1]))
        a6, _ = s6.accept()
        for s in (a6, c6, s6):
            s.close()
    except OSError as e:
        print("ipv6: %s" % e, file=sys.stderr)
upath = os.path.join(play, "sock")
us = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
us.bind(upath)
us.listen(1)
uc = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
uc.connect(upath)
ua, _ = us.accept()
for s in (ua, uc, us):
    s.close()

# ptrace: attach to a child, wait for it to stop, detach.
child = subprocess.Popen(["sleep", "30"])
if libc.ptrace(16, child.pid, None, None) == 0:  # PTRACE_ATTACH
    os.waitpid(child.pid, 0)
    libc.ptrace(17, child.pid, None, None)  # PTRACE_DETACH
child.kill()
child.wait()

# Kernel modules: calls that fail before loading or unloading anything.
libc.syscall(SYS["finit_module"], -1, b"", 0)
libc.syscall(SYS["delete_module"], b"vigil_schema_no_such_module", os.O_NONBLOCK)

# bpf: a one-entry array map, named so the test can find it.
attr = ctypes.create_string_buffer(128)
struct.pack_into("IIII", attr, 0, 2, 4, 4, 1)  # BPF_MAP_TYPE_ARRAY, key 4, value 4, 1 entry
attr[28:28 + 12] = b"vigil_schema"
mfd = libc.syscall(SYS["bpf"], 0, attr, 72)
if mfd >= 0:
    os.close(mfd)
print(port, child.pid)
PYEOF

# Makes syscalls of every kind the sensor reports, in $PLAY; writes what
# the checks look for to $WORK/checks.json.
workload() {
	local port tracee sig_pid setns_ok=0 true_path cg_root cg_dir container_id=""
	true_path=$(readlink -f /bin/true)
	mkdir -p "$PLAY" || return 1
	cd "$PLAY" || return 1
	/bin/true vigil-schema-exec            # exec, fork, exit
	: >"$PLAY/a"                           # open (O_CREAT)
	mv "$PLAY/a" "$PLAY/b"                 # rename
	ln "$PLAY/b" "$PLAY/hard"              # link
	ln -s "$PLAY/b" "$PLAY/soft"           # symlink
	chmod 640 "$PLAY/b"                    # chmod
	chown 65534:65534 "$PLAY/b"            # chown
	touch -h -d @0 "$PLAY/b"               # utimes (-h: utimensat by path)
	touch "$PLAY/c"                        # utimes (futimens: no path argument)
	truncate -s 0 "$PLAY/b"                # truncate
	mkdir "$PLAY/dir"                      # mkdir
	(cd "$PLAY/dir" && :)                  # chdir
	rmdir "$PLAY/dir"                      # rmdir
	rm -f "$PLAY/hard" "$PLAY/soft"        # unlink
	(ulimit -n 777)                        # setrlimit (prlimit64)
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all /bin/true  # setuid, setgid, capset
	mkdir "$PLAY/mnt"
	unshare -m sh -c "mount -t tmpfs vigil-schema '$PLAY/mnt' && umount '$PLAY/mnt'"  # unshare, mount, umount
	nsenter --net=/proc/$$/ns/net /bin/true && setns_ok=1  # setns (into its own namespace)
	sleep 60 &
	sleeper_pid=$!
	sig_pid=$sleeper_pid
	kill -TERM "$sleeper_pid"              # signal
	wait "$sleeper_pid" 2>/dev/null
	sleeper_pid=
	read -r port tracee < <("$PY" "$WORK/syscalls.py" "$PLAY")
	# A container as the sensor sees one: a process in a cgroup v2 directory
	# named the way docker names its scopes (no runtime to ask: unresolved).
	cg_root=$(findmnt -n -t cgroup2 -o TARGET 2>/dev/null | head -1)
	if [ -n "$cg_root" ]; then
		container_id=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
		cg_dir=$cg_root/docker-$container_id.scope
		if mkdir "$cg_dir" 2>/dev/null; then
			bash -c 'echo $$ >"$1/cgroup.procs" && exec /bin/true vigil-schema-container' _ "$cg_dir" ||
				echo "could not move a process into $cg_dir" >&2
			rmdir "$cg_dir" 2>/dev/null
		else
			echo "cannot create a cgroup under $cg_root: no container check" >&2
			container_id=
		fi
	else
		echo "no cgroup2 mount: no container check" >&2
	fi
	/bin/true vigil-schema-end             # the last event: the sensor may stop once it is out
	cd / || return 1
	[ "$setns_ok" = 1 ] || echo "nsenter failed: no setns check" >&2
	# What the events must say, with the values used above.
	cat >"$WORK/checks.json" <<EOF
[
 {"type": "exec", "what": "exec of /bin/true with its argument",
  "where": {"exec.file.path": "$true_path", "exec.args.0": "vigil-schema-exec", "exec.syscall.path": "/bin/true"}},
 {"type": "exit", "what": "exit of the /bin/true run with code 0",
  "where": {"process.args.0": "vigil-schema-exec", "exit.cause": "EXITED", "exit.code": 0}},
 {"type": "open", "what": "open creating $PLAY/a with mode 0666 (438)",
  "where": {"open.file.path": "$PLAY/a", "open.file.name": "a", "open.file.path_resolution": "file",
            "open.file.destination.mode": 438, "evt.outcome": "success"}},
 {"type": "rename", "what": "rename $PLAY/a to $PLAY/b",
  "where": {"rename.file.path": "$PLAY/a", "rename.file.destination.path": "$PLAY/b"}},
 {"type": "link", "what": "link $PLAY/b to $PLAY/hard",
  "where": {"link.file.path": "$PLAY/b", "link.file.destination.path": "$PLAY/hard"}},
 {"type": "symlink", "what": "symlink $PLAY/soft -> $PLAY/b",
  "where": {"symlink.file.path": "$PLAY/soft", "symlink.target": "$PLAY/b"}},
 {"type": "chmod", "what": "chmod 640 (mode 416) of $PLAY/b",
  "where": {"chmod.file.path": "$PLAY/b", "chmod.file.destination.mode": 416}},
 {"type": "chown", "what": "chown 65534:65534 of $PLAY/b",
  "where": {"chown.file.path": "$PLAY/b", "chown.file.destination.uid": 65534, "chown.file.destination.gid": 65534}},
 {"type": "utimes", "what": "utimes of $PLAY/b, by its path",
  "where": {"utimes.file.path": "$PLAY/b", "utimes.file.path_resolution": "argument"}},
 {"type": "utimes", "what": "futimens of $PLAY/c, named from its fd",
  "where": {"utimes.file.path": "$PLAY/c", "utimes.file.path_resolution": "file"}},
 {"type": "truncate", "what": "truncate of $PLAY/b",
  "where": {"truncate.file.path": "$PLAY/b"}},
 {"type": "mkdir", "what": "mkdir $PLAY/dir",
  "where": {"mkdir.file.path": "$PLAY/dir", "mkdir.file.destination.mode": 511}},
 {"type": "chdir", "what": "chdir into $PLAY/dir, resolved from the new cwd",
  "where": {"chdir.file.path": "$PLAY/dir", "chdir.file.path_resolution": "cwd"}},
 {"type": "rmdir", "what": "rmdir $PLAY/dir", "where": {"rmdir.file.path": "$PLAY/dir"}},
 {"type": "unlink", "what": "unlink $PLAY/hard", "where": {"unlink.file.path": "$PLAY/hard"}},
 {"type": "setrlimit", "what": "RLIMIT_NOFILE (7) set to 777",
  "where": {"setrlimit.resource": 7, "setrlimit.rlim_cur": 777}},
 {"type": "setuid", "what": "setuid to 65534", "where": {"setuid.uid": 65534, "setuid.euid": 65534}},
 {"type": "setgid", "what": "setgid to 65534", "where": {"setgid.gid": 65534, "setgid.egid": 65534}},
 {"type": "capset", "what": "capset by setpriv", "where": {"process.comm": "setpriv"}},
 {"type": "unshare", "what": "unshare(CLONE_NEWNS)", "where": {"unshare.flags": 131072}},
 {"type": "mount", "what": "tmpfs mounted on $PLAY/mnt",
  "where": {"mount.mountpoint.path": "$PLAY/mnt", "mount.fs_type": "tmpfs", "mount.source.path": "vigil-schema"}},
 {"type": "umount", "what": "umount of $PLAY/mnt", "where": {"umount.file.path": "$PLAY/mnt"}},
 {"type": "setns", "what": "setns(CLONE_NEWNET) by nsenter",
  "where": {"setns.nstype": 1073741824, "process.comm": "nsenter"}},
 {"type": "signal", "what": "SIGTERM (15) to the sleep child",
  "where": {"signal.type": 15, "signal.pid": $sig_pid, "signal.target.pid": $sig_pid}},
 {"type": "setxattr", "what": "setxattr user.vigil_schema",
  "where": {"setxattr.file.path": "$PLAY/xattr-file", "setxattr.file.destination.name": "user.vigil_schema"}},
 {"type": "removexattr", "what": "removexattr user.vigil_schema",
  "where": {"removexattr.file.destination.name": "user.vigil_schema"}},
 {"type": "prctl", "what": "PR_SET_NAME vigil-schema", "where": {"prctl.option": 15, "prctl.new_name": "vigil-schema"}},
 {"type": "memfd_create", "what": "memfd_create vigil-schema", "where": {"memfd_create.name": "vigil-schema"}},
 {"type": "mmap", "what": "a writable and executable mapping", "where": {"mmap.protection": 7}},
 {"type": "mprotect", "what": "mprotect to PROT_READ|WRITE|EXEC", "where": {"mprotect.req_protection": 7}},
 {"type": "ptrace", "what": "PTRACE_ATTACH (16) to a child",
  "where": {"ptrace.request": 16, "ptrace.tracee.pid": ${tracee:-0}, "evt.outcome": "success"}},
 {"type": "load_module", "what": "finit_module on a bad fd fails",
  "where": {"evt.outcome": "failure", "load_module.syscall.name": "finit_module"}},
 {"type": "unload_module", "what": "delete_module of a module that does not exist",
  "where": {"unload_module.name": "vigil_schema_no_such_module"}},
 {"type": "bpf", "what": "BPF_MAP_CREATE of an array map named vigil_schema",
  "where": {"bpf.cmd": 0, "bpf.map.name": "vigil_schema", "bpf.map.type": 2}},
 {"type": "connect", "what": "connect to 127.0.0.1:$port",
  "where": {"connect.addr.family": "AF_INET", "connect.addr.ip": "127.0.0.1", "connect.addr.port": ${port:-0}}},
 {"type": "bind", "what": "bind of 127.0.0.1 port 0 (the argument, not the port given)",
  "where": {"bind.addr.family": "AF_INET", "bind.addr.ip": "127.0.0.1", "bind.addr.port": 0,
            "process.comm": "vigil-schema"}},
 {"type": "bind", "what": "bind of the unix socket $PLAY/sock",
  "where": {"bind.addr.family": "AF_UNIX", "bind.addr.path": "$PLAY/sock"}},
 {"type": "listen", "what": "listen on 127.0.0.1:$port with backlog 7",
  "where": {"listen.addr.port": ${port:-0}, "listen.backlog": 7}},
 {"type": "accept", "what": "accept from 127.0.0.1",
  "where": {"accept.addr.family": "AF_INET", "accept.addr.ip": "127.0.0.1"}},
 {"type": "connect", "what": "connect to [::1] over IPv6",
  "where": {"connect.addr.family": "AF_INET6", "connect.addr.ip": "::1"}},
 {"type": "connect", "what": "connect to the unix socket $PLAY/sock",
  "where": {"connect.addr.family": "AF_UNIX", "connect.addr.path": "$PLAY/sock"}}
]
EOF
	[ -n "$container_id" ] || return 0
	"$PY" - "$WORK/checks.json" "$container_id" <<'PYEOF'
import json, sys
path, cid = sys.argv[1], sys.argv[2]
with open(path) as f:
    checks = json.load(f)
checks.append({"type": "exec", "what": "exec in cgroup docker-%s.scope carries the container" % cid[:12],
               "where": {"exec.args.0": "vigil-schema-container", "container.id": cid,
                         "container.runtime": "docker", "container.resolved": False}})
with open(path, "w") as f:
    json.dump(checks, f)
PYEOF
}

# ---- setup ---------------------------------------------------------------

trap 'give_up "interrupted"' INT TERM

[ "$(id -u)" -eq 0 ] || give_up "must run as root (the sensor loads BPF programs)"
find_python || give_up "no python3 with jsonschema, and python3-jsonschema could not be installed (see $WORK/apt.log)"
echo "using $PY (jsonschema $("$PY" -c 'from importlib.metadata import version; print(version("jsonschema"))' 2>/dev/null || echo '?'))"
run_check schemas "$EVENT_SCHEMA" "$ALERT_SCHEMA"

if [ -n "${VIGIL:-}" ]; then
	[ -x "$VIGIL" ] || give_up "VIGIL=$VIGIL is not an executable"
else
	VIGIL=$ROOT/build/vigil
	if ! make -C "$ROOT" build/vigil >"$WORK/make.log" 2>&1; then
		[ -x "$VIGIL" ] || give_up "make build/vigil failed: $(tail -3 "$WORK/make.log")"
		echo "make build/vigil failed; testing the existing $VIGIL" >&2
	fi
fi

# ---- the live sensor -----------------------------------------------------

"$VIGIL" events --types "$ALL_TYPES" --duration "$DURATION" >"$WORK/events.jsonl" 2>"$WORK/sensor.log" &
sensor_pid=$!
started=0
for ((i = 0; i < 150; i++)); do
	if grep -q " started " "$WORK/sensor.log"; then
		started=1
		break
	fi
	kill -0 "$sensor_pid" 2>/dev/null || break
	sleep 0.2
done
[ "$started" = 1 ] || give_up "the sensor did not start: $(tail -3 "$WORK/sensor.log")"
pass "the sensor started with every event type"

workload
# Stop once the workload's last exec is printed (output is flushed per batch).
for ((i = 0; i < 100; i++)); do
	grep -q -F '"argv0":"/bin/true","args":["vigil-schema-end"]' "$WORK/events.jsonl" && break
	sleep 0.2
done
sleep 1
kill -INT "$sensor_pid" 2>/dev/null
wait "$sensor_pid"
rc=$?
sensor_pid=
if [ "$rc" -eq 0 ]; then
	pass "the sensor stopped cleanly on SIGINT (exit 0)"
else
	fail "the sensor exited $rc: $(tail -3 "$WORK/sensor.log")"
fi
# On a loaded node the ring buffer can overflow: say so, it explains a missing event.
grep -o 'stopped: .*' "$WORK/sensor.log" || true
run_check live "$EVENT_SCHEMA" "$WORK/events.jsonl" "$ALL_TYPES" "$WORK/checks.json"

# ---- the replay fixture --------------------------------------------------

# The reader says which lines it rejects ("FILE:LINE: skipped: ...").
"$VIGIL" events --replay "$FIXTURE" >"$WORK/replayed.jsonl" 2>"$WORK/replay.log"
rejected=$(sed -n 's/.*echo_exec_exit\.jsonl:\([0-9]*\): skipped.*/\1/p' "$WORK/replay.log" | paste -sd, -)
run_check fixture "$EVENT_SCHEMA" "$FIXTURE" "$rejected" "$WORK/replayed.jsonl"

# ---- the schemas can fail, and alerts ------------------------------------

run_check negative "$EVENT_SCHEMA" "$ALERT_SCHEMA" "$WORK/events.jsonl" "${ALERTS_FILE:-}"

finish
