/* container_cache.c - container metadata cache, its runtime thread, the CRI
 * metadata source and the delay queue.
 *
 * Locking: one mutex guards the table, the request queue, the state and the
 * counters. The thread never holds it across a runtime call, so a slow
 * runtime can delay answers but never the pipeline's lookups. */
#include "container_cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "container_id.h"
#include "cri.h"
#include "log.h"

#define NS_PER_MS 1000000ull

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- labels ----------------------------------------------------------- */

int container_info_add_label(struct container_info *info, const char *key,
			     const char *value)
{
	size_t used = info->labels_len, kn, vn;

	if (!key || !*key || strchr(key, '=') || used > sizeof(info->labels)) {
		info->labels_truncated = true;
		return -1;
	}
	if (!value)
		value = "";
	kn = strlen(key);
	vn = strlen(value);
	if (kn + vn + 2 > sizeof(info->labels) - used) {
		info->labels_truncated = true;
		return -1;
	}
	memcpy(info->labels + used, key, kn);
	info->labels[used + kn] = '=';
	memcpy(info->labels + used + kn + 1, value, vn + 1);
	info->labels_len = (unsigned)(used + kn + vn + 2);
	info->n_labels++;
	return 0;
}

const char *container_info_next_label(const struct container_info *info,
				      const char *prev)
{
	size_t used = info->labels_len < sizeof(info->labels) ? info->labels_len :
								 sizeof(info->labels);
	const char *end = info->labels + used, *p;

	if (!prev)
		return used ? info->labels : NULL;
	if (prev < info->labels || prev >= end)
		return NULL;
	p = memchr(prev, '\0', (size_t)(end - prev));
	return p && p + 1 < end ? p + 1 : NULL;
}

const char *container_info_label(const struct container_info *info, const char *key)
{
	size_t kn = strlen(key);

	for (const char *kv = container_info_next_label(info, NULL); kv;
	     kv = container_info_next_label(info, kv))
		if (strncmp(kv, key, kn) == 0 && kv[kn] == '=')
			return kv + kn + 1;
	return NULL;
}

/* ---- CRI source ------------------------------------------------------- */

/* ImageStatus answers per resolved image reference; images are few and
 * immutable per reference, so a small ring of answers saves a call per
 * container. */
#define IMAGE_MEMO_SIZE 32

struct image_memo {
	char ref[CRI_IMAGE_SIZE];
	bool found;
	struct cri_image image;
};

struct cri_source {
	struct cri_client *client;
	char runtime[16];
	struct cri_pod_list pods; /* from the last list, to name containers' pods */
	struct image_memo images[IMAGE_MEMO_SIZE];
	unsigned next_image;
};

static const struct cri_image *image_lookup(struct cri_source *s, const char *ref)
{
	struct image_memo *m;
	int rc;

	if (!ref || !*ref)
		return NULL;
	for (unsigned i = 0; i < IMAGE_MEMO_SIZE; i++)
		if (s->images[i].ref[0] && strcmp(s->images[i].ref, ref) == 0)
			return s->images[i].found ? &s->images[i].image : NULL;
	m = &s->images[s->next_image];
	s->next_image = (s->next_image + 1) % IMAGE_MEMO_SIZE;
	cri_copy_str(m->ref, sizeof(m->ref), ref);
	rc = cri_image_status(s->client, ref, &m->image);
	m->found = rc == CRI_OK;
	if (rc != CRI_OK) {
		log_debug("cri: ImageStatus %s: %s", ref, cri_client_error(s->client));
		/* only "no such image" is an answer worth remembering */
		if (rc != CRI_ERR_NOT_FOUND)
			m->ref[0] = '\0';
	}
	return m->found ? &m->image : NULL;
}

static const char *after_at(const char *s)
{
	const char *at = s ? strchr(s, '@') : NULL;

	return at ? at + 1 : NULL;
}

static void fill_image(struct cri_source *s, const char *image, const char *image_ref,
		       struct container_info *out)
{
	char digest[CRI_IMAGE_SIZE];
	const struct cri_image *im = NULL;
	const char *d;

	if (strncmp(image, "sha256:", 7) == 0) {
		/* some runtimes report the image id in place of its name */
		cri_copy_str(out->image_id, sizeof(out->image_id), image);
	} else {
		cri_split_image(image, out->image_name, sizeof(out->image_name),
				out->image_tag, sizeof(out->image_tag), digest,
				sizeof(digest));
		cri_copy_str(out->image_digest, sizeof(out->image_digest), digest);
	}
	if (!out->image_digest[0] && (d = after_at(image_ref)))
		cri_copy_str(out->image_digest, sizeof(out->image_digest), d);
	if (!out->image_id[0] && strncmp(image_ref, "sha256:", 7) == 0)
		cri_copy_str(out->image_id, sizeof(out->image_id), image_ref);
	if (out->image_digest[0] && out->image_id[0] && out->image_name[0])
		return;

