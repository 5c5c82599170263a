#!/usr/bin/env bash
# test_prometheus.sh - checks that what Vigil serves on /metrics is what
# Prometheus expects: promtool's linter accepts the scrape, and a real
# Prometheus on loopback scrapes the test server and answers queries with
# the values (and label values, escapes included) we put in.
#
# Builds tests/integration/metrics_server.c unless METRICS_SERVER names a
# ready binary. Installs Debian's prometheus (and jq) when missing, which
# needs root. Prints one PASS/FAIL line per check and a final
# "N passed, N failed"; exits non-zero if anything failed.
#
# Environment: BUILD_DIR (default /tmp/vigil-prometheus-test), CC, CFLAGS,
# METRICS_SERVER, KEEP_TMP=1 to keep the work directory.
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-/tmp/vigil-prometheus-test}
CC=${CC:-gcc}
CFLAGS=${CFLAGS:--std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g -O1 -fsanitize=address,undefined}
WORK=$(mktemp -d /tmp/vigil-prom.XXXXXX)
passed=0
failed=0
server_pid=
prom_pid=

pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

finish() {
	# Only the two processes this script started, by pid.
	[ -n "$prom_pid" ] && kill "$prom_pid" 2>/dev/null && wait "$prom_pid" 2>/dev/null
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
	[ -n "${sensor_pid:-}" ] && kill "$sensor_pid" 2>/dev/null && wait "$sensor_pid" 2>/dev/null
	if [ "${KEEP_TMP:-0}" = 1 ]; then
		echo "work directory kept: $WORK"
	else
		rm -rf "$WORK"
	fi
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
}

# Ends the run early when a later check cannot work without this one.
give_up() {
	fail "$*"
	finish
	exit 1
}

