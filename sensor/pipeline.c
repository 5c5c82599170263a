/* pipeline.c - see pipeline.h. */
#include "pipeline.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "event_json.h"
#include "json_writer.h"
#include "log.h"
#include "output.h"
#include "proc_cache.h"
#include "rules.h"
#include "container_cache.h"
#include "container_id.h"

/* What the pipeline knows of one cgroup: the container id it names (read
 * once), and the container's metadata as of a cache generation. */
struct cgroup_slot {
	uint64_t cgroup_id;
	bool is_container;
	char id[65];
	enum container_runtime runtime;
	enum container_lookup state;
	uint64_t generation;
	struct container_info info;
};

#define CGROUP_SLOTS 256

struct pipeline {
	struct pipeline_config cfg;
	struct cgroup_slot *cgroups; /* direct-mapped by cgroup id */
	struct delay_queue *delayed;
	_Atomic uint64_t containers_unresolved; /* went out without metadata */
	struct proc_cache *cache;
	struct json_writer json;
	char hostname[256];
	_Atomic uint64_t events[EVENT_TYPE_COUNT];
	_Atomic uint64_t printed, alerts, output_refused, serialize_errors;
	struct rules *rules;                 /* used by the pipeline thread */
	struct rules *_Atomic pending_rules; /* handed over by pipeline_set_rules */
	pthread_mutex_t rules_lock;          /* rules vs readers on other threads */
	pthread_mutex_t stats_lock; /* guards cache_stats */
	struct proc_cache_stats cache_stats;
	struct delay_queue_stats delay_stats; /* guarded by stats_lock */
};

void pipeline_config_defaults(struct pipeline_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->print_mask = EVENT_MASK_ALL;
	cfg->proc_cache_entries = 65536;
	cfg->exit_retention_ns = 5ull * 1000000000ull;
	cfg->delay_capacity = 4096;
	cfg->delay_ns = 1000000000ull;
}

struct pipeline *pipeline_new(const struct pipeline_config *cfg)
{
	struct pipeline *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->cfg = *cfg;
	p->cache = proc_cache_new(cfg->proc_cache_entries, cfg->exit_retention_ns);
	p->cgroups = calloc(CGROUP_SLOTS, sizeof(*p->cgroups));
	if (cfg->containers)
		p->delayed = delay_queue_new(cfg->delay_capacity, cfg->delay_ns);
	if (!p->cache || !p->cgroups || (cfg->containers && !p->delayed)) {
		proc_cache_free(p->cache);
		free(p->cgroups);
		delay_queue_free(p->delayed, free);
		free(p);
		return NULL;
	}
	json_init(&p->json);
	pthread_mutex_init(&p->stats_lock, NULL);
	pthread_mutex_init(&p->rules_lock, NULL);
	p->rules = cfg->rules;
	proc_cache_get_stats(p->cache, &p->cache_stats);
	if (gethostname(p->hostname, sizeof(p->hostname) - 1) < 0)
		strcpy(p->hostname, "unknown");
	return p;
}

void pipeline_free(struct pipeline *p)
{
	if (!p)
		return;
	proc_cache_free(p->cache);
	delay_queue_free(p->delayed, free);
	free(p->cgroups);
	rules_free(p->rules);
	rules_free(atomic_exchange(&p->pending_rules, NULL));
	json_free(&p->json);
	pthread_mutex_destroy(&p->rules_lock);
	pthread_mutex_destroy(&p->stats_lock);
	free(p);
}

struct proc_cache *pipeline_proc_cache(struct pipeline *p)
{
	return p->cache;
}

/* Brings the cache up to date with the event and returns the process the
 * event is about, as completely as the cache knows it. */
