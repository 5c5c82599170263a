/* output.c - fan-out of alert/event lines to the sinks, one bounded queue and
 * one worker thread per sink. See output.h for the contract.
 *
 * A line is copied once and shared by every sink that queued it (reference
 * counted), so three sinks do not mean three copies. The producer only ever
 * takes a sink's mutex for a few instructions; all I/O happens on the worker
 * threads. */
#include "output.h"
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Past this a ring of pointers alone would be tens of megabytes: surely a
 * configuration mistake. */
#define OUTPUT_MAX_QUEUE_LINES 1000000u
/* How often an idle worker wakes up to report drops nobody logged yet. */
#define OUTPUT_IDLE_WAKE_MS 1000

struct output_line {
	atomic_uint refs;
	size_t len; /* including the '\n' */
	char data[];
};

struct output_sink {
	const struct output_sink_ops *ops;
	void *state;
	bool only_alerts;
	struct output_queue_limits limits;
	unsigned drop_log_interval_ms;

	pthread_mutex_t lock;
	pthread_cond_t wake; /* queue went from empty to non-empty, or closing */
	struct output_line **ring;
	unsigned head;
	unsigned count;
	unsigned in_flight;
	size_t bytes; /* queued and in-flight lines */
	bool closing;
	atomic_int_fast64_t deadline_ms;

	pthread_t thread;
	bool thread_started;

	atomic_uint_fast64_t accepted, sent, dropped, failed, errors, retries;
	atomic_uint_fast64_t drops_logged;  /* value of dropped at the last log line */
	atomic_int_fast64_t last_drop_log_ms;
};

struct outputs {
	struct output_sink sinks[OUTPUT_MAX_SINKS];
	size_t nsinks;
	unsigned close_deadline_ms;
};

void output_config_init(struct output_config *cfg)
{
	static const struct output_queue_limits queue = {
		.max_lines = 10000,
		.max_bytes = 16u << 20,
	};

	memset(cfg, 0, sizeof(*cfg));
	cfg->stdout_sink.enabled = true;
	cfg->stdout_sink.fd = STDOUT_FILENO;
	cfg->stdout_sink.queue = queue;
	cfg->file.max_bytes = 100u << 20;
	cfg->file.max_files = 5;
	cfg->file.queue = queue;
	cfg->webhook.timeout_ms = 5000;
	cfg->webhook.only_alerts = true;
	cfg->webhook.max_attempts = 5;
	cfg->webhook.backoff_base_ms = 100;
	cfg->webhook.backoff_cap_ms = 5000;
	cfg->webhook.queue = queue;
	cfg->close_deadline_ms = 2000;
	cfg->drop_log_interval_ms = 10000;
}

int64_t output_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct timespec monotonic_at(int64_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };

	return ts;
}

static void line_release(struct output_line *line)
{
	if (atomic_fetch_sub(&line->refs, 1) == 1)
		free(line);
}

void output_sink_count(struct output_sink *sink, enum output_counter which, uint64_t n)
{
	switch (which) {
	case OUTPUT_SENT:
		atomic_fetch_add(&sink->sent, n);
		break;
	case OUTPUT_FAILED:
		atomic_fetch_add(&sink->failed, n);
		break;
	case OUTPUT_ERRORS:
		atomic_fetch_add(&sink->errors, n);
		break;
	case OUTPUT_RETRIES:
		atomic_fetch_add(&sink->retries, n);
		break;
	}
}

int64_t output_sink_deadline_ms(struct output_sink *sink)
{
	return atomic_load(&sink->deadline_ms);
}

bool output_sink_sleep(struct output_sink *sink, unsigned ms)
{
	int64_t until = output_now_ms() + ms;
	bool slept_fully;

	pthread_mutex_lock(&sink->lock);
	for (;;) {
		int64_t now = output_now_ms();
		int64_t deadline = atomic_load(&sink->deadline_ms);
		struct timespec ts;

		if (now >= deadline) {
			slept_fully = false;
			break;
		}
		if (now >= until) {
			slept_fully = true;
			break;
		}
		/* Woken by close too, so a long backoff notices the deadline. */
		ts = monotonic_at(until < deadline ? until : deadline);
		pthread_cond_timedwait(&sink->wake, &sink->lock, &ts);
	}
	pthread_mutex_unlock(&sink->lock);
	return slept_fully;
}

/* At most one log line per interval per sink, carrying the count since the
 * previous one, so a flood of drops cannot become a flood of logs. Called by
 * the producer on a drop, by the idle worker, and once more at close. */
