/* cri.h - a small client for the Kubernetes Container Runtime Interface.
 *
 * Speaks gRPC (HTTP/2 with prior knowledge, over the runtime's unix socket)
 * to containerd, CRI-O or cri-dockerd and returns plain C structs: the rest of
 * Vigil never sees protobuf. API runtime.v1 is tried first; if the runtime
 * answers UNIMPLEMENTED the client switches to runtime.v1alpha2 (same wire
 * format) for good.
 *
 * Every call has a timeout. Replies are not trusted: a bad frame, a
 * truncated body, a missing grpc-status trailer or protobuf that does not
 * parse is an error, never a crash. Strings are truncated to the fixed sizes
 * below; memory per reply is bounded by CRI_MAX_REPLY.
 *
 * A client is not thread safe: one thread uses it at a time (the container
 * cache gives it its own thread). Functions return CRI_OK (0) or a negative
 * enum cri_error; cri_client_error() then says what went wrong. */
#ifndef VIGIL_CRI_H
#define VIGIL_CRI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRI_ID_SIZE 65        /* 64 hex + NUL */
#define CRI_NAME_SIZE 256     /* pod / container names (k8s: <= 253) */
#define CRI_NAMESPACE_SIZE 64 /* k8s namespaces: <= 63 */
#define CRI_UID_SIZE 64
#define CRI_IMAGE_SIZE 512
#define CRI_PATH_SIZE 512
#define CRI_LABELS_SIZE 2048  /* packed "key=value\0" strings */
#define CRI_MAX_REPLY (16u << 20)
#define CRI_MAX_ITEMS 8192    /* entries kept from one List reply */

enum cri_error {
	CRI_OK = 0,
	CRI_ERR_TRANSPORT = -1, /* no socket, connect failed, timeout, not HTTP/2 200 */
	CRI_ERR_NOT_FOUND = -2, /* grpc-status NOT_FOUND */
	CRI_ERR_RPC = -3,       /* any other non-zero grpc-status */
	CRI_ERR_PROTO = -4,     /* reply malformed: framing, trailers, protobuf */
	CRI_ERR_ARG = -5,       /* bad argument from the caller */
};

const char *cri_error_name(int err);

/* Copies src (NULL reads as "") into dst of size bytes, truncating; dst
 * always ends in NUL. Shared with the container cache. */
void cri_copy_str(char *dst, size_t size, const char *src);

/* Labels (or annotations) as "key=value\0" strings back to back. Pairs that
 * do not fit are dropped and `truncated` is set. */
struct cri_labels {
	unsigned n;
	unsigned used; /* bytes of buf in use */
	bool truncated;
	char buf[CRI_LABELS_SIZE];
};

/* Value of key, or NULL. */
const char *cri_labels_get(const struct cri_labels *l, const char *key);
/* Iteration: pass NULL first; returns the next "key=value" or NULL. */
const char *cri_labels_next(const struct cri_labels *l, const char *prev);
/* Adds key=value; returns -1 (and sets truncated) when it does not fit or
 * the key contains '='. */
int cri_labels_add(struct cri_labels *l, const char *key, const char *value);

struct cri_version {
	char version[32];
	char runtime_name[64];    /* "containerd", "cri-o", "docker" */
	char runtime_version[64];
	char runtime_api_version[32];
};

enum cri_container_state {
	CRI_CONTAINER_CREATED = 0,
	CRI_CONTAINER_RUNNING = 1,
	CRI_CONTAINER_EXITED = 2,
	CRI_CONTAINER_UNKNOWN = 3,
};

struct cri_container {
	char id[CRI_ID_SIZE];
	char pod_sandbox_id[CRI_ID_SIZE];
	char name[CRI_NAME_SIZE];
	uint32_t attempt;
	char image[CRI_IMAGE_SIZE];     /* as asked for: "registry/repo:tag" */
	char image_ref[CRI_IMAGE_SIZE]; /* as resolved: "sha256:..." or "repo@sha256:..." */
	enum cri_container_state state;
	int64_t created_at_ns; /* wall clock, ns since the epoch */
	int64_t started_at_ns;  /* ContainerStatus only */
	int64_t finished_at_ns; /* ContainerStatus only */
	int32_t exit_code;      /* ContainerStatus only */
	uint32_t pid;           /* verbose ContainerStatus only; 0 if unknown */
	char cgroups_path[CRI_PATH_SIZE]; /* verbose ContainerStatus only */
	struct cri_labels labels;
};

enum cri_pod_state { CRI_POD_READY = 0, CRI_POD_NOTREADY = 1 };

struct cri_pod {
	char id[CRI_ID_SIZE];
	char name[CRI_NAME_SIZE];
	char namespace[CRI_NAMESPACE_SIZE];
	char uid[CRI_UID_SIZE];
	uint32_t attempt;
	enum cri_pod_state state;
	int64_t created_at_ns;
	char ip[64];               /* PodSandboxStatus only */
	char runtime_handler[64];
	uint32_t pid;              /* verbose PodSandboxStatus only */
	struct cri_labels labels;
};

struct cri_container_list {
	size_t n;
	size_t skipped; /* malformed entries left out */
	struct cri_container *items;
};