static const struct process *enrich(struct pipeline *p, const struct event *ev)
{
	const struct process *cached = NULL;

	switch (ev->type) {
	case EVENT_EXEC:
		cached = ev->source == EVENT_SOURCE_SNAPSHOT ? proc_cache_insert(p->cache, &ev->process)
							     : proc_cache_exec(p->cache, &ev->process);
		break;
	case EVENT_FORK:
		cached = proc_cache_insert(p->cache, &ev->process);
		break;
	default:
		cached = proc_cache_lookup(p->cache, ev->process.pid);
		if (cached && !process_same_start(cached->start_ns, ev->process.start_ns))
			cached = NULL; /* a newer process reused the pid */
		break;
	}
	return cached ? cached : &ev->process;
}

/* The process a signal, ptrace or prlimit is aimed at. */
static const struct process *target_of(struct pipeline *p, const struct event *ev)
{
	int32_t pid = ev->syscall.pid;

	if (ev->type != EVENT_SIGNAL && ev->type != EVENT_PTRACE && ev->type != EVENT_SETRLIMIT)
		return NULL;
	if (!(ev->syscall.present & SYSCALL_HAS_PID) || pid <= 0)
		return NULL;
	return proc_cache_lookup(p->cache, (uint32_t)pid);
}

static void emit_line(struct pipeline *p, struct json_writer *w, enum output_kind kind)
{
	if (w->oom) {
		atomic_fetch_add(&p->serialize_errors, 1);
		return;
	}
	if (output_emit(p->cfg.outputs, w->buf, w->len, kind) <= 0)
		atomic_fetch_add(&p->output_refused, 1);
	else if (kind == OUTPUT_ALERT)
		atomic_fetch_add(&p->alerts, 1);
	else
		atomic_fetch_add(&p->printed, 1);
}

static void emit_alert(struct json_writer *w, void *ctx)
{
	emit_line(ctx, w, OUTPUT_ALERT);
}

/* Adopts a rule set handed over by pipeline_set_rules, between events. */
static void adopt_rules(struct pipeline *p)
{
	struct rules *next = atomic_exchange(&p->pending_rules, NULL);

	if (!next)
		return;
	pthread_mutex_lock(&p->rules_lock);
	rules_free(p->rules);
	p->rules = next;
	pthread_mutex_unlock(&p->rules_lock);
}

/* The container an event's process runs in, from the cgroup name the
 * kernel reported; NULL for host processes. */
static struct cgroup_slot *cgroup_of(struct pipeline *p, const struct process *proc)
{
	struct cgroup_slot *slot = &p->cgroups[proc->cgroup_id % CGROUP_SLOTS];
	char path[sizeof(proc->cgroup_name) + 1];

	if (proc->cgroup_id == 0 || !proc->cgroup_name[0])
		return NULL;
	if (slot->cgroup_id != proc->cgroup_id) {
		memset(slot, 0, sizeof(*slot));
		slot->cgroup_id = proc->cgroup_id;
		snprintf(path, sizeof(path), "/%s", proc->cgroup_name);
		slot->is_container = container_id_from_cgroup(path, strlen(path), slot->id, &slot->runtime) == 0;
		slot->state = CONTAINER_LOOKUP_MISS;
	}
	return slot->is_container ? slot : NULL;
}

/* Refreshes a slot's metadata when the container cache has news. */
static void refresh_metadata(struct pipeline *p, struct cgroup_slot *slot)
{
	uint64_t gen;

	if (!p->cfg.containers)
		return;
	gen = container_cache_generation(p->cfg.containers);
	if (slot->state != CONTAINER_LOOKUP_MISS && slot->generation == gen)
		return;
	slot->state = container_cache_lookup(p->cfg.containers, slot->id, &slot->info);
	slot->generation = gen;
}

