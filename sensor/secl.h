/* secl.h - the SECL rule engine: compile rule expressions once, evaluate them
 * against events fast.
 *
 * The engine knows nothing about Vigil's event structs. The caller describes
 * its events with a schema: a list of event type names, a list of fields
 * (name, type, owning event type, getter) and a list of named constants.
 * Expressions use Datadog's SECL syntax and field names so that existing
 * rules can be brought over:
 *
 *   open.file.name =~ "*.key" && open.flags & O_CREAT > 0
 *   exec.file.name in ["nc", "ncat"] && process.ancestors.file.name == "sshd"
 *   connect.addr.ip in [10.0.0.0/8, ::1] && process.uid != 0
 *
 * Semantics that differ from, or are undocumented in, Datadog's engine:
 *  - precedence, loosest first: || / or, && / and, ! / not (logical, applies
 *    to a whole comparison), comparisons, + -, & | ^, unary - ^;
 *  - multi-valued fields: ==, =~, in, <, <=, >, >= hold if they hold for ANY
 *    value; !=, !~, not in are their negations (so they hold if NO value
 *    matches); allin holds if every value matches and there is at least one;
 *  - regular expressions r"..." are POSIX extended, unanchored;
 *  - patterns ~"..." use '*' for any run of characters; on fields whose name
 *    ends in ".path", '*' stops at '/' and '**' crosses it;
 *  - a rule that uses only common fields (event_type -1, e.g. process.*) is a
 *    "wildcard" rule: it is evaluated for events of every type, but does not
 *    by itself make any event type "used" (see secl_ruleset_uses_event);
 *  - variables ${field} read the first value of a common or same-event field,
 *    also inside string literals: "/proc/${process.pid}/maps".
 *
 * Regular expressions refuse back-references and stacked or deeply nested
 * repetitions, which make glibc's regcomp/regexec blow up.
 *
 * Lifetime and threading: the schema must outlive every macro table and
 * ruleset built from it. A ruleset may be built by one thread and then
 * evaluated by one thread at a time (evaluation uses scratch space inside
 * the ruleset); match callbacks must not add rules. */
#ifndef VIGIL_SECL_H
#define VIGIL_SECL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum secl_type {
	SECL_INT,
	SECL_STRING,
	SECL_BOOL,
	SECL_IP, /* v4 or v6 address; literals may be CIDRs */
};

struct secl_str {
	const char *ptr;
	size_t len;
};

/* IPv4 addresses are stored v4-mapped (::ffff:a.b.c.d) so that one compare
 * handles both families. Use secl_ip_v4/secl_ip_v6 to fill one. */
struct secl_ip {
	uint8_t addr[16];
};

union secl_scalar {
	int64_t i;
	struct secl_str s;
	bool b;
	struct secl_ip ip;
};

/* Most values a getter may return for one field; extra values are ignored. */
#define SECL_MAX_VALUES 64

struct secl_field {
	const char *name;    /* "open.file.path", "process.ancestors.file.name" */
	enum secl_type type;
	int event_type;      /* index into schema->event_names, or -1 if common */
	/* Writes up to max values of this field for this event and returns how
	 * many the event has. Must not allocate; strings must stay valid until
	 * evaluation of the event returns. */
	size_t (*get)(const void *event, void *getter_ctx, union secl_scalar *out, size_t max);
	void *getter_ctx;
};

struct secl_constant {
	const char *name;
	int64_t value;
};

struct secl_schema {
	const char *const *event_names;
	size_t n_events;
	const struct secl_field *fields;
	size_t n_fields;
	const struct secl_constant *constants;
	size_t n_constants;
};

enum secl_error_code {
	SECL_OK = 0,
	SECL_ERR_SYNTAX,        /* lexer or parser */
	SECL_ERR_UNKNOWN,       /* unknown field, constant, macro or variable */
	SECL_ERR_UNKNOWN_EVENT, /* field of an event type the schema lacks */
	SECL_ERR_TYPE,          /* type mismatch */
	SECL_ERR_EVENT_MIX,     /* fields of two event types in one rule */
	SECL_ERR_REGEX,         /* bad regular expression */
	SECL_ERR_LIMIT,         /* too long, too deep, too many */
	SECL_ERR_DUPLICATE,     /* rule or macro id already used */
	SECL_ERR_NOMEM,
	SECL_ERR_INVALID,       /* bad argument to an API call */
};

/* line and column are 1-based and count bytes inside the expression text;
 * offset is the 0-based byte offset of the same place. */
struct secl_error {
	enum secl_error_code code;
	int line, column;
	size_t offset;
	char msg[256];
};

/* Macros: named expressions or value lists, referenced by id in rules and in
 * later macros. A macro that fails only because it uses an unknown event
 * type is remembered, so rules that use it fail with SECL_ERR_UNKNOWN_EVENT
 * too (and can be skipped rather than reported as broken). */
struct secl_macro_table;

struct secl_macro_table *secl_macros_new(const struct secl_schema *schema);
void secl_macros_free(struct secl_macro_table *macros);
/* Returns 0, or -1 with err filled. A later macro with the same id replaces
 * the earlier one for rules compiled afterwards. */
