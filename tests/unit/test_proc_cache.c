/* test_proc_cache.c - unit tests for the process cache (sensor/proc_cache.c). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "../../sensor/proc_cache.h"

#define SEC 1000000000ull

static struct process make_proc(uint32_t pid, uint64_t start_ns, uint32_t ppid,
				uint64_t parent_start_ns)
{
	struct process p;

	memset(&p, 0, sizeof(p));
	p.pid = p.tid = pid;
	p.start_ns = start_ns;
	p.ppid = ppid;
	p.parent_start_ns = parent_start_ns;
	p.cred.auid = UINT32_MAX;
	p.source = PROCESS_FROM_EVENT;
	return p;
}

static void set_args(struct process *p, const char *args, uint32_t len)
{
	p->args = args;
	p->args_len = len;
	p->argc = 0;
	for (uint32_t i = 0; i < len; i++)
		p->argc += args[i] == '\0';
}

Test(proc_cache, new_rejects_zero_size)
{
	cr_assert_null(proc_cache_new(0, SEC));
}

Test(proc_cache, insert_and_lookup_deep_copies)
{
	struct proc_cache *c = proc_cache_new(16, SEC);
	struct process p = make_proc(100, 5 * SEC, 1, 1 * SEC);
	char path[] = "/usr/bin/curl";
	char args[] = "curl\0-s\0http://x\0";
	const struct process *got;

	p.path = path;
	set_args(&p, args, sizeof(args) - 1);
	p.cred.uid = 1000;
	strcpy(p.comm, "curl");
	cr_assert_not_null(proc_cache_insert(c, &p));

	/* The caller's buffers are reused right away; the cache must not care. */
	memset(path, 'X', sizeof(path) - 1);
	memset(args, 'Y', sizeof(args) - 1);

	got = proc_cache_lookup(c, 100);
	cr_assert_not_null(got);
	cr_assert_str_eq(got->path, "/usr/bin/curl");
	cr_assert_eq(got->args_len, 17);
	cr_assert_eq(got->argc, 3);
	cr_assert_eq(memcmp(got->args, "curl\0-s\0http://x\0", 17), 0);
	cr_assert_eq(got->cred.uid, 1000);
	cr_assert_str_eq(got->comm, "curl");
	cr_assert_eq(got->start_ns, 5 * SEC);
	cr_assert_null(proc_cache_lookup(c, 101));
	proc_cache_free(c);
}

Test(proc_cache, insert_pid_zero_is_rejected)
{
	struct proc_cache *c = proc_cache_new(4, SEC);
	struct process p = make_proc(0, SEC, 0, 0);

	cr_assert_null(proc_cache_insert(c, &p));
	cr_assert_null(proc_cache_exec(c, &p));
	proc_cache_free(c);
}

Test(proc_cache, fork_child_inherits_parent_path_and_args)
{
	struct proc_cache *c = proc_cache_new(16, SEC);
	struct process parent = make_proc(10, 2 * SEC, 1, SEC);
	struct process child = make_proc(11, 3 * SEC, 10, 2 * SEC);
	const struct process *got;

	parent.path = "/bin/bash";
	set_args(&parent, "bash\0-l\0", 8);
	parent.inode = 4242;
	parent.mount_id = 31;
	strcpy(parent.comm, "bash");
	cr_assert_not_null(proc_cache_insert(c, &parent));

	got = proc_cache_insert(c, &child);
	cr_assert_not_null(got);
	cr_assert_str_eq(got->path, "/bin/bash");
	cr_assert_eq(got->args_len, 8);
	cr_assert_eq(got->argc, 2);
	cr_assert_eq(memcmp(got->args, "bash\0-l\0", 8), 0);
	cr_assert_eq(got->inode, 4242);
	cr_assert_eq(got->mount_id, 31);
	cr_assert_str_eq(got->comm, "bash");
	/* Its own copy, not the parent's memory. */
	cr_assert_neq(got->path, proc_cache_lookup(c, 10)->path);
	proc_cache_free(c);
}

