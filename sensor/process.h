/* process.h - what Vigil knows about one process.
 *
 * A plain value type shared by the decoder (which fills it from a kernel
 * record), the /proc snapshot (which fills it from /proc/<pid>), the process
 * cache (which keeps copies) and the serializers (which print it).
 *
 * Times are nanoseconds on the boot clock (CLOCK_BOOTTIME), the clock the
 * kernel stamps events and task start times with; serializers convert them
 * to wall-clock time. A process is identified by (pid, start_ns): pids are
 * reused, start times are not. */
#ifndef VIGIL_PROCESS_H
#define VIGIL_PROCESS_H

#include <stdbool.h>
#include <stdint.h>

#define PROCESS_COMM_LEN 16

enum process_source {
	PROCESS_FROM_EVENT,    /* learnt from a kernel event */
	PROCESS_FROM_SNAPSHOT, /* read from /proc before the event stream started */
};

struct credentials {
	uint32_t uid, gid, euid, egid, fsuid, fsgid;
	uint32_t auid; /* login uid; UINT32_MAX when unset */
	uint64_t cap_effective;
	uint64_t cap_permitted;
};

struct process {
	uint32_t pid;  /* thread group id, as the host sees it */
	uint32_t tid;
	uint32_t ppid; /* real parent's thread group id */
	uint64_t start_ns;        /* task start, boot clock; with pid the identity */
	uint64_t parent_start_ns; /* the parent's start_ns, to detect pid reuse */
	uint64_t exec_ns;         /* last exec, boot clock; 0 if never seen */
	uint64_t exit_ns;         /* 0 while running */
	struct credentials cred;
	uint64_t cgroup_id; /* inode of the cgroup v2 directory */
	char cgroup_name[96]; /* that directory's name ("" if unknown) */
	uint32_t mntns, netns, pidns; /* namespace inode numbers; 0 if unknown */
	uint32_t tty_nr;    /* encoded dev_t of the controlling tty; 0 if none */
	char comm[PROCESS_COMM_LEN];

	/* Executable. Strings are NUL-terminated and owned by whoever filled the
	 * struct (a decoded record, the snapshot buffer, the cache). */
	const char *path;     /* canonical path as the process sees it; NULL if unknown */
	uint64_t inode;
	uint32_t mount_id;
	bool path_truncated;

	/* argv as NUL-separated strings: "ls\0-l\0/tmp\0". */
	const char *args;
	uint32_t args_len; /* bytes in args, including every NUL */
	uint32_t argc;     /* strings in args */
	bool args_truncated;

	bool is_thread; /* created by clone(CLONE_THREAD) */
	enum process_source source;
};

/* /proc reports start times in clock ticks (10 ms); the kernel in ns. Two
 * start times name the same process when they fall in the same tick. */
static inline bool process_same_start(uint64_t a_ns, uint64_t b_ns)
{
	const uint64_t tick = 10000000ull;
	return a_ns / tick == b_ns / tick;
}

#endif
