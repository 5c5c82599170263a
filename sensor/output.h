/* output.h - where alerts and events go once the pipeline has produced them.
 *
 * The pipeline hands each JSON line to output_emit(), which copies it into
 * the bounded queue of every sink that wants it and returns at once. Each
 * sink (stdout, rotating file, webhook) drains its queue on its own thread,
 * so a slow or dead destination only ever costs lines for that sink, counted
 * in its stats and reported in the log, and never stalls detection.
 *
 * The second half of this header is the contract between the fan-out
 * (output.c) and the sink implementations (output_*.c); the rest of Vigil
 * only needs the first half. */
#ifndef VIGIL_OUTPUT_H
#define VIGIL_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

enum output_kind { OUTPUT_EVENT, OUTPUT_ALERT };

/* A queue is full when either bound is reached. Lines a sink is busy writing
 * still count, so the two numbers bound the sink's memory. */
struct output_queue_limits {
	unsigned max_lines;
	size_t max_bytes;
};

struct output_stdout_config {
	bool enabled;
	int fd;           /* STDOUT_FILENO in production, a pipe in tests; never closed here */
	bool only_alerts;
	struct output_queue_limits queue;
};

struct output_file_config {
	bool enabled;
	const char *path;
	uint64_t max_bytes;  /* rotate before a line would push the file past this */
	unsigned max_files;  /* rotated copies kept: path.1 (newest) .. path.N */
	bool only_alerts;
	struct output_queue_limits queue;
};

struct output_webhook_config {
	bool enabled;
	const char *url;              /* http:// or https:// */
	const char *const *headers;   /* "Name: value", e.g. "Authorization: Bearer x" */
	size_t header_count;
	unsigned timeout_ms;          /* whole request, connection included */
	bool only_alerts;             /* default true: Falco-style receivers want alerts */
	unsigned max_attempts;        /* per line, first try included */
	unsigned backoff_base_ms;     /* doubled after every failed attempt ... */
	unsigned backoff_cap_ms;      /* ... up to this */
	struct output_queue_limits queue;
};

/* The stdout member cannot be called "stdout": that name is a macro in
 * <stdio.h> on some C libraries. */
struct output_config {
	struct output_stdout_config stdout_sink;
	struct output_file_config file;
	struct output_webhook_config webhook;
	unsigned close_deadline_ms;   /* how long outputs_close() may spend flushing */
	unsigned drop_log_interval_ms; /* at most one "dropped" log line per sink per interval */
};

/* Counters are totals since outputs_open() except queued, which is a gauge. */
struct output_stats {
	char name[16];                /* "stdout", "file" or "webhook" */
	uint64_t queued;              /* lines waiting or being written now */
	uint64_t accepted;            /* lines taken into the queue */
	uint64_t sent;                /* lines delivered */
	uint64_t dropped_queue_full;  /* lines refused because the queue was full */
	uint64_t failed;              /* accepted lines given up on (errors, shutdown) */
	uint64_t errors;              /* failed writes or requests, each attempt counts */
	uint64_t retries;             /* attempts beyond the first */
};

#define OUTPUT_MAX_SINKS 3

struct outputs;

/* Defaults: stdout on fd 1 with every line, file and webhook off, webhook
 * alerts only with 5 attempts from 100 ms to 5 s and a 5 s timeout, queues
 * of 10000 lines / 16 MiB, a 2 s close deadline, drop logs every 10 s. */
void output_config_init(struct output_config *cfg);

/* Starts one worker thread per enabled sink. On bad configuration or a
 * failure to open a destination returns NULL with the reason in err. Zero
 * sinks enabled is valid (everything is discarded). */
struct outputs *outputs_open(const struct output_config *cfg, char *err, size_t err_len);

/* Queues one JSON line (without or with a trailing newline; one is added)
 * for every sink that wants this kind. Never blocks on I/O (except for the
 * one rate-limited stderr log line about drops). Thread safe. Returns how many
 * sinks took the line, or -1 for bad arguments (NULL, empty, or a newline
 * inside the line, which would break the one-object-per-line format). */
int output_emit(struct outputs *o, const char *json_line, size_t len, enum output_kind kind);

/* Fills up to max entries; returns the number of sinks. */
size_t output_get_stats(struct outputs *o, struct output_stats *out, size_t max);

/* Flushes what it can within the close deadline, stops every thread and
 * frees everything. Lines left after the deadline count as failed. The
 * caller must have stopped calling output_emit() first. */
void outputs_close(struct outputs *o);

/* ---- Sink interface, for output_*.c only ---- */

struct output_sink; /* owned by output.c */

enum output_counter { OUTPUT_SENT, OUTPUT_FAILED, OUTPUT_ERRORS, OUTPUT_RETRIES };

struct output_sink_ops {
	const char *name;
	unsigned max_batch; /* most lines handed to deliver() at once */
	/* Writes lines[0..n) in order; each iov is one line ending in '\n'.
	 * Must account for every line as sent or failed via output_sink_count()
	 * and must give up once output_sink_deadline_ms() has passed. */
	void (*deliver)(void *state, struct output_sink *sink, const struct iovec *lines, size_t n);
	void (*destroy)(void *state);
};

extern const struct output_sink_ops output_stdout_ops;
extern const struct output_sink_ops output_file_ops;
extern const struct output_sink_ops output_webhook_ops;

/* Each returns the sink state, or NULL with the reason in err. */
void *output_stdout_create(const struct output_stdout_config *cfg, char *err, size_t err_len);
void *output_file_create(const struct output_file_config *cfg, char *err, size_t err_len);
void *output_webhook_create(const struct output_webhook_config *cfg, char *err, size_t err_len);

void output_sink_count(struct output_sink *sink, enum output_counter which, uint64_t n);
/* Monotonic milliseconds. */
int64_t output_now_ms(void);
/* When a closing sink must stop trying; INT64_MAX while not closing. */
int64_t output_sink_deadline_ms(struct output_sink *sink);
/* Sleeps up to ms; returns false early when the close deadline passes first. */
bool output_sink_sleep(struct output_sink *sink, unsigned ms);

#endif