Test(proc_cache, fork_child_does_not_inherit_from_reused_parent_pid)
{
	struct proc_cache *c = proc_cache_new(16, SEC);
	struct process parent = make_proc(10, 9 * SEC, 1, SEC);
	struct process child = make_proc(11, 3 * SEC, 10, 2 * SEC);
	const struct process *got;

	parent.path = "/bin/imposter";
	proc_cache_insert(c, &parent);
	got = proc_cache_insert(c, &child);
	cr_assert_not_null(got);
	cr_assert_null(got->path);
	cr_assert_null(got->args);
	cr_assert_null(proc_cache_parent(c, got));
	proc_cache_free(c);
}

Test(proc_cache, insert_replaces_same_pid)
{
	struct proc_cache *c = proc_cache_new(16, SEC);
	struct process a = make_proc(50, 1 * SEC, 1, 0);
	struct process b = make_proc(50, 7 * SEC, 1, 0);
	struct proc_cache_stats st;

	a.path = "/old";
	b.path = "/new";
	proc_cache_insert(c, &a);
	proc_cache_insert(c, &b);
	cr_assert_str_eq(proc_cache_lookup(c, 50)->path, "/new");
	cr_assert_eq(proc_cache_lookup(c, 50)->start_ns, 7 * SEC);
	proc_cache_get_stats(c, &st);
	cr_assert_eq(st.entries, 1);
	cr_assert_eq(st.inserts, 2);
	proc_cache_free(c);
}

Test(proc_cache, thread_does_not_replace_process)
{
	struct proc_cache *c = proc_cache_new(16, SEC);
	struct process leader = make_proc(60, 1 * SEC, 1, 0);
	struct process thread = make_proc(60, 2 * SEC, 1, 0);

	leader.path = "/bin/leader";
	thread.is_thread = true;
	thread.tid = 61;
	proc_cache_insert(c, &leader);
	cr_assert_str_eq(proc_cache_insert(c, &thread)->path, "/bin/leader");
	cr_assert_eq(proc_cache_lookup(c, 60)->start_ns, 1 * SEC);
	proc_cache_free(c);
}

Test(proc_cache, exec_replaces_path_args_and_keeps_start)
{
	struct proc_cache *c = proc_cache_new(16, SEC);
	struct process parent = make_proc(10, 2 * SEC, 1, SEC);
	struct process child = make_proc(11, 3 * SEC, 10, 2 * SEC);
	struct process ex;
	const struct process *got;
	struct proc_cache_stats st;

	parent.path = "/bin/bash";
	set_args(&parent, "bash\0", 5);
	parent.cgroup_id = 777;
	proc_cache_insert(c, &parent);
	child.cgroup_id = 777;
	child.tty_nr = 34816;
	proc_cache_insert(c, &child);

	/* The exec record's start is the same task, in ns rather than ticks. */
	ex = make_proc(11, 3 * SEC + 1234, 0, 0);
	ex.path = "/usr/bin/id";
	set_args(&ex, "id\0-u\0", 6);
	ex.exec_ns = 4 * SEC;
	ex.cred.uid = 0;
	ex.cred.euid = 1000;
	strcpy(ex.comm, "id");
	got = proc_cache_exec(c, &ex);
	cr_assert_not_null(got);
	cr_assert_str_eq(got->path, "/usr/bin/id");
	cr_assert_eq(got->argc, 2);
	cr_assert_eq(memcmp(got->args, "id\0-u\0", 6), 0);
	cr_assert_eq(got->start_ns, 3 * SEC);
	cr_assert_eq(got->ppid, 10);
	cr_assert_eq(got->parent_start_ns, 2 * SEC);
	cr_assert_eq(got->exec_ns, 4 * SEC);
	cr_assert_eq(got->cred.euid, 1000);
	cr_assert_eq(got->cgroup_id, 777);
	cr_assert_eq(got->tty_nr, 34816);
	cr_assert_str_eq(got->comm, "id");
	/* The parent link survives the exec. */
	cr_assert_eq(proc_cache_parent(c, got), proc_cache_lookup(c, 10));
	proc_cache_get_stats(c, &st);
	cr_assert_eq(st.entries, 2);
	cr_assert_eq(st.inserts, 2); /* exec of a known process is an update */
	proc_cache_free(c);
}

