/* bpf_env.h - make the node ready for loading BPF programs.
 *
 * Run once at start-up, before any BPF object is opened. Every step is
 * idempotent and no failure is fatal here: tp_btf programs and ring buffers
 * need neither bpffs nor tracefs nor a raised memlock limit, so the caller
 * decides (from the report and from features.h) whether it can go on. */
#ifndef VIGIL_BPF_ENV_H
#define VIGIL_BPF_ENV_H

#include <stdbool.h>

#define BPF_ENV_BPFFS_PATH   "/sys/fs/bpf"
#define BPF_ENV_TRACEFS_PATH "/sys/kernel/tracing"

enum bpf_env_mount_state {
	BPF_ENV_MOUNT_ALREADY, /* found in /proc/self/mountinfo */
	BPF_ENV_MOUNT_DONE,    /* we mounted it */
	BPF_ENV_MOUNT_FAILED,  /* mount(2) failed; see the errno field */
};

struct bpf_env_report {
	enum bpf_env_mount_state bpffs;
	int bpffs_errno;
	enum bpf_env_mount_state tracefs;
	int tracefs_errno;
	/* RLIMIT_MEMLOCK is unlimited (it was, or we raised it). When false,
	 * memlock_errno says why (EPERM without CAP_SYS_RESOURCE); harmless on
	 * kernels >= 5.11, which charge BPF memory to the cgroup. */
	bool memlock_unlimited;
	int memlock_errno;
};

/* Mounts bpffs and tracefs when missing, tries to lift RLIMIT_MEMLOCK and
 * routes libbpf's messages to log.h. Logs what it did. report may be NULL.
 * Returns 0 when both filesystems are mounted afterwards, else the negative
 * errno of the first mount that failed. */
int bpf_env_prepare(struct bpf_env_report *report);

/* Sends libbpf's messages to log.h: warnings as warn, info as info, debug
 * as debug (log.h drops them unless the level is debug). Idempotent. */
void bpf_env_route_libbpf_logs(void);

/* Whether a filesystem of type fstype (e.g. "bpf") is mounted exactly at
 * mount_point, according to a mountinfo file (normally
 * "/proc/self/mountinfo"). Octal escapes such as "\040" in the file are
 * decoded. Returns 1 if found, 0 if not, -errno if the file can't be read. */
int bpf_env_is_mounted(const char *mountinfo_path, const char *mount_point,
		       const char *fstype);

/* First mount point of a filesystem of type fstype, copied into out.
 * Returns 1 if found, 0 if not, -errno on a read error or if out is too
 * small. */
int bpf_env_find_mount(const char *mountinfo_path, const char *fstype,
		       char *out, unsigned long out_size);

const char *bpf_env_mount_state_name(enum bpf_env_mount_state state);

#endif
