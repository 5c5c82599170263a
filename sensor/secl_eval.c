/* secl_eval.c - rulesets: compiled rules bucketed by event type, their
 * evaluation, and the approver and discarder queries used for in-kernel
 * filtering.
 *
 * Evaluation never parses or allocates. Field values are fetched through the
 * schema getters at most once per event (a per-field cache stamped with an
 * evaluation counter). Rules whose top-level conjunction contains an exact
 * "field == value" or "field in [values]" test are indexed by that value in
 * a hash table per event type, so an event only evaluates the rules that
 * could match plus the rules that have no such test.
 *
 * Discarders use the same evaluator in a three-valued mode: one field has a
 * known value, every other field is unknown, and a rule is ruled out only if
 * it is false whatever the unknown fields hold. */
#include "secl_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The rule can only hold if field takes a value listed by one of the
 * matchers (exact strings or integers only). */
#define KEY_MAX_MATCHERS 8

struct rule_key {
	int field;                /* -1: the rule has no key */
	bool prefix;              /* keyed by literal prefixes of globs */
	const struct matcher *ms[KEY_MAX_MATCHERS];
	size_t n;
};

/* Shortest literal prefix worth indexing: "/etc" yes, "/" no. */
#define PREFIX_KEY_MIN 4
#define PREFIX_KEY_MAX 32

struct rule {
	char *id;
	int event;                /* -1: wildcard (common fields only) */
	struct node *root;
	struct arena arena;
	struct rule_key key;
};

struct slot {
	uint64_t gen;
	size_t n;
	union secl_scalar vals[SECL_MAX_VALUES];
};

struct index_entry {
	bool used;
	uint64_t hash;
	union secl_scalar key;
	int *positions;           /* positions in the plan */
	size_t n, cap;
};

struct field_index {
	int field, slot;
	enum secl_type type;
	size_t cut;               /* 0: exact values; else first cut bytes */
	struct index_entry *table;
	size_t mask;
};

/* The rules one event type evaluates, with their index; built lazily. */
struct plan {
	bool built;
	int *rules;               /* rule indices, in order of addition */
	size_t n;
	size_t words;
	uint64_t *always;         /* plan positions of rules without a key */
	uint64_t *cand;           /* scratch */
	struct field_index *indexes;
	size_t n_indexes;
};

struct secl_ruleset {
	const struct secl_schema *schema;
	struct rule **rules;
	size_t n_rules, cap_rules;
	int *slot_of;             /* schema field -> slot, or -1 */
	struct slot *slots;
	size_t n_slots;
	uint64_t gen;
	struct plan *plans;       /* one per event type */
	size_t n_wildcard;
	size_t *n_per_event;
};

enum { TRI_FALSE = 0, TRI_TRUE = 1, TRI_UNKNOWN = 2 };
#define UNKNOWN_COUNT ((size_t)-1)

struct env {
	struct secl_ruleset *rs;
	const void *event;
	bool partial;
	int fixed_field;
	const union secl_scalar *fixed;
};

/* ---- matching ---- */

/* Getters may hand out { NULL, 0 } for an empty string; memcmp must not
 * see a NULL pointer even for zero bytes. */
static bool bytes_equal(const char *a, const char *b, size_t len)
{
	return len == 0 || memcmp(a, b, len) == 0;
}

