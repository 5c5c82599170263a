/* container_id.h - which container (and pod) a cgroup path belongs to.
 *
 * Pure string functions, no I/O: the caller hands in a cgroup path, a line of
 * /proc/<pid>/cgroup, or the whole file, and gets back the 64-hex container
 * id the runtime knows the container by. Input is treated as untrusted: it
 * may be unterminated, truncated or junk, and is never read past len.
 *
 * Shapes understood (cgroup v1 and v2):
 *   /kubepods/<qos>/pod<uid>/<id>             cgroupfs driver (kubelet)
 *   /kubepods/pod<uid>/<id>                   cgroupfs, Guaranteed QoS
 *   /kubepods.slice/kubepods-<qos>-pod<uid_with_underscores>.slice/
 *       cri-containerd-<id>.scope | crio-<id>.scope | docker-<id>.scope
 *   /system.slice/docker-<id>.scope, /machine.slice/libpod-<id>.scope
 *   /docker/<id>, /containerd/<id>
 *   kubepods-...-pod<uid>.slice:cri-containerd:<id>  (systemd cgroupsPath)
 *   any of the above followed by sub-cgroups created inside the container.
 * When several ids are nested, the outermost wins: that is the container the
 * host's runtime manages and can describe. */
#ifndef VIGIL_CONTAINER_ID_H
#define VIGIL_CONTAINER_ID_H

#include <stdbool.h>
#include <stddef.h>

#define CONTAINER_ID_LEN 64
#define CONTAINER_POD_UID_LEN 36

/* Which runtime created the cgroup, as far as the path tells. The plain
 * kubepods cgroupfs shape names no runtime: UNKNOWN. */
enum container_runtime {
	CONTAINER_RUNTIME_UNKNOWN = 0,
	CONTAINER_RUNTIME_DOCKER,
	CONTAINER_RUNTIME_CONTAINERD,
	CONTAINER_RUNTIME_CRIO,
	CONTAINER_RUNTIME_PODMAN,
};

/* "docker", "containerd", "cri-o", "podman" or "unknown". */
const char *container_runtime_name(enum container_runtime rt);

/* Accepts a cgroup path ("/kubepods/...") or one /proc/<pid>/cgroup line
 * ("0::/path", "4:memory:/path"); stops at len, a NUL or a newline.
 * Returns 0 and writes the 64-hex container id (NUL-terminated, 65 bytes)
 * and a runtime hint (rt may be NULL), or -1 when the path is a host cgroup
 * or malformed; id is then set to "". */
int container_id_from_cgroup(const char *path, size_t len, char id[65],
			     enum container_runtime *rt);

/* Also extracts the pod uid when the path has one: pod<uid> with '-' or '_'
 * separators (written back with '-'), or the 32-hex uid kubelet gives static
 * pods. Returns 0 and writes it NUL-terminated, or -1 and writes "". */
int container_pod_uid_from_cgroup(const char *path, size_t len, char uid[37]);

/* Same as container_id_from_cgroup over a whole /proc/<pid>/cgroup file
 * (several lines, v1 hierarchies and/or the v2 "0::" line): the first line
 * naming a container wins. */
int container_id_from_cgroup_file(const char *buf, size_t len, char id[65],
				  enum container_runtime *rt);

/* True when s is exactly 64 lowercase hex digits followed by a NUL. */
bool container_id_valid(const char *s);

#endif
