/* test_metrics.c - unit tests for the metric registry and its Prometheus
 * text rendering (sensor/metrics.c). */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../sensor/metrics.h"

static char *render(struct metrics *m)
{
	char *buf = NULL;
	size_t len = 0;

	cr_assert_eq(metrics_render(m, &buf, &len), 0);
	cr_assert_not_null(buf);
	cr_assert_eq(strlen(buf), len);
	return buf;
}

/* True when text contains line as a whole line. */
static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p = text;

	while ((p = strstr(p, line)) != NULL) {
		bool starts = p == text || p[-1] == '\n';
		bool ends = p[n] == '\n' || p[n] == '\0';

		if (starts && ends)
			return true;
		p++;
	}
	return false;
}

static int count_of(const char *text, const char *needle)
{
	int n = 0;
	const char *p = text;

	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p += strlen(needle);
	}
	return n;
}

Test(metrics, counter_moves_and_handles_are_shared)
{
	struct metrics *m = metrics_new(0);
	struct metric_counter *a, *b, *c, *d;
	char *out;

	a = metrics_counter(m, "vigil_events_total", "Events seen.",
			    "type=\"exec\"");
	cr_assert_not_null(a);
	metric_counter_inc(a);
	metric_counter_add(a, 41);
	cr_assert_eq(metric_counter_value(a), 42);

	b = metrics_counter(m, "vigil_events_total", "ignored", "type=\"exec\"");
	cr_assert_eq(a, b, "same name and labels must give the same handle");
	c = metrics_counter(m, "vigil_events_total", "Events seen.",
			    "type=\"open\"");
	cr_assert_neq(a, c);
	cr_assert_eq(metric_counter_value(c), 0);

	/* Label order and spacing do not make another series. */
	a = metrics_counter(m, "vigil_drops_total", "Drops.",
			    "cpu=\"1\",reason=\"full\"");
	d = metrics_counter(m, "vigil_drops_total", "Drops.",
			    " reason = \"full\" , cpu=\"1\"");
	cr_assert_eq(a, d);

	out = render(m);
	cr_assert(has_line(out, "vigil_events_total{type=\"exec\"} 42"), "%s",
		  out);
	cr_assert(has_line(out, "vigil_events_total{type=\"open\"} 0"), "%s",
		  out);
	cr_assert(has_line(out, "# HELP vigil_events_total Events seen."));
	cr_assert(has_line(out, "vigil_drops_total{cpu=\"1\",reason=\"full\"} 0"),
		  "%s", out);
	free(out);
	metrics_free(m);
}

Test(metrics, names_and_types_are_checked)
{
	struct metrics *m = metrics_new(0);

	cr_assert_null(metrics_counter(m, "vigil_events", "h", NULL),
		       "counter without _total");
	cr_assert_null(metrics_gauge(m, "vigil_size_total", "h", NULL),
		       "gauge with _total");
	cr_assert_null(metrics_counter(m, "9vigil_total", "h", NULL));
	cr_assert_null(metrics_counter(m, "vigil-x_total", "h", NULL));
	cr_assert_null(metrics_counter(m, "", "h", NULL));
	cr_assert_null(metrics_counter(m, NULL, "h", NULL));
	cr_assert_null(metrics_counter(m, "vigil_a_total", "", NULL),
		       "help is required");
	cr_assert_null(metrics_counter(m, "vigil_a_total", NULL, NULL));

	cr_assert_not_null(metrics_gauge(m, "vigil_cache_entries", "h", NULL));
	cr_assert_null(metrics_histogram(m, "vigil_cache_entries", "h", NULL,
					 (double[]){ 1 }, 1),
		       "a name keeps its type");
	cr_assert_eq(metrics_gauge_fn(m, "vigil_cache_entries", "h", NULL,
				      NULL, NULL),
		     -1, "a plain series cannot become a callback");
	cr_assert_null(metrics_histogram(m, "vigil_lat_seconds_count", "h",
					 NULL, (double[]){ 1 }, 1));
	cr_assert_null(metrics_counter(NULL, "vigil_a_total", "h", NULL));
	metrics_free(m);
}

