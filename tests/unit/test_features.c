/* test_features.c - tests for features.c and bpf_env.c.
 *
 * Root tests: they mount bpffs/tracefs and load BPF programs on the machine
 * they run on, and check each probe's answer against an independent
 * observation of the same fact (statfs, access, uname, a map we create). */
#include "../../sensor/bpf_env.h"
#include "../../sensor/kernel_features.h"
#include "../../sensor/log.h"

#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <linux/magic.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

static bool fs_has_magic(const char *path, long magic)
{
	struct statfs st;

	return statfs(path, &st) == 0 && (long)st.f_type == magic;
}

static int count_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static char temp_path[64];

/* Runs after each mountinfo test, even one whose assertion failed. */
static void remove_temp(void)
{
	if (temp_path[0])
		unlink(temp_path);
}

/* Writes text to a new temporary file and returns its path (static). */
static const char *write_temp(const char *text)
{
	char *path = temp_path;
	int fd;

	strcpy(path, "/tmp/vigil-test-mountinfo-XXXXXX");
	fd = mkstemp(path);
	cr_assert(fd >= 0, "mkstemp: %s", strerror(errno));
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

/* Reads a whole (small) file into a static buffer. */
static const char *slurp(FILE *f)
{
	static char buf[65536];
	size_t n;

	fflush(f);
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	return buf;
}

/* --- mountinfo parsing ---------------------------------------------- */

static const char mountinfo_fixture[] =
	"22 1 0:21 / /proc rw,nosuid shared:12 - proc proc rw\n"
	/* Two optional tags before the separator. */
	"42 23 0:39 / /sys/fs/bpf rw,nosuid shared:5 master:2 - bpf bpf rw,mode=700\n"
	/* A space in the mount point, escaped as \\040. */
	"43 23 0:13 / /mnt/my\\040trace rw - tracefs tracefs rw\n"
	/* Malformed: no separator, must be skipped, not crash. */
	"44 23 0:14 / /broken rw cgroup2\n"
	"45 23 0:15 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";

Test(mountinfo, finds_entries_with_optional_fields, .fini = remove_temp)
{
	const char *path = write_temp(mountinfo_fixture);

	cr_assert_eq(bpf_env_is_mounted(path, "/sys/fs/bpf", "bpf"), 1);
	cr_assert_eq(bpf_env_is_mounted(path, "/proc", "proc"), 1);
	/* Right place, wrong type; right type, wrong place. */
	cr_assert_eq(bpf_env_is_mounted(path, "/sys/fs/bpf", "tracefs"), 0);
	cr_assert_eq(bpf_env_is_mounted(path, "/sys/kernel/tracing", "tracefs"), 0);
}

Test(mountinfo, decodes_octal_escapes, .fini = remove_temp)
{
	const char *path = write_temp(mountinfo_fixture);
	char where[64];

	cr_assert_eq(bpf_env_find_mount(path, "tracefs", where, sizeof(where)), 1);
	cr_assert_str_eq(where, "/mnt/my trace");
	cr_assert_eq(bpf_env_is_mounted(path, "/mnt/my trace", "tracefs"), 1);
}

Test(mountinfo, skips_malformed_lines, .fini = remove_temp)
{
	const char *path = write_temp(mountinfo_fixture);
	char where[64];

	/* The broken line names cgroup2 too but has no separator. */
	cr_assert_eq(bpf_env_find_mount(path, "cgroup2", where, sizeof(where)), 1);
	cr_assert_str_eq(where, "/sys/fs/cgroup/unified");
	cr_assert_eq(bpf_env_is_mounted(path, "/broken", "cgroup2"), 0);
}

Test(mountinfo, skips_overlong_lines, .fini = remove_temp)
{
	size_t len = 10000;
	char *text = malloc(len + 200);
	const char *path;

	cr_assert_not_null(text);
	memset(text, 'x', len);
	/* An overlong line that would match if it were parsed by pieces. */
	strcpy(text + len, " / /sys/fs/bpf rw - bpf bpf rw\n"
			   "7 1 0:5 / /ok rw - tmpfs tmpfs rw\n");
	path = write_temp(text);
	free(text);
	cr_assert_eq(bpf_env_is_mounted(path, "/sys/fs/bpf", "bpf"), 0);
	cr_assert_eq(bpf_env_is_mounted(path, "/ok", "tmpfs"), 1);
}

Test(mountinfo, reports_errors, .fini = remove_temp)
{
	const char *path = write_temp(mountinfo_fixture);
	char tiny[4];

	cr_assert_eq(bpf_env_is_mounted("/nonexistent/mountinfo", "/", "bpf"),
		     -ENOENT);
	cr_assert_eq(bpf_env_is_mounted(NULL, "/", "bpf"), -EINVAL);
	cr_assert_eq(bpf_env_find_mount(path, "bpf", tiny, sizeof(tiny)),
		     -ENAMETOOLONG);
	cr_assert_eq(bpf_env_find_mount(path, "bpf", NULL, 10), -EINVAL);
}

/* --- bpf_env_prepare ------------------------------------------------ */

Test(bpf_env, prepare_mounts_and_is_idempotent)
{
	struct bpf_env_report first, second;
	struct rlimit lim;

	log_set_level(LOG_ERROR);
	cr_assert_eq(bpf_env_prepare(&first), 0,
		     "bpffs: %s (%s), tracefs: %s (%s)",
		     bpf_env_mount_state_name(first.bpffs),
		     strerror(first.bpffs_errno),
		     bpf_env_mount_state_name(first.tracefs),
		     strerror(first.tracefs_errno));
	cr_assert(first.bpffs != BPF_ENV_MOUNT_FAILED);
	cr_assert(first.tracefs != BPF_ENV_MOUNT_FAILED);
	cr_assert(fs_has_magic(BPF_ENV_BPFFS_PATH, BPF_FS_MAGIC));
	cr_assert(fs_has_magic(BPF_ENV_TRACEFS_PATH, TRACEFS_MAGIC));

	/* The second time round everything is already in place. */
	cr_assert_eq(bpf_env_prepare(&second), 0);
	cr_assert_eq(second.bpffs, BPF_ENV_MOUNT_ALREADY);
	cr_assert_eq(second.tracefs, BPF_ENV_MOUNT_ALREADY);

	cr_assert_eq(getrlimit(RLIMIT_MEMLOCK, &lim), 0);
	cr_assert_eq(second.memlock_unlimited, lim.rlim_cur == RLIM_INFINITY);
	if (!second.memlock_unlimited)
		cr_assert_neq(second.memlock_errno, 0);
	cr_assert(bpf_env_prepare(NULL) == 0);
}

/* Runs fn with stderr sent to a temporary file; returns what was written. */
static const char *capture_stderr(void (*fn)(void))
{
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO);
	const char *text;

	cr_assert_not_null(tmp);
	cr_assert(saved >= 0);
	fflush(stderr);
	dup2(fileno(tmp), STDERR_FILENO);
	fn();
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	text = slurp(tmp);
	fclose(tmp);
	return text;
}

