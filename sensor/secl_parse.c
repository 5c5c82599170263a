/* secl_parse.c - SECL parser, macros and the type checker.
 *
 * Text becomes a syntax tree (secl_parse), names in the tree are resolved
 * against the schema, the constants and the macros, then types are checked
 * and constant right operands are compiled into matchers. The checked tree
 * is what the evaluator walks: there is no second representation. */
#include "secl_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct node *node_new(struct arena *a, enum node_kind kind, size_t pos)
{
	struct node *n = arena_alloc(a, sizeof(*n));

	if (!n)
		return NULL;
	n->kind = kind;
	n->pos = pos;
	n->field = -1;
	n->slot = -1;
	return n;
}

/* ---- parser ---- */

struct parser {
	struct lexer lx;
	struct token cur;
	struct arena *arena;
	struct secl_error *err;
	int depth;
};

static int advance(struct parser *p)
{
	return lex_next(&p->lx, &p->cur);
}

static void describe_token(struct parser *p, const struct token *t, char *buf, size_t size)
{
	if (t->kind == TOK_EOF) {
		snprintf(buf, size, "end of expression");
		return;
	}
	size_t n = t->len > 40 ? 40 : t->len;
	snprintf(buf, size, "'%.*s%s'", (int)n, p->lx.src + t->pos, t->len > n ? "..." : "");
}

static struct node *fail_expected(struct parser *p, const char *expected)
{
	char found[64];

	describe_token(p, &p->cur, found, sizeof(found));
	secl_set_error(p->err, p->lx.src, p->cur.pos, SECL_ERR_SYNTAX,
		       "expected %s but found %s", expected, found);
	return NULL;
}

static struct node *fail_nomem(struct parser *p)
{
	secl_set_error(p->err, p->lx.src, p->cur.pos, SECL_ERR_NOMEM,
		       "out of memory (or expression too large)");
	return NULL;
}

static struct node *new_node(struct parser *p, enum node_kind kind, size_t pos)
{
	struct node *n = node_new(p->arena, kind, pos);

	if (!n)
		fail_nomem(p);
	return n;
}

static struct node *parse_or(struct parser *p);
static struct node *parse_arith(struct parser *p);

static bool enter(struct parser *p)
{
	if (++p->depth > SECL_MAX_DEPTH) {
		secl_set_error(p->err, p->lx.src, p->cur.pos, SECL_ERR_LIMIT,
			       "expression nested more than %d levels deep", SECL_MAX_DEPTH);
		return false;
	}
	return true;
}

/* "a${x}b" -> parts "a", x, "b". */
static struct node *parse_template(struct parser *p, const struct token *t, bool is_pattern)
{
	struct node *n = new_node(p, N_TEMPLATE, t->pos);
	const char *s = t->str;
	size_t len = t->str_len, i = 0, cap = 0;

	if (!n)
		return NULL;
	n->is_pattern = is_pattern;
	for (size_t k = 0; k + 1 < len; k++)
		if (s[k] == '$' && s[k + 1] == '{')
			cap++;
	cap = 2 * cap + 1;
	n->parts = arena_alloc(p->arena, cap * sizeof(*n->parts));
	if (!n->parts)
		return fail_nomem(p);
	while (i < len) {
		const char *v = NULL;

		for (size_t k = i; k + 1 < len; k++) {
			if (s[k] == '$' && s[k + 1] == '{') {
				v = s + k;
				break;
			}
		}
		size_t lit_end = v ? (size_t)(v - s) : len;
		if (lit_end > i) {
			n->parts[n->n_parts].text = s + i;
			n->parts[n->n_parts].len = lit_end - i;
			n->parts[n->n_parts].field = -1;
			n->n_parts++;
		}
		if (!v)
			break;
		const char *close = memchr(v, '}', len - lit_end);
		if (!close || close == v + 2) {
			secl_set_error(p->err, p->lx.src, t->pos + 1 + lit_end, SECL_ERR_SYNTAX,
				       "expected a variable name and '}' after '${' in string");
			return NULL;
		}
		struct tpl_part *part = &n->parts[n->n_parts++];
		part->name = arena_strndup(p->arena, v + 2, (size_t)(close - v - 2));
		if (!part->name)
			return fail_nomem(p);
		part->field = -1;
		part->pos = t->pos + 1 + lit_end;
		i = (size_t)(close - s) + 1;
	}
	return n;
}

static struct node *parse_list(struct parser *p)
{
	struct node *n = new_node(p, N_LIST, p->cur.pos);
	size_t cap = 8;

	if (!n)
		return NULL;
	n->items = arena_alloc(p->arena, cap * sizeof(*n->items));
	if (!n->items || advance(p) < 0)
		return n->items ? NULL : fail_nomem(p);
	while (p->cur.kind != TOK_RBRACK) {
		if (n->n_items == SECL_MAX_LIST) {
			secl_set_error(p->err, p->lx.src, p->cur.pos, SECL_ERR_LIMIT,
				       "list longer than %d elements", SECL_MAX_LIST);
			return NULL;
		}
		struct node *item = parse_arith(p);
		if (!item)
			return NULL;
		if (n->n_items == cap) {
			struct node **items = arena_alloc(p->arena, 2 * cap * sizeof(*items));
			if (!items)
				return fail_nomem(p);
			memcpy(items, n->items, cap * sizeof(*items));
			n->items = items;
			cap *= 2;
		}
		n->items[n->n_items++] = item;
		if (p->cur.kind == TOK_COMMA) {
			if (advance(p) < 0)
				return NULL;
		} else if (p->cur.kind != TOK_RBRACK) {
			return fail_expected(p, "',' or ']' in list");
		}
	}
	if (advance(p) < 0)
		return NULL;
	return n;
}

static struct node *parse_primary(struct parser *p)
{
	struct token t = p->cur;
	struct node *n;

