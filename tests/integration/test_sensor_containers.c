/* test_sensor_containers.c - container and pod attribution end to end: the
 * real sensor, the real kernel and a real containerd (hack/cri-up.sh).
 *
 * Pods are created through Vigil's own CRI client; the sensor must report
 * what runs inside them with the container id the runtime knows, the
 * container's name and image, and its pod. One test kills containerd under
 * a running sensor and brings it back. Needs root and `hack/cri-up.sh`
 * first. Tests run one at a time (see main): one of them stops the runtime
 * the others use. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <dirent.h>
#include <limits.h>
#include <sys/stat.h>

#include "integration/harness.h"
#include "../../sensor/cri.h"

#define CRI_SOCKET "/run/vigil-cri/containerd.sock"
#define PID_FILE "/run/vigil-cri/containerd.pid"
#define DIGEST_FILE "/var/lib/vigil-cri/images/busybox.digest"
#define POD_LOG_ROOT "/var/lib/vigil-cri/pod-logs"
#define IMAGE "localhost/vigil/busybox:1.35"
#define IMAGE_NAME "localhost/vigil/busybox"
#define IMAGE_TAG "1.35"
#define NAMESPACE "vigil-e2e"
#define LISTEN "127.0.0.1:19817"
#define MAX_PODS 4

static const char *const sensor_args[] = {
	"events", "--types", "exec", "--cri-socket", CRI_SOCKET, NULL
};

/* What a test leaves behind if it fails half way: its fini cleans up. */
static struct sensor_run sensor;
static bool sensor_running;

struct test_pod {
	char id[CRI_ID_SIZE];
	char uid[37];
	char name[64];
	char cgroup_parent[128];
	char log_dir[256];
	const char *labels[10];
	struct cri_pod_config cfg;
};

static struct test_pod pods[MAX_PODS];
static int n_pods;

/* ---- helpers ------------------------------------------------------------ */

static bool read_first_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	bool ok;

	if (!f)
		return false;
	ok = fgets(buf, (int)size, f) != NULL;
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return ok;
}

/* A string no other process on the machine has in its argv. */
static void make_nonce(char *buf, size_t size, const char *what)
{
	char uuid[40];

	cr_assert(read_first_line("/proc/sys/kernel/random/uuid", uuid, sizeof(uuid)));
	snprintf(buf, size, "%s-%.8s", what, uuid);
}

/* The test's CRI connection, freed by its fini even when it fails. */
static struct cri_client *client;

static struct cri_client *cri_connect(void)
{
	struct cri_client *c = cri_client_new(CRI_SOCKET, 10000);
	struct cri_version v;

	cr_assert_not_null(c);
	client = c;
	cr_assert_eq(cri_version(c, &v), CRI_OK,
		     "no CRI at %s (run hack/cri-up.sh as root first): %s", CRI_SOCKET,
		     cri_client_error(c));
	return c;
}

static struct test_pod *pod_create(struct cri_client *c, const char *name)
{
	struct test_pod *p;
	char uid[37], pod_name[64];

	cr_assert_lt(n_pods, MAX_PODS);
	p = &pods[n_pods];
	memset(p, 0, sizeof(*p));
	cr_assert(read_first_line("/proc/sys/kernel/random/uuid", uid, sizeof(uid)));
	snprintf(pod_name, sizeof(pod_name), "%s-%.8s", name, uid);
	memcpy(p->uid, uid, sizeof(p->uid));
	memcpy(p->name, pod_name, sizeof(p->name));
	/* the cgroupfs layout kubelet uses for a BestEffort pod */
	snprintf(p->cgroup_parent, sizeof(p->cgroup_parent), "/kubepods/besteffort/pod%s", uid);
	snprintf(p->log_dir, sizeof(p->log_dir), "%s/%s_%s_%s", POD_LOG_ROOT, NAMESPACE, pod_name, uid);
	mkdir(POD_LOG_ROOT, 0755);
	mkdir(p->log_dir, 0755);
	p->labels[0] = "io.kubernetes.pod.name";
	p->labels[1] = p->name;
	p->labels[2] = "io.kubernetes.pod.namespace";
	p->labels[3] = NAMESPACE;
	p->labels[4] = "io.kubernetes.pod.uid";
	p->labels[5] = p->uid;
	p->labels[6] = NULL;
	p->cfg = (struct cri_pod_config){
		.name = p->name,
		.namespace = NAMESPACE,
		.uid = p->uid,
		.log_directory = p->log_dir,
		.cgroup_parent = p->cgroup_parent,
		.labels = p->labels,
	};
	n_pods++; /* from here on the fini removes its log directory */
	cr_assert_eq(cri_run_pod(c, &p->cfg, p->id), CRI_OK, "RunPodSandbox: %s",
		     cri_client_error(c));
	return p;
}

