#!/usr/bin/env bash
# bench.sh - Vigil's overhead benchmark, the driver behind `make bench`.
#
# Runs the workloads of tests/bench/ under each configuration:
#   baseline   nothing attached
#   limit      empty BPF programs on Vigil's hooks: the cost of hooking alone
#   vigil      $VIGIL_CMD      (default "build/vigil run --no-cri": default policy)
#   vigil_all  $VIGIL_ALL_CMD  (default: a policy matching every open/exec/connect)
#   auditd     auditd with `-S openat` and `-S execve` rules
# Configurations alternate within each round (A B C.., A B C..), rotated by
# one every round, so that a machine slowly changing speed spreads over all
# of them; medians over rounds are reported. For Vigil it also reports CPU
# seconds (utime+stime) per million delivered events and peak RSS, with
# event counts read from its /metrics when that answers.
#
# Prints a table and writes build/bench/results.json. Needs root. Leaves
# nothing attached: helpers are stopped and audit rules removed on any exit.
#
# Knobs (environment): BENCH_ROUNDS, BENCH_CONFIGS, BENCH_OPEN_ITERS,
# BENCH_AUDIT_OPEN_ITERS, BENCH_EXEC_ITERS, BENCH_CONNECT_ITERS,
# BENCH_BUILD_ITERS, BENCH_DEADLINE (seconds), VIGIL_CMD, VIGIL_ALL_CMD,
# VIGIL_METRICS_URL, VIGIL_READY_TIMEOUT, VIGIL_STDOUT,
# VIGIL_METRIC_DELIVERED, VIGIL_METRIC_DROPPED.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
OUT=$ROOT/build/bench

ROUNDS=${BENCH_ROUNDS:-5}
CONFIGS=${BENCH_CONFIGS:-"baseline limit vigil vigil_all auditd"}
OPEN_ITERS=${BENCH_OPEN_ITERS:-200000}
# auditd makes each open tens of times slower; fewer iterations keep its
# rounds short, and ns/iteration stays comparable.
AUDIT_OPEN_ITERS=${BENCH_AUDIT_OPEN_ITERS:-$((OPEN_ITERS / 10))}
EXEC_ITERS=${BENCH_EXEC_ITERS:-300}
CONNECT_ITERS=${BENCH_CONNECT_ITERS:-5000}
BUILD_ITERS=${BENCH_BUILD_ITERS:-1}
# Stop starting new rounds after this many seconds, so the whole run stays
# under ten minutes whatever the configurations cost.
DEADLINE=${BENCH_DEADLINE:-480}
VIGIL_CMD=${VIGIL_CMD:-build/vigil run --no-cri}
VIGIL_ALL_CMD=${VIGIL_ALL_CMD:-build/vigil run --no-cri --no-default-policy --policy tests/bench/capture-all.yaml}
METRICS_URL=${VIGIL_METRICS_URL:-http://127.0.0.1:9810/metrics}
READY_TIMEOUT=${VIGIL_READY_TIMEOUT:-15}
VIGIL_STDOUT=${VIGIL_STDOUT:-/dev/null}
# Counters summed over all their labels (type, where, output).
METRIC_DELIVERED=${VIGIL_METRIC_DELIVERED:-vigil_events_total}
METRIC_DROPPED=${VIGIL_METRIC_DROPPED:-vigil_events_lost_total}

WORKLOADS="open_close exec connect build"
AUDIT_KEY=vigil_bench
CLK_TCK=$(getconf CLK_TCK)
START_TIME=$SECONDS

AGENT_PID=""        # helper or Vigil process of the running configuration
AUDITD_PID=""       # auditd we started for the running round
AUDIT_RULES_ON=0
AUDIT_ENABLED_BEFORE=""
AUDIT_BACKLOG_BEFORE=""
AUDITD_PREEXISTING=""
declare -A NOTE     # why a configuration was skipped or is doubtful
declare -A SKIP

log() { echo "bench: $*" >&2; }
die() { log "$*"; exit 1; }

# --- building ----------------------------------------------------------

build_helpers() {
	local cc=${CC:-gcc} w
	mkdir -p "$OUT" || die "cannot create $OUT"
	for w in open_close exec_loop connect_loop build_mix; do
		"$cc" -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra \
			-o "$OUT/$w" "tests/bench/$w.c" || die "cannot build $w"
	done
	echo "vigil benchmark target" > "$OUT/open_target.txt"

	if [ ! -s build/vmlinux.h ]; then
		if ! bpftool btf dump file /sys/kernel/btf/vmlinux format c \
				> build/vmlinux.h.tmp; then
			rm -f build/vmlinux.h.tmp
			SKIP[limit]=1
			NOTE[limit]="cannot generate vmlinux.h"
			return
		fi
		mv build/vmlinux.h.tmp build/vmlinux.h
	fi
	if ! clang -g -O2 -target bpf -D__TARGET_ARCH_x86 -I build \
			-c bpf/noop.bpf.c -o "$OUT/noop.bpf.o" ||
	   ! bpftool gen skeleton "$OUT/noop.bpf.o" name noop_bpf \
			> "$OUT/noop.skel.h" ||
	   ! "$cc" -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -I "$OUT" \
			-o "$OUT/noop_loader" tests/bench/noop_loader.c \
			-lbpf -lelf -lz; then
		SKIP[limit]=1
		NOTE[limit]="cannot build the no-op BPF loader"
	fi
}

# --- small helpers -------------------------------------------------------

bpf_prog_ids() {
	bpftool prog list 2>/dev/null | sed -n 's/^\([0-9][0-9]*\):.*/\1/p' | sort
}

# Attached programs a process holds, as BPF link file descriptors.
bpf_link_count() {
	find "/proc/$1/fd" -lname 'anon_inode:bpf_link' 2>/dev/null | wc -l
}

# utime+stime of a process in clock ticks. The comm field may hold spaces,
# so count fields from the closing parenthesis.
cpu_ticks() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	# shellcheck disable=SC2086
	set -- $stat
	echo $(( ${12} + ${13} ))
}