	im = image_lookup(s, image_ref[0] ? image_ref : image);
	if (!im)
		return;
	if (!out->image_digest[0] && (d = after_at(im->repo_digest)))
		cri_copy_str(out->image_digest, sizeof(out->image_digest), d);
	if (!out->image_id[0])
		cri_copy_str(out->image_id, sizeof(out->image_id), im->id);
	if (!out->image_name[0] && im->repo_tag[0])
		cri_split_image(im->repo_tag, out->image_name, sizeof(out->image_name),
				out->image_tag, sizeof(out->image_tag), digest,
				sizeof(digest));
}

static bool is_kubelet_label(const char *kv)
{
	return strncmp(kv, "io.kubernetes.", 14) == 0;
}

static void add_labels(struct container_info *out, const struct cri_labels *l)
{
	for (const char *kv = cri_labels_next(l, NULL); kv; kv = cri_labels_next(l, kv)) {
		const char *eq = strchr(kv, '=');
		char key[256];

		if (!eq || is_kubelet_label(kv) || (size_t)(eq - kv) >= sizeof(key))
			continue;
		memcpy(key, kv, (size_t)(eq - kv));
		key[eq - kv] = '\0';
		if (!container_info_label(out, key))
			container_info_add_label(out, key, eq + 1);
	}
	if (l->truncated)
		out->labels_truncated = true;
}

static void fill_pod(struct container_info *out, const struct cri_pod *p)
{
	cri_copy_str(out->pod_id, sizeof(out->pod_id), p->id);
	cri_copy_str(out->pod_name, sizeof(out->pod_name), p->name);
	cri_copy_str(out->pod_namespace, sizeof(out->pod_namespace), p->namespace);
	cri_copy_str(out->pod_uid, sizeof(out->pod_uid), p->uid);
	add_labels(out, &p->labels);
}

static const struct cri_pod *known_pod(const struct cri_source *s, const char *id)
{
	if (!id || !*id)
		return NULL;
	for (size_t i = 0; i < s->pods.n; i++)
		if (strcmp(s->pods.items[i].id, id) == 0)
			return &s->pods.items[i];
	return NULL;
}

static void from_sandbox(struct cri_source *s, const struct cri_pod *p,
			 struct container_info *out)
{
	memset(out, 0, sizeof(*out));
	cri_copy_str(out->id, sizeof(out->id), p->id);
	out->is_sandbox = true;
	cri_copy_str(out->runtime, sizeof(out->runtime), s->runtime);
	out->created_at_ns = p->created_at_ns > 0 ? (uint64_t)p->created_at_ns : 0;
	fill_pod(out, p);
}

/* pod may be NULL: kubelet's labels on the container then name the pod. */
static void from_container(struct cri_source *s, const struct cri_container *ct,
			   const struct cri_pod *pod, struct container_info *out)
{
	memset(out, 0, sizeof(*out));
	cri_copy_str(out->id, sizeof(out->id), ct->id);
	cri_copy_str(out->name, sizeof(out->name), ct->name);
	cri_copy_str(out->runtime, sizeof(out->runtime), s->runtime);
	out->created_at_ns = ct->created_at_ns > 0 ? (uint64_t)ct->created_at_ns : 0;
	fill_image(s, ct->image, ct->image_ref, out);
	if (pod) {
		fill_pod(out, pod);
	} else {
		const char *v;

		cri_copy_str(out->pod_id, sizeof(out->pod_id), ct->pod_sandbox_id);
		if ((v = cri_labels_get(&ct->labels, "io.kubernetes.pod.name")))
			cri_copy_str(out->pod_name, sizeof(out->pod_name), v);
		if ((v = cri_labels_get(&ct->labels, "io.kubernetes.pod.namespace")))
			cri_copy_str(out->pod_namespace, sizeof(out->pod_namespace), v);
		if ((v = cri_labels_get(&ct->labels, "io.kubernetes.pod.uid")))
			cri_copy_str(out->pod_uid, sizeof(out->pod_uid), v);
	}
	add_labels(out, &ct->labels);
}

static int cri_source_connect(void *ctx, char *runtime, size_t runtime_size,
			      char *err, size_t err_size)
{
	struct cri_source *s = ctx;
	struct cri_version v;

	if (cri_version(s->client, &v) != CRI_OK) {
		cri_copy_str(err, err_size, cri_client_error(s->client));
		return -1;
	}
	cri_copy_str(s->runtime, sizeof(s->runtime), v.runtime_name);
	cri_copy_str(runtime, runtime_size, v.runtime_name);
	log_info("cri: connected to %s %s on %s (%s)", v.runtime_name,
		 v.runtime_version, cri_client_socket(s->client), cri_client_api(s->client));
	return 0;
}

