/* test_cri.c - the CRI client and container cache against a real containerd.
 *
 * Needs root and `hack/cri-up.sh` first (socket /run/vigil-cri/containerd.sock,
 * or $VIGIL_CRI_SOCKET). Creates real pods through the CRI, checks what the
 * client, the cache and container_id make of them, kills and restarts
 * containerd, and removes every pod it made. Tests run one at a time (see
 * main) because one of them stops the runtime the others use. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../sensor/container_cache.h"
#include "../../sensor/container_id.h"
#include "../../sensor/cri.h"

#define DEFAULT_SOCKET "/run/vigil-cri/containerd.sock"
#define PID_FILE "/run/vigil-cri/containerd.pid"
#define DIGEST_FILE "/var/lib/vigil-cri/images/busybox.digest"
#define LOG_ROOT "/var/lib/vigil-cri/pod-logs"
#define IMAGE "localhost/vigil/busybox:1.35"
#define NAMESPACE "vigil-it"

static const char *socket_path(void)
{
	const char *s = getenv("VIGIL_CRI_SOCKET");

	return s && *s ? s : DEFAULT_SOCKET;
}

/* Pods made by the running test, removed by its fini even when it fails. */
static char made_pods[8][CRI_ID_SIZE];
static int n_made_pods;

struct pod {
	char id[CRI_ID_SIZE];
	char uid[37];
	char name[64];
	char cgroup_parent[128];
	char log_dir[256];
	const char *labels[12];
	struct cri_pod_config cfg;
};

static void read_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");

	cr_assert_not_null(f, "cannot open %s: %s", path, strerror(errno));
	cr_assert_not_null(fgets(buf, (int)size, f), "%s is empty", path);
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
}

static struct cri_client *connect_or_fail(void)
{
	struct cri_client *c = cri_client_new(socket_path(), 5000);
	struct cri_version v;

	cr_assert_not_null(c);
	cr_assert_eq(cri_version(c, &v), CRI_OK,
		     "no CRI at %s (run hack/cri-up.sh as root first): %s",
		     socket_path(), cri_client_error(c));
	return c;
}

static void make_pod(struct cri_client *c, struct pod *p, const char *name)
{
	char path[300];

	memset(p, 0, sizeof(*p));
	read_line("/proc/sys/kernel/random/uuid", p->uid, sizeof(p->uid));
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->cgroup_parent, sizeof(p->cgroup_parent),
		 "/kubepods/besteffort/pod%s", p->uid);
	snprintf(p->log_dir, sizeof(p->log_dir), "%s/%s_%s_%s", LOG_ROOT, NAMESPACE,
		 name, p->uid);
	snprintf(path, sizeof(path), "%s", LOG_ROOT);
	mkdir(path, 0755);
	mkdir(p->log_dir, 0755);
	/* as kubelet sends them */
	p->labels[0] = "app";
	p->labels[1] = "vigil-it";
	p->labels[2] = "io.kubernetes.pod.name";
	p->labels[3] = p->name;
	p->labels[4] = "io.kubernetes.pod.namespace";
	p->labels[5] = NAMESPACE;
	p->labels[6] = "io.kubernetes.pod.uid";
	p->labels[7] = p->uid;
	p->labels[8] = NULL;
	p->cfg.name = p->name;
	p->cfg.namespace = NAMESPACE;
	p->cfg.uid = p->uid;
	p->cfg.log_directory = p->log_dir;
	p->cfg.cgroup_parent = p->cgroup_parent;
	p->cfg.labels = p->labels;
	cr_assert_eq(cri_run_pod(c, &p->cfg, p->id), CRI_OK, "RunPodSandbox: %s",
		     cri_client_error(c));
	if (n_made_pods < 8)
		snprintf(made_pods[n_made_pods++], CRI_ID_SIZE, "%s", p->id);
}

static void make_container(struct cri_client *c, const struct pod *p,
			   const char *name, const char *const *cmd, char id[CRI_ID_SIZE])
{
	const char *labels[] = { "io.kubernetes.container.name", name,
				 "io.kubernetes.pod.name", p->name,
				 "io.kubernetes.pod.namespace", NAMESPACE,
				 "io.kubernetes.pod.uid", p->uid,
				 NULL };
	char log_path[80];
	struct cri_container_config cfg = { 0 };

	snprintf(log_path, sizeof(log_path), "%s/0.log", name);
	cfg.name = name;
	cfg.image = IMAGE;
	cfg.command = cmd;
	cfg.labels = labels;
	cfg.log_path = log_path;
	cr_assert_eq(cri_create_container(c, p->id, &cfg, &p->cfg, id), CRI_OK,
		     "CreateContainer: %s", cri_client_error(c));
	cr_assert_eq(cri_start_container(c, id), CRI_OK, "StartContainer: %s",
		     cri_client_error(c));
}