peak_rss_kb() {
	awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null
}

# Sum of every sample of a metric (all label sets), or nothing if /metrics
# does not answer or lacks the metric.
metric_value() {
	curl -s -m 1 "$METRICS_URL" 2>/dev/null | awk -v name="$1" '
		/^#/ { next }
		{ m = $1; sub(/\{.*/, "", m) }
		m == name { sum += $NF; found = 1 }
		END { if (found) printf "%.0f\n", sum }'
}

metrics_answer() { curl -s -m 1 -o /dev/null "$METRICS_URL" 2>/dev/null; }

# Median of the numbers on stdin, printed with the printf format $1.
median() {
	sort -g | awk -v fmt="${1:-%.1f}\n" '{ v[NR] = $1 }
		END { if (NR == 0) exit;
		      if (NR % 2) printf fmt, v[(NR + 1) / 2];
		      else printf fmt, (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

json_string() {
	local s=${1//\\/\\\\}
	s=${s//\"/\\\"}
	s=$(printf '%s' "$s" | tr -d '\000-\037')
	printf '"%s"' "$s"
}

# Stops a process we started: TERM, then KILL after 10 s.
stop_pid() {
	local pid=$1 i
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "pid $pid ignored SIGTERM; killing it"
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	return 0
}

# --- auditd --------------------------------------------------------------

audit_rules() {
	local op=$1 sc
	for sc in openat execve; do
		auditctl "$op" always,exit -F arch=b64 -S "$sc" -k "$AUDIT_KEY" \
			>/dev/null 2>&1 || return 1
	done
}

audit_prepare() {
	local running_before
	running_before=$(pidof auditd || true)
	if ! command -v auditd >/dev/null || ! command -v auditctl >/dev/null; then
		log "installing auditd (Debian package)"
		if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q auditd \
				>"$OUT/apt.log" 2>&1; then
			apt-get update -q >>"$OUT/apt.log" 2>&1
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q auditd \
				>>"$OUT/apt.log" 2>&1 || {
				NOTE[auditd]="apt-get install auditd failed (see build/bench/apt.log)"
				return 1; }
		fi
	fi
	# The package may start its own daemon; that one is not ours to keep.
	if [ -z "$running_before" ] && pidof auditd >/dev/null; then
		log "stopping the auditd that the package started"
		for pid in $(pidof auditd); do stop_pid "$pid"; done
	fi
	AUDITD_PREEXISTING=$running_before
	AUDIT_ENABLED_BEFORE=$(auditctl -s 2>/dev/null | awk '$1 == "enabled" { print $2 }')
	AUDIT_BACKLOG_BEFORE=$(auditctl -s 2>/dev/null | awk '$1 == "backlog_limit" { print $2 }')
	if [ -z "$AUDIT_ENABLED_BEFORE" ]; then
		NOTE[auditd]="kernel audit unavailable: $(auditctl -s 2>&1 | head -1)"
		return 1
	fi
	# Our own configuration: logs under build/bench, bounded in size.
	mkdir -p "$OUT/auditd/log"
	cat > "$OUT/auditd/auditd.conf" <<-EOF
	local_events = yes
	write_logs = yes
	log_file = $OUT/auditd/log/audit.log
	log_format = ENRICHED
	flush = INCREMENTAL_ASYNC
	freq = 50
	max_log_file = 50
	num_logs = 2
	max_log_file_action = ROTATE
	space_left = 75
	space_left_action = IGNORE
	admin_space_left = 50
	admin_space_left_action = IGNORE
	disk_full_action = IGNORE
	disk_error_action = IGNORE
	EOF
	chmod 0640 "$OUT/auditd/auditd.conf"
	return 0
}

start_auditd() {
	local i
	if [ -z "$AUDITD_PREEXISTING" ]; then
		auditd -c "$OUT/auditd" >>"$OUT/auditd/start.log" 2>&1 || {
			NOTE[auditd]="auditd did not start (see build/bench/auditd/start.log)"
			return 1; }
		for i in $(seq 50); do
			AUDITD_PID=$(auditctl -s 2>/dev/null | awk '$1 == "pid" && $2 > 0 { print $2 }')
			[ -n "$AUDITD_PID" ] && break
			sleep 0.1
		done
		[ -n "$AUDITD_PID" ] || {
			NOTE[auditd]="auditd started but never registered with the kernel"
			return 1; }
	fi
	AUDIT_RULES_ON=1
	# The kernel's default backlog (64) makes every audited syscall wait
	# for auditd; deployments raise it (Debian's rules use 8192).
	auditctl -b 8192 >/dev/null 2>&1
	audit_rules -a || {
		NOTE[auditd]="auditctl could not add the rules"
		return 1; }
	return 0
}

stop_auditd() {
	if [ "$AUDIT_RULES_ON" = 1 ]; then
		audit_rules -d
		AUDIT_RULES_ON=0
	fi
	if [ -n "$AUDITD_PID" ]; then
		stop_pid "$AUDITD_PID"
		AUDITD_PID=""
	fi
	# auditd turns auditing on; left on, every new process would take
	# the slow syscall path and tax the other configurations.
	if [ -n "$AUDIT_ENABLED_BEFORE" ] && [ -z "$AUDITD_PREEXISTING" ]; then
		auditctl -e "$AUDIT_ENABLED_BEFORE" >/dev/null 2>&1
	fi
	if [ -n "$AUDIT_BACKLOG_BEFORE" ]; then
		auditctl -b "$AUDIT_BACKLOG_BEFORE" >/dev/null 2>&1
	fi
}

# --- configurations ------------------------------------------------------

start_vigil() {
	local cfg=$1 cmd=$2 now last="" i settled=0
	local bin=${cmd%% *}
	if [ ! -x "$bin" ]; then
		SKIP[$cfg]=1
		NOTE[$cfg]="$bin not found or not executable"
		return 1
	fi
	# exec keeps the pid, so $! is Vigil itself.
	# Its event lines go to VIGIL_STDOUT (default /dev/null: a file of
	# millions of lines would measure the disk, not Vigil); logs to a file.
	bash -c "exec $cmd" >"$VIGIL_STDOUT" 2>"$OUT/$cfg.log" &
	AGENT_PID=$!
	for i in $(seq $((READY_TIMEOUT * 10))); do
		if ! kill -0 "$AGENT_PID" 2>/dev/null; then
			wait "$AGENT_PID" 2>/dev/null
			SKIP[$cfg]=1
			NOTE[$cfg]="exited at start: $(tail -n 2 "$OUT/$cfg.log" | tr '\n' ' ')"
			AGENT_PID=""
			return 1
		fi
		if metrics_answer; then
			return 0
		fi
		# Without /metrics, ready means: it holds attached programs
		# (BPF link fds) and their number has not changed for half a
		# second.
		now=$(bpf_link_count "$AGENT_PID")
		if [ "$now" -gt 0 ] && [ "$now" = "$last" ]; then
			settled=$((settled + 1))
			[ "$settled" -ge 5 ] && return 0
		else
			settled=0
		fi
		last=$now
		sleep 0.1
	done
	NOTE[$cfg]="readiness not confirmed after ${READY_TIMEOUT}s; measured anyway"
	return 0
}

start_config() {
	local cfg=$1 i
	case $cfg in
	baseline)
		return 0 ;;
	limit)
		"$OUT/noop_loader" >"$OUT/noop.out" 2>"$OUT/noop.err" &
		AGENT_PID=$!
		for i in $(seq 100); do
			grep -q '^ready' "$OUT/noop.out" 2>/dev/null && return 0
			kill -0 "$AGENT_PID" 2>/dev/null || break
			sleep 0.1
		done
		SKIP[limit]=1
		NOTE[limit]="no-op loader failed: $(tail -n 1 "$OUT/noop.err")"
		stop_pid "$AGENT_PID"
		AGENT_PID=""
		return 1 ;;
	vigil)
		start_vigil vigil "$VIGIL_CMD" ;;
	vigil_all)
		start_vigil vigil_all "$VIGIL_ALL_CMD" ;;
	auditd)
		start_auditd || { SKIP[auditd]=1; stop_auditd; return 1; } ;;
	*)
		die "unknown configuration $cfg" ;;
	esac
}

