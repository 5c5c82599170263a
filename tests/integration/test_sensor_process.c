/* test_sensor_process.c - the real sensor, the real kernel: process events
 * end to end, the /proc snapshot, and a clean shutdown. Needs root. */
#include <bpf/bpf.h>
#include <criterion/criterion.h>
#include <limits.h>
#include <sys/stat.h>

#include "integration/harness.h"

struct exec_match {
	const char *name;
	const char *marker; /* an argument only our process has */
	pid_t pid;          /* 0 = any */
};

static bool has_arg(const cJSON *args, const char *marker)
{
	const cJSON *a;

	cJSON_ArrayForEach(a, args) {
		if (cJSON_IsString(a) && strcmp(a->valuestring, marker) == 0)
			return true;
	}
	return false;
}

static bool match_event(const cJSON *ev, const void *arg)
{
	const struct exec_match *m = arg;
	const cJSON *name = json_path(ev, "evt.name");
	const cJSON *pid = json_path(ev, "process.pid");

	if (!cJSON_IsString(name) || strcmp(name->valuestring, m->name) != 0)
		return false;
	if (m->pid && (!cJSON_IsNumber(pid) || pid->valueint != m->pid))
		return false;
	return !m->marker || has_arg(json_path(ev, "process.args"), m->marker);
}

/* cgroup id = inode of our cgroup v2 directory. */
static uint64_t own_cgroup_id(void)
{
	char line[4096], path[PATH_MAX + 64];
	FILE *f = fopen("/proc/self/cgroup", "r");
	const char *roots[] = { "/sys/fs/cgroup/unified", "/sys/fs/cgroup" };
	struct stat st;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3) != 0)
			continue;
		line[strcspn(line, "\n")] = '\0';
		for (int i = 0; i < 2; i++) {
			snprintf(path, sizeof(path), "%s%s", roots[i], line + 3);
			if (stat(path, &st) == 0) {
				fclose(f);
				return st.st_ino;
			}
		}
	}
	fclose(f);
	return 0;
}

static const char *const events_args[] = { "events", "--types", "exec,fork,exit", NULL };

Test(sensor, exec_and_exit_of_a_known_command, .timeout = 60)
{
	struct sensor_run r;
	char marker[64], real_sh[PATH_MAX];
	struct exec_match m = { .name = "exec", .marker = marker };
	cJSON *exec_ev, *exit_ev;
	const cJSON *args;
	pid_t child;
	int status;

	cr_assert(realpath("/bin/sh", real_sh), "realpath /bin/sh");
	snprintf(marker, sizeof(marker), "vigil-test-%d-%ld", getpid(), (long)time(NULL));
	cr_assert(sensor_start(&r, events_args));

	child = fork();
	if (child == 0) {
		/* A known non-root identity, so the uid check means something. */
		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(90);
		execl("/bin/sh", "sh", "-c", "exit 7", marker, (char *)NULL);
		_exit(91);
	}
	cr_assert(child > 0);
	waitpid(child, &status, 0);
	cr_assert_eq(WEXITSTATUS(status), 7, "the child itself failed: %d", WEXITSTATUS(status));

	exec_ev = sensor_find(&r, match_event, &m, 5000);
	cr_assert(exec_ev, "no exec event with marker %s; stderr:\n%s", marker, r.errbuf);
	cr_expect_str_eq(json_path(exec_ev, "process.file.path")->valuestring, real_sh);
	cr_expect_str_eq(json_path(exec_ev, "process.file.name")->valuestring, strrchr(real_sh, '/') + 1);
	cr_expect_str_eq(json_path(exec_ev, "process.argv0")->valuestring, "sh");
	args = json_path(exec_ev, "process.args");
	cr_assert_eq(cJSON_GetArraySize(args), 3);
	cr_expect_str_eq(cJSON_GetArrayItem(args, 0)->valuestring, "-c");
	cr_expect_str_eq(cJSON_GetArrayItem(args, 1)->valuestring, "exit 7");
	cr_expect_str_eq(cJSON_GetArrayItem(args, 2)->valuestring, marker);
	cr_expect_str_eq(json_path(exec_ev, "exec.syscall.path")->valuestring, "/bin/sh");
	cr_expect_eq(json_path(exec_ev, "process.pid")->valueint, child);
	cr_expect_eq(json_path(exec_ev, "process.ppid")->valueint, getpid());
	cr_expect_eq(json_path(exec_ev, "process.credentials.uid")->valueint, 65534);
	cr_expect_eq(json_path(exec_ev, "process.credentials.gid")->valueint, 65534);
	cr_expect_eq((uint64_t)json_path(exec_ev, "process.cgroup.id")->valuedouble, own_cgroup_id());
	cr_expect_eq(json_path(exec_ev, "process.parent.pid")->valueint, getpid(),
		     "the parent (this test) must come from the snapshot");

	m = (struct exec_match){ .name = "exit", .pid = child };
	exit_ev = sensor_find(&r, match_event, &m, 5000);
	cr_assert(exit_ev, "no exit event for pid %d", child);
	cr_expect_str_eq(json_path(exit_ev, "exit.cause")->valuestring, "EXITED");
	cr_expect_eq(json_path(exit_ev, "exit.code")->valueint, 7);
	/* The exit event still knows what the process was. */
	cr_expect_str_eq(json_path(exit_ev, "process.file.path")->valuestring, real_sh);

	cJSON_Delete(exec_ev);
	cJSON_Delete(exit_ev);
	cr_expect_eq(sensor_stop(&r), 0, "sensor exit status; stderr:\n%s", r.errbuf);
	sensor_free(&r);
}