bool ip_in_cidr(const struct secl_ip *ip, const struct secl_ip *net, int prefix)
{
	int full = prefix / 8, rest = prefix % 8;

	if (memcmp(ip->addr, net->addr, (size_t)full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (ip->addr[full] & mask) == (net->addr[full] & mask);
}

bool regex_match(regex_t *re, const char *s, size_t len)
{
	regmatch_t m[1];

	/* REG_STARTEND: field strings are not NUL-terminated. */
	m[0].rm_so = 0;
	m[0].rm_eo = (regoff_t)len;
	return regexec(re, s ? s : "", 1, m, REG_STARTEND) == 0;
}

bool secl_glob_match(const char *pat, size_t plen, const char *s, size_t len, bool path_mode)
{
	if (!path_mode) {
		/* '*' matches anything: greedy with one backtrack point. */
		size_t p = 0, i = 0, star = (size_t)-1, mark = 0;

		while (i < len) {
			if (p < plen && pat[p] == '*') {
				star = p++;
				mark = i;
			} else if (p < plen && pat[p] == s[i]) {
				p++;
				i++;
			} else if (star != (size_t)-1) {
				p = star + 1;
				i = ++mark;
			} else {
				return false;
			}
		}
		while (p < plen && pat[p] == '*')
			p++;
		return p == plen;
	}

	/* Path mode: '*' stops at '/', '**' does not. Simulate the pattern as
	 * an automaton, one state per token: O(len * tokens), no backtracking. */
	enum { LIT, STAR, GLOBSTAR };
	unsigned char kind[SECL_MAX_PATTERN + 1], ch[SECL_MAX_PATTERN + 1];
	unsigned char cur[SECL_MAX_PATTERN + 2], nxt[SECL_MAX_PATTERN + 2];
	size_t m = 0;

	if (plen > SECL_MAX_PATTERN)
		return false;
	for (size_t p = 0; p < plen;) {
		if (pat[p] == '*') {
			size_t run = 0;

			while (p < plen && pat[p] == '*') {
				p++;
				run++;
			}
			kind[m] = run > 1 ? GLOBSTAR : STAR;
		} else {
			kind[m] = LIT;
			ch[m] = (unsigned char)pat[p++];
		}
		m++;
	}
	memset(cur, 0, m + 1);
	cur[0] = 1;
	for (size_t t = 0; t < m; t++)
		if (cur[t] && kind[t] != LIT)
			cur[t + 1] = 1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		bool any = false;

		memset(nxt, 0, m + 1);
		for (size_t t = 0; t < m; t++) {
			if (!cur[t])
				continue;
			if (kind[t] == LIT) {
				if (ch[t] == c)
					nxt[t + 1] = 1;
			} else if (kind[t] == GLOBSTAR || c != '/') {
				nxt[t] = 1;
			}
		}
		for (size_t t = 0; t <= m; t++) {
			if (nxt[t] && t < m && kind[t] != LIT)
				nxt[t + 1] = 1;
			any |= nxt[t];
		}
		if (!any)
			return false;
		memcpy(cur, nxt, m + 1);
	}
	return cur[m];
}

bool glob_match_compiled(const struct glob *g, const char *s, size_t len)
{
	/* Cheap reject on the literal prefix before the automaton. */
	if (len < g->prefix_len || !bytes_equal(s, g->pat, g->prefix_len))
		return false;
	return secl_glob_match(g->pat + g->prefix_len, g->len - g->prefix_len,
			       s + g->prefix_len, len - g->prefix_len, g->path_mode);
}

static int str_order(const struct secl_str *a, const char *p, size_t len)
{
	if (a->len != len)
		return a->len < len ? -1 : 1;
	return len ? memcmp(a->ptr, p, len) : 0;
}

bool matcher_match(const struct matcher *m, const union secl_scalar *v)
{
	switch (m->type) {
	case SECL_STRING: {
		size_t lo = 0, hi = m->n_exact;

		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			int c = str_order(&m->exact[mid], v->s.ptr, v->s.len);

			if (c == 0)
				return true;
			if (c < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (size_t i = 0; i < m->n_globs; i++)
			if (glob_match_compiled(&m->globs[i], v->s.ptr, v->s.len))
				return true;
		for (size_t i = 0; i < m->n_regexes; i++)
			if (regex_match(m->regexes[i], v->s.ptr, v->s.len))
				return true;
		return false;
	}
	case SECL_INT: {
		size_t lo = 0, hi = m->n_ints;

		while (lo < hi) {
			size_t mid = (lo + hi) / 2;

			if (m->ints[mid] == v->i)
				return true;
			if (m->ints[mid] < v->i)
				lo = mid + 1;
			else
				hi = mid;
		}
		return false;
	}
	case SECL_IP:
		for (size_t i = 0; i < m->n_cidrs; i++)
			if (ip_in_cidr(&v->ip, &m->cidrs[i], m->prefixes[i]))
				return true;
		return false;
	case SECL_BOOL:
		return v->b == m->b;
	}
	return false;
}

/* ---- evaluation ---- */

static size_t fetch(struct env *env, int field, int slot, const union secl_scalar **out)
{
	struct secl_ruleset *rs = env->rs;

	if (env->partial) {
		if (field != env->fixed_field)
			return UNKNOWN_COUNT;
		*out = env->fixed;
		return 1;
	}
	struct slot *s = &rs->slots[slot];
	if (s->gen != rs->gen) {
		const struct secl_field *f = &rs->schema->fields[field];
		size_t n = f->get ? f->get(env->event, f->getter_ctx, s->vals, SECL_MAX_VALUES) : 0;

		s->n = n > SECL_MAX_VALUES ? SECL_MAX_VALUES : n;
		s->gen = rs->gen;
	}
	*out = s->vals;
	return s->n;
}

static int eval(struct env *env, struct node *n);

static size_t render_template(struct env *env, struct node *n)
{
	char *buf = n->text_buf;
	size_t len = 0, cap = SECL_TEMPLATE_BUF;

	for (size_t i = 0; i < n->n_parts; i++) {
		const struct tpl_part *part = &n->parts[i];
		const char *text = part->text;
		size_t tlen = part->len;
		char num[24];

		if (!text) {
			const union secl_scalar *v;
			size_t cnt = fetch(env, part->field, part->slot, &v);

			if (cnt == UNKNOWN_COUNT)
				return UNKNOWN_COUNT;
			if (cnt == 0) {
				tlen = 0;
			} else if (env->rs->schema->fields[part->field].type == SECL_INT) {
				tlen = (size_t)snprintf(num, sizeof(num), "%lld", (long long)v[0].i);
				text = num;
			} else {
				text = v[0].s.ptr;
				tlen = v[0].s.len;
			}
		}
		if (tlen > cap - len)
			tlen = cap - len;
		if (tlen)
			memcpy(buf + len, text, tlen);
		len += tlen;
	}
	n->scratch[0].s = (struct secl_str){ buf, len };
	return 1;
}

int64_t secl_arith(int op, int64_t a, int64_t b)
{
	/* Unsigned arithmetic: wrap instead of undefined overflow. */
	uint64_t x = (uint64_t)a, y = (uint64_t)b;

	switch (op) {
	case AR_ADD: return (int64_t)(x + y);
	case AR_SUB: return (int64_t)(x - y);
	case AR_AND: return (int64_t)(x & y);
	case AR_OR: return (int64_t)(x | y);
	case AR_XOR: return (int64_t)(x ^ y);
	}
	return 0;
}

/* The values of a value node; UNKNOWN_COUNT in partial mode when they
 * depend on a field that is not fixed. */
static size_t values(struct env *env, struct node *n, const union secl_scalar **out)
{
	const union secl_scalar *a, *b;
	size_t na, nb, cnt;

	switch (n->kind) {
	case N_FIELD:
		cnt = fetch(env, n->field, n->slot, &a);
		if (cnt == UNKNOWN_COUNT || !n->length) {
			*out = a;
			return cnt;
		}
		for (size_t i = 0; i < cnt; i++)
			n->scratch[i].i = (int64_t)a[i].s.len;
		*out = n->scratch;
		return cnt;
	case N_INT: case N_BOOL: case N_STR: case N_IP: case N_PATTERN: case N_REGEX:
		*out = &n->lit;
		return 1;
	case N_TEMPLATE:
		*out = n->scratch;
		return render_template(env, n);
	case N_ARITH:
		na = values(env, n->a, &a);
		nb = values(env, n->b, &b);
		if (na == UNKNOWN_COUNT || nb == UNKNOWN_COUNT)
			return UNKNOWN_COUNT;
		if (na == 0 || nb == 0)
			return 0;
		/* A multi-valued side is mapped over; two are paired up. */
		cnt = na == 1 ? nb : nb == 1 ? na : (na < nb ? na : nb);
		for (size_t i = 0; i < cnt; i++)
			n->scratch[i].i = secl_arith(n->op, a[na == 1 ? 0 : i].i, b[nb == 1 ? 0 : i].i);
		*out = n->scratch;
		return cnt;
	case N_NEG:
	case N_BITNOT:
		na = values(env, n->a, &a);
		if (na == UNKNOWN_COUNT)
			return UNKNOWN_COUNT;
		for (size_t i = 0; i < na; i++) {
			uint64_t v = (uint64_t)a[i].i;

			n->scratch[i].i = (int64_t)(n->kind == N_NEG ? 0 - v : ~v);
		}
		*out = n->scratch;
		return na;
	default: {
		/* A boolean expression used as a value: (a == b) == true. */
		int r = eval(env, n);

		if (r == TRI_UNKNOWN)
			return UNKNOWN_COUNT;
		n->lit.b = r == TRI_TRUE;
		*out = &n->lit;
		return 1;
	}
	}
}

static bool scalar_equal(enum vtype t, const union secl_scalar *x, const union secl_scalar *y)
{
	switch (t) {
	case VT_INT: return x->i == y->i;
	case VT_BOOL: return x->b == y->b;
	case VT_STR: return x->s.len == y->s.len && bytes_equal(x->s.ptr, y->s.ptr, x->s.len);
	case VT_IP: return memcmp(x->ip.addr, y->ip.addr, 16) == 0;
	default: return false;
	}
}

static bool order_holds(int op, int64_t x, int64_t y)
{
	switch (op) {
	case OP_LT: return x < y;
	case OP_LE: return x <= y;
	case OP_GT: return x > y;
	case OP_GE: return x >= y;
	}
	return false;
}

static bool negated(int op)
{
	return op == OP_NE || op == OP_NMATCH || op == OP_NOTIN;
}

/* Right operand not constant: compare value against value. */
static bool pair_matches(const struct node *n, const union secl_scalar *l, const union secl_scalar *r)
{
	if (n->b->type == VT_PATTERN || n->op == OP_MATCH || n->op == OP_NMATCH)
		return secl_glob_match(r->s.ptr, r->s.len, l->s.ptr, l->s.len, n->b->path_mode);
	if (n->op >= OP_LT && n->op <= OP_GE)
		return order_holds(n->op, l->i, r->i);
	return scalar_equal(n->a->type, l, r);
}

static int eval_cmp(struct env *env, struct node *n)
{
	const union secl_scalar *lv, *rv;
	size_t nl = values(env, n->a, &lv), nr;
	bool any = false;

	if (nl == UNKNOWN_COUNT)
		return TRI_UNKNOWN;
	if (n->m) {
		if (n->op == OP_ALLIN) {
			if (nl == 0)
				return TRI_FALSE;
			for (size_t i = 0; i < nl; i++)
				if (!matcher_match(n->m, &lv[i]))
					return TRI_FALSE;
			return TRI_TRUE;
		}
		for (size_t i = 0; i < nl && !any; i++)
			any = matcher_match(n->m, &lv[i]);
		return any != negated(n->op) ? TRI_TRUE : TRI_FALSE;
	}
	nr = values(env, n->b, &rv);
	if (nr == UNKNOWN_COUNT)
		return TRI_UNKNOWN;
	if (n->op == OP_ALLIN) {
		if (nl == 0)
			return TRI_FALSE;
		for (size_t i = 0; i < nl; i++) {
			bool found = false;

			for (size_t j = 0; j < nr && !found; j++)
				found = pair_matches(n, &lv[i], &rv[j]);
			if (!found)
				return TRI_FALSE;
		}
		return TRI_TRUE;
	}
	for (size_t i = 0; i < nl && !any; i++)
		for (size_t j = 0; j < nr && !any; j++)
			any = pair_matches(n, &lv[i], &rv[j]);
	return any != negated(n->op) ? TRI_TRUE : TRI_FALSE;
}

static int eval(struct env *env, struct node *n)
{
	int a, b;

	switch (n->kind) {
	case N_OR:
		a = eval(env, n->a);
		if (a == TRI_TRUE)
			return TRI_TRUE;
		b = eval(env, n->b);
		if (b == TRI_TRUE)
			return TRI_TRUE;
		return a == TRI_UNKNOWN || b == TRI_UNKNOWN ? TRI_UNKNOWN : TRI_FALSE;
	case N_AND:
		a = eval(env, n->a);
		if (a == TRI_FALSE)
			return TRI_FALSE;
		b = eval(env, n->b);
		if (b == TRI_FALSE)
			return TRI_FALSE;
		return a == TRI_UNKNOWN || b == TRI_UNKNOWN ? TRI_UNKNOWN : TRI_TRUE;
	case N_NOT:
		a = eval(env, n->a);
		return a == TRI_UNKNOWN ? TRI_UNKNOWN : !a;
	case N_CMP:
		return eval_cmp(env, n);
	case N_BOOL:
		return n->bval;
	case N_FIELD: {
		const union secl_scalar *v;
		size_t cnt = values(env, n, &v);

		if (cnt == UNKNOWN_COUNT)
			return TRI_UNKNOWN;
		for (size_t i = 0; i < cnt; i++)
			if (v[i].b)
				return TRI_TRUE;
		return TRI_FALSE;
	}
	default:
		return TRI_FALSE; /* the checker only lets booleans through */
	}
}

/* ---- ruleset ---- */

struct secl_ruleset *secl_ruleset_new(const struct secl_schema *schema)
{
	struct secl_ruleset *rs;

	if (!schema || (schema->n_fields && !schema->fields) ||
	    (schema->n_events && !schema->event_names) ||
	    (schema->n_constants && !schema->constants))
		return NULL;
	rs = calloc(1, sizeof(*rs));
	if (!rs)
		return NULL;
	rs->schema = schema;
	rs->gen = 1;
	rs->slot_of = malloc((schema->n_fields + 1) * sizeof(*rs->slot_of));
	rs->plans = calloc(schema->n_events + 1, sizeof(*rs->plans));
	rs->n_per_event = calloc(schema->n_events + 1, sizeof(*rs->n_per_event));
	if (!rs->slot_of || !rs->plans || !rs->n_per_event) {
		secl_ruleset_free(rs);
		return NULL;
	}
	for (size_t i = 0; i < schema->n_fields; i++)
		rs->slot_of[i] = -1;
	return rs;
}

static void plan_clear(struct plan *p)
{
	for (size_t i = 0; i < p->n_indexes; i++) {
		struct field_index *ix = &p->indexes[i];

		for (size_t j = 0; ix->table && j <= ix->mask; j++)
			free(ix->table[j].positions);
		free(ix->table);
	}
	free(p->indexes);
	free(p->rules);
	free(p->always);
	free(p->cand);
	memset(p, 0, sizeof(*p));
}

void secl_ruleset_free(struct secl_ruleset *rs)
{
	if (!rs)
		return;
	for (size_t i = 0; i < rs->n_rules; i++) {
		arena_free(&rs->rules[i]->arena);
		free(rs->rules[i]->id);
		free(rs->rules[i]);
	}
	for (size_t i = 0; rs->plans && i < rs->schema->n_events; i++)
		plan_clear(&rs->plans[i]);
	free(rs->plans);
	free(rs->rules);
	free(rs->slot_of);
	free(rs->slots);
	free(rs->n_per_event);
	free(rs);
}

int secl_ruleset_slot(struct secl_ruleset *rs, int field)
{
	if (field < 0 || (size_t)field >= rs->schema->n_fields)
		return -1;
	if (rs->slot_of[field] >= 0)
		return rs->slot_of[field];
	struct slot *slots = realloc(rs->slots, (rs->n_slots + 1) * sizeof(*slots));
	if (!slots)
		return -1;
	rs->slots = slots;
	memset(&slots[rs->n_slots], 0, sizeof(*slots));
	rs->slot_of[field] = (int)rs->n_slots;
	return (int)rs->n_slots++;
}

/* Looks for a key: an exact "field == v" or "field in [v...]" among the
 * top-level conjuncts, or an "||" of such tests on one field. In prefix mode
 * patterns count too, by their literal prefix: the rule can only hold if the
 * field starts with one of them. */
static bool find_key(const struct node *n, struct rule_key *k, bool prefix)
{
	struct rule_key kb;

	switch (n->kind) {
	case N_AND:
		if (find_key(n->a, k, prefix))
			return true;
		return find_key(n->b, k, prefix);
	case N_OR:
		if (!find_key(n->a, k, prefix) || !find_key(n->b, &kb, prefix) ||
		    k->field != kb.field || k->n + kb.n > KEY_MAX_MATCHERS)
			return false;
		for (size_t i = 0; i < kb.n; i++)
			k->ms[k->n++] = kb.ms[i];
		return true;
	case N_CMP:
		break;
	default:
		return false;
	}
	const struct matcher *m = n->m;
	if (!m || (n->op != OP_EQ && n->op != OP_IN && n->op != OP_MATCH))
		return false;
	if (n->a->kind != N_FIELD || n->a->length)
		return false;
	if (prefix) {
		if (m->type != SECL_STRING || m->n_regexes || m->n_exact + m->n_globs == 0)
			return false;
		for (size_t i = 0; i < m->n_exact; i++)
			if (m->exact[i].len < PREFIX_KEY_MIN)
				return false;
		for (size_t i = 0; i < m->n_globs; i++)
			if (m->globs[i].prefix_len < PREFIX_KEY_MIN)
				return false;
	} else if (!(m->type == SECL_STRING && m->n_exact > 0 && m->n_globs == 0 && m->n_regexes == 0) &&
		   !(m->type == SECL_INT && m->n_ints > 0)) {
		return false;
	}
	k->field = n->a->field;
	k->prefix = prefix;
	k->ms[0] = m;
	k->n = 1;
	return true;
}

static void invalidate_plans(struct secl_ruleset *rs)
{
	for (size_t i = 0; i < rs->schema->n_events; i++)
		plan_clear(&rs->plans[i]);
}

int secl_ruleset_add(struct secl_ruleset *rs, const char *rule_id, const char *expr,
		     const struct secl_macro_table *macros, struct secl_error *err)
{
	struct secl_error local;
	struct rule *r;

	if (!err)
		err = &local;
	memset(err, 0, sizeof(*err));
	if (!rs || !rule_id || !*rule_id || !expr) {
		secl_set_error(err, NULL, 0, SECL_ERR_INVALID, "missing ruleset, rule id or expression");
		return -1;
	}
	for (size_t i = 0; i < rs->n_rules; i++) {
		if (strcmp(rs->rules[i]->id, rule_id) == 0) {
			secl_set_error(err, NULL, 0, SECL_ERR_DUPLICATE,
				       "rule id '%s' is already in the ruleset", rule_id);
			return -1;
		}
	}
	if (rs->n_rules >= INT32_MAX / 2) {
		secl_set_error(err, NULL, 0, SECL_ERR_LIMIT, "too many rules");
		return -1;
	}
	r = calloc(1, sizeof(*r));
	if (!r || !(r->id = strdup(rule_id))) {
		free(r);
		secl_set_error(err, NULL, 0, SECL_ERR_NOMEM, "out of memory");
		return -1;
	}
	arena_init(&r->arena, SECL_MAX_RULE_BYTES);
	r->root = secl_parse(expr, &r->arena, err);
	struct compile_ctx cc = {
		.schema = rs->schema, .macros = macros, .rs = rs, .arena = &r->arena,
		.src = expr, .err = err, .event = -1,
	};
	if (r->root && secl_compile_tree(&cc, &r->root, true) < 0)
		r->root = NULL;
	if (r->root && rs->n_rules == rs->cap_rules) {
		size_t cap = rs->cap_rules ? 2 * rs->cap_rules : 32;
		struct rule **rules = realloc(rs->rules, cap * sizeof(*rules));

		if (rules) {
			rs->rules = rules;
			rs->cap_rules = cap;
		} else {
			secl_set_error(err, NULL, 0, SECL_ERR_NOMEM, "out of memory");
			r->root = NULL;
		}
	}
	if (!r->root) {
		arena_free(&r->arena);
		free(r->id);
		free(r);
		return -1;
	}
	r->event = cc.event;
	if (!find_key(r->root, &r->key, false) && !find_key(r->root, &r->key, true))
		r->key.field = -1;
	rs->rules[rs->n_rules] = r;
	if (r->event < 0)
		rs->n_wildcard++;
	else
		rs->n_per_event[r->event]++;
	invalidate_plans(rs);
	return (int)rs->n_rules++;
}

size_t secl_ruleset_count(const struct secl_ruleset *rs)
{
	return rs ? rs->n_rules : 0;
}

const char *secl_ruleset_rule_id(const struct secl_ruleset *rs, int i)
{
	return rs && i >= 0 && (size_t)i < rs->n_rules ? rs->rules[i]->id : NULL;
}

int secl_ruleset_rule_event(const struct secl_ruleset *rs, int i)
{
	return rs && i >= 0 && (size_t)i < rs->n_rules ? rs->rules[i]->event : -1;
}

bool secl_ruleset_uses_event(const struct secl_ruleset *rs, int event_type)
{
	return rs && event_type >= 0 && (size_t)event_type < rs->schema->n_events &&
	       rs->n_per_event[event_type] > 0;
}

bool secl_ruleset_has_wildcard_rules(const struct secl_ruleset *rs)
{
	return rs && rs->n_wildcard > 0;
}

/* ---- index ---- */

/* Eight bytes at a time: paths are hashed on every event. */
static uint64_t hash_bytes(const char *p, size_t len)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ len, w;

	while (len >= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
		p += 8;
		len -= 8;
	}
	w = 0;
	if (len)
		memcpy(&w, p, len);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 29);
}