Test(proc_cache, exec_of_unknown_or_reused_pid_creates_entry)
{
	struct proc_cache *c = proc_cache_new(16, SEC);
	struct process old = make_proc(20, 1 * SEC, 1, 0);
	struct process ex = make_proc(20, 8 * SEC, 5, 4 * SEC);
	struct process ex2 = make_proc(21, 9 * SEC, 5, 4 * SEC);
	const struct process *got;

	old.path = "/bin/old";
	proc_cache_insert(c, &old);
	ex.path = "/bin/new";
	got = proc_cache_exec(c, &ex);
	cr_assert_eq(got->start_ns, 8 * SEC);
	cr_assert_eq(got->ppid, 5);
	cr_assert_str_eq(got->path, "/bin/new");

	ex2.path = "/bin/other";
	got = proc_cache_exec(c, &ex2);
	cr_assert_not_null(got);
	cr_assert_str_eq(proc_cache_lookup(c, 21)->path, "/bin/other");
	proc_cache_free(c);
}

Test(proc_cache, exit_retention_then_expire)
{
	struct proc_cache *c = proc_cache_new(16, 5 * SEC);
	struct process p = make_proc(30, 1 * SEC, 1, 0);
	struct proc_cache_stats st;

	p.path = "/bin/sleep";
	proc_cache_insert(c, &p);

	/* An exit for another process with the same pid is not ours. */
	proc_cache_exit(c, 30, 99 * SEC, 10 * SEC);
	cr_assert_eq(proc_cache_lookup(c, 30)->exit_ns, 0);

	proc_cache_exit(c, 30, 1 * SEC, 10 * SEC);
	cr_assert_eq(proc_cache_lookup(c, 30)->exit_ns, 10 * SEC);

	proc_cache_expire(c, 14 * SEC);
	cr_assert_not_null(proc_cache_lookup(c, 30), "still within retention");
	cr_assert_str_eq(proc_cache_lookup(c, 30)->path, "/bin/sleep");

	proc_cache_expire(c, 15 * SEC);
	cr_assert_null(proc_cache_lookup(c, 30));
	proc_cache_get_stats(c, &st);
	cr_assert_eq(st.entries, 0);
	cr_assert_eq(st.evictions_expired, 1);
	cr_assert_eq(st.evictions_full, 0);
	proc_cache_free(c);
}

Test(proc_cache, expire_keeps_live_and_later_exits)
{
	struct proc_cache *c = proc_cache_new(16, 1 * SEC);

	for (uint32_t pid = 1; pid <= 4; pid++) {
		struct process p = make_proc(pid, pid * SEC, 0, 0);
		proc_cache_insert(c, &p);
	}
	/* Exits reported out of order must still expire in exit order. */
	proc_cache_exit(c, 3, 0, 30 * SEC);
	proc_cache_exit(c, 1, 0, 10 * SEC);
	proc_cache_exit(c, 2, 0, 20 * SEC);
	proc_cache_expire(c, 21 * SEC);
	cr_assert_null(proc_cache_lookup(c, 1));
	cr_assert_null(proc_cache_lookup(c, 2));
	cr_assert_not_null(proc_cache_lookup(c, 3));
	cr_assert_not_null(proc_cache_lookup(c, 4));
	proc_cache_free(c);
}

