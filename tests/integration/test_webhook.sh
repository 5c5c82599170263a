#!/usr/bin/env bash
# test_webhook.sh - alerts from the real sensor reach an HTTP receiver in
# Falco's format; with the receiver down the sensor keeps running and logs
# the failures; once it is back, alerts arrive again. Needs root.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VIGIL_BIN=${VIGIL:-$ROOT/build/vigil}
WORK=$(mktemp -d /tmp/vigil-webhook.XXXXXX)
LISTEN=127.0.0.1:19821
passed=0
failed=0
sensor_pid=
recv_pid=
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
finish() {
	[ -n "$sensor_pid" ] && kill "$sensor_pid" 2>/dev/null && wait "$sensor_pid" 2>/dev/null
	[ -n "$recv_pid" ] && kill "$recv_pid" 2>/dev/null && wait "$recv_pid" 2>/dev/null
	rm -rf "$WORK"
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}
trap 'finish; exit $?' EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# A receiver that stores each POST body as one line.
cat > "$WORK/recv.py" <<'PY'
import http.server, sys
out = open(sys.argv[2], "a", buffering=1)
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        out.write(body.decode() + "\n")
        self.send_response(200)
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
start_receiver() {
	python3 "$WORK/recv.py" "$port" "$WORK/received.jsonl" &
	recv_pid=$!
	sleep 0.5
}

# Each phase runs the marker program with its own argument.
cp /bin/true "$WORK/marker"
cat > "$WORK/policy.yaml" <<YAML
version: 1.0.0
rules:
  - id: webhook_marker
    description: the webhook test's marker ran
    expression: exec.file.path == "$WORK/marker"
    priority: high
    tags: {suite: webhook}
YAML
cat > "$WORK/vigil.yaml" <<YAML
http:
  listen: $LISTEN
outputs:
  stdout: false
  webhook:
    url: http://127.0.0.1:$port/alerts
    timeout: 1s
    headers: ["X-Test: vigil"]
YAML

start_receiver
"$VIGIL_BIN" run --no-cri --no-default-policy --config "$WORK/vigil.yaml" --policy "$WORK/policy.yaml" \
	2>"$WORK/sensor.err" &
sensor_pid=$!
for _ in $(seq 1 100); do grep -q ' started (' "$WORK/sensor.err" && break; sleep 0.2; done

"$WORK/marker" phase-one
for _ in $(seq 1 30); do [ -s "$WORK/received.jsonl" ] && break; sleep 0.2; done
if python3 - "$WORK/received.jsonl" <<'PY'
import json, sys
a = json.loads(open(sys.argv[1]).readline())
keys = {"time", "rule", "priority", "output", "output_fields", "tags", "source", "hostname"}
assert keys <= set(a), set(a)
assert a["rule"] == "webhook_marker" and a["priority"] == "Error" and a["source"] == "vigil", a
assert "suite:webhook" in a["tags"], a["tags"]
assert a["event"]["process"]["args"] == ["phase-one"], a["event"]["process"]
PY
then
	pass "the alert arrived in Falco's format"
else
	fail "alert at the receiver: $(head -c 400 "$WORK/received.jsonl" 2>/dev/null)"
fi

kill "$recv_pid"
wait "$recv_pid" 2>/dev/null
recv_pid=
for i in 1 2 3; do
	"$WORK/marker" "phase-two-$i"
	sleep 0.3
done
sleep 2
if kill -0 "$sensor_pid" 2>/dev/null; then
	pass "the sensor keeps running with the receiver down"
else
	fail "the sensor died with the receiver down"
fi
if grep -q 'output webhook' "$WORK/sensor.err"; then
	pass "the failing webhook is in the log: $(grep -m1 'output webhook' "$WORK/sensor.err" | cut -c1-160)"
else
	fail "no log line about the failing webhook: $(tail -5 "$WORK/sensor.err")"
fi

start_receiver
"$WORK/marker" phase-three
for _ in $(seq 1 50); do grep -q phase-three "$WORK/received.jsonl" && break; sleep 0.2; done
if grep -q phase-three "$WORK/received.jsonl"; then
	pass "alerts arrive again once the receiver is back"
else
	fail "no alert after the receiver came back"
fi
