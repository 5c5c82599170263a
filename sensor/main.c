/* main.c - the `vigil` command: argument parsing and wiring of the stages.
 *
 *   vigil run      the sensor (today: prints process executions; alerts once
 *                  policies load)
 *   vigil events   streams decoded events as JSON lines, for debugging and
 *                  for recording replay files
 *   vigil check    which kernel features are usable here
 *   vigil version
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "container_cache.h"
#include "health.h"
#include "http_api.h"
#include "metrics.h"
#include "telemetry.h"
#include "event.h"
#include "kernel_features.h"
#include "log.h"
#include "output.h"
#include "pipeline.h"
#include "probe.h"
#include "rules.h"
#include "version.h"

/* Set by POST /v1/policy/reload; the main loop reloads on its next tick, so
 * reloads never run on two threads at once. */
static atomic_bool reload_requested;

struct sensor_options {
	const char *config_path;
	const char *replay_path;
	uint64_t print_mask;
	bool print_snapshot;
	bool threads;
	unsigned duration_s; /* 0 = until a signal */
	bool log_level_set;  /* --log-level beats the file's log_level */
	const char *listen;  /* --listen */
	const char *cri_socket; /* --cri-socket */
	bool no_cri;
	bool events_cmd;
	const char *policies[CONFIG_MAX_POLICIES]; /* --policy */
	size_t n_policies;
	bool no_default_policy;
	bool rules; /* evaluate policies (run, policy test) */
};

static void usage_run(FILE *out)
{
	fprintf(out,
		"usage: vigil run [--config FILE] [--log-level LEVEL] [--replay FILE]\n"
		"\n"
		"Runs the sensor in the foreground: hooks the kernel, evaluates the security\n"
		"policies and prints one JSON line per alert on stdout (Falco-compatible keys).\n"
		"SIGHUP, or a change to a policy file, reloads the policies; a policy with\n"
		"errors is rejected and the running one stays.\n"
		"\n"
		"  --config FILE      configuration file (YAML); built-in defaults otherwise\n"
		"  --policy FILE      load a policy file on top of the default one (repeatable)\n"
		"  --no-default-policy  leave the embedded default policy out\n"
		"  --log-level LEVEL  debug, info, warn or error (default info); logs go to stderr\n"
		"  --replay FILE      read recorded events (JSON lines) instead of the kernel\n"
		"  --duration SECS    stop after SECS seconds (default: until SIGINT/SIGTERM)\n"
		"  --listen ADDR:PORT serve /healthz, /readyz, /metrics and /v1 here (default 0.0.0.0:9810)\n"
		"  --cri-socket PATH  the container runtime's CRI socket (default: auto-detect)\n"
		"  --no-cri           do not ask a container runtime for metadata\n");
}

static void usage_events(FILE *out)
{
	fprintf(out,
		"usage: vigil events [--types LIST] [--snapshot] [--replay FILE] [--log-level LEVEL]\n"
		"\n"
		"Streams every decoded event as one JSON line on stdout.\n"
		"\n"
		"  --types LIST       comma-separated event types to print (exec,fork,exit; default all)\n"
		"  --snapshot         also print the processes found running at start\n"
		"  --no-threads       do not report thread creation as fork events\n"
		"  --replay FILE      read recorded events (JSON lines; - for stdin) instead of the kernel\n"
		"  --duration SECS    stop after SECS seconds (default: until SIGINT/SIGTERM)\n"
		"  --listen ADDR:PORT also serve /healthz, /readyz, /metrics and /v1 (default: off)\n"
		"  --cri-socket PATH  the container runtime's CRI socket (default: auto-detect)\n"
		"  --no-cri           do not ask a container runtime for metadata\n"
		"  --log-level LEVEL  debug, info, warn or error\n");
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: vigil <command> [options]\n"
		"\n"
		"commands:\n"
		"  run       run the sensor\n"
		"  events    stream decoded events as JSON lines\n"
		"  check     print which kernel features are usable; non-zero if the sensor cannot run\n"
		"  policy    check policy files, or test them against recorded events\n"
		"  version   print the version\n"
		"\n"
		"`vigil <command> --help` describes each command.\n");
}

static int parse_uint(const char *s, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > 1000000000ul)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* Parses the options `run` and `events` share; returns 1 when --help was
 * given, -1 on a bad option. */