# Retries a command for up to $1 seconds.
wait_for() {
	local secs=$1 i
	shift
	for ((i = 0; i < secs * 5; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
		echo $((20000 + RANDOM % 20000))
}

# Runs an instant query; prints the JSON answer.
prom_query() {
	curl -sf --max-time 5 "http://127.0.0.1:$prom_port/api/v1/query" \
		--data-urlencode "query=$1"
}

# ---- tools ----------------------------------------------------------------
need=()
command -v promtool >/dev/null && command -v prometheus >/dev/null || need+=(prometheus)
command -v jq >/dev/null || need+=(jq)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
	echo "installing ${need[*]}"
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >"$WORK/apt.log" 2>&1; then
		apt-get update >>"$WORK/apt.log" 2>&1
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >>"$WORK/apt.log" 2>&1 ||
			give_up "apt-get install ${need[*]} (see $WORK/apt.log)"
	fi
fi
pass "tools present: $(prometheus --version 2>&1 | head -1)"

# ---- test server ----------------------------------------------------------
if [ -n "${METRICS_SERVER:-}" ]; then
	server=$METRICS_SERVER
else
	mkdir -p "$BUILD_DIR"
	server=$BUILD_DIR/metrics_server
	# shellcheck disable=SC2086
	if $CC $CFLAGS -o "$server" "$ROOT/tests/integration/metrics_server.c" \
		"$ROOT/sensor/http_api.c" "$ROOT/sensor/health.c" \
		"$ROOT/sensor/metrics.c" "$ROOT/sensor/log.c" \
		-lmicrohttpd -lcjson -lpthread -lm 2>"$WORK/build.log"; then
		pass "built metrics_server"
	else
		cat "$WORK/build.log"
		give_up "build metrics_server"
	fi
fi

"$server" 127.0.0.1:0 >"$WORK/server.out" 2>"$WORK/server.err" &
server_pid=$!
wait_for 10 grep -q '^port ' "$WORK/server.out" || give_up "metrics_server did not start: $(cat "$WORK/server.err")"
port=$(awk '/^port /{print $2}' "$WORK/server.out")
pass "metrics_server listening on 127.0.0.1:$port"

# ---- direct scrape --------------------------------------------------------
sleep 0.5 # let the counters move
if curl -sf --max-time 5 -D "$WORK/headers" -o "$WORK/scrape.txt" "http://127.0.0.1:$port/metrics"; then
	pass "GET /metrics"
else
	give_up "GET /metrics"
fi
if grep -qi '^content-type: text/plain; version=0.0.4' "$WORK/headers"; then
	pass "content type is text/plain; version=0.0.4"
else
	fail "content type: $(grep -i '^content-type' "$WORK/headers")"
fi
if promtool check metrics <"$WORK/scrape.txt" >"$WORK/promtool.out" 2>&1 && [ ! -s "$WORK/promtool.out" ]; then
	pass "promtool check metrics: no problems"
else
	fail "promtool check metrics: $(cat "$WORK/promtool.out")"
	sed 's/^/    /' "$WORK/scrape.txt"
fi
for path in /healthz /readyz; do
	code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port$path")
	if [ "$code" = 200 ]; then pass "GET $path is 200"; else fail "GET $path is $code"; fi
done

# ---- the real sensor, to be scraped too ----------------------------------
sensor_pid=
sensor_port=$(free_port)
sensor_bin=${VIGIL:-$ROOT/build/vigil}
if [ "$(id -u)" = 0 ] && [ -x "$sensor_bin" ]; then
	"$sensor_bin" events --types exec --no-cri --listen "127.0.0.1:$sensor_port" \
		>/dev/null 2>"$WORK/sensor.err" &
	sensor_pid=$!
	if wait_for 30 grep -q ' started (' "$WORK/sensor.err"; then
		pass "vigil sensor listening on 127.0.0.1:$sensor_port"
	else
		fail "vigil sensor did not start: $(tail -5 "$WORK/sensor.err")"
	fi
fi

# ---- real Prometheus ------------------------------------------------------
prom_port=$(free_port)
cat >"$WORK/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: vigil
    static_configs:
      - targets: ['127.0.0.1:$port']
  - job_name: sensor
    static_configs:
      - targets: ['127.0.0.1:$sensor_port']
EOF
promtool check config "$WORK/prometheus.yml" >/dev/null 2>&1 || give_up "promtool check config"
prometheus --config.file="$WORK/prometheus.yml" \
	--storage.tsdb.path="$WORK/data" \
	--web.listen-address="127.0.0.1:$prom_port" \
	--log.level=warn >"$WORK/prometheus.log" 2>&1 &
prom_pid=$!
if wait_for 30 curl -sf "http://127.0.0.1:$prom_port/-/ready"; then
	pass "prometheus ready on 127.0.0.1:$prom_port"
else
	cat "$WORK/prometheus.log"
	give_up "prometheus did not become ready"
fi

target_up() {
	curl -sf "http://127.0.0.1:$prom_port/api/v1/targets" |
		jq -e '.data.activeTargets[] | select(.labels.job == "vigil" and .health == "up")'
}
if wait_for 30 target_up; then
	pass "prometheus scrapes the target (health up)"
else
	fail "target never up: $(curl -s "http://127.0.0.1:$prom_port/api/v1/targets" | jq -c '.data.activeTargets[] | {health, lastError}')"
fi

# Values must come from the server, not be stale: two reads a few scrapes
# apart must both be positive and the second larger.
query_value() {
	prom_query "$1" | jq -r '.data.result[0].value[1] // empty'
}
v1=
wait_for 15 test -n "$(query_value 'vigil_test_events_total{type="exec"}')" &&
	v1=$(query_value 'vigil_test_events_total{type="exec"}')
sleep 2.5
v2=$(query_value 'vigil_test_events_total{type="exec"}')
if [ -n "$v1" ] && [ -n "$v2" ] && awk -v a="$v1" -v b="$v2" 'BEGIN { exit !(a > 0 && b > a) }'; then
	pass "query vigil_test_events_total{type=\"exec\"}: $v1 then $v2"
else
	fail "query vigil_test_events_total{type=\"exec\"}: '$v1' then '$v2'"
fi

# The escaped label value must reach Prometheus decoded, byte for byte.
want=$(printf 'quote " backslash \\ newline \n end')
got=$(prom_query 'vigil_test_events_total{type="odd"}' | jq -j '.data.result[0].metric.detail // "<missing>"')
if [ "$got" = "$want" ]; then
	pass "escaped label value round-trips through Prometheus"
else
	fail "label value: got '$got', want '$want'"
fi

# One query, so both sides come from the same scrape.
count=$(query_value 'vigil_test_rule_eval_seconds_count')
diff=$(query_value 'vigil_test_rule_eval_seconds_count - ignoring(le) vigil_test_rule_eval_seconds_bucket{le="+Inf"}')
if [ "$diff" = 0 ] && [ -n "$count" ] && awk -v c="$count" 'BEGIN { exit !(c > 0) }'; then
	pass "histogram _count ($count) equals the +Inf bucket"
else
	fail "histogram: _count '$count', _count - +Inf bucket '$diff'"
fi
q=$(query_value 'histogram_quantile(0.5, vigil_test_rule_eval_seconds_bucket)')
if [ -n "$q" ] && awk -v q="$q" 'BEGIN { exit !(q > 0 && q <= 0.01) }'; then
	pass "histogram_quantile(0.5) = $q"
else
	fail "histogram_quantile(0.5) = '$q'"
fi

ratio=$(query_value 'vigil_test_ringbuf_fill_ratio{cpu="0"}')
if [ -n "$ratio" ] && awk -v r="$ratio" 'BEGIN { exit !(r >= 0 && r < 1) }'; then
	pass "callback gauge vigil_test_ringbuf_fill_ratio = $ratio"
else
	fail "callback gauge vigil_test_ringbuf_fill_ratio = '$ratio'"
fi

# ---- the sensor's own counters, through Prometheus --------------------------
if [ -n "$sensor_pid" ]; then
	for _ in $(seq 1 20); do /bin/true; done
	v=
	for _ in $(seq 1 30); do
		v=$(query_value 'vigil_events_total{job="sensor",type="exec"}')
		[ -n "$v" ] && awk -v v="$v" 'BEGIN { exit !(v >= 20) }' && break
		sleep 0.5
	done
	if [ -n "$v" ] && awk -v v="$v" 'BEGIN { exit !(v >= 20) }'; then
		pass "Prometheus scraped the real sensor: vigil_events_total{type=\"exec\"} = $v"
	else
		fail "Prometheus query of the real sensor's exec counter: '$v'"
	fi
	kill "$sensor_pid"
	if wait "$sensor_pid"; then
		pass "the sensor exits cleanly on SIGTERM"
	else
		fail "sensor exit status $?: $(tail -5 "$WORK/sensor.err")"
	fi
	sensor_pid=
fi

# ---- clean shutdown -------------------------------------------------------
kill "$server_pid"
if wait "$server_pid"; then
	pass "metrics_server exits cleanly on SIGTERM (sanitizers quiet)"
else
	fail "metrics_server exit status $?: $(tail -20 "$WORK/server.err")"
fi
server_pid=

finish
