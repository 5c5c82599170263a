/* test_proc_snapshot.c - unit tests for the /proc snapshot
 * (sensor/proc_snapshot.c): the parsers on strings, a walk of the fake /proc
 * in tests/fixtures/proc, and a read of this test's own process in /proc. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../sensor/proc_snapshot.h"

/* ---- parsers ---- */

static const char stat_line[] =
	"200 ((a) b)) S 100 200 200 34816 -1 4194304 100 0 0 0 3 2 0 0 20 0 1 0 2500 "
	"10485760 300 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0\n";

Test(proc_parse, stat_comm_with_parens_and_spaces)
{
	struct process p = { 0 };
	struct proc_stat_info info;

	cr_assert_eq(proc_parse_stat(stat_line, strlen(stat_line), &p, &info), 0);
	cr_assert_eq(p.pid, 200);
	cr_assert_eq(p.tid, 200);
	cr_assert_str_eq(p.comm, "(a) b)");
	cr_assert_eq(p.ppid, 100);
	cr_assert_eq(p.tty_nr, 34816);
	cr_assert_eq(info.state, 'S');
	cr_assert_eq(info.flags, 4194304);
	cr_assert_eq(info.start_ticks, 2500);
	cr_assert_eq(p.start_ns, 2500 * (1000000000ull / (uint64_t)sysconf(_SC_CLK_TCK)));
}

Test(proc_parse, stat_long_comm_is_cut)
{
	const char *s = "3 (kworker/0:0-events_power_efficient) I 2 0 0 0 -1 69238880 0 0 0 0 0 0 0 0 "
			"20 0 1 0 7 0 0 18446744073709551615\n";
	struct process p = { 0 };
	struct proc_stat_info info;

	cr_assert_eq(proc_parse_stat(s, strlen(s), &p, &info), 0);
	cr_assert_str_eq(p.comm, "kworker/0:0-eve");
	cr_assert(info.flags & PROC_PF_KTHREAD);
	cr_assert_eq(p.ppid, 2);
}

Test(proc_parse, stat_malformed)
{
	const char *bad[] = {
		"",
		"abc",
		"12 (x S 1 2 3 4 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5",      /* no ')' */
		"12 x) S 1 2 3 4 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5",       /* no '(' */
		"12 (x) S",                                              /* too few fields */
		"12 (x) S 1 2 3 4 -1 0 0 0 0 0 0 0 0 0 20 0 1 0",        /* starttime missing */
		"12 (x) S one 2 3 4 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5",    /* ppid not a number */
		"12 (x) S 1 2 3 4 -1 0x10 0 0 0 0 0 0 0 0 20 0 1 0 5",   /* junk in flags */
		"0 (x) S 1 2 3 4 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5",       /* pid 0 */
		"12 (x) S 99999999999 2 3 4 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5", /* ppid overflows */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct process p = { 0 };

		p.ppid = 4242;
		cr_assert_eq(proc_parse_stat(bad[i], strlen(bad[i]), &p, NULL), -EINVAL,
			     "accepted: %s", bad[i]);
		cr_assert_eq(p.ppid, 4242, "a failed parse must not change the process");
		cr_assert_eq(p.pid, 0);
	}
}

Test(proc_parse, stat_respects_len)
{
	struct process p = { 0 };
	/* Cut the good line inside starttime's predecessor: len, not NUL, ends it. */
	size_t cut = (size_t)(strstr(stat_line, " 2500") - stat_line);

	cr_assert_eq(proc_parse_stat(stat_line, cut, &p, NULL), -EINVAL);
	cr_assert_eq(proc_parse_stat(stat_line, cut + 5, &p, NULL), 0);
}

static const char status_text[] =
	"Name:\tbash\n"
	"Umask:\t0022\n"
	"State:\tS (sleeping)\n"
	"Tgid:\t4321\n"
	"Pid:\t4321\n"
	"PPid:\t4000\n"
	"Uid:\t1000\t1001\t1002\t1003\n"
	"Gid:\t100\t101\t102\t103\n"
	"NSpid:\t4321\t7\n"
	"CapPrm:\t0000000000003000\n"
	"CapEff:\t000001ffffffffff\n";