Test(proc_cache, full_evicts_first_exited_then_oldest_live)
{
	struct proc_cache *c = proc_cache_new(3, 100 * SEC);
	struct proc_cache_stats st;
	struct process p;

	for (uint32_t pid = 1; pid <= 3; pid++) {
		p = make_proc(pid, pid * SEC, 0, 0);
		proc_cache_insert(c, &p);
	}
	proc_cache_exit(c, 3, 0, 50 * SEC);
	proc_cache_exit(c, 2, 0, 40 * SEC);

	/* Full: pid 2 exited first, so it goes although pid 1 is older. */
	p = make_proc(4, 4 * SEC, 0, 0);
	proc_cache_insert(c, &p);
	cr_assert_null(proc_cache_lookup(c, 2));
	cr_assert_not_null(proc_cache_lookup(c, 1));
	cr_assert_not_null(proc_cache_lookup(c, 3));

	p = make_proc(5, 5 * SEC, 0, 0);
	proc_cache_insert(c, &p);
	cr_assert_null(proc_cache_lookup(c, 3));

	/* No exited entry left: the least recently updated live one goes.
	 * An exec refreshes pid 1, so pid 4 is now the oldest. */
	p = make_proc(1, 1 * SEC, 0, 0);
	p.path = "/bin/refreshed";
	proc_cache_exec(c, &p);
	p = make_proc(6, 6 * SEC, 0, 0);
	proc_cache_insert(c, &p);
	cr_assert_null(proc_cache_lookup(c, 4));
	cr_assert_not_null(proc_cache_lookup(c, 1));
	cr_assert_not_null(proc_cache_lookup(c, 5));
	cr_assert_not_null(proc_cache_lookup(c, 6));

	proc_cache_get_stats(c, &st);
	cr_assert_eq(st.entries, 3);
	cr_assert_eq(st.max_entries, 3);
	cr_assert_eq(st.evictions_full, 3);
	cr_assert_eq(st.evictions_full_live, 1);
	cr_assert_eq(st.evictions_expired, 0);
	proc_cache_free(c);
}

Test(proc_cache, never_exceeds_max_entries)
{
	struct proc_cache *c = proc_cache_new(100, SEC);
	struct proc_cache_stats st;

	for (uint32_t pid = 1; pid <= 1000; pid++) {
		struct process p = make_proc(pid, pid * SEC, 0, 0);
		cr_assert_not_null(proc_cache_insert(c, &p));
		proc_cache_get_stats(c, &st);
		cr_assert_leq(st.entries, 100);
	}
	cr_assert_eq(st.evictions_full, 900);
	/* The newest 100 survive. */
	cr_assert_null(proc_cache_lookup(c, 900));
	cr_assert_not_null(proc_cache_lookup(c, 901));
	cr_assert_not_null(proc_cache_lookup(c, 1000));
	proc_cache_free(c);
}

Test(proc_cache, eviction_of_parent_during_fork_insert_is_safe)
{
	/* The parent's strings are copied before its slot is reused. */
	struct proc_cache *c = proc_cache_new(1, SEC);
	struct process parent = make_proc(10, 2 * SEC, 1, SEC);
	struct process child = make_proc(11, 3 * SEC, 10, 2 * SEC);
	const struct process *got;

	parent.path = "/bin/parent";
	set_args(&parent, "parent\0", 7);
	proc_cache_insert(c, &parent);
	got = proc_cache_insert(c, &child);
	cr_assert_not_null(got);
	cr_assert_str_eq(got->path, "/bin/parent");
	cr_assert_null(proc_cache_lookup(c, 10));
	proc_cache_free(c);
}