static int parse_sensor_options(int argc, char **argv, bool events_cmd, struct sensor_options *o)
{
	enum { OPT_SNAPSHOT = 256, OPT_NO_THREADS, OPT_DURATION, OPT_REPLAY, OPT_LOG_LEVEL, OPT_LISTEN,
	       OPT_POLICY, OPT_NO_DEFAULT_POLICY, OPT_EVENTS, OPT_CRI_SOCKET, OPT_NO_CRI };
	static const struct option long_opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "types", required_argument, NULL, 't' },
		{ "snapshot", no_argument, NULL, OPT_SNAPSHOT },
		{ "no-threads", no_argument, NULL, OPT_NO_THREADS },
		{ "replay", required_argument, NULL, OPT_REPLAY },
		{ "duration", required_argument, NULL, OPT_DURATION },
		{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "policy", required_argument, NULL, OPT_POLICY },
		{ "no-default-policy", no_argument, NULL, OPT_NO_DEFAULT_POLICY },
		{ "events", required_argument, NULL, OPT_EVENTS },
		{ "cri-socket", required_argument, NULL, OPT_CRI_SOCKET },
		{ "no-cri", no_argument, NULL, OPT_NO_CRI },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	void (*help)(FILE *) = events_cmd ? usage_events : usage_run;
	char err[256];
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:t:h", long_opts, NULL)) != -1) {
		enum log_level level;

		switch (c) {
		case 'c':
			o->config_path = optarg;
			break;
		case 't':
			if (!events_cmd)
				goto bad;
			if (event_type_mask_parse(optarg, &o->print_mask, err, sizeof(err)) < 0) {
				fprintf(stderr, "vigil: --types: %s\n", err);
				return -1;
			}
			break;
		case OPT_SNAPSHOT:
			o->print_snapshot = true;
			break;
		case OPT_NO_THREADS:
			o->threads = false;
			break;
		case OPT_REPLAY:
			o->replay_path = optarg;
			break;
		case OPT_DURATION:
			if (parse_uint(optarg, &o->duration_s) < 0) {
				fprintf(stderr, "vigil: --duration: \"%s\" is not a number of seconds\n", optarg);
				return -1;
			}
			break;
		case OPT_LOG_LEVEL:
			if (log_parse_level(optarg, &level) < 0) {
				fprintf(stderr, "vigil: --log-level: \"%s\" is not debug, info, warn or error\n",
					optarg);
				return -1;
			}
			log_set_level(level);
			o->log_level_set = true;
			break;
		case OPT_LISTEN:
			o->listen = optarg;
			break;
		case OPT_POLICY:
			if (events_cmd)
				goto bad;
			if (o->n_policies == CONFIG_MAX_POLICIES) {
				fprintf(stderr, "vigil: at most %d --policy files\n", CONFIG_MAX_POLICIES);
				return -1;
			}
			o->policies[o->n_policies++] = optarg;
			break;
		case OPT_NO_DEFAULT_POLICY:
			if (events_cmd)
				goto bad;
			o->no_default_policy = true;
			break;
		case OPT_CRI_SOCKET:
			o->cri_socket = optarg;
			break;
		case OPT_NO_CRI:
			o->no_cri = true;
			break;
		case OPT_EVENTS: /* policy test's name for --replay */
			o->replay_path = optarg;
			break;
		case 'h':
			help(stdout);
			return 1;
		default:
			goto bad;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vigil: unexpected argument \"%s\"\n", argv[optind]);
		goto bad;
	}
	return 0;
bad:
	help(stderr);
	return -1;
}

static void log_final_stats(struct probe *probe, struct pipeline *pipe, struct outputs *outs)
{
	struct probe_stats ps;
	struct pipeline_stats pls;
	struct output_stats os[OUTPUT_MAX_SINKS];
	uint64_t sent = 0, dropped = 0, received = 0;
	size_t n;

	probe_get_stats(probe, &ps);
	pipeline_get_stats(pipe, &pls);
	for (int t = 1; t < EVENT_TYPE_COUNT; t++) {
		sent += ps.kernel_sent[t];
		dropped += ps.kernel_dropped[t];
		received += ps.received[t];
	}
	log_info("stopped: %llu events received (%llu sent by the kernel, %llu lost in the ring buffer), "
		 "%llu malformed, %llu printed, %llu refused by outputs",
		 (unsigned long long)received, (unsigned long long)sent, (unsigned long long)dropped,
		 (unsigned long long)ps.decode_errors, (unsigned long long)pls.printed,
		 (unsigned long long)pls.output_refused);
	n = output_get_stats(outs, os, OUTPUT_MAX_SINKS);
	for (size_t i = 0; i < n; i++) {
		if (os[i].dropped_queue_full || os[i].failed)
			log_warn("output %s: %llu lines dropped (queue full), %llu failed", os[i].name,
				 (unsigned long long)os[i].dropped_queue_full,
				 (unsigned long long)os[i].failed);
	}
}