Test(metrics, label_parsing_rejects_junk)
{
	struct metrics *m = metrics_new(0);
	const char *bad[] = {
		"type=\"exec",         /* unterminated */
		"type=exec",           /* unquoted */
		"type\"exec\"",        /* no '=' */
		"1type=\"x\"",         /* bad name */
		"__name=\"x\"",        /* reserved */
		"a=\"1\",a=\"2\"",     /* duplicate */
		"a=\"1\" b=\"2\"",     /* no comma */
		"a=\"\\x\"",           /* invalid escape */
		"a=\"\xff\"",          /* not UTF-8 */
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_null(metrics_counter(m, "vigil_a_total", "h", bad[i]),
			       "accepted bad labels %s", bad[i]);
	cr_assert_not_null(metrics_counter(m, "vigil_a_total", "h",
					   "a=\"1\",b=\"2\","),
			   "a trailing comma is allowed");
	cr_assert_null(metrics_histogram(m, "vigil_h_seconds", "h",
					 "le=\"1\"", (double[]){ 1 }, 1),
		       "le is reserved in histograms");
	metrics_free(m);
}

Test(metrics, label_values_are_escaped)
{
	struct metrics *m = metrics_new(0);
	char esc[64], labels[128], small[4];
	char *out;

	cr_assert_eq(metrics_label_escape(esc, sizeof(esc), "a\\b\"c\nd"), 10);
	cr_assert_str_eq(esc, "a\\\\b\\\"c\\nd");
	cr_assert_eq(metrics_label_escape(small, sizeof(small), "abcd"), -1);
	cr_assert_str_eq(small, "");
	cr_assert_eq(metrics_label_escape(esc, sizeof(esc), "x\xffy"), 3);
	cr_assert_str_eq(esc, "x?y", "stray bytes are replaced");
	cr_assert_eq(metrics_label_escape(esc, sizeof(esc), "h\xc3\xa9"), 3,
		     "valid UTF-8 is kept");

	metrics_label_escape(esc, sizeof(esc), "a\\b\"c\nd");
	snprintf(labels, sizeof(labels), "rule=\"%s\"", esc);
	metric_counter_add(metrics_counter(m, "vigil_rule_hits_total", "h",
					   labels), 3);
	/* A raw newline inside quotes is accepted and escaped on output. */
	metric_counter_add(metrics_counter(m, "vigil_rule_hits_total", "h",
					   "rule=\"two\nlines\""), 1);
	out = render(m);
	cr_assert(has_line(out,
			   "vigil_rule_hits_total{rule=\"a\\\\b\\\"c\\nd\"} 3"),
		  "%s", out);
	cr_assert(has_line(out, "vigil_rule_hits_total{rule=\"two\\nlines\"} 1"),
		  "%s", out);
	free(out);
	metrics_free(m);
}

Test(metrics, histogram_buckets_sum_and_count)
{
	struct metrics *m = metrics_new(0);
	const double bounds[] = { 0.1, 1, 10 };
	struct metric_histogram *h;
	char *out;

	h = metrics_histogram(m, "vigil_rule_eval_seconds", "Eval time.",
			      "stage=\"x\"", bounds, 3);
	cr_assert_not_null(h);
	metric_histogram_observe(h, 0.05);
	metric_histogram_observe(h, 0.1); /* le is inclusive */
	metric_histogram_observe(h, 0.5);
	metric_histogram_observe(h, 5);
	metric_histogram_observe(h, 50);
	metric_histogram_observe(h, NAN); /* dropped */
	cr_assert_eq(metric_histogram_count(h), 5);

	cr_assert_eq(metrics_histogram(m, "vigil_rule_eval_seconds", "h",
				       "stage=\"x\"", bounds, 3),
		     h);
	cr_assert_null(metrics_histogram(m, "vigil_rule_eval_seconds", "h",
					 "stage=\"x\"", bounds, 2),
		       "other bounds for the same series");

	out = render(m);
	cr_assert(has_line(out, "# TYPE vigil_rule_eval_seconds histogram"));
	cr_assert(has_line(out, "vigil_rule_eval_seconds_bucket{stage=\"x\","
				"le=\"0.1\"} 2"), "%s", out);
	cr_assert(has_line(out, "vigil_rule_eval_seconds_bucket{stage=\"x\","
				"le=\"1\"} 3"), "%s", out);
	cr_assert(has_line(out, "vigil_rule_eval_seconds_bucket{stage=\"x\","
				"le=\"10\"} 4"), "%s", out);
	cr_assert(has_line(out, "vigil_rule_eval_seconds_bucket{stage=\"x\","
				"le=\"+Inf\"} 5"), "%s", out);
	cr_assert(has_line(out, "vigil_rule_eval_seconds_sum{stage=\"x\"} 55.65"),
		  "%s", out);
	cr_assert(has_line(out, "vigil_rule_eval_seconds_count{stage=\"x\"} 5"),
		  "%s", out);
	free(out);

	h = metrics_histogram(m, "vigil_batch_size", "Batch.", NULL,
			      (double[]){ 1, 2 }, 2);
	metric_histogram_observe(h, 2);
	out = render(m);
	cr_assert(has_line(out, "vigil_batch_size_bucket{le=\"2\"} 1"), "%s",
		  out);
	cr_assert(has_line(out, "vigil_batch_size_sum 2"), "%s", out);
	cr_assert(has_line(out, "vigil_batch_size_count 1"), "%s", out);
	free(out);
	metrics_free(m);
}

Test(metrics, histogram_bounds_are_validated)
{
	struct metrics *m = metrics_new(0);

	cr_assert_null(metrics_histogram(m, "vigil_a", "h", NULL,
					 (double[]){ 1, 1 }, 2));
	cr_assert_null(metrics_histogram(m, "vigil_a", "h", NULL,
					 (double[]){ 2, 1 }, 2));
	cr_assert_null(metrics_histogram(m, "vigil_a", "h", NULL,
					 (double[]){ 1, INFINITY }, 2));
	cr_assert_null(metrics_histogram(m, "vigil_a", "h", NULL,
					 (double[]){ NAN }, 1));
	cr_assert_null(metrics_histogram(m, "vigil_a", "h", NULL, NULL, 0));
	metrics_free(m);
}

static double fill_ratio(void *ctx)
{
	return *(double *)ctx;
}

static uint64_t kernel_drops(void *ctx)
{
	return *(uint64_t *)ctx;
}

Test(metrics, render_format_details)
{
	struct metrics *m = metrics_new(0);
	double ratio = 0.25;
	uint64_t drops = 7;
	struct metric_gauge *g;
	char *out;

	/* Registered out of order: output is sorted by family name. */
	metric_counter_add(metrics_counter(m, "vigil_z_total", "Z.",
					   "k=\"b\""), 2);
	metric_counter_add(metrics_counter(m, "vigil_z_total", "Z.",
					   "k=\"a\""), 1);
	g = metrics_gauge(m, "vigil_a_bytes", "Line one\nback\\slash.", NULL);
	metric_gauge_set(g, 0.25);
	metric_gauge_add(g, 0.5);
	cr_assert_float_eq(metric_gauge_value(g), 0.75, 1e-12);
	cr_assert_eq(metrics_gauge_fn(m, "vigil_ringbuf_fill_ratio", "Fill.",
				      "cpu=\"0\"", fill_ratio, &ratio), 0);
	cr_assert_eq(metrics_counter_fn(m, "vigil_kernel_drops_total", "Drops.",
					NULL, kernel_drops, &drops), 0);
	metric_gauge_set(metrics_gauge(m, "vigil_special", "S.", "v=\"nan\""),
			 NAN);
	metric_gauge_set(metrics_gauge(m, "vigil_special", "S.", "v=\"inf\""),
			 -INFINITY);

	out = render(m);
	cr_assert_eq(count_of(out, "# HELP vigil_z_total "), 1);
	cr_assert_eq(count_of(out, "# TYPE vigil_z_total counter"), 1);
	cr_assert(has_line(out, "# HELP vigil_a_bytes Line one\\nback\\\\slash."),
		  "%s", out);
	cr_assert(has_line(out, "vigil_a_bytes 0.75"), "%s", out);
	cr_assert(has_line(out, "vigil_ringbuf_fill_ratio{cpu=\"0\"} 0.25"),
		  "%s", out);
	cr_assert(has_line(out, "vigil_kernel_drops_total 7"), "%s", out);
	cr_assert(has_line(out, "vigil_special{v=\"nan\"} NaN"), "%s", out);
	cr_assert(has_line(out, "vigil_special{v=\"inf\"} -Inf"), "%s", out);
	cr_assert_lt(strstr(out, "vigil_a_bytes"), strstr(out, "vigil_z_total"));
	cr_assert_lt(strstr(out, "vigil_z_total{k=\"a\"}"),
		     strstr(out, "vigil_z_total{k=\"b\"}"));
	cr_assert_eq(out[strlen(out) - 1], '\n');
	free(out);

	/* Shortest form that reads back exactly: no 0.1 -> 0.10000000000000001,
	 * but 0.1 + 0.2 keeps every digit it needs. */
	metric_gauge_set(g, 0.1);
	out = render(m);
	cr_assert(has_line(out, "vigil_a_bytes 0.1"), "%s", out);
	free(out);
	metric_gauge_add(g, 0.2);
	out = render(m);
	cr_assert(has_line(out, "vigil_a_bytes 0.30000000000000004"), "%s", out);
	free(out);

	/* Callbacks are read at scrape time, and can be switched off. */
	ratio = 0.5;
	drops = 9;
	cr_assert_eq(metrics_gauge_fn(m, "vigil_ringbuf_fill_ratio", "Fill.",
				      "cpu=\"1\"", NULL, NULL), 0);
	out = render(m);
	cr_assert(has_line(out, "vigil_ringbuf_fill_ratio{cpu=\"0\"} 0.5"));
	cr_assert(has_line(out, "vigil_kernel_drops_total 9"));
	cr_assert_null(strstr(out, "cpu=\"1\""));
	free(out);
	metrics_free(m);
}

Test(metrics, empty_registry_renders_nothing)
{
	struct metrics *m = metrics_new(0);
	char *out = render(m);

	cr_assert_str_eq(out, "");
	free(out);
	metrics_free(m);
}

Test(metrics, series_limit_and_null_handles)
{
	struct metrics *m = metrics_new(2);
	struct metric_counter *a, *b;

	a = metrics_counter(m, "vigil_a_total", "h", "n=\"1\"");
	b = metrics_counter(m, "vigil_a_total", "h", "n=\"2\"");
	cr_assert_not_null(a);
	cr_assert_not_null(b);
	cr_assert_null(metrics_counter(m, "vigil_a_total", "h", "n=\"3\""));
	cr_assert_eq(metrics_counter(m, "vigil_a_total", "h", "n=\"1\""), a,
		     "existing series are still found when full");
	/* Updates through failed registrations are no-ops. */
	metric_counter_add(NULL, 1);
	metric_gauge_set(NULL, 1);
	metric_gauge_add(NULL, 1);
	metric_histogram_observe(NULL, 1);
	cr_assert_eq(metric_counter_value(NULL), 0);
	metrics_free(m);
}

#define THREADS 8
#define ROUNDS 100000

struct worker_arg {
	struct metrics *m;
	struct metric_counter *handle; /* what this thread registered */
};

static void *worker(void *p)
{
	struct worker_arg *arg = p;
	struct metric_counter *c;
	struct metric_gauge *g;
	struct metric_histogram *h;
	const double bounds[] = { 10, 100 };
	int i;

	/* Everyone registers concurrently and must get the same handles. */
	c = metrics_counter(arg->m, "vigil_events_total", "h", "t=\"x\"");
	g = metrics_gauge(arg->m, "vigil_level", "h", NULL);
	h = metrics_histogram(arg->m, "vigil_size_bytes", "h", NULL, bounds, 2);
	arg->handle = c;
	for (i = 0; i < ROUNDS; i++) {
		metric_counter_inc(c);
		metric_gauge_add(g, 1.0);
		metric_histogram_observe(h, (double)(i % 200));
	}
	return NULL;
}

Test(metrics, concurrent_updates_are_exact)
{
	struct metrics *m = metrics_new(0);
	pthread_t t[THREADS];
	struct worker_arg args[THREADS];
	char *out, line[128];
	int i;

	for (i = 0; i < THREADS; i++) {
		args[i].m = m;
		cr_assert_eq(pthread_create(&t[i], NULL, worker, &args[i]), 0);
	}
	/* Scrape while the workers run: must not crash or deadlock. */
	for (i = 0; i < 20; i++) {
		out = render(m);
		free(out);
	}
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	for (i = 1; i < THREADS; i++)
		cr_assert_eq(args[i].handle, args[0].handle);

	cr_assert_eq(metric_counter_value(args[0].handle),
		     (uint64_t)THREADS * ROUNDS);
	cr_assert_float_eq(metric_gauge_value(metrics_gauge(m, "vigil_level",
							    "h", NULL)),
			   (double)THREADS * ROUNDS, 0.5);
	out = render(m);
	snprintf(line, sizeof(line), "vigil_size_bytes_count %d",
		 THREADS * ROUNDS);
	cr_assert(has_line(out, line), "%s", out);
	/* Values 0..199 evenly: 11 of every 200 are <= 10. */
	snprintf(line, sizeof(line), "vigil_size_bytes_bucket{le=\"10\"} %d",
		 THREADS * ROUNDS / 200 * 11);
	cr_assert(has_line(out, line), "%s", out);
	free(out);
	metrics_free(m);
}