Test(proc_cache, ancestors_walk_four_levels)
{
	struct proc_cache *c = proc_cache_new(16, SEC);
	struct process p;
	const struct process *self, *anc[PROC_CACHE_MAX_DEPTH];
	size_t n;

	p = make_proc(1, 1 * SEC, 0, 0);
	proc_cache_insert(c, &p);
	p = make_proc(100, 2 * SEC, 1, 1 * SEC);
	proc_cache_insert(c, &p);
	p = make_proc(200, 3 * SEC, 100, 2 * SEC);
	proc_cache_insert(c, &p);
	p = make_proc(300, 4 * SEC, 200, 3 * SEC);
	self = proc_cache_insert(c, &p);

	cr_assert_eq(proc_cache_parent(c, self)->pid, 200);
	cr_assert_eq(proc_cache_parent(c, proc_cache_parent(c, self))->pid, 100);

	n = proc_cache_ancestors(c, self, anc, PROC_CACHE_MAX_DEPTH);
	cr_assert_eq(n, 3);
	cr_assert_eq(anc[0]->pid, 200);
	cr_assert_eq(anc[1]->pid, 100);
	cr_assert_eq(anc[2]->pid, 1);
	cr_assert_null(proc_cache_parent(c, anc[2]), "pid 1 is the root");

	/* Bounded by the caller's array too. */
	cr_assert_eq(proc_cache_ancestors(c, self, anc, 2), 2);
	proc_cache_free(c);
}

Test(proc_cache, reused_pid_is_not_taken_as_parent)
{
	struct proc_cache *c = proc_cache_new(16, SEC);
	struct process p;
	const struct process *child;

	p = make_proc(100, 2 * SEC, 1, 0);
	proc_cache_insert(c, &p);
	p = make_proc(200, 3 * SEC, 100, 2 * SEC);
	child = proc_cache_insert(c, &p);
	cr_assert_not_null(proc_cache_parent(c, child));

	/* pid 100 exits and the pid is reused by an unrelated process. */
	proc_cache_exit(c, 100, 2 * SEC, 5 * SEC);
	proc_cache_expire(c, 10 * SEC);
	p = make_proc(100, 20 * SEC, 1, 0);
	p.path = "/bin/unrelated";
	proc_cache_insert(c, &p);

	child = proc_cache_lookup(c, 200);
	cr_assert_not_null(child);
	cr_assert_null(proc_cache_parent(c, child));
	proc_cache_free(c);
}

Test(proc_cache, parent_must_match_start_even_if_older)
{
	/* The cached pid 100 is older than the child, but it is not the
	 * process the child names as parent (a stale entry whose exit was
	 * lost): start times must match, not just be plausible. */
	struct proc_cache *c = proc_cache_new(16, SEC);
	struct process p;
	const struct process *child;

	p = make_proc(100, 1 * SEC, 1, 0);
	p.path = "/bin/stale";
	proc_cache_insert(c, &p);
	p = make_proc(200, 9 * SEC, 100, 4 * SEC);
	child = proc_cache_insert(c, &p);
	cr_assert_null(child->path, "must not inherit from the stale entry");
	cr_assert_null(proc_cache_parent(c, child));

	/* Within the same 10 ms tick counts as the same start (/proc
	 * resolution). */
	p = make_proc(201, 9 * SEC, 100, 1 * SEC + 4000000);
	child = proc_cache_insert(c, &p);
	cr_assert_not_null(proc_cache_parent(c, child));
	cr_assert_str_eq(child->path, "/bin/stale");
	proc_cache_free(c);
}

Test(proc_cache, exited_parent_still_resolves_within_retention)
{
	struct proc_cache *c = proc_cache_new(16, 30 * SEC);
	struct process p;
	const struct process *child;

	p = make_proc(100, 2 * SEC, 1, 0);
	p.path = "/bin/parent";
	proc_cache_insert(c, &p);
	p = make_proc(200, 3 * SEC, 100, 2 * SEC);
	child = proc_cache_insert(c, &p);
	proc_cache_exit(c, 100, 0, 5 * SEC);
	proc_cache_expire(c, 10 * SEC);
	cr_assert_str_eq(proc_cache_parent(c, proc_cache_lookup(c, 200))->path, "/bin/parent");
	(void)child;
	proc_cache_free(c);
}

