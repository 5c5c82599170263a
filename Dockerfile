# Dockerfile - the Vigil sensor image: build in a full toolchain image, ship
# only the binary and the shared libraries it links against.
#
#   docker build -t vigil:0.1.0-dev .
#
# The BPF objects are embedded in the binary (bpftool skeleton), so the
# runtime stage needs no clang, no bpftool and no kernel headers.

# ---- build ---------------------------------------------------------------
FROM debian:12-slim AS build

WORKDIR /src
# hack/deps.sh is the one list of build packages: copied on its own so the
# package layer stays cached until the list changes.
COPY hack/deps.sh hack/deps.sh
RUN bash hack/deps.sh && rm -rf /var/lib/apt/lists/*

COPY . .
# vmlinux.h comes from the build machine's /sys/kernel/btf/vmlinux when the
# builder exposes it; CO-RE relocations make the result portable anyway.
RUN make build/vigil && strip --strip-debug build/vigil

# ---- runtime -------------------------------------------------------------
FROM debian:12-slim

# Only the shared libraries build/vigil needs; ca-certificates for https
# webhooks.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libbpf1 libelf1 zlib1g libcjson1 libmicrohttpd12 libcurl4 \
        libyaml-0-2 libprotobuf-c1 ca-certificates \
    && rm -rf /var/lib/apt/lists/*

COPY --from=build /src/build/vigil /usr/bin/vigil

# The sensor needs root and kernel privileges anyway (the DaemonSet grants
# them); there is no point pretending otherwise with USER.
EXPOSE 9810
ENTRYPOINT ["/usr/bin/vigil", "run", "--config", "/etc/vigil/vigil.yaml"]
