/* test_decode_syscall.c - the decoder on syscall records (struct
 * vigil_syscall): named fields come from the arguments the syscall table
 * says, paths are normalized only when built from arguments, and every
 * record whose lengths do not add up is rejected and counted. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>

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

TestSuite(decode_syscall, .init = setup, .fini = teardown);

/* The variable parts of a record, in the order data[] holds them. A NULL
 * part is absent; a part's length is strlen + 1 unless *_len says
 * otherwise (to build unterminated or raw parts). */
struct parts {
	const char *path, *path2, *str, *str2;
	size_t path_len, path2_len, str_len, str2_len;
	uint8_t source, source2;
};

static size_t part_len(const char *s, size_t len)
{
	if (!s)
		return 0;
	return len ? len : strlen(s) + 1;
}

/* Builds a syscall record for (type, nr) in buf; returns its size. */
static size_t make_syscall(void *buf, size_t cap, uint16_t type, uint32_t nr, int64_t retval,
			   const uint64_t args[6], const struct parts *p)
{
	struct vigil_syscall *k = buf;
	size_t l0 = part_len(p->path, p->path_len), l1 = part_len(p->path2, p->path2_len);
	size_t l2 = part_len(p->str, p->str_len), l3 = part_len(p->str2, p->str2_len);
	size_t size = sizeof(*k) + l0 + l1 + l2 + l3;
	char *out;

	cr_assert(size <= cap, "test buffer too small");
	memset(buf, 0, size);
	k->hdr.type = type;
	k->hdr.version = VIGIL_ABI_VERSION;
	k->hdr.size = (__u32)size;
	k->hdr.timestamp_ns = 987654321;
	k->proc.pid = 4242;
	k->proc.tid = 4243;
	k->proc.ppid = 1;
	k->proc.uid = 65534;
	k->proc.euid = 65534;
	memcpy(k->proc.comm, "tester", 7);
	k->retval = retval;
	k->nr = nr;
	if (args)
		memcpy(k->args, args, sizeof(k->args));
	k->file[0].path_len = (__u16)l0;
	k->file[0].source = p->source;
	k->file[1].path_len = (__u16)l1;
	k->file[1].source = p->source2;
	k->str_len = (__u16)l2;
	k->str2_len = (__u16)l3;
	out = k->data;
	if (l0)
		memcpy(out, p->path, l0);
	out += l0;
	if (l1)
		memcpy(out, p->path2, l1);
	out += l1;
	if (l2)
		memcpy(out, p->str, l2);
	out += l2;
	if (l3)
		memcpy(out, p->str2, l3);
	return size;
}

static char buf[2 * VIGIL_PATH_MAX + 4096] __attribute__((aligned(8)));

Test(decode_syscall, openat_from_file_keeps_the_walked_path)
{
	const uint64_t args[6] = { (uint64_t)-100, 0x1000, O_WRONLY | O_CREAT, 0640, 0, 0 };
	struct parts p = { .path = "/tmp/x/../y", .source = VIGIL_PATH_FROM_FILE };
	struct vigil_syscall *k = (struct vigil_syscall *)buf;
	struct event ev;
	size_t n = make_syscall(buf, sizeof(buf), VIGIL_EVENT_OPEN, SYS_openat, 3, args, &p);

	k->file[0].inode = 77;
	k->file[0].fs_magic = 0xef53;
	k->file[0].mode = 0100640;
	k->file[0].uid = 5;
	k->file[0].gid = 6;
	k->file[0].mount_id = 9;
	cr_assert_eq(decoder_decode(d, buf, n, &ev), DECODE_OK);
	cr_expect_eq(ev.type, EVENT_OPEN);
	cr_expect_eq(ev.timestamp_ns, 987654321);
	cr_expect_eq(ev.process.pid, 4242);
	cr_expect_eq(ev.process.tid, 4243);
	cr_expect_eq(ev.process.cred.uid, 65534);
	cr_expect_str_eq(ev.process.comm, "tester");
	cr_expect_eq(ev.syscall.nr, SYS_openat);
	cr_expect_str_eq(ev.syscall.name, "openat");
	cr_expect_eq(ev.syscall.retval, 3);
	cr_expect_eq(ev.syscall.flags, O_WRONLY | O_CREAT);
	cr_expect_eq(ev.syscall.mode, 0640);
	cr_expect(ev.syscall.present & SYSCALL_HAS_FLAGS);
	cr_expect(ev.syscall.present & SYSCALL_HAS_MODE);
	cr_expect_not(ev.syscall.present & SYSCALL_HAS_UID);
	/* A walked path is canonical: the decoder leaves it alone. */
	cr_expect_str_eq(ev.syscall.file.path, "/tmp/x/../y");
	cr_expect_eq(ev.syscall.file.source, PATH_FROM_FILE);
	cr_expect_eq(ev.syscall.file.inode, 77);
	cr_expect_eq(ev.syscall.file.fs_magic, 0xef53);
	cr_expect_eq(ev.syscall.file.mode, 0100640);
	cr_expect_eq(ev.syscall.file.uid, 5);
	cr_expect_eq(ev.syscall.file.gid, 6);
	cr_expect_eq(ev.syscall.file.mount_id, 9);
	cr_expect_null(ev.syscall.file2.path);
	cr_expect_null(ev.syscall.str);
}

