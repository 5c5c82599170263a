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

#define VIGIL_ABI_VERSION 2

/* Event types. The user-space enum (sensor/event.h) uses the same numbers.
 * Types after EXIT come from syscalls and share struct vigil_syscall. */
enum vigil_event_type {
	VIGIL_EVENT_EXEC = 1,
	VIGIL_EVENT_FORK,
	VIGIL_EVENT_EXIT,
	/* file */
	VIGIL_EVENT_OPEN,
	VIGIL_EVENT_MKDIR,
	VIGIL_EVENT_RMDIR,
	VIGIL_EVENT_UNLINK,
	VIGIL_EVENT_RENAME,
	VIGIL_EVENT_LINK,
	VIGIL_EVENT_SYMLINK,
	VIGIL_EVENT_CHMOD,
	VIGIL_EVENT_CHOWN,
	VIGIL_EVENT_UTIMES,
	VIGIL_EVENT_TRUNCATE,
	VIGIL_EVENT_SETXATTR,
	VIGIL_EVENT_REMOVEXATTR,
	VIGIL_EVENT_CHDIR,
	/* process */
	VIGIL_EVENT_SETUID,
	VIGIL_EVENT_SETGID,
	VIGIL_EVENT_CAPSET,
	VIGIL_EVENT_PTRACE,
	VIGIL_EVENT_SIGNAL,
	VIGIL_EVENT_PRCTL,
	VIGIL_EVENT_SETRLIMIT,
	/* kernel */
	VIGIL_EVENT_LOAD_MODULE,
	VIGIL_EVENT_UNLOAD_MODULE,
	VIGIL_EVENT_BPF,
	VIGIL_EVENT_MOUNT,
	VIGIL_EVENT_UMOUNT,
	VIGIL_EVENT_MEMFD_CREATE,
	VIGIL_EVENT_MMAP,
	VIGIL_EVENT_MPROTECT,
	VIGIL_EVENT_UNSHARE,
	VIGIL_EVENT_SETNS,
	/* network */
	VIGIL_EVENT_CONNECT,
	VIGIL_EVENT_BIND,
	VIGIL_EVENT_ACCEPT,
	VIGIL_EVENT_LISTEN,
	VIGIL_EVENT_TYPE_MAX, /* one past the last; sizes the counter maps */
};

/* Kernel-side buffer sizes. A path or argv longer than these is cut and the
 * record says so in its flags: nothing is shortened silently. */
#define VIGIL_PATH_MAX 4096
#define VIGIL_ARGS_MAX 4096
#define VIGIL_PATH_DEPTH_MAX 64
#define VIGIL_CGROUP_NAME_MAX 96

/* Flags shared by records. */
#define VIGIL_F_PATH_TRUNCATED  (1u << 0) /* deeper or longer than the buffers */
#define VIGIL_F_ARGS_TRUNCATED  (1u << 1)
#define VIGIL_F_THREAD          (1u << 2) /* fork: clone(CLONE_THREAD) */
#define VIGIL_F_PATH_UNRESOLVED (1u << 3) /* no file object to walk */
#define VIGIL_F_KILLED          (1u << 4) /* exec: a kill rule signalled it in the kernel */

/* FNV-1a, 64 bits: how the kernel names an executable path for the
 * in-kernel kill list (user space hashes the rules' paths the same way). */
#define VIGIL_FNV_OFFSET 0xcbf29ce484222325ull
#define VIGIL_FNV_PRIME 0x100000001b3ull

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
	/* The cgroup v2 directory's own name: for a container, its id or
	 * "cri-containerd-<id>.scope". Read in the kernel so even a container
	 * gone before user space looks is attributed. */
	char cgroup_name[VIGIL_CGROUP_NAME_MAX];
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

/* How a path was obtained. */
enum vigil_path_source {
	VIGIL_PATH_NONE = 0,
	VIGIL_PATH_FROM_FILE,  /* walked from the open file the kernel holds (canonical) */
	VIGIL_PATH_FROM_CWD,   /* walked from the task's working directory (canonical) */
	VIGIL_PATH_FROM_ARG,   /* the syscall's path argument, joined to its canonical
				* dirfd or cwd: "..", "." and symlinks after the base are
				* as the caller wrote them */
};

/* A file an event is about. */
struct vigil_file {
	__u64 inode;
	__u64 fs_magic; /* superblock magic: the filesystem type */
	__u32 mount_id;
	__u32 mode;     /* i_mode: type and permission bits */
	__u32 uid, gid; /* owner */
	__u16 path_len; /* bytes of data[] holding the path, NUL included; 0 = none */
	__u8 source;    /* enum vigil_path_source */
	__u8 flags;     /* VIGIL_F_PATH_TRUNCATED */
	__u32 pad;
};