stop_config() {
	case $1 in
	auditd) stop_auditd ;;
	*) stop_pid "$AGENT_PID"; AGENT_PID="" ;;
	esac
}

cleanup() {
	stop_pid "$AGENT_PID"
	AGENT_PID=""
	stop_auditd
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# --- measuring -----------------------------------------------------------

run_workload() {
	local name=$1 cfg=$2 line iters=$OPEN_ITERS
	[ "$cfg" = auditd ] && iters=$AUDIT_OPEN_ITERS
	case $name in
	open_close) line=$(timeout 180 "$OUT/open_close" "$iters" "$OUT/open_target.txt") ;;
	exec) line=$(timeout 180 "$OUT/exec_loop" "$EXEC_ITERS" /bin/true) ;;
	connect) line=$(timeout 180 "$OUT/connect_loop" "$CONNECT_ITERS") ;;
	build) line=$(timeout 300 "$OUT/build_mix" "$BUILD_ITERS") ;;
	esac
	# "<wall ns> <cpu ns>" per iteration, or nothing if the run failed.
	printf '%s\n' "$line" |
		sed -n 's/.* ns_per_iter=\([0-9.]*\) cpu_ns_per_iter=\([0-9.]*\)$/\1 \2/p'
}

# One configuration, one round: start it, run every workload, record.
run_config() {
	local cfg=$1 round=$2 w ns wall cpu cpu0="" cpu1="" ev0="" ev1="" dr0="" dr1=""
	local hwm="" cpu_s=""
	[ -n "${SKIP[$cfg]:-}" ] && return
	start_config "$cfg" || { log "$cfg skipped: ${NOTE[$cfg]:-}"; return; }
	if [ -n "$AGENT_PID" ] && [ "${cfg#vigil}" != "$cfg" ]; then
		cpu0=$(cpu_ticks "$AGENT_PID")
		ev0=$(metric_value "$METRIC_DELIVERED")
		dr0=$(metric_value "$METRIC_DROPPED")
	fi
	for w in $WORKLOADS; do
		local fe0="" ff0=""
		if [ -n "$AGENT_PID" ] && [ "${cfg#vigil}" != "$cfg" ]; then
			fe0=$(metric_value "$METRIC_DELIVERED")
			ff0=$(metric_value vigil_kernel_filtered_total)
		fi
		ns=$(run_workload "$w" "$cfg")
		if [ -n "$fe0" ] && [ -n "$ff0" ]; then
			local fe1 ff1
			fe1=$(metric_value "$METRIC_DELIVERED")
			ff1=$(metric_value vigil_kernel_filtered_total)
			[ -n "$fe1" ] && [ -n "$ff1" ] &&
				printf '%s\t%s\t%s\t%s\t%s\n' "$cfg" "$round" "$w" $((ff1 - ff0)) $((fe1 - fe0)) \
					>> "$OUT/filter.tsv"
		fi
		if [ -z "$ns" ]; then
			log "$cfg/$w failed in round $round"
			continue
		fi
		read -r wall cpu <<< "$ns"
		printf '%s\t%s\t%s\t%s\t%s\n' "$cfg" "$round" "$w" "$wall" "$cpu" \
			>> "$OUT/raw.tsv"
	done
	if [ -n "$AGENT_PID" ] && [ "${cfg#vigil}" != "$cfg" ]; then
		cpu1=$(cpu_ticks "$AGENT_PID")
		hwm=$(peak_rss_kb "$AGENT_PID")
		ev1=$(metric_value "$METRIC_DELIVERED")
		dr1=$(metric_value "$METRIC_DROPPED")
		if [ -n "$cpu0" ] && [ -n "$cpu1" ]; then
			cpu_s=$(awk -v a="$cpu0" -v b="$cpu1" -v t="$CLK_TCK" \
				'BEGIN { printf "%.3f", (b - a) / t }')
		else
			cpu_s=""
			NOTE[$cfg]="Vigil died during the round"
		fi
		printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$cfg" "$round" "${cpu_s:-}" \
			"${hwm:-}" \
			"$([ -n "${ev0:-}" ] && [ -n "${ev1:-}" ] && echo $((ev1 - ev0)))" \
			"$([ -n "${dr0:-}" ] && [ -n "${dr1:-}" ] && echo $((dr1 - dr0)))" \
			>> "$OUT/agent.tsv"
	fi
	stop_config "$cfg"
}

