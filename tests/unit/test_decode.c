/* test_decode.c - the decoder accepts well-formed records and rejects,
 * counts and survives every malformed one. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "../bpf/vigil_abi.h"
#include "decode.h"

static struct decoder *d;

static void setup(void)
{
	d = decoder_new();
	cr_assert(d);
}

static void teardown(void)
{
	decoder_free(d);
}

TestSuite(decode, .init = setup, .fini = teardown);

/* Builds an exec record with the given variable parts; returns its size. */
static size_t make_exec(char *buf, size_t cap, const char *path, const char *args, size_t args_len,
			const char *filename)
{
	struct vigil_exec *e = (struct vigil_exec *)buf;
	size_t plen = strlen(path) + 1, flen = filename ? strlen(filename) + 1 : 0;
	size_t size = sizeof(*e) + plen + args_len + flen;

	cr_assert(size <= cap);
	memset(buf, 0, size);
	e->hdr.type = VIGIL_EVENT_EXEC;
	e->hdr.version = VIGIL_ABI_VERSION;
	e->hdr.size = (__u32)size;
	e->hdr.timestamp_ns = 123456789;
	e->proc.pid = 42;
	e->proc.tid = 42;
	e->proc.ppid = 1;
	e->proc.uid = 1000;
	e->proc.euid = 0;
	e->proc.cap_effective = 1ull << 21;
	e->proc.cgroup_id = 777;
	e->proc.start_ns = 5000;
	memcpy(e->proc.comm, "bash", 5);
	e->inode = 99;
	e->mount_id = 7;
	e->path_len = (__u16)plen;
	e->args_len = (__u16)args_len;
	e->filename_len = (__u16)flen;
	memcpy(e->data, path, plen);
	memcpy(e->data + plen, args, args_len);
	if (filename)
		memcpy(e->data + plen + args_len, filename, flen);
	return size;
}

Test(decode, exec_record)
{
	char buf[1024];
	struct event ev;
	size_t n = make_exec(buf, sizeof(buf), "/usr/bin/ls", "ls\0-l\0/tmp", 11, "/bin/ls");

	cr_assert_eq(decoder_decode(d, buf, n, &ev), DECODE_OK);
	cr_expect_eq(ev.type, EVENT_EXEC);
	cr_expect_eq(ev.timestamp_ns, 123456789);
	cr_expect_eq(ev.process.pid, 42);
	cr_expect_eq(ev.process.cred.uid, 1000);
	cr_expect_eq(ev.process.cred.euid, 0);
	cr_expect_eq(ev.process.cred.cap_effective, 1ull << 21);
	cr_expect_eq(ev.process.cgroup_id, 777);
	cr_expect_str_eq(ev.process.comm, "bash");
	cr_expect_str_eq(ev.process.path, "/usr/bin/ls");
	cr_expect_eq(ev.process.inode, 99);
	cr_expect_eq(ev.process.argc, 3);
	cr_expect_eq(ev.process.args_len, 11);
	cr_expect_eq(memcmp(ev.process.args, "ls\0-l\0/tmp", 11), 0);
	cr_expect_str_eq(ev.exec.syscall_path, "/bin/ls");
	cr_expect_not(ev.process.args_truncated);
}

Test(decode, truncated_args_get_a_terminator_and_keep_the_flag)
{
	char buf[1024];
	struct event ev;
	size_t n = make_exec(buf, sizeof(buf), "/bin/x", "x\0abc", 5, NULL);

	((struct vigil_exec *)buf)->flags = VIGIL_F_ARGS_TRUNCATED;
	cr_assert_eq(decoder_decode(d, buf, n, &ev), DECODE_OK);
	cr_expect(ev.process.args_truncated);
	cr_expect_eq(ev.process.argc, 2);
	cr_expect_str_eq(ev.process.args + 2, "abc");
	cr_expect_null(ev.exec.syscall_path);
}

Test(decode, ring_buffer_padding_is_ignored)
{
	char buf[1024];
	struct event ev;
	size_t n = make_exec(buf, sizeof(buf), "/bin/x", "x", 2, NULL);

	/* The ring buffer hands out lengths rounded up to 8 bytes. */
	cr_assert_eq(decoder_decode(d, buf, (n + 7) & ~7ul, &ev), DECODE_OK);
}