	switch (t.kind) {
	case TOK_IDENT:
		n = new_node(p, N_IDENT, t.pos);
		if (n) {
			n->str = t.str;
			n->len = t.str_len;
		}
		break;
	case TOK_INT:
		n = new_node(p, N_INT, t.pos);
		if (n)
			n->i = t.i;
		break;
	case TOK_TRUE:
	case TOK_FALSE:
		n = new_node(p, N_BOOL, t.pos);
		if (n)
			n->bval = t.kind == TOK_TRUE;
		break;
	case TOK_STRING:
	case TOK_PATTERN:
		if (t.has_var) {
			n = parse_template(p, &t, t.kind == TOK_PATTERN);
		} else {
			n = new_node(p, t.kind == TOK_STRING ? N_STR : N_PATTERN, t.pos);
			if (n) {
				n->str = t.str;
				n->len = t.str_len;
			}
		}
		break;
	case TOK_REGEX:
		n = new_node(p, N_REGEX, t.pos);
		if (n) {
			n->str = t.str;
			n->len = t.str_len;
		}
		break;
	case TOK_IP:
		n = new_node(p, N_IP, t.pos);
		if (n) {
			n->ip = t.ip;
			n->prefix = t.prefix;
		}
		break;
	case TOK_VAR:
		n = new_node(p, N_VAR, t.pos);
		if (n) {
			n->str = t.str;
			n->len = t.str_len;
		}
		break;
	case TOK_LPAREN:
		if (!enter(p) || advance(p) < 0)
			return NULL;
		n = parse_or(p);
		if (!n)
			return NULL;
		if (p->cur.kind != TOK_RPAREN)
			return fail_expected(p, "')'");
		p->depth--;
		break;
	case TOK_LBRACK:
		if (!enter(p))
			return NULL;
		n = parse_list(p);
		p->depth--;
		return n;
	default:
		return fail_expected(p, "a value (field, number, string, list or '(')");
	}
	if (!n || advance(p) < 0)
		return NULL;
	return n;
}

static struct node *parse_unary(struct parser *p)
{
	if (p->cur.kind == TOK_MINUS || p->cur.kind == TOK_CARET) {
		struct node *n = new_node(p, p->cur.kind == TOK_MINUS ? N_NEG : N_BITNOT, p->cur.pos);

		if (!n || !enter(p) || advance(p) < 0)
			return NULL;
		n->a = parse_unary(p);
		p->depth--;
		return n->a ? n : NULL;
	}
	return parse_primary(p);
}

static struct node *binary(struct parser *p, enum node_kind kind, int op, size_t pos,
			   struct node *a, struct node *b)
{
	struct node *n = new_node(p, kind, pos);

	if (!n)
		return NULL;
	n->op = op;
	n->a = a;
	n->b = b;
	return n;
}

static struct node *parse_bit(struct parser *p)
{
	struct node *n = parse_unary(p);

	while (n && (p->cur.kind == TOK_AMP || p->cur.kind == TOK_PIPE || p->cur.kind == TOK_CARET)) {
		int op = p->cur.kind == TOK_AMP ? AR_AND : p->cur.kind == TOK_PIPE ? AR_OR : AR_XOR;
		size_t pos = p->cur.pos;

		if (advance(p) < 0)
			return NULL;
		struct node *b = parse_unary(p);
		if (!b)
			return NULL;
		n = binary(p, N_ARITH, op, pos, n, b);
	}
	return n;
}

static struct node *parse_arith(struct parser *p)
{
	struct node *n = parse_bit(p);

	while (n && (p->cur.kind == TOK_PLUS || p->cur.kind == TOK_MINUS)) {
		int op = p->cur.kind == TOK_PLUS ? AR_ADD : AR_SUB;
		size_t pos = p->cur.pos;

		if (advance(p) < 0)
			return NULL;
		struct node *b = parse_bit(p);
		if (!b)
			return NULL;
		n = binary(p, N_ARITH, op, pos, n, b);
	}
	return n;
}

static struct node *parse_cmp(struct parser *p)
{
	struct node *lhs = parse_arith(p);
	int op;

	if (!lhs)
		return NULL;
	switch (p->cur.kind) {
	case TOK_EQ: op = OP_EQ; break;
	case TOK_NE: op = OP_NE; break;
	case TOK_LT: op = OP_LT; break;
	case TOK_LE: op = OP_LE; break;
	case TOK_GT: op = OP_GT; break;
	case TOK_GE: op = OP_GE; break;
	case TOK_MATCH: op = OP_MATCH; break;
	case TOK_NMATCH: op = OP_NMATCH; break;
	case TOK_IN: op = OP_IN; break;
	case TOK_ALLIN: op = OP_ALLIN; break;
	case TOK_NOT: {
		/* "not in" needs a second token of lookahead. */
		struct lexer saved = p->lx;
		struct token next;

		if (lex_next(&p->lx, &next) < 0)
			return NULL;
		if (next.kind != TOK_IN) {
			p->lx = saved;
			return fail_expected(p, "'in' after 'not', or '&&', '||' or end of expression");
		}
		op = OP_NOTIN;
		break;
	}
	default:
		return lhs;
	}
	size_t pos = p->cur.pos;
	if (advance(p) < 0)
		return NULL;
	struct node *rhs = parse_arith(p);
	if (!rhs)
		return NULL;
	return binary(p, N_CMP, op, pos, lhs, rhs);
}

static struct node *parse_not(struct parser *p)
{
	if (p->cur.kind == TOK_NOT) {
		struct node *n = new_node(p, N_NOT, p->cur.pos);

		if (!n || !enter(p) || advance(p) < 0)
			return NULL;
		n->a = parse_not(p);
		p->depth--;
		return n->a ? n : NULL;
	}
	return parse_cmp(p);
}

static struct node *parse_and(struct parser *p)
{
	struct node *n = parse_not(p);

	while (n && p->cur.kind == TOK_AND) {
		size_t pos = p->cur.pos;

		if (advance(p) < 0)
			return NULL;
		struct node *b = parse_not(p);
		if (!b)
			return NULL;
		n = binary(p, N_AND, 0, pos, n, b);
	}
	return n;
}

static struct node *parse_or(struct parser *p)
{
	struct node *n = parse_and(p);

	while (n && p->cur.kind == TOK_OR) {
		size_t pos = p->cur.pos;

		if (advance(p) < 0)
			return NULL;
		struct node *b = parse_and(p);
		if (!b)
			return NULL;
		n = binary(p, N_OR, 0, pos, n, b);
	}
	return n;
}

