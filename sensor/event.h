/* event.h - one decoded event, as every stage after the decoder sees it.
 *
 * The decoder (decode.c) fills it from a kernel record, the replay platform
 * from a recorded JSON line, the snapshot from /proc. Strings point into the
 * record or buffer the event came from: an event is valid only during the
 * callback that receives it, and a stage that keeps data must copy it. */
#ifndef VIGIL_EVENT_H
#define VIGIL_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../bpf/vigil_abi.h"
#include "process.h"

/* The same numbers as the kernel's (bpf/vigil_abi.h). */
enum event_type {
	EVENT_UNKNOWN = 0,
	EVENT_EXEC = VIGIL_EVENT_EXEC,
	EVENT_FORK = VIGIL_EVENT_FORK,
	EVENT_EXIT = VIGIL_EVENT_EXIT,
	EVENT_OPEN = VIGIL_EVENT_OPEN,
	EVENT_MKDIR = VIGIL_EVENT_MKDIR,
	EVENT_RMDIR = VIGIL_EVENT_RMDIR,
	EVENT_UNLINK = VIGIL_EVENT_UNLINK,
	EVENT_RENAME = VIGIL_EVENT_RENAME,
	EVENT_LINK = VIGIL_EVENT_LINK,
	EVENT_SYMLINK = VIGIL_EVENT_SYMLINK,
	EVENT_CHMOD = VIGIL_EVENT_CHMOD,
	EVENT_CHOWN = VIGIL_EVENT_CHOWN,
	EVENT_UTIMES = VIGIL_EVENT_UTIMES,
	EVENT_TRUNCATE = VIGIL_EVENT_TRUNCATE,
	EVENT_SETXATTR = VIGIL_EVENT_SETXATTR,
	EVENT_REMOVEXATTR = VIGIL_EVENT_REMOVEXATTR,
	EVENT_CHDIR = VIGIL_EVENT_CHDIR,
	EVENT_SETUID = VIGIL_EVENT_SETUID,
	EVENT_SETGID = VIGIL_EVENT_SETGID,
	EVENT_CAPSET = VIGIL_EVENT_CAPSET,
	EVENT_PTRACE = VIGIL_EVENT_PTRACE,
	EVENT_SIGNAL = VIGIL_EVENT_SIGNAL,
	EVENT_PRCTL = VIGIL_EVENT_PRCTL,
	EVENT_SETRLIMIT = VIGIL_EVENT_SETRLIMIT,
	EVENT_LOAD_MODULE = VIGIL_EVENT_LOAD_MODULE,
	EVENT_UNLOAD_MODULE = VIGIL_EVENT_UNLOAD_MODULE,
	EVENT_BPF = VIGIL_EVENT_BPF,
	EVENT_MOUNT = VIGIL_EVENT_MOUNT,
	EVENT_UMOUNT = VIGIL_EVENT_UMOUNT,
	EVENT_MEMFD_CREATE = VIGIL_EVENT_MEMFD_CREATE,
	EVENT_MMAP = VIGIL_EVENT_MMAP,
	EVENT_MPROTECT = VIGIL_EVENT_MPROTECT,
	EVENT_UNSHARE = VIGIL_EVENT_UNSHARE,
	EVENT_SETNS = VIGIL_EVENT_SETNS,
	EVENT_CONNECT = VIGIL_EVENT_CONNECT,
	EVENT_BIND = VIGIL_EVENT_BIND,
	EVENT_ACCEPT = VIGIL_EVENT_ACCEPT,
	EVENT_LISTEN = VIGIL_EVENT_LISTEN,
	EVENT_TYPE_COUNT = VIGIL_EVENT_TYPE_MAX,
};

/* Events after EXIT come from syscalls. */
static inline bool event_is_syscall(enum event_type t)
{
	return t >= EVENT_OPEN && t < EVENT_TYPE_COUNT;
}

enum event_source {
	EVENT_SOURCE_RUNTIME,  /* seen as it happened */
	EVENT_SOURCE_SNAPSHOT, /* synthesized from /proc at start */
};