static int cri_source_list(void *ctx, void (*emit)(void *, const struct container_info *),
			   void *arg, char *err, size_t err_size)
{
	struct cri_source *s = ctx;
	struct cri_pod_list pods;
	struct cri_container_list cts;
	struct container_info *info;

	if (cri_list_pods(s->client, &pods) != CRI_OK) {
		cri_copy_str(err, err_size, cri_client_error(s->client));
		return -1;
	}
	cri_pod_list_free(&s->pods);
	s->pods = pods;
	if (cri_list_containers(s->client, NULL, &cts) != CRI_OK) {
		cri_copy_str(err, err_size, cri_client_error(s->client));
		return -1;
	}
	info = malloc(sizeof(*info));
	if (!info) {
		cri_container_list_free(&cts);
		cri_copy_str(err, err_size, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < s->pods.n; i++) {
		from_sandbox(s, &s->pods.items[i], info);
		emit(arg, info);
	}
	for (size_t i = 0; i < cts.n; i++) {
		from_container(s, &cts.items[i], known_pod(s, cts.items[i].pod_sandbox_id), info);
		emit(arg, info);
	}
	if (pods.skipped || cts.skipped)
		log_warn("cri: list skipped %zu malformed pods, %zu containers",
			 pods.skipped, cts.skipped);
	free(info);
	cri_container_list_free(&cts);
	return 0;
}

static int cri_source_get(void *ctx, const char *id, struct container_info *out,
			  char *err, size_t err_size)
{
	struct cri_source *s = ctx;
	struct cri_container *ct;
	struct cri_pod *pod;
	const struct cri_pod *p;
	int rc;

	ct = malloc(sizeof(*ct));
	pod = malloc(sizeof(*pod));
	if (!ct || !pod) {
		free(ct);
		free(pod);
		cri_copy_str(err, err_size, "out of memory");
		return -1;
	}
	/* verbose: containerd gives the sandbox id only in the verbose info */
	rc = cri_container_status(s->client, id, true, ct);
	if (rc == CRI_OK) {
		p = known_pod(s, ct->pod_sandbox_id);
		if (!p && ct->pod_sandbox_id[0] &&
		    cri_pod_status(s->client, ct->pod_sandbox_id, false, pod) == CRI_OK)
			p = pod;
		from_container(s, ct, p, out);
	} else if (rc == CRI_ERR_NOT_FOUND) {
		/* the pause process's cgroup names the sandbox, not a container */
		rc = cri_pod_status(s->client, id, false, pod);
		if (rc == CRI_OK)
			from_sandbox(s, pod, out);
	}
	free(ct);
	free(pod);
	if (rc == CRI_OK)
		return 0;
	if (rc == CRI_ERR_NOT_FOUND)
		return CONTAINER_SOURCE_NOT_FOUND;
	cri_copy_str(err, err_size, cri_client_error(s->client));
	return -1;
}

static void cri_source_destroy(void *ctx)
{
	struct cri_source *s = ctx;

	cri_pod_list_free(&s->pods);
	cri_client_free(s->client);
	free(s);
}

struct container_source *container_source_cri_new(const char *socket_path,
						   unsigned timeout_ms)
{
	struct container_source *src = calloc(1, sizeof(*src));
	struct cri_source *s = calloc(1, sizeof(*s));

	if (!src || !s)
		goto fail;
	s->client = cri_client_new(socket_path, timeout_ms);
	if (!s->client)
		goto fail;
	src->ctx = s;
	src->connect = cri_source_connect;
	src->list = cri_source_list;
	src->get = cri_source_get;
	src->destroy = cri_source_destroy;
	return src;
fail:
	free(s);
	free(src);
	return NULL;
}

/* ---- the cache table ---------------------------------------------------- */

struct entry {
	struct container_info info;
	bool used;
	bool negative;      /* the runtime said it does not know this id */
	uint64_t seen_ns;   /* last listed or fetched */
	uint64_t expires_ns; /* negative entries only */
	uint64_t relist_gen; /* last relist that saw it */
	int32_t next;       /* bucket chain, or free list */
};

struct container_cache {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool started, stop;

	struct container_cache_config cfg;
	struct container_source *source;

	struct entry *entries;
	int32_t *buckets;
	uint32_t bucket_mask;
	int32_t free_head;
	unsigned n_used;
	uint64_t relist_gen;

	char (*queue)[65]; /* ring of requested ids */
	unsigned q_head, q_len;

	_Atomic uint64_t generation;
	int event_fd;
	bool added; /* metadata added since the last eventfd poke */

	bool connected, ever_connected;
	uint64_t backoff_ms;
	struct container_cache_stats stats;
};

const char *container_cache_state_name(enum container_cache_state s)
{
	switch (s) {
	case CONTAINER_CACHE_DISCONNECTED:
		return "disconnected";
	case CONTAINER_CACHE_CONNECTED:
		return "connected";
	case CONTAINER_CACHE_DEGRADED:
		return "degraded";
	}
	return "unknown";
}

static uint32_t hash_id(const char *id)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *id; id++) {
		h ^= (uint8_t)*id;
		h *= 16777619u;
	}
	return h;
}

static int32_t table_find(struct container_cache *c, const char *id)
{
	for (int32_t i = c->buckets[hash_id(id) & c->bucket_mask]; i >= 0;
	     i = c->entries[i].next)
		if (strcmp(c->entries[i].info.id, id) == 0)
			return i;
	return -1;
}

static void table_remove(struct container_cache *c, int32_t idx)
{
	int32_t *link = &c->buckets[hash_id(c->entries[idx].info.id) & c->bucket_mask];

	while (*link >= 0 && *link != idx)
		link = &c->entries[*link].next;
	if (*link == idx)
		*link = c->entries[idx].next;
	c->entries[idx].used = false;
	c->entries[idx].next = c->free_head;
	c->free_head = idx;
	c->n_used--;
}