Test(proc_parse, status_full)
{
	struct process p = { 0 };
	uint32_t nspid = 0;

	cr_assert_eq(proc_parse_status(status_text, strlen(status_text), &p), 0);
	cr_assert_eq(p.pid, 4321);
	cr_assert_eq(p.ppid, 4000);
	cr_assert_eq(p.cred.uid, 1000);
	cr_assert_eq(p.cred.euid, 1001);
	cr_assert_eq(p.cred.fsuid, 1003);
	cr_assert_eq(p.cred.gid, 100);
	cr_assert_eq(p.cred.egid, 101);
	cr_assert_eq(p.cred.fsgid, 103);
	cr_assert_eq(p.cred.cap_permitted, 0x3000);
	cr_assert_eq(p.cred.cap_effective, 0x1ffffffffffull);
	cr_assert_eq(proc_parse_nspid(status_text, strlen(status_text), &nspid), 0);
	cr_assert_eq(nspid, 7);
}

Test(proc_parse, status_missing_optional_fields_keeps_values)
{
	const char *s = "Name:\tx\nUid:\t5\t5\t5\t5\nGid:\t6\t6\t6\t6\n";
	struct process p = { 0 };
	uint32_t nspid = 0;

	p.ppid = 77;
	p.cred.cap_effective = 0xabc;
	cr_assert_eq(proc_parse_status(s, strlen(s), &p), 0);
	cr_assert_eq(p.cred.uid, 5);
	cr_assert_eq(p.cred.gid, 6);
	cr_assert_eq(p.ppid, 77);
	cr_assert_eq(p.cred.cap_effective, 0xabc);
	cr_assert_eq(proc_parse_nspid(s, strlen(s), &nspid), -EINVAL);
}

Test(proc_parse, status_missing_or_bad_ids_is_an_error)
{
	const char *bad[] = {
		"Name:\tx\nGid:\t6\t6\t6\t6\n",                 /* no Uid */
		"Name:\tx\nUid:\t5\t5\t5\t5\n",                 /* no Gid */
		"Uid:\t5\t5\t5\nGid:\t6\t6\t6\t6\n",            /* three uids */
		"Uid:\t5\t5\tx\t5\nGid:\t6\t6\t6\t6\n",         /* not a number */
		"Uid:\t5\t5\t5\t5\nGid:\t6\t6\t6\t6\nCapEff:\tzz\n", /* bad hex */
		"Uid:\t5\t5\t5\t5\nGid:\t6\t6\t6\t6\nPPid:\t12abc\n", /* junk after number */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct process p = { 0 };

		p.cred.uid = 4242;
		cr_assert_eq(proc_parse_status(bad[i], strlen(bad[i]), &p), -EINVAL,
			     "accepted: %s", bad[i]);
		cr_assert_eq(p.cred.uid, 4242, "a failed parse must not change the process");
	}
}

Test(proc_parse, cmdline_normal)
{
	char out[PROC_ARGS_MAX];
	struct process p = { 0 };

	cr_assert_eq(proc_parse_cmdline("ls\0-l\0/tmp\0", 11, out, sizeof(out), &p), 0);
	cr_assert_eq(p.args, out);
	cr_assert_eq(p.args_len, 11);
	cr_assert_eq(p.argc, 3);
	cr_assert_not(p.args_truncated);
	cr_assert_str_eq(p.args + 6, "/tmp");
}

Test(proc_parse, cmdline_without_trailing_nul)
{
	char out[PROC_ARGS_MAX];
	struct process p = { 0 };
	const char *s = "nginx: master process /usr/sbin/nginx";

	cr_assert_eq(proc_parse_cmdline(s, strlen(s), out, sizeof(out), &p), 0);
	cr_assert_eq(p.args_len, strlen(s) + 1);
	cr_assert_eq(p.argc, 1);
	cr_assert_str_eq(p.args, s);
	cr_assert_not(p.args_truncated);
}