static void open_missing_object(void)
{
	struct bpf_object *obj = bpf_object__open_file("/nonexistent/vigil.o", NULL);

	cr_assert_null(obj);
}

static void load_vmlinux_btf(void)
{
	struct btf *btf = btf__load_vmlinux_btf();

	btf__free(btf);
}

Test(bpf_env, libbpf_warnings_go_to_log_as_warn)
{
	const char *text;

	bpf_env_route_libbpf_logs();
	log_set_level(LOG_INFO);
	text = capture_stderr(open_missing_object);
	cr_assert_not_null(strstr(text, " warn libbpf: "), "got: %s", text);
	cr_assert_not_null(strstr(text, "/nonexistent/vigil.o"), "got: %s", text);
	/* One line per message: libbpf's own newline must not double up. */
	cr_assert_null(strstr(text, "\n\n"), "got: %s", text);
}

Test(bpf_env, libbpf_debug_only_at_debug_level)
{
	const char *text;

	bpf_env_route_libbpf_logs();
	log_set_level(LOG_INFO);
	text = capture_stderr(load_vmlinux_btf);
	cr_assert_null(strstr(text, "loading kernel BTF"), "got: %s", text);

	log_set_level(LOG_DEBUG);
	text = capture_stderr(load_vmlinux_btf);
	cr_assert_not_null(strstr(text, " debug libbpf: loading kernel BTF"),
			   "got: %s", text);
}

/* --- features_probe on this machine --------------------------------- */

