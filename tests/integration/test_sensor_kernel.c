/* test_sensor_kernel.c - the real sensor, the real kernel: process events
 * (credentials, capabilities, ptrace, signals, prctl, rlimits) and kernel
 * events (modules, bpf, mounts, memfd, W+X mappings, namespaces) end to end.
 * Each test starts `vigil events --types ...`, makes a child do the real
 * syscall, and checks the decoded fields of its JSON line. Needs root. */
#include <criterion/criterion.h>
#include <ftw.h>
#include <limits.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "integration/harness.h"

#define KERNEL_TYPES "setuid,setgid,capset,ptrace,signal,prctl,setrlimit,load_module," \
		     "unload_module,bpf,mount,umount,memfd_create,mmap,mprotect,unshare,setns"
#include "integration/event_checks.h"

/* Nothing matching *w is in what the sensor printed so far. Call it after
 * finding an event the same thread caused later: one thread's records
 * reach the ring buffer in order. */
static void expect_no_match(const struct want *w, const char *why)
{
	cJSON *ev = find_match(w, 0);

	cr_expect_null(ev, "%s", why);
	cJSON_Delete(ev);
}

static bool array_has(const cJSON *arr, const char *s)
{
	const cJSON *item;

	cJSON_ArrayForEach(item, arr) {
		if (cJSON_IsString(item) && strcmp(item->valuestring, s) == 0)
			return true;
	}
	return false;
}

/* Finds the child's `name` event made by syscall `sysname`. */
static cJSON *expect_syscall(const char *name, pid_t child, const char *sysname)
{
	char key[64];

	snprintf(key, sizeof(key), "%s.syscall.name", name);
	return expect_event(name, child, key, sysname);
}

/* Results a child hands back to the test. */
struct shared {
	int err[8];
	uint64_t addr[4];
};

static struct shared *shared_new(void)
{
	struct shared *s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
				-1, 0);

	cr_assert_neq(s, MAP_FAILED);
	memset(s, 0, sizeof(*s));
	return s;
}

/* A child that execs sleep(1), so the process cache knows its path; waits
 * until the exec is done. */
static pid_t start_sleeper(void)
{
	char exe[PATH_MAX], want[PATH_MAX];
	pid_t pid;

	cr_assert(realpath("/bin/sleep", want));
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		execl("/bin/sleep", "sleep", "30", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		char link[64];
		ssize_t n;

		snprintf(link, sizeof(link), "/proc/%d/exe", pid);
		n = readlink(link, exe, sizeof(exe) - 1);
		if (n > 0) {
			exe[n] = '\0';
			if (strcmp(exe, want) == 0)
				return pid;
		}
		usleep(10 * 1000);
	}
	cr_assert_fail("the sleeper never exec'd");
	return -1;
}

static void stop_sleeper(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void setup(void)
{
	suite_start("kernel", KERNEL_TYPES);
}

static void teardown(void)
{
	suite_stop();
}

TestSuite(kernel, .init = setup, .fini = teardown, .timeout = 30);

/* ---- credentials ------------------------------------------------------------ */

static int do_drop_to_nobody(void *arg)
{
	(void)arg;
	if (syscall(SYS_setgid, 65534) < 0)
		return 1;
	if (syscall(SYS_setuid, 65534) < 0)
		return 2;
	return 0;
}

Test(kernel, setgid_and_setuid_to_nobody)
{
	pid_t child = run_child(do_drop_to_nobody, NULL);
	cJSON *ev;

	ev = expect_syscall("setgid", child, "setgid");
	expect_str(ev, "evt.category", "process");
	expect_num(ev, "setgid.gid", 65534);
	expect_num(ev, "setgid.egid", 65534);
	expect_num(ev, "setgid.fsgid", 65534);
	expect_num(ev, "setgid.retval", 0);
	expect_num(ev, "process.credentials.gid", 65534);
	expect_num(ev, "process.credentials.uid", 0);
	cJSON_Delete(ev);

	ev = expect_syscall("setuid", child, "setuid");
	expect_num(ev, "setuid.uid", 65534);
	expect_num(ev, "setuid.euid", 65534);
	expect_num(ev, "setuid.fsuid", 65534);
	expect_num(ev, "setuid.retval", 0);
	expect_num(ev, "process.credentials.uid", 65534);
	expect_num(ev, "process.credentials.euid", 65534);
	/* Dropping root clears the effective set. */
	cr_expect_eq(cJSON_GetArraySize(json_path(ev, "process.credentials.cap_effective")), 0);
	cJSON_Delete(ev);
}

static int do_capset(void *arg)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];

	(void)arg;
	if (syscall(SYS_capget, &hdr, data) < 0)
		return 1;
	data[0].effective &= ~(1u << CAP_NET_RAW);
	data[0].permitted &= ~(1u << CAP_NET_RAW);
	data[0].inheritable &= ~(1u << CAP_NET_RAW);
	if (syscall(SYS_capset, &hdr, data) < 0)
		return 2;
	return 0;
}