Test(decode_syscall, argument_paths_are_normalized)
{
	struct parts p = { .path = "/work//dir/./sub/../file", .source = VIGIL_PATH_FROM_ARG };
	struct event ev;
	size_t n = make_syscall(buf, sizeof(buf), VIGIL_EVENT_UNLINK, SYS_unlink, -2, NULL, &p);

	cr_assert_eq(decoder_decode(d, buf, n, &ev), DECODE_OK);
	cr_expect_str_eq(ev.syscall.file.path, "/work/dir/file");
	cr_expect_eq(ev.syscall.file.source, PATH_FROM_ARG);
	cr_expect_eq(ev.syscall.retval, -2);
	cr_expect_str_eq(ev.syscall.name, "unlink");
}

Test(decode_syscall, rename_has_both_paths)
{
	const uint64_t args[6] = { 5, 0x1000, 6, 0x2000, 1 /* RENAME_NOREPLACE */, 0 };
	struct parts p = { .path = "/a/old", .path2 = "/b/./new", .source = VIGIL_PATH_FROM_ARG,
			   .source2 = VIGIL_PATH_FROM_ARG };
	struct event ev;
	size_t n = make_syscall(buf, sizeof(buf), VIGIL_EVENT_RENAME, SYS_renameat2, 0, args, &p);

	cr_assert_eq(decoder_decode(d, buf, n, &ev), DECODE_OK);
	cr_expect_str_eq(ev.syscall.file.path, "/a/old");
	cr_expect_str_eq(ev.syscall.file2.path, "/b/new");
	cr_expect_eq(ev.syscall.file2.source, PATH_FROM_ARG);
	cr_expect_eq(ev.syscall.flags, 1);
	cr_expect_str_eq(ev.syscall.name, "renameat2");
}

Test(decode_syscall, creat_implies_its_open_flags)
{
	const uint64_t args[6] = { 0x1000, 0600, 0, 0, 0, 0 };
	struct parts p = { .path = "/tmp/c", .source = VIGIL_PATH_FROM_FILE };
	struct event ev;
	size_t n = make_syscall(buf, sizeof(buf), VIGIL_EVENT_OPEN, SYS_creat, 4, args, &p);

	cr_assert_eq(decoder_decode(d, buf, n, &ev), DECODE_OK);
	cr_expect_eq(ev.syscall.flags, O_CREAT | O_WRONLY | O_TRUNC);
	cr_expect(ev.syscall.present & SYSCALL_HAS_FLAGS);
	cr_expect_eq(ev.syscall.mode, 0600);
}

