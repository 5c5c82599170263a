/* rules.h - the evaluate stage: loaded policies compiled into a ruleset,
 * evaluated against each enriched event, turned into alerts, rate limited,
 * and acted upon (kill).
 *
 * A struct rules is immutable once loaded: a reload builds a new one and the
 * pipeline swaps it in between batches, so evaluation never sees a half-
 * loaded policy and a bad reload leaves the running one in place. */
#ifndef VIGIL_RULES_H
#define VIGIL_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event_json.h"
#include "json_writer.h"

struct rules_config {
	bool default_policy;        /* include the embedded default policy */
	const char *const *files;   /* more policy files, later ones override by id */
	size_t n_files;
	unsigned rate_per_sec;      /* alerts per rule per second (token refill) */
	unsigned burst;             /* token bucket size */
	bool strict;                /* any error fails the load (reloads, policy check) */
	struct metrics *metrics;    /* per-rule counters go here; may be NULL */
};

struct rules;

void rules_config_defaults(struct rules_config *cfg);
/* Loads and compiles. Every problem is logged as "file:line:col: ..." and
 * counted; with cfg->strict a single error makes the load fail (NULL). */
struct rules *rules_load(const struct rules_config *cfg, size_t *errors);
void rules_free(struct rules *r);

size_t rules_count(const struct rules *r);
/* EVENT_MASK bits of the event types some rule needs. */
uint64_t rules_event_mask(const struct rules *r);

/* Evaluates one event; for each match that passes its rate limit, writes an
 * alert (one JSON line, no newline) into w and calls emit(w) ; runs the
 * rule's actions. Returns the number of matches. */
int rules_eval(struct rules *r, const struct event_view *view, struct json_writer *w,
	       void (*emit)(struct json_writer *w, void *ctx), void *ctx);

struct rule_stats {
	const char *id;
	const char *description;
	const char *priority;
	uint64_t evaluations_hint; /* events of the rule's type seen */
	uint64_t matches;
	uint64_t suppressed; /* dropped by the rate limit */
	uint64_t kills, kills_refused;
};
/* Per-rule counters; returns the number of rules. */
size_t rules_stats(struct rules *r, struct rule_stats *out, size_t max);
/* /v1/rules: a malloc'd JSON array of the loaded rules with their counts. */
char *rules_json(struct rules *r);

/* The in-kernel approvers these rules allow (see struct kernel_filter):
 * open events pass only with a write-like flag or a name some rule needs.
 * Disabled when any open rule cannot be decided from flags or name. */
struct kernel_filter;
void rules_kernel_filter(struct rules *r, struct kernel_filter *out);
/* Whether no rule could match any open of this path, whatever the other
 * fields: such a file can be discarded in the kernel. */
bool rules_open_discardable(struct rules *r, const char *path);

/* Writes the embedded default policy's text. */
const char *rules_default_policy(size_t *len);

#endif