Test(sensor, killed_process_reports_the_signal, .timeout = 60)
{
	struct sensor_run r;
	struct exec_match m = { .name = "exit" };
	cJSON *ev;
	pid_t child;

	cr_assert(sensor_start(&r, events_args));
	child = fork();
	if (child == 0) {
		execl("/bin/sleep", "sleep", "30", (char *)NULL);
		_exit(91);
	}
	usleep(200 * 1000);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	m.pid = child;
	ev = sensor_find(&r, match_event, &m, 5000);
	cr_assert(ev, "no exit event for the killed child");
	cr_expect_str_eq(json_path(ev, "exit.cause")->valuestring, "SIGNALED");
	cr_expect_eq(json_path(ev, "exit.code")->valueint, SIGKILL);
	cJSON_Delete(ev);
	sensor_stop(&r);
	sensor_free(&r);
}

/* A shell started before the sensor later runs a command: the command's
 * ancestry must name the shell, which only the snapshot can know. */
Test(sensor, snapshot_seeds_ancestry_of_running_processes, .timeout = 60)
{
	struct sensor_run r;
	char marker[64], script[256], real_sh[PATH_MAX];
	struct exec_match m = { .name = "exec", .marker = marker };
	const cJSON *parent;
	cJSON *ev;
	pid_t shell;

	cr_assert(realpath("/bin/sh", real_sh));
	snprintf(marker, sizeof(marker), "vigil-snap-%d", getpid());
	snprintf(script, sizeof(script), "sleep 4; /bin/true %s", marker);
	shell = fork();
	if (shell == 0) {
		execl("/bin/sh", "sh", "-c", script, (char *)NULL);
		_exit(91);
	}
	usleep(300 * 1000); /* the shell has exec'd before the sensor starts */
	cr_assert(sensor_start(&r, events_args));

	ev = sensor_find(&r, match_event, &m, 10000);
	cr_assert(ev, "no exec of /bin/true %s", marker);
	parent = json_path(ev, "process.parent");
	cr_assert(parent, "the exec has no parent");
	cr_expect_eq(json_path(parent, "pid")->valueint, shell);
	cr_expect_str_eq(json_path(parent, "file.path")->valuestring, real_sh);
	cr_expect_str_eq(json_path(parent, "argv0")->valuestring, "sh");
	cr_expect_eq(json_path(parent, "ppid")->valueint, getpid());
	/* And above the shell, this test process. */
	cr_expect_eq(json_path(cJSON_GetArrayItem(json_path(ev, "process.ancestors"), 1), "pid")->valueint,
		     getpid());
	cJSON_Delete(ev);
	waitpid(shell, NULL, 0);
	sensor_stop(&r);
	sensor_free(&r);
}