Test(proc_parse, cmdline_too_long_is_truncated)
{
	static char in[PROC_ARGS_MAX * 2];
	char out[PROC_ARGS_MAX];
	struct process p = { 0 };

	/* 1000 args of "aaaa" (5 bytes each with NUL) = 5000 bytes. */
	for (size_t i = 0; i < 5000; i++)
		in[i] = (i % 5 == 4) ? '\0' : 'a';
	cr_assert_eq(proc_parse_cmdline(in, 5000, out, sizeof(out), &p), 0);
	cr_assert(p.args_truncated);
	cr_assert_eq(p.args_len, PROC_ARGS_MAX);
	cr_assert_eq(p.args[p.args_len - 1], '\0');
	/* 4096 bytes: 819 whole args, then "a" cut and terminated. */
	cr_assert_eq(p.argc, 820);
}

Test(proc_parse, cmdline_exactly_full_without_nul)
{
	static char in[PROC_ARGS_MAX];
	char out[PROC_ARGS_MAX];
	struct process p = { 0 };

	memset(in, 'b', sizeof(in));
	cr_assert_eq(proc_parse_cmdline(in, sizeof(in), out, sizeof(out), &p), 0);
	cr_assert(p.args_truncated, "the last byte had to go for the NUL");
	cr_assert_eq(p.args_len, PROC_ARGS_MAX);
	cr_assert_eq(strlen(p.args), PROC_ARGS_MAX - 1);
}

Test(proc_parse, cmdline_empty)
{
	char out[16];
	struct process p = { 0 };

	cr_assert_eq(proc_parse_cmdline("", 0, out, sizeof(out), &p), 0);
	cr_assert_null(p.args);
	cr_assert_eq(p.argc, 0);
	cr_assert_eq(proc_parse_cmdline("x", 1, out, 0, &p), -EINVAL);
}

Test(proc_parse, cgroup_v2_line)
{
	const char *s = "12:memory:/kubepods/x\n1:name=systemd:/init.scope\n0::/kubepods/besteffort/pod1/c1\n";
	char out[256];

	cr_assert_str_eq(proc_cgroup_v2_path(s, strlen(s), out, sizeof(out)),
			 "/kubepods/besteffort/pod1/c1");
	cr_assert_str_eq(proc_cgroup_v2_path("0::/\n", 5, out, sizeof(out)), "/");
	/* Bounded by len, not by a NUL: the last line has no newline. */
	cr_assert_str_eq(proc_cgroup_v2_path("0::/abcdef", 7, out, sizeof(out)), "/abc");
	cr_assert_null(proc_cgroup_v2_path("1:cpu:/a\n2:memory:/b\n", 21, out, sizeof(out)));
	cr_assert_null(proc_cgroup_v2_path(s, strlen(s), out, 8), "does not fit");
}

Test(proc_parse, ns_link)
{
	uint32_t ino = 0;

	cr_assert_eq(proc_parse_ns_link("mnt:[4026531840]", "mnt", &ino), 0);
	cr_assert_eq(ino, 4026531840u);
	cr_assert_eq(proc_parse_ns_link("net:[4026531840]", "mnt", &ino), -EINVAL);
	cr_assert_eq(proc_parse_ns_link("mnt:[]", "mnt", &ino), -EINVAL);
	cr_assert_eq(proc_parse_ns_link("mnt:[123", "mnt", &ino), -EINVAL);
	cr_assert_eq(proc_parse_ns_link("mnt:[123]x", "mnt", &ino), -EINVAL);
	cr_assert_eq(proc_parse_ns_link("mnt:[99999999999]", "mnt", &ino), -EINVAL);
}

