/* test_container_cache.c - the metadata cache, its thread and the delay
 * queue, without a container runtime: a fake source stands in for the CRI
 * and can be told to fail, to be slow, or to forget containers. */
#include <criterion/criterion.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../sensor/container_cache.h"

#define ID(c) c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c \
	      c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c
#define ID_A ID("a")
#define ID_B ID("b")
#define ID_C ID("c")
#define ID_D ID("d")
#define ID_E ID("e")
#define ID_X ID("1") /* only answered by get(), never listed */
#define ID_Z ID("2") /* the runtime does not know it */

/* ---- fake source --------------------------------------------------------- */

struct fake {
	pthread_mutex_t lock;
	bool fail;
	unsigned delay_ms;
	bool list_a, list_b; /* which containers the runtime lists */
	unsigned connects, lists, gets;
};

static void fake_info(struct container_info *info, const char *id, const char *name)
{
	memset(info, 0, sizeof(*info));
	snprintf(info->id, sizeof(info->id), "%s", id);
	snprintf(info->name, sizeof(info->name), "%s", name);
	snprintf(info->pod_name, sizeof(info->pod_name), "pod-of-%s", name);
	snprintf(info->pod_namespace, sizeof(info->pod_namespace), "ns1");
	snprintf(info->image_name, sizeof(info->image_name), "repo/%s", name);
	snprintf(info->image_tag, sizeof(info->image_tag), "1.0");
	snprintf(info->runtime, sizeof(info->runtime), "fake");
	container_info_add_label(info, "app", name);
}

/* Returns whether to fail; sleeps outside the lock like a slow runtime. */
static bool fake_enter(struct fake *f, unsigned *counter)
{
	bool fail;
	unsigned delay;

	pthread_mutex_lock(&f->lock);
	(*counter)++;
	fail = f->fail;
	delay = f->delay_ms;
	pthread_mutex_unlock(&f->lock);
	if (delay)
		usleep(delay * 1000);
	return fail;
}

static int fake_connect(void *ctx, char *runtime, size_t size, char *err, size_t esize)
{
	struct fake *f = ctx;

	if (fake_enter(f, &f->connects)) {
		snprintf(err, esize, "fake: connection refused");
		return -1;
	}
	snprintf(runtime, size, "fake");
	return 0;
}

static int fake_list(void *ctx, void (*emit)(void *, const struct container_info *),
		     void *arg, char *err, size_t esize)
{
	struct fake *f = ctx;
	struct container_info info;
	bool a, b;

	if (fake_enter(f, &f->lists)) {
		snprintf(err, esize, "fake: broken pipe");
		return -1;
	}
	pthread_mutex_lock(&f->lock);
	a = f->list_a;
	b = f->list_b;
	pthread_mutex_unlock(&f->lock);
	if (a) {
		fake_info(&info, ID_A, "alpha");
		emit(arg, &info);
	}
	if (b) {
		fake_info(&info, ID_B, "beta");
		emit(arg, &info);
	}
	return 0;
}

static int fake_get(void *ctx, const char *id, struct container_info *out, char *err,
		    size_t esize)
{
	struct fake *f = ctx;

	if (fake_enter(f, &f->gets)) {
		snprintf(err, esize, "fake: timeout");
		return -1;
	}
	if (strcmp(id, ID_X) == 0) {
		fake_info(out, ID_X, "short-lived");
		return 0;
	}
	return CONTAINER_SOURCE_NOT_FOUND;
}

static struct fake the_fake;

static struct container_source *fake_source(void)
{
	static struct container_source src;

	memset(&the_fake, 0, sizeof(the_fake));
	pthread_mutex_init(&the_fake.lock, NULL);
	the_fake.list_a = the_fake.list_b = true;
	src.ctx = &the_fake;
	src.connect = fake_connect;
	src.list = fake_list;
	src.get = fake_get;
	src.destroy = NULL;
	/* the cache frees the struct it is given: hand it a heap copy */
	struct container_source *heap = malloc(sizeof(*heap));
	cr_assert_not_null(heap);
	*heap = src;
	return heap;
}

static void fake_set(bool fail, unsigned delay_ms)
{
	pthread_mutex_lock(&the_fake.lock);
	the_fake.fail = fail;
	the_fake.delay_ms = delay_ms;
	pthread_mutex_unlock(&the_fake.lock);
}

