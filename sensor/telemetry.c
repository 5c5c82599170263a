/* telemetry.c - see telemetry.h. */
#include "telemetry.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "container_cache.h"
#include "event.h"
#include "metrics.h"
#include "output.h"
#include "pipeline.h"
#include "probe.h"
#include "version.h"

/* One scrape reads several series; the stages are asked once per scrape. */
struct snapshot {
	struct probe_stats probe;
	struct pipeline_stats pipeline;
	struct output_stats outputs[OUTPUT_MAX_SINKS];
	size_t n_outputs;
	struct container_cache_stats cri;
};

struct series;

typedef double (*read_fn)(const struct snapshot *s, int arg);

struct series {
	struct telemetry *t;
	read_fn read;
	int arg;
	bool is_counter;
	const char *help; /* a string literal */
	char name[64];
	char labels[96];
};

#define MAX_SERIES 256

struct telemetry {
	struct metrics *metrics;
	struct probe *probe;
	struct pipeline *pipeline;
	struct outputs *outputs;
	struct container_cache *containers;
	pthread_mutex_t lock;
	uint64_t taken_ns;
	struct snapshot snap;
	struct series series[MAX_SERIES];
	size_t n_series;
};

static void refresh(struct telemetry *t)
{
	uint64_t now = clock_boot_now();

	/* Series of one scrape are read within microseconds of each other. */
	if (now - t->taken_ns < 100000000ull)
		return;
	probe_get_stats(t->probe, &t->snap.probe);
	pipeline_get_stats(t->pipeline, &t->snap.pipeline);
	t->snap.n_outputs = output_get_stats(t->outputs, t->snap.outputs, OUTPUT_MAX_SINKS);
	if (t->containers)
		container_cache_get_stats(t->containers, &t->snap.cri);
	t->taken_ns = now;
}

static double read_series(struct series *se)
{
	double v;

	pthread_mutex_lock(&se->t->lock);
	refresh(se->t);
	v = se->read(&se->t->snap, se->arg);
	pthread_mutex_unlock(&se->t->lock);
	return v;
}

static uint64_t counter_cb(void *ctx)
{
	return (uint64_t)read_series(ctx);
}

static double gauge_cb(void *ctx)
{
	return read_series(ctx);
}

static void add(struct telemetry *t, bool counter, const char *name, const char *help,
		const char *labels, read_fn read, int arg)
{
	struct series *se;
	int r;

	if (t->n_series == MAX_SERIES)
		return;
	se = &t->series[t->n_series];
	*se = (struct series){ .t = t, .read = read, .arg = arg, .is_counter = counter, .help = help };
	snprintf(se->name, sizeof(se->name), "%s", name);
	snprintf(se->labels, sizeof(se->labels), "%s", labels ? labels : "");
	r = counter ? metrics_counter_fn(t->metrics, name, help, labels, counter_cb, se)
		    : metrics_gauge_fn(t->metrics, name, help, labels, gauge_cb, se);
	if (r == 0)
		t->n_series++;
}

static double received(const struct snapshot *s, int type) { return (double)s->probe.received[type]; }
static double kernel_sent(const struct snapshot *s, int type) { return (double)s->probe.kernel_sent[type]; }
static double kernel_lost(const struct snapshot *s, int type) { return (double)s->probe.kernel_dropped[type]; }
static double kernel_filtered(const struct snapshot *s, int type) { return (double)s->probe.kernel_filtered[type]; }
static double kernel_discarded(const struct snapshot *s, int type) { return (double)s->probe.kernel_discarded[type]; }
static double discarders_added(const struct snapshot *s, int arg) { (void)arg; return (double)s->probe.discarders_added; }
static double alerts(const struct snapshot *s, int arg) { (void)arg; return (double)s->pipeline.alerts; }
static double serialize_lost(const struct snapshot *s, int arg) { (void)arg; return (double)s->pipeline.serialize_errors; }
static double unresolved(const struct snapshot *s, int arg) { (void)arg; return (double)s->pipeline.containers_unresolved; }
static double malformed(const struct snapshot *s, int arg) { (void)arg; return (double)s->probe.decode_errors; }
static double printed(const struct snapshot *s, int arg) { (void)arg; return (double)s->pipeline.printed; }

static double ringbuf_fill(const struct snapshot *s, int arg)
{
	(void)arg;
	return s->probe.ringbuf_size ? (double)s->probe.ringbuf_pending / (double)s->probe.ringbuf_size : 0;
}

static double ringbuf_size(const struct snapshot *s, int arg) { (void)arg; return (double)s->probe.ringbuf_size; }
static double snapshot_procs(const struct snapshot *s, int arg) { (void)arg; return (double)s->probe.snapshot_processes; }
static double cache_entries(const struct snapshot *s, int arg) { (void)arg; return (double)s->pipeline.cache.entries; }
static double cache_hits(const struct snapshot *s, int arg) { (void)arg; return (double)s->pipeline.cache.hits; }
static double cache_misses(const struct snapshot *s, int arg) { (void)arg; return (double)s->pipeline.cache.misses; }
static double cache_bytes(const struct snapshot *s, int arg) { (void)arg; return (double)s->pipeline.cache.bytes; }

