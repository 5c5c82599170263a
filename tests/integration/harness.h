/* harness.h - runs the real `vigil` binary for integration tests and reads
 * its JSON lines back.
 *
 * The binary comes from $VIGIL (make test sets it to the ASan build), else
 * build/vigil. Tests need root: they load the real BPF programs. */
#ifndef VIGIL_TEST_HARNESS_H
#define VIGIL_TEST_HARNESS_H

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct sensor_run {
	pid_t pid;
	int out_fd;  /* the sensor's stdout */
	int err_fd;  /* the sensor's stderr */
	char *buf;   /* stdout bytes read so far */
	size_t len, cap;
	char *errbuf;
	size_t errlen, errcap;
};

static inline const char *vigil_binary(void)
{
	const char *p = getenv("VIGIL");

	return p && *p ? p : "build/vigil";
}

static inline uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static inline void append(char **buf, size_t *len, size_t *cap, const char *data, size_t n)
{
	if (*len + n + 1 > *cap) {
		*cap = (*len + n + 1) * 2;
		*buf = realloc(*buf, *cap);
	}
	memcpy(*buf + *len, data, n);
	*len += n;
	(*buf)[*len] = '\0';
}

/* Reads whatever the sensor wrote, waiting at most wait_ms. */
static inline void sensor_pump(struct sensor_run *r, int wait_ms)
{
	struct pollfd fds[2] = { { r->out_fd, POLLIN, 0 }, { r->err_fd, POLLIN, 0 } };
	char chunk[65536];

	if (poll(fds, 2, wait_ms) <= 0)
		return;
	for (int i = 0; i < 2; i++) {
		ssize_t n;

		if (!(fds[i].revents & (POLLIN | POLLHUP)))
			continue;
		/* Drain it: a busy sensor must not fill the pipe and drop. */
		while ((n = read(fds[i].fd, chunk, sizeof(chunk))) > 0) {
			if (i == 0)
				append(&r->buf, &r->len, &r->cap, chunk, (size_t)n);
			else
				append(&r->errbuf, &r->errlen, &r->errcap, chunk, (size_t)n);
		}
	}
}

/* Starts `vigil ARGS...` and waits until it logs that it started. */
static inline bool sensor_start(struct sensor_run *r, const char *const *args)
{
	int out[2], err[2];
	const char *argv[32];
	int n = 0;
	uint64_t deadline;

	memset(r, 0, sizeof(*r));
	if (pipe(out) < 0 || pipe(err) < 0)
		return false;
	argv[n++] = vigil_binary();
	for (; args[n - 1] && n < 31; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	r->pid = fork();
	if (r->pid == 0) {
		/* A test that fails an assertion exits at once: its sensor
		 * must not outlive it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(out[1], 1);
		dup2(err[1], 2);
		close(out[0]);
		close(err[0]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	r->out_fd = out[0];
	r->err_fd = err[0];
	fcntl(r->out_fd, F_SETFL, O_NONBLOCK);
	fcntl(r->err_fd, F_SETFL, O_NONBLOCK);
	fcntl(r->out_fd, F_SETPIPE_SZ, 1 << 20);
	deadline = now_ms() + 20000;
	while (now_ms() < deadline) {
		sensor_pump(r, 100);
		if (r->errbuf && strstr(r->errbuf, " started ("))
			return true;
		if (waitpid(r->pid, NULL, WNOHANG) == r->pid) {
			r->pid = 0;
			break;
		}
	}
	fprintf(stderr, "sensor did not start; its stderr:\n%s\n", r->errbuf ? r->errbuf : "");
	return false;
}

/* SIGTERM, then the exit status (-1 if it had to be killed). */
static inline int sensor_stop(struct sensor_run *r)
{
	int status = 0;
	uint64_t deadline = now_ms() + 15000;

	if (r->pid <= 0)
		return -1;
	kill(r->pid, SIGTERM);
	while (now_ms() < deadline) {
		sensor_pump(r, 50);
		if (waitpid(r->pid, &status, WNOHANG) == r->pid) {
			sensor_pump(r, 0);
			sensor_pump(r, 0);
			r->pid = 0;
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
	}
	kill(r->pid, SIGKILL);
	waitpid(r->pid, NULL, 0);
	r->pid = 0;
	return -1;
}

static inline void sensor_free(struct sensor_run *r)
{
	if (r->pid > 0) {
		kill(r->pid, SIGKILL);
		waitpid(r->pid, NULL, 0);
	}
	close(r->out_fd);
	close(r->err_fd);
	free(r->buf);
	free(r->errbuf);
}

static inline const cJSON *json_path(const cJSON *obj, const char *path)
{
	char key[64];

	while (obj && *path) {
		size_t n = strcspn(path, ".");

		if (n >= sizeof(key))
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		obj = cJSON_GetObjectItemCaseSensitive(obj, key);
		path += n;
		if (*path == '.')
			path++;
	}
	return obj;
}

/* The first JSON line (an object) for which match() holds, parsed; waits up
 * to wait_ms for it. The caller frees it with cJSON_Delete. */
static inline cJSON *sensor_find(struct sensor_run *r, bool (*match)(const cJSON *, const void *),
				 const void *arg, int wait_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)wait_ms;

	for (;;) {
		size_t off = 0;

		while (r->buf && off < r->len) {
			char *nl = memchr(r->buf + off, '\n', r->len - off);
			cJSON *obj;

			if (!nl)
				break;
			obj = cJSON_ParseWithLength(r->buf + off, (size_t)(nl - (r->buf + off)));
			off = (size_t)(nl - r->buf) + 1;
			if (obj && match(obj, arg))
				return obj;
			cJSON_Delete(obj);
		}
		if (now_ms() >= deadline)
			return NULL;
		sensor_pump(r, 100);
	}
}

#endif
