/* rule_fields.h - the SECL schema of Vigil's events: which fields a rule can
 * name (process.file.path, open.flags, connect.addr.ip, ...), their types,
 * the event they belong to, and how to read each from an enriched event.
 *
 * The rule engine (secl.h) knows nothing of Vigil's structs; this module is
 * the bridge. Field names follow Datadog's SECL, so their rules load. */
#ifndef VIGIL_RULE_FIELDS_H
#define VIGIL_RULE_FIELDS_H

#include "event_json.h"
#include "secl.h"

/* What a rule sees: the enriched event, plus scratch space the getters use
 * to build joined strings without allocating. */
struct rule_input {
	struct event_view view;
	char joined[3][4096]; /* process, parent, target args joined by spaces */
	bool joined_ready[3];
};

/* The schema; built once, lives for the program. */
const struct secl_schema *rule_schema(void);
/* Prepares an input for one evaluation. */
void rule_input_init(struct rule_input *in, const struct event_view *view);

#endif