Test(decode_syscall, chown_and_kill_fields)
{
	const uint64_t chown_args[6] = { 0x1000, 1000, (uint64_t)-1, 0, 0, 0 };
	const uint64_t kill_args[6] = { 777, 15, 0, 0, 0, 0 };
	struct parts p = { .path = "/etc/x", .source = VIGIL_PATH_FROM_ARG };
	struct parts none = { 0 };
	struct event ev;
	size_t n = make_syscall(buf, sizeof(buf), VIGIL_EVENT_CHOWN, SYS_chown, 0, chown_args, &p);

	cr_assert_eq(decoder_decode(d, buf, n, &ev), DECODE_OK);
	cr_expect_eq(ev.syscall.uid, 1000);
	cr_expect_eq(ev.syscall.gid, UINT32_MAX);
	cr_expect(ev.syscall.present & SYSCALL_HAS_UID);
	cr_expect(ev.syscall.present & SYSCALL_HAS_GID);

	n = make_syscall(buf, sizeof(buf), VIGIL_EVENT_SIGNAL, SYS_kill, 0, kill_args, &none);
	cr_assert_eq(decoder_decode(d, buf, n, &ev), DECODE_OK);
	cr_expect_eq(ev.syscall.pid, 777);
	cr_expect_eq(ev.syscall.op, 15);
	cr_expect(ev.syscall.present & SYSCALL_HAS_PID);
	cr_expect(ev.syscall.present & SYSCALL_HAS_OP);
	cr_expect_null(ev.syscall.file.path);
	cr_expect_eq(ev.syscall.file.source, PATH_SOURCE_NONE);
}

/* The kernel side reads struct rlimit into args[4] and args[5]. */
Test(decode_syscall, rlimits_come_from_args_4_and_5)
{
	const uint64_t args[6] = { 999, RLIMIT_NOFILE, 0x1000, 0, 64, 128 };
	struct parts none = { 0 };
	struct event ev;
	size_t n = make_syscall(buf, sizeof(buf), VIGIL_EVENT_SETRLIMIT, SYS_prlimit64, 0, args, &none);

	cr_assert_eq(decoder_decode(d, buf, n, &ev), DECODE_OK);
	cr_expect_eq(ev.syscall.op, RLIMIT_NOFILE);
	cr_expect_eq(ev.syscall.pid, 999);
	cr_expect_eq(ev.syscall.rlim_cur, 64);
	cr_expect_eq(ev.syscall.rlim_max, 128);
}

Test(decode_syscall, mount_has_two_strings)
{
	const uint64_t args[6] = { 0x1000, 0x2000, 0x3000, 2 /* MS_NOSUID */, 0, 0 };
	struct parts p = { .path = "/mnt/x/", .source = VIGIL_PATH_FROM_ARG, .str = "none", .str2 = "tmpfs" };
	struct event ev;
	size_t n = make_syscall(buf, sizeof(buf), VIGIL_EVENT_MOUNT, SYS_mount, 0, args, &p);

	cr_assert_eq(decoder_decode(d, buf, n, &ev), DECODE_OK);
	cr_expect_str_eq(ev.syscall.file.path, "/mnt/x");
	cr_expect_str_eq(ev.syscall.str, "none");
	cr_expect_str_eq(ev.syscall.str2, "tmpfs");
	cr_expect_eq(ev.syscall.flags, 2);
}

Test(decode_syscall, network_addresses)
{
	struct vigil_syscall *k = (struct vigil_syscall *)buf;
	struct parts none = { 0 }, unix_path = { .str = "@vigil-abstract" };
	struct event ev;
	size_t n = make_syscall(buf, sizeof(buf), VIGIL_EVENT_CONNECT, SYS_connect, 0, NULL, &none);

	k->addr.family = 2;
	k->addr.port = 8080;
	memcpy(k->addr.ip, "\x7f\x00\x00\x01", 4);
	cr_assert_eq(decoder_decode(d, buf, n, &ev), DECODE_OK);
	cr_expect_eq(ev.syscall.addr.family, 2);
	cr_expect_eq(ev.syscall.addr.port, 8080);
	cr_expect_eq(memcmp(ev.syscall.addr.ip, "\x7f\x00\x00\x01", 4), 0);
	cr_expect_null(ev.syscall.addr.unix_path);

	n = make_syscall(buf, sizeof(buf), VIGIL_EVENT_BIND, SYS_bind, 0, NULL, &unix_path);
	k->addr.family = 1;
	cr_assert_eq(decoder_decode(d, buf, n, &ev), DECODE_OK);
	cr_expect_str_eq(ev.syscall.addr.unix_path, "@vigil-abstract");
	cr_expect_eq(ev.syscall.addr.port, 0);
}