/* Stops as soon as the limit is passed, so the recursion stays bounded. */
static bool height_ok(const struct node *n, int depth)
{
	if (!n)
		return true;
	if (depth > SECL_MAX_HEIGHT)
		return false;
	if (!height_ok(n->a, depth + 1) || !height_ok(n->b, depth + 1))
		return false;
	for (size_t i = 0; i < n->n_items; i++)
		if (!height_ok(n->items[i], depth + 1))
			return false;
	return true;
}

struct node *secl_parse(const char *src, struct arena *arena, struct secl_error *err)
{
	struct parser p = { 0 };
	size_t len = strlen(src);
	struct node *root;

	if (len > SECL_MAX_EXPR_LEN) {
		secl_set_error(err, src, 0, SECL_ERR_LIMIT,
			       "expression longer than %d bytes", SECL_MAX_EXPR_LEN);
		return NULL;
	}
	p.lx.src = src;
	p.lx.len = len;
	p.lx.arena = arena;
	p.lx.err = err;
	p.arena = arena;
	p.err = err;
	if (advance(&p) < 0)
		return NULL;
	if (p.cur.kind == TOK_EOF) {
		secl_set_error(err, src, 0, SECL_ERR_SYNTAX, "expected an expression but found nothing");
		return NULL;
	}
	root = parse_or(&p);
	if (!root)
		return NULL;
	if (p.cur.kind != TOK_EOF)
		return fail_expected(&p, "an operator ('&&', '||', '==', ...) or end of expression");
	if (!height_ok(root, 1)) {
		secl_set_error(err, src, 0, SECL_ERR_LIMIT,
			       "expression has more than %d nested operators", SECL_MAX_HEIGHT);
		return NULL;
	}
	return root;
}

/* ---- macros ---- */

struct macro {
	char *id;
	struct node *tree;               /* resolved and checked; NULL if poisoned */
	enum secl_error_code poison;     /* why it cannot be used */
	char poison_msg[256];
	struct arena arena;
};

struct secl_macro_table {
	const struct secl_schema *schema;
	struct macro **items;
	size_t n, cap;
};

struct secl_macro_table *secl_macros_new(const struct secl_schema *schema)
{
	struct secl_macro_table *t;

	if (!schema)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (t)
		t->schema = schema;
	return t;
}

static void macro_free(struct macro *m)
{
	if (!m)
		return;
	arena_free(&m->arena);
	free(m->id);
	free(m);
}

void secl_macros_free(struct secl_macro_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		macro_free(t->items[i]);
	free(t->items);
	free(t);
}

static const struct macro *macro_find(const struct secl_macro_table *t, const char *id)
{
	if (!t)
		return NULL;
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->items[i]->id, id) == 0)
			return t->items[i];
	return NULL;
}

static int find_field(const struct secl_schema *s, const char *name)
{
	for (size_t i = 0; i < s->n_fields; i++)
		if (s->fields[i].name && strcmp(s->fields[i].name, name) == 0)
			return (int)i;
	return -1;
}

static bool valid_id(const char *id)
{
	if (!id || !*id || strlen(id) > 256)
		return false;
	for (const char *c = id; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '_' || *c == '.'))
			return false;
	return !(id[0] >= '0' && id[0] <= '9');
}

/* Puts m in the table, replacing a macro with the same id. */
static int macro_store(struct secl_macro_table *t, struct macro *m)
{
	for (size_t i = 0; i < t->n; i++) {
		if (strcmp(t->items[i]->id, m->id) == 0) {
			macro_free(t->items[i]);
			t->items[i] = m;
			return 0;
		}
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 16;
		struct macro **items = realloc(t->items, cap * sizeof(*items));

		if (!items)
			return -1;
		t->items = items;
		t->cap = cap;
	}
	t->items[t->n++] = m;
	return 0;
}

int secl_macros_add(struct secl_macro_table *t, const char *id, const char *expr,
		    struct secl_error *err)
{
	struct secl_error local;
	struct macro *m;

	if (!err)
		err = &local;
	memset(err, 0, sizeof(*err));
	if (!t || !expr || !valid_id(id)) {
		secl_set_error(err, NULL, 0, SECL_ERR_INVALID,
			       "invalid macro id: expected letters, digits, '_' or '.'");
		return -1;
	}
	if (find_field(t->schema, id) >= 0) {
		secl_set_error(err, NULL, 0, SECL_ERR_DUPLICATE,
			       "macro id '%s' is already a field name", id);
		return -1;
	}
	for (size_t i = 0; i < t->schema->n_constants; i++) {
		if (strcmp(t->schema->constants[i].name, id) == 0) {
			secl_set_error(err, NULL, 0, SECL_ERR_DUPLICATE,
				       "macro id '%s' is already a constant name", id);
			return -1;
		}
	}
	m = calloc(1, sizeof(*m));
	if (!m || !(m->id = strdup(id))) {
		free(m);
		secl_set_error(err, NULL, 0, SECL_ERR_NOMEM, "out of memory");
		return -1;
	}
	arena_init(&m->arena, SECL_MAX_RULE_BYTES);
	m->tree = secl_parse(expr, &m->arena, err);
	if (m->tree) {
		struct compile_ctx cc = {
			.schema = t->schema, .macros = t, .rs = NULL, .arena = &m->arena,
			.src = expr, .err = err, .event = -1,
		};
		if (secl_compile_tree(&cc, &m->tree, false) < 0)
			m->tree = NULL;
	}
	if (!m->tree) {
		/* Keep the failure so rules using the macro can say why. */
		arena_free(&m->arena);
		m->poison = err->code;
		snprintf(m->poison_msg, sizeof(m->poison_msg), "%s", err->msg);
		if (macro_store(t, m) < 0)
			macro_free(m);
		return -1;
	}
	if (macro_store(t, m) < 0) {
		macro_free(m);
		secl_set_error(err, NULL, 0, SECL_ERR_NOMEM, "out of memory");
		return -1;
	}
	return 0;
}