/* Everything a running sensor holds, so teardown can walk it in reverse. */
struct sensor {
	struct config cfg;
	const char *headers[CONFIG_MAX_HEADERS];
	struct outputs *outputs;
	struct pipeline *pipeline;
	struct probe *probe;
	struct metrics *metrics;
	struct health *health;
	struct telemetry *telemetry;
	struct http_api *http;
	struct rules *rules; /* handed to the pipeline, which owns it */
	struct rules *pipeline_rules; /* the same, borrowed, for the initial filter */
	size_t rule_count;
	struct kernel_features features; /* probed at start, for /v1/status */
	struct container_cache *containers;
	struct rules_config rules_cfg;
	const char *policy_files[2 * CONFIG_MAX_POLICIES];
	struct stat policy_stat[2 * CONFIG_MAX_POLICIES]; /* to notice changes */
	uint64_t kernel_mask;
};

/* The policy files' identity and age: a ConfigMap update swaps a symlink,
 * which changes the inode; an edit changes the mtime. */
static bool policies_changed(struct sensor *s)
{
	bool changed = false;

	for (size_t i = 0; i < s->rules_cfg.n_files; i++) {
		struct stat st;

		if (stat(s->policy_files[i], &st) < 0)
			memset(&st, 0, sizeof(st));
		if (st.st_ino != s->policy_stat[i].st_ino ||
		    st.st_mtim.tv_sec != s->policy_stat[i].st_mtim.tv_sec ||
		    st.st_mtim.tv_nsec != s->policy_stat[i].st_mtim.tv_nsec || st.st_size != s->policy_stat[i].st_size)
			changed = true;
		s->policy_stat[i] = st;
	}
	return changed;
}

static void add_discarder(void *ctx, uint64_t inode, uint32_t mount_id, uint32_t revision)
{
	struct sensor *s = ctx;

	if (s->probe)
		probe_add_discarder(s->probe, inode, mount_id, revision);
}

static void apply_kernel_filter(struct sensor *s, struct rules *rules)
{
	struct kernel_filter *f = calloc(1, sizeof(*f));

	if (!f)
		return;
	rules_kernel_filter(rules, f);
	if (probe_set_filter(s->probe, f) < 0)
		log_warn("cannot install the in-kernel approvers; every event goes to user space");
	free(f);
}

static void update_cri_health(struct sensor *s)
{
	enum container_cache_state st;

	if (!s->containers)
		return;
	st = container_cache_state(s->containers);
	health_set(s->health, "cri", st == CONTAINER_CACHE_CONNECTED ? HEALTH_OK : HEALTH_DEGRADED,
		   container_cache_state_name(st));
}

/* Loads the policies again; a set with any error is rejected whole and the
 * running one stays. The event stream is not paused: the pipeline adopts
 * the new set between two batches. */
static void reload_policies(struct sensor *s, const char *why)
{
	struct rules_config cfg = s->rules_cfg;
	struct rules *next;
	size_t errors = 0;
	uint64_t mask;

	cfg.strict = true;
	log_info("policy: reloading (%s)", why);
	next = rules_load(&cfg, &errors);
	if (!next) {
		log_error("policy: reload rejected (%zu errors); the previous policy stays active", errors);
		metric_counter_inc(metrics_counter(s->metrics, "vigil_policy_reloads_total",
						   "Policy reloads, by result.", "result=\"rejected\""));
		return;
	}
	mask = rules_event_mask(next) | EVENT_MASK_PROCESS;
	if (mask & ~s->kernel_mask & ~EVENT_MASK_PROCESS)
		log_warn("policy: new rules need event types whose hooks were not loaded at start; "
			 "restart the sensor to enable them");
	probe_set_event_mask(s->probe, mask & s->kernel_mask);
	apply_kernel_filter(s, next);
	s->rule_count = rules_count(next);
	log_info("policy: %zu rules active after reload", rules_count(next));
	pipeline_set_rules(s->pipeline, next);
	metric_counter_inc(metrics_counter(s->metrics, "vigil_policy_reloads_total",
					   "Policy reloads, by result.", "result=\"ok\""));
}

