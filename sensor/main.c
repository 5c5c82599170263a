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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "event.h"
#include "kernel_features.h"
#include "log.h"
#include "output.h"
#include "pipeline.h"
#include "probe.h"
#include "version.h"

struct sensor_options {
	const char *config_path;
	const char *replay_path;
	uint64_t print_mask;
	bool print_snapshot;
	bool threads;
	unsigned duration_s; /* 0 = until a signal */
	bool log_level_set;  /* --log-level beats the file's log_level */
};

static void usage_run(FILE *out)
{
	fprintf(out,
		"usage: vigil run [--config FILE] [--log-level LEVEL] [--replay FILE]\n"
		"\n"
		"Runs the sensor in the foreground: hooks the kernel, keeps the process\n"
		"cache and prints one JSON line per process execution on stdout.\n"
		"\n"
		"  --config FILE      configuration file (YAML); built-in defaults otherwise\n"
		"  --log-level LEVEL  debug, info, warn or error (default info); logs go to stderr\n"
		"  --replay FILE      read recorded events (JSON lines) instead of the kernel\n"
		"  --duration SECS    stop after SECS seconds (default: until SIGINT/SIGTERM)\n");
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
	enum { OPT_SNAPSHOT = 256, OPT_NO_THREADS, OPT_DURATION, OPT_REPLAY, OPT_LOG_LEVEL };
	static const struct option long_opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "types", required_argument, NULL, 't' },
		{ "snapshot", no_argument, NULL, OPT_SNAPSHOT },
		{ "no-threads", no_argument, NULL, OPT_NO_THREADS },
		{ "replay", required_argument, NULL, OPT_REPLAY },
		{ "duration", required_argument, NULL, OPT_DURATION },
		{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
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

/* Waits for SIGINT/SIGTERM, the end of a replay, or the duration. */
static void wait_for_end(struct probe *probe, const struct sensor_options *o)
{
	sigset_t set;
	struct timespec timeout = { .tv_sec = o->duration_s };
	int sig;

	if (o->replay_path) {
		probe_wait(probe);
		return;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	for (;;) {
		if (o->duration_s == 0) {
			if (sigwait(&set, &sig) == 0)
				return;
		} else if (sigtimedwait(&set, NULL, &timeout) >= 0 || errno != EINTR) {
			return;
		}
	}
}

static int run_sensor(const struct sensor_options *o)
{
	struct config cfg;
	const char *headers[CONFIG_MAX_HEADERS];
	struct probe_config pcfg;
	struct pipeline_config plcfg;
	struct output_config ocfg;
	struct probe_handler handler;
	struct pipeline *pipe = NULL;
	struct outputs *outs = NULL;
	struct probe *probe = NULL;
	char err[512];
	sigset_t set;
	int ret = 1;

	config_defaults(&cfg);
	if (o->config_path && config_load(&cfg, o->config_path, err, sizeof(err)) < 0) {
		fprintf(stderr, "vigil: %s\n", err);
		return 2;
	}
	if (!o->log_level_set)
		log_set_level(cfg.log_level);
	/* Every thread started from here on inherits the blocked signals, so
	 * only the main thread's sigwait sees them. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	output_config_init(&ocfg);
	ocfg.stdout_sink.enabled = cfg.stdout_enabled;
	if (cfg.file_path[0]) {
		ocfg.file.enabled = true;
		ocfg.file.path = cfg.file_path;
		ocfg.file.max_bytes = cfg.file_max_bytes;
		ocfg.file.max_files = cfg.file_max_files;
	}
	if (cfg.webhook_url[0]) {
		for (size_t i = 0; i < cfg.n_webhook_headers; i++)
			headers[i] = cfg.webhook_headers[i];
		ocfg.webhook.enabled = true;
		ocfg.webhook.url = cfg.webhook_url;
		ocfg.webhook.headers = headers;
		ocfg.webhook.header_count = cfg.n_webhook_headers;
		ocfg.webhook.timeout_ms = cfg.webhook_timeout_ms;
	}
	outs = outputs_open(&ocfg, err, sizeof(err));
	if (!outs) {
		log_error("outputs: %s", err);
		return 1;
	}
	pipeline_config_defaults(&plcfg);
	plcfg.print_mask = o->print_mask;
	plcfg.print_snapshot = o->print_snapshot;
	plcfg.outputs = outs;
	plcfg.proc_cache_entries = cfg.proc_cache_entries;
	plcfg.exit_retention_ns = cfg.exit_retention_ns;
	pipe = pipeline_new(&plcfg);
	if (!pipe) {
		log_error("cannot create the pipeline (out of memory?)");
		goto out;
	}

	probe_config_defaults(&pcfg);
	pcfg.emit_threads = o->threads && cfg.threads;
	pcfg.poll_interval_ms = cfg.poll_interval_ms;
	pcfg.wakeup_bytes = cfg.wakeup_bytes;
	if (o->replay_path) {
		pcfg.platform = PROBE_REPLAY;
		pcfg.replay_path = o->replay_path;
		pcfg.snapshot = false;
	}
	handler = (struct probe_handler){ .event = pipeline_handle_event,
					  .batch_end = pipeline_batch_end, .ctx = pipe };
	probe = probe_new(&pcfg, &handler);
	if (!probe) {
		log_error("cannot create the probe (out of memory?)");
		goto out;
	}
	if (probe_init(probe) < 0 || probe_setup(probe) < 0 || probe_start(probe) < 0) {
		log_error("%s probe: %s", probe_platform_name(probe), probe_error(probe));
		if (pcfg.platform == PROBE_EBPF)
			log_error("run `vigil check` to see which kernel features are missing");
		goto out;
	}
	log_info("vigil %s started (%s platform)", VIGIL_VERSION, probe_platform_name(probe));
	wait_for_end(probe, o);
	probe_stop(probe);
	log_final_stats(probe, pipe, outs);
	ret = 0;
out:
	probe_close(probe);
	/* The pipeline may still emit while the probe drains: close it after. */
	outputs_close(outs);
	pipeline_free(pipe);
	return ret;
}

static int cmd_sensor(int argc, char **argv, bool events_cmd)
{
	struct sensor_options o = { .print_mask = EVENT_MASK_ALL, .threads = true };
	int r;

	/* Until policies land, `run` shows executions, the events a node
	 * operator most wants to see. */
	if (!events_cmd)
		o.print_mask = EVENT_MASK(EVENT_EXEC);
	r = parse_sensor_options(argc, argv, events_cmd, &o);
	if (r != 0)
		return r > 0 ? 0 : 2;
	return run_sensor(&o);
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
