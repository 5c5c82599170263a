/* event_checks.h - shared by the syscall event tests (files, kernel,
 * network): one sensor per suite, a private directory, and helpers that find
 * a child's event among the sensor's JSON lines and check its fields. */
#ifndef VIGIL_TEST_EVENT_CHECKS_H
#define VIGIL_TEST_EVENT_CHECKS_H

#include <criterion/criterion.h>
#include <ftw.h>
#include <limits.h>
#include <sys/stat.h>

#include "integration/harness.h"

#define WAIT_MS 5000

static struct sensor_run sensor;
static char base[PATH_MAX]; /* canonical path of this test's directory */


struct want {
	const char *name; /* evt.name */
	pid_t pid;        /* process.pid */
	const char *key;  /* a string field that must equal value; NULL = any */
	const char *value;
	const char *key2; /* a second one */
	const char *value2;
	const char *num_key; /* a number field that must equal num */
	int64_t num;
};

static bool field_is(const cJSON *ev, const char *key, const char *value)
{
	const cJSON *v = json_path(ev, key);

	return cJSON_IsString(v) && strcmp(v->valuestring, value) == 0;
}

static bool match_want(const cJSON *ev, const void *arg)
{
	const struct want *w = arg;
	const cJSON *pid = json_path(ev, "process.pid"), *num;

	if (!field_is(ev, "evt.name", w->name))
		return false;
	if (!cJSON_IsNumber(pid) || pid->valueint != w->pid)
		return false;
	if (w->key && !field_is(ev, w->key, w->value))
		return false;
	if (w->key2 && !field_is(ev, w->key2, w->value2))
		return false;
	if (!w->num_key)
		return true;
	num = json_path(ev, w->num_key);
	return cJSON_IsNumber(num) && (int64_t)num->valuedouble == w->num;
}

/* Reads all the sensor has written so far, so its output queue never
 * fills up while a test looks for something. */
static void drain(void)
{
	for (int i = 0; i < 4096; i++) {
		size_t before = sensor.len + sensor.errlen;

		sensor_pump(&sensor, 0);
		if (sensor.len + sensor.errlen == before)
			break;
	}
}

/* Like sensor_find, but only lines about w->pid are parsed: with file
 * events on, the whole machine's opens go by, and parsing each of them on
 * every look would fall behind the sensor. The needle relies on the writer
 * putting "pid" first in "process"; if that changes, tests fail, they do
 * not pass wrongly. wait_ms 0 looks once. */
static cJSON *find_match(const struct want *w, int wait_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)wait_ms;
	char needle[48];
	size_t nlen = (size_t)snprintf(needle, sizeof(needle), "\"process\":{\"pid\":%d,", w->pid);

	for (;;) {
		size_t off = 0;

		drain();
		while (sensor.buf && off < sensor.len) {
			char *line = sensor.buf + off, *nl = memchr(line, '\n', sensor.len - off);
			cJSON *obj;

			if (!nl)
				break;
			off = (size_t)(nl - sensor.buf) + 1;
			if (!memmem(line, (size_t)(nl - line), needle, nlen))
				continue;
			obj = cJSON_ParseWithLength(line, (size_t)(nl - line));
			if (obj && match_want(obj, w))
				return obj;
			cJSON_Delete(obj);
		}
		if (now_ms() >= deadline)
			return NULL;
		sensor_pump(&sensor, 50);
	}
}

static cJSON *expect_match(const struct want *w)
{
	cJSON *ev = find_match(w, WAIT_MS);

	cr_assert(ev, "no %s event from pid %d with %s = \"%s\", %s = \"%s\", %s = %lld", w->name,
		  w->pid, w->key ? w->key : "-", w->value ? w->value : "-", w->key2 ? w->key2 : "-",
		  w->value2 ? w->value2 : "-", w->num_key ? w->num_key : "-", (long long)w->num);
	return ev;
}

/* The child's `name` event whose field `key` is `value`; fails the test
 * when it does not come. */
static cJSON *expect_event(const char *name, pid_t pid, const char *key, const char *value)
{
	struct want w = { .name = name, .pid = pid, .key = key, .value = value };

	return expect_match(&w);
}

static const char *str_at(const cJSON *ev, const char *path)
{
	const cJSON *v = json_path(ev, path);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void expect_str(const cJSON *ev, const char *path, const char *want)
{
	const char *got = str_at(ev, path);

	cr_expect(got && strcmp(got, want) == 0, "%s: got \"%s\", want \"%s\"", path,
		  got ? got : "(missing)", want);
}

static void expect_num(const cJSON *ev, const char *path, int64_t want)
{
	const cJSON *v = json_path(ev, path);

	cr_expect(cJSON_IsNumber(v) && (int64_t)v->valuedouble == want, "%s: got %s%lld, want %lld",
		  path, cJSON_IsNumber(v) ? "" : "(missing) ",
		  cJSON_IsNumber(v) ? (long long)v->valuedouble : 0LL, (long long)want);
}

static int64_t num_at(const cJSON *ev, const char *path)
{
	const cJSON *v = json_path(ev, path);

	cr_assert(cJSON_IsNumber(v), "%s is missing", path);
	return (int64_t)v->valuedouble;
}

/* Runs fn in a child; the child exits with fn's return value, which says
 * which step failed. Returns the child's pid once it is gone. */
static pid_t run_child(int (*fn)(void *), void *arg)
{
	pid_t pid = fork();
	int status;

	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0)
		_exit(fn(arg));
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "the child failed at step %d (status 0x%x)", WEXITSTATUS(status), status);
	return pid;
}

static void join(char *out, const char *name)
{
	size_t n = strlen(base);

	cr_assert(n + 1 + strlen(name) < PATH_MAX);
	memcpy(out, base, n);
	out[n] = '/';
	strcpy(out + n + 1, name);
}


/* Starts the suite's sensor on these event types, with a private
 * directory /tmp/vigil-<name>-<pid>-XXXXXX as `base`. */
static void suite_start(const char *name, const char *types)
{
	const char *const args[] = { "events", "--types", types, NULL };
	char tmpl[96];

	snprintf(tmpl, sizeof(tmpl), "/tmp/vigil-%s-%d-XXXXXX", name, getpid());
	cr_assert(mkdtemp(tmpl), "mkdtemp: %s", strerror(errno));
	/* Traversable by the tests' unprivileged children. */
	cr_assert_eq(chmod(tmpl, 0755), 0);
	cr_assert(realpath(tmpl, base));
	cr_assert(sensor_start(&sensor, args));
	/* Room for bursts while the test waits for a child. */
	if (fcntl(sensor.out_fd, F_SETPIPE_SZ, 8 << 20) < 0)
		fcntl(sensor.out_fd, F_SETPIPE_SZ, 1 << 20);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Stops the sensor (it must exit cleanly) and removes the directory. */
static void suite_stop(void)
{
	if (sensor.pid > 0) {
		int status = sensor_stop(&sensor);

		cr_expect_eq(status, 0, "sensor exit status %d; stderr:\n%s", status,
			     sensor.errbuf ? sensor.errbuf : "");
	}
	sensor_free(&sensor);
	nftw(base, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