static void fill_container_view(struct container_view *cv, const struct cgroup_slot *slot)
{
	const struct container_info *i = &slot->info;
	bool ok = slot->state == CONTAINER_LOOKUP_HIT;

	*cv = (struct container_view){
		.id = slot->id,
		.resolved = ok,
		.runtime = ok && i->runtime[0] ? i->runtime : container_runtime_name(slot->runtime),
	};
	if (!ok)
		return;
	cv->name = i->name;
	cv->image_name = i->image_name;
	cv->image_tag = i->image_tag;
	cv->image_digest = i->image_digest;
	cv->pod_name = i->pod_name;
	cv->pod_namespace = i->pod_namespace;
	cv->pod_uid = i->pod_uid;
	cv->created_at_ns = i->created_at_ns;
}

/* An open no rule matched, of a file the kernel named: if no rule could
 * match any open of that path, the kernel can drop the next ones itself. */
static void offer_discarder(struct pipeline *p, const struct event *ev)
{
	const struct syscall_data *sc = &ev->syscall;

	if (ev->type != EVENT_OPEN || !p->cfg.discard || sc->retval < 0 || !sc->file.path ||
	    sc->file.source != PATH_FROM_FILE || sc->file.path_truncated)
		return;
	if (rules_open_discardable(p->rules, sc->file.path))
		p->cfg.discard(p->cfg.discard_ctx, sc->file.inode, sc->file.mount_id, sc->revision);
}

/* Evaluate and output: what happens once the event's context is known. */
static void finish_event(struct pipeline *p, const struct event *ev, const struct container_view *cv)
{
	const struct process *ancestors[EVENT_JSON_MAX_ANCESTORS + 1];
	const struct process *proc;
	struct process current;
	struct event_view view;
	bool print, evaluate;
	size_t n;

	print = p->cfg.outputs && (p->cfg.print_mask & EVENT_MASK(ev->type)) &&
		(ev->source == EVENT_SOURCE_RUNTIME || p->cfg.print_snapshot);
	/* Snapshot events describe the past: rules see live activity only. */
	evaluate = p->rules && ev->source == EVENT_SOURCE_RUNTIME &&
		   (rules_event_mask(p->rules) & EVENT_MASK(ev->type));
	if (!print && !evaluate)
		return;
	proc = proc_cache_lookup(p->cache, ev->process.pid);
	if (!proc || !process_same_start(proc->start_ns, ev->process.start_ns)) {
		proc = &ev->process;
	} else {
		/* The cache knows what the process runs; the event knows its
		 * state now (credentials change with setuid and capset). */
		current = *proc;
		current.cred = ev->process.cred;
		current.tid = ev->process.tid;
		memcpy(current.comm, ev->process.comm, sizeof(current.comm));
		if (ev->type == EVENT_EXIT)
			current.exit_ns = ev->timestamp_ns;
		proc = &current;
	}
	n = proc_cache_ancestors(p->cache, proc, ancestors, EVENT_JSON_MAX_ANCESTORS + 1);
	view = (struct event_view){
		.event = ev,
		.process = proc,
		.ancestors = ancestors,
		.n_ancestors = n > EVENT_JSON_MAX_ANCESTORS ? EVENT_JSON_MAX_ANCESTORS : n,
		.ancestors_truncated = n > EVENT_JSON_MAX_ANCESTORS,
		.hostname = p->hostname,
		.target = target_of(p, ev),
		.container = cv,
	};
	if (evaluate && rules_eval(p->rules, &view, &p->json, emit_alert, p) == 0)
		offer_discarder(p, ev);
	if (print) {
		json_reset(&p->json);
		event_json_write(&p->json, &view);
		emit_line(p, &p->json, OUTPUT_EVENT);
	}
}

/* Sends on held events whose container metadata arrived or whose wait is
 * over; those still without metadata go out with the container id only. */
