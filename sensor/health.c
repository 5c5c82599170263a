/* health.c - loop heartbeats and component states; see health.h.
 *
 * Loop slots are filled once and never move or get reused, and the slot
 * count is published with release ordering after a slot is complete, so
 * health_beat() can scan the table without taking the lock. Components
 * change rarely and carry strings, so they live under the mutex. */
#include "health.h"
#include "log.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct loop {
	char name[HEALTH_NAME_LEN];
	_Atomic uint64_t last_beat_ns;
	_Atomic uint64_t deadline_ms;
	_Atomic bool stopped;
};

struct component {
	char name[HEALTH_NAME_LEN];
	bool required;
	enum health_state state;
	char detail[HEALTH_DETAIL_LEN];
	uint64_t since_ns; /* when the state last changed */
};

struct health {
	pthread_mutex_t lock;
	uint64_t default_deadline_ms;
	struct loop loops[HEALTH_MAX_LOOPS];
	_Atomic size_t nloops;
	struct component components[HEALTH_MAX_COMPONENTS];
	size_t ncomponents;
};

static const char *const state_names[] = {
	[HEALTH_STARTING] = "starting",
	[HEALTH_OK] = "ok",
	[HEALTH_DEGRADED] = "degraded",
	[HEALTH_DOWN] = "down",
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static bool valid_name(const char *name)
{
	return name && name[0] && strlen(name) < HEALTH_NAME_LEN;
}

const char *health_state_name(enum health_state state)
{
	if ((unsigned)state >= sizeof(state_names) / sizeof(state_names[0]))
		return "unknown";
	return state_names[state];
}

struct health *health_new(uint64_t default_deadline_ms)
{
	struct health *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	if (pthread_mutex_init(&h->lock, NULL) != 0) {
		free(h);
		return NULL;
	}
	h->default_deadline_ms = default_deadline_ms ? default_deadline_ms
						     : HEALTH_DEFAULT_DEADLINE_MS;
	atomic_init(&h->nloops, 0);
	return h;
}

void health_free(struct health *h)
{
	if (!h)
		return;
	pthread_mutex_destroy(&h->lock);
	free(h);
}

static struct loop *find_loop(struct health *h, const char *name)
{
	size_t n = atomic_load_explicit(&h->nloops, memory_order_acquire);
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(h->loops[i].name, name) == 0)
			return &h->loops[i];
	return NULL;
}

/* Called with h->lock held. */
static struct loop *add_loop(struct health *h, const char *name,
			     uint64_t deadline_ms)
{
	size_t n = atomic_load_explicit(&h->nloops, memory_order_relaxed);
	struct loop *l;

	if (n == HEALTH_MAX_LOOPS)
		return NULL;
	l = &h->loops[n];
	snprintf(l->name, sizeof(l->name), "%s", name);
	atomic_store_explicit(&l->last_beat_ns, now_ns(), memory_order_relaxed);
	atomic_store_explicit(&l->deadline_ms, deadline_ms,
			      memory_order_relaxed);
	atomic_store_explicit(&l->stopped, false, memory_order_relaxed);
	atomic_store_explicit(&h->nloops, n + 1, memory_order_release);
	return l;
}

int health_register_loop(struct health *h, const char *loop_name,
			 uint64_t deadline_ms)
{
	struct loop *l;

	if (!h || !valid_name(loop_name)) {
		log_error("health: invalid loop name (1 to %d bytes)",
			  HEALTH_NAME_LEN - 1);
		return -1;
	}
	if (deadline_ms == 0)
		deadline_ms = h->default_deadline_ms;
	pthread_mutex_lock(&h->lock);
	l = find_loop(h, loop_name);
	if (l) {
		atomic_store_explicit(&l->deadline_ms, deadline_ms,
				      memory_order_relaxed);
		atomic_store_explicit(&l->last_beat_ns, now_ns(),
				      memory_order_relaxed);
		atomic_store_explicit(&l->stopped, false, memory_order_relaxed);
	} else {
		l = add_loop(h, loop_name, deadline_ms);
	}
	pthread_mutex_unlock(&h->lock);
	if (!l) {
		log_error("health: more than %d loops, '%s' not watched",
			  HEALTH_MAX_LOOPS, loop_name);
		return -1;
	}
	return 0;
}

void health_beat(struct health *h, const char *loop_name)
{
	struct loop *l;

	if (!h || !loop_name)
		return;
	l = find_loop(h, loop_name);
	if (!l) {
		/* First beat of a loop nobody registered: watch it with the
		 * default deadline rather than ignore it. */
		if (health_register_loop(h, loop_name, 0) != 0)
			return;
		l = find_loop(h, loop_name);
		if (!l)
			return;
	}
	atomic_store_explicit(&l->last_beat_ns, now_ns(), memory_order_relaxed);
	if (atomic_load_explicit(&l->stopped, memory_order_relaxed))
		atomic_store_explicit(&l->stopped, false, memory_order_relaxed);
}

