/* decode.h - turns ring-buffer records (bpf/vigil_abi.h) into struct event.
 *
 * Every length and offset in a record is checked against the record's size
 * before use; a record that does not add up is rejected with a reason and
 * counted, never trusted. */
#ifndef VIGIL_DECODE_H
#define VIGIL_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"

enum decode_error {
	DECODE_OK = 0,
	DECODE_SHORT,       /* smaller than its header or its type's fixed part */
	DECODE_BAD_SIZE,    /* header size disagrees with the record length */
	DECODE_BAD_VERSION, /* built against another ABI version */
	DECODE_BAD_TYPE,    /* unknown event type */
	DECODE_BAD_LENGTHS, /* variable-length fields overrun the record */
	DECODE_ERROR_COUNT,
};

struct decoder;

struct decoder *decoder_new(void);
void decoder_free(struct decoder *d);
/* Decodes one record. The event's strings point into the record or into the
 * decoder, so they are valid until the next call. */
enum decode_error decoder_decode(struct decoder *d, const void *record, size_t len, struct event *ev);
const char *decode_error_name(enum decode_error e);
/* Removes ".", ".." and repeated "/" from an absolute path, in place. */
void path_normalize(char *path);
/* Records rejected for each reason since decoder_new. */
uint64_t decoder_errors(const struct decoder *d, enum decode_error e);

#endif