Test(proc_cache, ancestor_cycle_terminates)
{
	struct proc_cache *c = proc_cache_new(16, SEC);
	struct process p;
	const struct process *a, *anc[PROC_CACHE_MAX_DEPTH];
	const struct process *cur;
	size_t n, steps = 0;

	/* Corrupt data: 10 and 11 claim each other as parent, same tick. */
	p = make_proc(10, 5 * SEC, 11, 5 * SEC);
	proc_cache_insert(c, &p);
	p = make_proc(11, 5 * SEC, 10, 5 * SEC);
	proc_cache_insert(c, &p);
	/* And a self-parent. */
	p = make_proc(12, 5 * SEC, 12, 5 * SEC);
	proc_cache_insert(c, &p);

	a = proc_cache_lookup(c, 10);
	n = proc_cache_ancestors(c, a, anc, PROC_CACHE_MAX_DEPTH);
	cr_assert_eq(n, 1);
	cr_assert_eq(anc[0]->pid, 11);

	cr_assert_eq(proc_cache_ancestors(c, proc_cache_lookup(c, 12), anc, 8), 0);

	/* A naive walk with the documented bound stops too. */
	for (cur = a; cur && steps < PROC_CACHE_MAX_DEPTH; steps++)
		cur = proc_cache_parent(c, cur);
	cr_assert_eq(steps, PROC_CACHE_MAX_DEPTH);
	proc_cache_free(c);
}

Test(proc_cache, args_are_bounded_and_nul_terminated)
{
	struct proc_cache *c = proc_cache_new(4, SEC);
	static char big[PROC_CACHE_MAX_ARGS * 2];
	static char longpath[PROC_CACHE_MAX_PATH * 2];
	struct process p = make_proc(7, SEC, 0, 0);
	const struct process *got;

	memset(big, 'a', sizeof(big));
	memset(longpath, 'p', sizeof(longpath) - 1);
	p.args = big;
	p.args_len = sizeof(big);
	p.path = longpath;
	got = proc_cache_insert(c, &p);
	cr_assert_not_null(got);
	cr_assert_eq(got->args_len, PROC_CACHE_MAX_ARGS);
	cr_assert(got->args_truncated);
	cr_assert_eq(got->args[got->args_len - 1], '\0');
	cr_assert_eq(got->argc, 1);
	cr_assert(got->path_truncated);
	cr_assert_eq(strlen(got->path), PROC_CACHE_MAX_PATH - 1);

	/* No trailing NUL, not too long: one NUL added, not "truncated". */
	p = make_proc(8, SEC, 0, 0);
	p.args = "ls\0-l";
	p.args_len = 5;
	got = proc_cache_insert(c, &p);
	cr_assert_eq(got->args_len, 6);
	cr_assert_eq(got->argc, 2);
	cr_assert_str_eq(got->args + 3, "-l");
	cr_assert_not(got->args_truncated);
	proc_cache_free(c);
}

static void count_entries(const struct process *p, void *ctx)
{
	uint64_t *sum = ctx;

	*sum += p->pid;
}

Test(proc_cache, walk_visits_every_entry)
{
	struct proc_cache *c = proc_cache_new(64, SEC);
	uint64_t sum = 0;

	for (uint32_t pid = 1; pid <= 50; pid++) {
		struct process p = make_proc(pid, SEC, 0, 0);
		proc_cache_insert(c, &p);
	}
	proc_cache_exit(c, 7, 0, 2 * SEC); /* exited entries are visited too */
	proc_cache_walk(c, count_entries, &sum);
	cr_assert_eq(sum, 50 * 51 / 2);
	proc_cache_free(c);
}