static void release_delayed(struct pipeline *p)
{
	struct container_info info;
	enum delay_result r;
	void *held;

	if (!p->delayed)
		return;
	while ((r = delay_queue_pop(p->delayed, p->cfg.containers, clock_boot_now(), &held, &info)) != DELAY_NONE) {
		struct event *ev = held;
		struct cgroup_slot *slot = cgroup_of(p, &ev->process);
		struct container_view cv;

		if (slot) {
			if (r == DELAY_RESOLVED) {
				slot->info = info;
				slot->state = CONTAINER_LOOKUP_HIT;
			} else if (r == DELAY_UNKNOWN) {
				slot->state = CONTAINER_LOOKUP_UNKNOWN;
			}
			if (r != DELAY_RESOLVED)
				atomic_fetch_add(&p->containers_unresolved, 1);
			fill_container_view(&cv, slot);
		}
		finish_event(p, ev, slot ? &cv : NULL);
		free(ev);
	}
}

void pipeline_handle_event(const struct event *ev, void *ctx)
{
	struct pipeline *p = ctx;
	struct cgroup_slot *slot;
	struct container_view cv;

	if ((unsigned)ev->type >= EVENT_TYPE_COUNT)
		return;
	atomic_fetch_add_explicit(&p->events[ev->type], 1, memory_order_relaxed);
	enrich(p, ev);
	release_delayed(p);

	slot = cgroup_of(p, &ev->process);
	if (slot) {
		refresh_metadata(p, slot);
		/* A container the runtime has not described yet: hold the
		 * event (about a second) rather than send it half-known. */
		if (slot->state == CONTAINER_LOOKUP_MISS && p->delayed && ev->source == EVENT_SOURCE_RUNTIME &&
		    (p->rules || (p->cfg.print_mask & EVENT_MASK(ev->type)))) {
			struct event *copy = event_clone(ev);

			if (copy && delay_queue_push(p->delayed, p->cfg.containers, slot->id, copy,
						     clock_boot_now()) == 0)
				goto out;
			free(copy);
			atomic_fetch_add(&p->containers_unresolved, 1);
		}
		fill_container_view(&cv, slot);
	}
	finish_event(p, ev, slot ? &cv : NULL);
out:
	if (ev->type == EVENT_EXIT)
		proc_cache_exit(p->cache, ev->process.pid, ev->process.start_ns, ev->timestamp_ns);
}

void pipeline_set_rules(struct pipeline *p, struct rules *rules)
{
	rules_free(atomic_exchange(&p->pending_rules, rules));
}

char *pipeline_rules_json(struct pipeline *p)
{
	char *out;

	pthread_mutex_lock(&p->rules_lock);
	out = rules_json(p->rules);
	pthread_mutex_unlock(&p->rules_lock);
	return out;
}

void pipeline_batch_end(void *ctx)
{
	struct pipeline *p = ctx;
	struct proc_cache_stats st;

	adopt_rules(p);
	release_delayed(p);
	proc_cache_expire(p->cache, clock_boot_now());
	proc_cache_get_stats(p->cache, &st);
	pthread_mutex_lock(&p->stats_lock);
	p->cache_stats = st;
	if (p->delayed)
		delay_queue_get_stats(p->delayed, &p->delay_stats);
	pthread_mutex_unlock(&p->stats_lock);
}

void pipeline_get_stats(struct pipeline *p, struct pipeline_stats *out)
{
	for (int t = 0; t < EVENT_TYPE_COUNT; t++)
		out->events[t] = atomic_load(&p->events[t]);
	out->printed = atomic_load(&p->printed);
	out->alerts = atomic_load(&p->alerts);
	out->containers_unresolved = atomic_load(&p->containers_unresolved);
	out->output_refused = atomic_load(&p->output_refused);
	out->serialize_errors = atomic_load(&p->serialize_errors);
	pthread_mutex_lock(&p->stats_lock);
	out->cache = p->cache_stats;
	out->delayed = p->delay_stats.pushed;
	out->delay_expired = p->delay_stats.expired;
	out->delay_overflow = p->delay_stats.overflow;
	out->delay_len = p->delay_stats.len;
	pthread_mutex_unlock(&p->stats_lock);
}
