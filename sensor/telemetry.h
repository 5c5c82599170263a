/* telemetry.h - the sensor's own numbers as Prometheus metrics.
 *
 * Registers scrape-time series in a metrics registry that read the stats
 * of the probe (kernel counters, ring buffer), the pipeline (process
 * cache, printed events) and the outputs (queues, drops). Nothing here runs
 * per event: the stages count in their own stats; this reads them when
 * Prometheus asks. */
#ifndef VIGIL_TELEMETRY_H
#define VIGIL_TELEMETRY_H

struct metrics;
struct probe;
struct pipeline;
struct outputs;
struct container_cache;

struct telemetry;

/* containers may be NULL (no CRI). */
struct telemetry *telemetry_new(struct metrics *m, struct probe *probe, struct pipeline *pipeline,
				struct outputs *outputs, struct container_cache *containers);
/* Unregisters every series (before the stages they read are freed). */
void telemetry_free(struct telemetry *t);

#endif