/* Losses must show in the logs as they happen, not only in /metrics:
 * once a second, anything lost since the last look is logged. */
static void report_losses(struct sensor *s)
{
	static uint64_t last_ring, last_malformed, last_refused;
	struct probe_stats ps;
	struct pipeline_stats pls;
	uint64_t ring = 0;

	probe_get_stats(s->probe, &ps);
	pipeline_get_stats(s->pipeline, &pls);
	for (int t = 1; t < EVENT_TYPE_COUNT; t++)
		ring += ps.kernel_dropped[t];
	if (ring > last_ring)
		log_warn("lost %llu events in the kernel ring buffer in the last second (%llu in all): "
			 "the consumer is behind; see vigil_events_lost_total",
			 (unsigned long long)(ring - last_ring), (unsigned long long)ring);
	if (ps.decode_errors > last_malformed)
		log_warn("skipped %llu malformed records in the last second",
			 (unsigned long long)(ps.decode_errors - last_malformed));
	if (pls.output_refused > last_refused)
		log_warn("%llu lines refused by every output in the last second (queues full)",
			 (unsigned long long)(pls.output_refused - last_refused));
	last_ring = ring;
	last_malformed = ps.decode_errors;
	last_refused = pls.output_refused;
}

/* Waits for SIGINT/SIGTERM, the end of a replay, or the duration; reloads
 * policies on SIGHUP or when a policy file changes. */