/* A string the kernel cut mid-way gets a terminator in the decoder's
 * copy; the record itself is not touched. */
Test(decode_syscall, unterminated_string_gets_a_terminator)
{
	struct parts p = { .str = "memfd-name", .str_len = 5 };
	struct event ev;
	size_t n = make_syscall(buf, sizeof(buf), VIGIL_EVENT_MEMFD_CREATE, SYS_memfd_create, 3, NULL, &p);

	cr_assert_eq(decoder_decode(d, buf, n, &ev), DECODE_OK);
	cr_expect_str_eq(ev.syscall.str, "memfd");
	cr_expect_eq(ev.syscall.str_len, 5);
	/* The record's last byte is still 'd', not a NUL written over it. */
	cr_expect_eq(((struct vigil_syscall *)buf)->data[4], 'd');
	cr_expect_neq(ev.syscall.str, ((struct vigil_syscall *)buf)->data);
}

/* bpf(2)'s attr is captured as 64 raw bytes that may hold NULs anywhere:
 * the length must survive. */
Test(decode_syscall, raw_bpf_attr_keeps_its_length)
{
	char attr[64] = { 0 };
	const uint64_t args[6] = { 0 /* BPF_MAP_CREATE */, 0x1000, 72, 0, 0, 0 };
	struct parts p = { .str = attr, .str_len = sizeof(attr) };
	struct event ev;
	size_t n;

	attr[0] = 2; /* BPF_MAP_TYPE_ARRAY */
	memcpy(attr + 28, "vigil_map", 9);
	attr[63] = 'z'; /* not a string: no final NUL */
	n = make_syscall(buf, sizeof(buf), VIGIL_EVENT_BPF, SYS_bpf, 5, args, &p);
	cr_assert_eq(decoder_decode(d, buf, n, &ev), DECODE_OK);
	cr_assert_eq(ev.syscall.str_len, 64);
	cr_expect_eq(ev.syscall.str[0], 2);
	cr_expect_str_eq(ev.syscall.str + 28, "vigil_map");
	cr_expect_eq(ev.syscall.str[63], 'z');
	cr_expect_eq(ev.syscall.op, 0);
}

/* Raw bytes longer than any string buffer must not come with a length
 * that reaches past what str points at. */
Test(decode_syscall, raw_string_length_never_exceeds_its_buffer)
{
	static char raw[VIGIL_STR_MAX + 100];
	struct parts p = { .str = raw, .str_len = sizeof(raw) };
	struct event ev;
	size_t n;
	const char *rec = buf;

	memset(raw, 'A', sizeof(raw));
	n = make_syscall(buf, sizeof(buf), VIGIL_EVENT_BPF, SYS_bpf, 0, NULL, &p);
	if (decoder_decode(d, buf, n, &ev) != DECODE_OK)
		return; /* rejecting it is fine too */
	cr_assert(ev.syscall.str);
	if (ev.syscall.str >= rec && ev.syscall.str < rec + n)
		cr_expect_leq(ev.syscall.str + ev.syscall.str_len, rec + n);
	else
		cr_expect_leq(ev.syscall.str_len, VIGIL_STR_MAX + 1,
			      "str_len %zu for a %d-byte copy", ev.syscall.str_len, VIGIL_STR_MAX + 1);
}

Test(decode_syscall, ring_buffer_padding_is_ignored)
{
	struct parts p = { .path = "/p", .source = VIGIL_PATH_FROM_ARG };
	struct event ev;
	size_t n = make_syscall(buf, sizeof(buf), VIGIL_EVENT_RMDIR, SYS_rmdir, 0, NULL, &p);

	cr_assert_eq(decoder_decode(d, buf, (n + 7) & ~(size_t)7, &ev), DECODE_OK);
	cr_expect_str_eq(ev.syscall.file.path, "/p");
}