Test(features, probe_matches_independent_checks)
{
	struct kernel_features f;
	struct utsname uts;
	bool bpffs, tracefs;

	log_set_level(LOG_ERROR);
	/* Mount first so that the mount probes have something to find. */
	bpf_env_prepare(NULL);
	bpffs = fs_has_magic(BPF_ENV_BPFFS_PATH, BPF_FS_MAGIC);
	tracefs = fs_has_magic(BPF_ENV_TRACEFS_PATH, TRACEFS_MAGIC);

	cr_assert_eq(features_probe(&f), 0);
	cr_assert_eq(uname(&uts), 0);
	cr_assert_str_eq(f.kernel_release, uts.release);
	cr_assert_eq(f.btf, access("/sys/kernel/btf/vmlinux", R_OK) == 0);
	cr_assert_eq(f.kprobes,
		     access("/sys/bus/event_source/devices/kprobe", F_OK) == 0,
		     "kprobes: %s", f.reason_kprobes);
	cr_assert_eq(f.bpffs_mounted, bpffs);
	/* tracefs may also be mounted elsewhere (debugfs/tracing). */
	if (tracefs)
		cr_assert(f.tracefs_mounted);
	cr_assert_eq(f.lsm_bpf_active, strstr(f.lsm_list, "bpf") != NULL,
		     "lsms: %s", f.lsm_list);
	/* Usable BPF LSM implies an active one. */
	if (f.lsm_bpf)
		cr_assert(f.lsm_bpf_active);
	cr_assert_eq(f.cgroup2_mounted, f.cgroup2_path[0] != '\0');
}

Test(features, sensor_requirements_hold_here)
{
	struct kernel_features f;

	log_set_level(LOG_ERROR);
	cr_assert_eq(features_probe(&f), 0);
	/* This machine is documented to run the sensor (kernel-notes.md). */
	cr_assert(f.btf, "btf: %s", f.reason_btf);
	cr_assert(f.ringbuf, "ringbuf: %s", f.reason_ringbuf);
	cr_assert(f.tp_btf, "tp_btf: %s", f.reason_tp_btf);
	cr_assert(f.raw_tp, "raw_tp: %s", f.reason_raw_tp);
	cr_assert(features_sensor_can_run(&f));
}

Test(features, ringbuf_answer_matches_a_real_map)
{
	struct kernel_features f;
	int fd;

	log_set_level(LOG_ERROR);
	cr_assert_eq(features_probe(&f), 0);
	fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, NULL, 0, 0, 4096, NULL);
	cr_assert_eq(f.ringbuf, fd >= 0);
	if (fd >= 0)
		close(fd);
}

Test(features, every_absent_feature_says_why)
{
	struct kernel_features f;

	log_set_level(LOG_ERROR);
	cr_assert_eq(features_probe(&f), 0);

	const struct { const char *name; bool present; const char *reason; } rows[] = {
		{ "btf", f.btf, f.reason_btf },
		{ "ringbuf", f.ringbuf, f.reason_ringbuf },
		{ "tp_btf", f.tp_btf, f.reason_tp_btf },
		{ "raw_tp", f.raw_tp, f.reason_raw_tp },
		{ "kprobes", f.kprobes, f.reason_kprobes },
		{ "fentry", f.fentry, f.reason_fentry },
		{ "lsm_bpf", f.lsm_bpf, f.reason_lsm_bpf },
		{ "lsm_bpf_active", f.lsm_bpf_active, f.reason_lsm_bpf_active },
		{ "send_signal", f.send_signal, f.reason_send_signal },
		{ "bpffs", f.bpffs_mounted, f.reason_bpffs },
		{ "tracefs", f.tracefs_mounted, f.reason_tracefs },
		{ "cgroup2", f.cgroup2_mounted, f.reason_cgroup2 },
		{ "memlock", f.memlock_raisable, f.reason_memlock },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (rows[i].present)
			cr_assert_str_empty(rows[i].reason, "%s: %s",
					    rows[i].name, rows[i].reason);
		else
			cr_assert_str_not_empty(rows[i].reason,
						"%s has no reason", rows[i].name);
	}
}