static void wait_for_end(struct sensor *s, const struct sensor_options *o)
{
	struct timespec tick = { .tv_sec = 1 };
	uint64_t deadline = o->duration_s ? clock_boot_now() + o->duration_s * 1000000000ull : 0;
	sigset_t set;
	int sig;

	if (o->replay_path) {
		probe_wait(s->probe);
		return;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	for (;;) {
		sig = sigtimedwait(&set, NULL, &tick);
		if (sig == SIGINT || sig == SIGTERM)
			return;
		update_cri_health(s);
		report_losses(s);
		if (sig == SIGHUP && o->rules)
			reload_policies(s, "SIGHUP");
		else if (atomic_exchange(&reload_requested, false) && o->rules)
			reload_policies(s, "POST /v1/policy/reload");
		else if (o->rules && policies_changed(s))
			reload_policies(s, "a policy file changed");
		if (deadline && clock_boot_now() >= deadline)
			return;
	}
}

/* Container metadata from the CRI; never fatal: without a runtime events
 * carry the container id only, and /readyz says "cri" is degraded. */
static void start_containers(struct sensor *s, const struct sensor_options *o)
{
	struct container_cache_config ccfg = { 0 };

	ccfg.socket_path = o->cri_socket ? o->cri_socket : (s->cfg.cri_socket[0] ? s->cfg.cri_socket : NULL);
	health_register(s->health, "cri", false);
	s->containers = container_cache_new(&ccfg);
	if (!s->containers || container_cache_start(s->containers) < 0) {
		log_warn("cri: container metadata disabled (cannot start the cache)");
		health_set(s->health, "cri", HEALTH_DOWN, "cannot start");
		container_cache_free(s->containers);
		s->containers = NULL;
		return;
	}
	update_cri_health(s);
}

static int load_rules(struct sensor *s, const struct sensor_options *o)
{
	size_t errors = 0, n = 0;

	rules_config_defaults(&s->rules_cfg);
	s->rules_cfg.metrics = s->metrics;
	s->rules_cfg.default_policy = s->cfg.default_policy && !o->no_default_policy;
	for (size_t i = 0; i < s->cfg.n_policies; i++)
		s->policy_files[n++] = s->cfg.policies[i];
	for (size_t i = 0; i < o->n_policies; i++)
		s->policy_files[n++] = o->policies[i];
	s->rules_cfg.files = s->policy_files;
	s->rules_cfg.n_files = n;
	policies_changed(s); /* remember the files as loaded */
	s->rules = rules_load(&s->rules_cfg, &errors);
	if (!s->rules) {
		log_error("policy: cannot load the policies");
		return -1;
	}
	if (errors)
		log_warn("policy: %zu errors; the rules that compiled are active", errors);
	log_info("policy: %zu rules active%s", rules_count(s->rules),
		 s->rules_cfg.default_policy ? " (default policy included)" : "");
	return 0;
}

/* SIGUSR2 pauses and resumes event consumption: a test hook proving that
 * /healthz notices a stuck consumer. */
static atomic_bool consumer_paused;


static void toggle_pause(int sig)
{
	(void)sig;
	atomic_store(&consumer_paused, !atomic_load(&consumer_paused));
}

static void sensor_batch_end(void *ctx)
{
	struct sensor *s = ctx;

	pipeline_batch_end(s->pipeline);
	while (atomic_load(&consumer_paused))
		usleep(50 * 1000);
	health_beat(s->health, "events");
}

static void sensor_event(const struct event *ev, void *ctx)
{
	struct sensor *s = ctx;

	pipeline_handle_event(ev, s->pipeline);
}

static char *status_json(void *ctx)
{
	struct sensor *s = ctx;
	cJSON *root = cJSON_CreateObject();
	struct probe_stats ps;
	char *out;

	/* Probed once at start: probing loads and attaches test programs. */
	cJSON_AddItemToObject(root, "kernel", features_to_json(&s->features));
	cJSON_AddStringToObject(root, "platform", probe_platform_name(s->probe));
	cJSON_AddNumberToObject(root, "rules", (double)s->rule_count);
	probe_get_stats(s->probe, &ps);
	cJSON_AddNumberToObject(root, "process_snapshot", (double)ps.snapshot_processes);
	out = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return out;
}

static char *rules_doc(void *ctx)
{
	struct sensor *s = ctx;

	return pipeline_rules_json(s->pipeline);
}

static int open_outputs(struct sensor *s)
{
	struct output_config ocfg;
	char err[512];

	output_config_init(&ocfg);
	ocfg.stdout_sink.enabled = s->cfg.stdout_enabled;
	if (s->cfg.file_path[0]) {
		ocfg.file.enabled = true;
		ocfg.file.path = s->cfg.file_path;
		ocfg.file.max_bytes = s->cfg.file_max_bytes;
		ocfg.file.max_files = s->cfg.file_max_files;
	}
	if (s->cfg.webhook_url[0]) {
		for (size_t i = 0; i < s->cfg.n_webhook_headers; i++)
			s->headers[i] = s->cfg.webhook_headers[i];
		ocfg.webhook.enabled = true;
		ocfg.webhook.url = s->cfg.webhook_url;
		ocfg.webhook.headers = s->headers;
		ocfg.webhook.header_count = s->cfg.n_webhook_headers;
		ocfg.webhook.timeout_ms = s->cfg.webhook_timeout_ms;
	}
	s->outputs = outputs_open(&ocfg, err, sizeof(err));
	if (!s->outputs) {
		log_error("outputs: %s", err);
		return -1;
	}
	return 0;
}

static int request_reload(const struct http_request *req, struct http_response *resp, void *ctx)
{
	(void)req;
	(void)ctx;
	atomic_store(&reload_requested, true);
	resp->status = 202;
	resp->content_type = "application/json";
	resp->static_body = "{\"status\":\"reload requested\"}";
	return 0;
}

static int start_http(struct sensor *s)
{
	struct http_api_config hcfg = {
		.listen = s->cfg.listen,
		.token_file = s->cfg.token_file[0] ? s->cfg.token_file : NULL,
		.version = VIGIL_VERSION,
		.metrics = s->metrics,
		.health = s->health,
		.status_fn = status_json,
		.status_ctx = s,
		.rules_fn = rules_doc,
		.rules_ctx = s,
	};
	char err[512];

	if (!s->cfg.listen[0])
		return 0;
	s->http = http_api_start(&hcfg, err, sizeof(err));
	if (!s->http) {
		log_error("http: %s", err);
		return -1;
	}
	http_api_route(s->http, "POST", "/v1/policy/reload", request_reload, s, true);
	log_info("http: serving /healthz, /readyz, /metrics and /v1 on %s (port %u)", s->cfg.listen,
		 http_api_port(s->http));
	return 0;
}

static int run_sensor(const struct sensor_options *o)
{
	struct sensor s;
	struct probe_config pcfg;
	struct pipeline_config plcfg;
	struct probe_handler handler;
	char err[512];
	sigset_t set;
	int ret = 1;

	memset(&s, 0, sizeof(s));
	config_defaults(&s.cfg);
	if (o->config_path && config_load(&s.cfg, o->config_path, err, sizeof(err)) < 0) {
		fprintf(stderr, "vigil: %s\n", err);
		return 2;
	}
	if (!o->log_level_set)
		log_set_level(s.cfg.log_level);
	if (o->listen)
		snprintf(s.cfg.listen, sizeof(s.cfg.listen), "%s", o->listen);
	else if (o->events_cmd)
		s.cfg.listen[0] = '\0'; /* a debugging stream serves nothing unless asked */

	/* Every thread started from here on inherits the blocked signals, so
	 * only the main thread's sigwait sees them. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGUSR2, toggle_pause);

	s.metrics = metrics_new(0);
	s.health = health_new(5000);
	if (!s.metrics || !s.health || open_outputs(&s) < 0)
		goto out;
	health_register(s.health, "probe", true);
	health_set(s.health, "probe", HEALTH_STARTING, "loading");
	health_register_loop(s.health, "events", 5000);

	if (o->rules && load_rules(&s, o) < 0)
		goto out;
	s.rule_count = rules_count(s.rules);
	if (!o->replay_path && s.cfg.listen[0])
		features_probe(&s.features);
	if (!o->replay_path && !o->no_cri)
		start_containers(&s, o);
	pipeline_config_defaults(&plcfg);
	plcfg.rules = s.rules;
	plcfg.containers = s.containers;
	plcfg.discard = add_discarder;
	plcfg.discard_ctx = &s;
	plcfg.print_mask = o->print_mask;
	plcfg.print_snapshot = o->print_snapshot;
	plcfg.outputs = s.outputs;
	plcfg.proc_cache_entries = s.cfg.proc_cache_entries;
	plcfg.exit_retention_ns = s.cfg.exit_retention_ns;
	s.pipeline = pipeline_new(&plcfg);
	if (s.pipeline) {
		s.pipeline_rules = s.rules;
		s.rules = NULL; /* the pipeline owns it now */
	}
	if (!s.pipeline) {
		log_error("cannot create the pipeline (out of memory?)");
		goto out;
	}

	probe_config_defaults(&pcfg);
	/* The kernel sends what is printed, plus the process lifecycle the
	 * cache needs for ancestry. */
	pcfg.event_mask = o->print_mask | rules_event_mask(plcfg.rules) | EVENT_MASK_PROCESS;
	s.kernel_mask = pcfg.event_mask;
	pcfg.emit_threads = o->threads && s.cfg.threads;
	pcfg.poll_interval_ms = s.cfg.poll_interval_ms;
	pcfg.wakeup_bytes = s.cfg.wakeup_bytes;
	if (o->replay_path) {
		pcfg.platform = PROBE_REPLAY;
		pcfg.replay_path = o->replay_path;
		pcfg.snapshot = false;
	}
	handler = (struct probe_handler){ .event = sensor_event, .batch_end = sensor_batch_end, .ctx = &s };
	s.probe = probe_new(&pcfg, &handler);
	if (!s.probe) {
		log_error("cannot create the probe (out of memory?)");
		goto out;
	}
	s.telemetry = telemetry_new(s.metrics, s.probe, s.pipeline, s.outputs, s.containers);
	if (start_http(&s) < 0)
		goto out;
	if (probe_init(s.probe) < 0 || probe_setup(s.probe) < 0 || probe_start(s.probe) < 0) {
		log_error("%s probe: %s", probe_platform_name(s.probe), probe_error(s.probe));
		health_set(s.health, "probe", HEALTH_DOWN, probe_error(s.probe));
		if (pcfg.platform == PROBE_EBPF)
			log_error("run `vigil check` to see which kernel features are missing");
		goto out;
	}
	apply_kernel_filter(&s, s.pipeline_rules);
	health_set(s.health, "probe", HEALTH_OK, probe_platform_name(s.probe));
	log_info("vigil %s started (%s platform)", VIGIL_VERSION, probe_platform_name(s.probe));
	wait_for_end(&s, o);
	probe_stop(s.probe);
	health_loop_stop(s.health, "events");
	log_final_stats(s.probe, s.pipeline, s.outputs);
	ret = 0;
out:
	http_api_stop(s.http);
	telemetry_free(s.telemetry);
	probe_close(s.probe);
	/* The pipeline may still emit while the probe drains: close after. */
	outputs_close(s.outputs);
	pipeline_free(s.pipeline);
	container_cache_free(s.containers);
	health_free(s.health);
	metrics_free(s.metrics);
	rules_free(s.rules);
	return ret;
}