struct cri_pod_list {
	size_t n;
	size_t skipped;
	struct cri_pod *items;
};

struct cri_image {
	char id[CRI_IMAGE_SIZE];          /* "sha256:<config digest>" */
	char repo_tag[CRI_IMAGE_SIZE];    /* first of repo_tags, or "" */
	char repo_digest[CRI_IMAGE_SIZE]; /* first of repo_digests, or "" */
};

struct cri_client;

/* socket_path NULL: auto-detect among the usual containerd, CRI-O and
 * cri-dockerd sockets (under /run and /var/run) on every connection attempt,
 * so a runtime that starts after Vigil is still found. timeout_ms 0 means
 * 2000. Returns NULL when out of memory or libcurl cannot initialise. */
struct cri_client *cri_client_new(const char *socket_path, unsigned timeout_ms);
void cri_client_free(struct cri_client *c);
const char *cri_client_error(const struct cri_client *c);
/* The socket in use ("" if none found yet). */
const char *cri_client_socket(const struct cri_client *c);
/* "runtime.v1" or "runtime.v1alpha2". */
const char *cri_client_api(const struct cri_client *c);
/* Wall time of the last call, microseconds. */
uint64_t cri_client_last_latency_us(const struct cri_client *c);
/* First existing socket among the well-known ones, or NULL. */
const char *cri_detect_socket(void);

int cri_version(struct cri_client *c, struct cri_version *out);
/* pod_sandbox_id may be NULL (all containers). */
int cri_list_containers(struct cri_client *c, const char *pod_sandbox_id,
			struct cri_container_list *out);
int cri_container_status(struct cri_client *c, const char *id, bool verbose,
			 struct cri_container *out);
int cri_list_pods(struct cri_client *c, struct cri_pod_list *out);
int cri_pod_status(struct cri_client *c, const char *id, bool verbose,
		   struct cri_pod *out);
int cri_image_status(struct cri_client *c, const char *image,
		     struct cri_image *out);
void cri_container_list_free(struct cri_container_list *l);
void cri_pod_list_free(struct cri_pod_list *l);

/* Splits an image reference "[registry/]repo[:tag][@digest]" into its parts.
 * A missing tag is "latest" unless a digest is given. A bare image id
 * ("sha256:...") leaves name and tag empty and goes to digest. Outputs are
 * always NUL-terminated (truncated if needed). */
void cri_split_image(const char *ref, char *name, size_t name_size, char *tag,
		     size_t tag_size, char *digest, size_t digest_size);

/* ---- Pod and container lifecycle -------------------------------------
 * The sensor never calls these: they exist so integration tests can create
 * real pods through the same client. Label arrays are NULL-terminated
 * key, value, key, value, ... lists. */
struct cri_pod_config {
	const char *name, *namespace, *uid;
	const char *log_directory; /* may be NULL */
	const char *cgroup_parent; /* e.g. "/kubepods/besteffort/pod<uid>" */
	const char *const *labels;
};

struct cri_container_config {
	const char *name;
	const char *image;
	const char *const *command; /* NULL-terminated, may be NULL */
	const char *const *args;    /* NULL-terminated, may be NULL */
	const char *const *labels;
	const char *log_path;       /* relative to the pod log dir, may be NULL */
};

int cri_run_pod(struct cri_client *c, const struct cri_pod_config *cfg,
		char id[CRI_ID_SIZE]);
int cri_create_container(struct cri_client *c, const char *pod_id,
			 const struct cri_container_config *cfg,
			 const struct cri_pod_config *pod, char id[CRI_ID_SIZE]);
int cri_start_container(struct cri_client *c, const char *id);
int cri_stop_container(struct cri_client *c, const char *id, int64_t timeout_s);
int cri_remove_container(struct cri_client *c, const char *id);
int cri_stop_pod(struct cri_client *c, const char *id);
int cri_remove_pod(struct cri_client *c, const char *id);

/* ---- Reply decoding ---------------------------------------------------
 * The calls above use these on the HTTP/2 body; they are public so tests can
 * feed bytes captured from a real runtime. body is the whole gRPC body
 * (5-byte prefix: compressed flag, big-endian length; then the message).
 * On error they return CRI_ERR_PROTO and write a message into err. */
int cri_grpc_unframe(const uint8_t *body, size_t len, const uint8_t **msg,
		     size_t *msg_len, char *err, size_t err_size);
int cri_decode_version(const uint8_t *body, size_t len, struct cri_version *out,
		       char *err, size_t err_size);
int cri_decode_list_containers(const uint8_t *body, size_t len,
			       struct cri_container_list *out, char *err,
			       size_t err_size);
int cri_decode_container_status(const uint8_t *body, size_t len,
				struct cri_container *out, char *err,
				size_t err_size);
int cri_decode_list_pods(const uint8_t *body, size_t len,
			 struct cri_pod_list *out, char *err, size_t err_size);
int cri_decode_pod_status(const uint8_t *body, size_t len, struct cri_pod *out,
			  char *err, size_t err_size);
int cri_decode_image_status(const uint8_t *body, size_t len,
			    struct cri_image *out, char *err, size_t err_size);

#endif
