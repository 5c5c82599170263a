/* pipeline.h - what happens to an event after the probe decoded it:
 * enrich (process cache, ancestry) -> evaluate -> output.
 *
 * The pipeline runs on the probe's consumer thread; its callbacks have the
 * shape of struct probe_handler, so main wires the two together. */
#ifndef VIGIL_PIPELINE_H
#define VIGIL_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "proc_cache.h"

struct outputs;
struct rules;
struct container_cache;

struct pipeline_config {
	uint64_t print_mask;   /* event types written as events (vigil events) */
	bool print_snapshot;   /* also write the synthetic snapshot events */
	size_t proc_cache_entries;
	uint64_t exit_retention_ns; /* keep exited processes this long */
	struct outputs *outputs;    /* where lines go; not owned */
	struct rules *rules;        /* evaluated against every event; owned; may be NULL */
	struct container_cache *containers; /* container metadata; not owned; may be NULL */
	/* Called when an open event proves no rule can match its file. */
	void (*discard)(void *ctx, uint64_t inode, uint32_t mount_id, uint32_t revision);
	void *discard_ctx;
	unsigned delay_capacity;    /* events held waiting for container metadata */
	uint64_t delay_ns;          /* ... each at most this long */
};

struct pipeline_stats {
	uint64_t events[EVENT_TYPE_COUNT];
	uint64_t printed;
	uint64_t alerts;
	uint64_t containers_unresolved; /* events sent without container metadata */
	uint64_t delayed, delay_expired, delay_overflow; /* the container delay queue */
	unsigned delay_len;
	uint64_t output_refused; /* lines no sink took (all queues full) */
	uint64_t serialize_errors;
	/* The process cache as of the last batch (other threads must not
	 * read the cache itself while the pipeline runs). */
	struct proc_cache_stats cache;
};

void pipeline_config_defaults(struct pipeline_config *cfg);
struct pipeline *pipeline_new(const struct pipeline_config *cfg);
void pipeline_free(struct pipeline *p);

/* probe_handler callbacks; ctx is the pipeline. */
void pipeline_handle_event(const struct event *ev, void *ctx);
void pipeline_batch_end(void *ctx);

void pipeline_get_stats(struct pipeline *p, struct pipeline_stats *out);
/* Hands a new rule set over (from any thread); the pipeline adopts it
 * between two batches and frees the old one. Takes ownership. */
void pipeline_set_rules(struct pipeline *p, struct rules *rules);
/* /v1/rules, from any thread. */
char *pipeline_rules_json(struct pipeline *p);
/* The process cache, for read-only use between events (tests, dumps). */
struct proc_cache *pipeline_proc_cache(struct pipeline *p);

#endif