void health_loop_stop(struct health *h, const char *loop_name)
{
	struct loop *l;

	if (!h || !loop_name)
		return;
	l = find_loop(h, loop_name);
	if (l)
		atomic_store_explicit(&l->stopped, true, memory_order_relaxed);
}

/* Called with h->lock held. */
static struct component *find_component(struct health *h, const char *name)
{
	size_t i;

	for (i = 0; i < h->ncomponents; i++)
		if (strcmp(h->components[i].name, name) == 0)
			return &h->components[i];
	return NULL;
}

/* Called with h->lock held. */
static struct component *get_component(struct health *h, const char *name)
{
	struct component *c = find_component(h, name);

	if (c)
		return c;
	if (h->ncomponents == HEALTH_MAX_COMPONENTS) {
		log_error("health: more than %d components, '%s' not tracked",
			  HEALTH_MAX_COMPONENTS, name);
		return NULL;
	}
	c = &h->components[h->ncomponents++];
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->state = HEALTH_STARTING;
	c->since_ns = now_ns();
	return c;
}

int health_register(struct health *h, const char *component, bool required)
{
	struct component *c;

	if (!h || !valid_name(component)) {
		log_error("health: invalid component name (1 to %d bytes)",
			  HEALTH_NAME_LEN - 1);
		return -1;
	}
	pthread_mutex_lock(&h->lock);
	c = get_component(h, component);
	if (c)
		c->required = required;
	pthread_mutex_unlock(&h->lock);
	return c ? 0 : -1;
}

int health_set(struct health *h, const char *component,
	       enum health_state state, const char *detail)
{
	struct component *c;

	if (!h || !valid_name(component)) {
		log_error("health: invalid component name (1 to %d bytes)",
			  HEALTH_NAME_LEN - 1);
		return -1;
	}
	if ((unsigned)state > HEALTH_DOWN) {
		log_error("health: invalid state %d for '%s'", (int)state,
			  component);
		return -1;
	}
	pthread_mutex_lock(&h->lock);
	c = get_component(h, component);
	if (c) {
		if (c->state != state) {
			c->since_ns = now_ns();
			log_info("health: %s is now %s%s%s", component,
				 state_names[state], detail ? ": " : "",
				 detail ? detail : "");
		}
		c->state = state;
		snprintf(c->detail, sizeof(c->detail), "%s",
			 detail ? detail : "");
	}
	pthread_mutex_unlock(&h->lock);
	return c ? 0 : -1;
}

int health_get(struct health *h, const char *component)
{
	struct component *c;
	int state = -1;

	if (!h || !component)
		return -1;
	pthread_mutex_lock(&h->lock);
	c = find_component(h, component);
	if (c)
		state = (int)c->state;
	pthread_mutex_unlock(&h->lock);
	return state;
}

static uint64_t loop_age_ms(struct loop *l, uint64_t now)
{
	uint64_t last = atomic_load_explicit(&l->last_beat_ns,
					     memory_order_relaxed);

	return now > last ? (now - last) / 1000000ull : 0;
}

static bool loop_ok(struct loop *l, uint64_t now)
{
	if (atomic_load_explicit(&l->stopped, memory_order_relaxed))
		return true;
	return loop_age_ms(l, now) <= atomic_load_explicit(
					     &l->deadline_ms,
					     memory_order_relaxed);
}

bool health_live(struct health *h)
{
	size_t n, i;
	uint64_t now = now_ns();

	if (!h)
		return false;
	n = atomic_load_explicit(&h->nloops, memory_order_acquire);
	for (i = 0; i < n; i++)
		if (!loop_ok(&h->loops[i], now))
			return false;
	return true;
}

/* Called with h->lock held. */
static bool components_ready(struct health *h)
{
	size_t i;

	for (i = 0; i < h->ncomponents; i++)
		if (h->components[i].required &&
		    h->components[i].state != HEALTH_OK)
			return false;
	return true;
}

bool health_ready(struct health *h)
{
	bool ready;

	if (!h || !health_live(h))
		return false;
	pthread_mutex_lock(&h->lock);
	ready = components_ready(h);
	pthread_mutex_unlock(&h->lock);
	return ready;
}

/* Adds the loops array to obj; returns false if a loop missed its deadline
 * and appends a sentence per late loop to problems. */