static int cmd_sensor(int argc, char **argv, bool events_cmd)
{
	struct sensor_options o = { .print_mask = EVENT_MASK_ALL, .threads = true, .events_cmd = events_cmd };
	int r;

	/* `run` prints alerts; `events` prints events. */
	if (!events_cmd) {
		o.print_mask = 0;
		o.rules = true;
	}
	r = parse_sensor_options(argc, argv, events_cmd, &o);
	if (r != 0)
		return r > 0 ? 0 : 2;
	return run_sensor(&o);
}

static int cmd_policy_check(int argc, char **argv)
{
	struct rules_config cfg;
	struct rules *r;
	size_t errors = 0;

	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		printf("usage: vigil policy check FILE...\n\nParses and type-checks policy files (on top of the\n"
		       "default policy, as `vigil run` loads them). Every error says file:line:col.\n"
		       "Exits 0 when every rule compiles, 1 otherwise.\n");
		return argc < 2 ? 2 : 0;
	}
	rules_config_defaults(&cfg);
	cfg.files = (const char *const *)argv + 1;
	cfg.n_files = (size_t)argc - 1;
	r = rules_load(&cfg, &errors);
	if (!r || errors) {
		fprintf(stderr, "vigil: %zu errors\n", errors ? errors : 1);
		rules_free(r);
		return 1;
	}
	printf("ok: %zu rules\n", rules_count(r));
	rules_free(r);
	return 0;
}

