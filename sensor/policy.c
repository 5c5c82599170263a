/* policy.c - loads YAML policy files (libyaml) into a policy set and
 * compiles them into a SECL ruleset. See policy.h for the format and the
 * override rules.
 *
 * Each expression scalar keeps a copy of its source text and start mark so
 * that an error found later by the SECL compiler (an offset inside the
 * decoded expression) can be mapped back to the line and column of the YAML
 * file, through quotes, escapes, folding and block indentation. */
#include "policy.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "log.h"

#define POLICY_MAX_FILE   (16u << 20)
#define POLICY_MAX_RULES  100000
#define POLICY_MAX_DIAGS  10000

struct policy_span {
	int line, column;          /* libyaml start mark, 0-based */
	yaml_scalar_style_t style;
	char *raw;                 /* the scalar's source text */
	size_t raw_len;
};

struct policy_set {
	struct policy_rule **rules;
	size_t n_rules, cap_rules;
	struct policy_macro **macros;
	size_t n_macros, cap_macros;
	struct policy_diag *diags;
	size_t n_diags, cap_diags, n_errors;
	char **files;              /* one name per load; rules point into it */
	size_t n_files;
	struct policy_rule **by_index;
	size_t n_by_index;
};

struct loader {
	struct policy_set *ps;
	const char *file;
	const char *text;
	size_t len;
	yaml_document_t *doc;
};

/* ---- diagnostics ---- */