/* The least useful entry: "unknown" markers first, then containers the
 * runtime stopped listing, then the one seen longest ago. */
static int32_t table_victim(struct container_cache *c)
{
	int32_t best = -1;
	int best_class = 3;
	uint64_t best_seen = UINT64_MAX;

	for (unsigned i = 0; i < c->cfg.max_entries; i++) {
		const struct entry *e = &c->entries[i];
		int cls;

		if (!e->used)
			continue;
		cls = e->negative ? 0 : e->relist_gen != c->relist_gen ? 1 : 2;
		if (cls < best_class || (cls == best_class && e->seen_ns < best_seen)) {
			best = (int32_t)i;
			best_class = cls;
			best_seen = e->seen_ns;
		}
	}
	return best;
}

static struct entry *table_upsert(struct container_cache *c, const char *id, uint64_t now)
{
	int32_t idx = table_find(c, id);
	uint32_t b;

	if (idx >= 0)
		return &c->entries[idx];
	if (c->free_head < 0) {
		int32_t victim = table_victim(c);

		if (victim < 0)
			return NULL;
		table_remove(c, victim);
		c->stats.evictions++;
	}
	idx = c->free_head;
	c->free_head = c->entries[idx].next;
	memset(&c->entries[idx], 0, sizeof(c->entries[idx]));
	cri_copy_str(c->entries[idx].info.id, sizeof(c->entries[idx].info.id), id);
	c->entries[idx].used = true;
	c->entries[idx].negative = true; /* caller sets the real kind */
	c->entries[idx].seen_ns = now;
	b = hash_id(id) & c->bucket_mask;
	c->entries[idx].next = c->buckets[b];
	c->buckets[b] = idx;
	c->n_used++;
	return &c->entries[idx];
}

/* Called with the lock held. */
static void put_locked(struct container_cache *c, const struct container_info *info,
		       uint64_t relist_gen)
{
	uint64_t now = mono_ns();
	struct entry *e;
	bool fresh;

	if (!container_id_valid(info->id))
		return;
	fresh = table_find(c, info->id) < 0;
	e = table_upsert(c, info->id, now);
	if (!e)
		return;
	if (e->negative)
		fresh = true; /* "unknown" turning into metadata counts as new */
	e->info = *info;
	e->negative = false;
	e->seen_ns = now;
	if (relist_gen)
		e->relist_gen = relist_gen;
	if (fresh) {
		atomic_fetch_add(&c->generation, 1);
		c->added = true;
	}
}

static void put_unknown_locked(struct container_cache *c, const char *id)
{
	uint64_t now = mono_ns();
	int32_t idx = table_find(c, id);
	struct entry *e;

	if (idx >= 0 && !c->entries[idx].negative)
		return; /* a relist found it meanwhile */
	e = table_upsert(c, id, now);
	if (!e)
		return;
	e->negative = true;
	e->expires_ns = now + (uint64_t)c->cfg.negative_ttl_ms * NS_PER_MS;
	atomic_fetch_add(&c->generation, 1);
	c->added = true;
}