static void container_start(struct cri_client *c, const struct test_pod *p, const char *name,
			    const char *const *cmd, char id[CRI_ID_SIZE])
{
	const char *labels[] = { "io.kubernetes.container.name", name,
				 "io.kubernetes.pod.name", p->name,
				 "io.kubernetes.pod.namespace", NAMESPACE,
				 "io.kubernetes.pod.uid", p->uid,
				 NULL };
	struct cri_container_config cfg = { 0 };
	char log_path[96];

	snprintf(log_path, sizeof(log_path), "%s.log", name);
	cfg.name = name;
	cfg.image = IMAGE;
	cfg.command = cmd;
	cfg.labels = labels;
	cfg.log_path = log_path;
	cr_assert_eq(cri_create_container(c, p->id, &cfg, &p->cfg, id), CRI_OK,
		     "CreateContainer %s: %s", name, cri_client_error(c));
	cr_assert_eq(cri_start_container(c, id), CRI_OK, "StartContainer %s: %s", name,
		     cri_client_error(c));
}

/* Waits for a container to exit; its status is left in *st. */
static bool container_wait_exit(struct cri_client *c, const char *id, struct cri_container *st,
				unsigned ms)
{
	uint64_t end = now_ms() + ms;

	do {
		if (cri_container_status(c, id, false, st) != CRI_OK)
			return false;
		if (st->state == CRI_CONTAINER_EXITED)
			return true;
		usleep(10000);
	} while (now_ms() < end);
	return false;
}

/* The pod's log directory holds one log file per container, nothing deeper. */
static void remove_log_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[PATH_MAX];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

/* Stops and removes the pods the test made (their containers go with them)
 * and the pod cgroups runc leaves behind, which kubelet would remove on a
 * real node. Missing ones are fine: this also runs after failures. */
static void pods_remove_all(void)
{
	static const char *const hierarchies[] = { "", "/unified", "/systemd", "/memory", "/cpu",
						    "/cpuacct", "/cpuset", "/pids", "/blkio",
						    "/devices", "/freezer", NULL };
	struct cri_client *c = n_pods ? cri_client_new(CRI_SOCKET, 10000) : NULL;

	for (int i = 0; i < n_pods; i++) {
		char dir[256];

		/* stop can fail on a pod the runtime lost track of; remove
		 * is still worth trying */
		if (c && pods[i].id[0]) {
			cri_stop_pod(c, pods[i].id);
			if (cri_remove_pod(c, pods[i].id) != CRI_OK)
				fprintf(stderr, "cannot remove pod %s (%s): %s\n", pods[i].name,
					pods[i].id, cri_client_error(c));
		}
		remove_log_dir(pods[i].log_dir);
		for (int k = 0; hierarchies[k]; k++) {
			snprintf(dir, sizeof(dir), "/sys/fs/cgroup%s/kubepods/besteffort/pod%s",
				 hierarchies[k], pods[i].uid);
			rmdir(dir);
		}
	}
	n_pods = 0;
	cri_client_free(c);
}

static void start_sensor(const char *const *args)
{
	cr_assert(sensor_start(&sensor, args), "the sensor did not start");
	sensor_running = true;
}

/* Stops the sensor and checks it exited cleanly. */
static void stop_sensor(void)
{
	int status = sensor_stop(&sensor);

	sensor_running = false;
	cr_expect_eq(status, 0, "sensor exit status %d; stderr:\n%s", status,
		     sensor.errbuf ? sensor.errbuf : "");
	sensor_free(&sensor);
	memset(&sensor, 0, sizeof(sensor));
}

static void cleanup(void)
{
	if (sensor_running) {
		sensor_free(&sensor); /* SIGKILL: the test already failed */
		memset(&sensor, 0, sizeof(sensor));
		sensor_running = false;
	}
	cri_client_free(client);
	client = NULL;
	pods_remove_all();
}

