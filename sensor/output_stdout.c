/* output_stdout.c - JSON lines on standard output (or any fd), which is how
 * most users read alerts: `kubectl logs`.
 *
 * Lines are packed into writes of at most PIPE_BUF bytes, cut only between
 * lines, because the kernel keeps pipe writes of that size atomic: if
 * anything else writes to the same pipe, a line never gets split by it.
 * Each write waits for room with poll(), so a reader that stops reading
 * cannot keep the worker (and so outputs_close) stuck past the deadline. */
#include "output.h"
#include "log.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STDOUT_POLL_SLICE_MS 500
#define STDOUT_ERROR_LOG_INTERVAL_MS 10000
#define STDOUT_MAX_BATCH 64

struct stdout_state {
	int fd;
	int64_t last_error_log_ms;
};

void *output_stdout_create(const struct output_stdout_config *cfg, char *err, size_t err_len)
{
	struct stdout_state *st;

	if (cfg->fd < 0) {
		snprintf(err, err_len, "output stdout: invalid fd %d", cfg->fd);
		return NULL;
	}
	st = calloc(1, sizeof(*st));
	if (!st) {
		snprintf(err, err_len, "output stdout: out of memory");
		return NULL;
	}
	st->fd = cfg->fd;
	st->last_error_log_ms = output_now_ms() - STDOUT_ERROR_LOG_INTERVAL_MS;
	return st;
}

static void stdout_destroy(void *state)
{
	free(state);
}

/* SIGPIPE is blocked on this thread, so a write to a closed pipe leaves one
 * pending here; take it so it never reaches anyone. */
static void consume_sigpipe(void)
{
	sigset_t set;
	struct timespec zero = { 0, 0 };

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	while (sigtimedwait(&set, NULL, &zero) == SIGPIPE)
		;
}

static void note_error(struct stdout_state *st, struct output_sink *sink, const char *why)
{
	int64_t now = output_now_ms();

	output_sink_count(sink, OUTPUT_ERRORS, 1);
	if (now - st->last_error_log_ms >= STDOUT_ERROR_LOG_INTERVAL_MS) {
		st->last_error_log_ms = now;
		log_warn("output stdout: write to fd %d failed: %s", st->fd, why);
	}
}

/* Writes iov[0..n) completely. Returns 0, or -1 after an error or when the
 * close deadline passed (both counted as one error). */
static int write_all(struct stdout_state *st, struct output_sink *sink, struct iovec *iov, int n)
{
	while (n > 0) {
		struct pollfd pfd = { .fd = st->fd, .events = POLLOUT };
		int64_t left = output_sink_deadline_ms(sink) - output_now_ms();
		ssize_t done;

		if (left <= 0) {
			note_error(st, sink, "close deadline passed");
			return -1;
		}
		if (poll(&pfd, 1, left < STDOUT_POLL_SLICE_MS ? (int)left : STDOUT_POLL_SLICE_MS) == 0)
			continue; /* still full: check the deadline again */
		done = writev(st->fd, iov, n);
		if (done < 0) {
			int err = errno;

			if (err == EINTR || err == EAGAIN)
				continue;
			if (err == EPIPE)
				consume_sigpipe();
			note_error(st, sink, strerror(err));
			return -1;
		}
		/* Partial write: skip what went out and go again. */
		while (n > 0 && (size_t)done >= iov->iov_len) {
			done -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + done;
			iov->iov_len -= (size_t)done;
		}
	}
	return 0;
}

static void stdout_deliver(void *state, struct output_sink *sink, const struct iovec *lines,
			   size_t n)
{
	struct stdout_state *st = state;
	struct iovec chunk[STDOUT_MAX_BATCH];
	size_t i = 0;

	while (i < n) {
		size_t bytes = lines[i].iov_len;
		size_t count = 1;

		/* A line longer than PIPE_BUF goes alone; it cannot be atomic. */
		while (i + count < n && count < STDOUT_MAX_BATCH &&
		       bytes + lines[i + count].iov_len <= PIPE_BUF) {
			bytes += lines[i + count].iov_len;
			count++;
		}
		memcpy(chunk, &lines[i], count * sizeof(*chunk));
		if (write_all(st, sink, chunk, (int)count) == 0)
			output_sink_count(sink, OUTPUT_SENT, (uint64_t)count);
		else
			output_sink_count(sink, OUTPUT_FAILED, (uint64_t)count);
		i += count;
	}
}

const struct output_sink_ops output_stdout_ops = {
	.name = "stdout",
	.max_batch = STDOUT_MAX_BATCH,
	.deliver = stdout_deliver,
	.destroy = stdout_destroy,
};