static void add_diag(struct policy_set *ps, enum policy_diag_level level, const char *file,
		     int line, int col, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void add_diag(struct policy_set *ps, enum policy_diag_level level, const char *file,
		     int line, int col, const char *fmt, ...)
{
	char msg[768];
	char *text;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (level == POLICY_ERROR)
		log_error("%s:%d:%d: %s", file, line, col, msg);
	else
		log_warn("%s:%d:%d: %s", file, line, col, msg);
	if (level == POLICY_ERROR)
		ps->n_errors++;
	if (ps->n_diags >= POLICY_MAX_DIAGS)
		return;
	if (ps->n_diags == ps->cap_diags) {
		size_t cap = ps->cap_diags ? 2 * ps->cap_diags : 16;
		struct policy_diag *d = realloc(ps->diags, cap * sizeof(*d));

		if (!d)
			return;
		ps->diags = d;
		ps->cap_diags = cap;
	}
	size_t n = strlen(file) + strlen(msg) + 32;
	text = malloc(n);
	if (!text)
		return;
	snprintf(text, n, "%s:%d:%d: %s", file, line, col, msg);
	ps->diags[ps->n_diags].level = level;
	ps->diags[ps->n_diags].text = text;
	ps->n_diags++;
}

static void node_diag(struct loader *ld, enum policy_diag_level level, const yaml_node_t *n,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void node_diag(struct loader *ld, enum policy_diag_level level, const yaml_node_t *n,
		      const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	add_diag(ld->ps, level, ld->file, n ? (int)n->start_mark.line + 1 : 1,
		 n ? (int)n->start_mark.column + 1 : 1, "%s", msg);
}

/* ---- spans: expression offset -> file position ---- */

static struct policy_span *span_new(struct loader *ld, const yaml_node_t *n)
{
	struct policy_span *sp = calloc(1, sizeof(*sp));
	size_t start = n->start_mark.index, end = n->end_mark.index;

	if (!sp)
		return NULL;
	if (end > ld->len)
		end = ld->len;
	if (start > end)
		start = end;
	sp->line = (int)n->start_mark.line;
	sp->column = (int)n->start_mark.column;
	sp->style = n->data.scalar.style;
	sp->raw_len = end - start;
	sp->raw = malloc(sp->raw_len + 1);
	if (!sp->raw) {
		free(sp);
		return NULL;
	}
	memcpy(sp->raw, ld->text + start, sp->raw_len);
	sp->raw[sp->raw_len] = '\0';
	return sp;
}

static void span_free(struct policy_span *sp)
{
	if (sp) {
		free(sp->raw);
		free(sp);
	}
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Walks the source text and the decoded value side by side up to offset.
 * Equal bytes advance both; a run of blanks in the value matches a run of
 * blanks (line breaks, indentation) in the source; anything else in the
 * source (quotes, escapes, indentation) is skipped. */
static void span_locate(const struct policy_span *sp, const char *value, size_t offset,
			int *line, int *col)
{
	const char *raw = sp->raw;
	size_t i = 0, k = 0, vlen = strlen(value);

	if (offset > vlen)
		offset = vlen;
	if (sp->style == YAML_SINGLE_QUOTED_SCALAR_STYLE || sp->style == YAML_DOUBLE_QUOTED_SCALAR_STYLE) {
		i = 1;
	} else if (sp->style == YAML_LITERAL_SCALAR_STYLE || sp->style == YAML_FOLDED_SCALAR_STYLE) {
		while (i < sp->raw_len && raw[i] != '\n')
			i++;
		if (i < sp->raw_len)
			i++;
	}
	/* Block scalars: the value starts after the indentation. */
	while (i < sp->raw_len && (raw[i] == ' ' || raw[i] == '\t') && (vlen == 0 || !is_blank(value[0])))
		i++;
	while (k < offset && i < sp->raw_len) {
		char c = value[k], r = raw[i];

		if (r == c) {
			i++;
			k++;
		} else if (is_blank(c) && is_blank(r)) {
			while (i < sp->raw_len && is_blank(raw[i]))
				i++;
			while (k < offset && is_blank(value[k]))
				k++;
		} else if (is_blank(c)) {
			k++;
		} else {
			i++;
		}
	}
	/* Stopped before a line break or indentation that the value does not
	 * have at this point: the token starts after them. */
	while (i < sp->raw_len && is_blank(raw[i]) && offset < vlen && !is_blank(value[offset]))
		i++;
	int l = sp->line, c = sp->column;
	for (size_t j = 0; j < i; j++) {
		if (raw[j] == '\n') {
			l++;
			c = 0;
		} else if (((unsigned char)raw[j] & 0xc0) != 0x80) {
			c++; /* libyaml counts characters, not bytes */
		}
	}
	*line = l + 1;
	*col = c + 1;
}

/* ---- small helpers ---- */

static yaml_node_t *get_node(struct loader *ld, int index)
{
	return yaml_document_get_node(ld->doc, index);
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static bool key_is(const yaml_node_t *k, const char *name)
{
	const char *s = scalar(k);

	return s && strcmp(s, name) == 0;
}

/* Copies a scalar; reports and returns NULL (with *bad set) otherwise. */
static char *take_string(struct loader *ld, const yaml_node_t *n, const char *what, bool *bad)
{
	const char *s = scalar(n);
	char *copy;

	if (!s) {
		node_diag(ld, POLICY_ERROR, n, "expected a string for '%s'", what);
		*bad = true;
		return NULL;
	}
	copy = strdup(s);
	if (!copy)
		*bad = true;
	return copy;
}

static bool parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on" }, *const no[] = { "false", "no", "off" };

	for (size_t i = 0; s && i < 3; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

static bool take_bool(struct loader *ld, const yaml_node_t *n, const char *what, bool *out, bool *bad)
{
	if (!parse_bool(scalar(n), out)) {
		node_diag(ld, POLICY_ERROR, n, "expected true or false for '%s'", what);
		*bad = true;
		return false;
	}
	return true;
}

static bool take_int(struct loader *ld, const yaml_node_t *n, const char *what, int64_t *out, bool *bad)
{
	const char *s = scalar(n);
	char *end;
	long long v;

	errno = 0;
	v = s ? strtoll(s, &end, 0) : 0;
	if (!s || !*s || *end || errno) {
		node_diag(ld, POLICY_ERROR, n, "expected an integer for '%s'", what);
		*bad = true;
		return false;
	}
	*out = v;
	return true;
}

/* A sequence of scalars into a string array. */
static void take_strings(struct loader *ld, const yaml_node_t *n, const char *what,
			 char ***out, size_t *count, bool *bad)
{
	if (n->type != YAML_SEQUENCE_NODE) {
		node_diag(ld, POLICY_ERROR, n, "expected a list for '%s'", what);
		*bad = true;
		return;
	}
	size_t cap = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	*out = calloc(cap + 1, sizeof(**out));
	if (!*out) {
		*bad = true;
		return;
	}
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		char *s = take_string(ld, get_node(ld, *it), what, bad);

		if (s)
			(*out)[(*count)++] = s;
	}
}

int policy_signal_number(const char *name)
{
	static const struct { const char *name; int sig; } signals[] = {
		{ "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT }, { "ILL", SIGILL },
		{ "TRAP", SIGTRAP }, { "ABRT", SIGABRT }, { "BUS", SIGBUS }, { "FPE", SIGFPE },
		{ "KILL", SIGKILL }, { "USR1", SIGUSR1 }, { "SEGV", SIGSEGV }, { "USR2", SIGUSR2 },
		{ "PIPE", SIGPIPE }, { "ALRM", SIGALRM }, { "TERM", SIGTERM }, { "CHLD", SIGCHLD },
		{ "CONT", SIGCONT }, { "STOP", SIGSTOP }, { "TSTP", SIGTSTP }, { "TTIN", SIGTTIN },
		{ "TTOU", SIGTTOU }, { "URG", SIGURG }, { "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ },
		{ "VTALRM", SIGVTALRM }, { "PROF", SIGPROF }, { "WINCH", SIGWINCH }, { "IO", SIGIO },
		{ "PWR", SIGPWR }, { "SYS", SIGSYS },
	};
	char *end;
	long v;

	if (!name || !*name)
		return -1;
	v = strtol(name, &end, 10);
	if (*end == '\0')
		return v >= 1 && v <= 64 ? (int)v : -1;
	if (strncmp(name, "SIG", 3) == 0)
		name += 3;
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (strcmp(signals[i].name, name) == 0)
			return signals[i].sig;
	return -1;
}

/* ---- freeing ---- */

static void action_free(struct policy_action *a)
{
	free(a->name);
	free(a->filter);
	switch (a->kind) {
	case POLICY_ACTION_KILL:
		free(a->kill.signal_name);
		free(a->kill.scope);
		break;
	case POLICY_ACTION_SET:
		free(a->set.name);
		free(a->set.value);
		free(a->set.field);
		free(a->set.expression);
		free(a->set.default_value);
		free(a->set.scope);
		free(a->set.ttl);
		break;
	case POLICY_ACTION_HASH:
		free(a->hash.field);
		break;
	case POLICY_ACTION_LOG:
		free(a->log.level);
		free(a->log.message);
		break;
	default:
		break;
	}
}

static void strings_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void rule_free(struct policy_rule *r)
{
	if (!r)
		return;
	free(r->id);
	free(r->expression);
	free(r->description);
	free(r->version);
	free(r->priority);
	free(r->severity);
	for (size_t i = 0; i < r->n_tags; i++) {
		free(r->tags[i].key);
		free(r->tags[i].value);
	}
	free(r->tags);
	strings_free(r->product_tags, r->n_product_tags);
	strings_free(r->filters, r->n_filters);
	for (size_t i = 0; i < r->n_actions; i++)
		action_free(&r->actions[i]);
	free(r->actions);
	span_free(r->expr_span);
	free(r);
}

static void macro_free(struct policy_macro *m)
{
	if (!m)
		return;
	free(m->id);
	free(m->expression);
	free(m->description);
	span_free(m->expr_span);
	for (size_t i = 0; i < m->n_values; i++)
		span_free(m->value_spans[i]);
	free(m->value_spans);
	free(m->value_offsets);
	free(m);
}

struct policy_set *policy_set_new(void)
{
	return calloc(1, sizeof(struct policy_set));
}

void policy_set_free(struct policy_set *ps)
{
	if (!ps)
		return;
	for (size_t i = 0; i < ps->n_rules; i++)
		rule_free(ps->rules[i]);
	for (size_t i = 0; i < ps->n_macros; i++)
		macro_free(ps->macros[i]);
	for (size_t i = 0; i < ps->n_diags; i++)
		free(ps->diags[i].text);
	for (size_t i = 0; i < ps->n_files; i++)
		free(ps->files[i]);
	free(ps->rules);
	free(ps->macros);
	free(ps->diags);
	free(ps->files);
	free(ps->by_index);
	free(ps);
}

/* ---- actions ---- */

static void parse_kill(struct loader *ld, const yaml_node_t *body, struct policy_action *a, bool *bad)
{
	a->kill.signal = SIGTERM;
	if (body->type == YAML_SCALAR_NODE && !*scalar(body))
		return; /* "kill:" with no body */
	if (body->type != YAML_MAPPING_NODE) {
		node_diag(ld, POLICY_ERROR, body, "expected a mapping for 'kill'");
		*bad = true;
		return;
	}
	for (yaml_node_pair_t *p = body->data.mapping.pairs.start; p < body->data.mapping.pairs.top; p++) {
		yaml_node_t *k = get_node(ld, p->key), *v = get_node(ld, p->value);

		if (key_is(k, "signal")) {
			free(a->kill.signal_name);
			a->kill.signal_name = take_string(ld, v, "signal", bad);
			if (a->kill.signal_name) {
				a->kill.signal = policy_signal_number(a->kill.signal_name);
				if (a->kill.signal < 0) {
					node_diag(ld, POLICY_ERROR, v, "unknown signal '%s': expected a name like SIGKILL or a number 1..64",
						  a->kill.signal_name);
					*bad = true;
				}
			}
		} else if (key_is(k, "scope")) {
			free(a->kill.scope);
			a->kill.scope = take_string(ld, v, "scope", bad);
			const char *s = a->kill.scope;
			if (s && strcmp(s, "process") && strcmp(s, "container") && strcmp(s, "cgroup")) {
				node_diag(ld, POLICY_ERROR, v, "unknown kill scope '%s': expected process, container or cgroup", s);
				*bad = true;
			}
		} else if (!key_is(k, "disable_container_disarmer") && !key_is(k, "disable_executable_disarmer")) {
			node_diag(ld, POLICY_WARNING, k, "unknown key '%s' in 'kill' ignored", scalar(k) ? scalar(k) : "?");
		}
	}
}

static void parse_set(struct loader *ld, const yaml_node_t *body, struct policy_action *a, bool *bad)
{
	if (body->type != YAML_MAPPING_NODE) {
		node_diag(ld, POLICY_ERROR, body, "expected a mapping for 'set'");
		*bad = true;
		return;
	}
	for (yaml_node_pair_t *p = body->data.mapping.pairs.start; p < body->data.mapping.pairs.top; p++) {
		yaml_node_t *k = get_node(ld, p->key), *v = get_node(ld, p->value);
		char **dst = NULL;

		if (key_is(k, "name")) dst = &a->set.name;
		else if (key_is(k, "value")) dst = &a->set.value;
		else if (key_is(k, "field")) dst = &a->set.field;
		else if (key_is(k, "expression")) dst = &a->set.expression;
		else if (key_is(k, "default_value")) dst = &a->set.default_value;
		else if (key_is(k, "scope")) dst = &a->set.scope;
		else if (key_is(k, "ttl")) dst = &a->set.ttl;
		else if (key_is(k, "append")) take_bool(ld, v, "append", &a->set.append, bad);
		else if (key_is(k, "inherited")) take_bool(ld, v, "inherited", &a->set.inherited, bad);
		else if (key_is(k, "size")) take_int(ld, v, "size", &a->set.size, bad);
		else if (!key_is(k, "private") && !key_is(k, "scope_field"))
			node_diag(ld, POLICY_WARNING, k, "unknown key '%s' in 'set' ignored", scalar(k) ? scalar(k) : "?");
		if (dst) {
			free(*dst);
			*dst = take_string(ld, v, scalar(k), bad);
		}
	}
	if (!a->set.name) {
		node_diag(ld, POLICY_ERROR, body, "'set' needs a 'name'");
		*bad = true;
	}
	int given = !!a->set.value + !!a->set.field + !!a->set.expression;
	if (given != 1) {
		node_diag(ld, POLICY_ERROR, body, "'set' needs exactly one of 'value', 'field' or 'expression'");
		*bad = true;
	}
}

static void parse_action(struct loader *ld, const yaml_node_t *n, struct policy_action *a, bool *bad)
{
	const yaml_node_t *body = NULL;
	int bodies = 0, unknown = 0;

	a->kind = POLICY_ACTION_OTHER; /* until a known body is found */

	if (n->type != YAML_MAPPING_NODE) {
		node_diag(ld, POLICY_ERROR, n, "expected a mapping for an action");
		*bad = true;
		return;
	}
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = get_node(ld, p->key), *v = get_node(ld, p->value);
		const char *name = scalar(k);
		enum policy_action_kind kind;

		if (key_is(k, "filter")) {
			free(a->filter);
			a->filter = take_string(ld, v, "filter", bad);
			continue;
		}
		if (key_is(k, "kill")) kind = POLICY_ACTION_KILL;
		else if (key_is(k, "set")) kind = POLICY_ACTION_SET;
		else if (key_is(k, "hash")) kind = POLICY_ACTION_HASH;
		else if (key_is(k, "log")) kind = POLICY_ACTION_LOG;
		else if (key_is(k, "coredump")) kind = POLICY_ACTION_COREDUMP;
		else if (key_is(k, "network_filter")) kind = POLICY_ACTION_OTHER;
		else {
			node_diag(ld, POLICY_ERROR, k, "unknown action '%s': expected kill, set, hash, log, coredump or network_filter",
				  name ? name : "?");
			*bad = true;
			unknown++;
			continue;
		}
		if (bodies++) {
			node_diag(ld, POLICY_ERROR, k, "an action must have exactly one of kill, set, hash, log, coredump");
			*bad = true;
			continue;
		}
		a->kind = kind;
		a->name = strdup(name);
		body = v;
	}
	if (!body) {
		if (bodies == 0 && unknown == 0) {
			node_diag(ld, POLICY_ERROR, n, "action without kill, set, hash, log or coredump");
			*bad = true;
		}
		return;
	}
	switch (a->kind) {
	case POLICY_ACTION_KILL:
		parse_kill(ld, body, a, bad);
		break;
	case POLICY_ACTION_SET:
		parse_set(ld, body, a, bad);
		break;
	case POLICY_ACTION_HASH:
	case POLICY_ACTION_LOG:
	case POLICY_ACTION_COREDUMP:
		if (body->type != YAML_MAPPING_NODE)
			break; /* "hash: {}" or "hash:" */
		for (yaml_node_pair_t *p = body->data.mapping.pairs.start; p < body->data.mapping.pairs.top; p++) {
			yaml_node_t *k = get_node(ld, p->key), *v = get_node(ld, p->value);

			if (a->kind == POLICY_ACTION_HASH && key_is(k, "field")) {
				free(a->hash.field);
				a->hash.field = take_string(ld, v, "field", bad);
			} else if (a->kind == POLICY_ACTION_HASH && key_is(k, "max_file_size")) {
				take_int(ld, v, "max_file_size", &a->hash.max_file_size, bad);
			} else if (a->kind == POLICY_ACTION_LOG && key_is(k, "level")) {
				free(a->log.level);
				a->log.level = take_string(ld, v, "level", bad);
			} else if (a->kind == POLICY_ACTION_LOG && key_is(k, "message")) {
				free(a->log.message);
				a->log.message = take_string(ld, v, "message", bad);
			} else if (a->kind == POLICY_ACTION_COREDUMP && key_is(k, "process")) {
				take_bool(ld, v, "process", &a->coredump.process, bad);
			} else if (a->kind == POLICY_ACTION_COREDUMP && key_is(k, "mount")) {
				take_bool(ld, v, "mount", &a->coredump.mount, bad);
			} else if (a->kind == POLICY_ACTION_COREDUMP && key_is(k, "dentry")) {
				take_bool(ld, v, "dentry", &a->coredump.dentry, bad);
			} else if (a->kind == POLICY_ACTION_COREDUMP && key_is(k, "no_compression")) {
				take_bool(ld, v, "no_compression", &a->coredump.no_compression, bad);
			} else {
				node_diag(ld, POLICY_WARNING, k, "unknown key '%s' in '%s' ignored",
					  scalar(k) ? scalar(k) : "?", a->name);
			}
		}
		break;
	case POLICY_ACTION_OTHER:
		node_diag(ld, POLICY_WARNING, n, "action '%s' is not supported by Vigil and is kept but ignored", a->name);
		break;
	}
}

/* ---- rules ---- */

static bool valid_id(const char *id)
{
	if (!id || !*id || strlen(id) > 256)
		return false;
	for (const char *c = id; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '_' && *c != '.' && *c != '-')
			return false;
	return true;
}

static struct policy_rule *find_rule(struct policy_set *ps, const char *id, size_t *pos)
{
	for (size_t i = 0; i < ps->n_rules; i++) {
		if (strcmp(ps->rules[i]->id, id) == 0) {
			*pos = i;
			return ps->rules[i];
		}
	}
	return NULL;
}

static int store_rule(struct loader *ld, struct policy_rule *r, bool has_expression, const yaml_node_t *n)
{
	struct policy_set *ps = ld->ps;
	size_t pos;
	struct policy_rule *old = find_rule(ps, r->id, &pos);

	if (old && old->file == ld->file) {
		node_diag(ld, POLICY_ERROR, n, "duplicate rule id '%s' (first defined at line %d); this one is ignored",
			  r->id, old->line);
		rule_free(r);
		return 0;
	}
	if (old && !has_expression) {
		/* "id + disabled" override: switch the earlier definition. */
		old->disabled = r->disabled;
		old->status = old->disabled ? POLICY_RULE_DISABLED : POLICY_RULE_LOADED;
		rule_free(r);
		return 0;
	}
	if (old) {
		rule_free(old);
		ps->rules[pos] = r;
		return 0;
	}
	if (ps->n_rules >= POLICY_MAX_RULES) {
		node_diag(ld, POLICY_ERROR, n, "more than %d rules", POLICY_MAX_RULES);
		rule_free(r);
		return 0;
	}
	if (ps->n_rules == ps->cap_rules) {
		size_t cap = ps->cap_rules ? 2 * ps->cap_rules : 32;
		struct policy_rule **rules = realloc(ps->rules, cap * sizeof(*rules));

		if (!rules) {
			rule_free(r);
			return -1;
		}
		ps->rules = rules;
		ps->cap_rules = cap;
	}
	ps->rules[ps->n_rules++] = r;
	return 0;
}

static int parse_rule(struct loader *ld, const yaml_node_t *n)
{
	struct policy_rule *r;
	bool bad = false, has_expression = false;
	const yaml_node_t *id_node = n;

	if (n->type != YAML_MAPPING_NODE) {
		node_diag(ld, POLICY_ERROR, n, "expected a mapping for a rule");
		return 0;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return -1;
	r->file = ld->file;
	r->line = (int)n->start_mark.line + 1;
	r->column = (int)n->start_mark.column + 1;
	r->rule_index = -1;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = get_node(ld, p->key), *v = get_node(ld, p->value);
		const char *key = scalar(k);
		char **dst = NULL;

		if (!key || !v) {
			node_diag(ld, POLICY_ERROR, k, "expected a string key in rule");
			bad = true;
			continue;
		}
		if (!strcmp(key, "id")) {
			dst = &r->id;
			id_node = v;
		} else if (!strcmp(key, "expression")) {
			free(r->expression);
			r->expression = take_string(ld, v, key, &bad);
			if (r->expression) {
				has_expression = true;
				span_free(r->expr_span);
				r->expr_span = span_new(ld, v);
			}
		} else if (!strcmp(key, "description")) {
			dst = &r->description;
		} else if (!strcmp(key, "version")) {
			dst = &r->version;
		} else if (!strcmp(key, "priority")) {
			dst = &r->priority;
		} else if (!strcmp(key, "severity")) {
			dst = &r->severity;
		} else if (!strcmp(key, "disabled")) {
			take_bool(ld, v, key, &r->disabled, &bad);
		} else if (!strcmp(key, "silent")) {
			take_bool(ld, v, key, &r->silent, &bad);
		} else if (!strcmp(key, "tags")) {
			if (v->type != YAML_MAPPING_NODE) {
				node_diag(ld, POLICY_ERROR, v, "expected a mapping for 'tags'");
				bad = true;
				continue;
			}
			size_t cap = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
			if (r->tags)
				continue;
			r->tags = calloc(cap + 1, sizeof(*r->tags));
			if (!r->tags) {
				rule_free(r);
				return -1;
			}
			for (yaml_node_pair_t *t = v->data.mapping.pairs.start; t < v->data.mapping.pairs.top; t++) {
				char *tk = take_string(ld, get_node(ld, t->key), "tags", &bad);
				char *tv = take_string(ld, get_node(ld, t->value), "tags", &bad);

				if (tk && tv) {
					r->tags[r->n_tags].key = tk;
					r->tags[r->n_tags++].value = tv;
				} else {
					free(tk);
					free(tv);
				}
			}
		} else if (!strcmp(key, "product_tags")) {
			if (!r->product_tags)
				take_strings(ld, v, key, &r->product_tags, &r->n_product_tags, &bad);
		} else if (!strcmp(key, "filters")) {
			if (!r->filters)
				take_strings(ld, v, key, &r->filters, &r->n_filters, &bad);
		} else if (!strcmp(key, "actions")) {
			if (v->type != YAML_SEQUENCE_NODE) {
				node_diag(ld, POLICY_ERROR, v, "expected a list for 'actions'");
				bad = true;
				continue;
			}
			if (r->actions)
				continue;
			size_t cap = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
			r->actions = calloc(cap + 1, sizeof(*r->actions));
			if (!r->actions) {
				rule_free(r);
				return -1;
			}
			for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++)
				parse_action(ld, get_node(ld, *it), &r->actions[r->n_actions++], &bad);
		} else if (strcmp(key, "every") && strcmp(key, "limiter_token") && strcmp(key, "group_id") &&
			   strcmp(key, "agent_version") && strcmp(key, "combine") &&
			   strcmp(key, "override_options") && strcmp(key, "policy")) {
			node_diag(ld, POLICY_WARNING, k, "unknown rule key '%s' ignored", key);
		}
		if (dst) {
			free(*dst);
			*dst = take_string(ld, v, key, &bad);
		}
	}
	if (!r->id) {
		if (!bad)
			node_diag(ld, POLICY_ERROR, n, "rule without an 'id'");
		rule_free(r);
		return 0;
	}
	if (!valid_id(r->id)) {
		node_diag(ld, POLICY_ERROR, id_node, "invalid rule id '%s': use letters, digits, '_', '.' or '-'", r->id);
		rule_free(r);
		return 0;
	}
	if (!has_expression && !r->disabled && !bad) {
		size_t pos;

		if (!find_rule(ld->ps, r->id, &pos)) {
			node_diag(ld, POLICY_ERROR, n, "rule '%s' has no 'expression'", r->id);
			bad = true;
		}
	}
	r->status = bad ? POLICY_RULE_INVALID : r->disabled ? POLICY_RULE_DISABLED : POLICY_RULE_LOADED;
	return store_rule(ld, r, has_expression || bad, n);
}

/* ---- macros ---- */

static int reserve(char **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t ncap = need * 2;
	char *nb = realloc(*buf, ncap);

	if (!nb)
		return -1;
	*buf = nb;
	*cap = ncap;
	return 0;
}

/* A value from "values:" as SECL text: SECL literals and YAML integers stay,
 * anything else becomes a quoted string. */
static int append_value(char **buf, size_t *len, size_t *cap, const yaml_node_t *v)
{
	const char *s = scalar(v);
	bool literal = false;
	char *end;

	if (v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
		errno = 0;
		(void)strtoll(s, &end, 0);
		literal = *s && !*end && !errno;
	}
	if (s[0] == '"' || (s[0] == '~' && s[1] == '"') || (s[0] == 'r' && s[1] == '"'))
		literal = true;
	/* worst case: every byte escaped, two quotes, ", ", "]" and NUL */
	if (reserve(buf, cap, *len + 2 * strlen(s) + 8) < 0)
		return -1;
	if (literal) {
		memcpy(*buf + *len, s, strlen(s));
		*len += strlen(s);
		return 0;
	}
	(*buf)[(*len)++] = '"';
	for (const char *c = s; *c; c++) {
		if (*c == '"' || *c == '\\')
			(*buf)[(*len)++] = '\\';
		(*buf)[(*len)++] = *c;
	}
	(*buf)[(*len)++] = '"';
	return 0;
}

static int macro_values(struct loader *ld, struct policy_macro *m, const yaml_node_t *v, bool *bad)
{
	size_t len = 0, cap = 64, count;
	char *buf;

	if (v->type != YAML_SEQUENCE_NODE) {
		node_diag(ld, POLICY_ERROR, v, "expected a list for 'values'");
		*bad = true;
		return 0;
	}
	count = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	buf = malloc(cap);
	m->value_spans = calloc(count + 1, sizeof(*m->value_spans));
	m->value_offsets = calloc(count + 1, sizeof(*m->value_offsets));
	if (!buf || !m->value_spans || !m->value_offsets) {
		free(buf);
		return -1;
	}
	buf[len++] = '[';
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		yaml_node_t *item = get_node(ld, *it);

		if (!scalar(item)) {
			node_diag(ld, POLICY_ERROR, item, "expected a string or number in 'values'");
			*bad = true;
			continue;
		}
		if (m->n_values) {
			buf[len++] = ',';
			buf[len++] = ' ';
		}
		m->value_offsets[m->n_values] = len;
		m->value_spans[m->n_values++] = span_new(ld, item);
		if (append_value(&buf, &len, &cap, item) < 0) {
			free(buf);
			return -1;
		}
	}
	buf[len++] = ']';
	buf[len] = '\0';
	free(m->expression);
	m->expression = buf;
	return 0;
}

static int parse_macro(struct loader *ld, const yaml_node_t *n)
{
	struct policy_set *ps = ld->ps;
	struct policy_macro *m;
	bool bad = false;
	int forms = 0;

	if (n->type != YAML_MAPPING_NODE) {
		node_diag(ld, POLICY_ERROR, n, "expected a mapping for a macro");
		return 0;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return -1;
	m->file = ld->file;
	m->line = (int)n->start_mark.line + 1;
	m->column = (int)n->start_mark.column + 1;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = get_node(ld, p->key), *v = get_node(ld, p->value);

		if (key_is(k, "id")) {
			free(m->id);
			m->id = take_string(ld, v, "id", &bad);
		} else if (key_is(k, "expression")) {
			forms++;
			free(m->expression);
			m->expression = take_string(ld, v, "expression", &bad);
			span_free(m->expr_span);
			m->expr_span = m->expression ? span_new(ld, v) : NULL;
		} else if (key_is(k, "values")) {
			forms++;
			if (macro_values(ld, m, v, &bad) < 0) {
				macro_free(m);
				return -1;
			}
		} else if (key_is(k, "description")) {
			free(m->description);
			m->description = take_string(ld, v, "description", &bad);
		} else if (!key_is(k, "agent_version") && !key_is(k, "filters") && !key_is(k, "combine")) {
			node_diag(ld, POLICY_WARNING, k, "unknown macro key '%s' ignored", scalar(k) ? scalar(k) : "?");
		}
	}
	if (!m->id || !valid_id(m->id)) {
		if (!bad)
			node_diag(ld, POLICY_ERROR, n, "macro without a valid 'id'");
		macro_free(m);
		return 0;
	}
	if (forms != 1 && !bad) {
		node_diag(ld, POLICY_ERROR, n, "macro '%s' needs exactly one of 'expression' or 'values'", m->id);
		bad = true;
	}
	m->invalid = bad;
	for (size_t i = 0; i < ps->n_macros; i++) {
		if (strcmp(ps->macros[i]->id, m->id) == 0) {
			if (ps->macros[i]->file == ld->file) {
				node_diag(ld, POLICY_ERROR, n, "duplicate macro id '%s' (first defined at line %d); this one is ignored",
					  m->id, ps->macros[i]->line);
				macro_free(m);
				return 0;
			}
			macro_free(ps->macros[i]);
			ps->macros[i] = m;
			return 0;
		}
	}
	if (ps->n_macros == ps->cap_macros) {
		size_t cap = ps->cap_macros ? 2 * ps->cap_macros : 16;
		struct policy_macro **v = realloc(ps->macros, cap * sizeof(*v));

		if (!v) {
			macro_free(m);
			return -1;
		}
		ps->macros = v;
		ps->cap_macros = cap;
	}
	ps->macros[ps->n_macros++] = m;
	return 0;
}

/* ---- files ---- */

static int parse_list(struct loader *ld, const yaml_node_t *v, const char *what,
		      int (*each)(struct loader *, const yaml_node_t *))
{
	if (v->type == YAML_SCALAR_NODE && !*scalar(v))
		return 0; /* "rules:" with nothing */
	if (v->type != YAML_SEQUENCE_NODE) {
		node_diag(ld, POLICY_ERROR, v, "expected a list for '%s'", what);
		return 0;
	}
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++)
		if (each(ld, get_node(ld, *it)) < 0)
			return -1;
	return 0;
}

int policy_set_load_buffer(struct policy_set *ps, const char *name, const char *text, size_t len)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	struct loader ld = { .ps = ps, .text = text, .len = len, .doc = &doc };
	char *file;
	int rc = 0;

	if (!ps || !name || !text)
		return -1;
	char **files = realloc(ps->files, (ps->n_files + 1) * sizeof(*files));
	if (!files)
		return -1;
	ps->files = files;
	file = strdup(name);
	if (!file)
		return -1;
	ps->files[ps->n_files++] = file;
	ld.file = file;
	if (len > POLICY_MAX_FILE) {
		add_diag(ps, POLICY_ERROR, file, 1, 1, "policy file larger than %u bytes", POLICY_MAX_FILE);
		return -1;
	}
	if (!yaml_parser_initialize(&parser))
		return -1;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		add_diag(ps, POLICY_ERROR, file, (int)parser.problem_mark.line + 1,
			 (int)parser.problem_mark.column + 1, "invalid YAML: %s%s%s",
			 parser.problem ? parser.problem : "parse error",
			 parser.context ? " " : "", parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		return -1;
	}
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (!root) {
		add_diag(ps, POLICY_WARNING, file, 1, 1, "empty policy file");
	} else if (root->type != YAML_MAPPING_NODE) {
		node_diag(&ld, POLICY_ERROR, root, "expected a mapping with 'rules' and 'macros' at the top of the policy");
		rc = -1;
	} else {
		/* Macros first: a file's rules may come before its macros. */
		for (int pass = 0; pass < 2 && rc == 0; pass++) {
			for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
			     p < root->data.mapping.pairs.top && rc == 0; p++) {
				yaml_node_t *k = get_node(&ld, p->key), *v = get_node(&ld, p->value);

				if (pass == 0 && key_is(k, "macros"))
					rc = parse_list(&ld, v, "macros", parse_macro);
				else if (pass == 1 && key_is(k, "rules"))
					rc = parse_list(&ld, v, "rules", parse_rule);
				else if (pass == 1 && !key_is(k, "macros") && !key_is(k, "version") &&
					 !key_is(k, "type") && !key_is(k, "replace_policy_id") &&
					 !key_is(k, "name") && !key_is(k, "description"))
					node_diag(&ld, POLICY_WARNING, k, "unknown top-level key '%s' ignored",
						  scalar(k) ? scalar(k) : "?");
			}
		}
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return rc;
}

int policy_set_load_file(struct policy_set *ps, const char *path)
{
	FILE *f;
	char *buf;
	size_t len = 0, cap = 65536, n;
	int rc;

	if (!ps || !path)
		return -1;
	f = fopen(path, "rb");
	if (!f) {
		add_diag(ps, POLICY_ERROR, path, 0, 0, "cannot open policy file: %s", strerror(errno));
		return -1;
	}
	buf = malloc(cap);
	while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len > POLICY_MAX_FILE)
			break;
		if (len == cap) {
			char *nb = realloc(buf, cap * 2);

			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	bool read_error = ferror(f);
	fclose(f);
	if (!buf || read_error) {
		add_diag(ps, POLICY_ERROR, path, 0, 0, "cannot read policy file");
		free(buf);
		return -1;
	}
	rc = policy_set_load_buffer(ps, path, buf, len);
	free(buf);
	return rc;
}

/* ---- accessors ---- */

size_t policy_set_rule_count(const struct policy_set *ps)
{
	return ps ? ps->n_rules : 0;
}

const struct policy_rule *policy_set_rule(const struct policy_set *ps, size_t i)
{
	return ps && i < ps->n_rules ? ps->rules[i] : NULL;
}

const struct policy_rule *policy_set_find_rule(const struct policy_set *ps, const char *id)
{
	for (size_t i = 0; ps && id && i < ps->n_rules; i++)
		if (strcmp(ps->rules[i]->id, id) == 0)
			return ps->rules[i];
	return NULL;
}

size_t policy_set_macro_count(const struct policy_set *ps)
{
	return ps ? ps->n_macros : 0;
}

const struct policy_macro *policy_set_macro(const struct policy_set *ps, size_t i)
{
	return ps && i < ps->n_macros ? ps->macros[i] : NULL;
}

size_t policy_set_diag_count(const struct policy_set *ps)
{
	return ps ? ps->n_diags : 0;
}

const struct policy_diag *policy_set_diag(const struct policy_set *ps, size_t i)
{
	return ps && i < ps->n_diags ? &ps->diags[i] : NULL;
}

size_t policy_set_error_count(const struct policy_set *ps)
{
	return ps ? ps->n_errors : 0;
}

const struct policy_rule *policy_set_rule_for_index(const struct policy_set *ps, int i)
{
	return ps && i >= 0 && (size_t)i < ps->n_by_index ? ps->by_index[i] : NULL;
}

/* ---- compiling ---- */

static void report_secl(struct policy_set *ps, enum policy_diag_level level, const char *file,
			int def_line, int def_col, const struct policy_span *span, const char *expr,
			const char *what, const char *id, const struct secl_error *err)
{
	int line = def_line, col = def_col;

	if (span && expr && err->code != SECL_ERR_INVALID && err->code != SECL_ERR_DUPLICATE &&
	    err->code != SECL_ERR_NOMEM)
		span_locate(span, expr, err->offset, &line, &col);
	add_diag(ps, level, file, line, col, "%s '%s'%s: %s", what, id,
		 level == POLICY_WARNING ? " skipped" : "", err->msg);
}

static void report_macro(struct policy_set *ps, const struct policy_macro *m, const struct secl_error *err)
{
	enum policy_diag_level level = err->code == SECL_ERR_UNKNOWN_EVENT ? POLICY_WARNING : POLICY_ERROR;
	const struct policy_span *span = m->expr_span;
	size_t offset = err->offset;

	/* "values" macros: point at the value the error is in. */
	for (size_t i = 0; i < m->n_values; i++) {
		if (m->value_offsets[i] <= err->offset && m->value_spans[i]) {
			span = m->value_spans[i];
			offset = 0;
		}
	}
	struct secl_error e = *err;
	e.offset = offset;
	report_secl(ps, level, m->file, m->line, m->column, span,
		    span == m->expr_span ? m->expression : "", "macro", m->id, &e);
}

struct secl_ruleset *policy_set_compile(struct policy_set *ps, const struct secl_schema *schema)
{
	struct secl_ruleset *rs;
	struct secl_macro_table *mt;
	struct secl_error err;
	struct secl_error *merr;
	bool *done;

	if (!ps || !schema)
		return NULL;
	rs = secl_ruleset_new(schema);
	mt = secl_macros_new(schema);
	done = calloc(ps->n_macros + 1, sizeof(*done));
	merr = calloc(ps->n_macros + 1, sizeof(*merr));
	free(ps->by_index);
	ps->by_index = calloc(ps->n_rules + 1, sizeof(*ps->by_index));
	ps->n_by_index = 0;
	if (!rs || !mt || !done || !merr || !ps->by_index) {
		secl_ruleset_free(rs);
		secl_macros_free(mt);
		free(done);
		free(merr);
		return NULL;
	}

	/* Macros may use macros defined later: retry until nothing changes. */
	bool progress = true;
	while (progress) {
		progress = false;
		for (size_t i = 0; i < ps->n_macros; i++) {
			const struct policy_macro *m = ps->macros[i];

			if (done[i] || m->invalid || !m->expression)
				continue;
			if (secl_macros_add(mt, m->id, m->expression, &merr[i]) == 0) {
				done[i] = true;
				progress = true;
			}
		}
	}
	for (size_t i = 0; i < ps->n_macros; i++) {
		struct policy_macro *m = ps->macros[i];

		if (!done[i] && !m->invalid && m->expression) {
			report_macro(ps, m, &merr[i]);
			if (merr[i].code != SECL_ERR_UNKNOWN_EVENT)
				m->invalid = true;
		}
	}

	for (size_t i = 0; i < ps->n_rules; i++) {
		struct policy_rule *r = ps->rules[i];

		r->rule_index = -1;
		if (r->status == POLICY_RULE_INVALID || r->disabled) {
			if (r->disabled && r->status != POLICY_RULE_INVALID)
				r->status = POLICY_RULE_DISABLED;
			continue;
		}
		int idx = secl_ruleset_add(rs, r->id, r->expression, mt, &err);
		if (idx >= 0) {
			r->status = POLICY_RULE_ACTIVE;
			r->rule_index = idx;
			ps->by_index[idx] = r;
			ps->n_by_index = (size_t)idx + 1;
			continue;
		}
		if (err.code == SECL_ERR_UNKNOWN_EVENT) {
			r->status = POLICY_RULE_SKIPPED;
			report_secl(ps, POLICY_WARNING, r->file, r->line, r->column, r->expr_span,
				    r->expression, "rule", r->id, &err);
		} else {
			r->status = POLICY_RULE_INVALID;
			report_secl(ps, POLICY_ERROR, r->file, r->line, r->column, r->expr_span,
				    r->expression, "rule", r->id, &err);
		}
	}
	secl_macros_free(mt);
	free(done);
	free(merr);
	return rs;
}