enum exit_cause { EXIT_EXITED, EXIT_SIGNALED, EXIT_COREDUMPED };

struct exec_data {
	const char *syscall_path; /* the filename given to execve; may be relative */
	bool killed_in_kernel;    /* a kill rule signalled it before it ran */
};

struct exit_data {
	enum exit_cause cause;
	uint32_t code; /* exit status, or the signal number when signaled */
};

enum path_source {
	PATH_SOURCE_NONE = VIGIL_PATH_NONE,
	PATH_FROM_FILE = VIGIL_PATH_FROM_FILE, /* canonical, from the open file */
	PATH_FROM_CWD = VIGIL_PATH_FROM_CWD,   /* canonical, the working directory */
	PATH_FROM_ARG = VIGIL_PATH_FROM_ARG,   /* the argument joined to its dirfd/cwd */
};

struct file_ref {
	const char *path; /* NULL when unknown */
	bool path_truncated;
	enum path_source source;
	uint64_t inode, fs_magic;
	uint32_t mount_id, mode, uid, gid; /* valid when source is FILE or CWD */
};

struct net_addr {
	uint16_t family; /* AF_INET, AF_INET6, AF_UNIX; 0 = none */
	uint16_t port;
	uint8_t ip[16];
	const char *unix_path;
};

/* Which named syscall fields are present. */
enum syscall_field {
	SYSCALL_HAS_FLAGS = 1 << 0,
	SYSCALL_HAS_MODE = 1 << 1,
	SYSCALL_HAS_UID = 1 << 2,
	SYSCALL_HAS_GID = 1 << 3,
	SYSCALL_HAS_PID = 1 << 4,
	SYSCALL_HAS_OP = 1 << 5,
};

struct syscall_data {
	uint32_t nr;
	const char *name; /* "openat" */
	int64_t retval;   /* negative errno on failure */
	uint64_t args[6];
	struct file_ref file;  /* the subject */
	struct file_ref file2; /* rename/link destination */
	const char *str, *str2; /* string arguments (see the event type) */
	size_t str_len;
	struct net_addr addr;
	/* Named fields, from the arguments. */
	unsigned present; /* enum syscall_field bits */
	uint64_t flags, mode;
	uint32_t uid, gid;
	int32_t pid;
	int64_t op; /* signal, ptrace request, prctl option, rlimit resource, bpf cmd, backlog */
	uint64_t rlim_cur, rlim_max;
	uint32_t revision; /* the kernel's discarder revision when the call returned */
};

struct event {
	enum event_type type;
	enum event_source source;
	uint64_t timestamp_ns; /* boot clock */
	/* The process the event is about: for exec the process after exec,
	 * for fork the child, for exit the exiting process. */
	struct process process;
	union {
		struct exec_data exec;
		struct exit_data exit;
		struct syscall_data syscall;
	};
};

/* "exec", "fork", "exit"; "unknown" for anything else. */
const char *event_type_name(enum event_type type);
/* Inverse of event_type_name; EVENT_UNKNOWN if the name is not a type. */
enum event_type event_type_from_name(const char *name);
/* Parses a comma-separated list of type names into a bit mask (1 << type).
 * Returns -1 and names the bad entry in err on an unknown type. */
int event_type_mask_parse(const char *list, uint64_t *mask, char *err, size_t errlen);

#define EVENT_MASK(t) (1ull << (t))
#define EVENT_MASK_ALL (((1ull << EVENT_TYPE_COUNT) - 1) & ~1ull)
#define EVENT_MASK_PROCESS (EVENT_MASK(EVENT_EXEC) | EVENT_MASK(EVENT_FORK) | EVENT_MASK(EVENT_EXIT))

/* A copy of ev that owns its strings (one allocation; free() it). For
 * events that must outlive the callback that received them. NULL if out of
 * memory. */
struct event *event_clone(const struct event *ev);

/* "file", "process", "kernel" or "network". */
const char *event_category(enum event_type type);

#endif