/* Removes the pods this test made and the pod cgroups runc left behind
 * (kubelet would remove those on a real node). */
static void remove_made_pods(void)
{
	struct cri_client *c = cri_client_new(socket_path(), 10000);

	for (int i = 0; c && i < n_made_pods; i++) {
		struct cri_pod p;
		char dir[256];

		if (cri_pod_status(c, made_pods[i], false, &p) != CRI_OK)
			continue;
		cri_stop_pod(c, made_pods[i]);
		cri_remove_pod(c, made_pods[i]);
		static const char *const ctrls[] = { "unified", "systemd", "memory", "cpu",
						     "cpuacct", "cpuset", "pids", "blkio",
						     "devices", "freezer", NULL };
		for (int k = 0; ctrls[k]; k++) {
			snprintf(dir, sizeof(dir), "/sys/fs/cgroup/%s/kubepods/besteffort/pod%s",
				 ctrls[k], p.uid);
			rmdir(dir);
		}
		snprintf(dir, sizeof(dir), "/sys/fs/cgroup/kubepods/besteffort/pod%s", p.uid);
		rmdir(dir);
	}
	n_made_pods = 0;
	cri_client_free(c);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool wait_hit(struct container_cache *cache, const char *id,
		     struct container_info *out, unsigned ms)
{
	uint64_t end = now_ms() + ms;

	while (now_ms() < end) {
		if (container_cache_lookup(cache, id, out) == CONTAINER_LOOKUP_HIT)
			return true;
		container_cache_request(cache, id);
		usleep(20000);
	}
	return false;
}

static bool wait_state(struct container_cache *cache, enum container_cache_state s,
		       unsigned ms)
{
	uint64_t end = now_ms() + ms;

	while (now_ms() < end) {
		if (container_cache_state(cache) == s)
			return true;
		usleep(20000);
	}
	return false;
}

static struct container_cache *start_cache(unsigned relist_ms)
{
	struct container_cache_config cfg = {
		.socket_path = socket_path(),
		.relist_interval_ms = relist_ms,
		.backoff_initial_ms = 100,
		.backoff_max_ms = 1000,
		.call_timeout_ms = 2000,
	};
	struct container_cache *cache = container_cache_new(&cfg);

	cr_assert_not_null(cache);
	cr_assert_eq(container_cache_start(cache), 0);
	cr_assert(wait_state(cache, CONTAINER_CACHE_CONNECTED, 5000),
		  "cache never connected to %s", socket_path());
	return cache;
}

Test(cri, pod_and_container_view, .fini = remove_made_pods, .timeout = 60)
{
	struct cri_client *c = connect_or_fail();
	struct pod p;
	char cid[CRI_ID_SIZE], path[64], cgroup_id[65], uid[37], digest[100];
	const char *cmd[] = { "/bin/sleep", "600", NULL };
	struct cri_container_list list;
	struct cri_container st;
	struct cri_pod ps;
	struct container_info info;
	struct container_cache *cache;
	enum container_runtime rt;
	FILE *f;
	char cgroups[4096];
	size_t n;

	make_pod(c, &p, "it-sleeper-pod");
	make_container(c, &p, "sleeper", cmd, cid);

	/* ListContainers for the pod */
	cr_assert_eq(cri_list_containers(c, p.id, &list), CRI_OK, "%s", cri_client_error(c));
	cr_assert_eq(list.n, 1);
	cr_assert_str_eq(list.items[0].id, cid);
	cr_assert_str_eq(list.items[0].pod_sandbox_id, p.id);
	cr_assert_str_eq(list.items[0].name, "sleeper");
	cr_assert_str_eq(list.items[0].image, IMAGE);
	cr_assert_eq(list.items[0].state, CRI_CONTAINER_RUNNING);
	cr_assert_str_eq(cri_labels_get(&list.items[0].labels, "io.kubernetes.pod.uid"), p.uid);
	cri_container_list_free(&list);

	/* ContainerStatus (verbose gives the pid and the sandbox) */
	cr_assert_eq(cri_container_status(c, cid, true, &st), CRI_OK, "%s", cri_client_error(c));
	cr_assert_str_eq(st.name, "sleeper");
	cr_assert_str_eq(st.pod_sandbox_id, p.id);
	cr_assert_gt(st.pid, 1);
	cr_assert_gt(st.started_at_ns, 0);

	/* PodSandboxStatus */
	cr_assert_eq(cri_pod_status(c, p.id, true, &ps), CRI_OK, "%s", cri_client_error(c));
	cr_assert_str_eq(ps.name, "it-sleeper-pod");
	cr_assert_str_eq(ps.namespace, NAMESPACE);
	cr_assert_str_eq(ps.uid, p.uid);
	cr_assert_str_eq(cri_labels_get(&ps.labels, "app"), "vigil-it");
	cr_assert_eq(ps.state, CRI_POD_READY);
	cr_assert_neq(ps.ip[0], '\0');

	/* The container's real cgroup names the same container and pod */
	snprintf(path, sizeof(path), "/proc/%u/cgroup", st.pid);
	f = fopen(path, "r");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	n = fread(cgroups, 1, sizeof(cgroups) - 1, f);
	fclose(f);
	cgroups[n] = '\0';
	cr_assert_eq(container_id_from_cgroup_file(cgroups, n, cgroup_id, &rt), 0,
		     "no container id in:\n%s", cgroups);
	cr_assert_str_eq(cgroup_id, cid, "cgroup:\n%s", cgroups);
	cr_assert_eq(container_pod_uid_from_cgroup(st.cgroups_path, strlen(st.cgroups_path), uid), 0,
		     "%s", st.cgroups_path);
	cr_assert_str_eq(uid, p.uid);

	/* The cache's view, through the real CRI source */
	read_line(DIGEST_FILE, digest, sizeof(digest));
	cache = start_cache(10000);
	cr_assert(wait_hit(cache, cid, &info, 5000), "cache never learnt %s", cid);
	cr_assert_str_eq(info.id, cid);
	cr_assert_str_eq(info.name, "sleeper");
	cr_assert_not(info.is_sandbox);
	cr_assert_str_eq(info.pod_id, p.id);
	cr_assert_str_eq(info.pod_name, "it-sleeper-pod");
	cr_assert_str_eq(info.pod_namespace, NAMESPACE);
	cr_assert_str_eq(info.pod_uid, p.uid);
	cr_assert_str_eq(info.image_name, "localhost/vigil/busybox");
	cr_assert_str_eq(info.image_tag, "1.35");
	cr_assert_str_eq(info.image_digest, digest);
	cr_assert_eq(strncmp(info.image_id, "sha256:", 7), 0, "%s", info.image_id);
	cr_assert_str_eq(info.runtime, "containerd");
	cr_assert_str_eq(container_info_label(&info, "app"), "vigil-it");
	cr_assert_null(container_info_label(&info, "io.kubernetes.pod.uid"));
	cr_assert_gt(info.created_at_ns, 0);

	/* the pause process's cgroup names the sandbox: known too */
	cr_assert(wait_hit(cache, p.id, &info, 5000));
	cr_assert(info.is_sandbox);
	cr_assert_str_eq(info.pod_name, "it-sleeper-pod");
	cr_assert_str_eq(info.pod_uid, p.uid);

	/* and a well-formed id nobody knows is reported as unknown */
	const char *nobody = "0000000000000000000000000000000000000000000000000000000000000000";
	cr_assert_eq(container_cache_request(cache, nobody), 0);
	uint64_t end = now_ms() + 5000;
	while (now_ms() < end &&
	       container_cache_lookup(cache, nobody, NULL) != CONTAINER_LOOKUP_UNKNOWN)
		usleep(20000);
	cr_assert_eq(container_cache_lookup(cache, nobody, NULL), CONTAINER_LOOKUP_UNKNOWN);

	/* a NotFound from the runtime is an error with its message */
	cr_assert_eq(cri_container_status(c, nobody, false, &st), CRI_ERR_NOT_FOUND);
	cr_assert(strstr(cri_client_error(c), "not found"), "%s", cri_client_error(c));

	container_cache_free(cache);
	cri_client_free(c);
}

Test(cri, short_lived_container_found_by_id, .fini = remove_made_pods, .timeout = 60)
{
	struct cri_client *c = connect_or_fail();
	struct container_cache *cache;
	struct pod p;
	char cid[CRI_ID_SIZE];
	const char *cmd[] = { "/bin/true", NULL };
	struct cri_container st;
	struct container_info info;
	struct cri_container_list list;
	bool listed = false;
	uint64_t end;

	make_pod(c, &p, "it-flash-pod");
	/* relists far apart: only the lookup by id can find it in time */
	cache = start_cache(600000);

	make_container(c, &p, "flash", cmd, cid);
	end = now_ms() + 5000;
	do {
		cr_assert_eq(cri_container_status(c, cid, false, &st), CRI_OK, "%s",
			     cri_client_error(c));
		if (st.state == CRI_CONTAINER_EXITED)
			break;
		usleep(10000);
	} while (now_ms() < end);
	cr_assert_eq(st.state, CRI_CONTAINER_EXITED);
	cr_assert_eq(st.exit_code, 0);
	/* containerd stamps the start after the task runs: for a process
	 * this short, "finished" can come out before "started". */
	cr_assert_gt(st.finished_at_ns, 0);
	cr_assert_gt(st.started_at_ns, 0);
	/* /bin/true lives a few ms; a loaded machine can stretch that, which
	 * does not change what is tested: it exited before any relist. */
	if (st.finished_at_ns > st.started_at_ns && st.finished_at_ns - st.started_at_ns >= 100000000)
		cr_log_warn("container lived %lld ms",
			    (long long)((st.finished_at_ns - st.started_at_ns) / 1000000));

	/* gone before any relist: the miss path fetches it by id */
	cr_assert_eq(container_cache_lookup(cache, cid, NULL), CONTAINER_LOOKUP_MISS);
	cr_assert(wait_hit(cache, cid, &info, 5000));
	cr_assert_str_eq(info.name, "flash");
	cr_assert_str_eq(info.pod_name, "it-flash-pod");
	cr_assert_str_eq(info.pod_uid, p.uid);
	cr_assert_str_eq(info.image_tag, "1.35");

	/* and a relist still lists it (exited containers stay until removed) */
	cr_assert_eq(cri_list_containers(c, NULL, &list), CRI_OK);
	for (size_t i = 0; i < list.n; i++)
		if (strcmp(list.items[i].id, cid) == 0)
			listed = list.items[i].state == CRI_CONTAINER_EXITED;
	cri_container_list_free(&list);
	cr_assert(listed);

	container_cache_free(cache);
	cri_client_free(c);
}

static pid_t containerd_pid(void)
{
	char line[32], comm[64] = "", path[64];
	FILE *f;
	long pid;

	read_line(PID_FILE, line, sizeof(line));
	pid = strtol(line, NULL, 10);
	cr_assert_gt(pid, 1, "bad pid in %s", PID_FILE);
	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	f = fopen(path, "r");
	cr_assert_not_null(f, "containerd (pid %ld) is not running", pid);
	cr_assert_not_null(fgets(comm, sizeof(comm), f));
	fclose(f);
	cr_assert_eq(strncmp(comm, "containerd", 10), 0, "pid %ld is %s", pid, comm);
	return (pid_t)pid;
}

static void run_cri_up(void)
{
	char cmd[1200], dir[900];
	const char *root = getenv("VIGIL_ROOT");
	const char *slash = strrchr(__FILE__, '/');

	if (root)
		snprintf(dir, sizeof(dir), "%s", root);
	else if (slash)
		snprintf(dir, sizeof(dir), "%.*s/../..", (int)(slash - __FILE__), __FILE__);
	else
		snprintf(dir, sizeof(dir), ".");
	snprintf(cmd, sizeof(cmd), "%s/hack/cri-up.sh >/dev/null", dir);
	cr_assert_eq(system(cmd), 0, "%s failed", cmd);
}

Test(cri, runtime_killed_then_restarted, .timeout = 120)
{
	struct container_cache *cache = start_cache(200);
	struct container_cache_stats before, after;
	struct cri_pod_list pods;
	struct cri_client *c;
	pid_t pid = containerd_pid();
	uint64_t t0;

	container_cache_get_stats(cache, &before);
	cr_assert_eq(kill(pid, SIGKILL), 0, "kill %d: %s", (int)pid, strerror(errno));
	t0 = now_ms();
	cr_assert(wait_state(cache, CONTAINER_CACHE_DEGRADED, 5000),
		  "state %s after containerd died",
		  container_cache_state_name(container_cache_state(cache)));
	cr_assert_lt(now_ms() - t0, 5000);
	/* degraded, not stuck: lookups answer at once */
	t0 = now_ms();
	for (int i = 0; i < 1000; i++)
		container_cache_lookup(cache, "1111111111111111111111111111111111111111111111111111111111111111", NULL);
	cr_assert_lt(now_ms() - t0, 200);

	/* let a few reconnects fail, then bring it back */
	usleep(1500000);
	container_cache_get_stats(cache, &after);
	cr_assert_geq(after.connect_error, 2);
	cr_assert_gt(after.backoff_ms, 100);

	run_cri_up();
	cr_assert(wait_state(cache, CONTAINER_CACHE_CONNECTED, 10000),
		  "not reconnected after restart: %s",
		  container_cache_state_name(container_cache_state(cache)));
	container_cache_get_stats(cache, &after);
	cr_assert_gt(after.connect_ok, before.connect_ok);
	cr_assert_eq(after.backoff_ms, 0);

	/* and the runtime is really usable again */
	c = connect_or_fail();
	cr_assert_eq(cri_list_pods(c, &pods), CRI_OK, "%s", cri_client_error(c));
	cri_pod_list_free(&pods);
	cri_client_free(c);
	container_cache_free(cache);
}

/* One test at a time: runtime_killed_then_restarted stops the runtime the
 * others need. */
int main(int argc, char *argv[])
{
	struct criterion_test_set *tests = criterion_initialize();
	int result = 0;

	criterion_options.jobs = 1;
	if (criterion_handle_args(argc, argv, true))
		result = !criterion_run_all_tests(tests);
	criterion_finalize(tests);
	return result;
}