static void poke_event_fd(struct container_cache *c)
{
	uint64_t one = 1;

	if (!c->added || c->event_fd < 0)
		return;
	c->added = false;
	if (write(c->event_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug("container cache: eventfd write: %s", strerror(errno));
}

/* After a complete relist: forget containers the runtime stopped listing a
 * while ago and "unknown" markers past their time. */
static void sweep_locked(struct container_cache *c, uint64_t now)
{
	uint64_t gone_ns = (uint64_t)c->cfg.gone_ttl_ms * NS_PER_MS;

	for (unsigned i = 0; i < c->cfg.max_entries; i++) {
		struct entry *e = &c->entries[i];

		if (!e->used)
			continue;
		if (e->negative ? now >= e->expires_ns :
				  (e->relist_gen != c->relist_gen && now - e->seen_ns > gone_ns)) {
			table_remove(c, (int32_t)i);
			c->stats.expired++;
		}
	}
}

/* ---- runtime thread ----------------------------------------------------- */

static enum container_lookup peek_locked(struct container_cache *c, const char *id,
					 struct container_info *out);

static void call_succeeded(struct container_cache *c, uint64_t latency_ns)
{
	uint64_t us = latency_ns / 1000;

	c->stats.calls++;
	c->stats.call_latency_last_us = us;
	c->stats.call_latency_total_us += us;
	if (us > c->stats.call_latency_max_us)
		c->stats.call_latency_max_us = us;
	c->stats.state = us > (uint64_t)c->cfg.slow_call_ms * 1000 ?
				 CONTAINER_CACHE_DEGRADED : CONTAINER_CACHE_CONNECTED;
}

/* Returns when the next connection attempt is due. */
static uint64_t call_failed(struct container_cache *c, const char *what,
			    const char *err, uint64_t now)
{
	uint64_t delay = c->backoff_ms;

	if (c->connected || c->stats.backoff_ms == 0)
		log_warn("container cache: %s failed: %s; retrying in %llu ms", what,
			 err, (unsigned long long)delay);
	else
		log_debug("container cache: %s failed: %s; retrying in %llu ms", what,
			  err, (unsigned long long)delay);
	c->connected = false;
	c->stats.state = c->ever_connected ? CONTAINER_CACHE_DEGRADED :
					     CONTAINER_CACHE_DISCONNECTED;
	c->stats.backoff_ms = delay;
	/* No jitter: each node talks to its own runtime, there is no herd. */
	c->backoff_ms = delay * 2 > c->cfg.backoff_max_ms ? c->cfg.backoff_max_ms :
							    delay * 2;
	return now + delay * NS_PER_MS;
}

struct emit_ctx {
	struct container_cache *cache;
	uint64_t gen;
};

static void emit_listed(void *arg, const struct container_info *info)
{
	struct emit_ctx *e = arg;

	pthread_mutex_lock(&e->cache->lock);
	put_locked(e->cache, info, e->gen);
	pthread_mutex_unlock(&e->cache->lock);
}

static void wait_until(struct container_cache *c, uint64_t deadline_ns)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(deadline_ns / 1000000000ull);
	ts.tv_nsec = (long)(deadline_ns % 1000000000ull);
	pthread_cond_timedwait(&c->wake, &c->lock, &ts);
}

static void *cache_thread(void *arg)
{
	struct container_cache *c = arg;
	struct container_source *src = c->source;
	uint64_t next_attempt = 0, next_relist = 0, next_ping = 0;
	char err[320], runtime[16];
	struct container_info *info = malloc(sizeof(*info));

	if (!info) {
		log_error("container cache: out of memory, thread not running");
		return NULL;
	}
	pthread_mutex_lock(&c->lock);
	while (!c->stop) {
		uint64_t now = mono_ns(), t0;
		int rc;

		if (!c->connected) {
			if (now < next_attempt) {
				wait_until(c, next_attempt);
				continue;
			}
			pthread_mutex_unlock(&c->lock);
			err[0] = '\0';
			t0 = mono_ns();
			rc = src->connect(src->ctx, runtime, sizeof(runtime), err, sizeof(err));
			pthread_mutex_lock(&c->lock);
			now = mono_ns();
			if (rc != 0) {
				c->stats.connect_error++;
				next_attempt = call_failed(c, "connect", err, now);
				continue;
			}
			c->stats.connect_ok++;
			c->connected = c->ever_connected = true;
			c->backoff_ms = c->cfg.backoff_initial_ms;
			c->stats.backoff_ms = 0;
			cri_copy_str(c->stats.runtime, sizeof(c->stats.runtime), runtime);
			call_succeeded(c, now - t0);
			next_relist = now; /* catch up on what changed meanwhile */
			next_ping = now + (uint64_t)c->cfg.ping_interval_ms * NS_PER_MS;
		}

		if (now >= next_relist) {
			struct emit_ctx ectx = { c, c->relist_gen + 1 };

			pthread_mutex_unlock(&c->lock);
			err[0] = '\0';
			t0 = mono_ns();
			rc = src->list(src->ctx, emit_listed, &ectx, err, sizeof(err));
			pthread_mutex_lock(&c->lock);
			now = mono_ns();
			poke_event_fd(c);
			if (rc != 0) {
				c->stats.relist_error++;
				next_attempt = call_failed(c, "relist", err, now);
				continue;
			}
			c->stats.relist_ok++;
			c->relist_gen = ectx.gen;
			sweep_locked(c, now);
			call_succeeded(c, now - t0);
			next_relist = now + (uint64_t)c->cfg.relist_interval_ms * NS_PER_MS;
			continue; /* re-check stop before serving requests */
		}

		if (c->q_len) {
			char id[65];

			memcpy(id, c->queue[c->q_head], sizeof(id));
			c->q_head = (c->q_head + 1) % c->cfg.max_requests;
			c->q_len--;
			c->stats.pending = c->q_len;
			if (peek_locked(c, id, NULL) != CONTAINER_LOOKUP_MISS)
				continue; /* a relist got it first */
			pthread_mutex_unlock(&c->lock);
			err[0] = '\0';
			t0 = mono_ns();
			rc = src->get(src->ctx, id, info, err, sizeof(err));
			pthread_mutex_lock(&c->lock);
			now = mono_ns();
			if (rc == 0 && strcmp(info->id, id) == 0) {
				c->stats.fetch_ok++;
				put_locked(c, info, 0);
				call_succeeded(c, now - t0);
			} else if (rc == CONTAINER_SOURCE_NOT_FOUND) {
				c->stats.fetch_not_found++;
				put_unknown_locked(c, id);
				call_succeeded(c, now - t0);
			} else {
				c->stats.fetch_error++;
				if (rc == 0)
					snprintf(err, sizeof(err), "reply for another id");
				/* put it back at the front: asked for, not answered */
				if (c->q_len < c->cfg.max_requests) {
					c->q_head = (c->q_head + c->cfg.max_requests - 1) %
						    c->cfg.max_requests;
					memcpy(c->queue[c->q_head], id, sizeof(id));
					c->q_len++;
					c->stats.pending = c->q_len;
				}
				next_attempt = call_failed(c, "container lookup", err, now);
			}
			poke_event_fd(c);
			continue;
		}
		/* A cheap Version call between relists: a runtime that died is
		 * noticed in seconds, not at the next relist. */
		if (now >= next_ping) {
			pthread_mutex_unlock(&c->lock);
			err[0] = '\0';
			t0 = mono_ns();
			rc = src->connect(src->ctx, runtime, sizeof(runtime), err, sizeof(err));
			pthread_mutex_lock(&c->lock);
			now = mono_ns();
			next_ping = now + (uint64_t)c->cfg.ping_interval_ms * NS_PER_MS;
			if (rc != 0) {
				c->stats.connect_error++;
				next_attempt = call_failed(c, "ping", err, now);
				continue;
			}
			call_succeeded(c, now - t0);
			continue;
		}
		wait_until(c, next_relist < next_ping ? next_relist : next_ping);
	}
	pthread_mutex_unlock(&c->lock);
	free(info);
	return NULL;
}

/* ---- public cache API --------------------------------------------------- */

static unsigned or_default(unsigned v, unsigned def)
{
	return v ? v : def;
}

struct container_cache *container_cache_new(const struct container_cache_config *cfg)
{
	struct container_cache_config def = { 0 };
	struct container_cache *c;
	pthread_condattr_t attr;
	unsigned nb = 1;

	if (!cfg)
		cfg = &def;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->cfg = *cfg;
	c->cfg.call_timeout_ms = or_default(cfg->call_timeout_ms, 2000);
	c->cfg.relist_interval_ms = or_default(cfg->relist_interval_ms, 10000);
	c->cfg.ping_interval_ms = or_default(cfg->ping_interval_ms, 2000);
	c->cfg.max_entries = or_default(cfg->max_entries, 2048);
	c->cfg.max_requests = or_default(cfg->max_requests, 256);
	c->cfg.backoff_initial_ms = or_default(cfg->backoff_initial_ms, 250);
	c->cfg.backoff_max_ms = or_default(cfg->backoff_max_ms, 30000);
	c->cfg.gone_ttl_ms = or_default(cfg->gone_ttl_ms, 60000);
	c->cfg.negative_ttl_ms = or_default(cfg->negative_ttl_ms, 30000);
	c->cfg.slow_call_ms = or_default(cfg->slow_call_ms, 1000);
	if (c->cfg.max_entries > (1u << 20))
		c->cfg.max_entries = 1u << 20;
	if (c->cfg.max_requests > (1u << 16))
		c->cfg.max_requests = 1u << 16;
	if (c->cfg.backoff_initial_ms > c->cfg.backoff_max_ms)
		c->cfg.backoff_initial_ms = c->cfg.backoff_max_ms;
	c->cfg.socket_path = NULL; /* not kept: the source owns its copy */
	c->backoff_ms = c->cfg.backoff_initial_ms;
	c->event_fd = -1;

	while (nb < 2 * c->cfg.max_entries)
		nb <<= 1;
	c->bucket_mask = nb - 1;
	c->buckets = malloc(nb * sizeof(*c->buckets));
	c->entries = calloc(c->cfg.max_entries, sizeof(*c->entries));
	c->queue = calloc(c->cfg.max_requests, sizeof(*c->queue));
	if (!c->buckets || !c->entries || !c->queue)
		goto fail;
	for (unsigned i = 0; i < nb; i++)
		c->buckets[i] = -1;
	for (unsigned i = 0; i < c->cfg.max_entries; i++)
		c->entries[i].next = i + 1 < c->cfg.max_entries ? (int32_t)(i + 1) : -1;
	c->free_head = 0;

	c->source = cfg->source ? cfg->source :
		    container_source_cri_new(cfg->socket_path, c->cfg.call_timeout_ms);
	if (!c->source)
		goto fail;
	c->cfg.source = c->source;

	pthread_mutex_init(&c->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&c->wake, &attr);
	pthread_condattr_destroy(&attr);
	c->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	c->stats.state = CONTAINER_CACHE_DISCONNECTED;
	return c;
fail:
	free(c->buckets);
	free(c->entries);
	free(c->queue);
	free(c);
	return NULL;
}

int container_cache_start(struct container_cache *c)
{
	int rc;

	if (c->started)
		return 0;
	rc = pthread_create(&c->thread, NULL, cache_thread, c);
	if (rc != 0) {
		log_error("container cache: cannot start thread: %s", strerror(rc));
		return -1;
	}
	c->started = true;
	return 0;
}

void container_cache_free(struct container_cache *c)
{
	if (!c)
		return;
	if (c->started) {
		pthread_mutex_lock(&c->lock);
		c->stop = true;
		pthread_cond_signal(&c->wake);
		pthread_mutex_unlock(&c->lock);
		pthread_join(c->thread, NULL);
	}
	if (c->source && c->source->destroy)
		c->source->destroy(c->source->ctx);
	free(c->source);
	if (c->event_fd >= 0)
		close(c->event_fd);
	pthread_cond_destroy(&c->wake);
	pthread_mutex_destroy(&c->lock);
	free(c->buckets);
	free(c->entries);
	free(c->queue);
	free(c);
}

/* Lookup without touching the counters; lock held. */
static enum container_lookup peek_locked(struct container_cache *c, const char *id,
					 struct container_info *out)
{
	int32_t idx = table_find(c, id);

	if (idx < 0)
		return CONTAINER_LOOKUP_MISS;
	if (c->entries[idx].negative) {
		if (mono_ns() >= c->entries[idx].expires_ns)
			return CONTAINER_LOOKUP_MISS; /* worth asking again */
		return CONTAINER_LOOKUP_UNKNOWN;
	}
	if (out)
		*out = c->entries[idx].info;
	return CONTAINER_LOOKUP_HIT;
}

enum container_lookup container_cache_lookup(struct container_cache *c, const char *id,
					     struct container_info *out)
{
	enum container_lookup r;

	pthread_mutex_lock(&c->lock);
	r = container_id_valid(id) ? peek_locked(c, id, out) : CONTAINER_LOOKUP_MISS;
	if (r == CONTAINER_LOOKUP_HIT)
		c->stats.lookups_hit++;
	else if (r == CONTAINER_LOOKUP_UNKNOWN)
		c->stats.lookups_unknown++;
	else
		c->stats.lookups_miss++;
	pthread_mutex_unlock(&c->lock);
	return r;
}

int container_cache_request(struct container_cache *c, const char *id)
{
	int rc = 0;

	if (!container_id_valid(id))
		return -1;
	pthread_mutex_lock(&c->lock);
	if (peek_locked(c, id, NULL) != CONTAINER_LOOKUP_MISS) {
		c->stats.requests_deduped++;
		goto out;
	}
	for (unsigned i = 0; i < c->q_len; i++) {
		if (strcmp(c->queue[(c->q_head + i) % c->cfg.max_requests], id) == 0) {
			c->stats.requests_deduped++;
			goto out;
		}
	}
	if (c->q_len >= c->cfg.max_requests) {
		c->stats.requests_dropped++;
		rc = -1;
		goto out;
	}
	memcpy(c->queue[(c->q_head + c->q_len) % c->cfg.max_requests], id, 65);
	c->q_len++;
	c->stats.requests_queued++;
	c->stats.pending = c->q_len;
	pthread_cond_signal(&c->wake);
out:
	pthread_mutex_unlock(&c->lock);
	return rc;
}

void container_cache_put(struct container_cache *c, const struct container_info *info)
{
	pthread_mutex_lock(&c->lock);
	put_locked(c, info, 0);
	poke_event_fd(c);
	pthread_mutex_unlock(&c->lock);
}

uint64_t container_cache_generation(struct container_cache *c)
{
	return atomic_load(&c->generation);
}

int container_cache_event_fd(const struct container_cache *c)
{
	return c->event_fd;
}

enum container_cache_state container_cache_state(struct container_cache *c)
{
	enum container_cache_state s;

	pthread_mutex_lock(&c->lock);
	s = c->stats.state;
	pthread_mutex_unlock(&c->lock);
	return s;
}

void container_cache_get_stats(struct container_cache *c, struct container_cache_stats *out)
{
	pthread_mutex_lock(&c->lock);
	*out = c->stats;
	out->entries = c->n_used;
	out->pending = c->q_len;
	pthread_mutex_unlock(&c->lock);
}

/* ---- delay queue ---------------------------------------------------------- */

enum slot_state { SLOT_FREE = 0, SLOT_WAITING, SLOT_RESOLVED, SLOT_UNKNOWN };

struct slot {
	char id[65];
	void *event;
	uint64_t deadline;
	enum slot_state state;
};

/* A ring in push order. Popping from the middle (metadata came for a later
 * event first) leaves a hole that the head skips over later; when the ring
 * is full of holes it is compacted. Deadlines grow along the ring because
 * every event gets the same wait. */
struct delay_queue {
	struct slot *slots;
	unsigned cap, head, span, live, ready;
	uint64_t max_wait_ns;
	uint64_t seen_gen;
	struct delay_queue_stats stats;
};

struct delay_queue *delay_queue_new(unsigned capacity, uint64_t max_wait_ns)
{
	struct delay_queue *q;

	if (capacity == 0 || capacity > (1u << 20))
		return NULL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	q->slots = calloc(capacity, sizeof(*q->slots));
	if (!q->slots) {
		free(q);
		return NULL;
	}
	q->cap = capacity;
	q->max_wait_ns = max_wait_ns;
	return q;
}

void delay_queue_free(struct delay_queue *q, void (*release)(void *event))
{
	if (!q)
		return;
	for (unsigned i = 0; i < q->span; i++) {
		struct slot *s = &q->slots[(q->head + i) % q->cap];

		if (s->state != SLOT_FREE && release)
			release(s->event);
	}
	free(q->slots);
	free(q);
}

static struct slot *slot_at(struct delay_queue *q, unsigned i)
{
	return &q->slots[(q->head + i) % q->cap];
}

static void compact(struct delay_queue *q)
{
	unsigned out = 0;

	for (unsigned i = 0; i < q->span; i++) {
		struct slot *s = slot_at(q, i);

		if (s->state == SLOT_FREE)
			continue;
		if (out != i) {
			*slot_at(q, out) = *s;
			s->state = SLOT_FREE;
		}
		out++;
	}
	q->span = out;
}

int delay_queue_push(struct delay_queue *q, struct container_cache *cache,
		     const char *container_id, void *event, uint64_t now_ns)
{
	struct slot *s;

	if (!container_id_valid(container_id)) {
		q->stats.overflow++;
		return -1;
	}
	if (q->span == q->cap && q->live < q->cap)
		compact(q);
	if (q->span == q->cap) {
		q->stats.overflow++;
		return -1;
	}
	s = slot_at(q, q->span);
	memcpy(s->id, container_id, 65);
	s->event = event;
	s->deadline = now_ns + q->max_wait_ns;
	s->state = SLOT_WAITING;
	q->span++;
	q->live++;
	q->stats.pushed++;
	if (q->live > q->stats.max_len)
		q->stats.max_len = q->live;
	if (cache) {
		/* Checked once here; after that only when the cache's
		 * generation moves, so a busy queue is not rescanned per push. */
		enum container_lookup r;

		pthread_mutex_lock(&cache->lock);
		r = peek_locked(cache, container_id, NULL);
		pthread_mutex_unlock(&cache->lock);
		if (r != CONTAINER_LOOKUP_MISS) {
			s->state = r == CONTAINER_LOOKUP_HIT ? SLOT_RESOLVED : SLOT_UNKNOWN;
			q->ready++;
		} else {
			container_cache_request(cache, container_id);
		}
	}
	return 0;
}

/* Marks waiting events whose metadata (or "unknown") is now in the cache.
 * Skipped when nothing was added since the last pass. */
static void refresh(struct delay_queue *q, struct container_cache *cache)
{
	uint64_t gen;

	if (!cache)
		return;
	gen = container_cache_generation(cache);
	if (gen == q->seen_gen)
		return;
	pthread_mutex_lock(&cache->lock);
	for (unsigned i = 0; i < q->span; i++) {
		struct slot *s = slot_at(q, i);
		enum container_lookup r;

		if (s->state != SLOT_WAITING)
			continue;
		r = peek_locked(cache, s->id, NULL);
		if (r == CONTAINER_LOOKUP_HIT)
			s->state = SLOT_RESOLVED;
		else if (r == CONTAINER_LOOKUP_UNKNOWN)
			s->state = SLOT_UNKNOWN;
		if (s->state != SLOT_WAITING)
			q->ready++;
	}
	pthread_mutex_unlock(&cache->lock);
	q->seen_gen = gen;
}

static enum delay_result take(struct delay_queue *q, unsigned i,
			      struct container_cache *cache, void **event,
			      struct container_info *info)
{
	struct slot *s = slot_at(q, i);
	enum delay_result r;

	if (s->state == SLOT_WAITING) {
		/* deadline: one last look, metadata may have just landed */
		enum container_lookup l = cache ? container_cache_lookup(cache, s->id, info) :
						  CONTAINER_LOOKUP_MISS;

		r = l == CONTAINER_LOOKUP_HIT ? DELAY_RESOLVED :
		    l == CONTAINER_LOOKUP_UNKNOWN ? DELAY_UNKNOWN : DELAY_EXPIRED;
	} else {
		q->ready--;
		r = s->state == SLOT_UNKNOWN ? DELAY_UNKNOWN : DELAY_RESOLVED;
		/* evicted between marking and now: it goes out without metadata */
		if (r == DELAY_RESOLVED &&
		    (!cache || container_cache_lookup(cache, s->id, info) != CONTAINER_LOOKUP_HIT))
			r = DELAY_EXPIRED;
	}
	*event = s->event;
	s->state = SLOT_FREE;
	s->event = NULL;
	q->live--;
	while (q->span && slot_at(q, 0)->state == SLOT_FREE) {
		q->head = (q->head + 1) % q->cap;
		q->span--;
	}
	if (r == DELAY_RESOLVED)
		q->stats.resolved++;
	else if (r == DELAY_UNKNOWN)
		q->stats.unknown++;
	else
		q->stats.expired++;
	return r;
}

enum delay_result delay_queue_pop(struct delay_queue *q, struct container_cache *cache,
				  uint64_t now_ns, void **event,
				  struct container_info *info)
{
	*event = NULL;
	if (!q->live)
		return DELAY_NONE;
	refresh(q, cache);
	for (unsigned i = 0; i < q->span; i++) {
		struct slot *s = slot_at(q, i);

		if (s->state == SLOT_FREE)
			continue;
		if (s->state != SLOT_WAITING || s->deadline <= now_ns)
			return take(q, i, cache, event, info);
		/* deadlines only grow from here on: stop unless something
		 * further back already has its metadata */
		if (!q->ready)
			break;
	}
	return DELAY_NONE;
}

uint64_t delay_queue_next_deadline(const struct delay_queue *q)
{
	for (unsigned i = 0; i < q->span; i++) {
		const struct slot *s = &q->slots[(q->head + i) % q->cap];

		if (s->state != SLOT_FREE)
			return s->deadline;
	}
	return 0;
}

unsigned delay_queue_len(const struct delay_queue *q)
{
	return q->live;
}

void delay_queue_get_stats(const struct delay_queue *q, struct delay_queue_stats *out)
{
	*out = q->stats;
	out->len = q->live;
}
