/* health.h - liveness (are the loops turning?) and readiness (are the parts
 * that make the sensor useful working?).
 *
 * Liveness: each event loop calls health_beat() once per iteration. A loop
 * that has not beaten for longer than its deadline makes the sensor not
 * live, and /healthz says which loop and for how long. A loop that exits on
 * purpose calls health_loop_stop() so it stops counting.
 *
 * Readiness: components report a state with health_set(). The sensor is
 * ready when it is live and every component registered as required is
 * HEALTH_OK. Optional components only show up in the report.
 *
 * health_beat() is cheap enough for a hot loop: a clock read, a short scan
 * of loop names and an atomic store, no lock once the loop is known. */
#ifndef VIGIL_HEALTH_H
#define VIGIL_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum health_state {
	HEALTH_STARTING,
	HEALTH_OK,
	HEALTH_DEGRADED,
	HEALTH_DOWN,
};

#define HEALTH_MAX_LOOPS 16
#define HEALTH_MAX_COMPONENTS 32
#define HEALTH_NAME_LEN 32
#define HEALTH_DETAIL_LEN 256
#define HEALTH_DEFAULT_DEADLINE_MS 5000

struct health;

/* default_deadline_ms applies to loops that beat without being registered;
 * 0 means HEALTH_DEFAULT_DEADLINE_MS. */
struct health *health_new(uint64_t default_deadline_ms);
void health_free(struct health *h);

/* Registers a loop (or changes its deadline) and starts its clock. Returns
 * 0, or -1 when the name is empty or too long or the table is full. */
int health_register_loop(struct health *h, const char *loop_name,
			 uint64_t deadline_ms);
void health_beat(struct health *h, const char *loop_name);
void health_loop_stop(struct health *h, const char *loop_name);

/* Declares a component and whether readiness depends on it; it starts in
 * HEALTH_STARTING. Calling again updates the flag. Returns 0 or -1. */
int health_register(struct health *h, const char *component, bool required);
/* Sets a component's state; unknown components are registered as optional.
 * detail may be NULL; it is truncated to HEALTH_DETAIL_LEN - 1 bytes.
 * Returns 0 or -1. */
int health_set(struct health *h, const char *component,
	       enum health_state state, const char *detail);
/* Returns the state, or -1 if the component is unknown. */
int health_get(struct health *h, const char *component);

const char *health_state_name(enum health_state state);

bool health_live(struct health *h);
bool health_ready(struct health *h);

/* JSON reports for /healthz and /readyz. Each returns the HTTP status (200
 * or 503) and a malloc'd NUL-terminated body in *body, or -1 on allocation
 * failure. */
int health_report_live(struct health *h, char **body, size_t *len);
int health_report_ready(struct health *h, char **body, size_t *len);

#endif