Test(decode, fork_and_exit_records)
{
	struct vigil_fork f;
	struct vigil_exit x;
	struct event ev;

	memset(&f, 0, sizeof(f));
	f.hdr = (struct vigil_header){ VIGIL_EVENT_FORK, VIGIL_ABI_VERSION, sizeof(f), 1 };
	f.proc.pid = 10;
	f.proc.tid = 11;
	f.flags = VIGIL_F_THREAD;
	cr_assert_eq(decoder_decode(d, &f, sizeof(f), &ev), DECODE_OK);
	cr_expect_eq(ev.type, EVENT_FORK);
	cr_expect(ev.process.is_thread);
	cr_expect_eq(ev.process.tid, 11);

	memset(&x, 0, sizeof(x));
	x.hdr = (struct vigil_header){ VIGIL_EVENT_EXIT, VIGIL_ABI_VERSION, sizeof(x), 2 };
	x.exit_code = 3 << 8;
	cr_assert_eq(decoder_decode(d, &x, sizeof(x), &ev), DECODE_OK);
	cr_expect_eq(ev.exit.cause, EXIT_EXITED);
	cr_expect_eq(ev.exit.code, 3);

	x.exit_code = 9;
	cr_assert_eq(decoder_decode(d, &x, sizeof(x), &ev), DECODE_OK);
	cr_expect_eq(ev.exit.cause, EXIT_SIGNALED);
	cr_expect_eq(ev.exit.code, 9);

	x.exit_code = 0x80 | 11;
	cr_assert_eq(decoder_decode(d, &x, sizeof(x), &ev), DECODE_OK);
	cr_expect_eq(ev.exit.cause, EXIT_COREDUMPED);
	cr_expect_eq(ev.exit.code, 11);
}

Test(decode, malformed_records_are_counted_and_rejected)
{
	char buf[1024] = { 0 };
	struct vigil_exec *e = (struct vigil_exec *)buf;
	struct event ev;
	size_t n;

	cr_expect_eq(decoder_decode(d, buf, 4, &ev), DECODE_SHORT);

	n = make_exec(buf, sizeof(buf), "/bin/x", "x", 2, NULL);
	e->hdr.size = (__u32)n + 100; /* claims more than it has */
	cr_expect_eq(decoder_decode(d, buf, n, &ev), DECODE_BAD_SIZE);

	n = make_exec(buf, sizeof(buf), "/bin/x", "x", 2, NULL);
	e->hdr.version = 99;
	cr_expect_eq(decoder_decode(d, buf, n, &ev), DECODE_BAD_VERSION);

	n = make_exec(buf, sizeof(buf), "/bin/x", "x", 2, NULL);
	e->hdr.type = 200;
	cr_expect_eq(decoder_decode(d, buf, n, &ev), DECODE_BAD_TYPE);

	n = make_exec(buf, sizeof(buf), "/bin/x", "x", 2, NULL);
	e->args_len = 60000; /* overruns the record */
	cr_expect_eq(decoder_decode(d, buf, n, &ev), DECODE_BAD_LENGTHS);

	n = make_exec(buf, sizeof(buf), "/bin/x", "x", 2, NULL);
	e->data[e->path_len - 1] = 'x'; /* path without its NUL */
	cr_expect_eq(decoder_decode(d, buf, n, &ev), DECODE_BAD_LENGTHS);

	n = make_exec(buf, sizeof(buf), "/bin/x", "x", 2, NULL);
	e->path_len = 0;
	cr_expect_eq(decoder_decode(d, buf, n, &ev), DECODE_BAD_LENGTHS);

	/* A fork record cut short. */
	e->hdr = (struct vigil_header){ VIGIL_EVENT_FORK, VIGIL_ABI_VERSION, 24, 0 };
	cr_expect_eq(decoder_decode(d, buf, 24, &ev), DECODE_SHORT);

	cr_expect_eq(decoder_errors(d, DECODE_SHORT), 2);
	cr_expect_eq(decoder_errors(d, DECODE_BAD_SIZE), 1);
	cr_expect_eq(decoder_errors(d, DECODE_BAD_VERSION), 1);
	cr_expect_eq(decoder_errors(d, DECODE_BAD_TYPE), 1);
	cr_expect_eq(decoder_errors(d, DECODE_BAD_LENGTHS), 3);
	/* A rejected record leaves nothing behind in the event. */
	cr_expect_eq(ev.type, EVENT_UNKNOWN);
}

/* Random bytes, thousands of times: never a crash, never an accepted
 * record whose strings point outside it. */
Test(decode, random_records_never_crash)
{
	char buf[512];
	struct event ev;

	srand(1234);
	for (int i = 0; i < 20000; i++) {
		size_t n = (size_t)(rand() % (int)sizeof(buf));
		struct vigil_header *h = (struct vigil_header *)buf;

		for (size_t j = 0; j < n; j++)
			buf[j] = (char)rand();
		if (n >= sizeof(*h) && i % 2) { /* make the header plausible half the time */
			h->version = VIGIL_ABI_VERSION;
			h->type = (__u16)(1 + rand() % 3);
			h->size = (__u32)n;
		}
		if (decoder_decode(d, buf, n, &ev) == DECODE_OK && ev.process.path) {
			cr_assert(ev.process.path >= buf && ev.process.path < buf + n);
			cr_assert(strlen(ev.process.path) < n);
		}
	}
}
