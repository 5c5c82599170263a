/* secl_test_schema.h - a small fake event model for the SECL unit tests,
 * the policy tests and the SECL fuzzer.
 *
 * It stands in for Vigil's real schema: a flat test event struct and getters
 * for a handful of fields of each kind (string, int, bool, IP, multi-valued),
 * spread over four event types plus common process/container fields. */
#ifndef VIGIL_SECL_TEST_SCHEMA_H
#define VIGIL_SECL_TEST_SCHEMA_H

#include <stddef.h>
#include <string.h>

#include "../../sensor/secl.h"

enum test_event_type { TEV_OPEN, TEV_EXEC, TEV_CONNECT, TEV_CHMOD, TEV_COUNT };

#define TEST_MAX_LIST 8

struct test_event {
	const char *open_path;
	int64_t open_flags;
	bool open_in_upper;
	const char *exec_path;
	struct secl_ip connect_ip;
	int64_t connect_port;
	const char *chmod_path;
	int64_t chmod_mode;
	/* common */
	const char *proc_name;
	const char *proc_path;
	int64_t pid, uid;
	int64_t created_at;
	const char *container_id;
	const char *args[TEST_MAX_LIST];
	size_t n_args;
	const char *ancestors[TEST_MAX_LIST];
	size_t n_ancestors;
};

static inline size_t test_put_str(const char *s, union secl_scalar *out, size_t max)
{
	if (!s)
		return 0;
	if (max)
		out[0].s = (struct secl_str){ s, strlen(s) };
	return 1;
}

static inline size_t test_put_basename(const char *s, union secl_scalar *out, size_t max)
{
	const char *slash;

	if (!s)
		return 0;
	slash = strrchr(s, '/');
	return test_put_str(slash ? slash + 1 : s, out, max);
}

/* getter_ctx holds the member's offset for the plain getters. */
static inline size_t test_get_str(const void *ev, void *ctx, union secl_scalar *out, size_t max)
{
	const char *s = *(const char *const *)((const char *)ev + (size_t)ctx);

	return test_put_str(s, out, max);
}

static inline size_t test_get_basename(const void *ev, void *ctx, union secl_scalar *out, size_t max)
{
	const char *s = *(const char *const *)((const char *)ev + (size_t)ctx);

	return test_put_basename(s, out, max);
}

static inline size_t test_get_int(const void *ev, void *ctx, union secl_scalar *out, size_t max)
{
	if (max)
		out[0].i = *(const int64_t *)((const char *)ev + (size_t)ctx);
	return 1;
}

static inline size_t test_get_bool(const void *ev, void *ctx, union secl_scalar *out, size_t max)
{
	if (max)
		out[0].b = *(const bool *)((const char *)ev + (size_t)ctx);
	return 1;
}

static inline size_t test_get_ip(const void *ev, void *ctx, union secl_scalar *out, size_t max)
{
	if (max)
		out[0].ip = *(const struct secl_ip *)((const char *)ev + (size_t)ctx);
	return 1;
}

static inline size_t test_get_args(const void *ev, void *ctx, union secl_scalar *out, size_t max)
{
	const struct test_event *e = ev;

	(void)ctx;
	for (size_t i = 0; i < e->n_args && i < max; i++)
		test_put_str(e->args[i], &out[i], 1);
	return e->n_args;
}

static inline size_t test_get_ancestors(const void *ev, void *ctx, union secl_scalar *out, size_t max)
{
	const struct test_event *e = ev;

	(void)ctx;
	for (size_t i = 0; i < e->n_ancestors && i < max; i++)
		test_put_str(e->ancestors[i], &out[i], 1);
	return e->n_ancestors;
}

#define TEST_OFF(member) ((void *)offsetof(struct test_event, member))

static const char *const test_event_names[TEV_COUNT] = { "open", "exec", "connect", "chmod" };

static const struct secl_field test_fields[] = {
	{ "open.file.path", SECL_STRING, TEV_OPEN, test_get_str, TEST_OFF(open_path) },
	{ "open.file.name", SECL_STRING, TEV_OPEN, test_get_basename, TEST_OFF(open_path) },
	{ "open.flags", SECL_INT, TEV_OPEN, test_get_int, TEST_OFF(open_flags) },
	{ "open.file.in_upper_layer", SECL_BOOL, TEV_OPEN, test_get_bool, TEST_OFF(open_in_upper) },
	{ "exec.file.path", SECL_STRING, TEV_EXEC, test_get_str, TEST_OFF(exec_path) },
	{ "exec.file.name", SECL_STRING, TEV_EXEC, test_get_basename, TEST_OFF(exec_path) },
	{ "connect.addr.ip", SECL_IP, TEV_CONNECT, test_get_ip, TEST_OFF(connect_ip) },
	{ "connect.addr.port", SECL_INT, TEV_CONNECT, test_get_int, TEST_OFF(connect_port) },
	{ "chmod.file.path", SECL_STRING, TEV_CHMOD, test_get_str, TEST_OFF(chmod_path) },
	{ "chmod.file.destination.mode", SECL_INT, TEV_CHMOD, test_get_int, TEST_OFF(chmod_mode) },
	{ "process.file.name", SECL_STRING, -1, test_get_str, TEST_OFF(proc_name) },
	{ "process.file.path", SECL_STRING, -1, test_get_str, TEST_OFF(proc_path) },
	{ "process.pid", SECL_INT, -1, test_get_int, TEST_OFF(pid) },
	{ "process.uid", SECL_INT, -1, test_get_int, TEST_OFF(uid) },
	{ "process.created_at", SECL_INT, -1, test_get_int, TEST_OFF(created_at) },
	{ "process.args", SECL_STRING, -1, test_get_args, NULL },
	{ "process.ancestors.file.name", SECL_STRING, -1, test_get_ancestors, NULL },
	{ "container.id", SECL_STRING, -1, test_get_str, TEST_OFF(container_id) },
};

static const struct secl_constant test_constants[] = {
	{ "O_RDONLY", 0 }, { "O_WRONLY", 1 }, { "O_RDWR", 2 }, { "O_CREAT", 64 },
	{ "O_TRUNC", 512 }, { "O_APPEND", 1024 }, { "S_IXUSR", 64 }, { "SIGKILL", 9 },
};

static const struct secl_schema test_schema = {
	.event_names = test_event_names,
	.n_events = TEV_COUNT,
	.fields = test_fields,
	.n_fields = sizeof(test_fields) / sizeof(test_fields[0]),
	.constants = test_constants,
	.n_constants = sizeof(test_constants) / sizeof(test_constants[0]),
};

#endif