Test(kernel, capset_drops_a_capability)
{
	pid_t child = run_child(do_capset, NULL);
	cJSON *ev = expect_syscall("capset", child, "capset");

	expect_num(ev, "capset.retval", 0);
	cr_expect_not(array_has(json_path(ev, "capset.cap_effective"), "CAP_NET_RAW"));
	cr_expect_not(array_has(json_path(ev, "capset.cap_permitted"), "CAP_NET_RAW"));
	cr_expect(array_has(json_path(ev, "capset.cap_effective"), "CAP_SYS_ADMIN"),
		  "only CAP_NET_RAW was dropped");
	cr_expect(array_has(json_path(ev, "capset.cap_permitted"), "CAP_NET_ADMIN"));
	cr_expect_not(array_has(json_path(ev, "process.credentials.cap_effective"), "CAP_NET_RAW"));
	cJSON_Delete(ev);
}

/* ---- ptrace, signals --------------------------------------------------------- */

static int do_ptrace_attach(void *arg)
{
	pid_t tracee = *(pid_t *)arg;
	int status;

	if (ptrace(PTRACE_ATTACH, tracee, NULL, NULL) < 0)
		return 1;
	if (waitpid(tracee, &status, __WALL) != tracee)
		return 2;
	if (ptrace(PTRACE_DETACH, tracee, NULL, NULL) < 0)
		return 3;
	return 0;
}

static int do_traceme(void *arg)
{
	(void)arg;
	return ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0;
}

Test(kernel, ptrace_attach_and_traceme)
{
	char sleep_path[PATH_MAX];
	pid_t tracee = start_sleeper(), child;
	cJSON *ev;

	cr_assert(realpath("/bin/sleep", sleep_path));
	child = run_child(do_ptrace_attach, &tracee);
	stop_sleeper(tracee);

	ev = expect_match(&(struct want){ .name = "ptrace", .pid = child, .num_key = "ptrace.request",
					  .num = PTRACE_ATTACH });
	expect_str(ev, "ptrace.syscall.name", "ptrace");
	expect_num(ev, "ptrace.tracee.pid", tracee);
	expect_str(ev, "ptrace.tracee.file.path", sleep_path);
	expect_num(ev, "ptrace.retval", 0);
	cJSON_Delete(ev);

	child = run_child(do_traceme, NULL);
	ev = expect_match(&(struct want){ .name = "ptrace", .pid = child, .num_key = "ptrace.request",
					  .num = PTRACE_TRACEME });
	expect_num(ev, "ptrace.retval", 0);
	expect_num(ev, "ptrace.tracee.pid", 0);
	cJSON_Delete(ev);
}

static int do_kill(void *arg)
{
	return kill(*(pid_t *)arg, SIGTERM) < 0;
}

Test(kernel, kill_of_a_sleeping_child)
{
	char sleep_path[PATH_MAX];
	pid_t target = start_sleeper(), child;
	int status;
	cJSON *ev;

	cr_assert(realpath("/bin/sleep", sleep_path));
	child = run_child(do_kill, &target);
	cr_assert_eq(waitpid(target, &status, 0), target);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);

	ev = expect_syscall("signal", child, "kill");
	expect_num(ev, "signal.type", SIGTERM);
	expect_num(ev, "signal.pid", target);
	expect_num(ev, "signal.target.pid", target);
	expect_str(ev, "signal.target.file.path", sleep_path);
	expect_str(ev, "signal.target.comm", "sleep");
	expect_num(ev, "signal.retval", 0);
	cJSON_Delete(ev);
}

