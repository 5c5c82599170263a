/* metrics_server.c - test-only server for tests/integration/test_prometheus.sh.
 *
 * Serves a registry holding one series of every kind the sensor uses
 * (counters with awkward label values, a gauge, scrape-time callbacks, a
 * histogram) through the real http_api, and keeps them moving so a scraper
 * sees changing values. Prints "port N" once listening; stops on SIGTERM or
 * SIGINT.
 *
 * Usage: metrics_server [listen-address]   (default 127.0.0.1:0) */
#include "../../sensor/health.h"
#include "../../sensor/http_api.h"
#include "../../sensor/log.h"
#include "../../sensor/metrics.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double fill_ratio(void *ctx)
{
	return (double)(*(unsigned long *)ctx % 100) / 100.0;
}

static uint64_t kernel_drops(void *ctx)
{
	return *(unsigned long *)ctx / 10;
}

int main(int argc, char **argv)
{
	const double bounds[] = { 0.000001, 0.00001, 0.0001, 0.001, 0.01, 0.1 };
	struct http_api_config cfg = { 0 };
	struct metric_counter *exec, *odd;
	struct metric_histogram *lat;
	struct metric_gauge *cache;
	struct sigaction sa = { 0 };
	struct http_api *api;
	struct metrics *m;
	struct health *h;
	unsigned long ticks = 0;
	char err[256], esc[128], labels[192];

	m = metrics_new(0);
	h = health_new(2000);
	if (!m || !h)
		return 1;

	exec = metrics_counter(m, "vigil_test_events_total",
			       "Events decoded, by type.", "type=\"exec\"");
	metrics_label_escape(esc, sizeof(esc),
			     "quote \" backslash \\ newline \n end");
	snprintf(labels, sizeof(labels), "type=\"odd\",detail=\"%s\"", esc);
	odd = metrics_counter(m, "vigil_test_events_total",
			      "Events decoded, by type.", labels);
	cache = metrics_gauge(m, "vigil_test_cache_entries",
			      "Entries in the process cache.\nSecond line \\.",
			      NULL);
	lat = metrics_histogram(m, "vigil_test_rule_eval_seconds",
				"Time to evaluate rules on one event.",
				"stage=\"match\"", bounds,
				sizeof(bounds) / sizeof(bounds[0]));
	if (!exec || !odd || !cache || !lat)
		return 1;
	metrics_gauge_fn(m, "vigil_test_ringbuf_fill_ratio",
			 "Ring buffer fill ratio.", "cpu=\"0\"", fill_ratio,
			 &ticks);
	metrics_counter_fn(m, "vigil_test_kernel_drops_total",
			   "Events the kernel dropped.", NULL, kernel_drops,
			   &ticks);
	health_register(h, "probe", true);
	health_set(h, "probe", HEALTH_OK, "test server");

	cfg.listen = argc > 1 ? argv[1] : "127.0.0.1:0";
	cfg.version = "metrics-server-test";
	cfg.metrics = m;
	cfg.health = h;
	api = http_api_start(&cfg, err, sizeof(err));
	if (!api) {
		log_error("metrics_server: %s", err);
		return 1;
	}
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	printf("port %u\n", (unsigned)http_api_port(api));
	fflush(stdout);

	while (!stop) {
		struct timespec ts = { 0, 50 * 1000000L };

		ticks++;
		metric_counter_add(exec, 3);
		if (ticks % 10 == 0)
			metric_counter_inc(odd);
		metric_gauge_set(cache, (double)(ticks % 1000));
		metric_histogram_observe(lat, (double)(ticks % 50) * 0.00003);
		health_beat(h, "main");
		nanosleep(&ts, NULL);
	}
	http_api_stop(api);
	health_free(h);
	metrics_free(m);
	return 0;
}
