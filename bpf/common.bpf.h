/* common.bpf.h - what every Vigil BPF program shares: the ring buffer, the
 * per-type counters, the scratch space, and the helpers that describe a task
 * and resolve a path from kernel objects.
 *
 * The maps and knobs are defined once, in vigil.bpf.c; the feature files
 * (process.bpf.c, ...) see them through the extern declarations below, and
 * `bpftool gen object` links all of them into one object. */
#ifndef VIGIL_COMMON_BPF_H
#define VIGIL_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "vigil_abi.h"

/* One record is composed in per-CPU scratch space, then copied to the ring
 * buffer with its real length, so small events cost small copies. */
#define SCRATCH_RECORD_SIZE 16384
#define PATH_BUF_SIZE (VIGIL_PATH_MAX + 256) /* room for one name past the mask */
#define PATH_MASK (VIGIL_PATH_MAX - 1)

struct scratch {
	char record[SCRATCH_RECORD_SIZE];
	char path[PATH_BUF_SIZE];
	__u32 pos; /* write position in a record built across tail calls */
};

struct events_map {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 * 1024 * 1024);
};

struct counters_map {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VIGIL_EVENT_TYPE_MAX);
	__type(key, __u32);
	__type(value, struct vigil_counters);
};

struct scratch_map {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
};

extern struct events_map events SEC(".maps");
extern struct counters_map counters SEC(".maps");
extern struct scratch_map scratch SEC(".maps");

/* Set by user space before load. */
extern const volatile __u64 wakeup_bytes;
extern const volatile __u32 emit_threads;
/* Bit (1 << type) set when user space wants that event type; writable at
 * run time (policy reloads change it). */
extern volatile __u64 enabled_events;

static __always_inline bool event_enabled(__u32 type)
{
	return enabled_events & (1ull << type);
}

static __always_inline struct scratch *scratch_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&scratch, &zero);
}

static __always_inline void count_event(__u32 type, bool dropped)
{
	struct vigil_counters *c = bpf_map_lookup_elem(&counters, &type);

	if (!c)
		return;
	if (dropped)
		c->dropped++;
	else
		c->sent++;
}

static __always_inline void count_filtered(__u32 type)
{
	struct vigil_counters *c = bpf_map_lookup_elem(&counters, &type);

	if (c)
		c->filtered++;
}

static __always_inline void count_discarded(__u32 type)
{
	struct vigil_counters *c = bpf_map_lookup_elem(&counters, &type);

	if (c)
		c->discarded++;
}

/* Wake the consumer only once enough data waits: a wake-up per record costs
 * more than the record itself (kernel-notes: 3.7x vs 1.25x on open/close).
 * The consumer also polls on a short timer, so latency stays bounded. */
