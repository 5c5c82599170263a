/* output_file.c - JSON lines appended to a file, rotated by size.
 *
 * Before a line would push the file past max_bytes the file is renamed to
 * path.1 (path.1 to path.2, and so on, the oldest beyond max_files falling
 * off) and a fresh one is started, so disk use stays near
 * max_bytes * (max_files + 1). No fsync: losing the last lines in a crash is
 * acceptable, a disk flush per alert is not. */
#include "output.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_MAX_BATCH 64
#define FILE_MAX_ROTATED 1000
#define FILE_ERROR_LOG_INTERVAL_MS 10000

struct file_state {
	char path[PATH_MAX];
	int fd; /* -1 after an error: reopened on the next batch */
	uint64_t size;
	uint64_t max_bytes;
	unsigned max_files;
	int64_t last_error_log_ms;
};

static void file_error(struct file_state *st, struct output_sink *sink, const char *what, int err)
{
	int64_t now = output_now_ms();

	output_sink_count(sink, OUTPUT_ERRORS, 1);
	if (now - st->last_error_log_ms >= FILE_ERROR_LOG_INTERVAL_MS) {
		st->last_error_log_ms = now;
		log_warn("output file: %s %s: %s", what, st->path, strerror(err));
	}
}

static int file_open(struct file_state *st)
{
	struct stat sb;

	st->fd = open(st->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (st->fd < 0)
		return -1;
	if (fstat(st->fd, &sb) < 0) {
		int saved = errno;

		close(st->fd);
		st->fd = -1;
		errno = saved;
		return -1;
	}
	st->size = (uint64_t)sb.st_size;
	return 0;
}

void *output_file_create(const struct output_file_config *cfg, char *err, size_t err_len)
{
	struct file_state *st;

	if (!cfg->path || !cfg->path[0]) {
		snprintf(err, err_len, "output file: no path configured");
		return NULL;
	}
	/* Leave room for ".1000" on rotated names. */
	if (strlen(cfg->path) + 6 >= PATH_MAX) {
		snprintf(err, err_len, "output file: path too long (%zu bytes)", strlen(cfg->path));
		return NULL;
	}
	if (cfg->max_bytes == 0) {
		snprintf(err, err_len, "output file: max_bytes must be greater than 0");
		return NULL;
	}
	if (cfg->max_files > FILE_MAX_ROTATED) {
		snprintf(err, err_len, "output file: max_files must be at most %d, got %u",
			 FILE_MAX_ROTATED, cfg->max_files);
		return NULL;
	}
	st = calloc(1, sizeof(*st));
	if (!st) {
		snprintf(err, err_len, "output file: out of memory");
		return NULL;
	}
	strcpy(st->path, cfg->path);
	st->max_bytes = cfg->max_bytes;
	st->max_files = cfg->max_files;
	st->last_error_log_ms = output_now_ms() - FILE_ERROR_LOG_INTERVAL_MS;
	/* Opening now turns a wrong path into a start-up error, not a silent
	 * loss of every alert later. */
	if (file_open(st) < 0) {
		snprintf(err, err_len, "output file: cannot open %s: %s", st->path, strerror(errno));
		free(st);
		return NULL;
	}
	return st;
}

static void file_destroy(void *state)
{
	struct file_state *st = state;

	if (st->fd >= 0)
		close(st->fd);
	free(st);
}

static void rotated_name(const struct file_state *st, unsigned n, char *out, size_t out_len)
{
	snprintf(out, out_len, "%s.%u", st->path, n);
}

/* Shifts path.N-1 .. path.1 and path up by one and opens a new path. A
 * failed rename is reported but writing carries on in whatever file we can
 * open: a file over its size beats losing alerts. */
static int file_rotate(struct file_state *st, struct output_sink *sink)
{
	char from[PATH_MAX + 16], to[PATH_MAX + 16];

	if (st->fd >= 0) {
		close(st->fd);
		st->fd = -1;
	}
	if (st->max_files == 0) {
		if (unlink(st->path) < 0 && errno != ENOENT)
			file_error(st, sink, "cannot remove", errno);
	} else {
		for (unsigned n = st->max_files - 1; n >= 1; n--) {
			rotated_name(st, n, from, sizeof(from));
			rotated_name(st, n + 1, to, sizeof(to));
			if (rename(from, to) < 0 && errno != ENOENT)
				file_error(st, sink, "cannot rotate", errno);
		}
		rotated_name(st, 1, to, sizeof(to));
		if (rename(st->path, to) < 0 && errno != ENOENT)
			file_error(st, sink, "cannot rotate", errno);
	}
	if (file_open(st) < 0) {
		file_error(st, sink, "cannot reopen", errno);
		return -1;
	}
	return 0;
}

/* Writes iov[0..n) fully; returns 0 or -1 (error counted, file closed so
 * the next batch starts from a fresh open). */
static int file_write(struct file_state *st, struct output_sink *sink, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t done = writev(st->fd, iov, n);

		if (done < 0) {
			if (errno == EINTR)
				continue;
			file_error(st, sink, "cannot write", errno);
			close(st->fd);
			st->fd = -1;
			return -1;
		}
		st->size += (uint64_t)done;
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

/* Someone else may have moved, deleted or truncated the file (logrotate,
 * an operator): writing on into an unlinked inode would lose every line,
 * so reopen when the path no longer names our file, and take the size
 * from the file itself. Two stats per batch, not per line. */
static void file_check(struct file_state *st)
{
	struct stat ours, named;

	if (st->fd < 0)
		return;
	if (fstat(st->fd, &ours) < 0 || stat(st->path, &named) < 0 ||
	    ours.st_ino != named.st_ino || ours.st_dev != named.st_dev) {
		close(st->fd);
		st->fd = -1;
		return;
	}
	st->size = (uint64_t)ours.st_size;
}

static void file_deliver(void *state, struct output_sink *sink, const struct iovec *lines, size_t n)
{
	struct file_state *st = state;
	struct iovec group[FILE_MAX_BATCH];
	size_t i = 0;

	file_check(st);
	if (st->fd < 0 && file_open(st) < 0) {
		file_error(st, sink, "cannot open", errno);
		output_sink_count(sink, OUTPUT_FAILED, n);
		return;
	}
	while (i < n) {
		uint64_t bytes = 0;
		size_t count = 0;

		if (st->size > 0 && st->size + lines[i].iov_len > st->max_bytes &&
		    file_rotate(st, sink) < 0) {
			output_sink_count(sink, OUTPUT_FAILED, n - i);
			return;
		}
		/* Take lines up to the next rotation point; an oversized line
		 * still goes in alone so it is not lost. */
		while (i + count < n && count < FILE_MAX_BATCH &&
		       (count == 0 || st->size + bytes + lines[i + count].iov_len <= st->max_bytes)) {
			bytes += lines[i + count].iov_len;
			count++;
		}
		memcpy(group, &lines[i], count * sizeof(*group));
		if (file_write(st, sink, group, (int)count) < 0) {
			output_sink_count(sink, OUTPUT_FAILED, n - i);
			return;
		}
		output_sink_count(sink, OUTPUT_SENT, (uint64_t)count);
		i += count;
	}
}

const struct output_sink_ops output_file_ops = {
	.name = "file",
	.max_batch = FILE_MAX_BATCH,
	.deliver = file_deliver,
	.destroy = file_destroy,
};