static uint64_t hash_int(int64_t v)
{
	uint64_t x = (uint64_t)v + 0x9e3779b97f4a7c15ull; /* splitmix64 finaliser */

	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t hash_value(enum secl_type t, const union secl_scalar *v)
{
	return t == SECL_STRING ? hash_bytes(v->s.ptr, v->s.len) : hash_int(v->i);
}

static bool key_equal(enum secl_type t, const union secl_scalar *a, const union secl_scalar *b)
{
	if (t == SECL_STRING)
		return a->s.len == b->s.len && bytes_equal(a->s.ptr, b->s.ptr, a->s.len);
	return a->i == b->i;
}

static struct index_entry *index_find(const struct field_index *ix, const union secl_scalar *v,
				      uint64_t h, bool for_insert)
{
	for (size_t i = h & ix->mask;; i = (i + 1) & ix->mask) {
		struct index_entry *e = &ix->table[i];

		if (!e->used)
			return for_insert ? e : NULL;
		if (e->hash == h && key_equal(ix->type, &e->key, v))
			return e;
	}
}

static int index_add(struct field_index *ix, const union secl_scalar *v, int pos)
{
	uint64_t h = hash_value(ix->type, v);
	struct index_entry *e = index_find(ix, v, h, true);

	if (!e->used) {
		e->used = true;
		e->hash = h;
		e->key = *v;
	}
	if (e->n && e->positions[e->n - 1] == pos)
		return 0; /* "in" lists may repeat a value */
	if (e->n == e->cap) {
		size_t cap = e->cap ? 2 * e->cap : 2;
		int *p = realloc(e->positions, cap * sizeof(*p));

		if (!p)
			return -1;
		e->positions = p;
		e->cap = cap;
	}
	e->positions[e->n++] = pos;
	return 0;
}

static size_t key_count(const struct rule *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->key.n; i++) {
		const struct matcher *m = r->key.ms[i];

		n += m->type == SECL_STRING ? m->n_exact + m->n_globs : m->n_ints;
	}
	return n;
}