static unsigned count_vigil_programs(void)
{
	__u32 id = 0;
	unsigned n = 0;

	while (bpf_prog_get_next_id(id, &id) == 0) {
		struct bpf_prog_info info;
		__u32 len = sizeof(info);
		int fd = bpf_prog_get_fd_by_id(id);

		if (fd < 0)
			continue;
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && strncmp(info.name, "vigil_", 6) == 0)
			n++;
		close(fd);
	}
	return n;
}

/* Counted relative to before the start, so another Vigil on the machine
 * does not make the test fail. The syscall programs are included. */
Test(sensor, shutdown_leaves_no_programs_loaded, .timeout = 60)
{
	static const char *const all_args[] = { "events", "--types", "exec,open,connect", NULL };
	struct sensor_run r;
	unsigned before = count_vigil_programs(), now;

	/* A sensor stopped just before may still be releasing its programs
	 * (tail-call targets go from a work queue): let the count settle. */
	for (int i = 0, stable = 0; i < 100 && stable < 20 && before > 0; i++) {
		usleep(50 * 1000);
		now = count_vigil_programs();
		stable = now == before ? stable + 1 : 0;
		before = now;
	}

	cr_assert(sensor_start(&r, all_args));
	/* expect, not assert: the sensor must still be stopped below. */
	cr_expect_geq(count_vigil_programs(), before + 6,
		      "exec/fork/exit and the sys_enter/sys_exit stages should be loaded while it runs");
	cr_assert_eq(sensor_stop(&r), 0, "stderr:\n%s", r.errbuf);
	/* The kernel frees tail-call targets from a work queue once the
	 * program array's last user is gone: give it a moment. */
	for (int i = 0; i < 100 && count_vigil_programs() > before; i++)
		usleep(50 * 1000);
	cr_expect_eq(count_vigil_programs(), before, "programs left loaded after shutdown");
	sensor_free(&r);
}

Test(sensor, check_says_the_sensor_can_run_here)
{
	int status = system("\"${VIGIL:-build/vigil}\" check > /dev/null");

	cr_assert(WIFEXITED(status));
	cr_expect_eq(WEXITSTATUS(status), 0);
}

/* With the consumer stalled the kernel ring buffer overflows: the loss is
 * counted and said in the logs, and the sensor carries on. */
Test(sensor, ring_buffer_losses_are_counted_and_logged, .timeout = 90)
{
	static const char *const args[] = { "events", "--types", "open", "--no-cri", NULL };
	struct sensor_run r;
	uint64_t deadline;
	int fd;

	cr_assert(sensor_start(&r, args));
	kill(r.pid, SIGUSR2); /* stall the consumer */
	usleep(200 * 1000);
	for (int i = 0; i < 60000; i++) {
		fd = open("/etc/hostname", O_RDONLY);
		if (fd >= 0)
			close(fd);
	}
	kill(r.pid, SIGUSR2);
	deadline = now_ms() + 10000;
	while (now_ms() < deadline && !(r.errbuf && strstr(r.errbuf, "in the kernel ring buffer")))
		sensor_pump(&r, 200);
	cr_expect(r.errbuf && strstr(r.errbuf, "lost ") && strstr(r.errbuf, "in the kernel ring buffer"),
		  "no loss in the logs; stderr:\n%s", r.errbuf ? r.errbuf : "");
	cr_expect_eq(sensor_stop(&r), 0);
	/* The final summary counts them too. */
	cr_expect(strstr(r.errbuf, "lost in the ring buffer") && !strstr(r.errbuf, "(0 lost in the ring buffer)") ,
		  "stderr:\n%s", r.errbuf);
	sensor_free(&r);
}
