/* test_output.c - unit tests for the outputs: stdout into a pipe, file
 * rotation in a temporary directory, and the webhook against a small HTTP
 * receiver run inside the test on 127.0.0.1 (an ephemeral port), including
 * a receiver that is down, then up, then hung. */
#include "../../sensor/output.h"

#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ---- */

static struct output_config quiet_config(void)
{
	struct output_config cfg;

	output_config_init(&cfg);
	cfg.stdout_sink.enabled = false;
	cfg.close_deadline_ms = 2000;
	return cfg;
}

static struct output_stats stats_of(struct outputs *o, const char *name)
{
	struct output_stats all[OUTPUT_MAX_SINKS];
	size_t n = output_get_stats(o, all, OUTPUT_MAX_SINKS);

	for (size_t i = 0; i < n; i++)
		if (strcmp(all[i].name, name) == 0)
			return all[i];
	cr_assert_fail("no stats for sink %s", name);
	return all[0];
}

enum stat_field { ST_SENT, ST_FAILED, ST_QUEUED, ST_RETRIES, ST_ERRORS };

static uint64_t field(const struct output_stats *st, enum stat_field f)
{
	switch (f) {
	case ST_SENT: return st->sent;
	case ST_FAILED: return st->failed;
	case ST_QUEUED: return st->queued;
	case ST_RETRIES: return st->retries;
	case ST_ERRORS: return st->errors;
	}
	return 0;
}

/* Polls a counter until it reaches want (or, for the queued gauge, drops to
 * want) or timeout_ms passes; returns the last value seen. */
static uint64_t wait_for(struct outputs *o, const char *sink, enum stat_field f, uint64_t want,
			 int timeout_ms)
{
	int64_t until = output_now_ms() + timeout_ms;
	uint64_t v;

	for (;;) {
		struct output_stats st = stats_of(o, sink);

		v = field(&st, f);
		if (f == ST_QUEUED ? v <= want : v >= want)
			return v;
		if (output_now_ms() >= until)
			return v;
		usleep(5000);
	}
}

static void make_line(char *buf, size_t size, int n, size_t total_len)
{
	/* total_len counts the newline the outputs add. */
	int len = snprintf(buf, size, "{\"n\":%05d,\"pad\":\"", n);

	while ((size_t)len < total_len - 3)
		buf[len++] = 'x';
	buf[len++] = '"';
	buf[len++] = '}';
	buf[len] = '\0';
	cr_assert_eq((size_t)len + 1, total_len);
}

static char *read_all_fd(int fd, size_t *len_out)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap + 1);
	ssize_t r;

	cr_assert_not_null(buf);
	while ((r = read(fd, buf + len, cap - len)) > 0) {
		len += (size_t)r;
		if (len == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
			cr_assert_not_null(buf);
		}
	}
	buf[len] = '\0';
	*len_out = len;
	return buf;
}