Test(decode_syscall, malformed_records_are_counted_and_rejected)
{
	struct vigil_syscall *k = (struct vigil_syscall *)buf;
	struct parts p = { .path = "/a", .path2 = "/b", .str = "s", .str2 = "t",
			   .source = VIGIL_PATH_FROM_ARG, .source2 = VIGIL_PATH_FROM_ARG };
	struct event ev;
	size_t n;
	unsigned shorts = 0, sizes = 0, lengths = 0, types = 0, versions = 0;

#define REBUILD() (n = make_syscall(buf, sizeof(buf), VIGIL_EVENT_RENAME, SYS_rename, 0, NULL, &p))
	REBUILD();
	cr_assert_eq(decoder_decode(d, buf, n, &ev), DECODE_OK, "the base record must be valid");

	/* Shorter than the fixed part, header and length agreeing. */
	REBUILD();
	k->hdr.size = sizeof(*k) - 1;
	cr_expect_eq(decoder_decode(d, buf, sizeof(*k) - 1, &ev), DECODE_SHORT);
	shorts++;
	k->hdr.size = sizeof(struct vigil_header) + 8;
	cr_expect_eq(decoder_decode(d, buf, sizeof(struct vigil_header) + 8, &ev), DECODE_SHORT);
	shorts++;

	/* Header size larger than the bytes, or smaller than a header. */
	REBUILD();
	k->hdr.size = (__u32)n + 1;
	cr_expect_eq(decoder_decode(d, buf, n, &ev), DECODE_BAD_SIZE);
	sizes++;
	k->hdr.size = 4;
	cr_expect_eq(decoder_decode(d, buf, n, &ev), DECODE_BAD_SIZE);
	sizes++;

	/* Each variable length overrunning the record on its own. */
	REBUILD();
	k->file[0].path_len = (__u16)(n - sizeof(*k) + 1);
	cr_expect_eq(decoder_decode(d, buf, n, &ev), DECODE_BAD_LENGTHS);
	lengths++;
	REBUILD();
	k->file[1].path_len = 60000;
	cr_expect_eq(decoder_decode(d, buf, n, &ev), DECODE_BAD_LENGTHS);
	lengths++;
	REBUILD();
	k->str_len = 9;
	cr_expect_eq(decoder_decode(d, buf, n, &ev), DECODE_BAD_LENGTHS);
	lengths++;
	REBUILD();
	k->str2_len = 0xffff;
	cr_expect_eq(decoder_decode(d, buf, n, &ev), DECODE_BAD_LENGTHS);
	lengths++;
	/* Each fits alone, together they do not. */
	REBUILD();
	k->file[0].path_len = (__u16)(n - sizeof(*k));
	k->str_len = 2;
	cr_expect_eq(decoder_decode(d, buf, n, &ev), DECODE_BAD_LENGTHS);
	lengths++;
	/* A header that cuts the record short of its own lengths. */
	REBUILD();
	k->hdr.size = (__u32)n - 1;
	cr_expect_eq(decoder_decode(d, buf, n, &ev), DECODE_BAD_LENGTHS);
	lengths++;

	/* A syscall Vigil does not trace, or a number of another type. */
	REBUILD();
	k->nr = SYS_getpid;
	cr_expect_eq(decoder_decode(d, buf, n, &ev), DECODE_BAD_TYPE);
	types++;
	REBUILD();
	k->nr = 100000;
	cr_expect_eq(decoder_decode(d, buf, n, &ev), DECODE_BAD_TYPE);
	types++;
	REBUILD();
	k->nr = SYS_openat;
	cr_expect_eq(decoder_decode(d, buf, n, &ev), DECODE_BAD_TYPE);
	types++;
	REBUILD();
	k->hdr.type = VIGIL_EVENT_TYPE_MAX;
	cr_expect_eq(decoder_decode(d, buf, n, &ev), DECODE_BAD_TYPE);
	types++;
	REBUILD();
	k->hdr.type = 0;
	cr_expect_eq(decoder_decode(d, buf, n, &ev), DECODE_BAD_TYPE);
	types++;

	REBUILD();
	k->hdr.version = VIGIL_ABI_VERSION + 1;
	cr_expect_eq(decoder_decode(d, buf, n, &ev), DECODE_BAD_VERSION);
	versions++;
#undef REBUILD

	cr_expect_eq(decoder_errors(d, DECODE_SHORT), shorts);
	cr_expect_eq(decoder_errors(d, DECODE_BAD_SIZE), sizes);
	cr_expect_eq(decoder_errors(d, DECODE_BAD_LENGTHS), lengths);
	cr_expect_eq(decoder_errors(d, DECODE_BAD_TYPE), types);
	cr_expect_eq(decoder_errors(d, DECODE_BAD_VERSION), versions);
	cr_expect_eq(decoder_errors(d, DECODE_OK), 0, "successes are not errors");
	/* A rejected record leaves nothing behind. */
	cr_expect_eq(ev.type, EVENT_UNKNOWN);
	cr_expect_null(ev.syscall.file.path);
}

