/* container_cache.h - container id -> container and pod metadata, without
 * ever blocking the event pipeline.
 *
 * A background thread owns the runtime connection (the CRI client by
 * default): it lists pods and containers at start and every relist
 * interval, and fetches single containers the pipeline asked about. The
 * pipeline only ever takes a mutex for a map lookup and a copy:
 *
 *	struct container_info info;
 *	if (container_cache_lookup(cache, id, &info) == CONTAINER_LOOKUP_MISS)
 *		container_cache_request(cache, id);   // answer comes later
 *
 * If the runtime is missing, slow or dies, the cache keeps serving what it
 * has, reconnects with exponential backoff (capped), and says so in its
 * state and counters.
 *
 * The delay queue at the bottom lets the pipeline hold events from a
 * container it has no metadata for yet, for up to a deadline. */
#ifndef VIGIL_CONTAINER_CACHE_H
#define VIGIL_CONTAINER_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONTAINER_NAME_SIZE 256
#define CONTAINER_IMAGE_NAME_SIZE 256
#define CONTAINER_IMAGE_TAG_SIZE 128
#define CONTAINER_DIGEST_SIZE 80 /* "sha256:" + 64 hex */
#define CONTAINER_NAMESPACE_SIZE 64
#define CONTAINER_LABELS_SIZE 1024

struct container_info {
	char id[65];
	char name[CONTAINER_NAME_SIZE]; /* "" for a pod sandbox */
	bool is_sandbox;                /* the pod's pause container */
	char image_name[CONTAINER_IMAGE_NAME_SIZE]; /* "docker.io/library/nginx" */
	char image_tag[CONTAINER_IMAGE_TAG_SIZE];   /* "1.25"; "" if pinned by digest only */
	char image_digest[CONTAINER_DIGEST_SIZE];   /* manifest digest "sha256:..." or "" */
	char image_id[CONTAINER_DIGEST_SIZE];       /* image config digest or "" */
	char runtime[16];          /* "containerd", "cri-o", "docker" */
	uint64_t created_at_ns;    /* wall clock, ns since the epoch (runtime's view) */
	char pod_id[65];           /* sandbox id; "" outside Kubernetes */
	char pod_name[CONTAINER_NAME_SIZE];
	char pod_namespace[CONTAINER_NAMESPACE_SIZE];
	char pod_uid[37];
	/* Pod labels, then container labels, as packed "key=value\0" strings.
	 * Kubelet's io.kubernetes.* bookkeeping labels are left out: they
	 * repeat the fields above. */
	unsigned n_labels;
	unsigned labels_len; /* bytes of labels in use */
	bool labels_truncated;
	char labels[CONTAINER_LABELS_SIZE];
};

/* Value of a label, or NULL. */
const char *container_info_label(const struct container_info *info, const char *key);
/* Iteration: pass NULL first; returns the next "key=value" or NULL. */
const char *container_info_next_label(const struct container_info *info, const char *prev);
/* Adds a label; -1 (and labels_truncated) when it does not fit. */
int container_info_add_label(struct container_info *info, const char *key,
			     const char *value);

/* Where metadata comes from. The default is the CRI; tests plug in a fake.
 * Callbacks run on the cache thread only. They return 0 on success,
 * CONTAINER_SOURCE_NOT_FOUND when the runtime has no such container, or -1
 * on any failure (with a message in err). */
#define CONTAINER_SOURCE_NOT_FOUND 1

struct container_source {
	void *ctx;
	/* Check the runtime answers; fill its name ("containerd"). */
	int (*connect)(void *ctx, char *runtime, size_t runtime_size, char *err,
		       size_t err_size);
	/* Every pod sandbox and container the runtime knows, one emit each. */
	int (*list)(void *ctx, void (*emit)(void *arg, const struct container_info *info),
		    void *arg, char *err, size_t err_size);
	/* One container (or pod sandbox) by id. */
	int (*get)(void *ctx, const char *id, struct container_info *out, char *err,
		   size_t err_size);
	void (*destroy)(void *ctx);
};

/* The CRI-backed source. socket_path NULL: auto-detect. NULL if out of
 * memory. */
struct container_source *container_source_cri_new(const char *socket_path,
						   unsigned timeout_ms);

struct container_cache_config {
	const char *socket_path;      /* CRI socket; NULL: auto-detect */
	unsigned call_timeout_ms;     /* per CRI call; default 2000 */
	unsigned relist_interval_ms;  /* default 10000 */
	unsigned ping_interval_ms;    /* Version call between relists; default 2000 */
	unsigned max_entries;         /* default 2048 */
	unsigned max_requests;        /* pending lookups; default 256 */
	unsigned backoff_initial_ms;  /* default 250 */
	unsigned backoff_max_ms;      /* default 30000 */
	unsigned gone_ttl_ms;         /* keep containers gone from the runtime; default 60000 */
	unsigned negative_ttl_ms;     /* remember ids the runtime does not know; default 30000 */
	unsigned slow_call_ms;        /* slower successful calls mean degraded; default 1000 */
	/* NULL: the CRI source on socket_path. Otherwise the cache takes
	 * ownership and calls source->destroy when freed. */
	struct container_source *source;
};

