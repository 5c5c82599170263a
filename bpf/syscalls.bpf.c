/* syscalls.bpf.c - file, credential, kernel and network activity, from the
 * raw syscall tracepoints.
 *
 * sys_enter keeps the arguments of the syscalls user space asked for (the
 * syscall_specs table says which, and what to capture); sys_exit turns them
 * into one record with the return value. Paths come from kernel objects
 * wherever the kernel holds one after the call: the returned or passed fd's
 * file, the new working directory. Otherwise the path argument is joined to
 * its dirfd's (or the cwd's) canonical path, walked in the kernel, and the
 * record says so. Everything that costs more than a map lookup happens only
 * for syscalls a rule or a reader wants. */
#include "common.bpf.h"

#include <bpf/bpf_endian.h>

#define AT_FDCWD -100
#define PROT_WRITE 0x2
#define PROT_EXEC 0x4
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define DATA_MASK (2 * VIGIL_PATH_MAX - 1)

struct inflight {
	__u64 args[8]; /* 6 used; 8 lets an index be masked with & 7 */
	__u32 nr;
	__u32 check_name; /* an open not approved by its flags: check the name at exit */
	__u32 active;     /* a call is under way */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vigil_open_filter);
} open_filter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct vigil_discarder_key);
	__type(value, __u32);
} discarders SEC(".maps");

/* Syscalls that can change which path reaches an inode, one bit each; set
 * by user space. A bitmap, not a map: it is read on every syscall. */
volatile __u64 path_changers[VIGIL_SYSCALL_MAX / 64];

volatile __u32 discarder_revision;
volatile __u32 discarders_enabled;

struct basename_key {
	char name[VIGIL_BASENAME_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct basename_key);
	__type(value, __u8);
} open_basenames SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VIGIL_SYSCALL_MAX);
	__type(key, __u32);
	__type(value, struct vigil_syscall_spec);
} syscall_specs SEC(".maps");

/* Arguments between enter and exit, in the thread's own storage: no hash,
 * no lock on the hot path, and freed with the task. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct inflight);
} inflight SEC(".maps");

/* Bumped before a call that can move paths and again after it, so an open
 * proved while the change was under way cannot outlive it. */