# --- reporting -----------------------------------------------------------

# samples CONFIG WORKLOAD COLUMN: column 4 is wall-clock, 5 is CPU time.
samples() {
	awk -F'\t' -v c="$1" -v w="$2" -v k="$3" '$1 == c && $3 == w { print $k }' "$OUT/raw.tsv"
}
agent_col() { awk -F'\t' -v c="$1" -v k="$2" '$1 == c && $k != "" { print $k }' "$OUT/agent.tsv"; }

ratio_of() {
	[ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'
}

# One table of medians with their ratio to baseline; column 4 or 5.
print_table() {
	local col=$1 title=$2 cfg w med ratio
	printf '\n%s\n%-10s' "$title" config
	for w in $WORKLOADS; do printf ' %22s' "$w"; done
	printf '\n'
	for cfg in $CONFIGS; do
		printf '%-10s' "$cfg"
		for w in $WORKLOADS; do
			med=${MED[$col.$cfg.$w]}
			ratio=$(ratio_of "$med" "${MED[$col.baseline.$w]:-}")
			if [ -n "$med" ]; then
				printf ' %22s' "$(printf '%.0f (%sx)' "$med" "${ratio:-?}")"
			else
				printf ' %22s' n/a
			fi
		done
		printf '\n'
	done
}

report() {
	local cfg w col cpu hwm ev dr per_m json_cfgs="" json_w sep
	declare -gA MED
	for col in 4 5; do
		for cfg in $CONFIGS; do
			for w in $WORKLOADS; do
				MED[$col.$cfg.$w]=$(samples "$cfg" "$w" "$col" | median)
			done
		done
	done

	print_table 4 "Wall-clock ns per iteration (ratio to baseline)"
	print_table 5 "Workload CPU ns per iteration, user+system incl. children (ratio to baseline)"
	printf '\nVigil itself (medians per round; peak RSS is the highest VmHWM)\n'
	printf '%-10s %8s %11s %9s %10s %8s\n' config "cpu s" "cpu s/Mev" "peak RSS" delivered dropped

	for cfg in $CONFIGS; do
		json_w=""; sep=""
		for w in $WORKLOADS; do
			json_w+="$sep\"$w\": {\"median_ns\": ${MED[4.$cfg.$w]:-null}, \"ratio\": $(ratio_of "${MED[4.$cfg.$w]}" "${MED[4.baseline.$w]:-}" || echo null), \"cpu_median_ns\": ${MED[5.$cfg.$w]:-null}, \"cpu_ratio\": $(ratio_of "${MED[5.$cfg.$w]}" "${MED[5.baseline.$w]:-}" || echo null), \"samples\": [$(samples "$cfg" "$w" 4 | paste -sd, -)], \"cpu_samples\": [$(samples "$cfg" "$w" 5 | paste -sd, -)]}"
			sep=", "
		done
		json_cfgs+="${json_cfgs:+, }\"$cfg\": {\"skipped\": $([ -n "${SKIP[$cfg]:-}" ] && echo true || echo false), \"note\": $(json_string "${NOTE[$cfg]:-}"), \"workloads\": {$json_w}"
		if [ "${cfg#vigil}" != "$cfg" ]; then
			cpu=""; hwm=""; ev=""; dr=""; per_m=""
			if [ -s "$OUT/agent.tsv" ]; then
				cpu=$(agent_col "$cfg" 3 | median %.3f)
				hwm=$(agent_col "$cfg" 4 | sort -n | tail -n 1)
				ev=$(agent_col "$cfg" 5 | median %.0f)
				dr=$(agent_col "$cfg" 6 | median %.0f)
			fi
			if [ -n "$cpu" ] && [ -n "$ev" ] && awk -v e="$ev" 'BEGIN { exit !(e > 0) }'; then
				per_m=$(awk -v c="$cpu" -v e="$ev" 'BEGIN { printf "%.3f", c / e * 1e6 }')
			fi
			printf '%-10s %8s %11s %9s %10s %8s\n' "$cfg" "${cpu:-n/a}" "${per_m:-n/a}" \
				"$([ -n "$hwm" ] && echo "$((hwm / 1024)) MiB" || echo n/a)" \
				"${ev:-n/a}" "${dr:-n/a}"
			json_cfgs+=", \"agent\": {\"cpu_s\": ${cpu:-null}, \"cpu_s_per_million_events\": ${per_m:-null}, \"peak_rss_kb\": ${hwm:-null}, \"events_delivered\": ${ev:-null}, \"events_dropped\": ${dr:-null}}"
		fi
		json_cfgs+="}"
	done
	printf '\nKernel-filtered share of the events each workload caused (medians over rounds)\n'
	printf '%-10s' config
	for w in $WORKLOADS; do printf ' %14s' "$w"; done
	printf '\n'
	for cfg in $CONFIGS; do
		[ "${cfg#vigil}" = "$cfg" ] && continue
		printf '%-10s' "$cfg"
		for w in $WORKLOADS; do
			share=$( [ -s "$OUT/filter.tsv" ] && awk -F'\t' -v c="$cfg" -v w="$w" \
				'$1 == c && $3 == w && $4 + $5 > 0 { printf "%.4f\n", $4 / ($4 + $5) }' "$OUT/filter.tsv" | median %.3f)
			printf ' %14s' "${share:-n/a}"
		done
		printf '\n'
	done
	printf '\n'
	for cfg in $CONFIGS; do
		[ -n "${NOTE[$cfg]:-}" ] && printf 'note: %s: %s\n' "$cfg" "${NOTE[$cfg]}"
	done

	cat > "$OUT/results.json" <<-EOF
	{
	  "kernel": $(json_string "$(uname -r)"),
	  "cpus": $(nproc),
	  "load_average_before": $LOAD_BEFORE,
	  "rounds_done": $ROUNDS_DONE,
	  "iterations": {"open_close": $OPEN_ITERS, "open_close_auditd": $AUDIT_OPEN_ITERS, "exec": $EXEC_ITERS, "connect": $CONNECT_ITERS, "build": $BUILD_ITERS},
	  "seconds": $((SECONDS - START_TIME)),
	  "leftover_bpf_programs": [$(printf '%s' "$LEFTOVER" | paste -sd, -)],
	  "configs": {$json_cfgs}
	}
	EOF
	echo
	echo "medians of $ROUNDS_DONE rounds; ratio = config / baseline; results in build/bench/results.json"
}

# --- main ----------------------------------------------------------------

[ "$(id -u)" = 0 ] || die "needs root (loads BPF programs, runs auditd)"
LOAD_BEFORE=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$LOAD_BEFORE" 'BEGIN { exit !(l > 0.5) }'; then
	log "warning: load average is $LOAD_BEFORE; other work on the machine will blur the numbers"
fi
build_helpers
rm -f "$OUT/raw.tsv" "$OUT/agent.tsv" "$OUT/filter.tsv"
touch "$OUT/raw.tsv" "$OUT/agent.tsv"
PROGS_BEFORE=$(bpf_prog_ids)
case " $CONFIGS " in
*" auditd "*) audit_prepare || SKIP[auditd]=1 ;;
esac
[ -n "${SKIP[auditd]:-}" ] && log "auditd skipped: ${NOTE[auditd]}"