static __always_inline __u64 wakeup_flags(void)
{
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

/* Sends the first `size` bytes of the scratch record and counts the result. */
static __always_inline void submit_record(void *record, __u64 size, __u32 type)
{
	struct vigil_header *h = record;

	if (size > SCRATCH_RECORD_SIZE)
		size = SCRATCH_RECORD_SIZE;
	h->size = size;
	count_event(type, bpf_ringbuf_output(&events, record, size, wakeup_flags()) != 0);
}

static __always_inline void fill_header(struct vigil_header *h, __u16 type)
{
	h->type = type;
	h->version = VIGIL_ABI_VERSION;
	h->timestamp_ns = bpf_ktime_get_boot_ns();
}

/* The encoding /proc/<pid>/stat uses for tty_nr. */
static __always_inline __u32 encode_dev(__u32 major, __u32 minor)
{
	return (minor & 0xff) | (major << 8) | ((minor & ~0xffu) << 12);
}

/* Reads go straight through BTF pointers (plain loads, with CO-RE
 * relocations) rather than bpf_probe_read_kernel calls: task is always a
 * trusted pointer here (a tp_btf argument or the current task), and one
 * helper call per field made this the most expensive part of every event. */
static __always_inline void fill_proc(struct vigil_proc *p, struct task_struct *task)
{
	const struct cred *cred = task->cred;
	struct task_struct *parent = task->real_parent;
	struct tty_struct *tty = task->signal->tty;
	struct kernfs_node *kn = task->cgroups->dfl_cgrp->kn;
	struct nsproxy *ns = task->nsproxy;

	p->pid = task->tgid;
	p->tid = task->pid;
	p->ppid = parent->tgid;
	/* A process is named by its leader's start time: the thread that
	 * reports an event (or exits last) may be another one. */
	p->start_ns = task->group_leader->start_boottime;
	p->parent_start_ns = parent->group_leader->start_boottime;
	p->uid = cred->uid.val;
	p->gid = cred->gid.val;
	p->euid = cred->euid.val;
	p->egid = cred->egid.val;
	p->fsuid = cred->fsuid.val;
	p->fsgid = cred->fsgid.val;
	/* kernel_cap_t is a u64 since 6.3 and two u32 before: 8 bytes,
	 * same little-endian value either way. */
	bpf_probe_read_kernel(&p->cap_effective, 8, &cred->cap_effective);
	bpf_probe_read_kernel(&p->cap_permitted, 8, &cred->cap_permitted);
	if (bpf_core_field_exists(task->loginuid))
		p->auid = task->loginuid.val;
	else
		p->auid = (__u32)-1;
	p->cgroup_id = kn->id;
	/* nsproxy is gone once an exiting task has left its namespaces. */
	p->mntns = ns ? ns->mnt_ns->ns.inum : 0;
	p->netns = ns ? ns->net_ns->ns.inum : 0;
	p->pidns = ns ? ns->pid_ns_for_children->ns.inum : 0;
	p->tty_nr = 0;
	if (tty)
		p->tty_nr = encode_dev(tty->driver->major, tty->driver->minor_start + tty->index);
	bpf_probe_read_kernel(p->comm, sizeof(p->comm), task->comm);
	/* kn->name is a pointer: read the string it points to. */
	bpf_probe_read_kernel_str(p->cgroup_name, sizeof(p->cgroup_name), kn->name);
}

/* State of one path walk, shared with the bpf_loop callback. */
struct path_walk {
	struct dentry *dentry;
	struct vfsmount *vfsmnt;
	struct mount *mnt;
	struct dentry *root_dentry;
	struct vfsmount *root_mnt;
	__u32 off;
	__u32 flags;
	bool done;
};

/* One step up the tree: a name, or a jump across a mount point. Runs under
 * bpf_loop so the verifier checks the body once, not once per level. */
static long path_walk_step(__u32 i, void *ctx)
{
	struct path_walk *w = ctx;
	struct scratch *s = scratch_get();
	/* Locals, not w->...: CO-RE reads must start from a kernel type. */
	struct dentry *dentry = w->dentry, *parent;
	struct vfsmount *vfsmnt = w->vfsmnt;
	struct mount *mnt = w->mnt;
	struct qstr name;
	__u32 len;

	if (!s)
		return 1;
	if (dentry == w->root_dentry && vfsmnt == w->root_mnt) {
		w->done = true;
		return 1;
	}
	if (dentry == BPF_CORE_READ(vfsmnt, mnt_root)) {
		struct mount *up = BPF_CORE_READ(mnt, mnt_parent);

		if (up == mnt) { /* root of the mount namespace, or detached */
			w->done = true;
			return 1;
		}
		w->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = up;
		w->vfsmnt = (struct vfsmount *)((char *)up + bpf_core_field_offset(struct mount, mnt));
		return 0;
	}
	parent = BPF_CORE_READ(dentry, d_parent);
	if (parent == dentry) {
		w->done = true;
		return 1;
	}
	name = BPF_CORE_READ(dentry, d_name);
	len = name.len & 0xff;
	if (len + 1 > w->off) {
		w->flags |= VIGIL_F_PATH_TRUNCATED;
		return 1;
	}
	w->off -= len + 1;
	bpf_probe_read_kernel(&s->path[(w->off + 1) & PATH_MASK], len, name.name);
	s->path[w->off & PATH_MASK] = '/';
	w->dentry = parent;
	return 0;
}

/* Resolves (dentry, vfsmount) to a path as `task` sees it: the walk climbs
 * d_parent, crosses mount points through mnt_mountpoint/mnt_parent, and
 * stops at the task's root, so a process in a container gets the path it
 * sees. The path is built backwards in the scratch path buffer and ends at
 * path[VIGIL_PATH_MAX-1]; the return value is the offset of its first
 * byte. */
static __always_inline __u32 resolve_path(struct scratch *s, struct dentry *dentry,
					  struct vfsmount *vfsmnt, struct task_struct *task,
					  __u32 *flags)
{
	struct path_walk w = {
		.dentry = dentry,
		.vfsmnt = vfsmnt,
		.mnt = container_of(vfsmnt, struct mount, mnt),
		.root_dentry = BPF_CORE_READ(task, fs, root.dentry),
		.root_mnt = BPF_CORE_READ(task, fs, root.mnt),
		.off = VIGIL_PATH_MAX - 1,
	};

	s->path[VIGIL_PATH_MAX - 1] = '\0';
	bpf_loop(VIGIL_PATH_DEPTH_MAX, path_walk_step, &w, 0);
	if (!w.done)
		w.flags |= VIGIL_F_PATH_TRUNCATED;
	if (w.off >= VIGIL_PATH_MAX - 1) { /* the root itself */
		w.off = VIGIL_PATH_MAX - 2;
		s->path[VIGIL_PATH_MAX - 2] = '/';
	}
	*flags |= w.flags;
	return w.off;
}

#endif
