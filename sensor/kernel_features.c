/* kernel_features.c - probe the kernel's BPF capabilities by trying them.
 * See kernel_features.h. Every probe loads the smallest program that
 * exercises the feature, attaches it for an instant where attaching is the
 * question, and closes every fd before returning. */
#include "kernel_features.h"
#include "bpf_env.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <linux/perf_event.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#define MOUNTINFO_PATH "/proc/self/mountinfo"
#define KPROBE_PMU_TYPE "/sys/bus/event_source/devices/kprobe/type"
#define LSM_LIST_PATH "/sys/kernel/security/lsm"

/* lsm_list_modules(2) arrived in 6.8; older libc headers lack the number,
 * which is the same on every architecture. */
#ifndef SYS_lsm_list_modules
#define SYS_lsm_list_modules 461
#endif

/* Hooks the sensor attaches to; probing one of them is probing the real
 * thing. Fallbacks cover kernels where a function got renamed or inlined. */
static const char *const tp_btf_probe_event = "sched_process_exec";
static const char *const fentry_probe_funcs[] = {
	"do_unlinkat", "vfs_read", "security_file_open",
};
static const char *const kprobe_probe_funcs[] = {
	"do_unlinkat", "vfs_read", "do_sys_openat2",
};
static const char *const lsm_probe_hook = "bpf_lsm_file_open";