/* Shortest literal prefix among the values of a prefix key. */
static size_t key_min_prefix(const struct rule *r)
{
	size_t min = PREFIX_KEY_MAX;

	for (size_t i = 0; i < r->key.n; i++) {
		const struct matcher *m = r->key.ms[i];

		for (size_t k = 0; k < m->n_exact; k++)
			if (m->exact[k].len < min)
				min = m->exact[k].len;
		for (size_t k = 0; k < m->n_globs; k++)
			if (m->globs[k].prefix_len < min)
				min = m->globs[k].prefix_len;
	}
	return min;
}

static int index_rule(struct field_index *ix, const struct rule *r, int pos)
{
	for (size_t i = 0; i < r->key.n; i++) {
		const struct matcher *m = r->key.ms[i];
		size_t cnt = m->type == SECL_STRING ? m->n_exact + m->n_globs : m->n_ints;

		for (size_t k = 0; k < cnt; k++) {
			union secl_scalar v;

			if (m->type == SECL_INT)
				v.i = m->ints[k];
			else if (k < m->n_exact)
				v.s = m->exact[k];
			else
				v.s = (struct secl_str){ m->globs[k - m->n_exact].pat, ix->cut };
			if (ix->cut)
				v.s.len = ix->cut;
			if (index_add(ix, &v, pos) < 0)
				return -1;
		}
	}
	return 0;
}