static unsigned fake_count(unsigned *counter)
{
	unsigned n;

	pthread_mutex_lock(&the_fake.lock);
	n = *counter;
	pthread_mutex_unlock(&the_fake.lock);
	return n;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Polls until lookup(id) gives want, up to ms. */
static bool wait_lookup(struct container_cache *c, const char *id,
			enum container_lookup want, unsigned ms)
{
	for (unsigned i = 0; i < ms / 5; i++) {
		if (container_cache_lookup(c, id, NULL) == want)
			return true;
		usleep(5000);
	}
	return false;
}

static bool wait_state(struct container_cache *c, enum container_cache_state want,
		       unsigned ms)
{
	for (unsigned i = 0; i < ms / 5; i++) {
		if (container_cache_state(c) == want)
			return true;
		usleep(5000);
	}
	return false;
}

static struct container_cache *new_cache(struct container_cache_config *cfg)
{
	struct container_cache *c;

	cfg->source = fake_source();
	c = container_cache_new(cfg);
	cr_assert_not_null(c);
	return c;
}

/* ---- labels ------------------------------------------------------------ */

Test(container_info, labels)
{
	struct container_info info;
	unsigned n = 0, added = 0;
	char key[32], value[100];

	memset(&info, 0, sizeof(info));
	cr_assert_null(container_info_next_label(&info, NULL));
	cr_assert_eq(container_info_add_label(&info, "app", "web"), 0);
	cr_assert_eq(container_info_add_label(&info, "team", "blue"), 0);
	cr_assert_eq(container_info_add_label(&info, "bad=key", "x"), -1);
	cr_assert_str_eq(container_info_label(&info, "app"), "web");
	cr_assert_str_eq(container_info_label(&info, "team"), "blue");
	cr_assert_null(container_info_label(&info, "tea"));
	for (const char *kv = container_info_next_label(&info, NULL); kv;
	     kv = container_info_next_label(&info, kv))
		n++;
	cr_assert_eq(n, 2);

	memset(&info, 0, sizeof(info));
	memset(value, 'v', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	for (int i = 0; i < 50; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		if (container_info_add_label(&info, key, value) == 0)
			added++;
	}
	cr_assert(info.labels_truncated);
	cr_assert_eq(info.n_labels, added);
	cr_assert_leq(info.labels_len, sizeof(info.labels));
	n = 0;
	for (const char *kv = container_info_next_label(&info, NULL); kv;
	     kv = container_info_next_label(&info, kv))
		n++;
	cr_assert_eq(n, added);
}

/* ---- cache without a thread ----------------------------------------------- */

Test(container_cache, put_lookup_copy_out)
{
	struct container_cache_config cfg = { 0 };
	struct container_cache *c = new_cache(&cfg);
	struct container_info in, out;
	struct container_cache_stats st;
	uint64_t gen = container_cache_generation(c);

	fake_info(&in, ID_A, "alpha");
	container_cache_put(c, &in);
	cr_assert_gt(container_cache_generation(c), gen);
	cr_assert_eq(container_cache_lookup(c, ID_A, &out), CONTAINER_LOOKUP_HIT);
	cr_assert_str_eq(out.name, "alpha");
	cr_assert_str_eq(out.pod_name, "pod-of-alpha");
	cr_assert_str_eq(container_info_label(&out, "app"), "alpha");
	/* a copy: changing it does not change the cache */
	strcpy(out.name, "changed");
	cr_assert_eq(container_cache_lookup(c, ID_A, &out), CONTAINER_LOOKUP_HIT);
	cr_assert_str_eq(out.name, "alpha");

	cr_assert_eq(container_cache_lookup(c, ID_B, &out), CONTAINER_LOOKUP_MISS);
	cr_assert_eq(container_cache_lookup(c, "not-an-id", &out), CONTAINER_LOOKUP_MISS);
	cr_assert_eq(container_cache_lookup(c, ID_A, NULL), CONTAINER_LOOKUP_HIT);

	/* a refresh with the same id is not "new metadata" */
	gen = container_cache_generation(c);
	container_cache_put(c, &in);
	cr_assert_eq(container_cache_generation(c), gen);

	container_cache_get_stats(c, &st);
	cr_assert_eq(st.lookups_hit, 3);
	cr_assert_eq(st.lookups_miss, 2);
	cr_assert_eq(st.entries, 1);
	cr_assert_eq(st.state, CONTAINER_CACHE_DISCONNECTED);
	container_cache_free(c);
}

Test(container_cache, bounded_and_evicts_oldest)
{
	struct container_cache_config cfg = { .max_entries = 4 };
	struct container_cache *c = new_cache(&cfg);
	const char *ids[] = { ID_A, ID_B, ID_C, ID_D, ID_E, ID_X };
	struct container_info in;
	struct container_cache_stats st;

	for (size_t i = 0; i < 6; i++) {
		fake_info(&in, ids[i], "n");
		container_cache_put(c, &in);
		usleep(1000); /* distinct "seen" times */
	}
	container_cache_get_stats(c, &st);
	cr_assert_eq(st.entries, 4);
	cr_assert_eq(st.evictions, 2);
	cr_assert_eq(container_cache_lookup(c, ID_A, NULL), CONTAINER_LOOKUP_MISS);
	cr_assert_eq(container_cache_lookup(c, ID_B, NULL), CONTAINER_LOOKUP_MISS);
	cr_assert_eq(container_cache_lookup(c, ID_X, NULL), CONTAINER_LOOKUP_HIT);
	cr_assert_eq(container_cache_lookup(c, ID_C, NULL), CONTAINER_LOOKUP_HIT);
	container_cache_free(c);
}

Test(container_cache, request_queue_bounded_and_deduped)
{
	struct container_cache_config cfg = { .max_requests = 3 };
	struct container_cache *c = new_cache(&cfg);
	struct container_cache_stats st;
	struct container_info in;

	fake_info(&in, ID_E, "known");
	container_cache_put(c, &in);
	cr_assert_eq(container_cache_request(c, ID_A), 0);
	cr_assert_eq(container_cache_request(c, ID_B), 0);
	cr_assert_eq(container_cache_request(c, ID_A), 0); /* already pending */
	cr_assert_eq(container_cache_request(c, ID_E), 0); /* already known */
	cr_assert_eq(container_cache_request(c, ID_C), 0);
	cr_assert_eq(container_cache_request(c, ID_D), -1); /* full */
	cr_assert_eq(container_cache_request(c, "zzz"), -1);
	container_cache_get_stats(c, &st);
	cr_assert_eq(st.requests_queued, 3);
	cr_assert_eq(st.requests_deduped, 2);
	cr_assert_eq(st.requests_dropped, 1);
	cr_assert_eq(st.pending, 3);
	container_cache_free(c);
}

Test(container_cache, event_fd_signals_new_metadata)
{
	struct container_cache_config cfg = { 0 };
	struct container_cache *c = new_cache(&cfg);
	struct pollfd pfd = { .fd = container_cache_event_fd(c), .events = POLLIN };
	struct container_info in;
	uint64_t v;

	cr_assert_geq(pfd.fd, 0);
	cr_assert_eq(poll(&pfd, 1, 0), 0);
	fake_info(&in, ID_A, "alpha");
	container_cache_put(c, &in);
	cr_assert_eq(poll(&pfd, 1, 0), 1);
	cr_assert_eq(read(pfd.fd, &v, sizeof(v)), (ssize_t)sizeof(v));
	cr_assert_eq(poll(&pfd, 1, 0), 0);
	container_cache_free(c);
}

/* ---- cache with its thread -------------------------------------------------- */

Test(container_cache, relist_and_requests, .timeout = 20)
{
	struct container_cache_config cfg = { .relist_interval_ms = 100 };
	struct container_cache *c = new_cache(&cfg);
	struct container_cache_stats st;
	struct container_info out;
	unsigned gets;

	cr_assert_eq(container_cache_start(c), 0);
	cr_assert(wait_lookup(c, ID_B, CONTAINER_LOOKUP_HIT, 2000));
	cr_assert_eq(container_cache_lookup(c, ID_A, &out), CONTAINER_LOOKUP_HIT);
	cr_assert_str_eq(out.name, "alpha");
	cr_assert_eq(container_cache_state(c), CONTAINER_CACHE_CONNECTED);

	/* a container too short-lived for any relist: found by id */
	cr_assert_eq(container_cache_lookup(c, ID_X, NULL), CONTAINER_LOOKUP_MISS);
	cr_assert_eq(container_cache_request(c, ID_X), 0);
	cr_assert(wait_lookup(c, ID_X, CONTAINER_LOOKUP_HIT, 2000));
	cr_assert_eq(container_cache_lookup(c, ID_X, &out), CONTAINER_LOOKUP_HIT);
	cr_assert_str_eq(out.name, "short-lived");

	/* unknown to the runtime: remembered, not asked again */
	cr_assert_eq(container_cache_request(c, ID_Z), 0);
	cr_assert(wait_lookup(c, ID_Z, CONTAINER_LOOKUP_UNKNOWN, 2000));
	gets = fake_count(&the_fake.gets);
	cr_assert_eq(container_cache_request(c, ID_Z), 0);
	usleep(100000);
	cr_assert_eq(fake_count(&the_fake.gets), gets);

	container_cache_get_stats(c, &st);
	cr_assert_eq(st.fetch_ok, 1);
	cr_assert_eq(st.fetch_not_found, 1);
	cr_assert_eq(st.fetch_error, 0);
	cr_assert_geq(st.relist_ok, 1);
	cr_assert_eq(st.connect_ok, 1);
	cr_assert_str_eq(st.runtime, "fake");
	cr_assert_gt(st.calls, 0);
	container_cache_free(c);
}

Test(container_cache, never_connected_is_disconnected, .timeout = 20)
{
	struct container_cache_config cfg = { .backoff_initial_ms = 10,
					       .backoff_max_ms = 40 };
	struct container_cache *c = new_cache(&cfg);
	struct container_cache_stats st;

	fake_set(true, 0);
	cr_assert_eq(container_cache_start(c), 0);
	usleep(300000);
	container_cache_get_stats(c, &st);
	cr_assert_eq(st.state, CONTAINER_CACHE_DISCONNECTED);
	cr_assert_geq(st.connect_error, 3);
	cr_assert_eq(st.connect_ok, 0);
	/* backoff doubled up to its cap: 10, 20, 40, 40, ... */
	cr_assert_eq(st.backoff_ms, 40);
	/* with a 40 ms cap, 300 ms allows at most ~9 attempts */
	cr_assert_leq(st.connect_error, 12);
	/* requests wait in the queue meanwhile */
	cr_assert_eq(container_cache_request(c, ID_X), 0);
	fake_set(false, 0);
	cr_assert(wait_lookup(c, ID_X, CONTAINER_LOOKUP_HIT, 2000));
	cr_assert(wait_state(c, CONTAINER_CACHE_CONNECTED, 1000));
	container_cache_free(c);
}

Test(container_cache, runtime_dies_then_recovers, .timeout = 20)
{
	struct container_cache_config cfg = { .relist_interval_ms = 30,
					       .backoff_initial_ms = 20,
					       .backoff_max_ms = 80 };
	struct container_cache *c = new_cache(&cfg);
	struct container_cache_stats st;
	struct container_info out;

	cr_assert_eq(container_cache_start(c), 0);
	cr_assert(wait_lookup(c, ID_A, CONTAINER_LOOKUP_HIT, 2000));

	fake_set(true, 0);
	cr_assert(wait_state(c, CONTAINER_CACHE_DEGRADED, 2000));
	/* stale data is still served */
	cr_assert_eq(container_cache_lookup(c, ID_A, &out), CONTAINER_LOOKUP_HIT);
	cr_assert_str_eq(out.name, "alpha");
	usleep(400000);
	container_cache_get_stats(c, &st);
	cr_assert_eq(st.state, CONTAINER_CACHE_DEGRADED);
	cr_assert_geq(st.relist_error, 1);
	cr_assert_geq(st.connect_error, 2);
	cr_assert_eq(st.backoff_ms, 80);

	fake_set(false, 0);
	cr_assert(wait_state(c, CONTAINER_CACHE_CONNECTED, 2000));
	container_cache_get_stats(c, &st);
	cr_assert_eq(st.backoff_ms, 0);
	cr_assert_geq(st.connect_ok, 2);
	container_cache_free(c);
}

Test(container_cache, slow_runtime_is_degraded, .timeout = 20)
{
	struct container_cache_config cfg = { .relist_interval_ms = 20,
					       .slow_call_ms = 40 };
	struct container_cache *c = new_cache(&cfg);

	fake_set(false, 100);
	cr_assert_eq(container_cache_start(c), 0);
	cr_assert(wait_lookup(c, ID_A, CONTAINER_LOOKUP_HIT, 3000));
	cr_assert(wait_state(c, CONTAINER_CACHE_DEGRADED, 2000));
	fake_set(false, 0);
	cr_assert(wait_state(c, CONTAINER_CACHE_CONNECTED, 3000));
	/* lookups never waited for the slow runtime */
	uint64_t t0 = now_ns();
	fake_set(false, 300);
	for (int i = 0; i < 100; i++)
		container_cache_lookup(c, ID_A, NULL);
	cr_assert_lt(now_ns() - t0, 100000000ull);
	container_cache_free(c);
}

Test(container_cache, gone_containers_expire, .timeout = 20)
{
	struct container_cache_config cfg = { .relist_interval_ms = 20,
					       .gone_ttl_ms = 300 };
	struct container_cache *c = new_cache(&cfg);
	struct container_cache_stats st;

	cr_assert_eq(container_cache_start(c), 0);
	cr_assert(wait_lookup(c, ID_B, CONTAINER_LOOKUP_HIT, 2000));
	pthread_mutex_lock(&the_fake.lock);
	the_fake.list_b = false;
	pthread_mutex_unlock(&the_fake.lock);
	/* still there for a while: late events of a dead container get names */
	usleep(100000);
	cr_assert_eq(container_cache_lookup(c, ID_B, NULL), CONTAINER_LOOKUP_HIT);
	cr_assert(wait_lookup(c, ID_B, CONTAINER_LOOKUP_MISS, 2000));
	cr_assert_eq(container_cache_lookup(c, ID_A, NULL), CONTAINER_LOOKUP_HIT);
	container_cache_get_stats(c, &st);
	cr_assert_geq(st.expired, 1);
	container_cache_free(c);
}

/* ---- delay queue ------------------------------------------------------------- */

#define MS 1000000ull

Test(delay_queue, resolves_in_order_and_expires)
{
	struct container_cache_config cfg = { 0 };
	struct container_cache *c = new_cache(&cfg);
	struct delay_queue *q = delay_queue_new(16, 1000 * MS);
	int ev[4] = { 0, 1, 2, 3 };
	struct container_info info, in;
	struct delay_queue_stats st;
	void *out;
	uint64_t t = 5000 * MS;

	cr_assert_eq(delay_queue_push(q, c, ID_A, &ev[0], t), 0);
	cr_assert_eq(delay_queue_push(q, c, ID_B, &ev[1], t + 1 * MS), 0);
	cr_assert_eq(delay_queue_push(q, c, ID_A, &ev[2], t + 2 * MS), 0);
	cr_assert_eq(delay_queue_push(q, c, ID_A, &ev[3], t + 3 * MS), 0);
	cr_assert_eq(delay_queue_len(q), 4);
	cr_assert_eq(delay_queue_next_deadline(q), t + 1000 * MS);
	cr_assert_eq(delay_queue_pop(q, c, t + 10 * MS, &out, &info), DELAY_NONE);
	cr_assert_null(out);

	/* metadata for A arrives: A's three events come out, in push order,
	 * ahead of B's older one which still waits */
	fake_info(&in, ID_A, "alpha");
	container_cache_put(c, &in);
	for (int k = 0; k < 3; k++) {
		cr_assert_eq(delay_queue_pop(q, c, t + 20 * MS, &out, &info), DELAY_RESOLVED);
		cr_assert_eq(out, &ev[k == 0 ? 0 : k + 1]);
		cr_assert_str_eq(info.name, "alpha");
	}
	cr_assert_eq(delay_queue_pop(q, c, t + 20 * MS, &out, &info), DELAY_NONE);
	cr_assert_eq(delay_queue_len(q), 1);

	/* B never gets metadata: out at its deadline, not before */
	cr_assert_eq(delay_queue_pop(q, c, t + 1000 * MS, &out, &info), DELAY_NONE);
	cr_assert_eq(delay_queue_pop(q, c, t + 1001 * MS, &out, &info), DELAY_EXPIRED);
	cr_assert_eq(out, &ev[1]);
	cr_assert_eq(delay_queue_len(q), 0);
	cr_assert_eq(delay_queue_next_deadline(q), 0);
	cr_assert_eq(delay_queue_pop(q, c, t + 5000 * MS, &out, &info), DELAY_NONE);

	delay_queue_get_stats(q, &st);
	cr_assert_eq(st.pushed, 4);
	cr_assert_eq(st.resolved, 3);
	cr_assert_eq(st.expired, 1);
	cr_assert_eq(st.overflow, 0);
	cr_assert_eq(st.max_len, 4);
	/* A and B were requested from the runtime when their events were
	 * held (once each); no thread runs here, so both are still pending */
	struct container_cache_stats cs;
	container_cache_get_stats(c, &cs);
	cr_assert_eq(cs.requests_queued, 2);
	cr_assert_eq(cs.pending, 2);
	delay_queue_free(q, NULL);
	container_cache_free(c);
}

Test(delay_queue, bounded)
{
	struct delay_queue *q = delay_queue_new(3, 100 * MS);
	struct delay_queue_stats st;
	int ev;

	cr_assert_null(delay_queue_new(0, MS));
	cr_assert_eq(delay_queue_push(q, NULL, ID_A, &ev, 0), 0);
	cr_assert_eq(delay_queue_push(q, NULL, ID_B, &ev, 0), 0);
	cr_assert_eq(delay_queue_push(q, NULL, ID_C, &ev, 0), 0);
	cr_assert_eq(delay_queue_push(q, NULL, ID_D, &ev, 0), -1);
	cr_assert_eq(delay_queue_push(q, NULL, "short", &ev, 0), -1);
	delay_queue_get_stats(q, &st);
	cr_assert_eq(st.overflow, 2);
	cr_assert_eq(st.len, 3);
	delay_queue_free(q, NULL);
}

/* A hole left by an event resolved out of order is reused once the ring is
 * full, and the survivors keep their order. */
Test(delay_queue, holes_compact)
{
	struct container_cache_config cfg = { 0 };
	struct container_cache *c = new_cache(&cfg);
	struct delay_queue *q = delay_queue_new(4, 100 * MS);
	int ev[5];
	struct container_info in;
	void *out;

	cr_assert_eq(delay_queue_push(q, c, ID_A, &ev[0], 0), 0);
	cr_assert_eq(delay_queue_push(q, c, ID_B, &ev[1], 1), 0);
	cr_assert_eq(delay_queue_push(q, c, ID_C, &ev[2], 2), 0);
	cr_assert_eq(delay_queue_push(q, c, ID_D, &ev[3], 3), 0);
	fake_info(&in, ID_C, "gamma");
	container_cache_put(c, &in);
	cr_assert_eq(delay_queue_pop(q, c, 10, &out, NULL), DELAY_RESOLVED);
	cr_assert_eq(out, &ev[2]);
	cr_assert_eq(delay_queue_push(q, c, ID_E, &ev[4], 10), 0);
	cr_assert_eq(delay_queue_len(q), 4);

	const int order[] = { 0, 1, 3, 4 };
	for (int k = 0; k < 4; k++) {
		cr_assert_eq(delay_queue_pop(q, c, 200 * MS, &out, NULL), DELAY_EXPIRED);
		cr_assert_eq(out, &ev[order[k]], "position %d", k);
	}
	delay_queue_free(q, NULL);
	container_cache_free(c);
}

static int released;

static void count_release(void *event)
{
	(void)event;
	released++;
}

Test(delay_queue, free_releases_held_events)
{
	struct delay_queue *q = delay_queue_new(8, MS);
	int ev;

	released = 0;
	delay_queue_push(q, NULL, ID_A, &ev, 0);
	delay_queue_push(q, NULL, ID_B, &ev, 0);
	delay_queue_free(q, count_release);
	cr_assert_eq(released, 2);
}

/* End to end with the cache thread: one event waits for a container the
 * runtime answers for, another for one it does not know. */
Test(delay_queue, with_cache_thread, .timeout = 20)
{
	struct container_cache_config cfg = { .relist_interval_ms = 60000 };
	struct container_cache *c = new_cache(&cfg);
	struct delay_queue *q = delay_queue_new(8, 5000 * MS);
	struct container_info info;
	int ev_x, ev_z;
	void *out;
	bool got_x = false, got_z = false;

	cr_assert_eq(container_cache_start(c), 0);
	cr_assert(wait_state(c, CONTAINER_CACHE_CONNECTED, 2000));
	cr_assert_eq(delay_queue_push(q, c, ID_X, &ev_x, now_ns()), 0);
	cr_assert_eq(delay_queue_push(q, c, ID_Z, &ev_z, now_ns()), 0);
	for (int i = 0; i < 400 && !(got_x && got_z); i++) {
		enum delay_result r = delay_queue_pop(q, c, now_ns(), &out, &info);

		if (r == DELAY_RESOLVED) {
			cr_assert_eq(out, &ev_x);
			cr_assert_str_eq(info.name, "short-lived");
			got_x = true;
		} else if (r == DELAY_UNKNOWN) {
			cr_assert_eq(out, &ev_z);
			got_z = true;
		} else {
			cr_assert_eq(r, DELAY_NONE);
			usleep(5000);
		}
	}
	cr_assert(got_x && got_z, "x %d z %d", got_x, got_z);
	delay_queue_free(q, NULL);
	container_cache_free(c);
}