Test(proc_parse, mountinfo_cgroup2)
{
	const char *hybrid =
		"31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
		"32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
		"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
	const char *pure =
		"30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev shared:4 - cgroup2 cgroup2 rw,nsdelegate\n";
	const char *escaped = "30 23 0:26 / /mnt/my\\040cg rw shared:4 master:1 - cgroup2 none rw\n";
	const char *none = "32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n";
	char out[256];

	cr_assert_eq(proc_parse_mountinfo_cgroup2(hybrid, strlen(hybrid), out, sizeof(out)), 0);
	cr_assert_str_eq(out, "/sys/fs/cgroup/unified");
	cr_assert_eq(proc_parse_mountinfo_cgroup2(pure, strlen(pure), out, sizeof(out)), 0);
	cr_assert_str_eq(out, "/sys/fs/cgroup");
	cr_assert_eq(proc_parse_mountinfo_cgroup2(escaped, strlen(escaped), out, sizeof(out)), 0);
	cr_assert_str_eq(out, "/mnt/my cg");
	cr_assert_eq(proc_parse_mountinfo_cgroup2(none, strlen(none), out, sizeof(out)), -ENOENT);
	cr_assert_eq(proc_parse_mountinfo_cgroup2(hybrid, strlen(hybrid), out, 5), -ENAMETOOLONG);
}

Test(proc_parse, null_input_is_rejected)
{
	struct process p = { 0 };
	char out[8];
	uint32_t v;

	cr_assert_eq(proc_parse_stat(NULL, 0, &p, NULL), -EINVAL);
	cr_assert_eq(proc_parse_status(NULL, 0, &p), -EINVAL);
	cr_assert_eq(proc_parse_nspid(NULL, 0, &v), -EINVAL);
	cr_assert_eq(proc_parse_cmdline(NULL, 0, out, sizeof(out), &p), -EINVAL);
	cr_assert_null(proc_cgroup_v2_path(NULL, 0, out, sizeof(out)));
	cr_assert_eq(proc_parse_ns_link(NULL, "mnt", &v), -EINVAL);
	cr_assert_eq(proc_parse_mountinfo_cgroup2(NULL, 0, out, sizeof(out)), -EINVAL);
}

/* Random text built from the characters these files are made of. Run
 * under ASan, this checks that no input makes a parser read or write out
 * of bounds, and that results keep their invariants. */
Test(proc_parse, random_input_never_breaks_invariants)
{
	static const char alphabet[] = "0123456789 ():\n\t-abfxSZ/[]\\";
	uint32_t seed = 12345;
	char in[96], out[32];

	for (int iter = 0; iter < 50000; iter++) {
		size_t len = 0;
		struct process p = { 0 };
		uint32_t v;
		int r;

		seed = seed * 1103515245u + 12345u;
		len = (seed >> 16) % sizeof(in);
		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			/* sizeof includes the NUL: embedded NULs get tried too. */
			in[i] = alphabet[(seed >> 16) % sizeof(alphabet)];
		}
		r = proc_parse_stat(in, len, &p, NULL);
		cr_assert(r == 0 || r == -EINVAL);
		if (r == 0)
			cr_assert_lt(strlen(p.comm), PROCESS_COMM_LEN);
		r = proc_parse_status(in, len, &p);
		cr_assert(r == 0 || r == -EINVAL);
		r = proc_parse_nspid(in, len, &v);
		cr_assert(r == 0 || r == -EINVAL);
		cr_assert_eq(proc_parse_cmdline(in, len, out, sizeof(out), &p), 0);
		if (p.args) {
			cr_assert_leq(p.args_len, sizeof(out));
			cr_assert_eq(p.args[p.args_len - 1], '\0');
			cr_assert_eq(p.args_truncated, len > sizeof(out) ||
				     (len == sizeof(out) && in[len - 1] != '\0'));
		}
		if (proc_cgroup_v2_path(in, len, out, sizeof(out)))
			cr_assert_eq(out[0], '/');
		r = proc_parse_mountinfo_cgroup2(in, len, out, sizeof(out));
		cr_assert(r == 0 || r == -ENOENT || r == -EINVAL || r == -ENAMETOOLONG);
		if (r == 0)
			cr_assert_lt(strlen(out), sizeof(out));
	}
}

/* ---- the fixture tree ----
 * A temp copy of tests/fixtures/proc, plus the symlinks git does not keep
 * well (exe, root, the ns links) and the files they point to. */

static char tmp_dir[256];
static char proc_dir[300];