static int plan_build(struct secl_ruleset *rs, struct plan *p, int event)
{
	size_t n = 0;

	p->rules = malloc((rs->n_rules + 1) * sizeof(*p->rules));
	if (!p->rules)
		return -1;
	for (size_t i = 0; i < rs->n_rules; i++)
		if (rs->rules[i]->event == event || rs->rules[i]->event < 0)
			p->rules[n++] = (int)i;
	p->n = n;
	p->words = (n + 63) / 64;
	p->always = calloc(p->words + 1, sizeof(uint64_t));
	p->cand = calloc(p->words + 1, sizeof(uint64_t));
	p->indexes = calloc(rs->schema->n_fields + 1, sizeof(*p->indexes));
	if (!p->always || !p->cand || !p->indexes)
		return -1;

	for (size_t pos = 0; pos < n; pos++) {
		const struct rule *r = rs->rules[p->rules[pos]];
		struct field_index *ix = NULL;

		if (r->key.field < 0) {
			p->always[pos / 64] |= 1ull << (pos % 64);
			continue;
		}
		for (size_t k = 0; k < p->n_indexes; k++)
			if (p->indexes[k].field == r->key.field && !!p->indexes[k].cut == r->key.prefix)
				ix = &p->indexes[k];
		if (!ix) {
			/* Size the table for every keyed value of this field; a
			 * prefix index cuts every value to the shortest prefix. */
			size_t total = 0, cap = 8, cut = PREFIX_KEY_MAX;

			for (size_t q = pos; q < n; q++) {
				const struct rule *o = rs->rules[p->rules[q]];

				if (o->key.field != r->key.field || o->key.prefix != r->key.prefix)
					continue;
				total += key_count(o);
				if (o->key.prefix && key_min_prefix(o) < cut)
					cut = key_min_prefix(o);
			}
			while (cap < 2 * total)
				cap *= 2;
			ix = &p->indexes[p->n_indexes++];
			ix->field = r->key.field;
			ix->slot = rs->slot_of[r->key.field];
			ix->type = r->key.ms[0]->type;
			ix->cut = r->key.prefix ? cut : 0;
			ix->mask = cap - 1;
			ix->table = calloc(cap, sizeof(*ix->table));
			if (!ix->table)
				return -1;
		}
		if (index_rule(ix, r, (int)pos) < 0)
			return -1;
	}
	p->built = true;
	return 0;
}

