/* micro.c - user-space costs `make bench` reports next to the workload
 * ratios: rule evaluation per event (default policy, and 200 rules), a
 * process-cache lookup, event serialization, and the memory of a cache
 * holding 10,000 processes with the default policy loaded.
 *
 * Times are medians of several passes, in ns per operation; run it on a
 * quiet machine or compare against numbers from the same run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "event_json.h"
#include "json_writer.h"
#include "log.h"
#include "proc_cache.h"
#include "rules.h"

#define PASSES 7

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static long rss_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	}
	if (f)
		fclose(f);
	return kib;
}

static struct process sample_process(uint32_t pid)
{
	static char paths[4][64] = { "/usr/bin/python3.11", "/usr/sbin/nginx", "/usr/bin/bash",
				     "/usr/local/bin/app-server" };
	struct process p;

	memset(&p, 0, sizeof(p));
	p.pid = pid;
	p.tid = pid;
	p.ppid = pid > 1 ? pid - 1 : 0;
	p.start_ns = 1000000000ull + pid * 20000000ull;
	p.parent_start_ns = p.start_ns - 20000000ull;
	p.path = paths[pid % 4];
	p.args = "app\0--config\0/etc/app/config.yaml\0--workers\0" "4";
	p.args_len = 47;
	p.argc = 5;
	snprintf(p.comm, sizeof(p.comm), "app%u", pid % 100);
	return p;
}

/* 200 rules in the shape real policies have: exact paths, patterns,
 * process names, flags. */
static const char *write_200_rules(void)
{
	static char path[] = "/tmp/vigil-micro-200.yaml";
	FILE *f = fopen(path, "w");

	if (!f)
		return NULL;
	fprintf(f, "version: 1.0.0\nrules:\n");
	for (int i = 0; i < 200; i++) {
		switch (i % 4) {
		case 0:
			fprintf(f, "  - id: r%d\n    expression: open.file.path == \"/var/lib/app%d/secret\" && "
				   "process.file.name != \"app%d\"\n", i, i, i);
			break;
		case 1:
			fprintf(f, "  - id: r%d\n    expression: open.file.path =~ \"/opt/app%d/**\" && "
				   "open.flags & O_CREAT > 0\n", i, i);
			break;
		case 2:
			fprintf(f, "  - id: r%d\n    expression: exec.file.name == \"tool%d\" && "
				   "process.parent.file.name in [\"bash\", \"sh\"]\n", i, i);
			break;
		default:
			fprintf(f, "  - id: r%d\n    expression: open.file.name == \"cfg%d.yaml\" && "
				   "process.uid != 0\n", i, i);
			break;
		}
	}
	fclose(f);
	return path;
}

static void discard(struct json_writer *w, void *ctx)
{
	(void)w;
	(void)ctx;
}

/* ns per evaluation of an open event that no rule matches (the common
 * case), with ancestors from a small cache. */
static double eval_cost(struct rules *r, const struct event_view *view, int n)
{
	double passes[PASSES];
	struct json_writer w;

	json_init(&w);
	for (int p = 0; p < PASSES; p++) {
		double t0 = now_ns();

		for (int i = 0; i < n; i++)
			rules_eval(r, view, &w, discard, NULL);
		passes[p] = (now_ns() - t0) / n;
	}
	json_free(&w);
	return median(passes, PASSES);
}

int main(void)
{
	struct rules_config cfg;
	struct rules *def, *many;
	const char *files[1];
	struct proc_cache *cache;
	struct process procs[3];
	const struct process *anc[2];
	struct event ev;
	struct event_view view;
	struct json_writer w;
	double passes[PASSES], t0;
	long rss0, rss1;
	size_t errors;
	const int n = 200000;
	volatile uint64_t sink = 0;

	log_set_level(LOG_WARN);
	rss0 = rss_kib();
	rules_config_defaults(&cfg);
	def = rules_load(&cfg, &errors);
	files[0] = write_200_rules();
	cfg.default_policy = false;
	cfg.files = files;
	cfg.n_files = 1;
	many = rules_load(&cfg, &errors);
	if (!def || !many) {
		fprintf(stderr, "micro: cannot load the policies\n");
		return 1;
	}

	for (int i = 0; i < 3; i++)
		procs[i] = sample_process(100 + (uint32_t)i);
	anc[0] = &procs[1];
	anc[1] = &procs[0];
	memset(&ev, 0, sizeof(ev));
	ev.type = EVENT_OPEN;
	ev.process = procs[2];
	ev.syscall.file.path = "/var/lib/data/file.db";
	ev.syscall.file.source = PATH_FROM_FILE;
	ev.syscall.flags = 0x241; /* O_WRONLY|O_CREAT|O_TRUNC: the rules must look */
	ev.syscall.present = SYSCALL_HAS_FLAGS;
	ev.syscall.name = "openat";
	view = (struct event_view){ .event = &ev, .process = &procs[2], .ancestors = anc, .n_ancestors = 2,
				    .hostname = "node" };

	printf("micro: rule evaluation, default policy: %.0f ns/event\n", eval_cost(def, &view, n));
	printf("micro: rule evaluation, 200 rules: %.0f ns/event\n", eval_cost(many, &view, n));

	json_init(&w);
	for (int p = 0; p < PASSES; p++) {
		t0 = now_ns();
		for (int i = 0; i < n / 4; i++) {
			json_reset(&w);
			event_json_write(&w, &view);
		}
		passes[p] = (now_ns() - t0) / (n / 4);
	}
	printf("micro: event serialization (JSON): %.0f ns/event, %zu bytes\n", median(passes, PASSES), w.len);
	json_free(&w);

	cache = proc_cache_new(65536, 5000000000ull);
	for (uint32_t pid = 1; pid <= 10000; pid++) {
		struct process p = sample_process(pid);

		proc_cache_insert(cache, &p);
	}
	for (int p = 0; p < PASSES; p++) {
		t0 = now_ns();
		for (int i = 0; i < n * 5; i++) {
			const struct process *e = proc_cache_lookup(cache, 1 + (uint32_t)(i % 10000));

			sink += e ? e->pid : 0;
		}
		passes[p] = (now_ns() - t0) / (n * 5);
	}
	printf("micro: process cache lookup: %.1f ns\n", median(passes, PASSES));
	rss1 = rss_kib();
	printf("micro: RSS with 10000 processes cached and the policies loaded: %.1f MiB (process total %.1f MiB)\n",
	       (double)(rss1 - rss0) / 1024.0, (double)rss1 / 1024.0);
	printf("{\"rules_default_ns\":%.0f,\"rules_200_ns\":%.0f}\n", eval_cost(def, &view, n / 4),
	       eval_cost(many, &view, n / 4));
	proc_cache_free(cache);
	rules_free(def);
	rules_free(many);
	unlink(files[0]);
	return sink == 42 ? 2 : 0;
}