/* "r0 = 0; exit": the smallest valid program of any type. */
static const struct bpf_insn prog_return_zero[] = {
	{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
	{ .code = BPF_JMP | BPF_EXIT },
};

/* "bpf_send_signal(0); r0 = 0; exit": loads only where the helper is
 * allowed for the program type. Never attached. */
static const struct bpf_insn prog_send_signal[] = {
	{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_1, .imm = 0 },
	{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_send_signal },
	{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
	{ .code = BPF_JMP | BPF_EXIT },
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static void set_reason(char *reason, const char *fmt, const char *detail)
{
	snprintf(reason, FEATURES_REASON_LEN, fmt, detail);
}

/* The verifier's last non-empty line is usually the one that explains a
 * rejection ("helper call is not allowed in probe", ...). */
static void last_log_line(const char *log, char *out, size_t out_size)
{
	const char *end = log + strlen(log);
	const char *start;

	while (end > log && (end[-1] == '\n' || end[-1] == ' '))
		end--;
	start = end;
	while (start > log && start[-1] != '\n')
		start--;
	snprintf(out, out_size, "%.*s", (int)(end - start), start);
}

/* Loads a program; on failure writes "load: <why>" into reason and returns
 * -1. On success returns the program fd. */
static int load_probe_prog(enum bpf_prog_type type,
			   enum bpf_attach_type attach_type, uint32_t btf_id,
			   const struct bpf_insn *insns, size_t insn_count,
			   char *reason)
{
	char log[4096];
	char why[96];
	int fd, err;
	LIBBPF_OPTS(bpf_prog_load_opts, opts,
		    .expected_attach_type = attach_type,
		    .attach_btf_id = btf_id,
		    .log_buf = log,
		    .log_size = sizeof(log));

	log[0] = '\0';
	fd = bpf_prog_load(type, "vigil_probe", "GPL", insns, insn_count, &opts);
	if (fd >= 0)
		return fd;
	err = errno;
	/* EPERM and friends come with no verifier log; EINVAL and EACCES
	 * usually do, and it is more telling than the errno. */
	last_log_line(log, why, sizeof(why));
	if (why[0])
		snprintf(reason, FEATURES_REASON_LEN, "load: %s (%s)",
			 strerror(err), why);
	else
		set_reason(reason, "load: %s", strerror(err));
	return -1;
}

/* Attaches a tracing/raw_tp/lsm program for an instant. name is NULL for
 * BTF-typed programs, which carry their target in attach_btf_id. */
static bool attach_probe_prog(int prog_fd, const char *name, char *reason)
{
	int link = bpf_raw_tracepoint_open(name, prog_fd);

	if (link < 0) {
		set_reason(reason, "attach: %s", strerror(errno));
		return false;
	}
	close(link);
	return true;
}

/* Finds the BTF id of the first name of the given kind. */
static int find_btf_id(const struct btf *btf, const char *const *names,
		       size_t count, uint32_t kind, const char **found)
{
	for (size_t i = 0; i < count; i++) {
		int id = btf__find_by_name_kind(btf, names[i], kind);

		if (id > 0) {
			if (found)
				*found = names[i];
			return id;
		}
	}
	return -1;
}

static void probe_btf(struct kernel_features *f, struct btf **vmlinux)
{
	*vmlinux = btf__load_vmlinux_btf();
	if (!*vmlinux) {
		set_reason(f->reason_btf, "vmlinux BTF: %s", strerror(errno));
		return;
	}
	f->btf = true;
}

static void probe_ringbuf(struct kernel_features *f)
{
	int r = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL);
	int fd;

	if (r == 1) {
		f->ringbuf = true;
		return;
	}
	if (r < 0) {
		set_reason(f->reason_ringbuf, "probe: %s", strerror(-r));
		return;
	}
	/* libbpf says only "no"; creating one ourselves tells why. */
	fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, NULL, 0, 0,
			    (uint32_t)sysconf(_SC_PAGESIZE), NULL);
	if (fd >= 0) {
		close(fd);
		f->ringbuf = true;
		return;
	}
	set_reason(f->reason_ringbuf, "create: %s", strerror(errno));
}

static void probe_tp_btf(struct kernel_features *f, const struct btf *vmlinux)
{
	char name[64];
	const char *names[1] = { name };
	int id, fd;

	if (!vmlinux) {
		set_reason(f->reason_tp_btf, "%s", "needs vmlinux BTF");
		set_reason(f->reason_send_signal, "%s", "needs vmlinux BTF");
		return;
	}
	/* The kernel describes each tracepoint's arguments as a typedef named
	 * btf_trace_<event>; that is what tp_btf programs attach to. */
	snprintf(name, sizeof(name), "btf_trace_%s", tp_btf_probe_event);
	id = find_btf_id(vmlinux, names, 1, BTF_KIND_TYPEDEF, NULL);
	if (id < 0) {
		set_reason(f->reason_tp_btf, "no %s in vmlinux BTF", name);
		set_reason(f->reason_send_signal, "no %s in vmlinux BTF", name);
		return;
	}
	fd = load_probe_prog(BPF_PROG_TYPE_TRACING, BPF_TRACE_RAW_TP,
			     (uint32_t)id, prog_return_zero,
			     ARRAY_LEN(prog_return_zero), f->reason_tp_btf);
	if (fd >= 0) {
		f->tp_btf = attach_probe_prog(fd, NULL, f->reason_tp_btf);
		close(fd);
	}

	fd = load_probe_prog(BPF_PROG_TYPE_TRACING, BPF_TRACE_RAW_TP,
			     (uint32_t)id, prog_send_signal,
			     ARRAY_LEN(prog_send_signal),
			     f->reason_send_signal);
	if (fd >= 0) {
		f->send_signal = true;
		close(fd);
	}
}

static void probe_raw_tp(struct kernel_features *f)
{
	int fd = load_probe_prog(BPF_PROG_TYPE_RAW_TRACEPOINT, 0, 0,
				 prog_return_zero, ARRAY_LEN(prog_return_zero),
				 f->reason_raw_tp);

	if (fd < 0)
		return;
	f->raw_tp = attach_probe_prog(fd, tp_btf_probe_event, f->reason_raw_tp);
	close(fd);
}

static void probe_fentry(struct kernel_features *f, const struct btf *vmlinux)
{
	int id, fd;

	if (!vmlinux) {
		set_reason(f->reason_fentry, "%s", "needs vmlinux BTF");
		return;
	}
	id = find_btf_id(vmlinux, fentry_probe_funcs,
			 ARRAY_LEN(fentry_probe_funcs), BTF_KIND_FUNC, NULL);
	if (id < 0) {
		set_reason(f->reason_fentry, "%s",
			   "no probe function in vmlinux BTF");
		return;
	}
	fd = load_probe_prog(BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY,
			     (uint32_t)id, prog_return_zero,
			     ARRAY_LEN(prog_return_zero), f->reason_fentry);
	if (fd < 0)
		return;
	f->fentry = attach_probe_prog(fd, NULL, f->reason_fentry);
	close(fd);
}

/* Names of the LSM ids that lsm_list_modules(2) returns (uapi lsm.h). */
static const char *lsm_id_name(uint64_t id)
{
	static const char *const names[] = {
		"capability", "selinux", "smack", "tomoyo", "apparmor", "yama",
		"loadpin", "safesetid", "lockdown", "bpf", "landlock", "ima",
		"evm", "ipe",
	};

	if (id >= 100 && id - 100 < ARRAY_LEN(names))
		return names[id - 100];
	return NULL;
}

/* Reads the active LSMs from securityfs, or, when it is not mounted (the
 * common case in a fresh container), from lsm_list_modules(2). */
static int read_lsm_list(char *out, size_t out_size, char *reason)
{
	uint64_t ids[32];
	uint32_t size = sizeof(ids);
	long n;
	size_t len = 0;
	int fd = open(LSM_LIST_PATH, O_RDONLY | O_CLOEXEC);

	out[0] = '\0';
	if (fd >= 0) {
		ssize_t r = read(fd, out, out_size - 1);

		close(fd);
		if (r > 0) {
			out[r] = '\0';
			out[strcspn(out, "\n")] = '\0';
			return 0;
		}
	}
	n = syscall(SYS_lsm_list_modules, ids, &size, 0);
	if (n < 0) {
		set_reason(reason, "%s not readable and lsm_list_modules failed",
			   LSM_LIST_PATH);
		return -1;
	}
	for (long i = 0; i < n && i < (long)ARRAY_LEN(ids); i++) {
		const char *name = lsm_id_name(ids[i]);
		char unknown[24];
		int w;

		if (!name) {
			snprintf(unknown, sizeof(unknown), "lsm%llu",
				 (unsigned long long)ids[i]);
			name = unknown;
		}
		w = snprintf(out + len, out_size - len, "%s%s", len ? "," : "",
			     name);
		if (w < 0 || (size_t)w >= out_size - len)
			break;
		len += (size_t)w;
	}
	return 0;
}

static bool list_has_word(const char *list, const char *word)
{
	size_t wlen = strlen(word);
	const char *p = list;

	while ((p = strstr(p, word)) != NULL) {
		bool starts = p == list || p[-1] == ',';
		bool ends = p[wlen] == '\0' || p[wlen] == ',';

		if (starts && ends)
			return true;
		p += wlen;
	}
	return false;
}

static void probe_lsm(struct kernel_features *f, const struct btf *vmlinux)
{
	int id, fd;

	if (read_lsm_list(f->lsm_list, sizeof(f->lsm_list),
			  f->reason_lsm_bpf_active) == 0) {
		if (list_has_word(f->lsm_list, "bpf"))
			f->lsm_bpf_active = true;
		else
			set_reason(f->reason_lsm_bpf_active,
				   "\"bpf\" not among active LSMs (%.60s)",
				   f->lsm_list);
	}

	if (!vmlinux) {
		set_reason(f->reason_lsm_bpf, "%s", "needs vmlinux BTF");
		return;
	}
	id = btf__find_by_name_kind(vmlinux, lsm_probe_hook, BTF_KIND_FUNC);
	if (id <= 0) {
		set_reason(f->reason_lsm_bpf, "no %s in vmlinux BTF",
			   lsm_probe_hook);
		return;
	}
	/* Load even when "bpf" is not listed: the load error is the more
	 * useful answer where both are missing. */
	fd = load_probe_prog(BPF_PROG_TYPE_LSM, BPF_LSM_MAC, (uint32_t)id,
			     prog_return_zero, ARRAY_LEN(prog_return_zero),
			     f->reason_lsm_bpf);
	if (fd < 0)
		return;
	/* Returning 0 allows, so the instant it is attached changes
	 * nothing. Attaching fails unless "bpf" is an active LSM. */
	f->lsm_bpf = attach_probe_prog(fd, NULL, f->reason_lsm_bpf);
	close(fd);
	if (f->lsm_bpf && !f->lsm_bpf_active) {
		f->lsm_bpf = false;
		set_reason(f->reason_lsm_bpf, "%s", "\"bpf\" is not an active LSM");
	}
}

static int read_small_file(const char *path, char *out, size_t out_size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return -errno;
	r = read(fd, out, out_size - 1);
	if (r < 0) {
		r = -errno;
		close(fd);
		return (int)r;
	}
	close(fd);
	out[r] = '\0';
	return 0;
}

static long perf_event_open(struct perf_event_attr *attr, int cpu)
{
	return syscall(SYS_perf_event_open, attr, -1, cpu, -1,
		       PERF_FLAG_FD_CLOEXEC);
}

static void probe_kprobes(struct kernel_features *f)
{
	char buf[32];
	char *end;
	long type;
	int err = 0;

	if (read_small_file(KPROBE_PMU_TYPE, buf, sizeof(buf)) < 0) {
		set_reason(f->reason_kprobes, "%s",
			   "no kprobe PMU in /sys/bus/event_source/devices; CONFIG_KPROBES off?");
		return;
	}
	type = strtol(buf, &end, 10);
	if (end == buf || type < 0) {
		set_reason(f->reason_kprobes, "bad kprobe PMU type \"%s\"", buf);
		return;
	}
	for (size_t i = 0; i < ARRAY_LEN(kprobe_probe_funcs); i++) {
		struct perf_event_attr attr;
		long fd;

		memset(&attr, 0, sizeof(attr));
		attr.size = sizeof(attr);
		attr.type = (uint32_t)type;
		attr.config1 = (uint64_t)(uintptr_t)kprobe_probe_funcs[i];
		attr.config2 = 0; /* offset into the function */
		fd = perf_event_open(&attr, 0);
		if (fd >= 0) {
			close((int)fd);
			f->kprobes = true;
			return;
		}
		err = errno;
		/* Only a missing symbol is worth trying another name for. */
		if (err != ENOENT && err != EINVAL)
			break;
	}
	set_reason(f->reason_kprobes, "perf_event_open: %s", strerror(err));
}

static void probe_mounts(struct kernel_features *f)
{
	int r;

	r = bpf_env_is_mounted(MOUNTINFO_PATH, BPF_ENV_BPFFS_PATH, "bpf");
	if (r == 1)
		f->bpffs_mounted = true;
	else
		set_reason(f->reason_bpffs, "%s",
			   r < 0 ? "cannot read mountinfo"
				 : "not mounted at " BPF_ENV_BPFFS_PATH);

	r = bpf_env_find_mount(MOUNTINFO_PATH, "tracefs", f->tracefs_path,
			       sizeof(f->tracefs_path));
	if (r == 1)
		f->tracefs_mounted = true;
	else
		set_reason(f->reason_tracefs, "%s",
			   r < 0 ? "cannot read mountinfo" : "not mounted");

	r = bpf_env_find_mount(MOUNTINFO_PATH, "cgroup2", f->cgroup2_path,
			       sizeof(f->cgroup2_path));
	if (r == 1)
		f->cgroup2_mounted = true;
	else
		set_reason(f->reason_cgroup2, "%s",
			   r < 0 ? "cannot read mountinfo" : "not mounted");
}

/* Tries to make RLIMIT_MEMLOCK unlimited, then puts the old limit back:
 * lowering a limit needs no privilege, so the probe leaves no trace. */
static void probe_memlock(struct kernel_features *f)
{
	struct rlimit old;
	const struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };

	if (getrlimit(RLIMIT_MEMLOCK, &old) < 0) {
		set_reason(f->reason_memlock, "getrlimit: %s", strerror(errno));
		return;
	}
	if (old.rlim_cur == RLIM_INFINITY && old.rlim_max == RLIM_INFINITY) {
		f->memlock_raisable = true;
		return;
	}
	if (setrlimit(RLIMIT_MEMLOCK, &unlimited) < 0) {
		set_reason(f->reason_memlock, "setrlimit: %s", strerror(errno));
		return;
	}
	f->memlock_raisable = true;
	if (setrlimit(RLIMIT_MEMLOCK, &old) < 0)
		log_warn("features: cannot restore RLIMIT_MEMLOCK: %s",
			 strerror(errno));
}

