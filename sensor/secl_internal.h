/* secl_internal.h - private to secl_lex.c, secl_parse.c and secl_eval.c.
 *
 * Nothing outside the SECL engine includes this file; the public face of the
 * module is secl.h. It holds the arena, the token and syntax tree types, and
 * the few functions the three parts call in each other. */
#ifndef VIGIL_SECL_INTERNAL_H
#define VIGIL_SECL_INTERNAL_H

#include "secl.h"

#include <regex.h>
#include <stdarg.h>

/* Limits that keep bad input from costing unbounded memory or time. */
#define SECL_MAX_EXPR_LEN   65536
#define SECL_MAX_STRING_LEN 4096
#define SECL_MAX_DEPTH      200      /* parser nesting: parentheses, unary ops */
#define SECL_MAX_HEIGHT     1000     /* syntax tree height, after macro expansion */
#define SECL_MAX_LIST       4096     /* elements of one list */
#define SECL_MAX_RULE_BYTES (8u << 20) /* arena of one compiled rule */
#define SECL_MAX_PATTERN    1024     /* bytes of one glob pattern */
#define SECL_MAX_REGEX      1024     /* bytes of one regular expression */
#define SECL_TEMPLATE_BUF   1024     /* bytes of an expanded "${var}" string */

/* Arena: every allocation of one compiled rule (or macro) lives in one, so a
 * failed compile and a freed rule are a single arena_free. */
struct arena_chunk;
struct arena_cleanup;

struct arena {
	struct arena_chunk *chunks;
	struct arena_cleanup *cleanups;
	size_t used;
	size_t limit;
};

void arena_init(struct arena *a, size_t limit);
void *arena_alloc(struct arena *a, size_t size); /* zeroed; NULL past the limit */
char *arena_strndup(struct arena *a, const char *s, size_t len);
int arena_on_free(struct arena *a, void (*fn)(void *), void *p);
void arena_free(struct arena *a);