/* A network endpoint. */
struct vigil_addr {
	__u16 family; /* AF_INET, AF_INET6, AF_UNIX; 0 = none */
	__u16 port;   /* host byte order */
	__u32 pad;
	__u8 ip[16];  /* IPv4 in the first 4 bytes */
};

/* Every syscall event. args[] holds the raw arguments, with pointed-to
 * structures the event needs read in place (openat2's how: flags into
 * args[2], mode into args[3]; rlimits: cur into args[4], max into args[5]).
 * data[] holds, in order: file[0]'s path, file[1]'s path, str, str2. */
struct vigil_syscall {
	struct vigil_header hdr;
	struct vigil_proc proc;
	__s64 retval;
	__u64 args[6];
	__u32 nr; /* syscall number */
	__u32 flags;
	struct vigil_file file[2];
	struct vigil_addr addr;
	__u16 str_len;  /* a string argument (xattr name, module name, ...), NUL included */
	__u16 str2_len; /* a second one (mount's fs type) */
	__u32 revision; /* discarder revision when the call returned (see below) */
	char data[];
};

#define VIGIL_STR_MAX 256
#define VIGIL_SYSCALL_MAX 512 /* syscall numbers covered by the spec table */

/* What to capture for one syscall, set by user space per syscall number in
 * the syscall_specs map. Argument indexes are 0-5; -1 means none. */
struct vigil_syscall_spec {
	__u8 event_type; /* 0 = not traced */
	__s8 path_arg, dirfd_arg;   /* a user path and the dirfd it is relative to */
	__s8 path2_arg, dirfd2_arg; /* a second path (rename/link destination) */
	__s8 fd_arg;                /* an fd argument whose file or socket is the subject */
	__s8 str_arg, str2_arg;     /* user strings */
	__s8 addr_arg;              /* a user sockaddr; its length is the next argument */
	__s8 prot_arg;              /* with VIGIL_SPEC_WX_ONLY: the protection argument */
	__u16 spec_flags;           /* VIGIL_SPEC_* */
	__s8 flags_arg;             /* open flags, for the open approvers; -1: always writes */
	__u8 pad[3];
};

/* In-kernel approvers for open, computed from the loaded rules: an open
 * reaches user space only if its flags share a bit with flags_mask or the
 * opened file's name is in the open_basenames map. Disabled (everything
 * passes) when some open rule cannot be decided from flags or name. */
struct vigil_open_filter {
	__u32 enabled;
	__u32 pad;
	__u64 flags_mask;
};
#define VIGIL_BASENAME_MAX 64

/* Discarders: files user space proved no rule can match, by inode. An
 * entry holds the revision it was proved at; any call that could give an
 * inode another path (rename, link, unlink, mount...) bumps the revision,
 * so every older entry stops counting. Safe, if short-lived on nodes that
 * rename a lot. */
struct vigil_discarder_key {
	__u64 inode;
	__u32 mount_id;
	__u32 pad;
};

#define VIGIL_SPEC_RET_FD    (1u << 0) /* the return value is an fd: its file */
#define VIGIL_SPEC_CWD_AFTER (1u << 1) /* the file is the new working directory */
#define VIGIL_SPEC_OPEN_HOW  (1u << 2) /* args[2] points at struct open_how */
#define VIGIL_SPEC_RLIMIT    (1u << 3) /* args[str_arg] points at struct rlimit */
#define VIGIL_SPEC_SOCK_LOCAL (1u << 4) /* fd_arg is a socket: its local address */
#define VIGIL_SPEC_SOCK_PEER_RET (1u << 5) /* the returned fd is a socket: its peer */
#define VIGIL_SPEC_WX_ONLY   (1u << 6) /* only when prot_arg has PROT_WRITE|PROT_EXEC */
#define VIGIL_SPEC_RAW_STR   (1u << 7) /* str_arg points at bytes, not a string */
#define VIGIL_SPEC_SKIP_FAILED (1u << 8) /* a failed call is not an event */

/* Counters the kernel keeps per event type, in a per-CPU array indexed by
 * enum vigil_event_type. User space sums the CPUs. */
struct vigil_counters {
	__u64 sent;     /* records submitted to the ring buffer */
	__u64 dropped;  /* reservation or output failed: ring buffer full */
	__u64 filtered;  /* an approver decided in the kernel that no rule can match */
	__u64 discarded; /* a discarder did */
};

/* Knobs user space sets before attach (in the object's .rodata/.bss). */
#define VIGIL_WAKEUP_BYTES_DEFAULT (256 * 1024)

#endif