/* Every traced syscall number decodes with its own name and type. */
Test(decode_syscall, every_table_entry_decodes)
{
	static const uint32_t nrs[] = { SYS_open, SYS_openat2, SYS_mkdirat, SYS_unlinkat, SYS_linkat,
					SYS_symlinkat, SYS_fchmodat, SYS_fchownat, SYS_utimensat,
					SYS_ftruncate, SYS_fsetxattr, SYS_fremovexattr, SYS_fchdir,
					SYS_setresuid, SYS_setfsgid, SYS_capset, SYS_ptrace, SYS_tgkill,
					SYS_prctl, SYS_setrlimit, SYS_finit_module, SYS_delete_module,
					SYS_umount2, SYS_mmap, SYS_mprotect, SYS_unshare, SYS_setns,
					SYS_accept4, SYS_listen };
	static const uint16_t types[] = { VIGIL_EVENT_OPEN, VIGIL_EVENT_OPEN, VIGIL_EVENT_MKDIR,
					  VIGIL_EVENT_UNLINK, VIGIL_EVENT_LINK, VIGIL_EVENT_SYMLINK,
					  VIGIL_EVENT_CHMOD, VIGIL_EVENT_CHOWN, VIGIL_EVENT_UTIMES,
					  VIGIL_EVENT_TRUNCATE, VIGIL_EVENT_SETXATTR,
					  VIGIL_EVENT_REMOVEXATTR, VIGIL_EVENT_CHDIR, VIGIL_EVENT_SETUID,
					  VIGIL_EVENT_SETGID, VIGIL_EVENT_CAPSET, VIGIL_EVENT_PTRACE,
					  VIGIL_EVENT_SIGNAL, VIGIL_EVENT_PRCTL, VIGIL_EVENT_SETRLIMIT,
					  VIGIL_EVENT_LOAD_MODULE, VIGIL_EVENT_UNLOAD_MODULE,
					  VIGIL_EVENT_UMOUNT, VIGIL_EVENT_MMAP, VIGIL_EVENT_MPROTECT,
					  VIGIL_EVENT_UNSHARE, VIGIL_EVENT_SETNS, VIGIL_EVENT_ACCEPT,
					  VIGIL_EVENT_LISTEN };
	static const char *const names[] = { "open", "openat2", "mkdirat", "unlinkat", "linkat",
					     "symlinkat", "fchmodat", "fchownat", "utimensat",
					     "ftruncate", "fsetxattr", "fremovexattr", "fchdir",
					     "setresuid", "setfsgid", "capset", "ptrace", "tgkill",
					     "prctl", "setrlimit", "finit_module", "delete_module",
					     "umount2", "mmap", "mprotect", "unshare", "setns",
					     "accept4", "listen" };
	struct parts none = { 0 };
	struct event ev;

	cr_assert_eq(sizeof(nrs) / sizeof(nrs[0]), sizeof(types) / sizeof(types[0]));
	cr_assert_eq(sizeof(nrs) / sizeof(nrs[0]), sizeof(names) / sizeof(names[0]));
	for (size_t i = 0; i < sizeof(nrs) / sizeof(nrs[0]); i++) {
		size_t n = make_syscall(buf, sizeof(buf), types[i], nrs[i], 0, NULL, &none);

		cr_assert_eq(decoder_decode(d, buf, n, &ev), DECODE_OK, "nr %u", nrs[i]);
		cr_expect_eq(ev.type, (enum event_type)types[i]);
		cr_expect_str_eq(ev.syscall.name, names[i]);
		cr_expect_eq(ev.syscall.nr, nrs[i]);
	}
}

