/* secl_lex.c - SECL tokens, plus the small arena and error helpers the rest
 * of the engine shares.
 *
 * The lexer turns expression text into tokens one at a time. Literals are
 * decoded here (escapes, durations to nanoseconds, addresses to bytes) so the
 * parser only deals with values. Every token keeps its byte offset so errors
 * can point at it. */
#include "secl_internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena ---- */

struct arena_chunk {
	struct arena_chunk *next;
	size_t size, used;
	max_align_t data[];
};

struct arena_cleanup {
	struct arena_cleanup *next;
	void (*fn)(void *);
	void *p;
};

#define ARENA_CHUNK 4096

void arena_init(struct arena *a, size_t limit)
{
	memset(a, 0, sizeof(*a));
	a->limit = limit;
}

void *arena_alloc(struct arena *a, size_t size)
{
	struct arena_chunk *c = a->chunks;
	const size_t align = sizeof(max_align_t);

	size = (size + align - 1) / align * align;
	if (size == 0)
		size = align;
	if (size > a->limit || a->used > a->limit - size)
		return NULL;
	if (!c || c->size - c->used < size) {
		size_t cap = size > ARENA_CHUNK ? size : ARENA_CHUNK;

		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->size = cap;
		c->used = 0;
		c->next = a->chunks;
		a->chunks = c;
	}
	void *p = (char *)c->data + c->used;
	c->used += size;
	a->used += size;
	memset(p, 0, size);
	return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t len)
{
	char *p = arena_alloc(a, len + 1);

	if (!p)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

int arena_on_free(struct arena *a, void (*fn)(void *), void *p)
{
	struct arena_cleanup *c = arena_alloc(a, sizeof(*c));

	if (!c)
		return -1;
	c->fn = fn;
	c->p = p;
	c->next = a->cleanups;
	a->cleanups = c;
	return 0;
}

void arena_free(struct arena *a)
{
	/* Cleanups live inside the chunks: run them all before freeing. */
	for (struct arena_cleanup *c = a->cleanups; c; c = c->next)
		c->fn(c->p);
	struct arena_chunk *c = a->chunks;
	while (c) {
		struct arena_chunk *next = c->next;
		free(c);
		c = next;
	}
	a->chunks = NULL;
	a->cleanups = NULL;
	a->used = 0;
}

/* ---- errors ---- */

void secl_set_error(struct secl_error *err, const char *src, size_t pos,
		    enum secl_error_code code, const char *fmt, ...)
{
	va_list ap;
	int line = 1, col = 1;

	if (!err)
		return;
	for (size_t i = 0; src && i < pos && src[i]; i++) {
		if (src[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	err->code = code;
	err->line = line;
	err->column = col;
	err->offset = pos;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

const char *secl_error_code_name(enum secl_error_code code)
{
	switch (code) {
	case SECL_OK: return "ok";
	case SECL_ERR_SYNTAX: return "syntax error";
	case SECL_ERR_UNKNOWN: return "unknown name";
	case SECL_ERR_UNKNOWN_EVENT: return "unknown event type";
	case SECL_ERR_TYPE: return "type error";
	case SECL_ERR_EVENT_MIX: return "mixed event types";
	case SECL_ERR_REGEX: return "bad regular expression";
	case SECL_ERR_LIMIT: return "limit exceeded";
	case SECL_ERR_DUPLICATE: return "duplicate id";
	case SECL_ERR_NOMEM: return "out of memory";
	case SECL_ERR_INVALID: return "invalid argument";
	}
	return "unknown error";
}

/* ---- addresses ---- */

void secl_ip_v4(struct secl_ip *ip, uint32_t addr_be)
{
	memset(ip->addr, 0, 10);
	ip->addr[10] = 0xff;
	ip->addr[11] = 0xff;
	memcpy(ip->addr + 12, &addr_be, 4);
}

void secl_ip_v6(struct secl_ip *ip, const uint8_t addr[16])
{
	memcpy(ip->addr, addr, 16);
}

int secl_ip_parse(struct secl_ip *ip, const char *text)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (inet_pton(AF_INET, text, &a4) == 1) {
		secl_ip_v4(ip, a4.s_addr);
		return 0;
	}
	if (inet_pton(AF_INET6, text, &a6) == 1) {
		secl_ip_v6(ip, a6.s6_addr);
		return 0;
	}
	return -1;
}

/* ---- lexer ---- */

const char *tok_kind_name(enum tok_kind k)
{
	switch (k) {
	case TOK_EOF: return "end of expression";
	case TOK_IDENT: return "a name";
	case TOK_INT: return "a number";
	case TOK_STRING: return "a string";
	case TOK_PATTERN: return "a pattern";
	case TOK_REGEX: return "a regular expression";
	case TOK_IP: return "an IP address";
	case TOK_VAR: return "a variable";
	case TOK_TRUE: return "'true'";
	case TOK_FALSE: return "'false'";
	case TOK_LPAREN: return "'('";
	case TOK_RPAREN: return "')'";
	case TOK_LBRACK: return "'['";
	case TOK_RBRACK: return "']'";
	case TOK_COMMA: return "','";
	case TOK_OR: return "'||'";
	case TOK_AND: return "'&&'";
	case TOK_NOT: return "'!'";
	case TOK_IN: return "'in'";
	case TOK_ALLIN: return "'allin'";
	case TOK_EQ: return "'=='";
	case TOK_NE: return "'!='";
	case TOK_LT: return "'<'";
	case TOK_LE: return "'<='";
	case TOK_GT: return "'>'";
	case TOK_GE: return "'>='";
	case TOK_MATCH: return "'=~'";
	case TOK_NMATCH: return "'!~'";
	case TOK_AMP: return "'&'";
	case TOK_PIPE: return "'|'";
	case TOK_CARET: return "'^'";
	case TOK_PLUS: return "'+'";
	case TOK_MINUS: return "'-'";
	}
	return "a token";
}

static bool is_ident_start(int c)
{
	return isalpha(c) || c == '_';
}

static bool is_ident_char(int c)
{
	return isalnum(c) || c == '_' || c == '.';
}

static int lex_fail(struct lexer *lx, size_t pos, enum secl_error_code code,
		    const char *what)
{
	secl_set_error(lx->err, lx->src, pos, code, "%s", what);
	return -1;
}

/* Decodes a quoted literal starting at the opening quote. Regex bodies are
 * kept raw except for \" so that backslash classes reach regcomp intact. */
static int lex_quoted(struct lexer *lx, struct token *t, size_t quote, bool raw)
{
	const char *s = lx->src;
	size_t i = quote + 1, n = 0;
	char *buf;

	/* First pass: find the end and the decoded length. */
	while (i < lx->len && s[i] != '"') {
		if (s[i] == '\\' && i + 1 < lx->len)
			i++;
		i++;
		n++;
	}
	if (i >= lx->len)
		return lex_fail(lx, t->pos, SECL_ERR_SYNTAX,
				"unterminated string: expected a closing '\"' before the end of the expression");
	if (n > SECL_MAX_STRING_LEN)
		return lex_fail(lx, t->pos, SECL_ERR_LIMIT, "string literal longer than 4096 bytes");
	/* n counted an escape pair as one byte; a kept pair needs two. */
	buf = arena_alloc(lx->arena, 2 * n + 1);
	if (!buf)
		return lex_fail(lx, t->pos, SECL_ERR_NOMEM, "out of memory");
	n = 0;
	for (size_t j = quote + 1; j < i; j++) {
		char c = s[j];

		if (c == '\\' && j + 1 < i) {
			char e = s[j + 1];

			j++;
			if (e == '"') {
				buf[n++] = '"';
			} else if (raw) {
				buf[n++] = '\\';
				buf[n++] = e;
			} else if (e == '\\') {
				buf[n++] = '\\';
			} else if (e == 'n') {
				buf[n++] = '\n';
			} else if (e == 't') {
				buf[n++] = '\t';
			} else if (e == 'r') {
				buf[n++] = '\r';
			} else {
				buf[n++] = '\\';
				buf[n++] = e;
			}
			continue;
		}
		buf[n++] = c;
	}
	buf[n] = '\0';
	t->str = buf;
	t->str_len = n;
	t->has_var = strstr(buf, "${") != NULL;
	lx->pos = i + 1;
	t->len = lx->pos - t->pos;
	return 0;
}

static int lex_prefix(struct lexer *lx, struct token *t, bool v4)
{
	const char *s = lx->src;
	size_t i = lx->pos;
	int max = v4 ? 32 : 128, p = 0;

	t->prefix = 128;
	if (i >= lx->len || s[i] != '/')
		return 0;
	i++;
	if (i >= lx->len || !isdigit((unsigned char)s[i]))
		return lex_fail(lx, i, SECL_ERR_SYNTAX, "expected a prefix length after '/' in CIDR");
	while (i < lx->len && isdigit((unsigned char)s[i])) {
		p = p * 10 + (s[i] - '0');
		if (p > max)
			return lex_fail(lx, lx->pos + 1, SECL_ERR_SYNTAX,
					v4 ? "CIDR prefix length must be 0..32"
					   : "CIDR prefix length must be 0..128");
		i++;
	}
	t->prefix = v4 ? p + 96 : p;
	lx->pos = i;
	return 0;
}

/* Masks host bits so 10.1.2.3/8 and 10.0.0.0/8 compare equal. */
static void ip_mask(struct secl_ip *ip, int prefix)
{
	for (int b = 0; b < 16; b++) {
		int keep = prefix - b * 8;

		if (keep >= 8)
			continue;
		if (keep <= 0)
			ip->addr[b] = 0;
		else
			ip->addr[b] &= (uint8_t)(0xff << (8 - keep));
	}
}

static int lex_ip(struct lexer *lx, struct token *t, size_t end, bool v6)
{
	char buf[64];
	size_t n = end - t->pos;
	struct secl_ip ip;

	if (n >= sizeof(buf))
		return lex_fail(lx, t->pos, SECL_ERR_SYNTAX, "invalid IP address: too long");
	memcpy(buf, lx->src + t->pos, n);
	buf[n] = '\0';
	if (secl_ip_parse(&ip, buf) < 0 || (v6 && !strchr(buf, ':')))
		return lex_fail(lx, t->pos, SECL_ERR_SYNTAX, "invalid IP address");
	lx->pos = end;
	if (lex_prefix(lx, t, !v6) < 0)
		return -1;
	ip_mask(&ip, t->prefix);
	t->kind = TOK_IP;
	t->ip = ip;
	t->len = lx->pos - t->pos;
	return 0;
}

static int lex_number(struct lexer *lx, struct token *t)
{
	const char *s = lx->src;
	size_t i = t->pos, start = t->pos;
	char buf[32];
	char *end;
	long long v;

	/* An IPv4 address is digits and three dots. */
	size_t j = i;
	int dots = 0;
	while (j < lx->len && (isdigit((unsigned char)s[j]) || s[j] == '.')) {
		if (s[j] == '.')
			dots++;
		j++;
	}
	if (dots == 3 && (j >= lx->len || !is_ident_char((unsigned char)s[j])))
		return lex_ip(lx, t, j, false);

	if (s[i] == '0' && i + 1 < lx->len && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
		i += 2;
		while (i < lx->len && isxdigit((unsigned char)s[i]))
			i++;
	} else {
		while (i < lx->len && isdigit((unsigned char)s[i]))
			i++;
	}
	if (i - start >= sizeof(buf))
		return lex_fail(lx, start, SECL_ERR_SYNTAX, "number too long");
	memcpy(buf, s + start, i - start);
	buf[i - start] = '\0';
	errno = 0;
	v = strtoll(buf, &end, 0);
	if (errno || *end != '\0')
		return lex_fail(lx, start, SECL_ERR_SYNTAX, "invalid or out of range number");

	/* Duration suffix. */
	size_t k = i;
	while (k < lx->len && isalpha((unsigned char)s[k]))
		k++;
	if (k > i) {
		static const struct { const char *unit; int64_t ns; } units[] = {
			{ "ns", 1 }, { "us", 1000 }, { "ms", 1000000 },
			{ "s", 1000000000LL }, { "m", 60000000000LL },
			{ "h", 3600000000000LL }, { "d", 86400000000000LL },
		};
		size_t ulen = k - i;
		bool found = false;

		if (k < lx->len && is_ident_char((unsigned char)s[k]))
			return lex_fail(lx, start, SECL_ERR_SYNTAX,
					"invalid number: expected digits or a duration unit (ns, us, ms, s, m, h, d)");
		for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
			if (strlen(units[u].unit) == ulen && memcmp(units[u].unit, s + i, ulen) == 0) {
				if (v > INT64_MAX / units[u].ns)
					return lex_fail(lx, start, SECL_ERR_SYNTAX, "duration out of range");
				v *= units[u].ns;
				found = true;
				break;
			}
		}
		if (!found)
			return lex_fail(lx, i, SECL_ERR_SYNTAX,
					"unknown duration unit: expected ns, us, ms, s, m, h or d");
		i = k;
	} else if (i < lx->len && is_ident_char((unsigned char)s[i])) {
		return lex_fail(lx, start, SECL_ERR_SYNTAX, "invalid number");
	}
	t->kind = TOK_INT;
	t->i = v;
	lx->pos = i;
	t->len = i - start;
	return 0;
}

static int lex_word(struct lexer *lx, struct token *t)
{
	static const struct { const char *word; enum tok_kind kind; } keywords[] = {
		{ "and", TOK_AND }, { "or", TOK_OR }, { "not", TOK_NOT },
		{ "in", TOK_IN }, { "allin", TOK_ALLIN },
		{ "true", TOK_TRUE }, { "false", TOK_FALSE },
	};
	const char *s = lx->src;
	size_t i = t->pos;

	while (i < lx->len && is_ident_char((unsigned char)s[i]))
		i++;
	if (i - t->pos > 256)
		return lex_fail(lx, t->pos, SECL_ERR_LIMIT, "name longer than 256 bytes");
	lx->pos = i;
	t->len = i - t->pos;
	for (size_t k = 0; k < sizeof(keywords) / sizeof(keywords[0]); k++) {
		if (strlen(keywords[k].word) == t->len &&
		    memcmp(keywords[k].word, s + t->pos, t->len) == 0) {
			t->kind = keywords[k].kind;
			return 0;
		}
	}
	t->kind = TOK_IDENT;
	t->str = arena_strndup(lx->arena, s + t->pos, t->len);
	if (!t->str)
		return lex_fail(lx, t->pos, SECL_ERR_NOMEM, "out of memory");
	t->str_len = t->len;
	return 0;
}

static void skip_space(struct lexer *lx)
{
	const char *s = lx->src;

	while (lx->pos < lx->len) {
		char c = s[lx->pos];

		if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			lx->pos++;
		} else if (c == '#' || (c == '/' && lx->pos + 1 < lx->len && s[lx->pos + 1] == '/')) {
			while (lx->pos < lx->len && s[lx->pos] != '\n')
				lx->pos++;
		} else {
			break;
		}
	}
}

int lex_next(struct lexer *lx, struct token *t)
{
	const char *s = lx->src;
	char c, d;

	memset(t, 0, sizeof(*t));
	skip_space(lx);
	t->pos = lx->pos;
	if (lx->pos >= lx->len) {
		t->kind = TOK_EOF;
		return 0;
	}
	c = s[lx->pos];
	d = lx->pos + 1 < lx->len ? s[lx->pos + 1] : '\0';

	/* IPv6: a run of hex digits, dots and colons with at least one colon.
	 * Names never contain ':', so this cannot steal one. */
	if (isxdigit((unsigned char)c) || c == ':') {
		size_t j = lx->pos;
		bool colon = false;

		while (j < lx->len && (isxdigit((unsigned char)s[j]) || s[j] == ':' || s[j] == '.')) {
			colon |= s[j] == ':';
			j++;
		}
		if (colon)
			return lex_ip(lx, t, j, true);
	}
	if (isdigit((unsigned char)c))
		return lex_number(lx, t);
	if (c == 'r' && d == '"') {
		t->kind = TOK_REGEX;
		return lex_quoted(lx, t, lx->pos + 1, true);
	}
	if (is_ident_start((unsigned char)c))
		return lex_word(lx, t);

	int two = 0;
	switch (c) {
	case '(': t->kind = TOK_LPAREN; break;
	case ')': t->kind = TOK_RPAREN; break;
	case '[': t->kind = TOK_LBRACK; break;
	case ']': t->kind = TOK_RBRACK; break;
	case ',': t->kind = TOK_COMMA; break;
	case '+': t->kind = TOK_PLUS; break;
	case '-': t->kind = TOK_MINUS; break;
	case '^': t->kind = TOK_CARET; break;
	case '|':
		if (d == '|') { t->kind = TOK_OR; two = 1; }
		else t->kind = TOK_PIPE;
		break;
	case '&':
		if (d == '&') { t->kind = TOK_AND; two = 1; }
		else t->kind = TOK_AMP;
		break;
	case '=':
		if (d == '=') { t->kind = TOK_EQ; two = 1; }
		else if (d == '~') { t->kind = TOK_MATCH; two = 1; }
		else return lex_fail(lx, t->pos, SECL_ERR_SYNTAX,
				     "expected '==' or '=~' but found a single '='");
		break;
	case '!':
		if (d == '=') { t->kind = TOK_NE; two = 1; }
		else if (d == '~') { t->kind = TOK_NMATCH; two = 1; }
		else t->kind = TOK_NOT;
		break;
	case '<':
		if (d == '=') { t->kind = TOK_LE; two = 1; }
		else t->kind = TOK_LT;
		break;
	case '>':
		if (d == '=') { t->kind = TOK_GE; two = 1; }
		else t->kind = TOK_GT;
		break;
	case '~':
		if (d != '"')
			return lex_fail(lx, t->pos, SECL_ERR_SYNTAX,
					"expected '\"' after '~' to start a pattern");
		t->kind = TOK_PATTERN;
		return lex_quoted(lx, t, lx->pos + 1, false);
	case '"':
		t->kind = TOK_STRING;
		return lex_quoted(lx, t, lx->pos, false);
	case '$': {
		size_t j = lx->pos + 2;

		if (d != '{')
			return lex_fail(lx, t->pos, SECL_ERR_SYNTAX, "expected '{' after '$'");
		while (j < lx->len && is_ident_char((unsigned char)s[j]))
			j++;
		if (j >= lx->len || s[j] != '}' || j == lx->pos + 2)
			return lex_fail(lx, t->pos, SECL_ERR_SYNTAX,
					"expected a variable name and '}' after '${'");
		if (j - lx->pos > 256)
			return lex_fail(lx, t->pos, SECL_ERR_LIMIT, "variable name too long");
		t->kind = TOK_VAR;
		t->str = arena_strndup(lx->arena, s + lx->pos + 2, j - lx->pos - 2);
		if (!t->str)
			return lex_fail(lx, t->pos, SECL_ERR_NOMEM, "out of memory");
		t->str_len = j - lx->pos - 2;
		lx->pos = j + 1;
		t->len = lx->pos - t->pos;
		return 0;
	}
	default:
		if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
			secl_set_error(lx->err, lx->src, t->pos, SECL_ERR_SYNTAX,
				       "unexpected character '%c'", c);
		else
			secl_set_error(lx->err, lx->src, t->pos, SECL_ERR_SYNTAX,
				       "unexpected byte 0x%02x", (unsigned char)c);
		return -1;
	}
	lx->pos += 1 + two;
	t->len = 1 + two;
	return 0;
}
