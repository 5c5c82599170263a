/* proc_snapshot.h - read the processes already running from /proc.
 *
 * The event stream only tells us about processes that fork or exec after
 * the sensor starts. Before it starts, the snapshot walks /proc so that
 * events of older processes (a shell opened an hour ago, a container's
 * entrypoint) still resolve to a process with path, args, credentials,
 * cgroup and ancestry. Each process is handed to a callback as a struct
 * process with source = PROCESS_FROM_SNAPSHOT; kernel threads are skipped.
 *
 * The parsers are exposed so unit tests can feed them strings. */
#ifndef VIGIL_PROC_SNAPSHOT_H
#define VIGIL_PROC_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "process.h"

/* argv is kept up to this many bytes, NULs included (args_truncated past). */
#define PROC_ARGS_MAX 4096
#define PROC_PATH_MAX 4096

/* task->flags bit of a kernel thread (include/linux/sched.h). */
#define PROC_PF_KTHREAD 0x00200000u

struct proc_snapshot_stats {
	unsigned processes;              /* handed to the callback */
	unsigned kernel_threads_skipped;
	unsigned errors;                 /* malformed or unreadable, skipped */
};

/* Storage for the strings of one process read by proc_snapshot_read_pid. */
struct proc_snapshot_buf {
	char path[PROC_PATH_MAX];
	char args[PROC_ARGS_MAX];
};

/* Return values of proc_snapshot_read_pid besides 0 and -errno. */
#define PROC_SNAPSHOT_KTHREAD 1

/* Calls fn for every user-space process under proc_root ("/proc" in
 * production; a fixture dir in tests), skipping kernel threads.
 * cgroup2_root is the cgroup v2 mount ("/sys/fs/cgroup/unified" on hybrid
 * hosts, "/sys/fs/cgroup" on pure v2; NULL = detect from
 * /proc/self/mountinfo; "" = do not resolve cgroup ids).
 * The struct process passed to fn and its strings are valid only during the
 * call. A nonzero return from fn stops the walk and is returned. Processes
 * that exit during the walk are skipped quietly; malformed ones are counted
 * in stats->errors and skipped. Returns 0, fn's value, or -errno when
 * proc_root cannot be read. stats may be NULL. */
int proc_snapshot_walk(const char *proc_root, const char *cgroup2_root,
		       int (*fn)(const struct process *p, void *ctx), void *ctx,
		       struct proc_snapshot_stats *stats);

/* Reads one process. On 0, *p is filled and its strings point into *buf.
 * Returns PROC_SNAPSHOT_KTHREAD for a kernel thread (only pid, ppid, comm
 * filled), -ENOENT when the process is gone, -EINVAL when a file is
 * malformed, another -errno when a required file cannot be read.
 * cgroup2_root as for proc_snapshot_walk (NULL detects on every call). */
int proc_snapshot_read_pid(const char *proc_root, const char *cgroup2_root, uint32_t pid,
			   struct process *p, struct proc_snapshot_buf *buf);

/* Finds the cgroup v2 mount point in /proc/self/mountinfo. 0 or -errno
 * (-ENOENT when there is no cgroup2 mount). */
int proc_detect_cgroup2_root(char *out, size_t out_size);

/* ---- parsers, exposed for unit tests ---- */

/* What /proc/<pid>/stat says beyond what struct process holds. */
struct proc_stat_info {
	char state;           /* R, S, D, Z, ... */
	uint32_t flags;       /* task->flags (PF_*) */
	uint64_t start_ticks; /* field 22, clock ticks since boot */
};

/* Parses /proc/<pid>/stat: pid, tid, ppid, comm, tty_nr, start_ns. comm may
 * contain spaces and ')': it runs to the last ')'. info may be NULL.
 * Returns 0 or -EINVAL. */
int proc_parse_stat(const char *buf, size_t len, struct process *p, struct proc_stat_info *info);

/* Parses /proc/<pid>/status: Uid and Gid (real, effective, saved, fs; all
 * four required, saved is not kept), CapEff, CapPrm, PPid, Tgid (-> pid).
 * Uid and Gid are required; other fields are optional and left untouched
 * when missing. Returns 0 or -EINVAL (missing Uid/Gid, malformed value). */
int proc_parse_status(const char *buf, size_t len, struct process *p);

/* The innermost pid of the NSpid line of /proc/<pid>/status (the pid the
 * process sees for itself). 0 or -EINVAL when missing or malformed. */
int proc_parse_nspid(const char *buf, size_t len, uint32_t *nspid);

/* Copies NUL-separated argv (len bytes of /proc/<pid>/cmdline) into out, at
 * most out_size bytes, always ending in a NUL, and sets p->args, args_len,
 * argc and args_truncated. Give it more than out_size bytes to detect
 * truncation. Empty input sets args to NULL. Returns 0 or -EINVAL. */
int proc_parse_cmdline(const char *buf, size_t len, char *out, size_t out_size, struct process *p);

/* The path of the "0::/path" line of /proc/<pid>/cgroup, copied into out.
 * Returns out, or NULL when there is no such line or it does not fit. */
const char *proc_cgroup_v2_path(const char *buf, size_t len, char *out, size_t out_size);

/* The inode in a namespace link ("mnt:[4026531840]") of the given type.
 * Returns 0 or -EINVAL. */
int proc_parse_ns_link(const char *link, const char *type, uint32_t *ino);

/* The mount point of the first cgroup2 mount in mountinfo text, with octal
 * escapes (\040) decoded. Returns 0, -ENOENT, or -ENAMETOOLONG. */
int proc_parse_mountinfo_cgroup2(const char *buf, size_t len, char *out, size_t out_size);

/* /proc clock ticks (sysconf(_SC_CLK_TCK)) to nanoseconds. */
uint64_t proc_ticks_to_ns(uint64_t ticks);

#endif