/* Copies a macro's tree into the rule's arena; every copied node points at
 * the macro reference so errors found later name a place in the rule. */
static struct node *copy_tree(struct compile_ctx *cc, const struct node *src, size_t pos)
{
	struct node *n;

	if (!src)
		return NULL;
	if (++cc->nodes > 200000)
		return NULL;
	n = arena_alloc(cc->arena, sizeof(*n));
	if (!n)
		return NULL;
	*n = *src;
	n->pos = pos;
	n->slot = -1;
	n->m = NULL;
	n->re = NULL;
	n->scratch = NULL;
	n->text_buf = NULL;
	n->type = VT_NONE;
	if (src->str && !(n->str = arena_strndup(cc->arena, src->str, src->len)))
		return NULL;
	if (src->a && !(n->a = copy_tree(cc, src->a, pos)))
		return NULL;
	if (src->b && !(n->b = copy_tree(cc, src->b, pos)))
		return NULL;
	if (src->n_items) {
		n->items = arena_alloc(cc->arena, src->n_items * sizeof(*n->items));
		if (!n->items)
			return NULL;
		for (size_t i = 0; i < src->n_items; i++)
			if (!(n->items[i] = copy_tree(cc, src->items[i], pos)))
				return NULL;
	}
	if (src->n_parts) {
		n->parts = arena_alloc(cc->arena, src->n_parts * sizeof(*n->parts));
		if (!n->parts)
			return NULL;
		for (size_t i = 0; i < src->n_parts; i++) {
			n->parts[i] = src->parts[i];
			n->parts[i].pos = pos;
			if (src->parts[i].text &&
			    !(n->parts[i].text = arena_strndup(cc->arena, src->parts[i].text,
							       src->parts[i].len)))
				return NULL;
			n->parts[i].name = NULL;
		}
	}
	return n;
}

/* ---- name resolution ---- */

