/* event.h - one decoded event, as every stage after the decoder sees it.
 *
 * The decoder (decode.c) fills it from a kernel record, the replay platform
 * from a recorded JSON line, the snapshot from /proc. Strings point into the
 * record or buffer the event came from: an event is valid only during the
 * callback that receives it, and a stage that keeps data must copy it. */
#ifndef VIGIL_EVENT_H
#define VIGIL_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "process.h"

enum event_type {
	EVENT_UNKNOWN = 0,
	EVENT_EXEC,
	EVENT_FORK,
	EVENT_EXIT,
	EVENT_TYPE_COUNT,
};

enum event_source {
	EVENT_SOURCE_RUNTIME,  /* seen as it happened */
	EVENT_SOURCE_SNAPSHOT, /* synthesized from /proc at start */
};

enum exit_cause { EXIT_EXITED, EXIT_SIGNALED, EXIT_COREDUMPED };

struct exec_data {
	const char *syscall_path; /* the filename given to execve; may be relative */
};

struct exit_data {
	enum exit_cause cause;
	uint32_t code; /* exit status, or the signal number when signaled */
};

struct event {
	enum event_type type;
	enum event_source source;
	uint64_t timestamp_ns; /* boot clock */
	/* The process the event is about: for exec the process after exec,
	 * for fork the child, for exit the exiting process. */
	struct process process;
	union {
		struct exec_data exec;
		struct exit_data exit;
	};
};

/* "exec", "fork", "exit"; "unknown" for anything else. */
const char *event_type_name(enum event_type type);
/* Inverse of event_type_name; EVENT_UNKNOWN if the name is not a type. */
enum event_type event_type_from_name(const char *name);
/* Parses a comma-separated list of type names into a bit mask (1 << type).
 * Returns -1 and names the bad entry in err on an unknown type. */
int event_type_mask_parse(const char *list, uint64_t *mask, char *err, size_t errlen);

#define EVENT_MASK(t) (1ull << (t))
#define EVENT_MASK_ALL (((1ull << EVENT_TYPE_COUNT) - 1) & ~1ull)

#endif
