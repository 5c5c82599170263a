/* vigil_abi.h - the records the kernel side sends up the ring buffer.
 *
 * Both sides include this file: the BPF programs fill these structs, the
 * user-space decoder (sensor/decode.c) reads them. Every record starts with
 * struct vigil_header; `size` is the record's full length, so a decoder can
 * check it before touching anything else. Variable-length data (paths,
 * argv) lives in the trailing data[] area and is addressed by length fields,
 * in the order the struct lists them. Bump VIGIL_ABI_VERSION when a layout
 * changes. */
#ifndef VIGIL_ABI_H
#define VIGIL_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define VIGIL_ABI_VERSION 1

enum vigil_event_type {
	VIGIL_EVENT_EXEC = 1,
	VIGIL_EVENT_FORK = 2,
	VIGIL_EVENT_EXIT = 3,
	VIGIL_EVENT_TYPE_MAX, /* one past the last; sizes the counter maps */
};

/* Kernel-side buffer sizes. A path or argv longer than these is cut and the
 * record says so in its flags: nothing is shortened silently. */
#define VIGIL_PATH_MAX 4096
#define VIGIL_ARGS_MAX 4096
#define VIGIL_PATH_DEPTH_MAX 64

/* Flags shared by records. */
#define VIGIL_F_PATH_TRUNCATED  (1u << 0) /* deeper or longer than the buffers */
#define VIGIL_F_ARGS_TRUNCATED  (1u << 1)
#define VIGIL_F_THREAD          (1u << 2) /* fork: clone(CLONE_THREAD) */
#define VIGIL_F_PATH_UNRESOLVED (1u << 3) /* no file object to walk */

struct vigil_header {
	__u16 type;    /* enum vigil_event_type */
	__u16 version; /* VIGIL_ABI_VERSION */
	__u32 size;    /* bytes in the whole record, header included */
	__u64 timestamp_ns; /* boot clock (bpf_ktime_get_boot_ns) */
};

/* The task an event is about, read from its task_struct. */
struct vigil_proc {
	__u32 pid; /* tgid */
	__u32 tid;
	__u32 ppid; /* real_parent's tgid */
	__u32 uid, gid, euid, egid, fsuid, fsgid;
	__u32 auid;
	__u64 cap_effective;
	__u64 cap_permitted;
	__u64 start_ns;        /* task->start_boottime */
	__u64 parent_start_ns; /* real_parent->start_boottime */
	__u64 cgroup_id;       /* cgroup v2 directory inode */
	__u32 mntns, netns, pidns;
	__u32 tty_nr; /* new_encode_dev(major, minor) of the controlling tty; 0 = none */
	char comm[16];
};

/* exec: the process after a successful execve/execveat. */
struct vigil_exec {
	struct vigil_header hdr;
	struct vigil_proc proc;
	__u64 inode;    /* of the executable */
	__u32 mount_id; /* of the mount the executable is on */
	__u32 flags;    /* VIGIL_F_* */
	__u16 path_len; /* bytes of data[] holding the path, NUL included */
	__u16 args_len; /* bytes after the path holding argv, each string NUL-terminated */
	__u16 filename_len; /* bytes after args: the filename as given to execve */
	__u16 pad;
	char data[];
};

/* fork: a new task (process or thread); proc describes the child. */
struct vigil_fork {
	struct vigil_header hdr;
	struct vigil_proc proc;
	__u32 flags; /* VIGIL_F_THREAD */
	__u32 pad;
};

/* exit: the last thread of a process is gone. */
struct vigil_exit {
	struct vigil_header hdr;
	struct vigil_proc proc;
	__u32 exit_code; /* as wait(2) reports it: (code << 8) | signal | 0x80 core */
	__u32 pad;
};

/* Counters the kernel keeps per event type, in a per-CPU array indexed by
 * enum vigil_event_type. User space sums the CPUs. */
struct vigil_counters {
	__u64 sent;    /* records submitted to the ring buffer */
	__u64 dropped; /* reservation or output failed: ring buffer full */
};

/* Knobs user space sets before attach (in the object's .rodata/.bss). */
#define VIGIL_WAKEUP_BYTES_DEFAULT (256 * 1024)

#endif