int features_probe(struct kernel_features *f)
{
	struct btf *vmlinux = NULL;
	struct utsname uts;

	if (!f)
		return -EINVAL;
	memset(f, 0, sizeof(*f));
	if (uname(&uts) == 0)
		snprintf(f->kernel_release, sizeof(f->kernel_release), "%s",
			 uts.release);

	probe_btf(f, &vmlinux);
	probe_ringbuf(f);
	probe_tp_btf(f, vmlinux);
	probe_raw_tp(f);
	probe_kprobes(f);
	probe_fentry(f, vmlinux);
	probe_lsm(f, vmlinux);
	probe_mounts(f);
	probe_memlock(f);
	btf__free(vmlinux);
	return 0;
}

bool features_sensor_can_run(const struct kernel_features *f)
{
	return f && f->btf && f->ringbuf && f->tp_btf;
}

struct feature_row {
	const char *name;
	bool present;
	bool required;
	const char *reason;
};

#define FEATURE_ROWS 13

static void feature_rows(const struct kernel_features *f,
			 struct feature_row rows[FEATURE_ROWS])
{
	const struct feature_row all[FEATURE_ROWS] = {
		{ "btf", f->btf, true, f->reason_btf },
		{ "ringbuf", f->ringbuf, true, f->reason_ringbuf },
		{ "tp_btf", f->tp_btf, true, f->reason_tp_btf },
		{ "raw_tp", f->raw_tp, false, f->reason_raw_tp },
		{ "send_signal", f->send_signal, false, f->reason_send_signal },
		{ "kprobes", f->kprobes, false, f->reason_kprobes },
		{ "fentry", f->fentry, false, f->reason_fentry },
		{ "lsm_bpf", f->lsm_bpf, false, f->reason_lsm_bpf },
		{ "lsm_bpf_active", f->lsm_bpf_active, false,
		  f->reason_lsm_bpf_active },
		{ "bpffs", f->bpffs_mounted, false, f->reason_bpffs },
		{ "tracefs", f->tracefs_mounted, false, f->reason_tracefs },
		{ "cgroup2", f->cgroup2_mounted, false, f->reason_cgroup2 },
		{ "memlock", f->memlock_raisable, false, f->reason_memlock },
	};