static void fixture_src(char *out, size_t size)
{
	char file[512];
	const char *env = getenv("VIGIL_FIXTURES");

	if (env) {
		snprintf(out, size, "%s/proc", env);
		return;
	}
	snprintf(file, sizeof(file), "%s", __FILE__);
	snprintf(out, size, "%s/../fixtures/proc", dirname(file));
}

static void copy_tree(const char *src, const char *dst)
{
	DIR *d = opendir(src);
	struct dirent *de;

	cr_assert_not_null(d, "cannot open fixture %s: %s", src, strerror(errno));
	cr_assert_eq(mkdir(dst, 0755), 0, "mkdir %s: %s", dst, strerror(errno));
	while ((de = readdir(d))) {
		char s[1024], t[1024];
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(s, sizeof(s), "%s/%s", src, de->d_name);
		snprintf(t, sizeof(t), "%s/%s", dst, de->d_name);
		cr_assert_eq(lstat(s, &st), 0);
		if (S_ISDIR(st.st_mode)) {
			copy_tree(s, t);
		} else {
			char buf[8192];
			FILE *in = fopen(s, "rb"), *out = fopen(t, "wb");
			size_t n;

			cr_assert(in && out);
			while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
				cr_assert_eq(fwrite(buf, 1, n, out), n);
			fclose(in);
			fclose(out);
		}
	}
	closedir(d);
}

static void make_file(const char *rel)
{
	char path[512], *slash;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmp_dir, rel);
	for (slash = strchr(path + strlen(tmp_dir) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(path, 0755);
		*slash = '/';
	}
	f = fopen(path, "w");
	cr_assert_not_null(f, "create %s", path);
	fputs(rel, f);
	fclose(f);
}

static void make_link(const char *target, const char *rel, bool in_tmp)
{
	char path[512], dest[512];

	snprintf(path, sizeof(path), "%s/%s", proc_dir, rel);
	if (in_tmp)
		snprintf(dest, sizeof(dest), "%s/%s", tmp_dir, target);
	else
		snprintf(dest, sizeof(dest), "%s", target);
	cr_assert_eq(symlink(dest, path), 0, "symlink %s: %s", path, strerror(errno));
}

static uint64_t inode_of(const char *rel)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", tmp_dir, rel);
	cr_assert_eq(stat(path, &st), 0, "stat %s", path);
	return st.st_ino;
}