static __always_inline void bump_if_path_changer(__u32 nr)
{
	__u32 word = nr >> 6;

	if (!discarders_enabled || nr >= VIGIL_SYSCALL_MAX)
		return;
	barrier_var(word);
	word &= VIGIL_SYSCALL_MAX / 64 - 1;
	if (path_changers[word] & (1ull << (nr & 63)))
		__sync_fetch_and_add(&discarder_revision, 1);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(vigil_sys_enter, struct pt_regs *regs, long id)
{
	struct vigil_syscall_spec *spec;
	struct inflight *in;
	__u64 args[8] = {};
	__u32 nr = (__u32)id;

	if (id < 0 || id >= VIGIL_SYSCALL_MAX)
		return 0;
	bump_if_path_changer(nr);
	spec = bpf_map_lookup_elem(&syscall_specs, &nr);
	if (!spec || !spec->event_type || !event_enabled(spec->event_type))
		return 0;
	args[0] = regs->di;
	args[1] = regs->si;
	args[2] = regs->dx;
	args[3] = regs->r10;
	args[4] = regs->r8;
	args[5] = regs->r9;
	/* mmap/mprotect matter only when a mapping is both writable and
	 * executable; everything else stays in the kernel. */
	if ((spec->spec_flags & VIGIL_SPEC_WX_ONLY) &&
	    (args[spec->prot_arg & 7] & (PROT_WRITE | PROT_EXEC)) != (PROT_WRITE | PROT_EXEC)) {
		count_filtered(spec->event_type);
		return 0;
	}
	in = bpf_task_storage_get(&inflight, bpf_get_current_task_btf(), 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!in)
		return 0;
	for (int i = 0; i < 6; i++)
		in->args[i] = args[i];
	in->check_name = 0;
	if (spec->event_type == VIGIL_EVENT_OPEN && spec->flags_arg >= 0) {
		__u32 zero = 0;
		struct vigil_open_filter *f = bpf_map_lookup_elem(&open_filter, &zero);

		/* Flags are known now; the name only once the file is open. */
		if (f && f->enabled && !(args[spec->flags_arg & 7] & f->flags_mask))
			in->check_name = 1;
	}
	in->nr = nr;
	in->active = 1;
	return 0;
}

static __always_inline struct file *file_from_fd(struct task_struct *task, __s64 fd)
{
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = NULL;

	if (fd < 0 || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

static __always_inline void fill_inode(struct vigil_file *vf, struct inode *inode)
{
	vf->inode = BPF_CORE_READ(inode, i_ino);
	vf->mode = BPF_CORE_READ(inode, i_mode);
	vf->uid = BPF_CORE_READ(inode, i_uid.val);
	vf->gid = BPF_CORE_READ(inode, i_gid.val);
	vf->fs_magic = BPF_CORE_READ(inode, i_sb, s_magic);
}

/* Copies the path resolve_path left in s->path to data[pos]; returns its
 * length with the NUL. */
static __always_inline __u32 copy_walked(struct scratch *s, char *data, __u32 pos, __u32 off)
{
	__u32 len;

	off &= PATH_MASK;
	len = VIGIL_PATH_MAX - off;
	barrier_var(len);
	len &= DATA_MASK;
	if (len > VIGIL_PATH_MAX)
		return 0;
	bpf_probe_read_kernel(&data[pos & DATA_MASK], len, &s->path[off]);
	return len;
}

/* The file behind (dentry, mnt): metadata and canonical path at data[pos]. */
static __always_inline __u32 put_path(struct scratch *s, char *data, __u32 pos, struct vigil_file *vf,
				      struct dentry *dentry, struct vfsmount *mnt,
				      struct task_struct *task, __u8 source)
{
	__u32 flags = 0, off;

	fill_inode(vf, BPF_CORE_READ(dentry, d_inode));
	vf->mount_id = BPF_CORE_READ(container_of(mnt, struct mount, mnt), mnt_id);
	off = resolve_path(s, dentry, mnt, task, &flags);
	vf->flags = flags;
	vf->source = source;
	vf->path_len = copy_walked(s, data, pos, off);
	return vf->path_len;
}

/* A path argument: kept as written when absolute, else joined to the
 * canonical path of its dirfd or of the working directory. */
static __always_inline __u32 put_arg_path(struct scratch *s, char *data, __u32 pos, struct vigil_file *vf,
					  struct task_struct *task, const char *upath, __s64 dirfd)
{
	char first = 0;
	__u32 base = 0, flags = 0, off;
	long n;

	bpf_probe_read_user(&first, 1, upath);
	vf->source = VIGIL_PATH_FROM_ARG;
	if (first != '/') {
		struct dentry *dentry;
		struct vfsmount *mnt;

		if ((int)dirfd == AT_FDCWD) {
			dentry = BPF_CORE_READ(task, fs, pwd.dentry);
			mnt = BPF_CORE_READ(task, fs, pwd.mnt);
		} else {
			struct file *f = file_from_fd(task, dirfd);

			if (!f)
				return 0;
			dentry = BPF_CORE_READ(f, f_path.dentry);
			mnt = BPF_CORE_READ(f, f_path.mnt);
		}
		off = resolve_path(s, dentry, mnt, task, &flags);
		base = copy_walked(s, data, pos, off);
		if (base == 0)
			return 0;
		/* Replace the base's NUL with the separator. */
		data[(pos + base - 1) & DATA_MASK] = '/';
	}
	n = bpf_probe_read_user_str(&data[(pos + base) & DATA_MASK], VIGIL_PATH_MAX, upath);
	if (n <= 0)
		return 0;
	if (base + n > VIGIL_PATH_MAX)
		flags |= VIGIL_F_PATH_TRUNCATED;
	vf->flags = flags;
	vf->path_len = (base + n) & DATA_MASK;
	return vf->path_len;
}

static __always_inline __u32 put_str(char *data, __u32 pos, const char *ustr, bool raw)
{
	long n;

	if (raw) {
		n = 64;
		if (bpf_probe_read_user(&data[pos & DATA_MASK], 64, ustr) != 0)
			return 0;
		return 64;
	}
	n = bpf_probe_read_user_str(&data[pos & DATA_MASK], VIGIL_STR_MAX, ustr);
	return n > 0 ? n : 0;
}

/* An address a user passed (connect, bind). Unix socket paths go to str. */
static __always_inline __u32 put_user_sockaddr(struct vigil_addr *a, char *data, __u32 pos,
					       const char *usa, __u64 len)
{
	__u16 family = 0, port = 0;

	if (bpf_probe_read_user(&family, 2, usa) != 0)
		return 0;
	a->family = family;
	if (family == AF_INET && len >= 8) {
		bpf_probe_read_user(&port, 2, usa + 2);
		bpf_probe_read_user(a->ip, 4, usa + 4);
	} else if (family == AF_INET6 && len >= 24) {
		bpf_probe_read_user(&port, 2, usa + 2);
		bpf_probe_read_user(a->ip, 16, usa + 8);
	} else if (family == AF_UNIX && len > 2) {
		char first = 0;
		long n;

		bpf_probe_read_user(&first, 1, usa + 2);
		if (first) {
			n = bpf_probe_read_user_str(&data[pos & DATA_MASK], 109, usa + 2);
		} else { /* abstract: shown with a leading '@', as ss(8) does */
			__u32 k = len > 3 ? (__u32)len - 3 : 0;

			if (k > 107)
				k = 107;
			barrier_var(k);
			k &= 127;
			data[pos & DATA_MASK] = '@';
			if (k && bpf_probe_read_user(&data[(pos + 1) & DATA_MASK], k, usa + 3) != 0)
				return 0;
			data[(pos + 1 + k) & DATA_MASK] = '\0';
			n = k + 2;
		}
		return n > 0 ? n : 0;
	}
	a->port = bpf_ntohs(port);
	return 0;
}

/* An address the kernel holds for a socket fd: local or peer. */
static __always_inline void put_sock_addr(struct vigil_addr *a, struct file *f, bool peer)
{
	struct socket *sock;
	struct sock *sk;
	__u16 family;

	if (!f || (BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return;
	sock = BPF_CORE_READ(f, private_data);
	sk = BPF_CORE_READ(sock, sk);
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	a->family = family;
	if (family == AF_INET) {
		if (peer) {
			BPF_CORE_READ_INTO((__u32 *)a->ip, sk, __sk_common.skc_daddr);
			a->port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
		} else {
			BPF_CORE_READ_INTO((__u32 *)a->ip, sk, __sk_common.skc_rcv_saddr);
			a->port = BPF_CORE_READ(sk, __sk_common.skc_num);
		}
	} else if (family == AF_INET6) {
		if (peer) {
			BPF_CORE_READ_INTO((struct in6_addr *)a->ip, sk, __sk_common.skc_v6_daddr);
			a->port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
		} else {
			BPF_CORE_READ_INTO((struct in6_addr *)a->ip, sk, __sk_common.skc_v6_rcv_saddr);
			a->port = BPF_CORE_READ(sk, __sk_common.skc_num);
		}
	}
}

/* sys_exit runs in three tail-called stages. Each stage has few branches,
 * and the write position passes between them through the scratch map, so
 * the verifier checks a few paths per stage instead of every combination
 * of everything a syscall can capture. */
enum exit_stage { STAGE_ARG_PATHS, STAGE_FINISH, STAGE_COUNT };

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, STAGE_COUNT);
	__type(key, __u32);
	__type(value, __u32);
} exit_stages SEC(".maps");

struct stage_ctx {
	struct task_struct *task;
	struct vigil_syscall_spec *spec;
	struct inflight *in;
	struct vigil_syscall *e;
	struct scratch *s;
	__u32 tid;
};

/* Finds this thread's call, its spec and the record being built. */
static __always_inline bool stage_enter(struct stage_ctx *c)
{
	__u32 nr;

	c->task = bpf_get_current_task_btf();
	c->tid = (__u32)bpf_get_current_pid_tgid();
	c->in = bpf_task_storage_get(&inflight, c->task, 0, 0);
	if (!c->in || !c->in->active)
		return false;
	nr = c->in->nr;
	c->spec = bpf_map_lookup_elem(&syscall_specs, &nr);
	c->s = scratch_get();
	if (!c->spec || !c->s) {
		c->in->active = 0;
		return false;
	}
	c->e = (struct vigil_syscall *)c->s->record;
	return true;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(vigil_sys_exit, struct pt_regs *regs, long ret)
{
	struct stage_ctx c;
	struct vigil_syscall *e;
	struct dentry *dentry = NULL;
	struct vfsmount *mnt = NULL;
	struct file *f = NULL;
	__u8 source = VIGIL_PATH_FROM_FILE;
	struct file *opened = NULL;
	struct task_struct *task;
	__u16 flags;

	if (regs->orig_ax < VIGIL_SYSCALL_MAX)
		bump_if_path_changer((__u32)regs->orig_ax);
	if (!stage_enter(&c))
		return 0;
	task = c.task;
	flags = c.spec->spec_flags;
	/* The open approvers' second half: the opened file's own name (the
	 * canonical one, after symlinks). A failed open has no file to name:
	 * it goes up, to err on the side of seeing it. */
	if (c.spec->event_type == VIGIL_EVENT_OPEN && ret >= 0 && (c.in->check_name || discarders_enabled))
		opened = file_from_fd(task, ret);
	if (c.in->check_name && ret >= 0) {
		struct file *nf = opened;
		struct basename_key key = {};

		if (nf) {
			const unsigned char *name = BPF_CORE_READ(nf, f_path.dentry, d_name.name);

			bpf_probe_read_kernel_str(key.name, sizeof(key.name), name);
		}
		if (!bpf_map_lookup_elem(&open_basenames, &key)) {
			count_filtered(c.spec->event_type);
			goto drop;
		}
	}
	if (discarders_enabled && c.spec->event_type == VIGIL_EVENT_OPEN && ret >= 0) {
		struct file *df = opened;
		struct vigil_discarder_key dk = {};
		__u32 *rev;

		if (df) {
			struct vfsmount *vmnt = BPF_CORE_READ(df, f_path.mnt);

			dk.inode = BPF_CORE_READ(df, f_inode, i_ino);
			dk.mount_id = BPF_CORE_READ(container_of(vmnt, struct mount, mnt), mnt_id);
			rev = bpf_map_lookup_elem(&discarders, &dk);
			if (rev && *rev == discarder_revision) {
				count_discarded(c.spec->event_type);
				goto drop;
			}
		}
	}
	if ((flags & VIGIL_SPEC_SKIP_FAILED) && ret < 0)
		goto drop;
	/* prlimit64 without a new limit only reads (glibc's getrlimit). */
	if ((flags & VIGIL_SPEC_RLIMIT) && c.spec->str_arg >= 0 && !c.in->args[c.spec->str_arg & 7])
		goto drop;
	e = c.e;
	__builtin_memset(&e->retval, 0, sizeof(*e) - offsetof(struct vigil_syscall, retval));
	fill_header(&e->hdr, c.spec->event_type);
	fill_proc(&e->proc, c.task);
	e->retval = ret;
	e->nr = c.in->nr;
	e->revision = discarder_revision;
	for (int i = 0; i < 6; i++)
		e->args[i] = c.in->args[i];

	if (flags & VIGIL_SPEC_OPEN_HOW) {
		struct open_how how = {};

		bpf_probe_read_user(&how, sizeof(how), (void *)c.in->args[2]);
		e->args[2] = how.flags;
		e->args[3] = how.mode;
	}
	if ((flags & VIGIL_SPEC_RLIMIT) && c.spec->str_arg >= 0) {
		__u64 lim[2] = {};

		bpf_probe_read_user(lim, sizeof(lim), (void *)c.in->args[c.spec->str_arg & 7]);
		e->args[4] = lim[0];
		e->args[5] = lim[1];
	}

	/* file[0]: the subject, from a kernel object when there is one. */
	if ((flags & VIGIL_SPEC_RET_FD) && ret >= 0) {
		f = file_from_fd(c.task, ret);
	} else if ((flags & VIGIL_SPEC_CWD_AFTER) && ret == 0) {
		dentry = BPF_CORE_READ(task, fs, pwd.dentry);
		mnt = BPF_CORE_READ(task, fs, pwd.mnt);
		source = VIGIL_PATH_FROM_CWD;
	} else if (c.spec->fd_arg >= 0 && !(flags & VIGIL_SPEC_SOCK_LOCAL)) {
		f = file_from_fd(c.task, (__s64)c.in->args[c.spec->fd_arg & 7]);
	} else if (c.spec->path_arg >= 0 && c.spec->dirfd_arg >= 0 && !c.in->args[c.spec->path_arg & 7]) {
		/* No path (futimens): the call is about the dirfd itself. */
		f = file_from_fd(c.task, (__s64)c.in->args[c.spec->dirfd_arg & 7]);
	}
	if (f) {
		dentry = BPF_CORE_READ(f, f_path.dentry);
		mnt = BPF_CORE_READ(f, f_path.mnt);
	}
	c.s->pos = 0;
	if (dentry && mnt)
		c.s->pos = put_path(c.s, e->data, 0, &e->file[0], dentry, mnt, c.task, source);
	bpf_tail_call(ctx, &exit_stages, STAGE_ARG_PATHS);
drop:
	c.in->active = 0;
	return 0;
}

/* Paths the kernel holds no object for: joined from the arguments. */
SEC("tp_btf/sys_exit")
int BPF_PROG(vigil_sys_exit_paths, struct pt_regs *regs, long ret)
{
	struct stage_ctx c;
	__u32 pos;

	if (!stage_enter(&c))
		return 0;
	pos = c.s->pos & DATA_MASK;
	if (c.e->file[0].path_len == 0 && c.spec->path_arg >= 0) {
		__s64 dirfd = c.spec->dirfd_arg >= 0 ? (__s64)c.in->args[c.spec->dirfd_arg & 7] : AT_FDCWD;

		pos += put_arg_path(c.s, c.e->data, pos, &c.e->file[0], c.task,
				    (const char *)c.in->args[c.spec->path_arg & 7], dirfd);
	}
	c.s->pos = pos;
	bpf_tail_call(ctx, &exit_stages, STAGE_FINISH);
	c.in->active = 0;
	return 0;
}

/* The second path, strings and addresses; then the record goes out. */
SEC("tp_btf/sys_exit")
int BPF_PROG(vigil_sys_exit_finish, struct pt_regs *regs, long ret)
{
	struct stage_ctx c;
	struct vigil_syscall *e;
	__u32 pos;
	__u16 flags;

	if (!stage_enter(&c))
		return 0;
	e = c.e;
	flags = c.spec->spec_flags;
	pos = c.s->pos & DATA_MASK;
	if (c.spec->path2_arg >= 0) {
		__s64 dirfd = c.spec->dirfd2_arg >= 0 ? (__s64)c.in->args[c.spec->dirfd2_arg & 7] : AT_FDCWD;

		pos += put_arg_path(c.s, e->data, pos, &e->file[1], c.task,
				    (const char *)c.in->args[c.spec->path2_arg & 7], dirfd);
		pos &= DATA_MASK;
	}
	if (c.spec->str_arg >= 0 && !(flags & VIGIL_SPEC_RLIMIT)) {
		e->str_len = put_str(e->data, pos, (const char *)c.in->args[c.spec->str_arg & 7],
				     flags & VIGIL_SPEC_RAW_STR);
		pos = (pos + e->str_len) & DATA_MASK;
	}
	if (c.spec->str2_arg >= 0) {
		e->str2_len = put_str(e->data, pos, (const char *)c.in->args[c.spec->str2_arg & 7], false);
		pos = (pos + e->str2_len) & DATA_MASK;
	}
	if (c.spec->addr_arg >= 0) {
		e->str_len = put_user_sockaddr(&e->addr, e->data, pos,
					       (const char *)c.in->args[c.spec->addr_arg & 7],
					       c.in->args[(c.spec->addr_arg + 1) & 7]);
		pos = (pos + e->str_len) & DATA_MASK;
	} else if ((flags & VIGIL_SPEC_SOCK_LOCAL) && c.spec->fd_arg >= 0) {
		put_sock_addr(&e->addr, file_from_fd(c.task, (__s64)c.in->args[c.spec->fd_arg & 7]), false);
	} else if ((flags & VIGIL_SPEC_SOCK_PEER_RET) && ret >= 0) {
		put_sock_addr(&e->addr, file_from_fd(c.task, ret), true);
	}
	submit_record(e, sizeof(*e) + pos, c.spec->event_type);
	c.in->active = 0;
	return 0;
}
