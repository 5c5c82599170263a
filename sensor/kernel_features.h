/* kernel_features.h - what this kernel lets Vigil use, probed for real.
 *
 * Each feature is tested by doing it (loading a tiny program, creating a
 * map, opening a perf event), never inferred from the kernel version:
 * distributions backport, and sandboxes (gVisor, Firecracker, lockdown)
 * remove. Backs `vigil check` and the "kernel" part of /v1/status. */
#ifndef VIGIL_KERNEL_FEATURES_H
#define VIGIL_KERNEL_FEATURES_H

#include <stdbool.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#define FEATURES_REASON_LEN 128

struct kernel_features {
	bool btf;              /* vmlinux BTF loads (CO-RE, tp_btf) */
	bool ringbuf;          /* BPF_MAP_TYPE_RINGBUF can be created */
	bool tp_btf;           /* BTF tracepoint program loads and attaches */
	bool raw_tp;           /* raw tracepoint program loads and attaches */
	bool kprobes;          /* a kprobe perf event opens */
	bool fentry;           /* fentry program loads */
	bool lsm_bpf;          /* BPF LSM usable: active, and a program attaches */
	bool lsm_bpf_active;   /* "bpf" is among the active LSMs */
	bool send_signal;      /* bpf_send_signal() is allowed in tp_btf */
	bool bpffs_mounted;    /* bpf filesystem at /sys/fs/bpf */
	bool tracefs_mounted;  /* tracefs anywhere (needed by classic tracepoints) */
	bool cgroup2_mounted;  /* a cgroup2 hierarchy (cgroup ids of containers) */
	bool memlock_raisable; /* RLIMIT_MEMLOCK can be made unlimited */

	char kernel_release[65];
	char lsm_list[256];        /* comma-separated active LSMs, "" if unknown */
	char tracefs_path[128];    /* where tracefs is mounted, "" if nowhere */
	char cgroup2_path[128];    /* where cgroup2 is mounted, "" if nowhere */

	/* Why a feature is absent; "" when present. */
	char reason_btf[FEATURES_REASON_LEN];
	char reason_ringbuf[FEATURES_REASON_LEN];
	char reason_tp_btf[FEATURES_REASON_LEN];
	char reason_raw_tp[FEATURES_REASON_LEN];
	char reason_kprobes[FEATURES_REASON_LEN];
	char reason_fentry[FEATURES_REASON_LEN];
	char reason_lsm_bpf[FEATURES_REASON_LEN];
	char reason_lsm_bpf_active[FEATURES_REASON_LEN];
	char reason_send_signal[FEATURES_REASON_LEN];
	char reason_bpffs[FEATURES_REASON_LEN];
	char reason_tracefs[FEATURES_REASON_LEN];
	char reason_cgroup2[FEATURES_REASON_LEN];
	char reason_memlock[FEATURES_REASON_LEN];
};

/* Probes every feature. Needs root (CAP_BPF, CAP_PERFMON) for meaningful
 * answers; without it the program loads fail and say so in the reasons.
 * Leaves nothing loaded or attached and no fd open, and restores
 * RLIMIT_MEMLOCK. Returns 0, or -EINVAL if f is NULL. */
int features_probe(struct kernel_features *f);

/* Whether the sensor can run: it needs BTF, ring buffers and tp_btf. */
bool features_sensor_can_run(const struct kernel_features *f);

/* One line per feature, e.g. "tp_btf           yes" or
 * "fentry           no (load: Operation not permitted)", then a verdict
 * line. Returns features_sensor_can_run(f). */
bool features_print(const struct kernel_features *f, FILE *out);

/* A new cJSON object for /v1/status: {"kernel_release", "lsms",
 * "can_run", "features": {name: bool}, "reasons": {name: text}} with a
 * reason only for absent features. The caller frees it with cJSON_Delete.
 * NULL on allocation failure. */
cJSON *features_to_json(const struct kernel_features *f);

#endif
