/* policy.h - security policy files: YAML rules and macros in Datadog's
 * policy format, loaded into a policy set and compiled into a SECL ruleset.
 *
 * A file looks like:
 *
 *   version: 1.0.0
 *   macros:
 *     - id: shells
 *       values: [bash, sh, zsh]
 *     - id: sensitive_files
 *       expression: 'open.file.path in ["/etc/shadow", "/etc/sudoers"]'
 *   rules:
 *     - id: shell_reads_secrets
 *       description: A shell read a credentials file
 *       expression: open.file.path in sensitive_files && process.file.name in shells
 *       priority: high
 *       tags: { mitre: T1003 }
 *       actions:
 *         - kill: { signal: SIGKILL }
 *
 * Macro "values" are turned into a SECL list: a YAML string becomes a SECL
 * string literal, except values that already are SECL literals (~"...",
 * r"...", "..."), a YAML integer stays an integer.
 *
 * Several files may be loaded; a later file's rule or macro replaces an
 * earlier one with the same id (in place, keeping the order of first
 * appearance). A rule with "disabled: true" stays listed but is not
 * compiled; an override with only "id" and "disabled" disables the earlier
 * definition. Two rules with one id in the same file is an error.
 *
 * Every problem is recorded as a diagnostic "file:line:col: message" with
 * the real position in the YAML file; for an expression error it is the
 * offending token inside the (possibly quoted, multi-line or block) scalar.
 * Problems in one rule skip that rule, the rest load. Rules using an event
 * type the schema does not know are skipped with a warning.
 *
 * Kept but not acted on here: rule "filters" (host filters), action
 * "filter" expressions, "every", "agent_version"; the lead's code executes
 * actions. */
#ifndef VIGIL_POLICY_H
#define VIGIL_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "secl.h"

enum policy_action_kind {
	POLICY_ACTION_KILL,
	POLICY_ACTION_SET,
	POLICY_ACTION_HASH,
	POLICY_ACTION_LOG,
	POLICY_ACTION_COREDUMP,
	POLICY_ACTION_OTHER, /* known to Datadog but not to Vigil, e.g. network_filter */
};

struct policy_action {
	enum policy_action_kind kind;
	char *name;   /* the action key: "kill", "set", ... */
	char *filter; /* SECL expression evaluated at match time, or NULL */
	union {
		struct {
			int signal;        /* default SIGTERM */
			char *signal_name; /* as written, e.g. "SIGKILL" */
			char *scope;       /* "process" (default), "container", "cgroup" */
		} kill;
		struct {
			char *name;
			char *value;       /* one of value, field, expression */
			char *field;
			char *expression;
			char *default_value;
			char *scope;
			bool append;
			bool inherited;
			int64_t size;
			char *ttl;
		} set;
		struct {
			char *field;
			int64_t max_file_size;
		} hash;
		struct {
			char *level;
			char *message;
		} log;
		struct {
			bool process, mount, dentry, no_compression;
		} coredump;
	};
};

struct policy_tag {
	char *key;
	char *value;
};

enum policy_rule_status {
	POLICY_RULE_LOADED,   /* parsed, not compiled yet */
	POLICY_RULE_ACTIVE,   /* in the compiled ruleset */
	POLICY_RULE_DISABLED, /* disabled: true */
	POLICY_RULE_SKIPPED,  /* uses an event type the schema lacks */
	POLICY_RULE_INVALID,  /* an error was reported for it */
};

struct policy_span; /* where a YAML scalar sits in its file (private) */

struct policy_rule {
	char *id;
	char *expression;
	char *description;
	char *version;
	char *priority;  /* as written, e.g. "high"; NULL if absent */
	char *severity;
	struct policy_tag *tags;
	size_t n_tags;
	char **product_tags;
	size_t n_product_tags;
	char **filters;
	size_t n_filters;
	struct policy_action *actions;
	size_t n_actions;
	bool disabled;
	bool silent;
	const char *file;  /* the file of the definition in effect */
	int line, column;  /* of the rule in that file */
	enum policy_rule_status status;
	int rule_index;    /* in the compiled ruleset, -1 if not in it */
	struct policy_span *expr_span;
};

struct policy_macro {
	char *id;
	char *expression;  /* built from "values" when the file gave a list */
	char *description;
	const char *file;
	int line, column;
	bool invalid;
	struct policy_span *expr_span;
	struct policy_span **value_spans; /* one per value, for "values" macros */
	size_t *value_offsets;            /* where each value starts in expression */
	size_t n_values;
};

enum policy_diag_level { POLICY_WARNING, POLICY_ERROR };

struct policy_diag {
	enum policy_diag_level level;
	char *text; /* "file:line:col: message" */
};

struct policy_set;

struct policy_set *policy_set_new(void);
void policy_set_free(struct policy_set *ps);

/* Loads one file (read whole, at most 16 MiB). Returns 0 when the file was
 * read and parsed as YAML (some rules may still have been rejected: see the
 * diagnostics), -1 when it could not be read or is not a policy at all. */
int policy_set_load_file(struct policy_set *ps, const char *path);
/* Same from memory; name is used in diagnostics. */
int policy_set_load_buffer(struct policy_set *ps, const char *name, const char *text, size_t len);

size_t policy_set_rule_count(const struct policy_set *ps);
const struct policy_rule *policy_set_rule(const struct policy_set *ps, size_t i);
const struct policy_rule *policy_set_find_rule(const struct policy_set *ps, const char *id);
size_t policy_set_macro_count(const struct policy_set *ps);
const struct policy_macro *policy_set_macro(const struct policy_set *ps, size_t i);

size_t policy_set_diag_count(const struct policy_set *ps);
const struct policy_diag *policy_set_diag(const struct policy_set *ps, size_t i);
size_t policy_set_error_count(const struct policy_set *ps);

/* Compiles the macros and every enabled, valid rule into a new ruleset
 * (free it with secl_ruleset_free; the schema must outlive it). Rules that
 * fail are reported and skipped. Returns NULL only when out of memory. The
 * rules' status and rule_index are updated. */
struct secl_ruleset *policy_set_compile(struct policy_set *ps, const struct secl_schema *schema);
/* The policy rule behind a ruleset index from the last compile. */
const struct policy_rule *policy_set_rule_for_index(const struct policy_set *ps, int rule_index);

/* Signal number of a name such as "SIGKILL" or "KILL", or -1. */
int policy_signal_number(const char *name);

#endif