/* ---- prctl, rlimits ----------------------------------------------------------- */

static int do_set_name(void *arg)
{
	return prctl(PR_SET_NAME, (const char *)arg, 0, 0, 0) < 0;
}

Test(kernel, prctl_set_name)
{
	char name[16];
	pid_t child;
	cJSON *ev;

	snprintf(name, sizeof(name), "vgl-%d", getpid() % 1000000);
	child = run_child(do_set_name, name);
	ev = expect_syscall("prctl", child, "prctl");
	expect_num(ev, "prctl.option", PR_SET_NAME);
	expect_str(ev, "prctl.new_name", name);
	expect_num(ev, "prctl.retval", 0);
	/* The event is built after the call: the process has its new name. */
	expect_str(ev, "process.comm", name);
	cJSON_Delete(ev);
}

static int do_rlimits(void *arg)
{
	pid_t target = *(pid_t *)arg;
	struct rlimit nofile = { 100, 200 }, core = { 1234, 5678 }, other = { 50, 60 };

	if (syscall(SYS_setrlimit, RLIMIT_NOFILE, &nofile) < 0)
		return 1;
	if (syscall(SYS_prlimit64, 0, RLIMIT_CORE, &core, NULL) < 0)
		return 2;
	if (syscall(SYS_prlimit64, target, RLIMIT_NOFILE, &other, NULL) < 0)
		return 3;
	return 0;
}

Test(kernel, setrlimit_and_prlimit64)
{
	char sleep_path[PATH_MAX];
	pid_t target = start_sleeper(), child;
	cJSON *ev;

	cr_assert(realpath("/bin/sleep", sleep_path));
	child = run_child(do_rlimits, &target);
	stop_sleeper(target);

	ev = expect_syscall("setrlimit", child, "setrlimit");
	expect_num(ev, "setrlimit.resource", RLIMIT_NOFILE);
	expect_num(ev, "setrlimit.rlim_cur", 100);
	expect_num(ev, "setrlimit.rlim_max", 200);
	expect_num(ev, "setrlimit.retval", 0);
	cJSON_Delete(ev);

	ev = expect_match(&(struct want){ .name = "setrlimit", .pid = child,
					  .key = "setrlimit.syscall.name", .value = "prlimit64",
					  .num_key = "setrlimit.resource", .num = RLIMIT_CORE });
	expect_num(ev, "setrlimit.rlim_cur", 1234);
	expect_num(ev, "setrlimit.rlim_max", 5678);
	expect_num(ev, "setrlimit.target.pid", 0);
	cJSON_Delete(ev);

	ev = expect_match(&(struct want){ .name = "setrlimit", .pid = child,
					  .key = "setrlimit.syscall.name", .value = "prlimit64",
					  .num_key = "setrlimit.target.pid", .num = target });
	expect_num(ev, "setrlimit.resource", RLIMIT_NOFILE);
	expect_num(ev, "setrlimit.rlim_cur", 50);
	expect_num(ev, "setrlimit.rlim_max", 60);
	expect_str(ev, "setrlimit.target.file.path", sleep_path);
	cJSON_Delete(ev);
}

/* glibc's getrlimit() is prlimit64(0, resource, NULL, &old): it reads and
 * sets nothing, so it must not be reported as a setrlimit. */
static int do_getrlimit(void *arg)
{
	struct rlimit rl;

	(void)arg;
	if (getrlimit(RLIMIT_MSGQUEUE, &rl) < 0)
		return 1;
	/* A real change afterwards, to know when the sensor has caught up. */
	if (getrlimit(RLIMIT_NICE, &rl) < 0 || syscall(SYS_setrlimit, RLIMIT_NICE, &rl) < 0)
		return 2;
	return 0;
}

Test(kernel, getrlimit_is_not_a_setrlimit)
{
	pid_t child = run_child(do_getrlimit, NULL);
	cJSON *ev;

	ev = expect_match(&(struct want){ .name = "setrlimit", .pid = child,
					  .key = "setrlimit.syscall.name", .value = "setrlimit",
					  .num_key = "setrlimit.resource", .num = RLIMIT_NICE });
	cJSON_Delete(ev);
	expect_no_match(&(struct want){ .name = "setrlimit", .pid = child,
					.num_key = "setrlimit.resource", .num = RLIMIT_MSGQUEUE },
			"getrlimit(RLIMIT_MSGQUEUE) was reported as a setrlimit");
}

