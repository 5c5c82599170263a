#!/usr/bin/env bash
# deps.sh - installs the Debian 12 packages Vigil needs to build and test,
# skipping the ones already there. Safe to run on every `make`.
set -euo pipefail

build=(make gcc clang llvm pkg-config bpftool libbpf-dev libelf-dev zlib1g-dev libcjson-dev
       libmicrohttpd-dev libcurl4-openssl-dev libyaml-dev libprotobuf-c-dev protobuf-c-compiler
       libcriterion-dev iproute2 procps)
# Only what the tests use on top (a real Prometheus for the scrape test).
test_only=(prometheus curl jq libclang-rt-14-dev python3-jsonschema python3-yaml)

want=("${build[@]}")
if [ "${1:-}" = "--test" ]; then
	want+=("${test_only[@]}")
fi

missing=()
for pkg in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages: ${missing[*]}; run as root or install them" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
