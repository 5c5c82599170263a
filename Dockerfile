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

LABEL org.opencontainers.image.title="vigil" \
      org.opencontainers.image.description="Vigil runtime security sensor for Kubernetes nodes"

# Only the shared libraries build/vigil needs; ca-certificates for https
# webhooks. Versions are not pinned so that a rebuild picks up Debian's
# security updates. An empty vigil.yaml means the built-in defaults, so a
# plain `docker run` works; the chart mounts its ConfigMap over /etc/vigil.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libbpf1 libelf1 zlib1g libcjson1 libmicrohttpd12 libcurl4 \
        libyaml-0-2 libprotobuf-c1 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /etc/vigil && : > /etc/vigil/vigil.yaml

COPY --from=build /src/build/vigil /usr/bin/vigil

# The sensor needs root and kernel privileges anyway (the DaemonSet grants
# them); there is no point pretending otherwise with USER.
EXPOSE 9810
ENTRYPOINT ["/usr/bin/vigil", "run", "--config", "/etc/vigil/vigil.yaml"]