enum container_cache_state {
	CONTAINER_CACHE_DISCONNECTED, /* never reached the runtime yet */
	CONTAINER_CACHE_CONNECTED,
	CONTAINER_CACHE_DEGRADED,     /* was connected; now failing or slow, serving stale data */
};

const char *container_cache_state_name(enum container_cache_state s);

struct container_cache_stats {
	enum container_cache_state state;
	char runtime[16];
	uint64_t lookups_hit, lookups_miss, lookups_unknown;
	uint64_t requests_queued, requests_deduped, requests_dropped;
	uint64_t fetch_ok, fetch_not_found, fetch_error; /* request results */
	uint64_t relist_ok, relist_error;
	uint64_t connect_ok, connect_error;
	uint64_t calls, call_latency_total_us, call_latency_max_us, call_latency_last_us;
	uint64_t entries, evictions, expired;
	uint64_t backoff_ms; /* current reconnect delay; 0 when connected */
	uint64_t pending;    /* requests waiting */
};

struct container_cache;

/* Builds the cache; no thread yet. NULL cfg: all defaults. NULL if out of
 * memory or the source could not be made. */
struct container_cache *container_cache_new(const struct container_cache_config *cfg);
/* Starts the background thread. 0, or -1 if it could not be created. */
int container_cache_start(struct container_cache *c);
/* Stops the thread (waits for an in-flight call, bounded by its timeout)
 * and frees everything. */
void container_cache_free(struct container_cache *c);

enum container_lookup {
	CONTAINER_LOOKUP_MISS = 0,    /* not known yet: request it */
	CONTAINER_LOOKUP_HIT = 1,     /* *out filled */
	CONTAINER_LOOKUP_UNKNOWN = 2, /* the runtime said it has no such container */
};

/* Non-blocking apart from the cache mutex. out may be NULL (existence
 * check). Thread safe. */
enum container_lookup container_cache_lookup(struct container_cache *c, const char *id,
					     struct container_info *out);
/* Asks the thread to fetch id. 0 when queued or already pending/known, -1
 * when the id is malformed or the queue is full (counted as dropped).
 * Thread safe, never blocks on the runtime. */
int container_cache_request(struct container_cache *c, const char *id);
/* Inserts or replaces metadata learned elsewhere (also used by tests). */
void container_cache_put(struct container_cache *c, const struct container_info *info);
/* Bumped every time metadata is added: cheap "anything new?" check. */
uint64_t container_cache_generation(struct container_cache *c);
/* An eventfd that becomes readable when metadata is added, for the
 * pipeline's poll loop; read it to reset. -1 if unavailable. */
int container_cache_event_fd(const struct container_cache *c);
enum container_cache_state container_cache_state(struct container_cache *c);
void container_cache_get_stats(struct container_cache *c, struct container_cache_stats *out);

/* ---- delay queue ---------------------------------------------------------
 * Events from a container with no metadata yet wait here until it arrives
 * or their deadline passes, then go out anyway. The event is an opaque
 * pointer the queue never touches. Owned by one thread (the pipeline's):
 * not thread safe itself, but it reads the cache, which is. Times are
 * CLOCK_MONOTONIC (or any monotonic) nanoseconds chosen by the caller. */
struct delay_queue;

enum delay_result {
	DELAY_NONE = 0,   /* nothing ready */
	DELAY_RESOLVED,   /* metadata arrived; info filled */
	DELAY_UNKNOWN,    /* the runtime does not know the container */
	DELAY_EXPIRED,    /* deadline passed without metadata */
};

struct delay_queue_stats {
	uint64_t pushed, resolved, unknown, expired, overflow;
	unsigned len, max_len;
};

/* capacity events at most; each waits at most max_wait_ns. */
struct delay_queue *delay_queue_new(unsigned capacity, uint64_t max_wait_ns);
/* release (may be NULL) is called on every event still held. */
void delay_queue_free(struct delay_queue *q, void (*release)(void *event));
/* Holds event for container_id and asks the cache to fetch it. 0 when
 * held; -1 when the queue is full or the id is malformed: the event was
 * not taken and the caller sends it as it is. */
int delay_queue_push(struct delay_queue *q, struct container_cache *cache,
		     const char *container_id, void *event, uint64_t now_ns);
/* Hands back the oldest ready event, if any. Events of one container come
 * back in the order they were pushed. info may be NULL. */
enum delay_result delay_queue_pop(struct delay_queue *q, struct container_cache *cache,
				  uint64_t now_ns, void **event,
				  struct container_info *info);
/* Earliest deadline among held events (to size a poll timeout), 0 if empty. */
uint64_t delay_queue_next_deadline(const struct delay_queue *q);
unsigned delay_queue_len(const struct delay_queue *q);
void delay_queue_get_stats(const struct delay_queue *q, struct delay_queue_stats *out);

#endif
