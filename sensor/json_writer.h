/* json_writer.h - builds JSON text into a growable buffer, fast.
 *
 * The event serializer runs once per event, so it avoids a DOM and writes
 * text directly. The writer tracks commas and nesting; strings are escaped
 * (control characters, quotes, backslashes, and invalid UTF-8 replaced by
 * U+FFFD so consumers always get valid JSON). */
#ifndef VIGIL_JSON_WRITER_H
#define VIGIL_JSON_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 32

struct json_writer {
	char *buf;
	size_t len, cap;
	bool oom; /* an allocation failed: the output is unusable */
	int depth;
	bool need_comma[JSON_MAX_DEPTH];
};

void json_init(struct json_writer *w);
void json_free(struct json_writer *w);
/* Empties the buffer, keeping its memory for the next document. */
void json_reset(struct json_writer *w);

void json_object_begin(struct json_writer *w);
void json_object_end(struct json_writer *w);
void json_array_begin(struct json_writer *w);
void json_array_end(struct json_writer *w);
/* A key inside an object; the next value call writes its value. */
void json_key(struct json_writer *w, const char *key);
void json_string(struct json_writer *w, const char *s);
void json_string_len(struct json_writer *w, const char *s, size_t len);
void json_uint(struct json_writer *w, uint64_t v);
void json_int(struct json_writer *w, int64_t v);
void json_bool(struct json_writer *w, bool v);
void json_null(struct json_writer *w);
/* Appends raw bytes (a newline after a document, pre-rendered JSON). */
void json_raw(struct json_writer *w, const char *s, size_t len);

#endif
