/* json_writer.c - see json_writer.h. */
#include "json_writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void json_init(struct json_writer *w)
{
	memset(w, 0, sizeof(*w));
}

void json_free(struct json_writer *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

void json_reset(struct json_writer *w)
{
	w->len = 0;
	w->oom = false;
	w->depth = 0;
	w->need_comma[0] = false;
}

static bool reserve(struct json_writer *w, size_t extra)
{
	size_t cap;
	char *p;

	if (w->oom)
		return false;
	if (w->len + extra <= w->cap)
		return true;
	cap = w->cap ? w->cap : 1024;
	while (cap < w->len + extra)
		cap *= 2;
	p = realloc(w->buf, cap);
	if (!p) {
		w->oom = true;
		return false;
	}
	w->buf = p;
	w->cap = cap;
	return true;
}

void json_raw(struct json_writer *w, const char *s, size_t len)
{
	if (!reserve(w, len))
		return;
	memcpy(w->buf + w->len, s, len);
	w->len += len;
}

static void put(struct json_writer *w, char c)
{
	if (!reserve(w, 1))
		return;
	w->buf[w->len++] = c;
}

/* Called before every value or key: writes the comma that separates it from
 * the previous one at this depth. */
static void separate(struct json_writer *w)
{
	if (w->need_comma[w->depth])
		put(w, ',');
	w->need_comma[w->depth] = true;
}

static void open_container(struct json_writer *w, char c)
{
	separate(w);
	put(w, c);
	if (w->depth < JSON_MAX_DEPTH - 1)
		w->depth++;
	w->need_comma[w->depth] = false;
}

static void close_container(struct json_writer *w, char c)
{
	if (w->depth > 0)
		w->depth--;
	put(w, c);
}

void json_object_begin(struct json_writer *w)
{
	open_container(w, '{');
}

void json_object_end(struct json_writer *w)
{
	close_container(w, '}');
}

void json_array_begin(struct json_writer *w)
{
	open_container(w, '[');
}

void json_array_end(struct json_writer *w)
{
	close_container(w, ']');
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
	size_t need;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		need = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		need = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		need = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < need)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Reject overlong forms, surrogates and out-of-range code points. */
	if ((need == 2 && cp < 0x80) || (need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return need;
}

static void escape(struct json_writer *w, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	char *out;
	size_t i = 0;

	/* Room for the worst case (every byte as \u00XX, plus quotes) once,
	 * so the loop below writes without checking. */
	if (!reserve(w, len * 6 + 2))
		return;
	out = w->buf + w->len;
	*out++ = '"';
	while (i < len) {
		unsigned char c = s[i];

		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			*out++ = (char)c;
			i++;
			continue;
		}
		if (c >= 0x80) {
			size_t n = utf8_sequence(s + i, len - i);

			if (n == 0) {
				memcpy(out, "\\ufffd", 6);
				out += 6;
				i++;
			} else {
				memcpy(out, str + i, n);
				out += n;
				i += n;
			}
			continue;
		}
		*out++ = '\\';
		switch (c) {
		case '"': *out++ = '"'; break;
		case '\\': *out++ = '\\'; break;
		case '\n': *out++ = 'n'; break;
		case '\r': *out++ = 'r'; break;
		case '\t': *out++ = 't'; break;
		default:
			*out++ = 'u';
			*out++ = '0';
			*out++ = '0';
			*out++ = "0123456789abcdef"[c >> 4];
			*out++ = "0123456789abcdef"[c & 15];
		}
		i++;
	}
	*out++ = '"';
	w->len = (size_t)(out - w->buf);
}

void json_key(struct json_writer *w, const char *key)
{
	separate(w);
	escape(w, key, strlen(key));
	put(w, ':');
	/* The value that follows must not get a comma of its own. */
	w->need_comma[w->depth] = false;
}

static void value_done(struct json_writer *w)
{
	w->need_comma[w->depth] = true;
}

void json_string_len(struct json_writer *w, const char *s, size_t len)
{
	separate(w);
	escape(w, s, len);
	value_done(w);
}

void json_string(struct json_writer *w, const char *s)
{
	json_string_len(w, s, strlen(s));
}

/* Digits of v, written backwards from end; returns the first. Numbers are
 * most of an event's fields, and snprintf costs ten times this. */
static char *format_uint(uint64_t v, char *end)
{
	char *p = end;

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return p;
}

void json_uint(struct json_writer *w, uint64_t v)
{
	char num[24], *p = format_uint(v, num + sizeof(num));

	separate(w);
	json_raw(w, p, (size_t)(num + sizeof(num) - p));
}

void json_int(struct json_writer *w, int64_t v)
{
	char num[24], *p;

	if (v >= 0) {
		json_uint(w, (uint64_t)v);
		return;
	}
	p = format_uint(0 - (uint64_t)v, num + sizeof(num));
	*--p = '-';
	separate(w);
	json_raw(w, p, (size_t)(num + sizeof(num) - p));
}

void json_bool(struct json_writer *w, bool v)
{
	separate(w);
	json_raw(w, v ? "true" : "false", v ? 4 : 5);
}

void json_null(struct json_writer *w)
{
	separate(w);
	json_raw(w, "null", 4);
}