read -r -a CFG_LIST <<< "$CONFIGS"
ROUNDS_DONE=0
for round in $(seq "$ROUNDS"); do
	if [ $((SECONDS - START_TIME)) -ge "$DEADLINE" ]; then
		log "deadline of ${DEADLINE}s reached after $ROUNDS_DONE rounds"
		break
	fi
	log "round $round/$ROUNDS"
	n=${#CFG_LIST[@]}
	for i in $(seq 0 $((n - 1))); do
		run_config "${CFG_LIST[$(((i + round - 1) % n))]}" "$round"
	done
	ROUNDS_DONE=$round
done
cleanup

# Tracing programs are freed after an RCU tasks-trace grace period, which
# takes seconds on a busy machine: give them up to ten.
LEFTOVER=""
for i in $(seq 100); do
	LEFTOVER=$(comm -13 <(printf '%s\n' "$PROGS_BEFORE") <(bpf_prog_ids) | sed '/^$/d')
	[ -z "$LEFTOVER" ] && break
	sleep 0.1
done
if [ -n "$LEFTOVER" ]; then
	log "BPF programs loaded now that were not before (ours, or another user's):"
	for id in $LEFTOVER; do bpftool prog show id "$id" 2>/dev/null | head -n 1 >&2; done
fi

report
[ -z "$LEFTOVER" ]