static void report_drops(struct output_sink *sink, bool force)
{
	uint_fast64_t dropped = atomic_load(&sink->dropped);
	uint_fast64_t logged = atomic_load(&sink->drops_logged);
	int_fast64_t last = atomic_load(&sink->last_drop_log_ms);
	int64_t now;

	if (dropped == logged)
		return;
	now = output_now_ms();
	if (!force && now - last < (int64_t)sink->drop_log_interval_ms)
		return;
	if (!atomic_compare_exchange_strong(&sink->last_drop_log_ms, &last, now))
		return; /* another thread is logging this window */
	if (!atomic_compare_exchange_strong(&sink->drops_logged, &logged, dropped))
		return;
	log_warn("output %s: dropped %" PRIuFAST64 " lines, queue full (%" PRIuFAST64
		 " since start)", sink->ops->name, dropped - logged, dropped);
}

static bool queue_push(struct output_sink *sink, struct output_line *line)
{
	bool taken = false;

	pthread_mutex_lock(&sink->lock);
	if (!sink->closing && sink->count + sink->in_flight < sink->limits.max_lines &&
	    sink->bytes + line->len <= sink->limits.max_bytes) {
		sink->ring[(sink->head + sink->count) % sink->limits.max_lines] = line;
		sink->count++;
		sink->bytes += line->len;
		taken = true;
		/* The worker only waits on an empty queue. */
		if (sink->count == 1)
			pthread_cond_signal(&sink->wake);
	}
	pthread_mutex_unlock(&sink->lock);
	if (taken)
		atomic_fetch_add(&sink->accepted, 1);
	return taken;
}

static bool sink_wants(const struct output_sink *sink, enum output_kind kind)
{
	return kind == OUTPUT_ALERT || !sink->only_alerts;
}

int output_emit(struct outputs *o, const char *json_line, size_t len, enum output_kind kind)
{
	struct output_sink *fits[OUTPUT_MAX_SINKS];
	struct output_line *line;
	size_t nfits = 0;
	int taken = 0;

	if (!o || !json_line || (kind != OUTPUT_EVENT && kind != OUTPUT_ALERT))
		return -1;
	if (len > 0 && json_line[len - 1] == '\n')
		len--;
	if (len == 0 || memchr(json_line, '\n', len))
		return -1;

	/* A line bigger than a whole queue can never be taken: refuse it
	 * before allocating, so an absurd length costs nothing. */
	for (size_t i = 0; i < o->nsinks; i++) {
		struct output_sink *sink = &o->sinks[i];

		if (!sink_wants(sink, kind))
			continue;
		if (len + 1 > sink->limits.max_bytes) {
			atomic_fetch_add(&sink->dropped, 1);
			report_drops(sink, false);
			continue;
		}
		fits[nfits++] = sink;
	}
	if (nfits == 0)
		return 0;

	line = malloc(sizeof(*line) + len + 1);
	if (!line) {
		for (size_t i = 0; i < nfits; i++) {
			atomic_fetch_add(&fits[i]->dropped, 1);
			report_drops(fits[i], false);
		}
		return 0;
	}
	atomic_init(&line->refs, (unsigned)nfits);
	line->len = len + 1;
	memcpy(line->data, json_line, len);
	line->data[len] = '\n';

	for (size_t i = 0; i < nfits; i++) {
		if (queue_push(fits[i], line)) {
			taken++;
		} else {
			atomic_fetch_add(&fits[i]->dropped, 1);
			report_drops(fits[i], false);
			line_release(line);
		}
	}
	return taken;
}

/* Gives up on everything still queued; used once the close deadline passed. */
static void discard_queue(struct output_sink *sink)
{
	uint64_t n = 0;

	pthread_mutex_lock(&sink->lock);
	while (sink->count > 0) {
		struct output_line *line = sink->ring[sink->head];

		sink->head = (sink->head + 1) % sink->limits.max_lines;
		sink->count--;
		sink->bytes -= line->len;
		line_release(line);
		n++;
	}
	pthread_mutex_unlock(&sink->lock);
	if (n > 0) {
		output_sink_count(sink, OUTPUT_FAILED, n);
		log_warn("output %s: close deadline passed, %" PRIu64 " lines not delivered",
			 sink->ops->name, n);
	}
}