Test(proc_cache, stats_count_hits_misses_and_bytes)
{
	struct proc_cache *c = proc_cache_new(10000, SEC);
	struct proc_cache_stats st;
	char path[64];
	static const char args[] = "python3\0-m\0http.server\0--bind\0127.0.0.1\0008080\0";

	for (uint32_t pid = 1000; pid < 11000; pid++) {
		struct process p = make_proc(pid, pid * SEC, 1, SEC);

		snprintf(path, sizeof(path), "/usr/lib/python3.11/bin/python3.%u", pid % 97);
		p.path = path;
		set_args(&p, args, sizeof(args) - 1);
		cr_assert_not_null(proc_cache_insert(c, &p));
	}
	for (uint32_t pid = 1000; pid < 1100; pid++)
		cr_assert_not_null(proc_cache_lookup(c, pid));
	for (uint32_t pid = 20000; pid < 20010; pid++)
		cr_assert_null(proc_cache_lookup(c, pid));

	proc_cache_get_stats(c, &st);
	cr_assert_eq(st.entries, 10000);
	cr_assert_eq(st.inserts, 10000);
	cr_assert_eq(st.hits, 100);
	cr_assert_eq(st.misses, 10);
	cr_assert_eq(st.evictions_full, 0);
	/* "A few MiB" for 10,000 typical entries. */
	cr_assert_lt(st.bytes, 4ull << 20, "bytes %llu", (unsigned long long)st.bytes);
	cr_assert_gt(st.bytes, 10000ull * sizeof(struct process));
	fprintf(stderr, "proc_cache: 10000 entries use %llu bytes (%llu per entry)\n",
		(unsigned long long)st.bytes, (unsigned long long)(st.bytes / st.entries));
	proc_cache_free(c);
}

struct check_ctx {
	struct proc_cache *c;
	size_t visited;
};

static void check_entry(const struct process *p, void *ctx)
{
	struct check_ctx *k = ctx;

	k->visited++;
	/* Each entry is reachable through the hash under its own pid. */
	cr_assert_eq(proc_cache_lookup(k->c, p->pid), p);
	if (p->args) {
		cr_assert_gt(p->args_len, 0);
		cr_assert_eq(p->args[p->args_len - 1], '\0');
	}
}

/* Random fork/exec/exit/expire traffic over a small pid range, so pids are
 * reused and the cache is always full. After every step the table, the lists
 * and the counters must agree. */
Test(proc_cache, random_traffic_keeps_structure_consistent)
{
	struct proc_cache *c = proc_cache_new(32, 3 * SEC);
	struct proc_cache_stats st;
	struct check_ctx k = { .c = c };
	uint32_t seed = 42;
	uint64_t now = SEC;

	for (int step = 0; step < 20000; step++) {
		struct process p;
		uint32_t r, pid;

		seed = seed * 1103515245u + 12345u;
		r = seed >> 16;
		pid = 1 + r % 64;
		now += 1000000 * (r % 50);
		p = make_proc(pid, now, 1 + (r >> 6) % 64, now - SEC);
		switch ((r >> 12) % 4) {
		case 0:
			proc_cache_insert(c, &p);
			break;
		case 1:
			p.path = (r & 1) ? "/bin/a" : "/usr/bin/b";
			set_args(&p, "x\0y\0", 4);
			proc_cache_exec(c, &p);
			break;
		case 2:
			proc_cache_exit(c, pid, 0, now);
			break;
		case 3:
			proc_cache_expire(c, now);
			break;
		}
		proc_cache_get_stats(c, &st);
		cr_assert_leq(st.entries, 32);
		k.visited = 0;
		proc_cache_walk(c, check_entry, &k);
		cr_assert_eq(k.visited, st.entries);
	}
	/* Everything exits and expires: the cache drains completely. */
	for (uint32_t pid = 1; pid <= 64; pid++)
		proc_cache_exit(c, pid, 0, now);
	proc_cache_expire(c, now + 3 * SEC);
	proc_cache_get_stats(c, &st);
	cr_assert_eq(st.entries, 0);
	proc_cache_free(c);
}
