/* process.bpf.c - process lifecycle: exec, fork, exit.
 *
 * Hooked on BTF tracepoints (tp_btf) because they load everywhere Vigil runs,
 * including kernels without kprobes and with fentry/LSM refused. Every field
 * comes from kernel objects: the executable's path from bprm->file, argv
 * from the new mm (already copied by the kernel when the tracepoint fires). */
#include "common.bpf.h"

#define FILENAME_MAX_LEN 256

/* Executables a kill rule names exactly, by the hash of their canonical
 * path: the new program is signalled before its first instruction. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u32); /* the signal */
} kill_exec SEC(".maps");

volatile __u32 kill_exec_count;  /* entries in kill_exec; 0 skips the hash */
const volatile __u32 vigil_tgid; /* never Vigil itself or its children */

struct path_hash {
	__u32 off;
	__u64 hash;
};

static long hash_step(__u32 i, void *ctx)
{
	struct path_hash *h = ctx;
	struct scratch *s = scratch_get();
	unsigned char c;

	if (!s)
		return 1;
	c = s->path[(h->off + i) & PATH_MASK];
	if (!c)
		return 1;
	h->hash = (h->hash ^ c) * VIGIL_FNV_PRIME;
	return 0;
}

/* Signals the exec'ing task when its executable is on the kill list. */
static __always_inline bool kill_if_listed(struct task_struct *task, __u32 off, __u32 path_len)
{
	struct path_hash h = { .off = off, .hash = VIGIL_FNV_OFFSET };
	__u32 tgid = BPF_CORE_READ(task, tgid), ppid = BPF_CORE_READ(task, real_parent, tgid);
	__u32 *sig;

	if (!kill_exec_count || tgid <= 1 || tgid == vigil_tgid || ppid == vigil_tgid)
		return false;
	bpf_loop(path_len, hash_step, &h, 0);
	sig = bpf_map_lookup_elem(&kill_exec, &h.hash);
	if (!sig)
		return false;
	return bpf_send_signal(*sig) == 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(vigil_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	struct scratch *s;
	struct vigil_exec *e;
	struct file *file;
	unsigned long arg_start, arg_end;
	__u32 off, path_len, args_len;
	long fn_len;
	__u64 size;

	if (!event_enabled(VIGIL_EVENT_EXEC))
		return 0;
	s = scratch_get();
	if (!s)
		return 0;
	e = (struct vigil_exec *)s->record;
	fill_header(&e->hdr, VIGIL_EVENT_EXEC);
	fill_proc(&e->proc, task);
	e->flags = 0;

	file = bprm->file;
	e->inode = BPF_CORE_READ(file, f_inode, i_ino);
	e->mount_id = BPF_CORE_READ(container_of(file->f_path.mnt, struct mount, mnt), mnt_id);
	off = resolve_path(s, file->f_path.dentry, file->f_path.mnt, task, &e->flags);
	off &= PATH_MASK;
	path_len = VIGIL_PATH_MAX - off;
	if (path_len > VIGIL_PATH_MAX)
		path_len = VIGIL_PATH_MAX;
	bpf_probe_read_kernel(e->data, path_len, &s->path[off]);
	e->path_len = path_len;
	if (kill_if_listed(task, off, path_len))
		e->flags |= VIGIL_F_KILLED;

	arg_start = BPF_CORE_READ(task, mm, arg_start);
	arg_end = BPF_CORE_READ(task, mm, arg_end);
	args_len = arg_end > arg_start ? arg_end - arg_start : 0;
	if (args_len > VIGIL_ARGS_MAX) {
		args_len = VIGIL_ARGS_MAX;
		e->flags |= VIGIL_F_ARGS_TRUNCATED;
	}
	/* No-op masks that let the verifier see the bounds the checks above
	 * already guarantee; the barrier keeps clang from dropping them. */
	barrier_var(args_len);
	args_len &= 2 * VIGIL_ARGS_MAX - 1;
	barrier_var(path_len);
	path_len &= 2 * VIGIL_PATH_MAX - 1;
	if (bpf_probe_read_user(&e->data[path_len], args_len, (void *)arg_start) != 0)
		args_len = 0;
	e->args_len = args_len;

	fn_len = bpf_probe_read_kernel_str(&e->data[(path_len + args_len) & (2 * VIGIL_PATH_MAX - 1)],
					   FILENAME_MAX_LEN, BPF_CORE_READ(bprm, filename));
	e->filename_len = fn_len > 0 ? fn_len : 0;

	size = sizeof(*e) + path_len + args_len + e->filename_len;
	submit_record(e, size, VIGIL_EVENT_EXEC);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(vigil_fork, struct task_struct *parent, struct task_struct *child)
{
	struct scratch *s;
	struct vigil_fork *f;
	bool thread;

	if (!event_enabled(VIGIL_EVENT_FORK))
		return 0;
	thread = BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid);
	if (thread && !emit_threads)
		return 0;
	s = scratch_get();
	if (!s)
		return 0;
	f = (struct vigil_fork *)s->record;
	fill_header(&f->hdr, VIGIL_EVENT_FORK);
	fill_proc(&f->proc, child);
	f->flags = thread ? VIGIL_F_THREAD : 0;
	f->pad = 0;
	submit_record(f, sizeof(*f), VIGIL_EVENT_FORK);
	return 0;
}

/* Fires for every exiting thread; only the last one ends the process.
 * signal->live is already decremented when the tracepoint fires, on kernels
 * with and without the group_dead argument, so it works on both. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(vigil_exit, struct task_struct *task)
{
	struct scratch *s;
	struct vigil_exit *x;

	if (!event_enabled(VIGIL_EVENT_EXIT))
		return 0;
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	s = scratch_get();
	if (!s)
		return 0;
	x = (struct vigil_exit *)s->record;
	fill_header(&x->hdr, VIGIL_EVENT_EXIT);
	fill_proc(&x->proc, task);
	x->exit_code = BPF_CORE_READ(task, exit_code);
	x->pad = 0;
	submit_record(x, sizeof(*x), VIGIL_EVENT_EXIT);
	return 0;
}