static void setup_fixture(void)
{
	char src[512], dir[512];

	fixture_src(src, sizeof(src));
	cr_assert_eq(access(src, R_OK), 0,
		     "fixture %s not found: run from the repository root or set VIGIL_FIXTURES", src);
	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/vigil-proc-XXXXXX");
	cr_assert_not_null(mkdtemp(tmp_dir));
	snprintf(proc_dir, sizeof(proc_dir), "%s/proc", tmp_dir);
	copy_tree(src, proc_dir);

	make_file("host/sbin/init");
	make_file("host/usr/sbin/sshd");
	make_file("host/bin/bash (deleted)");
	make_file("rootfs/bin/sh");
	make_link("host/sbin/init", "1/exe", true);
	make_link("/", "1/root", false);
	make_link("host/usr/sbin/sshd", "100/exe", true);
	make_link("/", "100/root", false);
	/* The kernel marks an unlinked executable " (deleted)"; the file
	 * really has that name here so the link still resolves. */
	make_link("host/bin/bash (deleted)", "200/exe", true);
	make_link("/", "200/root", false);
	make_link("rootfs/bin/sh", "300/exe", true);
	make_link("rootfs/", "300/root", true);
	snprintf(dir, sizeof(dir), "%s/300/ns", proc_dir);
	cr_assert_eq(mkdir(dir, 0755), 0);
	make_link("mnt:[4026532000]", "300/ns/mnt", false);
	make_link("net:[4026532001]", "300/ns/net", false);
	make_link("pid:[4026532002]", "300/ns/pid", false);

	/* A fake cgroup2 hierarchy for the cgroup id tests. */
	make_file("cg/kubepods/besteffort/pod123/abc/cgroup.procs");
	make_file("cg/system.slice/ssh.service/cgroup.procs");
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void teardown_fixture(void)
{
	if (tmp_dir[0])
		nftw(tmp_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* What the walk reported, copied out (the callback's strings are
 * temporary). */
struct seen {
	bool found;
	struct process p;
	char path[PROC_PATH_MAX];
	char args[PROC_ARGS_MAX];
};

struct walk_result {
	struct seen by_pid[1000];
	unsigned calls;
};

static int collect(const struct process *p, void *ctx)
{
	struct walk_result *r = ctx;
	struct seen *s;

	r->calls++;
	cr_assert_lt(p->pid, 1000);
	s = &r->by_pid[p->pid];
	cr_assert_not(s->found, "pid %u reported twice", p->pid);
	s->found = true;
	s->p = *p;
	s->p.path = NULL;
	s->p.args = NULL;
	if (p->path) {
		snprintf(s->path, sizeof(s->path), "%s", p->path);
		s->p.path = s->path;
	}
	if (p->args) {
		memcpy(s->args, p->args, p->args_len);
		s->p.args = s->args;
	}
	return 0;
}

static uint64_t ticks(uint64_t t)
{
	return proc_ticks_to_ns(t);
}

TestSuite(proc_snapshot_fixture, .init = setup_fixture, .fini = teardown_fixture);

Test(proc_snapshot_fixture, walk_reads_every_field)
{
	static struct walk_result r;
	struct proc_snapshot_stats st;
	char expect[512];
	const struct process *p;

	memset(&r, 0, sizeof(r));
	cr_assert_eq(proc_snapshot_walk(proc_dir, "", collect, &r, &st), 0);
	cr_assert_eq(st.processes, 5);
	cr_assert_eq(r.calls, 5);
	cr_assert_eq(st.kernel_threads_skipped, 3);
	cr_assert_eq(st.errors, 2, "400 (bad stat) and 401 (no Uid)");
	for (uint32_t pid = 2; pid < 100; pid++)
		cr_assert_not(r.by_pid[pid].found, "kernel thread %u reported", pid);
	cr_assert_not(r.by_pid[400].found);
	cr_assert_not(r.by_pid[401].found);
	cr_assert_not(r.by_pid[500].found);

	p = &r.by_pid[1].p;
	cr_assert(r.by_pid[1].found);
	snprintf(expect, sizeof(expect), "%s/host/sbin/init", tmp_dir);
	cr_assert_str_eq(p->path, expect);
	cr_assert_eq(p->inode, inode_of("host/sbin/init"));
	cr_assert_neq(p->mount_id, 0);
	cr_assert_eq(p->args_len, 11);
	cr_assert_str_eq(p->args, "/sbin/init");
	cr_assert_eq(p->ppid, 0);
	cr_assert_eq(p->parent_start_ns, 0);
	cr_assert_eq(p->start_ns, ticks(5));
	cr_assert_eq(p->cred.auid, UINT32_MAX);
	cr_assert_eq(p->cgroup_id, 0, "cgroup2_root \"\" resolves nothing");
	cr_assert_eq(p->source, PROCESS_FROM_SNAPSHOT);
	cr_assert_eq(p->tid, 1);

	p = &r.by_pid[100].p;
	cr_assert(r.by_pid[100].found);
	cr_assert_str_eq(p->comm, "sshd");
	cr_assert_eq(p->argc, 1, "setproctitle text is one string");
	cr_assert_str_eq(p->args, "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups");
	cr_assert_eq(p->parent_start_ns, ticks(5), "init's start time");
	cr_assert_eq(p->cred.cap_effective, 0x1ffffffffffull);

	p = &r.by_pid[200].p;
	cr_assert(r.by_pid[200].found);
	cr_assert_str_eq(p->comm, "(a) b)");
	snprintf(expect, sizeof(expect), "%s/host/bin/bash", tmp_dir);
	cr_assert_str_eq(p->path, expect, "\" (deleted)\" is stripped");
	cr_assert_eq(p->inode, inode_of("host/bin/bash (deleted)"));
	cr_assert_eq(p->ppid, 100);
	cr_assert_eq(p->parent_start_ns, ticks(150));
	cr_assert_eq(p->start_ns, ticks(2500));
	cr_assert_eq(p->tty_nr, 34816);
	cr_assert_eq(p->cred.uid, 1000);
	cr_assert_eq(p->cred.euid, 1001);
	cr_assert_eq(p->cred.fsuid, 1003);
	cr_assert_eq(p->cred.gid, 100);
	cr_assert_eq(p->cred.egid, 101);
	cr_assert_eq(p->cred.fsgid, 103);
	cr_assert_eq(p->cred.auid, 1000);
	cr_assert_eq(p->cred.cap_effective, 0);
	cr_assert_eq(p->cred.cap_permitted, 0x3000);
	cr_assert_eq(p->argc, 3);
	cr_assert_eq(p->args_len, 16);
	cr_assert_eq(memcmp(p->args, "bash\0-c\0echo hi\0", 16), 0);

	p = &r.by_pid[300].p;
	cr_assert(r.by_pid[300].found);
	cr_assert_str_eq(p->path, "/bin/sh", "the path the container sees");
	cr_assert_eq(p->inode, inode_of("rootfs/bin/sh"));
	cr_assert_eq(p->mntns, 4026532000u);
	cr_assert_eq(p->netns, 4026532001u);
	cr_assert_eq(p->pidns, 4026532002u);
	cr_assert_eq(p->cred.cap_effective, 0xa80425fbull);
	cr_assert_eq(p->argc, 3);

	p = &r.by_pid[600].p;
	cr_assert(r.by_pid[600].found, "a zombie is still a process");
	cr_assert_null(p->path);
	cr_assert_null(p->args);
	cr_assert_eq(p->ppid, 100);
	cr_assert_eq(p->mntns, 0);
}

Test(proc_snapshot_fixture, walk_resolves_cgroup_ids)
{
	static struct walk_result r;
	char root[512];

	memset(&r, 0, sizeof(r));
	snprintf(root, sizeof(root), "%s/cg", tmp_dir);
	cr_assert_eq(proc_snapshot_walk(proc_dir, root, collect, &r, NULL), 0);
	cr_assert_eq(r.by_pid[1].p.cgroup_id, inode_of("cg"));
	cr_assert_eq(r.by_pid[100].p.cgroup_id, inode_of("cg/system.slice/ssh.service"));
	cr_assert_eq(r.by_pid[300].p.cgroup_id, inode_of("cg/kubepods/besteffort/pod123/abc"));
	cr_assert_eq(r.by_pid[200].p.cgroup_id, 0, "its cgroup directory does not exist");
}

static int stop_at_first(const struct process *p, void *ctx)
{
	unsigned *calls = ctx;

	(void)p;
	(*calls)++;
	return 7;
}

Test(proc_snapshot_fixture, callback_can_stop_the_walk)
{
	struct proc_snapshot_stats st;
	unsigned calls = 0;

	cr_assert_eq(proc_snapshot_walk(proc_dir, "", stop_at_first, &calls, &st), 7);
	cr_assert_eq(calls, 1);
	cr_assert_eq(st.processes, 1);
}

Test(proc_snapshot_fixture, read_one_pid)
{
	struct proc_snapshot_buf *buf = malloc(sizeof(*buf));
	struct process p;

	cr_assert_eq(proc_snapshot_read_pid(proc_dir, "", 300, &p, buf), 0);
	cr_assert_str_eq(p.path, "/bin/sh");
	cr_assert_eq(p.path, buf->path);
	cr_assert_eq(proc_snapshot_read_pid(proc_dir, "", 3, &p, buf), PROC_SNAPSHOT_KTHREAD);
	cr_assert_eq(proc_snapshot_read_pid(proc_dir, "", 50, &p, buf), PROC_SNAPSHOT_KTHREAD);
	cr_assert_eq(proc_snapshot_read_pid(proc_dir, "", 500, &p, buf), -ENOENT, "exited");
	cr_assert_eq(proc_snapshot_read_pid(proc_dir, "", 999, &p, buf), -ENOENT);
	cr_assert_eq(proc_snapshot_read_pid(proc_dir, "", 400, &p, buf), -EINVAL);
	cr_assert_eq(proc_snapshot_read_pid(proc_dir, "", 401, &p, buf), -EINVAL);
	cr_assert_eq(proc_snapshot_read_pid(proc_dir, "", 0, &p, buf), -EINVAL);
	free(buf);
}

Test(proc_snapshot, missing_root_is_an_error)
{
	struct proc_snapshot_stats st;

	cr_assert_eq(proc_snapshot_walk("/nonexistent/vigil/proc", "", NULL, NULL, &st), -ENOENT);
	cr_assert_eq(st.processes, 0);
}

/* ---- the real /proc ---- */

/* glibc passes argc/argv to constructors: the test's own argv, independent
 * of what /proc says. */
static int self_argc;
static char **self_argv;

__attribute__((constructor)) static void remember_argv(int argc, char **argv, char **envp)
{
	(void)envp;
	self_argc = argc;
	self_argv = argv;
}

static void assert_is_self(const struct process *p)
{
	char exe[PROC_PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	struct timespec now;
	struct stat st;
	const char *a;
	int i;

	cr_assert_gt(n, 0);
	exe[n] = '\0';
	cr_assert_str_eq(p->path, exe);
	cr_assert_eq(stat("/proc/self/exe", &st), 0);
	cr_assert_eq(p->inode, st.st_ino);
	cr_assert_eq(p->ppid, (uint32_t)getppid());
	cr_assert_eq(p->cred.uid, getuid());
	cr_assert_eq(p->cred.euid, geteuid());
	cr_assert_eq(p->cred.gid, getgid());

	cr_assert_eq(p->argc, (uint32_t)self_argc);
	for (i = 0, a = p->args; i < self_argc; i++, a += strlen(a) + 1)
		cr_assert_str_eq(a, self_argv[i]);

	/* Started a moment ago on the boot clock. */
	clock_gettime(CLOCK_BOOTTIME, &now);
	cr_assert_leq(p->start_ns, (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec);
	cr_assert_geq(p->start_ns + 600 * 1000000000ull,
		      (uint64_t)now.tv_sec * 1000000000ull);
	cr_assert_neq(p->parent_start_ns, 0);
	cr_assert_leq(p->parent_start_ns, p->start_ns);
	cr_assert_neq(p->mntns, 0);
	cr_assert_eq(p->source, PROCESS_FROM_SNAPSHOT);
}

Test(proc_snapshot, real_proc_reads_this_process)
{
	struct proc_snapshot_buf *buf = malloc(sizeof(*buf));
	struct process p;

	cr_assert_eq(proc_snapshot_read_pid("/proc", "", (uint32_t)getpid(), &p, buf), 0);
	cr_assert_eq(p.pid, (uint32_t)getpid());
	assert_is_self(&p);
	free(buf);
}

struct find_self {
	bool found;
	uint64_t cgroup_id;
};

static int check_self(const struct process *p, void *ctx)
{
	struct find_self *f = ctx;

	if (p->pid != (uint32_t)getpid())
		return 0;
	assert_is_self(p);
	f->found = true;
	f->cgroup_id = p->cgroup_id;
	return 0;
}

Test(proc_snapshot, real_proc_walk_finds_this_process)
{
	struct proc_snapshot_stats st;
	struct find_self f = { 0 };
	char cg[PROC_PATH_MAX];

	cr_assert_eq(proc_snapshot_walk("/proc", NULL, check_self, &f, &st), 0);
	cr_assert(f.found);
	cr_assert_geq(st.processes, 2, "at least this test and its runner");
	if (access("/proc/2/stat", R_OK) == 0)
		cr_assert_gt(st.kernel_threads_skipped, 0);
	/* With a cgroup2 mount, the id is resolved. */
	if (proc_detect_cgroup2_root(cg, sizeof(cg)) == 0)
		cr_assert_neq(f.cgroup_id, 0, "cgroup2 at %s but no cgroup id", cg);
}