static struct plan *get_plan(struct secl_ruleset *rs, int event)
{
	struct plan *p = &rs->plans[event];

	if (!p->built && plan_build(rs, p, event) < 0) {
		plan_clear(p);
		return NULL;
	}
	return p;
}

int secl_ruleset_eval(struct secl_ruleset *rs, int event_type, const void *event,
		      secl_match_fn match, void *cb_ctx)
{
	struct env env = { .rs = rs, .event = event };
	struct plan *p;
	int matches = 0;

	if (!rs || event_type < 0 || (size_t)event_type >= rs->schema->n_events)
		return -1;
	p = get_plan(rs, event_type);
	if (!p)
		return -1;
	rs->gen++;
	memcpy(p->cand, p->always, p->words * sizeof(uint64_t));
	for (size_t k = 0; k < p->n_indexes; k++) {
		const struct field_index *ix = &p->indexes[k];
		const union secl_scalar *v;
		size_t cnt = fetch(&env, ix->field, ix->slot, &v);

		for (size_t i = 0; i < cnt; i++) {
			union secl_scalar cut = v[i];

			if (ix->cut) {
				if (cut.s.len < ix->cut)
					continue;
				cut.s.len = ix->cut;
			}
			const struct index_entry *e = index_find(ix, &cut, hash_value(ix->type, &cut), false);

			for (size_t j = 0; e && j < e->n; j++)
				p->cand[e->positions[j] / 64] |= 1ull << (e->positions[j] % 64);
		}
	}
	for (size_t w = 0; w < p->words; w++) {
		uint64_t bits = p->cand[w];

		while (bits) {
			size_t pos = w * 64 + (size_t)__builtin_ctzll(bits);
			int idx = p->rules[pos];

			bits &= bits - 1;
			if (eval(&env, rs->rules[idx]->root) == TRI_TRUE) {
				matches++;
				if (match)
					match(idx, rs->rules[idx]->id, cb_ctx);
			}
		}
	}
	return matches;
}