/* ---- modules ------------------------------------------------------------------- */

static int do_modules(void *arg)
{
	struct shared *res = arg;
	char image[64], params[64], name[64], p[PATH_MAX];
	int fd;

	memset(image, 0x5a, sizeof(image)); /* not an ELF file */
	snprintf(params, sizeof(params), "vigil_marker=%d", getpid());
	if (syscall(SYS_init_module, image, sizeof(image), params) == 0)
		return 1;
	res->err[0] = errno;
	join(p, "bogus.ko");
	fd = open(p, O_CREAT | O_RDWR, 0644);
	if (fd < 0 || write(fd, image, sizeof(image)) != (ssize_t)sizeof(image))
		return 2;
	if (syscall(SYS_finit_module, fd, "vigil_from_file=1", 0) == 0)
		return 3;
	res->err[1] = errno;
	close(fd);
	snprintf(name, sizeof(name), "vigil_nosuch_%d", getpid());
	if (syscall(SYS_delete_module, name, O_NONBLOCK) == 0)
		return 4;
	res->err[2] = errno;
	return 0;
}

Test(kernel, failed_module_load_and_unload)
{
	struct shared *res = shared_new();
	char want[64], p[PATH_MAX];
	pid_t child = run_child(do_modules, res);
	cJSON *ev;

	ev = expect_syscall("load_module", child, "init_module");
	expect_str(ev, "evt.category", "kernel");
	expect_str(ev, "evt.outcome", "failure");
	expect_num(ev, "load_module.retval", -res->err[0]);
	snprintf(want, sizeof(want), "vigil_marker=%d", child);
	expect_str(ev, "load_module.args", want);
	cr_expect(cJSON_IsTrue(json_path(ev, "load_module.loaded_from_memory")));
	cJSON_Delete(ev);

	join(p, "bogus.ko");
	ev = expect_syscall("load_module", child, "finit_module");
	expect_num(ev, "load_module.retval", -res->err[1]);
	expect_str(ev, "load_module.args", "vigil_from_file=1");
	expect_str(ev, "load_module.file.path", p);
	expect_str(ev, "load_module.file.path_resolution", "file");
	cr_expect(cJSON_IsFalse(json_path(ev, "load_module.loaded_from_memory")));
	cJSON_Delete(ev);

	snprintf(want, sizeof(want), "vigil_nosuch_%d", child);
	ev = expect_syscall("unload_module", child, "delete_module");
	expect_str(ev, "unload_module.name", want);
	expect_num(ev, "unload_module.retval", -res->err[2]);
	cJSON_Delete(ev);
	munmap(res, sizeof(*res));
}

/* ---- bpf ------------------------------------------------------------------------- */

static int do_bpf(void *arg)
{
	union bpf_attr attr;
	struct bpf_insn prog[2] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	const char *name = arg;

	memset(&attr, 0, sizeof(attr));
	attr.map_type = BPF_MAP_TYPE_ARRAY;
	attr.key_size = 4;
	attr.value_size = 8;
	attr.max_entries = 1;
	snprintf(attr.map_name, sizeof(attr.map_name), "%s", name);
	if (syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof(attr)) < 0)
		return 1;
	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	attr.insns = (uint64_t)(uintptr_t)prog;
	attr.insn_cnt = 2;
	attr.license = (uint64_t)(uintptr_t)"GPL";
	snprintf(attr.prog_name, sizeof(attr.prog_name), "%s", name);
	if (syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr)) < 0)
		return 2;
	return 0;
}

Test(kernel, bpf_map_create_and_prog_load)
{
	char name[16];
	pid_t child;
	cJSON *ev;

	snprintf(name, sizeof(name), "vgl_%d", getpid() % 10000000);
	child = run_child(do_bpf, name);

	ev = expect_match(&(struct want){ .name = "bpf", .pid = child, .num_key = "bpf.cmd",
					  .num = BPF_MAP_CREATE });
	expect_str(ev, "bpf.syscall.name", "bpf");
	expect_num(ev, "bpf.map.type", BPF_MAP_TYPE_ARRAY);
	expect_str(ev, "bpf.map.name", name);
	cr_expect_geq(num_at(ev, "bpf.retval"), 0);
	cJSON_Delete(ev);

	ev = expect_match(&(struct want){ .name = "bpf", .pid = child, .num_key = "bpf.cmd",
					  .num = BPF_PROG_LOAD });
	expect_num(ev, "bpf.prog.type", BPF_PROG_TYPE_SOCKET_FILTER);
	expect_str(ev, "bpf.prog.name", name);
	cr_expect_geq(num_at(ev, "bpf.retval"), 0);
	cJSON_Delete(ev);
}

