/* pipeline.c - see pipeline.h. */
#include "pipeline.h"

#include <pthread.h>
#include <stdatomic.h>
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

struct pipeline {
	struct pipeline_config cfg;
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
};

void pipeline_config_defaults(struct pipeline_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->print_mask = EVENT_MASK_ALL;
	cfg->proc_cache_entries = 65536;
	cfg->exit_retention_ns = 5ull * 1000000000ull;
}

struct pipeline *pipeline_new(const struct pipeline_config *cfg)
{
	struct pipeline *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->cfg = *cfg;
	p->cache = proc_cache_new(cfg->proc_cache_entries, cfg->exit_retention_ns);
	if (!p->cache) {
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

void pipeline_handle_event(const struct event *ev, void *ctx)
{
	struct pipeline *p = ctx;
	const struct process *ancestors[EVENT_JSON_MAX_ANCESTORS + 1];
	const struct process *proc;
	struct process current;
	struct event_view view;
	bool print, evaluate;
	size_t n;

	if ((unsigned)ev->type >= EVENT_TYPE_COUNT)
		return;
	atomic_fetch_add_explicit(&p->events[ev->type], 1, memory_order_relaxed);
	proc = enrich(p, ev);

	print = p->cfg.outputs && (p->cfg.print_mask & EVENT_MASK(ev->type)) &&
		(ev->source == EVENT_SOURCE_RUNTIME || p->cfg.print_snapshot);
	/* Snapshot events describe the past: rules see live activity only. */
	evaluate = p->rules && ev->source == EVENT_SOURCE_RUNTIME &&
		   (rules_event_mask(p->rules) & EVENT_MASK(ev->type));
	if (print || evaluate) {
		if (proc != &ev->process) {
			/* The cache knows what the process runs; the event
			 * knows its state now (credentials change with setuid
			 * and capset). */
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
		};
		if (evaluate)
			rules_eval(p->rules, &view, &p->json, emit_alert, p);
		if (print) {
			json_reset(&p->json);
			event_json_write(&p->json, &view);
			emit_line(p, &p->json, OUTPUT_EVENT);
		}
	}
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
	proc_cache_expire(p->cache, clock_boot_now());
	proc_cache_get_stats(p->cache, &st);
	pthread_mutex_lock(&p->stats_lock);
	p->cache_stats = st;
	pthread_mutex_unlock(&p->stats_lock);
}

void pipeline_get_stats(struct pipeline *p, struct pipeline_stats *out)
{
	for (int t = 0; t < EVENT_TYPE_COUNT; t++)
		out->events[t] = atomic_load(&p->events[t]);
	out->printed = atomic_load(&p->printed);
	out->alerts = atomic_load(&p->alerts);
	out->output_refused = atomic_load(&p->output_refused);
	out->serialize_errors = atomic_load(&p->serialize_errors);
	pthread_mutex_lock(&p->stats_lock);
	out->cache = p->cache_stats;
	pthread_mutex_unlock(&p->stats_lock);
}