static int cmd_policy(int argc, char **argv)
{
	struct sensor_options o = { .rules = true, .threads = true };
	int r;

	if (argc >= 2 && strcmp(argv[1], "check") == 0)
		return cmd_policy_check(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "test") == 0) {
		r = parse_sensor_options(argc - 1, argv + 1, false, &o);
		if (r != 0)
			return r > 0 ? 0 : 2;
		if (!o.replay_path) {
			fprintf(stderr, "vigil policy test: --events FILE is required\n");
			return 2;
		}
		return run_sensor(&o);
	}
	fprintf(stderr, "usage: vigil policy check FILE...\n"
			"       vigil policy test [--policy FILE]... [--no-default-policy] --events EVENTS.jsonl\n"
			"\n`policy test` replays recorded events (`vigil events` output) through the rules\n"
			"and prints the alerts they raise.\n");
	return 2;
}

static int cmd_check(int argc, char **argv)
{
	struct kernel_features f;

	if (argc > 1) {
		if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
			printf("usage: vigil check\n\nProbes the kernel for the features Vigil uses and prints one\n"
			       "line each. Exits 0 when the sensor can run here, 1 when it cannot.\n");
			return 0;
		}
		fprintf(stderr, "vigil check: unexpected argument \"%s\"\n", argv[1]);
		return 2;
	}
	features_probe(&f);
	return features_print(&f, stdout) ? 0 : 1;
}

int main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	cmd = argv[1];
	if (strcmp(cmd, "run") == 0)
		return cmd_sensor(argc - 1, argv + 1, false);
	if (strcmp(cmd, "events") == 0)
		return cmd_sensor(argc - 1, argv + 1, true);
	if (strcmp(cmd, "check") == 0)
		return cmd_check(argc - 1, argv + 1);
	if (strcmp(cmd, "policy") == 0)
		return cmd_policy(argc - 1, argv + 1);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("vigil %s (event ABI %d)\n", VIGIL_VERSION, VIGIL_EVENT_ABI);
		return 0;
	}
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "vigil: unknown command \"%s\"\n\n", cmd);
	usage(stderr);
	return 2;
}
