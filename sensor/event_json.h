/* event_json.h - the JSON form of an event, written and read back.
 *
 * Field names follow Datadog's SECL/event schema (process.file.path,
 * process.ancestors, exec.args, exit.code, ...) so rules and consumers built
 * for it read Vigil's events. The writer is the output format; the reader
 * takes the same lines back for the replay platform (recorded events for
 * tests and offline policy checks). docs/event-schema.json describes it. */
#ifndef VIGIL_EVENT_JSON_H
#define VIGIL_EVENT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "json_writer.h"

#define EVENT_JSON_MAX_ANCESTORS 32

struct container_view;

/* An event together with what enrichment learnt about it. */
struct event_view {
	const struct event *event;
	/* The full process (from the cache) or the event's own process. */
	const struct process *process;
	/* Parent first. */
	const struct process *const *ancestors;
	size_t n_ancestors;
	bool ancestors_truncated;
	const char *hostname; /* NULL to leave out */
	/* The process a signal, ptrace or prlimit targets, when cached. */
	const struct process *target;
	/* Container identity; NULL or "" for host processes. */
	const struct container_view *container;
};

struct container_view {
	const char *id;
	const char *name, *image_name, *image_tag, *image_digest, *runtime;
	const char *pod_name, *pod_namespace, *pod_uid;
	uint64_t created_at_ns; /* wall clock; 0 if unknown */
	bool resolved; /* metadata came from the runtime */
};

/* Writes the view as one JSON object (no trailing newline). */
void event_json_write(struct json_writer *w, const struct event_view *v);

/* Reading back: the event, the ancestors it carried, and the memory their
 * strings live in (valid until the next parse into the same struct). */
struct event_json_record {
	struct event event;
	struct process ancestors[EVENT_JSON_MAX_ANCESTORS];
	size_t n_ancestors;
	char strings[64 * 1024];
	size_t strings_used;
};

/* Parses one line. On error returns -1 and says what is wrong in err. */
int event_json_parse(const char *line, size_t len, struct event_json_record *rec, char *err,
		     size_t errlen);

/* "CAP_CHOWN" for 0, ...; NULL past the last known capability. */
const char *capability_name(unsigned bit);

#endif