/* ---- approvers ---- */

static int approver_push(struct secl_approvers *out, enum secl_approver_kind kind,
			 const char *s, size_t len, size_t prefix_len, int64_t i)
{
	for (size_t k = 0; k < out->n; k++) {
		const struct secl_approver *a = &out->items[k];

		if (a->kind != kind)
			continue;
		if (s ? (strlen(a->str) == len && bytes_equal(a->str, s, len)) : a->i == i)
			return 0;
	}
	struct secl_approver *items = realloc(out->items, (out->n + 1) * sizeof(*items));
	if (!items)
		return -1;
	out->items = items;
	struct secl_approver *a = &items[out->n];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	a->prefix_len = prefix_len;
	a->i = i;
	if (s) {
		char *copy = malloc(len + 1);

		if (!copy)
			return -1;
		memcpy(copy, s, len);
		copy[len] = '\0';
		a->str = copy;
	}
	out->n++;
	return 0;
}

static void approvers_truncate(struct secl_approvers *out, size_t n)
{
	while (out->n > n)
		free((char *)out->items[--out->n].str);
}

static bool is_field(const struct node *n, int field)
{
	return n->kind == N_FIELD && n->field == field && !n->length;
}

/* "field & MASK" with a constant mask; returns the mask or 0. */
static int64_t flag_mask(const struct node *n, int field)
{
	if (n->kind != N_ARITH || n->op != AR_AND)
		return 0;
	if (is_field(n->a, field) && n->b->kind == N_INT)
		return n->b->i;
	if (is_field(n->b, field) && n->a->kind == N_INT)
		return n->a->i;
	return 0;
}

/* 1: the node can only hold if field takes one of the values pushed;
 * 0: no such guarantee; -1: out of memory. */
static int collect(const struct node *n, int field, struct secl_approvers *out)
{
	size_t mark = out->n;
	int r;

	switch (n->kind) {
	case N_AND:
		r = collect(n->a, field, out);
		if (r != 0)
			return r;
		return collect(n->b, field, out);
	case N_OR:
		r = collect(n->a, field, out);
		if (r == 1)
			r = collect(n->b, field, out);
		if (r != 1)
			approvers_truncate(out, mark);
		return r;
	case N_BOOL:
		return n->bval ? 0 : 1; /* never true: needs nothing */
	case N_CMP:
		break;
	default:
		return 0;
	}

	const struct matcher *m = n->m;
	int64_t mask = flag_mask(n->a, field);
	if (mask != 0) {
		bool any_bit = (n->op == OP_GT && n->b->kind == N_INT && n->b->i == 0) ||
			       (n->op == OP_GE && n->b->kind == N_INT && n->b->i == 1) ||
			       (n->op == OP_NE && m && m->n_ints == 1 && m->ints[0] == 0) ||
			       (n->op == OP_EQ && m && m->n_ints == 1 && m->ints[0] == mask);
		if (!any_bit)
			return 0;
		return approver_push(out, SECL_APPROVE_FLAGS, NULL, 0, 0, mask) < 0 ? -1 : 1;
	}
	if (!m || !is_field(n->a, field) ||
	    (n->op != OP_EQ && n->op != OP_MATCH && n->op != OP_IN))
		return 0;
	if (m->type == SECL_STRING) {
		if (m->n_regexes)
			return 0;
		for (size_t i = 0; i < m->n_exact; i++)
			if (approver_push(out, SECL_APPROVE_EXACT, m->exact[i].ptr, m->exact[i].len,
					  m->exact[i].len, 0) < 0)
				return -1;
		for (size_t i = 0; i < m->n_globs; i++)
			if (approver_push(out, SECL_APPROVE_PATTERN, m->globs[i].pat, m->globs[i].len,
					  m->globs[i].prefix_len, 0) < 0)
				return -1;
		return 1;
	}
	if (m->type == SECL_INT) {
		for (size_t i = 0; i < m->n_ints; i++)
			if (approver_push(out, SECL_APPROVE_INT, NULL, 0, 0, m->ints[i]) < 0)
				return -1;
		return 1;
	}
	return 0;
}

static int lookup_field(const struct secl_ruleset *rs, int event_type, const char *name,
			struct secl_error *err)
{
	const struct secl_schema *s = rs->schema;

