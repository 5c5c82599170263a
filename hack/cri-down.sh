#!/bin/bash
# cri-down.sh - stop the private containerd started by hack/cri-up.sh and
# clean up after it: pods (through the CRI, so CNI releases addresses,
# veths and NAT rules), leftover shims, mounts, the bridge and the pod
# cgroups runc leaves behind.
#
#   hack/cri-down.sh            stop and clean; keep images and config
#   hack/cri-down.sh --purge    also delete /var/lib/vigil-cri and /run/vigil-cri
#
# Only touches what cri-up.sh made: our pid file, our socket, our bridge.
# Safe to run when nothing is running. Needs root, curl.
set -uo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

RUN=${VIGIL_CRI_RUN:-/run/vigil-cri}
LIB=${VIGIL_CRI_LIB:-/var/lib/vigil-cri}
SOCK=$RUN/containerd.sock
PIDFILE=$RUN/containerd.pid
BRIDGE=vigilcri0
PURGE=0
[ "${1:-}" = "--purge" ] && PURGE=1

say() { echo "cri-down: $*"; }

[ "$(id -u)" = 0 ] || { echo "cri-down: must run as root" >&2; exit 1; }

running() {
	[ -f "$PIDFILE" ] || return 1
	local pid
	pid=$(cat "$PIDFILE")
	kill -0 "$pid" 2>/dev/null || return 1
	# a killed daemon stays a zombie until reaped: that is not running
	[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = containerd ] &&
		! grep -qE '^State:[[:space:]]*[ZX]' "/proc/$pid/status" 2>/dev/null
}

# grpc SERVICE METHOD PAYLOAD OUT: one unary call. PAYLOAD is the protobuf
# request as printf escapes ("" for an empty message); the 5-byte gRPC
# prefix is added here (ids are 64 bytes, so the length fits one byte).
grpc() {
	local req rc
	req=$(mktemp)
	printf "$3" > "$req"
	{ printf '\x00\x00\x00\x00'; printf "\\x$(printf %02x "$(stat -c %s "$req")")"; cat "$req"; } > "$req.framed"
	curl -sS --max-time 30 --http2-prior-knowledge --unix-socket "$SOCK" \
		-H 'content-type: application/grpc' -H 'te: trailers' \
		--data-binary @"$req.framed" -o "$4" \
		"http://localhost/runtime.v1.$1/$2" 2>/dev/null
	rc=$?
	rm -f "$req" "$req.framed"
	return $rc
}

# Field 1 (string) holding a 64-char id: 0a 40 <id>.
id_request() { printf '\\x0a\\x40%s' "$1"; }

remove_pods() {
	local out ids uids id
	out=$(mktemp)
	grpc RuntimeService ListPodSandbox "" "$out" || { rm -f "$out"; return 1; }
	# The reply is protobuf, but sandbox ids are the only 64-hex strings in
	# it and pod uids the only UUIDs: good enough for a cleanup script.
	ids=$(grep -aoE '[0-9a-f]{64}' "$out" | sort -u)
	uids=$(grep -aoE '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}' "$out" | sort -u)
	rm -f "$out"
	for id in $ids; do
		grpc RuntimeService StopPodSandbox "$(id_request "$id")" /dev/null
		grpc RuntimeService RemovePodSandbox "$(id_request "$id")" /dev/null
		say "removed pod ${id:0:12}"
	done
	echo "$uids" > "$RUN/pod-uids" 2>/dev/null || true
}

# Tasks left by a containerd that died: their state dirs are still there.
have_tasks() {
	[ -n "$(ls -A "$RUN/state/io.containerd.runtime.v2.task/k8s.io" 2>/dev/null)" ]
}