static double cache_evictions(const struct snapshot *s, int full)
{
	return (double)(full ? s->pipeline.cache.evictions_full : s->pipeline.cache.evictions_expired);
}

static const struct output_stats *output_at(const struct snapshot *s, int i)
{
	return (size_t)i < s->n_outputs ? &s->outputs[i] : NULL;
}

static double output_sent(const struct snapshot *s, int i)
{
	const struct output_stats *o = output_at(s, i);

	return o ? (double)o->sent : 0;
}

static double output_dropped(const struct snapshot *s, int i)
{
	const struct output_stats *o = output_at(s, i);

	return o ? (double)(o->dropped_queue_full + o->failed) : 0;
}

static double output_queued(const struct snapshot *s, int i)
{
	const struct output_stats *o = output_at(s, i);

	return o ? (double)o->queued : 0;
}

enum cri_series { CRI_OK, CRI_NOT_FOUND, CRI_ERROR, CRI_STATE, CRI_LATENCY_SUM, CRI_CALLS, CRI_ENTRIES,
		  QUEUE_EXPIRED, QUEUE_HELD, QUEUE_OVERFLOW, QUEUE_LEN };

static double cri(const struct snapshot *s, int which)
{
	const struct container_cache_stats *c = &s->cri;

	switch ((enum cri_series)which) {
	case CRI_OK: return (double)(c->fetch_ok + c->relist_ok);
	case CRI_NOT_FOUND: return (double)c->fetch_not_found;
	case CRI_ERROR: return (double)(c->fetch_error + c->relist_error + c->connect_error);
	case CRI_STATE: return (double)c->state;
	case CRI_LATENCY_SUM: return (double)c->call_latency_total_us / 1e6;
	case CRI_CALLS: return (double)c->calls;
	case CRI_ENTRIES: return (double)c->entries;
	case QUEUE_EXPIRED: return (double)s->pipeline.delay_expired;
	case QUEUE_HELD: return (double)s->pipeline.delayed;
	case QUEUE_OVERFLOW: return (double)s->pipeline.delay_overflow;
	case QUEUE_LEN: return (double)s->pipeline.delay_len;
	}
	return 0;
}

static double one(const struct snapshot *s, int arg)
{
	(void)s;
	(void)arg;
	return 1;
}

struct telemetry *telemetry_new(struct metrics *m, struct probe *probe, struct pipeline *pipeline,
				struct outputs *outputs, struct container_cache *containers)
{
	struct telemetry *t = calloc(1, sizeof(*t));
	struct output_stats os[OUTPUT_MAX_SINKS];
	char labels[96];
	size_t n;

	if (!t)
		return NULL;
	t->metrics = m;
	t->probe = probe;
	t->pipeline = pipeline;
	t->outputs = outputs;
	pthread_mutex_init(&t->lock, NULL);