static const char *str_at(const cJSON *obj, const char *path)
{
	const cJSON *v = json_path(obj, path);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double json_number(const cJSON *obj, const char *path)
{
	const cJSON *v = json_path(obj, path);

	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static bool has_arg(const cJSON *args, const char *want)
{
	const cJSON *a;

	cJSON_ArrayForEach(a, args) {
		if (cJSON_IsString(a) && strcmp(a->valuestring, want) == 0)
			return true;
	}
	return false;
}

struct exec_match {
	const char *container_id; /* NULL: any container, or none */
	const char *arg;          /* NULL: any arguments */
};

static bool match_exec(const cJSON *ev, const void *arg)
{
	const struct exec_match *m = arg;
	const char *name = str_at(ev, "evt.name");
	const char *cid = str_at(ev, "container.id");

	if (!name || strcmp(name, "exec") != 0)
		return false;
	if (m->container_id && (!cid || strcmp(cid, m->container_id) != 0))
		return false;
	return !m->arg || has_arg(json_path(ev, "process.args"), m->arg);
}

/* Prints the events the sensor attributed to any container (or, with none
 * of those, its stderr): what a failed match can be compared with. */
static void log_container_events(void)
{
	size_t off = 0, shown = 0;

	while (sensor.buf && off < sensor.len && shown < 20) {
		char *nl = memchr(sensor.buf + off, '\n', sensor.len - off);
		size_t n = nl ? (size_t)(nl - (sensor.buf + off)) : sensor.len - off;

		if (memmem(sensor.buf + off, n, "\"container\"", 11)) {
			fprintf(stderr, "event: %.*s\n", (int)(n > 2000 ? 2000 : n), sensor.buf + off);
			shown++;
		}
		off += n + 1;
	}
	if (!shown)
		fprintf(stderr, "no event names a container; %zu bytes of output, stderr:\n%s\n",
			sensor.len, sensor.errbuf ? sensor.errbuf : "");
}

/* The first exec event matching m, or a failed test saying what came instead. */
static cJSON *find_exec(const struct exec_match *m, int wait_ms, const char *what)
{
	struct exec_match any_container = { NULL, m->arg };
	cJSON *ev = sensor_find(&sensor, match_exec, m, wait_ms);
	const char *got;

	if (ev)
		return ev;
	log_container_events();
	/* Seen but attributed elsewhere, or seen at all? */
	ev = m->arg ? sensor_find(&sensor, match_exec, &any_container, 0) : NULL;
	if (!ev)
		cr_assert_fail("no exec event for %s at all (wanted container %s)", what,
			       m->container_id ? m->container_id : "any");
	got = str_at(ev, "container.id");
	cr_log_error("the exec of %s has process.cgroup.id %.0f and container.id %s", what,
		     json_number(ev, "process.cgroup.id"), got ? got : "(none)");
	cJSON_Delete(ev);
	cr_assert_fail("the exec of %s is not attributed to container %s", what, m->container_id);
	return NULL;
}

/* Checks one string field of an event, saying which event on failure. */
static void expect_str(const cJSON *ev, const char *path, const char *want)
{
	const char *got = str_at(ev, path);
	char *text;

	if (got && strcmp(got, want) == 0)
		return;
	text = cJSON_PrintUnformatted(ev);
	fprintf(stderr, "the event: %s\n", text ? text : "?");
	free(text);
	cr_expect_fail("%s is \"%s\", want \"%s\"", path, got ? got : "(missing)", want);
}

static uint64_t own_mnt_ns(void)
{
	struct stat st;

	cr_assert_eq(stat("/proc/self/ns/mnt", &st), 0);
	return st.st_ino;
}

/* ---- tests -------------------------------------------------------------- */

/* A command run inside a running pod: every part of the container and pod
 * identity comes from the runtime, and the binary path is the container's
 * view of its own filesystem. */
Test(containers, exec_inside_a_pod_is_attributed, .fini = cleanup, .timeout = 90)
{
	struct cri_client *c = cri_connect();
	char sleeper_id[CRI_ID_SIZE], lister_id[CRI_ID_SIZE], marker[64], script[96], digest[128];
	char sleep_arg[32];
	struct test_pod *p;
	struct cri_container st;
	struct exec_match m;
	cJSON *ev;
	const cJSON *created;

	cr_assert(read_first_line(DIGEST_FILE, digest, sizeof(digest)), "cannot read %s", DIGEST_FILE);
	make_nonce(marker, sizeof(marker), "/marker");
	/* `sleep 30.<n>`: an argument that names this run's sleeper only */
	snprintf(sleep_arg, sizeof(sleep_arg), "30.%u", (unsigned)(now_ms() % 1000));
	/* By path: busybox sh runs a bare "ls" as a built-in applet, no exec. */
	snprintf(script, sizeof(script), "/bin/ls %s; exit 0", marker);
	const char *const sleeper_cmd[] = { "/bin/sleep", sleep_arg, NULL };
	const char *const lister_cmd[] = { "/bin/sh", "-c", script, NULL };

	start_sensor(sensor_args);
	p = pod_create(c, "e2e-exec");
	container_start(c, p, "sleeper", sleeper_cmd, sleeper_id);
	container_start(c, p, "lister", lister_cmd, lister_id);
	cr_assert(container_wait_exit(c, lister_id, &st, 10000), "lister did not finish");

	/* the sleeper's own start */
	m = (struct exec_match){ .container_id = sleeper_id, .arg = sleep_arg };
	ev = find_exec(&m, 5000, "sleep in the sleeper");
	expect_str(ev, "container.name", "sleeper");
	expect_str(ev, "pod.name", p->name);
	expect_str(ev, "pod.uid", p->uid);
	cJSON_Delete(ev);

	/* the ls in the second container of the same pod */
	m = (struct exec_match){ .container_id = lister_id, .arg = marker };
	ev = find_exec(&m, 5000, "ls in the lister");
	expect_str(ev, "container.id", lister_id);
	expect_str(ev, "container.name", "lister");
	expect_str(ev, "container.image.name", IMAGE_NAME);
	expect_str(ev, "container.image.tag", IMAGE_TAG);
	expect_str(ev, "container.image.digest", digest);
	expect_str(ev, "container.runtime", "containerd");
	cr_expect(cJSON_IsTrue(json_path(ev, "container.resolved")), "container.resolved is not true");
	created = json_path(ev, "container.created_at");
	cr_expect(created && !cJSON_IsNull(created), "no container.created_at");
	expect_str(ev, "pod.name", p->name);
	expect_str(ev, "pod.namespace", NAMESPACE);
	expect_str(ev, "pod.uid", p->uid);
	/* /bin/ls in busybox is a symlink: the file that runs is /bin/busybox,
	 * named as the container sees it, not the host's overlay path. */
	expect_str(ev, "process.file.path", "/bin/busybox");
	cr_expect_neq((uint64_t)json_number(ev, "process.namespaces.mnt"), own_mnt_ns(),
		      "ls is reported in the test's own mount namespace, not the container's");
	expect_str(ev, "process.argv0", "/bin/ls");
	expect_str(ev, "exec.syscall.path", "/bin/ls");
	cJSON_Delete(ev);

	stop_sensor();
}

/* A container gone in a few milliseconds: the sensor must still learn who
 * it was (by id, while its events wait in the delay queue). */
Test(containers, short_lived_container_is_attributed, .fini = cleanup, .timeout = 90)
{
	struct cri_client *c = cri_connect();
	char flash_id[CRI_ID_SIZE], marker[64];
	const char *const cmd[] = { "/bin/true", marker, NULL };
	struct test_pod *p;
	struct cri_container st;
	struct exec_match m;
	cJSON *ev;

	make_nonce(marker, sizeof(marker), "flash"); /* true ignores it; we find it */
	start_sensor(sensor_args);
	p = pod_create(c, "e2e-flash");
	container_start(c, p, "flash", cmd, flash_id);
	cr_assert(container_wait_exit(c, flash_id, &st, 10000), "flash did not finish");
	cr_assert_eq(st.exit_code, 0);
	/* It normally lives a few ms; a loaded machine stretches that without
	 * changing what is tested: it is gone when the sensor asks. */
	if (st.finished_at_ns - st.started_at_ns >= 100000000)
		cr_log_warn("the container lived %lld ms",
			    (long long)((st.finished_at_ns - st.started_at_ns) / 1000000));

	m = (struct exec_match){ .container_id = flash_id, .arg = marker };
	ev = find_exec(&m, 5000, "/bin/true in the flash container");
	expect_str(ev, "container.id", flash_id);
	expect_str(ev, "container.name", "flash");
	expect_str(ev, "container.image.tag", IMAGE_TAG);
	cr_expect(cJSON_IsTrue(json_path(ev, "container.resolved")), "container.resolved is not true");
	expect_str(ev, "pod.name", p->name);
	expect_str(ev, "pod.namespace", NAMESPACE);
	expect_str(ev, "process.file.path", "/bin/busybox");
	expect_str(ev, "process.argv0", "/bin/true");
	cJSON_Delete(ev);

	stop_sensor();
}

/* ---- the runtime goes away ------------------------------------------------ */

/* containerd's pid from cri-up.sh's pid file, or 0 when it is not running
 * (a killed daemon is a zombie until reaped: not running either). */
static pid_t containerd_pid(void)
{
	char line[32], path[64], comm[32], status[4096];
	long pid;
	FILE *f;
	size_t n;

	if (!read_first_line(PID_FILE, line, sizeof(line)))
		return 0;
	pid = strtol(line, NULL, 10);
	if (pid <= 1)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	if (!read_first_line(path, comm, sizeof(comm)) || strcmp(comm, "containerd") != 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(status, 1, sizeof(status) - 1, f);
	fclose(f);
	status[n] = '\0';
	if (strstr(status, "\nState:\tZ") || strstr(status, "\nState:\tX"))
		return 0;
	return (pid_t)pid;
}

/* hack/cri-up.sh, found from this file's path (the tests run from the top
 * of the tree) or $VIGIL_ROOT. */
static int run_cri_up(void)
{
	const char *root = getenv("VIGIL_ROOT");
	const char *slash = strrchr(__FILE__, '/');
	char cmd[PATH_MAX + 64];

	if (root && *root)
		snprintf(cmd, sizeof(cmd), "bash '%s/hack/cri-up.sh' >/dev/null", root);
	else if (slash)
		snprintf(cmd, sizeof(cmd), "bash '%.*s/../../hack/cri-up.sh' >/dev/null",
			 (int)(slash - __FILE__), __FILE__);
	else
		snprintf(cmd, sizeof(cmd), "bash hack/cri-up.sh >/dev/null");
	return system(cmd);
}

/* Whatever happened, leave a runtime behind for whoever runs next. */
static void cleanup_runtime(void)
{
	cleanup();
	if (!containerd_pid() && run_cri_up() != 0)
		fprintf(stderr, "could not restart containerd with hack/cri-up.sh\n");
}

struct body {
	char *data;
	size_t len;
};

static size_t collect(char *data, size_t size, size_t n, void *ctx)
{
	struct body *b = ctx;
	char *grown = realloc(b->data, b->len + size * n + 1);

	if (!grown)
		return 0;
	b->data = grown;
	memcpy(b->data + b->len, data, size * n);
	b->len += size * n;
	b->data[b->len] = '\0';
	return size * n;
}

/* GET of /readyz: the status (0 when nothing answered) and the parsed body. */
static long get_readyz(cJSON **body)
{
	CURL *c = curl_easy_init();
	struct body b = { NULL, 0 };
	long status = 0;

	cr_assert_not_null(c);
	curl_easy_setopt(c, CURLOPT_URL, "http://" LISTEN "/readyz");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	*body = b.data ? cJSON_Parse(b.data) : NULL;
	free(b.data);
	return status;
}

/* The state of the "cri" component in a /readyz body, or NULL. */
static const char *cri_component_state(const cJSON *body)
{
	const cJSON *item;

	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(body, "components")) {
		const char *name = str_at(item, "name");

		if (name && strcmp(name, "cri") == 0)
			return str_at(item, "state");
	}
	return NULL;
}

/* Waits ms while reading the sensor's output, so its pipes never fill up
 * (sensor_pump alone returns as soon as anything arrives). */
static void drain_sensor_for(unsigned ms)
{
	uint64_t end = now_ms() + ms;

	while (now_ms() < end)
		sensor_pump(&sensor, (int)(end - now_ms()));
}

/* Polls /readyz until "cri" is in state want; the last status and body are
 * left in *status and *last (caller frees). */
static bool wait_cri_state(const char *want, unsigned ms, long *status, cJSON **last)
{
	uint64_t end = now_ms() + ms;

	*last = NULL;
	for (;;) {
		const char *state;

		cJSON_Delete(*last);
		*status = get_readyz(last);
		state = cri_component_state(*last);
		if (state && strcmp(state, want) == 0)
			return true;
		if (now_ms() >= end)
			return false;
		drain_sensor_for(200);
	}
}

static char *print_or_null(const cJSON *body)
{
	return body ? cJSON_PrintUnformatted(body) : strdup("(no body)");
}

static void fail_with_body(const char *what, long status, const cJSON *body)
{
	char *text = print_or_null(body);

	cr_log_error("%s; /readyz %ld: %s", what, status, text ? text : "?");
	free(text);
	cr_assert_fail("%s", what);
}

/* Runs /bin/true with a marker argument on the host and waits for it. */
static void run_true_with(const char *marker)
{
	pid_t child = fork();
	int status;

	cr_assert_geq(child, 0);
	if (child == 0) {
		execl("/bin/true", "true", marker, (char *)NULL);
		_exit(127);
	}
	cr_assert_eq(waitpid(child, &status, 0), child);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static const char *const sensor_http_args[] = {
	"events", "--types", "exec", "--cri-socket", CRI_SOCKET, "--listen", LISTEN, NULL
};

/* containerd dies under a running sensor: events keep flowing, /readyz
 * says "cri" is degraded (still 200: the CRI is optional), and once the
 * runtime is back the sensor reconnects on its own. */
Test(containers, runtime_killed_then_restarted, .fini = cleanup_runtime, .timeout = 150)
{
	char marker[64], *text;
	struct exec_match m = { .arg = marker };
	pid_t pid = containerd_pid();
	long status;
	cJSON *body, *ev;
	uint64_t t0;

	cr_assert_gt(pid, 0, "containerd is not running (run hack/cri-up.sh first)");
	cri_connect(); /* and it answers */
	start_sensor(sensor_http_args);
	if (!wait_cri_state("ok", 10000, &status, &body))
		fail_with_body("cri never ok after the sensor started", status, body);
	cr_expect_eq(status, 200);
	cJSON_Delete(body);

	cr_assert_eq(kill(pid, SIGKILL), 0, "kill %d: %s", (int)pid, strerror(errno));
	t0 = now_ms();
	/* the cache notices at its next CRI call: a relist comes every 10 s */
	if (!wait_cri_state("degraded", 15000, &status, &body))
		fail_with_body("cri not degraded 15 s after containerd died", status, body);
	cr_log_info("cri degraded %llu ms after the kill", (unsigned long long)(now_ms() - t0));
	text = print_or_null(body);
	cr_expect_eq(status, 200, "the CRI is optional: still ready; /readyz %ld: %s", status, text);
	cr_expect_str_eq(str_at(body, "status") ? str_at(body, "status") : "(none)", "degraded",
			 "%s", text);
	free(text);
	cJSON_Delete(body);

	/* host events still flow, and the sensor is alive */
	make_nonce(marker, sizeof(marker), "vigil-nocri");
	run_true_with(marker);
	ev = sensor_find(&sensor, match_exec, &m, 5000);
	cr_assert(ev, "no exec event for /bin/true %s with containerd down; stderr:\n%s", marker,
		  sensor.errbuf ? sensor.errbuf : "");
	cr_expect_null(json_path(ev, "container"), "a host process has no container");
	cJSON_Delete(ev);
	cr_assert_eq(waitpid(sensor.pid, NULL, WNOHANG), 0, "the sensor died; stderr:\n%s",
		     sensor.errbuf ? sensor.errbuf : "");

	/* a few seconds down, so reconnects fail and back off */
	drain_sensor_for(3000);
	cr_assert_eq(run_cri_up(), 0, "hack/cri-up.sh failed");
	t0 = now_ms();
	if (!wait_cri_state("ok", 40000, &status, &body))
		fail_with_body("cri not back to ok 40 s after the restart", status, body);
	cr_log_info("cri ok again %llu ms after the restart", (unsigned long long)(now_ms() - t0));
	cr_expect_eq(status, 200);
	cJSON_Delete(body);

	/* and the sensor still works */
	make_nonce(marker, sizeof(marker), "vigil-cri-back");
	run_true_with(marker);
	ev = sensor_find(&sensor, match_exec, &m, 5000);
	cr_assert(ev, "no exec event after containerd came back");
	cJSON_Delete(ev);
	stop_sensor();
}

/* One test at a time: runtime_killed_then_restarted stops the runtime the
 * others need, and every test loads the sensor's BPF programs. */
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