static void *sink_worker(void *arg)
{
	struct output_sink *sink = arg;
	unsigned max_batch = sink->ops->max_batch ? sink->ops->max_batch : 1;
	struct output_line **batch = calloc(max_batch, sizeof(*batch));
	struct iovec *iov = calloc(max_batch, sizeof(*iov));

	if (!batch || !iov) {
		/* Without buffers the sink cannot work; its queue just fills up
		 * and drops are counted, and close discards what is left. */
		log_error("output %s: out of memory starting the worker", sink->ops->name);
		free(batch);
		free(iov);
		return NULL;
	}

	for (;;) {
		unsigned n = 0;
		size_t bytes = 0;
		bool stop = false;

		pthread_mutex_lock(&sink->lock);
		while (sink->count == 0 && !sink->closing) {
			struct timespec ts = monotonic_at(output_now_ms() + OUTPUT_IDLE_WAKE_MS);

			if (pthread_cond_timedwait(&sink->wake, &sink->lock, &ts) == ETIMEDOUT) {
				pthread_mutex_unlock(&sink->lock);
				report_drops(sink, false);
				pthread_mutex_lock(&sink->lock);
			}
		}
		if (sink->count == 0 || output_now_ms() >= atomic_load(&sink->deadline_ms)) {
			stop = true; /* closing and drained, or out of time */
		} else {
			while (n < max_batch && sink->count > 0) {
				batch[n] = sink->ring[sink->head];
				sink->head = (sink->head + 1) % sink->limits.max_lines;
				sink->count--;
				n++;
			}
			sink->in_flight = n;
		}
		pthread_mutex_unlock(&sink->lock);
		if (stop)
			break;

		for (unsigned i = 0; i < n; i++) {
			iov[i].iov_base = batch[i]->data;
			iov[i].iov_len = batch[i]->len;
			bytes += batch[i]->len;
		}
		sink->ops->deliver(sink->state, sink, iov, n);

		pthread_mutex_lock(&sink->lock);
		sink->in_flight = 0;
		sink->bytes -= bytes;
		pthread_mutex_unlock(&sink->lock);
		for (unsigned i = 0; i < n; i++)
			line_release(batch[i]);
		report_drops(sink, false);
	}
	discard_queue(sink);
	free(batch);
	free(iov);
	return NULL;
}

static int check_limits(const char *name, const struct output_queue_limits *limits,
			char *err, size_t err_len)
{
	if (limits->max_lines == 0 || limits->max_lines > OUTPUT_MAX_QUEUE_LINES) {
		snprintf(err, err_len, "output %s: queue max_lines must be 1..%u, got %u",
			 name, OUTPUT_MAX_QUEUE_LINES, limits->max_lines);
		return -1;
	}
	if (limits->max_bytes < 2) {
		snprintf(err, err_len, "output %s: queue max_bytes must be at least 2, got %zu",
			 name, limits->max_bytes);
		return -1;
	}
	return 0;
}

static int sink_init(struct output_sink *sink, const struct output_sink_ops *ops, void *state,
		     bool only_alerts, const struct output_queue_limits *limits,
		     unsigned drop_log_interval_ms)
{
	pthread_condattr_t attr;

	sink->ops = ops;
	sink->state = state;
	sink->only_alerts = only_alerts;
	sink->limits = *limits;
	sink->drop_log_interval_ms = drop_log_interval_ms;
	atomic_init(&sink->deadline_ms, INT64_MAX);
	/* The first drop gets logged at once. */
	atomic_init(&sink->last_drop_log_ms, output_now_ms() - (int64_t)drop_log_interval_ms);
	sink->ring = calloc(limits->max_lines, sizeof(*sink->ring));
	if (!sink->ring)
		return -1;
	pthread_mutex_init(&sink->lock, NULL);
	/* Monotonic, so wall-clock jumps do not stretch or cut timeouts. */
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&sink->wake, &attr);
	pthread_condattr_destroy(&attr);
	return 0;
}

/* Stops the worker (if any) and frees the sink. deadline is absolute. */
static void sink_close(struct output_sink *sink, int64_t deadline)
{
	pthread_mutex_lock(&sink->lock);
	sink->closing = true;
	atomic_store(&sink->deadline_ms, deadline);
	pthread_cond_broadcast(&sink->wake);
	pthread_mutex_unlock(&sink->lock);
	if (sink->thread_started)
		pthread_join(sink->thread, NULL);
	/* Normally empty by now; not if the worker never ran. */
	discard_queue(sink);
	report_drops(sink, true);
	sink->ops->destroy(sink->state);
	pthread_cond_destroy(&sink->wake);
	pthread_mutex_destroy(&sink->lock);
	free(sink->ring);
}

static void *create_state(const struct output_config *cfg, const struct output_sink_ops *ops,
			  char *err, size_t err_len)
{
	if (ops == &output_stdout_ops)
		return output_stdout_create(&cfg->stdout_sink, err, err_len);
	if (ops == &output_file_ops)
		return output_file_create(&cfg->file, err, err_len);
	return output_webhook_create(&cfg->webhook, err, err_len);
}

static struct outputs *open_sinks(const struct output_config *cfg, char *err, size_t err_len);