	memcpy(rows, all, sizeof(all));
}

bool features_print(const struct kernel_features *f, FILE *out)
{
	struct feature_row rows[FEATURE_ROWS];
	bool can_run;
	bool first_missing = true;

	if (!f || !out)
		return false;
	can_run = features_sensor_can_run(f);
	feature_rows(f, rows);
	fprintf(out, "%-16s %s\n", "kernel",
		f->kernel_release[0] ? f->kernel_release : "unknown");
	fprintf(out, "%-16s %s\n", "lsms",
		f->lsm_list[0] ? f->lsm_list : "unknown");
	for (int i = 0; i < FEATURE_ROWS; i++) {
		if (rows[i].present)
			fprintf(out, "%-16s yes\n", rows[i].name);
		else if (rows[i].reason[0])
			fprintf(out, "%-16s no (%s)\n", rows[i].name,
				rows[i].reason);
		else
			fprintf(out, "%-16s no\n", rows[i].name);
	}
	if (can_run) {
		fprintf(out, "verdict          the sensor can run\n");
		return true;
	}
	fprintf(out, "verdict          the sensor cannot run: missing");
	for (int i = 0; i < FEATURE_ROWS; i++) {
		if (rows[i].required && !rows[i].present) {
			fprintf(out, "%s%s", first_missing ? " " : ", ",
				rows[i].name);
			first_missing = false;
		}
	}
	fprintf(out, " (needs btf, ringbuf and tp_btf)\n");
	return false;
}

cJSON *features_to_json(const struct kernel_features *f)
{
	struct feature_row rows[FEATURE_ROWS];
	cJSON *root, *features, *reasons;

	if (!f)
		return NULL;
	root = cJSON_CreateObject();
	if (!root)
		return NULL;
	feature_rows(f, rows);
	if (!cJSON_AddStringToObject(root, "kernel_release", f->kernel_release) ||
	    !cJSON_AddStringToObject(root, "lsms", f->lsm_list) ||
	    !cJSON_AddBoolToObject(root, "can_run", features_sensor_can_run(f)))
		goto fail;
	features = cJSON_AddObjectToObject(root, "features");
	reasons = cJSON_AddObjectToObject(root, "reasons");
	if (!features || !reasons)
		goto fail;
	for (int i = 0; i < FEATURE_ROWS; i++) {
		if (!cJSON_AddBoolToObject(features, rows[i].name,
					   rows[i].present))
			goto fail;
		if (!rows[i].present && rows[i].reason[0] &&
		    !cJSON_AddStringToObject(reasons, rows[i].name,
					     rows[i].reason))
			goto fail;
	}
	return root;
fail:
	cJSON_Delete(root);
	return NULL;
}