Test(features, probe_leaves_no_fd_and_same_memlock)
{
	struct kernel_features f;
	struct rlimit before, after;
	int fds;

	log_set_level(LOG_ERROR);
	/* The first probe may open long-lived libbpf state; measure the
	 * second. */
	cr_assert_eq(features_probe(&f), 0);
	fds = count_open_fds();
	cr_assert_eq(getrlimit(RLIMIT_MEMLOCK, &before), 0);
	cr_assert_eq(features_probe(&f), 0);
	cr_assert_eq(count_open_fds(), fds);
	cr_assert_eq(getrlimit(RLIMIT_MEMLOCK, &after), 0);
	cr_assert_eq(after.rlim_cur, before.rlim_cur);
	cr_assert_eq(after.rlim_max, before.rlim_max);
}

Test(features, probe_rejects_null)
{
	cr_assert_eq(features_probe(NULL), -EINVAL);
	cr_assert_null(features_to_json(NULL));
	cr_assert_not(features_sensor_can_run(NULL));
	cr_assert_not(features_print(NULL, stdout));
}

/* --- printing and JSON ---------------------------------------------- */

static void make_runnable(struct kernel_features *f)
{
	memset(f, 0, sizeof(*f));
	f->btf = f->ringbuf = f->tp_btf = f->raw_tp = true;
	strcpy(f->kernel_release, "6.1.0-test");
	strcpy(f->lsm_list, "lockdown,capability,bpf");
	strcpy(f->reason_fentry, "load: Operation not permitted");
	strcpy(f->reason_kprobes, "no kprobe PMU");
}

Test(features_print, runnable_kernel)
{
	struct kernel_features f;
	FILE *out = tmpfile();
	const char *text;

	make_runnable(&f);
	cr_assert(features_print(&f, out));
	text = slurp(out);
	fclose(out);
	cr_assert_not_null(strstr(text, "kernel           6.1.0-test\n"), "%s", text);
	cr_assert_not_null(strstr(text, "tp_btf           yes\n"), "%s", text);
	cr_assert_not_null(strstr(text, "fentry           no (load: Operation not permitted)\n"),
			   "%s", text);
	cr_assert_not_null(strstr(text, "the sensor can run"), "%s", text);
}

Test(features_print, missing_requirements_are_named)
{
	struct kernel_features f;
	FILE *out = tmpfile();
	const char *text;

	make_runnable(&f);
	f.tp_btf = false;
	f.ringbuf = false;
	strcpy(f.reason_tp_btf, "load: Invalid argument");
	cr_assert_not(features_print(&f, out));
	text = slurp(out);
	fclose(out);
	cr_assert_not_null(strstr(text, "tp_btf           no (load: Invalid argument)\n"),
			   "%s", text);
	/* No reason recorded: a bare "no". */
	cr_assert_not_null(strstr(text, "ringbuf          no\n"), "%s", text);
	cr_assert_not_null(strstr(text, "cannot run: missing ringbuf, tp_btf"),
			   "%s", text);
}

Test(features_json, fields_and_reasons)
{
	struct kernel_features f;
	cJSON *j, *parsed, *feat, *why;
	char *s;

	make_runnable(&f);
	f.tp_btf = false;
	strcpy(f.reason_tp_btf, "attach: No such device");
	j = features_to_json(&f);
	cr_assert_not_null(j);
	/* Round-trip through text, as /v1/status clients will see it. */
	s = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	parsed = cJSON_Parse(s);
	free(s);
	cr_assert_not_null(parsed);

	cr_assert_str_eq(cJSON_GetObjectItem(parsed, "kernel_release")->valuestring,
			 "6.1.0-test");
	cr_assert_str_eq(cJSON_GetObjectItem(parsed, "lsms")->valuestring,
			 "lockdown,capability,bpf");
	cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(parsed, "can_run")));
	feat = cJSON_GetObjectItem(parsed, "features");
	cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(feat, "btf")));
	cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(feat, "tp_btf")));
	cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(feat, "fentry")));
	cr_assert_eq(cJSON_GetArraySize(feat), 13);
	why = cJSON_GetObjectItem(parsed, "reasons");
	cr_assert_str_eq(cJSON_GetObjectItem(why, "tp_btf")->valuestring,
			 "attach: No such device");
	cr_assert_str_eq(cJSON_GetObjectItem(why, "fentry")->valuestring,
			 "load: Operation not permitted");
	/* Present features and absent ones without a reason get no entry. */
	cr_assert_null(cJSON_GetObjectItem(why, "btf"));
	cr_assert_null(cJSON_GetObjectItem(why, "lsm_bpf"));
	cJSON_Delete(parsed);
}