/* ---- mounts and namespaces -------------------------------------------------------- */

static int do_mount(void *arg)
{
	char p[PATH_MAX];

	(void)arg;
	if (unshare(CLONE_NEWNS) < 0)
		return 1;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return 2;
	join(p, "mnt");
	if (mount((const char *)arg, p, "tmpfs", MS_NOSUID, "size=1m") < 0)
		return 3;
	if (umount2(p, MNT_DETACH) < 0)
		return 4;
	return 0;
}

Test(kernel, unshare_mount_umount_in_a_private_namespace)
{
	char source[64], p[PATH_MAX];
	pid_t child;
	cJSON *ev;

	snprintf(source, sizeof(source), "vigil-src-%d", getpid());
	join(p, "mnt");
	cr_assert_eq(mkdir(p, 0755), 0);
	child = run_child(do_mount, source);

	ev = expect_syscall("unshare", child, "unshare");
	expect_num(ev, "unshare.flags", CLONE_NEWNS);
	expect_num(ev, "unshare.retval", 0);
	cJSON_Delete(ev);

	ev = expect_event("mount", child, "mount.source.path", source);
	expect_str(ev, "mount.syscall.name", "mount");
	expect_str(ev, "mount.fs_type", "tmpfs");
	expect_str(ev, "mount.mountpoint.path", p);
	expect_num(ev, "mount.flags", MS_NOSUID);
	expect_num(ev, "mount.retval", 0);
	cJSON_Delete(ev);

	ev = expect_syscall("umount", child, "umount2");
	expect_str(ev, "umount.file.path", p);
	expect_num(ev, "umount.flags", MNT_DETACH);
	expect_num(ev, "umount.retval", 0);
	cJSON_Delete(ev);
}

static int do_unshare_uts(void *arg)
{
	(void)arg;
	return unshare(CLONE_NEWUTS) < 0;
}

Test(kernel, unshare_uts)
{
	pid_t child = run_child(do_unshare_uts, NULL);
	cJSON *ev = expect_syscall("unshare", child, "unshare");

	expect_num(ev, "unshare.flags", CLONE_NEWUTS);
	expect_num(ev, "unshare.retval", 0);
	cJSON_Delete(ev);
}

static int do_setns(void *arg)
{
	int fd = open("/proc/self/ns/net", O_RDONLY);

	(void)arg;
	if (fd < 0)
		return 1;
	if (setns(fd, CLONE_NEWNET) < 0)
		return 2;
	close(fd);
	return 0;
}

Test(kernel, setns_to_the_own_net_namespace)
{
	struct stat st;
	pid_t child;
	cJSON *ev;

	cr_assert_eq(stat("/proc/self/ns/net", &st), 0);
	child = run_child(do_setns, NULL);
	ev = expect_syscall("setns", child, "setns");
	expect_num(ev, "setns.nstype", CLONE_NEWNET);
	expect_num(ev, "setns.retval", 0);
	expect_str(ev, "setns.file.path_resolution", "file");
	expect_str(ev, "setns.file.filesystem", "nsfs");
	expect_num(ev, "setns.file.inode", (int64_t)st.st_ino);
	cJSON_Delete(ev);
}

/* ---- memfd, W+X memory ----------------------------------------------------------------- */

static int do_memfd(void *arg)
{
	return syscall(SYS_memfd_create, (const char *)arg, MFD_CLOEXEC | MFD_ALLOW_SEALING) < 0;
}