static char *read_file(const char *path, size_t *len_out)
{
	int fd = open(path, O_RDONLY);
	char *buf;

	cr_assert_geq(fd, 0, "cannot open %s: %s", path, strerror(errno));
	buf = read_all_fd(fd, len_out);
	close(fd);
	return buf;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static int count_substr(const char *s, const char *needle)
{
	int n = 0;

	while ((s = strstr(s, needle)) != NULL) {
		n++;
		s += strlen(needle);
	}
	return n;
}

/* Sends this process's stderr (the log) to a temporary file. */
static int capture_stderr(char *path, size_t size)
{
	int fd;

	snprintf(path, size, "/tmp/test_output_log.XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_geq(dup2(fd, STDERR_FILENO), 0);
	close(fd);
	return 0;
}

/* ---- argument and configuration checks ---- */

Test(output, rejects_bad_configuration)
{
	struct output_config cfg = quiet_config();
	const char *bad_header[] = { "Authorization: x\r\nX-Evil: 1" };
	char err[256];

	cfg.webhook.enabled = true;
	cfg.webhook.url = "ftp://example.com/";
	cr_assert_null(outputs_open(&cfg, err, sizeof(err)));
	cr_assert(strstr(err, "http://") != NULL, "message was: %s", err);

	cfg.webhook.url = "http://127.0.0.1:1/";
	cfg.webhook.headers = bad_header;
	cfg.webhook.header_count = 1;
	cr_assert_null(outputs_open(&cfg, err, sizeof(err)));
	cr_assert(strstr(err, "header 0") != NULL, "message was: %s", err);

	cfg = quiet_config();
	cfg.file.enabled = true;
	cfg.file.path = "/nonexistent-dir-for-vigil-test/out.json";
	cr_assert_null(outputs_open(&cfg, err, sizeof(err)));
	cr_assert(strstr(err, "cannot open") != NULL, "message was: %s", err);

	cfg = quiet_config();
	cfg.stdout_sink.enabled = true;
	cfg.stdout_sink.queue.max_lines = 0;
	cr_assert_null(outputs_open(&cfg, err, sizeof(err)));
	cr_assert(strstr(err, "max_lines") != NULL, "message was: %s", err);

	cr_assert_null(outputs_open(NULL, err, sizeof(err)));
	cr_assert(strstr(err, "no configuration") != NULL, "message was: %s", err);
}

Test(output, rejects_bad_lines)
{
	struct output_config cfg = quiet_config();
	char err[256];
	struct outputs *o;

	cfg.stdout_sink.enabled = true;
	cfg.stdout_sink.fd = open("/dev/null", O_WRONLY);
	o = outputs_open(&cfg, err, sizeof(err));
	cr_assert_not_null(o, "%s", err);
	cr_assert_eq(output_emit(o, NULL, 3, OUTPUT_ALERT), -1);
	cr_assert_eq(output_emit(o, "", 0, OUTPUT_ALERT), -1);
	cr_assert_eq(output_emit(o, "\n", 1, OUTPUT_ALERT), -1);
	cr_assert_eq(output_emit(o, "{\"a\":\n1}", 8, OUTPUT_ALERT), -1);
	cr_assert_eq(output_emit(o, "{}", 2, (enum output_kind)7), -1);
	cr_assert_eq(output_emit(NULL, "{}", 2, OUTPUT_ALERT), -1);
	cr_assert_eq(output_emit(o, "{}\n", 3, OUTPUT_ALERT), 1);
	outputs_close(o);
	close(cfg.stdout_sink.fd);
}

/* ---- stdout ---- */

Test(output, stdout_writes_every_line_in_order)
{
	struct output_config cfg = quiet_config();
	char err[256], line[128], *got;
	struct outputs *o;
	size_t len;
	int p[2];
	const int n = 300;

	cr_assert_eq(pipe(p), 0);
	cfg.stdout_sink.enabled = true;
	cfg.stdout_sink.fd = p[1];
	o = outputs_open(&cfg, err, sizeof(err));
	cr_assert_not_null(o, "%s", err);
	for (int i = 0; i < n; i++) {
		make_line(line, sizeof(line), i, 60);
		cr_assert_eq(output_emit(o, line, strlen(line), i % 2 ? OUTPUT_ALERT : OUTPUT_EVENT), 1);
	}
	cr_assert_eq(wait_for(o, "stdout", ST_SENT, n, 3000), (uint64_t)n);
	cr_assert_eq(stats_of(o, "stdout").errors, 0);
	outputs_close(o);
	close(p[1]);
	got = read_all_fd(p[0], &len);
	close(p[0]);

	cr_assert_eq(len, (size_t)n * 60);
	for (int i = 0; i < n; i++) {
		make_line(line, sizeof(line), i, 60);
		cr_assert_eq(memcmp(got + (size_t)i * 60, line, 59), 0, "line %d differs", i);
		cr_assert_eq(got[(size_t)i * 60 + 59], '\n');
	}
	free(got);
}

Test(output, stdout_only_alerts_skips_events)
{
	struct output_config cfg = quiet_config();
	char err[256], *got;
	struct outputs *o;
	size_t len;
	int p[2];

	cr_assert_eq(pipe(p), 0);
	cfg.stdout_sink.enabled = true;
	cfg.stdout_sink.fd = p[1];
	cfg.stdout_sink.only_alerts = true;
	o = outputs_open(&cfg, err, sizeof(err));
	cr_assert_not_null(o, "%s", err);
	cr_assert_eq(output_emit(o, "{\"e\":1}", 7, OUTPUT_EVENT), 0);
	cr_assert_eq(output_emit(o, "{\"a\":1}", 7, OUTPUT_ALERT), 1);
	cr_assert_eq(output_emit(o, "{\"e\":2}", 7, OUTPUT_EVENT), 0);
	cr_assert_eq(output_emit(o, "{\"a\":2}", 7, OUTPUT_ALERT), 1);
	outputs_close(o);
	close(p[1]);
	got = read_all_fd(p[0], &len);
	close(p[0]);
	cr_assert_str_eq(got, "{\"a\":1}\n{\"a\":2}\n");
	free(got);
}

Test(output, stdout_survives_closed_reader)
{
	struct output_config cfg = quiet_config();
	struct output_stats st;
	char err[256];
	struct outputs *o;
	int p[2];

	/* Default disposition: an unhandled SIGPIPE would kill the test. */
	signal(SIGPIPE, SIG_DFL);
	cr_assert_eq(pipe(p), 0);
	close(p[0]);
	cfg.stdout_sink.enabled = true;
	cfg.stdout_sink.fd = p[1];
	o = outputs_open(&cfg, err, sizeof(err));
	cr_assert_not_null(o, "%s", err);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(output_emit(o, "{\"x\":1}", 7, OUTPUT_ALERT), 1);
	cr_assert_eq(wait_for(o, "stdout", ST_FAILED, 10, 3000), 10);
	st = stats_of(o, "stdout");
	cr_assert_eq(st.sent, 0);
	cr_assert_geq(st.errors, 1);
	cr_assert_eq(st.accepted, 10);
	outputs_close(o);
	close(p[1]);
}

/* Nobody reads the pipe: the worker is stuck, the queue fills, lines are
 * dropped and counted, the producer never waits and close keeps its
 * deadline. The drop also shows up in the log, once per interval. */
Test(output, stdout_stuck_reader_drops_without_blocking)
{
	struct output_config cfg = quiet_config();
	struct output_stats st;
	char err[256], line[256], log_path[64], *log;
	struct outputs *o;
	int64_t worst = 0, start;
	size_t log_len;
	int p[2];
	const int n = 3000;

	capture_stderr(log_path, sizeof(log_path));
	cr_assert_eq(pipe(p), 0);
	cfg.stdout_sink.enabled = true;
	cfg.stdout_sink.fd = p[1];
	cfg.stdout_sink.queue.max_lines = 16;
	cfg.close_deadline_ms = 300;
	o = outputs_open(&cfg, err, sizeof(err));
	cr_assert_not_null(o, "%s", err);

	for (int i = 0; i < n; i++) {
		int64_t t0 = output_now_ms();

		make_line(line, sizeof(line), i, 200); /* 3000 * 200 bytes >> 64 KiB pipe */
		output_emit(o, line, strlen(line), OUTPUT_ALERT);
		if (output_now_ms() - t0 > worst)
			worst = output_now_ms() - t0;
		/* Let the worker fill the pipe before the queue is hammered. */
		if (i < 400)
			usleep(200);
	}
	cr_assert_lt(worst, 50, "output_emit blocked for %lld ms", (long long)worst);
	st = stats_of(o, "stdout");
	cr_assert_gt(st.dropped_queue_full, 0);
	cr_assert_eq(st.accepted + st.dropped_queue_full, (uint64_t)n);
	cr_assert_leq(st.queued, 16);

	start = output_now_ms();
	outputs_close(o);
	cr_assert_lt(output_now_ms() - start, 1500, "close took %lld ms",
		     (long long)(output_now_ms() - start));
	close(p[0]);
	close(p[1]);

	log = read_file(log_path, &log_len);
	unlink(log_path);
	/* One line when the drops start (the interval is 10 s), one at close
	 * with the rest of the count. */
	cr_assert_eq(count_substr(log, "output stdout: dropped"), 2, "log was:\n%s", log);
	free(log);
}

Test(output, queue_bound_in_bytes)
{
	struct output_config cfg = quiet_config();
	struct output_stats st;
	char err[256], line[256];
	struct outputs *o;
	int p[2];

	cr_assert_eq(pipe(p), 0);
	/* Fill the pipe first so the worker blocks on its first write. */
	fcntl(p[1], F_SETFL, O_NONBLOCK);
	memset(line, 'f', sizeof(line));
	while (write(p[1], line, sizeof(line)) > 0)
		;
	fcntl(p[1], F_SETFL, 0);

	cfg.stdout_sink.enabled = true;
	cfg.stdout_sink.fd = p[1];
	cfg.stdout_sink.queue.max_bytes = 1000;
	cfg.close_deadline_ms = 100;
	o = outputs_open(&cfg, err, sizeof(err));
	cr_assert_not_null(o, "%s", err);
	for (int i = 0; i < 20; i++) {
		make_line(line, sizeof(line), i, 200);
		output_emit(o, line, strlen(line), OUTPUT_EVENT);
	}
	st = stats_of(o, "stdout");
	/* 1000 bytes hold five 200-byte lines, in flight or waiting. */
	cr_assert_eq(st.accepted, 5);
	cr_assert_eq(st.dropped_queue_full, 15);
	/* A line bigger than the whole queue is dropped, not stuck. */
	{
		char big[1200];

		memset(big, 'b', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		cr_assert_eq(output_emit(o, big, strlen(big), OUTPUT_EVENT), 0);
		cr_assert_eq(stats_of(o, "stdout").dropped_queue_full, 16);
	}
	outputs_close(o);
	close(p[0]);
	close(p[1]);
}

/* ---- file ---- */

static char tmpdir[64];

static void make_tmpdir(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_output.XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
}

static bool file_exists(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0;
}

Test(output, file_rotates_by_size, .init = make_tmpdir, .fini = remove_tmpdir)
{
	struct output_config cfg = quiet_config();
	char err[256], path[128], name[160], line[128];
	struct outputs *o;
	const int n = 100, line_len = 100, max_bytes = 1000, max_files = 3;
	int expect_next = -1, total = 0;

	snprintf(path, sizeof(path), "%s/alerts.json", tmpdir);
	cfg.file.enabled = true;
	cfg.file.path = path;
	cfg.file.max_bytes = max_bytes;
	cfg.file.max_files = max_files;
	o = outputs_open(&cfg, err, sizeof(err));
	cr_assert_not_null(o, "%s", err);
	for (int i = 0; i < n; i++) {
		make_line(line, sizeof(line), i, line_len);
		cr_assert_eq(output_emit(o, line, strlen(line), OUTPUT_EVENT), 1);
	}
	cr_assert_eq(wait_for(o, "file", ST_SENT, n, 3000), (uint64_t)n);
	outputs_close(o);

	snprintf(name, sizeof(name), "%s.%d", path, max_files + 1);
	cr_assert(!file_exists(name), "%s should have fallen off", name);
	/* Oldest first: path.3, path.2, path.1, path. */
	for (int k = max_files; k >= 0; k--) {
		size_t len;
		char *data, *p;

		if (k == 0)
			snprintf(name, sizeof(name), "%s", path);
		else
			snprintf(name, sizeof(name), "%s.%d", path, k);
		data = read_file(name, &len);
		cr_assert_leq(len, (size_t)max_bytes, "%s is %zu bytes", name, len);
		cr_assert_eq(len % line_len, 0);
		for (p = data; *p; p += line_len) {
			int num = atoi(p + 5);

			cr_assert_eq(strncmp(p, "{\"n\":", 5), 0);
			if (expect_next >= 0)
				cr_assert_eq(num, expect_next, "in %s", name);
			expect_next = num + 1;
			total++;
		}
		free(data);
	}
	cr_assert_eq(expect_next, n, "the newest line must be the last written");
	cr_assert_eq(total, (max_files + 1) * (max_bytes / line_len));
}

Test(output, file_counts_existing_size, .init = make_tmpdir, .fini = remove_tmpdir)
{
	struct output_config cfg = quiet_config();
	char err[256], path[128], rotated[160], old[951], line[128], *data;
	struct outputs *o;
	size_t len;
	FILE *f;

	snprintf(path, sizeof(path), "%s/alerts.json", tmpdir);
	snprintf(rotated, sizeof(rotated), "%s.1", path);
	memset(old, 'o', 949);
	old[949] = '\n';
	old[950] = '\0';
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(old, f);
	fclose(f);

	cfg.file.enabled = true;
	cfg.file.path = path;
	cfg.file.max_bytes = 1000;
	cfg.file.max_files = 1;
	o = outputs_open(&cfg, err, sizeof(err));
	cr_assert_not_null(o, "%s", err);
	make_line(line, sizeof(line), 1, 100);
	output_emit(o, line, strlen(line), OUTPUT_ALERT);
	outputs_close(o);

	data = read_file(rotated, &len);
	cr_assert_str_eq(data, old);
	free(data);
	data = read_file(path, &len);
	cr_assert_eq(len, 100);
	cr_assert_eq(strncmp(data, line, 99), 0);
	free(data);
}

/* The file moved away under us (logrotate without copytruncate): the next
 * lines go to a new file at the configured path, not into the moved one. */
Test(output, file_reopens_when_moved_away, .init = make_tmpdir, .fini = remove_tmpdir)
{
	struct output_config cfg = quiet_config();
	char err[256], path[128], moved[160], *data;
	struct outputs *o;
	size_t len;

	snprintf(path, sizeof(path), "%s/alerts.json", tmpdir);
	snprintf(moved, sizeof(moved), "%s/alerts.json.old", tmpdir);
	cfg.file.enabled = true;
	cfg.file.path = path;
	o = outputs_open(&cfg, err, sizeof(err));
	cr_assert_not_null(o, "%s", err);
	output_emit(o, "{\"first\":1}", 11, OUTPUT_ALERT);
	cr_assert_eq(wait_for(o, "file", ST_SENT, 1, 3000), 1);
	cr_assert_eq(rename(path, moved), 0);
	output_emit(o, "{\"second\":2}", 12, OUTPUT_ALERT);
	cr_assert_eq(wait_for(o, "file", ST_SENT, 2, 3000), 2);
	outputs_close(o);

	data = read_file(moved, &len);
	cr_assert_str_eq(data, "{\"first\":1}\n");
	free(data);
	data = read_file(path, &len);
	cr_assert_str_eq(data, "{\"second\":2}\n");
	free(data);
}

/* One sink stuck must not cost the others anything. */
Test(output, stuck_sink_does_not_affect_others, .init = make_tmpdir, .fini = remove_tmpdir)
{
	struct output_config cfg = quiet_config();
	struct output_stats st;
	char err[256], path[128], line[256], *data;
	struct outputs *o;
	size_t len;
	int p[2];
	const int n = 2000;

	cr_assert_eq(pipe(p), 0);
	snprintf(path, sizeof(path), "%s/all.json", tmpdir);
	cfg.stdout_sink.enabled = true;
	cfg.stdout_sink.fd = p[1];
	cfg.stdout_sink.queue.max_lines = 8;
	cfg.file.enabled = true;
	cfg.file.path = path;
	cfg.file.max_bytes = 1u << 30;
	cfg.close_deadline_ms = 200;
	o = outputs_open(&cfg, err, sizeof(err));
	cr_assert_not_null(o, "%s", err);
	for (int i = 0; i < n; i++) {
		make_line(line, sizeof(line), i, 200);
		output_emit(o, line, strlen(line), OUTPUT_ALERT);
		if (i % 100 == 0)
			usleep(2000); /* gives the file worker time to keep up */
	}
	cr_assert_eq(wait_for(o, "file", ST_SENT, n, 5000), (uint64_t)n);
	st = stats_of(o, "file");
	cr_assert_eq(st.dropped_queue_full, 0);
	st = stats_of(o, "stdout");
	cr_assert_gt(st.dropped_queue_full, 0);
	outputs_close(o);
	close(p[0]);
	close(p[1]);
	data = read_file(path, &len);
	cr_assert_eq(len, (size_t)n * 200);
	cr_assert_eq(count_lines(data), n);
	free(data);
}

/* ---- webhook ---- */

#define RECEIVER_MAX_BODIES 256

struct receiver {
	int fd;
	int port;
	pthread_t thread;
	bool running;
	atomic_bool stop;
	/* Behaviour: the first fail_count requests get fail_status; hang
	 * means read the request and never answer. */
	int fail_status;
	int fail_count;
	bool hang;

	pthread_mutex_t lock;
	int requests;
	int nbodies;
	char *bodies[RECEIVER_MAX_BODIES];
	char last_head[4096];
};

/* Bound but not listening: connections are refused, the "down" receiver.
 * receiver_start() turns the same port "up". */
static void receiver_bind(struct receiver *r)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t alen = sizeof(addr);

	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	r->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(r->fd, 0);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(r->fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	cr_assert_eq(getsockname(r->fd, (struct sockaddr *)&addr, &alen), 0);
	r->port = ntohs(addr.sin_port);
}

/* Reads until the socket has `want` bytes or the receiver stops. */
static bool recv_more(struct receiver *r, int fd, char *buf, size_t *len, size_t cap)
{
	while (!atomic_load(&r->stop)) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t got;

		if (poll(&pfd, 1, 50) <= 0)
			continue;
		got = recv(fd, buf + *len, cap - *len, 0);
		if (got <= 0)
			return false;
		*len += (size_t)got;
		return true;
	}
	return false;
}

static void serve_one(struct receiver *r, int fd)
{
	char buf[65536], *end, *cl, reply[128];
	size_t len = 0, head_len, body_len = 0;
	int status = 200;

	for (;;) {
		if (len == sizeof(buf) - 1 || !recv_more(r, fd, buf, &len, sizeof(buf) - 1))
			return;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (end)
			break;
	}
	head_len = (size_t)(end - buf) + 4;
	cl = strcasestr(buf, "Content-Length:");
	if (cl && cl < end)
		body_len = strtoul(cl + 15, NULL, 10);
	if (body_len > sizeof(buf) - 1 - head_len)
		return;
	while (len < head_len + body_len)
		if (!recv_more(r, fd, buf, &len, sizeof(buf) - 1))
			return;

	pthread_mutex_lock(&r->lock);
	r->requests++;
	if (r->requests <= r->fail_count)
		status = r->fail_status;
	snprintf(r->last_head, sizeof(r->last_head), "%.*s", (int)head_len, buf);
	if (status == 200 && !r->hang && r->nbodies < RECEIVER_MAX_BODIES)
		r->bodies[r->nbodies++] = strndup(buf + head_len, body_len);
	pthread_mutex_unlock(&r->lock);

	if (r->hang) {
		while (!atomic_load(&r->stop))
			usleep(10000);
		return;
	}
	snprintf(reply, sizeof(reply),
		 "HTTP/1.1 %d X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", status);
	if (send(fd, reply, strlen(reply), MSG_NOSIGNAL) < 0)
		return;
}

static void *receiver_main(void *arg)
{
	struct receiver *r = arg;

	while (!atomic_load(&r->stop)) {
		struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
		int c;

		if (poll(&pfd, 1, 50) <= 0)
			continue;
		c = accept(r->fd, NULL, NULL);
		if (c < 0)
			continue;
		serve_one(r, c);
		close(c);
	}
	return NULL;
}

static void receiver_start(struct receiver *r)
{
	cr_assert_eq(listen(r->fd, 16), 0);
	cr_assert_eq(pthread_create(&r->thread, NULL, receiver_main, r), 0);
	r->running = true;
}

static void receiver_stop(struct receiver *r)
{
	atomic_store(&r->stop, true);
	if (r->running)
		pthread_join(r->thread, NULL);
	close(r->fd);
	for (int i = 0; i < r->nbodies; i++)
		free(r->bodies[i]);
	pthread_mutex_destroy(&r->lock);
}

static int receiver_count(struct receiver *r, int *requests)
{
	int n;

	pthread_mutex_lock(&r->lock);
	n = r->nbodies;
	if (requests)
		*requests = r->requests;
	pthread_mutex_unlock(&r->lock);
	return n;
}

static struct output_config webhook_config(struct receiver *r, char *url, size_t url_len)
{
	static const char *headers[] = { "Authorization: Bearer t0ken", "X-Vigil-Node: node-1" };
	struct output_config cfg = quiet_config();

	snprintf(url, url_len, "http://127.0.0.1:%d/falco", r->port);
	cfg.webhook.enabled = true;
	cfg.webhook.url = url;
	cfg.webhook.headers = headers;
	cfg.webhook.header_count = 2;
	cfg.webhook.timeout_ms = 2000;
	cfg.webhook.max_attempts = 3;
	cfg.webhook.backoff_base_ms = 20;
	cfg.webhook.backoff_cap_ms = 80;
	return cfg;
}

static const char falco_alert[] =
	"{\"time\":\"2024-05-01T10:00:00.123456789Z\",\"rule\":\"Terminal shell in container\","
	"\"priority\":\"Notice\",\"output\":\"A shell was spawned\",\"output_fields\":"
	"{\"proc.name\":\"bash\"},\"tags\":[\"container\",\"shell\"],\"source\":\"syscall\","
	"\"hostname\":\"node-1\"}";

Test(output, webhook_posts_alerts_as_json)
{
	struct receiver r;
	struct output_config cfg;
	char err[256], url[64];
	struct outputs *o;
	int requests;

	receiver_bind(&r);
	receiver_start(&r);
	cfg = webhook_config(&r, url, sizeof(url));
	o = outputs_open(&cfg, err, sizeof(err));
	cr_assert_not_null(o, "%s", err);

	cr_assert_eq(output_emit(o, "{\"event\":1}", 11, OUTPUT_EVENT), 0, "events are not posted");
	cr_assert_eq(output_emit(o, falco_alert, strlen(falco_alert), OUTPUT_ALERT), 1);
	cr_assert_eq(wait_for(o, "webhook", ST_SENT, 1, 3000), 1);
	outputs_close(o);

	cr_assert_eq(receiver_count(&r, &requests), 1);
	cr_assert_eq(requests, 1);
	cr_assert_str_eq(r.bodies[0], falco_alert); /* as is, no trailing newline */
	cr_assert(strstr(r.last_head, "POST /falco HTTP/1.1\r\n") == r.last_head, "%s", r.last_head);
	cr_assert(strstr(r.last_head, "\r\nContent-Type: application/json\r\n"), "%s", r.last_head);
	cr_assert(strstr(r.last_head, "\r\nAuthorization: Bearer t0ken\r\n"), "%s", r.last_head);
	cr_assert(strstr(r.last_head, "\r\nX-Vigil-Node: node-1\r\n"), "%s", r.last_head);
	receiver_stop(&r);
}

Test(output, webhook_retries_server_errors)
{
	struct receiver r;
	struct output_config cfg;
	struct output_stats st;
	char err[256], url[64];
	struct outputs *o;
	int requests;

	receiver_bind(&r);
	r.fail_status = 503;
	r.fail_count = 2;
	receiver_start(&r);
	cfg = webhook_config(&r, url, sizeof(url));
	o = outputs_open(&cfg, err, sizeof(err));
	cr_assert_not_null(o, "%s", err);
	cr_assert_eq(output_emit(o, falco_alert, strlen(falco_alert), OUTPUT_ALERT), 1);
	cr_assert_eq(wait_for(o, "webhook", ST_SENT, 1, 3000), 1);
	st = stats_of(o, "webhook");
	cr_assert_eq(st.errors, 2);
	cr_assert_eq(st.retries, 2);
	cr_assert_eq(st.failed, 0);
	outputs_close(o);
	cr_assert_eq(receiver_count(&r, &requests), 1);
	cr_assert_eq(requests, 3);
	cr_assert_str_eq(r.bodies[0], falco_alert);
	receiver_stop(&r);
}

Test(output, webhook_does_not_retry_client_errors)
{
	struct receiver r;
	struct output_config cfg;
	struct output_stats st;
	char err[256], url[64];
	struct outputs *o;
	int requests;

	receiver_bind(&r);
	r.fail_status = 400;
	r.fail_count = 1000;
	receiver_start(&r);
	cfg = webhook_config(&r, url, sizeof(url));
	o = outputs_open(&cfg, err, sizeof(err));
	cr_assert_not_null(o, "%s", err);
	cr_assert_eq(output_emit(o, falco_alert, strlen(falco_alert), OUTPUT_ALERT), 1);
	cr_assert_eq(wait_for(o, "webhook", ST_FAILED, 1, 3000), 1);
	st = stats_of(o, "webhook");
	cr_assert_eq(st.sent, 0);
	cr_assert_eq(st.errors, 1);
	cr_assert_eq(st.retries, 0);
	outputs_close(o);
	receiver_count(&r, &requests);
	cr_assert_eq(requests, 1);
	receiver_stop(&r);
}

/* The receiver is down (connection refused), then comes up on the same
 * port. Nothing crashes, the producer never waits, retries and drops are
 * counted, and once up every line taken afterwards arrives. */
Test(output, webhook_receiver_down_then_up)
{
	struct receiver r;
	struct output_config cfg;
	struct output_stats st;
	char err[256], url[64], line[128];
	struct outputs *o;
	int64_t worst = 0;
	int received, requests, total = 0;

	receiver_bind(&r);
	cfg = webhook_config(&r, url, sizeof(url));
	cfg.webhook.queue.max_lines = 8;
	cfg.webhook.backoff_base_ms = 100;
	cfg.webhook.backoff_cap_ms = 400;
	o = outputs_open(&cfg, err, sizeof(err));
	cr_assert_not_null(o, "%s", err);

	for (int i = 0; i < 40; i++) {
		int64_t t0 = output_now_ms();

		snprintf(line, sizeof(line), "{\"rule\":\"down\",\"n\":%d}", i);
		output_emit(o, line, strlen(line), OUTPUT_ALERT);
		total++;
		if (output_now_ms() - t0 > worst)
			worst = output_now_ms() - t0;
	}
	cr_assert_lt(worst, 50, "output_emit blocked for %lld ms", (long long)worst);
	/* Backoff for the first line: about 50-100 ms, then 100-200 ms. */
	cr_assert_geq(wait_for(o, "webhook", ST_RETRIES, 2, 3000), 2);
	cr_assert_geq(wait_for(o, "webhook", ST_FAILED, 1, 3000), 1);
	st = stats_of(o, "webhook");
	cr_assert_eq(st.sent, 0);
	cr_assert_geq(st.errors, 3);
	cr_assert_eq(st.accepted + st.dropped_queue_full, (uint64_t)total);
	cr_assert_gt(st.dropped_queue_full, 0);

	receiver_start(&r);
	/* What is still queued now goes out (or fails if its retries were
	 * already spent); wait for the queue to empty, then send fresh lines. */
	cr_assert_eq(wait_for(o, "webhook", ST_QUEUED, 0, 10000), 0);
	for (int i = 0; i < 5; i++) {
		snprintf(line, sizeof(line), "{\"rule\":\"up\",\"n\":%d}", i);
		cr_assert_eq(output_emit(o, line, strlen(line), OUTPUT_ALERT), 1);
		total++;
	}
	cr_assert_eq(wait_for(o, "webhook", ST_QUEUED, 0, 5000), 0);
	st = stats_of(o, "webhook");
	outputs_close(o);

	cr_assert_eq(st.accepted + st.dropped_queue_full, (uint64_t)total);
	cr_assert_eq(st.sent + st.failed, st.accepted);
	received = receiver_count(&r, &requests);
	cr_assert_eq((uint64_t)received, st.sent);
	cr_assert_geq(received, 5);
	/* The five fresh lines arrived, last, in order. */
	for (int i = 0; i < 5; i++) {
		snprintf(line, sizeof(line), "{\"rule\":\"up\",\"n\":%d}", i);
		cr_assert_str_eq(r.bodies[received - 5 + i], line);
	}
	receiver_stop(&r);
}

/* A receiver that accepts and never answers must not hold close past its
 * deadline, even with a long request timeout. */
Test(output, webhook_hung_receiver_respects_close_deadline)
{
	struct receiver r;
	struct output_config cfg;
	struct output_stats st;
	char err[256], url[64];
	struct outputs *o;
	int64_t start, took;
	int requests = 0;

	receiver_bind(&r);
	r.hang = true;
	receiver_start(&r);
	cfg = webhook_config(&r, url, sizeof(url));
	cfg.webhook.timeout_ms = 30000;
	cfg.close_deadline_ms = 300;
	o = outputs_open(&cfg, err, sizeof(err));
	cr_assert_not_null(o, "%s", err);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(output_emit(o, falco_alert, strlen(falco_alert), OUTPUT_ALERT), 1);
	for (int i = 0; i < 200 && requests == 0; i++) {
		receiver_count(&r, &requests);
		usleep(10000);
	}
	cr_assert_eq(requests, 1, "the request should be hanging now");

	start = output_now_ms();
	st = stats_of(o, "webhook");
	cr_assert_eq(st.sent, 0);
	outputs_close(o);
	took = output_now_ms() - start;
	/* libcurl checks progress about once a second. */
	cr_assert_lt(took, 1800, "close took %lld ms", (long long)took);
	receiver_stop(&r);
}

Test(output, stats_name_every_sink, .init = make_tmpdir, .fini = remove_tmpdir)
{
	struct output_config cfg = quiet_config();
	struct output_stats st[OUTPUT_MAX_SINKS];
	char err[256], path[128];
	struct outputs *o;

	snprintf(path, sizeof(path), "%s/x.json", tmpdir);
	cfg.stdout_sink.enabled = true;
	cfg.stdout_sink.fd = open("/dev/null", O_WRONLY);
	cfg.file.enabled = true;
	cfg.file.path = path;
	cfg.webhook.enabled = true;
	cfg.webhook.url = "http://127.0.0.1:9/";
	o = outputs_open(&cfg, err, sizeof(err));
	cr_assert_not_null(o, "%s", err);
	cr_assert_eq(output_get_stats(o, st, OUTPUT_MAX_SINKS), 3);
	cr_assert_str_eq(st[0].name, "stdout");
	cr_assert_str_eq(st[1].name, "file");
	cr_assert_str_eq(st[2].name, "webhook");
	/* An event goes to stdout and file, not to the alerts-only webhook. */
	cr_assert_eq(output_emit(o, "{\"e\":1}", 7, OUTPUT_EVENT), 2);
	cr_assert_eq(wait_for(o, "file", ST_SENT, 1, 3000), 1);
	cr_assert_eq(stats_of(o, "webhook").accepted, 0);
	outputs_close(o);
	close(cfg.stdout_sink.fd);
}
