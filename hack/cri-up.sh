#!/bin/bash
# cri-up.sh - start a private containerd (CRI plugin, runc, CNI bridge) for
# Vigil's CRI integration tests and for trying the sensor on a dev machine.
#
# Everything it owns lives in its own directories, so it never touches a
# containerd the machine may already run:
#   /run/vigil-cri       socket (containerd.sock), pid file, runtime state
#   /var/lib/vigil-cri   containerd root, config, CNI config, images, logs
#
# Safe to run again: missing packages are installed, images are built once,
# containerd is started only if it is not already answering. Needs root.
# Stop and clean up with hack/cri-down.sh.
#
# Environment: VIGIL_CRI_RUN, VIGIL_CRI_LIB override the two directories.
set -euo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

RUN=${VIGIL_CRI_RUN:-/run/vigil-cri}
LIB=${VIGIL_CRI_LIB:-/var/lib/vigil-cri}
SOCK=$RUN/containerd.sock
PIDFILE=$RUN/containerd.pid
BRIDGE=vigilcri0
SUBNET=10.89.0.0/16
GATEWAY=10.89.0.1
PAUSE_IMAGE=localhost/vigil/pause:1
BUSYBOX_IMAGE=localhost/vigil/busybox:1.35

say() { echo "cri-up: $*"; }
die() { echo "cri-up: error: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root"

install_packages() {
	local missing=()
	command -v containerd >/dev/null || missing+=(containerd)
	command -v runc >/dev/null || missing+=(runc)
	[ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
	[ -x /bin/busybox ] || missing+=(busybox-static)
	command -v ip >/dev/null || missing+=(iproute2)
	command -v iptables >/dev/null || missing+=(iptables)
	command -v gcc >/dev/null || missing+=(gcc libc6-dev)
	command -v curl >/dev/null || missing+=(curl)
	command -v sha256sum >/dev/null || missing+=(coreutils)
	[ ${#missing[@]} -eq 0 ] && return 0
	say "installing: ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null ||
		{ apt-get update -q >/dev/null &&
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null; } ||
		die "apt-get install failed"
}

# The sandbox ("pause") process only has to hold the pod's namespaces, reap
# children and exit cleanly when the runtime stops the pod. Debian ships no
# pause image, so we build a tiny static one.
write_pause_source() {
	cat > "$1" <<'EOF'
/* Pod sandbox holder for vigil's test containerd: sleeps until told to stop,
 * reaping any children handed to it. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int sig) { (void)sig; _exit(0); }

static void reap(int sig)
{
	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

int main(void)
{
	struct sigaction sa = { .sa_handler = stop };

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = reap;
	sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
	sigaction(SIGCHLD, &sa, NULL);
	for (;;)
		pause();
}
EOF
}

# pack_image ROOTFS REF OUT CONFIG_JSON
# Writes a one-layer OCI image layout tarball. The layer is left uncompressed
# so its digest doubles as the diff_id; containerd imports it without any
# registry. The index annotation io.containerd.image.name names the image.
pack_image() {
	local rootfs=$1 ref=$2 out=$3 cfg=$4 w layer ldig lsize cdig csize mdig msize
	w=$(mktemp -d)
	mkdir -p "$w/blobs/sha256"
	tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
		-C "$rootfs" -cf "$w/layer" .
	ldig=$(sha256sum "$w/layer" | cut -d' ' -f1)
	lsize=$(stat -c %s "$w/layer")
	mv "$w/layer" "$w/blobs/sha256/$ldig"

	printf '{"architecture":"amd64","os":"linux","created":"1970-01-01T00:00:00Z","config":{"Env":["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],"WorkingDir":"/",%s},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
		"$cfg" "$ldig" > "$w/config"
	cdig=$(sha256sum "$w/config" | cut -d' ' -f1)
	csize=$(stat -c %s "$w/config")
	mv "$w/config" "$w/blobs/sha256/$cdig"

	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
		"$cdig" "$csize" "$ldig" "$lsize" > "$w/manifest"
	mdig=$(sha256sum "$w/manifest" | cut -d' ' -f1)
	msize=$(stat -c %s "$w/manifest")
	mv "$w/manifest" "$w/blobs/sha256/$mdig"

	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
		"$mdig" "$msize" "$ref" "${ref##*:}" > "$w/index.json"
	echo '{"imageLayoutVersion":"1.0.0"}' > "$w/oci-layout"
	tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
		-C "$w" -cf "$out.tmp" oci-layout index.json blobs
	mv "$out.tmp" "$out"
	rm -rf "$w"
	say "built $ref (manifest sha256:$mdig)"
}

build_images() {
	local img=$LIB/images r
	mkdir -p "$img"
	if [ ! -s "$img/pause.tar" ]; then
		r=$(mktemp -d)
		write_pause_source "$r/pause.c"
		gcc -static -Os -s -o "$r/pause" "$r/pause.c" || die "cannot build pause"
		mkdir -p "$r/root"
		mv "$r/pause" "$r/root/pause"
		pack_image "$r/root" "$PAUSE_IMAGE" "$img/pause.tar" \
			'"Entrypoint":["/pause"],"User":"65535:65535"'
		rm -rf "$r"
	fi
	if [ ! -s "$img/busybox.tar" ]; then
		r=$(mktemp -d)
		mkdir -p "$r"/{bin,etc,proc,sys,dev,tmp,root,var/run}
		cp /bin/busybox "$r/bin/busybox"
		for a in $(/bin/busybox --list); do
			[ "$a" = busybox ] || ln -sf busybox "$r/bin/$a"
		done
		printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$r/etc/passwd"
		printf 'root:x:0:\nnogroup:x:65534:\n' > "$r/etc/group"
		chmod 1777 "$r/tmp"
		pack_image "$r" "$BUSYBOX_IMAGE" "$img/busybox.tar" '"Cmd":["/bin/sh"]'
		rm -rf "$r"
	fi
}

write_config() {
	mkdir -p "$RUN" "$LIB/cni/net.d" "$LIB/logs" "$LIB/pod-logs"
	cat > "$LIB/config.toml.tmp" <<EOF
# Generated by hack/cri-up.sh: vigil's private test containerd.
version = 2
root = "$LIB/root"
state = "$RUN/state"
oom_score = 0
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "$PAUSE_IMAGE"
    # Without this every pod fails on hosts whose bounding set lacks
    # CAP_SYS_RESOURCE: runc cannot lower the sandbox oom_score_adj to -998.
    restrict_oom_score_adj = true
    disable_apparmor = true
    # Keep pod netns bind mounts inside our state dir, not /var/run/netns.
    netns_mounts_under_state_dir = true
    disable_tcp_service = true
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          # cgroupfs driver: works with or without systemd as PID 1.
          SystemdCgroup = false
          Root = "$RUN/runc"
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "$LIB/cni/net.d"
      max_conf_num = 1
  [plugins."io.containerd.internal.v1.opt"]
    path = "$LIB/opt"
EOF
	mv "$LIB/config.toml.tmp" "$LIB/config.toml"
	cat > "$LIB/cni/net.d/10-vigil-cri.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "vigil-cri",
  "plugins": [
    { "type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": true, "hairpinMode": true,
      "ipam": { "type": "host-local", "ranges": [[{ "subnet": "$SUBNET", "gateway": "$GATEWAY" }]],
                "routes": [{ "dst": "0.0.0.0/0" }], "dataDir": "$LIB/cni/ipam" } },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF
}

running() {
	[ -f "$PIDFILE" ] || return 1
	local pid
	pid=$(cat "$PIDFILE")
	kill -0 "$pid" 2>/dev/null || return 1
	# The pid may have been reused by something else after a crash, and a
	# killed daemon stays a zombie until its parent (often PID 1, which may
	# reap slowly) collects it: neither is a running containerd.
	[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = containerd ] &&
		! grep -qE '^State:[[:space:]]*[ZX]' "/proc/$pid/status" 2>/dev/null
}

ctr_cmd() { ctr -a "$SOCK" -n k8s.io "$@"; }

start_containerd() {
	local i
	if running; then
		# Alive: give it a moment to answer (it may be starting). Never
		# start a second daemon on the same root.
		for i in $(seq 1 50); do
			if ctr_cmd version >/dev/null 2>&1; then
				say "containerd already running (pid $(cat "$PIDFILE"))"
				return 0
			fi
			sleep 0.1
		done
		die "containerd pid $(cat "$PIDFILE") runs but does not answer; run hack/cri-down.sh"
	fi
	rm -f "$SOCK" "$SOCK.ttrpc"
	# setsid: the daemon must not die with the shell or test that started us.
	setsid containerd --config "$LIB/config.toml" \
		>>"$LIB/logs/containerd.log" 2>&1 < /dev/null &
	echo $! > "$PIDFILE"
	for i in $(seq 1 200); do
		ctr_cmd version >/dev/null 2>&1 && break
		running || break
		sleep 0.05
	done
	ctr_cmd version >/dev/null 2>&1 || {
		tail -20 "$LIB/logs/containerd.log" >&2
		die "containerd did not come up"
	}
	say "containerd pid $(cat "$PIDFILE") on $SOCK"
}

# A registry pull leaves three names on an image: repo:tag, repo@<manifest
# digest> and the image id. Import only creates the first (and the id), so
# add the digest name too: that is what the CRI reports as repo_digests.
# The digest is also written next to the tarball for tests to compare with.
import_one() {
	local ref=$1 tarball=$2 have digest
	have=$(ctr_cmd images ls -q 2>/dev/null || true)
	echo "$have" | grep -qx "$ref" || ctr_cmd images import "$tarball" >/dev/null
	digest=$(ctr_cmd images ls 2>/dev/null | awk -v r="$ref" '$1 == r { print $3 }')
	[ -n "$digest" ] || die "image $ref missing after import"
	echo "$have" | grep -qx "${ref%:*}@$digest" ||
		ctr_cmd images tag "$ref" "${ref%:*}@$digest" >/dev/null
	echo "$digest" > "${tarball%.tar}.digest"
}

import_images() {
	import_one "$PAUSE_IMAGE" "$LIB/images/pause.tar"
	import_one "$BUSYBOX_IMAGE" "$LIB/images/busybox.tar"
}

# Ask the CRI itself (not just containerd's own API) so that callers can rely
# on RuntimeService being served when we return: gRPC Version over HTTP/2.
wait_cri() {
	local req i
	req=$(mktemp)
	printf '\x00\x00\x00\x00\x04\x0a\x02v1' > "$req"
	for i in $(seq 1 100); do
		if curl -sS --max-time 2 --http2-prior-knowledge --unix-socket "$SOCK" \
			-H 'content-type: application/grpc' -H 'te: trailers' \
			--data-binary @"$req" -o /dev/null -D - \
			http://localhost/runtime.v1.RuntimeService/Version 2>/dev/null |
			grep -qi '^grpc-status: *0'; then
			rm -f "$req"
			say "CRI runtime.v1 answering"
			return 0
		fi
		sleep 0.1
	done
	rm -f "$req"
	die "CRI does not answer on $SOCK"
}

install_packages
build_images
write_config
start_containerd
import_images
wait_cri
say "ready: socket $SOCK, images $PAUSE_IMAGE $BUSYBOX_IMAGE"