void secl_set_error(struct secl_error *err, const char *src, size_t pos,
		    enum secl_error_code code, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Tokens. */
enum tok_kind {
	TOK_EOF,
	TOK_IDENT,
	TOK_INT,      /* also durations, converted to ns */
	TOK_STRING,
	TOK_PATTERN,  /* ~"..." */
	TOK_REGEX,    /* r"..." */
	TOK_IP,       /* address or CIDR */
	TOK_VAR,      /* ${name} */
	TOK_TRUE, TOK_FALSE,
	TOK_LPAREN, TOK_RPAREN, TOK_LBRACK, TOK_RBRACK, TOK_COMMA,
	TOK_OR, TOK_AND, TOK_NOT, /* || or, && and, ! not */
	TOK_IN, TOK_ALLIN,
	TOK_EQ, TOK_NE, TOK_LT, TOK_LE, TOK_GT, TOK_GE, TOK_MATCH, TOK_NMATCH,
	TOK_AMP, TOK_PIPE, TOK_CARET, TOK_PLUS, TOK_MINUS,
};

struct token {
	enum tok_kind kind;
	size_t pos, len;   /* where in the source */
	char *str;         /* decoded text: ident, string, pattern, regex, var */
	size_t str_len;
	int64_t i;
	struct secl_ip ip;
	int prefix;        /* of TOK_IP, 0..128 on the v4-mapped address */
	bool has_var;      /* TOK_STRING/TOK_PATTERN containing "${" */
};

struct lexer {
	const char *src;
	size_t len, pos;
	struct arena *arena;
	struct secl_error *err;
};

int lex_next(struct lexer *lx, struct token *t);
const char *tok_kind_name(enum tok_kind k);

/* Syntax tree; after type checking the same nodes are evaluated. */
enum node_kind {
	N_OR, N_AND, N_NOT,
	N_CMP,
	N_FIELD,
	N_INT, N_BOOL, N_STR, N_PATTERN, N_REGEX, N_IP,
	N_LIST,
	N_IDENT,    /* unresolved name: field, constant or macro */
	N_VAR,      /* unresolved ${name} */
	N_TEMPLATE, /* string with ${field} parts */
	N_ARITH,    /* + - & | ^ on ints */
	N_NEG, N_BITNOT,
};

enum cmp_op {
	OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE,
	OP_MATCH, OP_NMATCH, OP_IN, OP_NOTIN, OP_ALLIN,
};

enum arith_op { AR_ADD, AR_SUB, AR_AND, AR_OR, AR_XOR };

enum vtype {
	VT_NONE, VT_BOOL, VT_INT, VT_STR, VT_IP,
	VT_PATTERN, /* pattern, regex or pattern template: only as a right operand */
	VT_LIST_INT, VT_LIST_STR, VT_LIST_IP, VT_LIST_EMPTY,
};

struct tpl_part {
	const char *text; /* literal text, or NULL for a field */
	size_t len;
	char *name;       /* variable name before resolution */
	int field;
	int slot;
	size_t pos;
};

struct glob {
	const char *pat;
	size_t len;
	bool path_mode;
	size_t prefix_len; /* literal bytes before the first '*' */
};

/* A compiled constant right operand: ==, =~, in and their negations all
 * become "does a value match this". */
struct matcher {
	enum secl_type type;
	struct secl_str *exact; size_t n_exact; /* sorted: length, then bytes */
	struct glob *globs;     size_t n_globs;
	regex_t **regexes;      size_t n_regexes;
	int64_t *ints;          size_t n_ints;  /* sorted */
	struct secl_ip *cidrs;  int *prefixes;  size_t n_cidrs;
	bool b;
};

struct node {
	enum node_kind kind;
	enum vtype type;
	size_t pos;
	struct node *a, *b;
	int op;                     /* cmp_op or arith_op */
	/* literals */
	union secl_scalar lit;      /* the literal as a value, set by the checker */
	int64_t i;
	bool bval;
	char *str; size_t len;
	struct secl_ip ip; int prefix;
	bool path_mode;             /* N_PATTERN: glob rules of .path fields */
	regex_t *re;                /* N_REGEX */
	struct node **items; size_t n_items; /* N_LIST */
	/* fields */
	int field;                  /* schema index */
	int slot;                   /* ruleset value cache slot, -1 in macros */
	bool length;                /* "<field>.length" */
	/* templates */
	struct tpl_part *parts; size_t n_parts;
	bool is_pattern;
	/* compiled */
	struct matcher *m;
	union secl_scalar *scratch; /* SECL_MAX_VALUES values, or template text */
	char *text_buf;
};

struct node *node_new(struct arena *a, enum node_kind kind, size_t pos);
/* a OP b for the integer operators (+ - & | ^), wrapping on overflow; shared
 * by constant folding and evaluation. */
int64_t secl_arith(int op, int64_t a, int64_t b);

/* Parser: returns the tree or NULL with err filled. */
struct node *secl_parse(const char *src, struct arena *arena, struct secl_error *err);

/* Compilation context shared by the checker and the ruleset. */
struct secl_ruleset;

struct compile_ctx {
	const struct secl_schema *schema;
	const struct secl_macro_table *macros;
	struct secl_ruleset *rs; /* NULL when checking a macro */
	struct arena *arena;
	const char *src;
	struct secl_error *err;
	int event;               /* -1 until a field of an event type is seen */
	int event_field;         /* the field that fixed it */
	size_t event_pos;
	size_t nodes;
};

/* Resolves names, checks types and builds matchers. Returns 0 or -1. */
int secl_compile_tree(struct compile_ctx *cc, struct node **root, bool want_bool);
/* Asks the ruleset for the value cache slot of a field. */
int secl_ruleset_slot(struct secl_ruleset *rs, int field);

/* Matching helpers shared by the checker and the evaluator. */
bool matcher_match(const struct matcher *m, const union secl_scalar *v);
bool glob_match_compiled(const struct glob *g, const char *s, size_t len);
bool regex_match(regex_t *re, const char *s, size_t len);
bool ip_in_cidr(const struct secl_ip *ip, const struct secl_ip *net, int prefix);
bool field_is_path(const struct secl_field *f);

#endif
