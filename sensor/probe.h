/* probe.h - the sensor's source of events and its lifecycle.
 *
 *   probe_new -> probe_init -> probe_setup -> probe_start -> probe_stop -> probe_close
 *
 * init checks the environment and opens the platform (BPF object or
 * recorded file); setup loads and attaches (from here the kernel buffers
 * events); start plays the /proc snapshot to the handler, then starts the
 * consumer thread; stop detaches and joins; close frees everything. The
 * handler runs on the consumer thread (and on the caller's thread for the
 * snapshot, before the consumer starts), never on two threads at once.
 *
 * Two platforms sit behind it: "ebpf" (the kernel) and "replay" (JSON lines
 * recorded by `vigil events`, for tests and offline policy checks). */
#ifndef VIGIL_PROBE_H
#define VIGIL_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"

enum probe_platform { PROBE_EBPF, PROBE_REPLAY };

struct probe_config {
	enum probe_platform platform;
	const char *replay_path; /* replay: file of JSON lines; "-" for stdin */
	uint64_t event_mask;     /* EVENT_MASK bits the kernel must produce */
	unsigned poll_interval_ms; /* ebpf: drain the ring buffer at least this often */
	uint64_t wakeup_bytes;   /* ebpf: wake the consumer early once this much waits */
	bool emit_threads;       /* ebpf: send fork events for new threads too */
	bool snapshot;           /* play a /proc snapshot at start */
	const char *proc_root;   /* "/proc" unless testing */
};

struct probe_handler {
	void (*event)(const struct event *ev, void *ctx);
	/* After each batch drained from the stream: a good time to flush. */
	void (*batch_end)(void *ctx);
	void *ctx;
};

struct probe_stats {
	uint64_t received[EVENT_TYPE_COUNT];     /* delivered to the handler */
	uint64_t kernel_sent[EVENT_TYPE_COUNT];  /* submitted by the kernel side */
	uint64_t kernel_dropped[EVENT_TYPE_COUNT]; /* ring buffer full */
	uint64_t kernel_filtered[EVENT_TYPE_COUNT]; /* no rule could match: stayed in the kernel */
	uint64_t kernel_discarded[EVENT_TYPE_COUNT]; /* the same, decided by a discarder */
	uint64_t discarders_added;
	uint64_t decode_errors;                  /* malformed records or lines, skipped */
	uint64_t snapshot_processes;
	uint64_t ringbuf_size, ringbuf_pending;  /* bytes */
	uint64_t batches;                        /* consumer loop iterations */
};

/* In-kernel approvers, derived from the rules (rules_kernel_filter). */
#define KERNEL_FILTER_MAX_NAMES 256
struct kernel_filter {
	bool open_enabled;   /* false: every open reaches user space */
	uint64_t open_flags; /* an open with any of these flags passes */
	char open_names[KERNEL_FILTER_MAX_NAMES][64]; /* or one of a file with these names */
	size_t n_open_names;
	bool discarders; /* let user space add discarders (probe_add_discarder) */
	/* Executables to signal in the kernel at exec: FNV-1a of the canonical
	 * path (see bpf/vigil_abi.h) and the signal. */
	uint64_t kill_hashes[KERNEL_FILTER_MAX_NAMES];
	int kill_signals[KERNEL_FILTER_MAX_NAMES];
	size_t n_kills;
};

void probe_config_defaults(struct probe_config *cfg);

struct probe *probe_new(const struct probe_config *cfg, const struct probe_handler *handler);
int probe_init(struct probe *p);
int probe_setup(struct probe *p);
int probe_start(struct probe *p);
int probe_stop(struct probe *p);
void probe_close(struct probe *p);

/* Replay ends by itself at the end of its file; this waits for it (or for
 * probe_stop from another thread). Returns at once for the ebpf platform
 * only after it has been stopped. */
void probe_wait(struct probe *p);
/* Changes which event types the kernel produces, while running. */
int probe_set_event_mask(struct probe *p, uint64_t mask);
/* Installs in-kernel approvers (after setup). Every call also invalidates
 * the discarders: a new policy must prove them again. */
int probe_set_filter(struct probe *p, const struct kernel_filter *f);
/* Tells the kernel that opens of this file cannot match any rule, as
 * proved at discarder revision `revision` (from the event). Any thread. */
int probe_add_discarder(struct probe *p, uint64_t inode, uint32_t mount_id, uint32_t revision);
void probe_get_stats(struct probe *p, struct probe_stats *out);
const char *probe_platform_name(const struct probe *p);
/* The last error, for messages: "load BPF object: Operation not permitted". */
const char *probe_error(const struct probe *p);

#endif