start_for_cleanup() {
	[ -f "$LIB/config.toml" ] && have_tasks || return 1
	command -v containerd >/dev/null || return 1
	say "containerd not running; starting it to tear pods down properly"
	rm -f "$SOCK" "$SOCK.ttrpc"
	setsid containerd --config "$LIB/config.toml" \
		>>"$LIB/logs/containerd.log" 2>&1 < /dev/null &
	echo $! > "$PIDFILE"
	for _ in $(seq 1 100); do
		[ -S "$SOCK" ] && grpc RuntimeService Version "\\x0a\\x02v1" /dev/null && return 0
		sleep 0.1
	done
	return 1
}

stop_containerd() {
	running || { rm -f "$PIDFILE"; return 0; }
	local pid
	pid=$(cat "$PIDFILE")
	say "stopping containerd pid $pid"
	kill "$pid" 2>/dev/null
	for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
	rm -f "$PIDFILE"
}

# Shims outlive containerd by design; ours name our socket in their argv.
kill_shims() {
	local pid
	for pid in $(ps -eo pid=,args= | awk -v s="$SOCK" \
		'$2 ~ /containerd-shim/ && index($0 " ", "-address " s " ") > 0 { print $1 }'); do
		say "killing leftover shim pid $pid"
		kill "$pid" 2>/dev/null
	done
}

unmount_leftovers() {
	local m
	for m in $(awk -v r="$RUN/" -v l="$LIB/" 'index($2, r) == 1 || index($2, l) == 1 { print $2 }' /proc/self/mounts | sort -r); do
		umount -l "$m" 2>/dev/null && say "unmounted $m"
	done
}

remove_network() {
	local v chain
	if ip link show "$BRIDGE" >/dev/null 2>&1; then
		for v in $(ip -o link show master "$BRIDGE" | awk -F': ' '{ split($2, a, "@"); print a[1] }'); do
			ip link del "$v" 2>/dev/null && say "deleted veth $v"
		done
		ip link del "$BRIDGE" && say "deleted bridge $BRIDGE"
	fi
	# NAT rules CNI could not remove because the pod died with containerd.
	command -v iptables >/dev/null || return 0
	iptables -t nat -S POSTROUTING 2>/dev/null | grep 'name: \\"vigil-cri\\"' |
	while read -r rule; do
		chain=$(echo "$rule" | sed -n 's/.* -j \(CNI-[0-9a-f]*\).*/\1/p')
		eval "iptables -t nat ${rule/-A /-D }" 2>/dev/null
		[ -n "$chain" ] && iptables -t nat -F "$chain" 2>/dev/null &&
			iptables -t nat -X "$chain" 2>/dev/null && say "removed NAT chain $chain"
	done
}

# runc creates the pod cgroups (kubelet would remove them): remove empty
# ones of the pods we saw, then the kubepods skeleton if nothing is left.
remove_cgroups() {
	local uid d
	for uid in $(cat "$RUN/pod-uids" 2>/dev/null); do
		for d in /sys/fs/cgroup/kubepods/*/pod"$uid" /sys/fs/cgroup/*/kubepods/*/pod"$uid" \
			 /sys/fs/cgroup/kubepods/pod"$uid" /sys/fs/cgroup/*/kubepods/pod"$uid"; do
			[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
		done
	done
	rm -f "$RUN/pod-uids"
	for d in /sys/fs/cgroup/kubepods /sys/fs/cgroup/*/kubepods; do
		[ -d "$d" ] || continue
		rmdir "$d"/besteffort "$d"/burstable "$d" 2>/dev/null
	done
}

if running || start_for_cleanup; then
	remove_pods || say "could not list pods through the CRI"
	stop_containerd
fi
kill_shims
unmount_leftovers
remove_network
remove_cgroups
rm -f "$SOCK" "$SOCK.ttrpc"

if [ "$PURGE" = 1 ]; then
	if awk -v r="$RUN/" -v l="$LIB/" 'index($2, r) == 1 || index($2, l) == 1 { f = 1 } END { exit !f }' /proc/self/mounts; then
		say "mounts remain under $RUN or $LIB; not purging"
		exit 1
	fi
	rm -rf "$RUN" "$LIB"
	say "purged $RUN and $LIB"
fi
say "done"