	if (event_type < 0 || (size_t)event_type >= s->n_events) {
		secl_set_error(err, NULL, 0, SECL_ERR_INVALID, "event type %d out of range", event_type);
		return -1;
	}
	for (size_t i = 0; name && i < s->n_fields; i++) {
		if (strcmp(s->fields[i].name, name) != 0)
			continue;
		if (s->fields[i].event_type >= 0 && s->fields[i].event_type != event_type) {
			secl_set_error(err, NULL, 0, SECL_ERR_INVALID,
				       "field '%s' does not belong to event type '%s'",
				       name, s->event_names[event_type]);
			return -1;
		}
		return (int)i;
	}
	secl_set_error(err, NULL, 0, SECL_ERR_UNKNOWN, "unknown field '%s'", name ? name : "");
	return -1;
}

void secl_approvers_free(struct secl_approvers *a)
{
	if (!a)
		return;
	approvers_truncate(a, 0);
	free(a->items);
	a->items = NULL;
}

/* 1: the node holds exactly when field equals one of the values pushed
 * (field == "x", field in ["x", "y"], or an || of those); 0: not that
 * shape; -1: out of memory. */
static int collect_exact(const struct node *n, int field, struct secl_approvers *out)
{
	const struct matcher *m;
	int r;

	if (n->kind == N_OR) {
		r = collect_exact(n->a, field, out);
		return r == 1 ? collect_exact(n->b, field, out) : r;
	}
	if (n->kind != N_CMP)
		return 0;
	m = n->m;
	if (!m || !is_field(n->a, field) || (n->op != OP_EQ && n->op != OP_IN) || m->type != SECL_STRING ||
	    m->n_globs || m->n_regexes)
		return 0;
	for (size_t i = 0; i < m->n_exact; i++)
		if (approver_push(out, SECL_APPROVE_EXACT, m->exact[i].ptr, m->exact[i].len, m->exact[i].len, 0) < 0)
			return -1;
	return 1;
}

/* Turns a collector's answer into the API's, freeing what a "no" left. */
static int collected(int c, struct secl_approvers *out, struct secl_error *err)
{
	if (c == 1)
		return 1;
	secl_approvers_free(out);
	if (c < 0) {
		secl_set_error(err, NULL, 0, SECL_ERR_NOMEM, "out of memory");
		return -1;
	}
	return 0;
}

typedef int (*collector_fn)(const struct node *n, int field, struct secl_approvers *out);

/* One rule's answer to a collector (approvers or exact values) on field. */
static int rule_query(struct secl_ruleset *rs, int rule_index, const char *field,
		      struct secl_approvers *out, struct secl_error *err, collector_fn collector)
{
	struct secl_error local;
	const struct rule *r;
	int f;

	if (!err)
		err = &local;
	memset(err, 0, sizeof(*err));
	if (!rs || !out || rule_index < 0 || (size_t)rule_index >= rs->n_rules) {
		secl_set_error(err, NULL, 0, SECL_ERR_INVALID, "missing ruleset, output or rule");
		return -1;
	}
	memset(out, 0, sizeof(*out));
	r = rs->rules[rule_index];
	if (r->event < 0)
		return 0; /* a wildcard rule: every event of every type may match */
	f = lookup_field(rs, r->event, field, err);
	if (f < 0)
		return -1;
	return collected(collector(r->root, f, out), out, err);
}

int secl_rule_exact_values(struct secl_ruleset *rs, int rule_index, const char *field,
			   struct secl_approvers *out)
{
	return rule_query(rs, rule_index, field, out, NULL, collect_exact);
}

int secl_rule_approvers(struct secl_ruleset *rs, int rule_index, const char *field,
		       struct secl_approvers *out, struct secl_error *err)
{
	return rule_query(rs, rule_index, field, out, err, collect);
}

int secl_ruleset_approvers(struct secl_ruleset *rs, int event_type, const char *field,
			   struct secl_approvers *out, struct secl_error *err)
{
	struct secl_error local;
	int f;

	if (!err)
		err = &local;
	memset(err, 0, sizeof(*err));
	if (!rs || !out) {
		secl_set_error(err, NULL, 0, SECL_ERR_INVALID, "missing ruleset or output");
		return -1;
	}
	memset(out, 0, sizeof(*out));
	f = lookup_field(rs, event_type, field, err);
	if (f < 0)
		return -1;
	for (size_t i = 0; i < rs->n_rules; i++) {
		const struct rule *r = rs->rules[i];

		if (r->event != event_type && r->event >= 0)
			continue;
		int c = collected(collect(r->root, f, out), out, err);

		if (c != 1)
			return c;
	}
	return 1;
}

int secl_ruleset_is_discarder(struct secl_ruleset *rs, int event_type, const char *field,
			      const union secl_scalar *value, struct secl_error *err)
{
	struct secl_error local;
	int f;

	if (!err)
		err = &local;
	memset(err, 0, sizeof(*err));
	if (!rs || !value) {
		secl_set_error(err, NULL, 0, SECL_ERR_INVALID, "missing ruleset or value");
		return -1;
	}
	f = lookup_field(rs, event_type, field, err);
	if (f < 0)
		return -1;
	struct env env = { .rs = rs, .partial = true, .fixed_field = f, .fixed = value };
	for (size_t i = 0; i < rs->n_rules; i++) {
		const struct rule *r = rs->rules[i];

		if (r->event != event_type && r->event >= 0)
			continue;
		if (eval(&env, r->root) != TRI_FALSE)
			return 0;
	}
	return 1;
}