static int fail(struct compile_ctx *cc, size_t pos, enum secl_error_code code,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int fail(struct compile_ctx *cc, size_t pos, enum secl_error_code code,
		const char *fmt, ...)
{
	char msg[sizeof(cc->err->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	secl_set_error(cc->err, cc->src, pos, code, "%s", msg);
	return -1;
}

static int note_event(struct compile_ctx *cc, int field, size_t pos)
{
	const struct secl_field *f = &cc->schema->fields[field];

	if (f->event_type < 0)
		return 0;
	if ((size_t)f->event_type >= cc->schema->n_events)
		return fail(cc, pos, SECL_ERR_INVALID,
			    "schema error: field '%s' has event type %d out of range",
			    f->name, f->event_type);
	if (cc->event < 0) {
		cc->event = f->event_type;
		cc->event_field = field;
		cc->event_pos = pos;
		return 0;
	}
	if (cc->event != f->event_type)
		return fail(cc, pos, SECL_ERR_EVENT_MIX,
			    "field '%s' belongs to event type '%s' but the rule already uses '%s' (field '%s'); a rule applies to one event type",
			    f->name, cc->schema->event_names[f->event_type],
			    cc->schema->event_names[cc->event],
			    cc->schema->fields[cc->event_field].name);
	return 0;
}

static bool is_event_name(const struct secl_schema *s, const char *name, size_t len)
{
	for (size_t i = 0; i < s->n_events; i++)
		if (strlen(s->event_names[i]) == len && memcmp(s->event_names[i], name, len) == 0)
			return true;
	return false;
}

static bool is_field_prefix(const struct secl_schema *s, const char *name, size_t len)
{
	for (size_t i = 0; i < s->n_fields; i++)
		if (strncmp(s->fields[i].name, name, len) == 0 && s->fields[i].name[len] == '.')
			return true;
	return false;
}

/* Resolves a name that is not a field, constant or macro into an error. */
static int unknown_name(struct compile_ctx *cc, const struct node *n, bool variable)
{
	const char *dot = strchr(n->str, '.');

	if (dot && dot != n->str) {
		size_t len = (size_t)(dot - n->str);

		if (!is_event_name(cc->schema, n->str, len) && !is_field_prefix(cc->schema, n->str, len))
			return fail(cc, n->pos, SECL_ERR_UNKNOWN_EVENT,
				    "unknown event type '%.*s' in field '%s'", (int)len, n->str, n->str);
		return fail(cc, n->pos, SECL_ERR_UNKNOWN, "unknown field '%s'", n->str);
	}
	if (variable)
		return fail(cc, n->pos, SECL_ERR_UNKNOWN,
			    "unknown variable '${%s}': expected a field name", n->str);
	return fail(cc, n->pos, SECL_ERR_UNKNOWN,
		    "unknown identifier '%s': not a field, constant or macro", n->str);
}

/* Finds "<string field>.length". */
static int find_length_field(const struct secl_schema *s, const char *name)
{
	size_t len = strlen(name);
	char base[300];

	if (len < 8 || len >= sizeof(base) || strcmp(name + len - 7, ".length") != 0)
		return -1;
	memcpy(base, name, len - 7);
	base[len - 7] = '\0';
	int f = find_field(s, base);
	return f >= 0 && s->fields[f].type == SECL_STRING ? f : -1;
}

static int resolve(struct compile_ctx *cc, struct node **np)
{
	struct node *n = *np;

	switch (n->kind) {
	case N_IDENT: {
		int f = find_field(cc->schema, n->str);

		if (f >= 0) {
			n->kind = N_FIELD;
			n->field = f;
			return note_event(cc, f, n->pos);
		}
		f = find_length_field(cc->schema, n->str);
		if (f >= 0) {
			n->kind = N_FIELD;
			n->field = f;
			n->length = true;
			return note_event(cc, f, n->pos);
		}
		for (size_t i = 0; i < cc->schema->n_constants; i++) {
			if (strcmp(cc->schema->constants[i].name, n->str) == 0) {
				n->kind = N_INT;
				n->i = cc->schema->constants[i].value;
				return 0;
			}
		}
		const struct macro *m = macro_find(cc->macros, n->str);
		if (m) {
			if (!m->tree)
				return fail(cc, n->pos, m->poison == SECL_ERR_UNKNOWN_EVENT ?
					    SECL_ERR_UNKNOWN_EVENT : SECL_ERR_UNKNOWN,
					    "macro '%s' cannot be used: %s", m->id, m->poison_msg);
			struct node *copy = copy_tree(cc, m->tree, n->pos);
			if (!copy)
				return fail(cc, n->pos, SECL_ERR_LIMIT,
					    "rule too large after expanding macro '%s'", m->id);
			*np = copy;
			/* The copy is resolved already; walk it for event types. */
			return resolve(cc, np);
		}
		return unknown_name(cc, n, false);
	}
	case N_VAR: {
		int f = find_field(cc->schema, n->str);

		if (f < 0)
			return unknown_name(cc, n, true);
		n->kind = N_FIELD;
		n->field = f;
		return note_event(cc, f, n->pos);
	}
	case N_FIELD:
		return note_event(cc, n->field, n->pos);
	case N_TEMPLATE:
		for (size_t i = 0; i < n->n_parts; i++) {
			struct tpl_part *part = &n->parts[i];

			if (part->text)
				continue;
			if (part->field < 0) {
				part->field = find_field(cc->schema, part->name);
				if (part->field < 0) {
					struct node tmp = { .str = part->name, .pos = part->pos };
					return unknown_name(cc, &tmp, true);
				}
				enum secl_type t = cc->schema->fields[part->field].type;
				if (t != SECL_STRING && t != SECL_INT)
					return fail(cc, part->pos, SECL_ERR_TYPE,
						    "variable '${%s}' in a string must be a string or integer field",
						    part->name);
			}
			if (note_event(cc, part->field, part->pos) < 0)
				return -1;
		}
		return 0;
	default:
		break;
	}
	if (n->a && resolve(cc, &n->a) < 0)
		return -1;
	if (n->b && resolve(cc, &n->b) < 0)
		return -1;
	for (size_t i = 0; i < n->n_items; i++)
		if (resolve(cc, &n->items[i]) < 0)
			return -1;
	return 0;
}

/* ---- type checking ---- */

static const char *type_name(enum vtype t)
{
	switch (t) {
	case VT_NONE: return "nothing";
	case VT_BOOL: return "a boolean";
	case VT_INT: return "an integer";
	case VT_STR: return "a string";
	case VT_IP: return "an IP address";
	case VT_PATTERN: return "a pattern";
	case VT_LIST_INT: return "a list of integers";
	case VT_LIST_STR: return "a list of strings";
	case VT_LIST_IP: return "a list of IP addresses";
	case VT_LIST_EMPTY: return "an empty list";
	}
	return "a value";
}

static enum vtype field_vtype(const struct secl_field *f, bool length)
{
	if (length)
		return VT_INT;
	switch (f->type) {
	case SECL_INT: return VT_INT;
	case SECL_STRING: return VT_STR;
	case SECL_BOOL: return VT_BOOL;
	case SECL_IP: return VT_IP;
	}
	return VT_NONE;
}

/* "open.flags (an integer)" or "a string", for messages. */
static void describe(struct compile_ctx *cc, const struct node *n, enum vtype t,
		     char *buf, size_t size)
{
	if (n->kind == N_FIELD)
		snprintf(buf, size, "'%s%s' (%s)", cc->schema->fields[n->field].name,
			 n->length ? ".length" : "", type_name(t));
	else
		snprintf(buf, size, "%s", type_name(t));
}

static bool is_literal(const struct node *n)
{
	switch (n->kind) {
	case N_INT: case N_BOOL: case N_STR: case N_PATTERN: case N_REGEX: case N_IP: case N_LIST:
		return true;
	default:
		return false;
	}
}

bool field_is_path(const struct secl_field *f)
{
	size_t len = strlen(f->name);

	return len >= 5 && strcmp(f->name + len - 5, ".path") == 0;
}

static void free_regex(void *p)
{
	regfree(p);
	free(p);
}

/* glibc's regcomp copies a sub-expression for every '+' and {m,n} applied
 * to it, so "(a+)+" nested or "a++++" stacked grows exponentially, and
 * back-references make matching exponential. Refuse back-references and
 * estimate the compiled size: a sequence adds, a repetition multiplies. */
#define REGEX_MAX_COST  20000
#define REGEX_MAX_GROUP 32

static long saturate(long v)
{
	return v > REGEX_MAX_COST ? REGEX_MAX_COST + 1 : v;
}

static int check_regex_limits(struct compile_ctx *cc, const struct node *n)
{
	const char *s = n->str;
	long sum[REGEX_MAX_GROUP + 1] = { 0 }, last[REGEX_MAX_GROUP + 1] = { 0 };
	int depth = 0;
	bool after_repeat = false;

	if (n->len > SECL_MAX_REGEX)
		return fail(cc, n->pos, SECL_ERR_REGEX, "regular expression longer than %d bytes",
			    SECL_MAX_REGEX);
	for (size_t i = 0; i < n->len; i++) {
		long factor = 0;
		bool repeat = s[i] == '*' || s[i] == '+' || s[i] == '?' || s[i] == '{';

		/* POSIX leaves "a**" or "a+*" undefined; glibc blows up on them. */
		if (repeat && after_repeat)
			return fail(cc, n->pos, SECL_ERR_REGEX,
				    "repetition operator '%c' directly after another one in regular expression",
				    s[i]);
		after_repeat = repeat;
		switch (s[i]) {
		case '\\':
			if (i + 1 < n->len && s[i + 1] >= '1' && s[i + 1] <= '9')
				return fail(cc, n->pos, SECL_ERR_REGEX,
					    "back-references are not supported in regular expressions");
			i++;
			last[depth] = 1;
			sum[depth] = saturate(sum[depth] + 1);
			continue;
		case '[':
			/* A bracket expression is one atom; ']' first is literal. */
			i++;
			if (i < n->len && s[i] == '^')
				i++;
			if (i < n->len && s[i] == ']')
				i++;
			while (i < n->len && s[i] != ']') {
				if (s[i] == '[' && i + 1 < n->len && (s[i + 1] == ':' || s[i + 1] == '.' || s[i + 1] == '=')) {
					char close = s[i + 1];

					for (i += 2; i + 1 < n->len && !(s[i] == close && s[i + 1] == ']'); i++)
						;
					i++;
				}
				i++;
			}
			last[depth] = 1;
			sum[depth] = saturate(sum[depth] + 1);
			continue;
		case '(':
			if (depth == REGEX_MAX_GROUP)
				return fail(cc, n->pos, SECL_ERR_REGEX,
					    "regular expression nests more than %d groups", REGEX_MAX_GROUP);
			depth++;
			sum[depth] = last[depth] = 0;
			continue;
		case ')':
			if (depth == 0)
				break; /* regcomp reports it */
			depth--;
			last[depth] = sum[depth + 1] > 0 ? sum[depth + 1] : 1;
			sum[depth] = saturate(sum[depth] + last[depth]);
			continue;
		case '|':
			last[depth] = 0;
			continue;
		case '*':
		case '?':
			continue;
		case '+':
			factor = 2;
			break;
		case '{': {
			long v = 0, max = 1;

			for (i++; i < n->len && s[i] != '}'; i++) {
				if (s[i] >= '0' && s[i] <= '9') {
					v = v * 10 + (s[i] - '0');
					if (v > 255)
						return fail(cc, n->pos, SECL_ERR_REGEX,
							    "repetition count above 255 in regular expression");
					if (v > max)
						max = v;
				} else {
					v = 0;
				}
			}
			factor = max + 1;
			break;
		}
		default:
			last[depth] = 1;
			sum[depth] = saturate(sum[depth] + 1);
			continue;
		}
		if (factor) {
			sum[depth] = saturate(sum[depth] + last[depth] * (factor - 1));
			last[depth] = saturate(last[depth] * factor);
			if (sum[depth] > REGEX_MAX_COST)
				return fail(cc, n->pos, SECL_ERR_REGEX,
					    "regular expression too complex (nested or stacked repetitions)");
		}
	}
	for (int d = 0; d <= depth; d++)
		if (sum[d] > REGEX_MAX_COST)
			return fail(cc, n->pos, SECL_ERR_REGEX,
				    "regular expression too complex (nested or stacked repetitions)");
	return 0;
}

static int compile_regex(struct compile_ctx *cc, struct node *n)
{
	regex_t *re;
	int rc;

	if (n->re)
		return 0;
	if (check_regex_limits(cc, n) < 0)
		return -1;
	re = malloc(sizeof(*re));
	if (!re)
		return fail(cc, n->pos, SECL_ERR_NOMEM, "out of memory");
	rc = regcomp(re, n->str, REG_EXTENDED | REG_NOSUB);
	if (rc != 0) {
		char msg[128];

		regerror(rc, re, msg, sizeof(msg));
		free(re);
		return fail(cc, n->pos, SECL_ERR_REGEX, "invalid regular expression: %s", msg);
	}
	if (arena_on_free(cc->arena, free_regex, re) < 0) {
		free_regex(re);
		return fail(cc, n->pos, SECL_ERR_NOMEM, "out of memory");
	}
	n->re = re;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	const struct secl_str *x = a, *y = b;

	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return memcmp(x->ptr, y->ptr, x->len);
}

static int cmp_int(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static void glob_init(struct glob *g, const char *pat, size_t len, bool path_mode)
{
	const char *star = memchr(pat, '*', len);

	g->pat = pat;
	g->len = len;
	g->path_mode = path_mode;
	g->prefix_len = star ? (size_t)(star - pat) : len;
}

/* Builds the matcher for a constant right operand (a literal or a list). */
static int build_matcher(struct compile_ctx *cc, struct node *cmp, enum secl_type type,
			 bool path_mode)
{
	struct node *rhs = cmp->b;
	struct node **items = rhs->kind == N_LIST ? rhs->items : &cmp->b;
	size_t n = rhs->kind == N_LIST ? rhs->n_items : 1;
	struct matcher *m = arena_alloc(cc->arena, sizeof(*m));

	if (!m)
		return fail(cc, cmp->pos, SECL_ERR_NOMEM, "out of memory");
	m->type = type;
	if (n) {
		m->exact = arena_alloc(cc->arena, n * sizeof(*m->exact));
		m->globs = arena_alloc(cc->arena, n * sizeof(*m->globs));
		m->regexes = arena_alloc(cc->arena, n * sizeof(*m->regexes));
		m->ints = arena_alloc(cc->arena, n * sizeof(*m->ints));
		m->cidrs = arena_alloc(cc->arena, n * sizeof(*m->cidrs));
		m->prefixes = arena_alloc(cc->arena, n * sizeof(*m->prefixes));
		if (!m->exact || !m->globs || !m->regexes || !m->ints || !m->cidrs || !m->prefixes)
			return fail(cc, cmp->pos, SECL_ERR_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		struct node *it = items[i];

		switch (it->kind) {
		case N_STR:
			m->exact[m->n_exact++] = (struct secl_str){ it->str, it->len };
			break;
		case N_PATTERN:
			if (it->len > SECL_MAX_PATTERN)
				return fail(cc, it->pos, SECL_ERR_LIMIT,
					    "pattern longer than %d bytes", SECL_MAX_PATTERN);
			if (!memchr(it->str, '*', it->len))
				m->exact[m->n_exact++] = (struct secl_str){ it->str, it->len };
			else
				glob_init(&m->globs[m->n_globs++], it->str, it->len, path_mode);
			break;
		case N_REGEX:
			if (compile_regex(cc, it) < 0)
				return -1;
			m->regexes[m->n_regexes++] = it->re;
			break;
		case N_INT:
			m->ints[m->n_ints++] = it->i;
			break;
		case N_IP:
			m->cidrs[m->n_cidrs] = it->ip;
			m->prefixes[m->n_cidrs++] = it->prefix;
			break;
		case N_BOOL:
			m->b = it->bval;
			break;
		default:
			return fail(cc, it->pos, SECL_ERR_TYPE, "expected a constant value in list");
		}
	}
	if (m->n_exact > 1)
		qsort(m->exact, m->n_exact, sizeof(*m->exact), cmp_str);
	if (m->n_ints > 1)
		qsort(m->ints, m->n_ints, sizeof(*m->ints), cmp_int);
	cmp->m = m;
	return 0;
}

static int check(struct compile_ctx *cc, struct node **np, enum vtype *out);

static int check_list(struct compile_ctx *cc, struct node *n, enum vtype *out)
{
	enum vtype lt = VT_LIST_EMPTY;

	for (size_t i = 0; i < n->n_items; i++) {
		enum vtype t, want;

		if (check(cc, &n->items[i], &t) < 0)
			return -1;
		struct node *it = n->items[i];
		if (!is_literal(it) || it->kind == N_LIST || it->kind == N_BOOL)
			return fail(cc, it->pos, SECL_ERR_TYPE,
				    "expected a constant (number, string, pattern, regex or IP) in list but found %s",
				    it->kind == N_FIELD ? "a field" : type_name(t));
		want = t == VT_INT ? VT_LIST_INT : t == VT_IP ? VT_LIST_IP : VT_LIST_STR;
		if (lt != VT_LIST_EMPTY && lt != want)
			return fail(cc, it->pos, SECL_ERR_TYPE,
				    "list mixes types: expected %s like the first element but found %s",
				    lt == VT_LIST_INT ? "an integer" : lt == VT_LIST_IP ? "an IP address" : "a string",
				    type_name(t));
		lt = want;
	}
	*out = lt;
	return 0;
}

static int mirror_op(int op)
{
	switch (op) {
	case OP_LT: return OP_GT;
	case OP_LE: return OP_GE;
	case OP_GT: return OP_LT;
	case OP_GE: return OP_LE;
	default: return op;
	}
}

static const char *op_name(int op)
{
	static const char *const names[] = {
		"==", "!=", "<", "<=", ">", ">=", "=~", "!~", "in", "not in", "allin",
	};
	return op >= 0 && op <= OP_ALLIN ? names[op] : "?";
}

static int check_cmp(struct compile_ctx *cc, struct node *n, enum vtype *out)
{
	enum vtype lt, rt;
	char ld[160], rd[160];

	if (check(cc, &n->a, &lt) < 0 || check(cc, &n->b, &rt) < 0)
		return -1;
	/* Constant on the left: swap so matchers always sit on the right. */
	if (is_literal(n->a) && !is_literal(n->b) && n->op <= OP_GE) {
		struct node *tmp = n->a;
		enum vtype tt = lt;

		n->a = n->b;
		n->b = tmp;
		lt = rt;
		rt = tt;
		n->op = mirror_op(n->op);
	}
	describe(cc, n->a, lt, ld, sizeof(ld));
	describe(cc, n->b, rt, rd, sizeof(rd));
	if (lt == VT_PATTERN || lt >= VT_LIST_INT)
		return fail(cc, n->a->pos, SECL_ERR_TYPE,
			    "expected a field or value on the left of '%s' but found %s",
			    op_name(n->op), ld);

	bool ok = false;
	switch (n->op) {
	case OP_EQ:
	case OP_NE:
		ok = rt == lt || (lt == VT_STR && rt == VT_PATTERN);
		break;
	case OP_MATCH:
	case OP_NMATCH:
		if (lt != VT_STR)
			return fail(cc, n->a->pos, SECL_ERR_TYPE,
				    "'%s' needs a string on the left but found %s", op_name(n->op), ld);
		ok = rt == VT_STR || rt == VT_PATTERN;
		/* A plain string on the right of =~ is a pattern. */
		if (ok && (n->b->kind == N_STR || n->b->kind == N_TEMPLATE)) {
			if (n->b->kind == N_STR)
				n->b->kind = N_PATTERN;
			n->b->is_pattern = true;
			n->b->type = rt = VT_PATTERN;
		}
		break;
	case OP_LT: case OP_LE: case OP_GT: case OP_GE:
		if (lt != VT_INT)
			return fail(cc, n->a->pos, SECL_ERR_TYPE,
				    "'%s' needs integers but found %s", op_name(n->op), ld);
		ok = rt == VT_INT;
		break;
	case OP_IN: case OP_NOTIN: case OP_ALLIN:
		ok = rt == VT_LIST_EMPTY ||
		     (lt == VT_INT && rt == VT_LIST_INT) ||
		     (lt == VT_STR && (rt == VT_LIST_STR || rt == VT_PATTERN)) ||
		     (lt == VT_IP && rt == VT_LIST_IP) || rt == lt;
		break;
	}
	if (!ok)
		return fail(cc, n->b->pos, SECL_ERR_TYPE, "cannot compare %s with %s using '%s'",
			    ld, rd, op_name(n->op));
	if (n->b->kind == N_REGEX && compile_regex(cc, n->b) < 0)
		return -1;
	if (n->b->kind == N_PATTERN && n->b->len > SECL_MAX_PATTERN)
		return fail(cc, n->b->pos, SECL_ERR_LIMIT, "pattern longer than %d bytes",
			    SECL_MAX_PATTERN);
	bool path_mode = n->a->kind == N_FIELD && !n->a->length &&
			 field_is_path(&cc->schema->fields[n->a->field]);
	if (n->b->kind == N_PATTERN)
		n->b->path_mode = path_mode;
	if (n->b->kind == N_TEMPLATE)
		n->b->path_mode = path_mode;
	if (is_literal(n->b) && n->op != OP_LT && n->op != OP_LE && n->op != OP_GT &&
	    n->op != OP_GE && cc->rs) {
		enum secl_type st = lt == VT_INT ? SECL_INT : lt == VT_STR ? SECL_STRING :
				    lt == VT_IP ? SECL_IP : SECL_BOOL;
		if (build_matcher(cc, n, st, path_mode) < 0)
			return -1;
	} else if (is_literal(n->b)) {
		/* Checking a macro: still validate the regexes of lists. */
		for (size_t i = 0; i < n->b->n_items; i++)
			if (n->b->items[i]->kind == N_REGEX && compile_regex(cc, n->b->items[i]) < 0)
				return -1;
	}
	*out = VT_BOOL;
	return 0;
}

static int need_scratch(struct compile_ctx *cc, struct node *n)
{
	if (!cc->rs || n->scratch)
		return 0;
	n->scratch = arena_alloc(cc->arena, SECL_MAX_VALUES * sizeof(*n->scratch));
	return n->scratch ? 0 : fail(cc, n->pos, SECL_ERR_NOMEM, "out of memory");
}

static int check(struct compile_ctx *cc, struct node **np, enum vtype *out)
{
	struct node *n = *np;
	enum vtype ta, tb;
	char d[160];

	switch (n->kind) {
	case N_OR:
	case N_AND:
		if (check(cc, &n->a, &ta) < 0 || check(cc, &n->b, &tb) < 0)
			return -1;
		if (ta != VT_BOOL || tb != VT_BOOL) {
			struct node *bad = ta != VT_BOOL ? n->a : n->b;

			describe(cc, bad, ta != VT_BOOL ? ta : tb, d, sizeof(d));
			return fail(cc, bad->pos, SECL_ERR_TYPE,
				    "expected a boolean expression around '%s' but found %s",
				    n->kind == N_OR ? "||" : "&&", d);
		}
		*out = VT_BOOL;
		break;
	case N_NOT:
		if (check(cc, &n->a, &ta) < 0)
			return -1;
		if (ta != VT_BOOL) {
			describe(cc, n->a, ta, d, sizeof(d));
			return fail(cc, n->a->pos, SECL_ERR_TYPE,
				    "expected a boolean expression after '!' but found %s", d);
		}
		*out = VT_BOOL;
		break;
	case N_CMP:
		return check_cmp(cc, n, out);
	case N_FIELD:
		*out = field_vtype(&cc->schema->fields[n->field], n->length);
		if (cc->rs) {
			n->slot = secl_ruleset_slot(cc->rs, n->field);
			if (n->slot < 0)
				return fail(cc, n->pos, SECL_ERR_NOMEM, "out of memory");
			if (n->length && need_scratch(cc, n) < 0)
				return -1;
		}
		break;
	case N_INT: *out = VT_INT; break;
	case N_BOOL: *out = VT_BOOL; break;
	case N_STR: *out = VT_STR; break;
	case N_IP: *out = VT_IP; break;
	case N_PATTERN: *out = VT_PATTERN; break;
	case N_REGEX:
		if (compile_regex(cc, n) < 0)
			return -1;
		*out = VT_PATTERN;
		break;
	case N_LIST:
		return check_list(cc, n, out);
	case N_TEMPLATE:
		*out = n->is_pattern ? VT_PATTERN : VT_STR;
		if (cc->rs && !n->text_buf) {
			n->text_buf = arena_alloc(cc->arena, SECL_TEMPLATE_BUF);
			n->scratch = arena_alloc(cc->arena, sizeof(*n->scratch));
			if (!n->text_buf || !n->scratch)
				return fail(cc, n->pos, SECL_ERR_NOMEM, "out of memory");
			for (size_t i = 0; i < n->n_parts; i++) {
				if (n->parts[i].text)
					continue;
				n->parts[i].slot = secl_ruleset_slot(cc->rs, n->parts[i].field);
				if (n->parts[i].slot < 0)
					return fail(cc, n->pos, SECL_ERR_NOMEM, "out of memory");
			}
		}
		break;
	case N_ARITH:
		if (check(cc, &n->a, &ta) < 0 || check(cc, &n->b, &tb) < 0)
			return -1;
		if (ta != VT_INT || tb != VT_INT) {
			struct node *bad = ta != VT_INT ? n->a : n->b;

			describe(cc, bad, ta != VT_INT ? ta : tb, d, sizeof(d));
			return fail(cc, bad->pos, SECL_ERR_TYPE,
				    "expected an integer for an arithmetic or bit operator but found %s", d);
		}
		if (n->a->kind == N_INT && n->b->kind == N_INT) {
			n->i = secl_arith(n->op, n->a->i, n->b->i);
			n->kind = N_INT;
			n->a = n->b = NULL;
		} else if (need_scratch(cc, n) < 0) {
			return -1;
		}
		*out = VT_INT;
		break;
	case N_NEG:
	case N_BITNOT:
		if (check(cc, &n->a, &ta) < 0)
			return -1;
		if (ta != VT_INT) {
			describe(cc, n->a, ta, d, sizeof(d));
			return fail(cc, n->a->pos, SECL_ERR_TYPE,
				    "expected an integer after '%s' but found %s",
				    n->kind == N_NEG ? "-" : "^", d);
		}
		if (n->a->kind == N_INT) {
			uint64_t v = (uint64_t)n->a->i;

			n->i = (int64_t)(n->kind == N_NEG ? 0 - v : ~v);
			n->kind = N_INT;
			n->a = NULL;
		} else if (need_scratch(cc, n) < 0) {
			return -1;
		}
		*out = VT_INT;
		break;
	case N_IDENT:
	case N_VAR:
		return fail(cc, n->pos, SECL_ERR_UNKNOWN, "unresolved name '%s'", n->str);
	}
	n->type = *out;
	switch (n->kind) {
	case N_INT: n->lit.i = n->i; break;
	case N_BOOL: n->lit.b = n->bval; break;
	case N_STR: n->lit.s = (struct secl_str){ n->str, n->len }; break;
	case N_IP: n->lit.ip = n->ip; break;
	default: break;
	}
	return 0;
}

int secl_compile_tree(struct compile_ctx *cc, struct node **root, bool want_bool)
{
	enum vtype t;

	if (resolve(cc, root) < 0)
		return -1;
	if (!height_ok(*root, 1))
		return fail(cc, 0, SECL_ERR_LIMIT,
			    "expression has more than %d nested operators after macro expansion",
			    SECL_MAX_HEIGHT);
	if (check(cc, root, &t) < 0)
		return -1;
	if (want_bool && t != VT_BOOL) {
		char d[160];

		describe(cc, *root, t, d, sizeof(d));
		return fail(cc, (*root)->pos, SECL_ERR_TYPE,
			    "expected a boolean expression (a comparison) but found %s", d);
	}
	return 0;
}
