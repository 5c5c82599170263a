/* metrics.h - the sensor's own counters, gauges and histograms, exposed in
 * the Prometheus text format (version 0.0.4).
 *
 * Registration looks a series up by name and labels under a mutex and hands
 * back a handle; updating through a handle is one atomic operation with no
 * lookup, lock or allocation, so hot paths keep handles and never register
 * again. Handles live as long as the registry. Every update function accepts
 * a NULL handle and does nothing, so a failed registration (bad name, series
 * limit reached) costs a metric, never a crash.
 *
 * Names are full Prometheus names, prefix included ("vigil_events_total").
 * Counters must end in _total; other types must not. Labels are given as a
 * label string, 'type="exec",rule="x"', with values escaped the Prometheus
 * way (\\, \", \n); build values that come from outside with
 * metrics_label_escape(). A raw newline in a value is accepted and escaped.
 * Label order does not matter: 'a="1",b="2"' and 'b="2",a="1"' are the same
 * series. NULL or "" means no labels. */
#ifndef VIGIL_METRICS_H
#define VIGIL_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct metrics;
struct metric_counter;
struct metric_gauge;
struct metric_histogram;

/* Upper bound on series (all families together), so a label taken from
 * untrusted data cannot grow the registry without limit. */
#define METRICS_DEFAULT_MAX_SERIES 10000
#define METRICS_MAX_HISTOGRAM_BOUNDS 64

/* max_series 0 means METRICS_DEFAULT_MAX_SERIES. */
struct metrics *metrics_new(size_t max_series);
void metrics_free(struct metrics *m);

/* Each returns the existing handle when the same name and labels were
 * registered before with the same type, or NULL with a logged error when the
 * name, labels or help are invalid, the name has another type, or the
 * registry is full. The first help text given for a name is kept. */
struct metric_counter *metrics_counter(struct metrics *m, const char *name,
				       const char *help, const char *labels);
struct metric_gauge *metrics_gauge(struct metrics *m, const char *name,
				   const char *help, const char *labels);
/* bounds: n finite upper bounds, strictly increasing; +Inf is implicit. A
 * second registration of the same series must give the same bounds. */
struct metric_histogram *metrics_histogram(struct metrics *m, const char *name,
					   const char *help, const char *labels,
					   const double *bounds, size_t n);

/* Series whose value is read at scrape time, e.g. a ring buffer's fill
 * ratio or a BPF map's drop count. fn runs on the scraping thread with the
 * registry locked: it must be quick and must not register metrics.
 * Registering the same series again replaces fn and ctx; fn NULL stops the
 * series from being rendered (use it before ctx is freed). Returns 0 or -1. */
int metrics_gauge_fn(struct metrics *m, const char *name, const char *help,
		     const char *labels, double (*fn)(void *ctx), void *ctx);
int metrics_counter_fn(struct metrics *m, const char *name, const char *help,
		       const char *labels, uint64_t (*fn)(void *ctx), void *ctx);

void metric_counter_add(struct metric_counter *c, uint64_t n);
static inline void metric_counter_inc(struct metric_counter *c)
{
	metric_counter_add(c, 1);
}
uint64_t metric_counter_value(const struct metric_counter *c);

void metric_gauge_set(struct metric_gauge *g, double v);
void metric_gauge_add(struct metric_gauge *g, double delta);
double metric_gauge_value(const struct metric_gauge *g);

/* NaN observations are dropped: one would turn _sum into NaN for good. */
void metric_histogram_observe(struct metric_histogram *h, double v);
uint64_t metric_histogram_count(const struct metric_histogram *h);

/* Renders every family, sorted by name, HELP and TYPE once per family.
 * *buf is malloc'd and NUL-terminated; *len excludes the NUL. Returns 0, or
 * -1 on allocation failure. */
int metrics_render(struct metrics *m, char **buf, size_t *len);

/* Writes value escaped for use between the quotes of a label string.
 * Returns the escaped length, or -1 (and an empty dst) if it does not fit. */
int metrics_label_escape(char *dst, size_t size, const char *value);

#endif