/* Random syscall records: never a crash, and the strings of an accepted
 * record lie inside it or inside the decoder's own copies. */
Test(decode_syscall, random_records_never_crash)
{
	static char rnd[1024] __attribute__((aligned(8)));
	struct vigil_syscall *k = (struct vigil_syscall *)rnd;
	const uint32_t nrs[] = { SYS_openat, SYS_rename, SYS_mount, SYS_connect, SYS_bpf, SYS_kill };
	const uint16_t types[] = { VIGIL_EVENT_OPEN, VIGIL_EVENT_RENAME, VIGIL_EVENT_MOUNT,
				   VIGIL_EVENT_CONNECT, VIGIL_EVENT_BPF, VIGIL_EVENT_SIGNAL };
	struct event ev;
	unsigned accepted = 0;

	srand(4321);
	for (int i = 0; i < 20000; i++) {
		size_t n = sizeof(*k) + (size_t)(rand() % (int)(sizeof(rnd) - sizeof(*k)));
		int t = rand() % 6;

		for (size_t j = 0; j < n; j++)
			rnd[j] = (char)rand();
		k->hdr.version = VIGIL_ABI_VERSION;
		k->hdr.type = types[t];
		k->hdr.size = (__u32)n;
		k->nr = nrs[t];
		/* Small lengths half the time, so some records are accepted. */
		if (i % 2) {
			k->file[0].path_len = (__u16)(rand() % 64);
			k->file[1].path_len = (__u16)(rand() % 64);
			k->str_len = (__u16)(rand() % 64);
			k->str2_len = (__u16)(rand() % 64);
		}
		if (decoder_decode(d, rnd, n, &ev) != DECODE_OK)
			continue;
		accepted++;
		if (ev.syscall.file.path)
			cr_assert_lt(strlen(ev.syscall.file.path), 2 * VIGIL_PATH_MAX + 1);
		if (ev.syscall.file2.path)
			cr_assert_lt(strlen(ev.syscall.file2.path), 2 * VIGIL_PATH_MAX + 1);
		if (ev.syscall.str)
			cr_assert_leq(strlen(ev.syscall.str), n);
		if (ev.syscall.str2)
			cr_assert_leq(strlen(ev.syscall.str2), n);
	}
	cr_expect_gt(accepted, 1000, "the generator should make valid records too");
}

/* ---- path_normalize --------------------------------------------------- */

static void expect_normalized(const char *in, const char *want)
{
	char path[256];

	snprintf(path, sizeof(path), "%s", in);
	path_normalize(path);
	cr_expect_str_eq(path, want, "path_normalize(\"%s\")", in);
}

Test(path_normalize, dots_and_slashes)
{
	expect_normalized("/", "/");
	expect_normalized("/a/b/c", "/a/b/c");
	expect_normalized("/a/./b/.", "/a/b");
	expect_normalized("//a///b//", "/a/b");
	expect_normalized("/a/b/../c", "/a/c");
	expect_normalized("/a/b/..", "/a");
	expect_normalized("/a/..", "/");
	expect_normalized("/tmp/d/../lnk/./file", "/tmp/lnk/file");
}

Test(path_normalize, never_climbs_above_the_root)
{
	expect_normalized("/..", "/");
	expect_normalized("/../../x", "/x");
	expect_normalized("/a/../../../b/..", "/");
}

Test(path_normalize, names_that_only_look_like_dots)
{
	expect_normalized("/...", "/...");
	expect_normalized("/a/..b/.c", "/a/..b/.c");
	expect_normalized("/a/b../c.", "/a/b../c.");
	expect_normalized("/ab/cd/../ef", "/ab/ef");
}

Test(path_normalize, relative_paths_are_left_alone)
{
	expect_normalized("a/../b", "a/../b");
	expect_normalized("", "");
	expect_normalized("./x", "./x");
}