struct outputs *outputs_open(const struct output_config *cfg, char *err, size_t err_len)
{
	if (!cfg) {
		snprintf(err, err_len, "outputs: no configuration");
		return NULL;
	}
	return open_sinks(cfg, err, err_len);
}

static struct outputs *open_sinks(const struct output_config *cfg, char *err, size_t err_len)
{
	struct {
		bool enabled;
		const struct output_sink_ops *ops;
		bool only_alerts;
		const struct output_queue_limits *queue;
	} wanted[OUTPUT_MAX_SINKS] = {
		{ cfg->stdout_sink.enabled, &output_stdout_ops, cfg->stdout_sink.only_alerts,
		  &cfg->stdout_sink.queue },
		{ cfg->file.enabled, &output_file_ops, cfg->file.only_alerts, &cfg->file.queue },
		{ cfg->webhook.enabled, &output_webhook_ops, cfg->webhook.only_alerts,
		  &cfg->webhook.queue },
	};
	sigset_t block_pipe, old_mask;
	struct outputs *o;

	if (err_len > 0)
		err[0] = '\0';
	o = calloc(1, sizeof(*o));
	if (!o) {
		snprintf(err, err_len, "outputs: out of memory");
		return NULL;
	}
	o->close_deadline_ms = cfg->close_deadline_ms;

	for (size_t i = 0; i < OUTPUT_MAX_SINKS; i++) {
		struct output_sink *sink = &o->sinks[o->nsinks];
		void *state;

		if (!wanted[i].enabled)
			continue;
		if (check_limits(wanted[i].ops->name, wanted[i].queue, err, err_len) < 0)
			goto fail;
		state = create_state(cfg, wanted[i].ops, err, err_len);
		if (!state)
			goto fail;
		if (sink_init(sink, wanted[i].ops, state, wanted[i].only_alerts, wanted[i].queue,
			      cfg->drop_log_interval_ms) < 0) {
			wanted[i].ops->destroy(state);
			free(sink->ring);
			snprintf(err, err_len, "output %s: out of memory for the queue",
				 wanted[i].ops->name);
			goto fail;
		}
		o->nsinks++;
	}

	/* Workers inherit this mask: a reader closing our stdout pipe must
	 * give EPIPE to the stdout worker, not a process-killing SIGPIPE. */
	sigemptyset(&block_pipe);
	sigaddset(&block_pipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &block_pipe, &old_mask);
	for (size_t i = 0; i < o->nsinks; i++) {
		struct output_sink *sink = &o->sinks[i];
		int rc = pthread_create(&sink->thread, NULL, sink_worker, sink);

		if (rc != 0) {
			snprintf(err, err_len, "output %s: cannot start worker thread: %s",
				 sink->ops->name, strerror(rc));
			pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
			goto fail;
		}
		sink->thread_started = true;
	}
	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	return o;

fail:
	for (size_t i = 0; i < o->nsinks; i++)
		sink_close(&o->sinks[i], output_now_ms());
	free(o);
	return NULL;
}

size_t output_get_stats(struct outputs *o, struct output_stats *out, size_t max)
{
	if (!o)
		return 0;
	for (size_t i = 0; i < o->nsinks && i < max; i++) {
		struct output_sink *sink = &o->sinks[i];
		struct output_stats *st = &out[i];

		memset(st, 0, sizeof(*st));
		snprintf(st->name, sizeof(st->name), "%s", sink->ops->name);
		pthread_mutex_lock(&sink->lock);
		st->queued = sink->count + sink->in_flight;
		pthread_mutex_unlock(&sink->lock);
		st->accepted = atomic_load(&sink->accepted);
		st->sent = atomic_load(&sink->sent);
		st->dropped_queue_full = atomic_load(&sink->dropped);
		st->failed = atomic_load(&sink->failed);
		st->errors = atomic_load(&sink->errors);
		st->retries = atomic_load(&sink->retries);
	}
	return o->nsinks;
}

void outputs_close(struct outputs *o)
{
	int64_t deadline;

	if (!o)
		return;
	deadline = output_now_ms() + o->close_deadline_ms;
	/* Tell every sink first so they flush in parallel, then wait. */
	for (size_t i = 0; i < o->nsinks; i++) {
		struct output_sink *sink = &o->sinks[i];

		pthread_mutex_lock(&sink->lock);
		sink->closing = true;
		atomic_store(&sink->deadline_ms, deadline);
		pthread_cond_broadcast(&sink->wake);
		pthread_mutex_unlock(&sink->lock);
	}
	for (size_t i = 0; i < o->nsinks; i++)
		sink_close(&o->sinks[i], deadline);
	free(o);
}