	snprintf(labels, sizeof(labels), "version=\"%.32s\",event_abi=\"%d\"", VIGIL_VERSION, VIGIL_EVENT_ABI);
	add(t, false, "vigil_build_info", "Version of the running sensor.", labels, one, 0);
	for (int type = 1; type < EVENT_TYPE_COUNT; type++) {
		snprintf(labels, sizeof(labels), "type=\"%s\"", event_type_name((enum event_type)type));
		add(t, true, "vigil_events_total", "Events delivered to user space, by type.", labels,
		    received, type);
		add(t, true, "vigil_kernel_events_total", "Records the kernel side submitted, by type.",
		    labels, kernel_sent, type);
		snprintf(labels, sizeof(labels), "reason=\"approver\",type=\"%s\"",
			 event_type_name((enum event_type)type));
		add(t, true, "vigil_kernel_filtered_total",
		    "Events decided in the kernel (no rule could match), by type and reason.", labels,
		    kernel_filtered, type);
		snprintf(labels, sizeof(labels), "reason=\"discarder\",type=\"%s\"",
			 event_type_name((enum event_type)type));
		add(t, true, "vigil_kernel_filtered_total",
		    "Events decided in the kernel (no rule could match), by type and reason.", labels,
		    kernel_discarded, type);
		snprintf(labels, sizeof(labels), "where=\"ringbuf\",type=\"%s\"",
			 event_type_name((enum event_type)type));
		add(t, true, "vigil_events_lost_total",
		    "Events lost, by where (ringbuf: kernel ring buffer full; output: a sink's queue).",
		    labels, kernel_lost, type);
	}
	add(t, true, "vigil_events_malformed_total", "Records or recorded lines rejected by the decoder.",
	    NULL, malformed, 0);
	add(t, true, "vigil_discarders_added_total", "Files proved unmatchable and handed to the kernel.",
	    NULL, discarders_added, 0);
	add(t, true, "vigil_alerts_total", "Alerts sent to the outputs.", NULL, alerts, 0);
	add(t, true, "vigil_events_lost_total",
	    "Events lost, by where (ringbuf: kernel ring buffer full; output: a sink's queue).",
	    "where=\"serialize\"", serialize_lost, 0);
	add(t, true, "vigil_container_metadata_missing_total",
	    "Container events sent without runtime metadata (delay queue expired or runtime unknown).", NULL,
	    unresolved, 0);
	add(t, true, "vigil_events_printed_total", "Events written to the outputs as events.", NULL,
	    printed, 0);
	add(t, false, "vigil_ringbuf_fill_ratio", "Share of the ring buffer waiting to be consumed.", NULL,
	    ringbuf_fill, 0);
	add(t, false, "vigil_ringbuf_size_bytes", "Size of the kernel ring buffer.", NULL, ringbuf_size, 0);
	add(t, false, "vigil_snapshot_processes", "Processes found in /proc at start.", NULL,
	    snapshot_procs, 0);
	add(t, false, "vigil_process_cache_entries", "Processes in the process cache.", NULL,
	    cache_entries, 0);
	add(t, false, "vigil_process_cache_bytes", "Memory held by the process cache.", NULL, cache_bytes, 0);
	add(t, true, "vigil_process_cache_hits_total", "Process cache lookups that found the process.",
	    NULL, cache_hits, 0);
	add(t, true, "vigil_process_cache_misses_total", "Process cache lookups that did not.", NULL,
	    cache_misses, 0);
	add(t, true, "vigil_process_cache_evictions_total", "Entries evicted, by reason.",
	    "reason=\"expired\"", cache_evictions, 0);
	add(t, true, "vigil_process_cache_evictions_total", "Entries evicted, by reason.", "reason=\"full\"",
	    cache_evictions, 1);

	if (containers) {
		t->containers = containers;
		add(t, true, "vigil_cri_requests_total", "CRI calls by result.", "result=\"ok\"", cri, CRI_OK);
		add(t, true, "vigil_cri_requests_total", "CRI calls by result.", "result=\"not_found\"", cri,
		    CRI_NOT_FOUND);
		add(t, true, "vigil_cri_requests_total", "CRI calls by result.", "result=\"error\"", cri, CRI_ERROR);
		add(t, false, "vigil_cri_state", "CRI connection: 0 disconnected, 1 connected, 2 degraded.", NULL,
		    cri, CRI_STATE);
		add(t, true, "vigil_cri_request_seconds_total", "Time spent in CRI calls.", NULL, cri,
		    CRI_LATENCY_SUM);
		add(t, true, "vigil_cri_calls_total", "CRI calls made.", NULL, cri, CRI_CALLS);
		add(t, false, "vigil_containers_known", "Containers in the metadata cache.", NULL, cri, CRI_ENTRIES);
		add(t, true, "vigil_delay_queue_events_total", "Events held waiting for container metadata.", NULL,
		    cri, QUEUE_HELD);
		add(t, true, "vigil_delay_queue_expired_total",
		    "Held events sent on without metadata after the wait.", NULL, cri, QUEUE_EXPIRED);
		add(t, true, "vigil_events_lost_total",
		    "Events lost, by where (ringbuf: kernel ring buffer full; output: a sink's queue).",
		    "where=\"delay_queue\"", cri, QUEUE_OVERFLOW);
		add(t, false, "vigil_delay_queue_length", "Events held now.", NULL, cri, QUEUE_LEN);
	}
	n = output_get_stats(outputs, os, OUTPUT_MAX_SINKS);
	for (size_t i = 0; i < n; i++) {
		snprintf(labels, sizeof(labels), "output=\"%.16s\"", os[i].name);
		add(t, true, "vigil_output_sent_total", "Lines delivered, by output.", labels, output_sent,
		    (int)i);
		add(t, false, "vigil_output_queued", "Lines waiting in an output's queue.", labels,
		    output_queued, (int)i);
		snprintf(labels, sizeof(labels), "where=\"output\",output=\"%.16s\"", os[i].name);
		add(t, true, "vigil_events_lost_total",
		    "Events lost, by where (ringbuf: kernel ring buffer full; output: a sink's queue).",
		    labels, output_dropped, (int)i);
	}
	return t;
}

void telemetry_free(struct telemetry *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_series; i++) {
		struct series *se = &t->series[i];
		const char *labels = se->labels[0] ? se->labels : NULL;

		if (se->is_counter)
			metrics_counter_fn(t->metrics, se->name, se->help, labels, NULL, NULL);
		else
			metrics_gauge_fn(t->metrics, se->name, se->help, labels, NULL, NULL);
	}
	pthread_mutex_destroy(&t->lock);
	free(t);
}