Test(kernel, memfd_create)
{
	char name[64];
	pid_t child;
	cJSON *ev;

	snprintf(name, sizeof(name), "vigil-memfd-%d", getpid());
	child = run_child(do_memfd, name);
	ev = expect_syscall("memfd_create", child, "memfd_create");
	expect_str(ev, "memfd_create.name", name);
	expect_num(ev, "memfd_create.flags", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	cr_expect_geq(num_at(ev, "memfd_create.retval"), 0);
	cJSON_Delete(ev);
}

static int do_mappings(void *arg)
{
	struct shared *res = arg;
	const int rwx = PROT_READ | PROT_WRITE | PROT_EXEC;
	char p[PATH_MAX];
	void *ro, *ro_file, *wx, *wx_file;
	int fd;

	join(p, "mapped");
	fd = open(p, O_CREAT | O_RDWR, 0644);
	if (fd < 0 || ftruncate(fd, 4096) < 0)
		return 1;
	/* Neither of these is an event. */
	ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ro_file = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	if (ro == MAP_FAILED || ro_file == MAP_FAILED)
		return 2;
	if (mprotect(ro, 4096, PROT_READ | PROT_WRITE) < 0)
		return 3;
	/* These are. */
	wx = mmap(NULL, 8192, rwx, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	wx_file = mmap(NULL, 4096, rwx, MAP_PRIVATE, fd, 0);
	if (wx == MAP_FAILED || wx_file == MAP_FAILED)
		return 4;
	if (mprotect(ro, 4096, rwx) < 0)
		return 5;
	res->addr[0] = (uintptr_t)wx;
	res->addr[1] = (uintptr_t)wx_file;
	res->addr[2] = (uintptr_t)ro;
	return 0;
}

Test(kernel, mmap_and_mprotect_only_when_writable_and_executable)
{
	const int rwx = PROT_READ | PROT_WRITE | PROT_EXEC;
	struct shared *res = shared_new();
	pid_t child = run_child(do_mappings, res);
	char p[PATH_MAX];
	cJSON *ev;

	join(p, "mapped");
	ev = expect_match(&(struct want){ .name = "mmap", .pid = child, .num_key = "mmap.retval",
					  .num = (int64_t)res->addr[0] });
	expect_str(ev, "mmap.syscall.name", "mmap");
	expect_num(ev, "mmap.protection", rwx);
	expect_num(ev, "mmap.flags", MAP_PRIVATE | MAP_ANONYMOUS);
	cr_expect_null(json_path(ev, "mmap.file"), "an anonymous mapping has no file");
	cJSON_Delete(ev);

	ev = expect_match(&(struct want){ .name = "mmap", .pid = child, .num_key = "mmap.retval",
					  .num = (int64_t)res->addr[1] });
	expect_num(ev, "mmap.protection", rwx);
	expect_num(ev, "mmap.flags", MAP_PRIVATE);
	expect_str(ev, "mmap.file.path", p);
	expect_str(ev, "mmap.file.path_resolution", "file");
	cJSON_Delete(ev);

	ev = expect_syscall("mprotect", child, "mprotect");
	expect_num(ev, "mprotect.req_protection", rwx);
	expect_num(ev, "mprotect.addr", (int64_t)res->addr[2]);
	expect_num(ev, "mprotect.len", 4096);
	expect_num(ev, "mprotect.retval", 0);
	cJSON_Delete(ev);

	/* The W+X events came after the plain ones, so these would be here. */
	expect_no_match(&(struct want){ .name = "mmap", .pid = child, .num_key = "mmap.protection",
					.num = PROT_READ },
			"a PROT_READ mmap was reported");
	expect_no_match(&(struct want){ .name = "mprotect", .pid = child,
					.num_key = "mprotect.req_protection",
					.num = PROT_READ | PROT_WRITE },
			"a PROT_READ|PROT_WRITE mprotect was reported");
	munmap(res, sizeof(*res));
}

/* The nsfs file has no place in any directory tree: walking it up ends at
 * once and the sensor prints "/" (and an empty name) as if the process had
 * joined the root directory. The name readlink(2) shows for the namespace
 * file, "net:[inode]", is what a reader can use. */
Test(kernel, setns_file_path_names_the_namespace)
{
	char want[64];
	ssize_t n;
	pid_t child;
	cJSON *ev;

	n = readlink("/proc/self/ns/net", want, sizeof(want) - 1);
	cr_assert_gt(n, 0);
	want[n] = '\0';
	child = run_child(do_setns, NULL);
	ev = expect_syscall("setns", child, "setns");
	expect_str(ev, "setns.file.path", want);
	cJSON_Delete(ev);
}