int secl_macros_add(struct secl_macro_table *macros, const char *id, const char *expr,
		    struct secl_error *err);

/* Rulesets. */
struct secl_ruleset;

struct secl_ruleset *secl_ruleset_new(const struct secl_schema *schema);
void secl_ruleset_free(struct secl_ruleset *rs);

/* Compiles expr and adds it. macros may be NULL. Returns the rule's index
 * (0, 1, 2... in order of addition), or -1 with err filled. */
int secl_ruleset_add(struct secl_ruleset *rs, const char *rule_id, const char *expr,
		     const struct secl_macro_table *macros, struct secl_error *err);

size_t secl_ruleset_count(const struct secl_ruleset *rs);
const char *secl_ruleset_rule_id(const struct secl_ruleset *rs, int rule_index);
/* The rule's event type, or -1 for a wildcard rule. */
int secl_ruleset_rule_event(const struct secl_ruleset *rs, int rule_index);

typedef void (*secl_match_fn)(int rule_index, const char *rule_id, void *cb_ctx);

/* Evaluates every rule of event_type (and every wildcard rule) against event
 * and calls match for each rule that holds, in order of addition. Returns the
 * number of matches, or -1 if event_type is out of range (or, once after
 * rules were added, if building the rule index ran out of memory).
 *
 * Rules with an exact "field == value" / "field in [...]" test among their
 * top-level conjuncts (or an || of such tests) are indexed by value, rules
 * with only pattern tests by the pattern's literal prefix; only candidates
 * are evaluated. Each field getter is called at most once per event. */
int secl_ruleset_eval(struct secl_ruleset *rs, int event_type, const void *event,
		      secl_match_fn match, void *cb_ctx);

/* True if at least one rule is specific to event_type: the caller enables
 * that event type's kernel hooks. Wildcard rules do not count. */
bool secl_ruleset_uses_event(const struct secl_ruleset *rs, int event_type);
bool secl_ruleset_has_wildcard_rules(const struct secl_ruleset *rs);

/* Approvers: values of one field such that every rule of an event type
 * requires the field to take one of them. An event whose field value is not
 * approved cannot match any rule, so the kernel may drop it. */
enum secl_approver_kind {
	SECL_APPROVE_EXACT,   /* string equals str */
	SECL_APPROVE_PATTERN, /* string matches the pattern str; prefix_len
			       * leading bytes of str are literal */
	SECL_APPROVE_INT,     /* integer equals i */
	SECL_APPROVE_FLAGS,   /* integer has at least one bit of i set */
};

struct secl_approver {
	enum secl_approver_kind kind;
	const char *str;   /* NUL-terminated, owned by the approver list */
	size_t prefix_len;
	int64_t i;
};

struct secl_approvers {
	size_t n;
	struct secl_approver *items;
};

/* Returns 1 and fills out (free with secl_approvers_free) if every rule of
 * event_type is approvable by field; 0 if not (out left empty); -1 with err
 * on bad arguments (unknown field, event type out of range). An event type
 * with no rules returns 1 with an empty list: nothing needs to pass. */
int secl_ruleset_approvers(struct secl_ruleset *rs, int event_type, const char *field,
			   struct secl_approvers *out, struct secl_error *err);
/* The same for one rule (by ruleset index): 1 and out filled when the rule
 * can only match events whose field takes one of the values; 0 if not (a
 * wildcard rule never is); -1 with err on bad arguments. */
int secl_rule_approvers(struct secl_ruleset *rs, int rule_index, const char *field,
		       struct secl_approvers *out, struct secl_error *err);
/* 1 and out filled when the rule's whole expression is "field equals one of
 * these strings" (==, in, or an || of those): the kernel can decide it alone.
 * 0 when it has any other shape; -1 on bad arguments. */
int secl_rule_exact_values(struct secl_ruleset *rs, int rule_index, const char *field,
			   struct secl_approvers *out);
void secl_approvers_free(struct secl_approvers *a);

/* Discarders: returns 1 if no rule of event_type (nor any wildcard rule)
 * can match an event whose field has this value, whatever the other fields
 * hold; 0 if some rule might; -1 with err on bad arguments. */
int secl_ruleset_is_discarder(struct secl_ruleset *rs, int event_type, const char *field,
			      const union secl_scalar *value, struct secl_error *err);

/* Helpers. */
void secl_ip_v4(struct secl_ip *ip, uint32_t addr_be);
void secl_ip_v6(struct secl_ip *ip, const uint8_t addr[16]);
/* Parses "10.1.2.3" or "::1"; returns 0 or -1. */
int secl_ip_parse(struct secl_ip *ip, const char *text);
const char *secl_error_code_name(enum secl_error_code code);

/* Glob match with SECL pattern rules (exported for the profile module and
 * tests); path_mode makes '*' stop at '/' and '**' cross it. In path mode
 * patterns longer than 1024 bytes never match. */
bool secl_glob_match(const char *pat, size_t pat_len, const char *s, size_t len,
		     bool path_mode);

#endif