static bool add_loops(struct health *h, cJSON *obj, cJSON *problems)
{
	size_t n = atomic_load_explicit(&h->nloops, memory_order_acquire);
	cJSON *arr = cJSON_AddArrayToObject(obj, "loops");
	uint64_t now = now_ns();
	bool live = true;
	size_t i;

	for (i = 0; i < n && arr; i++) {
		struct loop *l = &h->loops[i];
		cJSON *item = cJSON_CreateObject();
		uint64_t age = loop_age_ms(l, now);
		uint64_t deadline = atomic_load_explicit(&l->deadline_ms,
							 memory_order_relaxed);
		bool stopped = atomic_load_explicit(&l->stopped,
						    memory_order_relaxed);
		bool ok = loop_ok(l, now);

		if (!item)
			break;
		cJSON_AddStringToObject(item, "name", l->name);
		cJSON_AddNumberToObject(item, "last_beat_ms_ago", (double)age);
		cJSON_AddNumberToObject(item, "deadline_ms", (double)deadline);
		cJSON_AddBoolToObject(item, "stopped", stopped);
		cJSON_AddBoolToObject(item, "ok", ok);
		cJSON_AddItemToArray(arr, item);
		if (!ok) {
			char msg[160];

			live = false;
			snprintf(msg, sizeof(msg),
				 "loop %s has not run for %llu ms (deadline "
				 "%llu ms)", l->name, (unsigned long long)age,
				 (unsigned long long)deadline);
			cJSON_AddItemToArray(problems, cJSON_CreateString(msg));
		}
	}
	return live;
}

static int finish_report(cJSON *obj, int status, char **body, size_t *len)
{
	char *text = cJSON_PrintUnformatted(obj);

	cJSON_Delete(obj);
	if (!text)
		return -1;
	*body = text;
	if (len)
		*len = strlen(text);
	return status;
}

int health_report_live(struct health *h, char **body, size_t *len)
{
	cJSON *obj, *problems;
	bool live;

	if (!h || !body)
		return -1;
	obj = cJSON_CreateObject();
	problems = cJSON_CreateArray();
	if (!obj || !problems) {
		cJSON_Delete(obj);
		cJSON_Delete(problems);
		return -1;
	}
	live = add_loops(h, obj, problems);
	cJSON_AddStringToObject(obj, "status", live ? "ok" : "fail");
	cJSON_AddItemToObject(obj, "problems", problems);
	return finish_report(obj, live ? 200 : 503, body, len);
}

int health_report_ready(struct health *h, char **body, size_t *len)
{
	cJSON *obj, *problems, *arr;
	bool live, ready, degraded = false;
	uint64_t now;
	size_t i;

	if (!h || !body)
		return -1;
	obj = cJSON_CreateObject();
	problems = cJSON_CreateArray();
	if (!obj || !problems) {
		cJSON_Delete(obj);
		cJSON_Delete(problems);
		return -1;
	}
	/* A stuck loop means events are not being handled: not ready either. */
	live = add_loops(h, obj, problems);
	arr = cJSON_AddArrayToObject(obj, "components");

	pthread_mutex_lock(&h->lock);
	/* Read the clock under the lock: no since_ns can be newer. */
	now = now_ns();
	ready = live && components_ready(h);
	for (i = 0; i < h->ncomponents && arr; i++) {
		const struct component *c = &h->components[i];
		cJSON *item = cJSON_CreateObject();

		if (!item)
			break;
		cJSON_AddStringToObject(item, "name", c->name);
		cJSON_AddBoolToObject(item, "required", c->required);
		cJSON_AddStringToObject(item, "state", state_names[c->state]);
		cJSON_AddStringToObject(item, "detail", c->detail);
		cJSON_AddNumberToObject(item, "since_ms",
					(double)((now - c->since_ns) / 1000000ull));
		cJSON_AddItemToArray(arr, item);
		if (c->state == HEALTH_OK)
			continue;
		if (c->required) {
			char msg[HEALTH_NAME_LEN + HEALTH_DETAIL_LEN + 64];

			snprintf(msg, sizeof(msg), "required component %s is %s%s%s",
				 c->name, state_names[c->state],
				 c->detail[0] ? ": " : "", c->detail);
			cJSON_AddItemToArray(problems, cJSON_CreateString(msg));
		} else {
			degraded = true;
		}
	}
	pthread_mutex_unlock(&h->lock);

	cJSON_AddStringToObject(obj, "status", !ready ? "not_ready"
					       : degraded ? "degraded"
							  : "ready");
	cJSON_AddBoolToObject(obj, "live", live);
	cJSON_AddItemToObject(obj, "problems", problems);
	return finish_report(obj, ready ? 200 : 503, body, len);
}
