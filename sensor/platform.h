/* platform.h - what a probe platform implements (private to probe.c and the
 * platform_*.c files; the rest of the sensor only sees probe.h). */
#ifndef VIGIL_PLATFORM_H
#define VIGIL_PLATFORM_H

#include <stddef.h>

#include "probe.h"

/* What a platform gets from the probe: the configuration, where to deliver
 * events, and a place to put its error message. */
struct platform_env {
	const struct probe_config *cfg;
	const struct probe_handler *handler;
	char *err;
	size_t errlen;
};

struct platform_ops {
	const char *name;
	void *(*create)(const struct platform_env *env);
	int (*init)(void *state);
	int (*setup)(void *state);
	int (*start)(void *state); /* starts the consumer thread */
	int (*stop)(void *state);  /* stops and joins it, detaches */
	void (*destroy)(void *state);
	void (*wait)(void *state);
	int (*set_event_mask)(void *state, uint64_t mask);
	int (*set_filter)(void *state, const struct kernel_filter *f); /* may be NULL */
	int (*add_discarder)(void *state, uint64_t inode, uint32_t mount_id, uint32_t revision); /* may be NULL */
	void (*stats)(void *state, struct probe_stats *out);
};

extern const struct platform_ops platform_ebpf;
extern const struct platform_ops platform_replay;

#endif
