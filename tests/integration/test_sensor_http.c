/* test_sensor_http.c - the running sensor's HTTP side: /metrics is valid
 * Prometheus text whose counters move with real events, and /healthz fails
 * when the event consumer stalls. Needs root. */
#include <criterion/criterion.h>
#include <curl/curl.h>

#include "integration/harness.h"

#define LISTEN "127.0.0.1:19810"
#define BASE "http://" LISTEN

struct body {
	char *data;
	size_t len;
};

static size_t collect(char *p, size_t size, size_t n, void *ctx)
{
	struct body *b = ctx;

	b->data = realloc(b->data, b->len + size * n + 1);
	memcpy(b->data + b->len, p, size * n);
	b->len += size * n;
	b->data[b->len] = '\0';
	return size * n;
}

/* GETs url; returns the status and the body (caller frees). */
static long http_get(const char *url, char **out)
{
	CURL *c = curl_easy_init();
	struct body b = { NULL, 0 };
	long status = 0;

	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	if (out)
		*out = b.data ? b.data : strdup("");
	else
		free(b.data);
	return status;
}

/* The value of one series in a Prometheus text page, or -1. */
static double series_value(const char *page, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = page; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	}
	return -1;
}

static const char *const args[] = { "events", "--types", "exec", "--listen", LISTEN, NULL };

Test(sensor_http, metrics_are_valid_and_count_real_events, .timeout = 60)
{
	struct sensor_run r;
	char *page;
	double before, after;
	FILE *f;
	int status;

	cr_assert(sensor_start(&r, args));
	cr_assert_eq(http_get(BASE "/metrics", &page), 200);
	before = series_value(page, "vigil_events_total{type=\"exec\"}");
	cr_assert_geq(before, 0, "no exec counter in:\n%s", page);
	free(page);

	for (int i = 0; i < 20; i++)
		cr_assert_eq(system("/bin/true"), 0);
	usleep(300 * 1000);
	cr_assert_eq(http_get(BASE "/metrics", &page), 200);
	after = series_value(page, "vigil_events_total{type=\"exec\"}");
	cr_expect_geq(after - before, 20, "exec counter went from %f to %f", before, after);
	cr_expect_eq(series_value(page, "vigil_events_lost_total{type=\"exec\",where=\"ringbuf\"}"), 0);
	cr_expect_gt(series_value(page, "vigil_process_cache_entries"), 0);

	/* promtool is the reference for the exposition format. */
	f = popen("promtool check metrics > /tmp/vigil-promtool.out 2>&1", "w");
	cr_assert(f);
	fputs(page, f);
	status = pclose(f);
	cr_expect_eq(WEXITSTATUS(status), 0, "promtool rejected the page (see /tmp/vigil-promtool.out)");
	free(page);
	sensor_stop(&r);
	sensor_free(&r);
}

Test(sensor_http, healthz_fails_while_the_consumer_is_stalled, .timeout = 60)
{
	struct sensor_run r;
	char *body;
	long status = 0;
	uint64_t deadline;

	cr_assert(sensor_start(&r, args));
	cr_assert_eq(http_get(BASE "/healthz", NULL), 200);
	cr_assert_eq(http_get(BASE "/readyz", &body), 200);
	cr_expect(strstr(body, "\"probe\""), "readyz body: %s", body);
	free(body);

	kill(r.pid, SIGUSR2); /* test hook: the consumer stops beating */
	deadline = now_ms() + 15000;
	while (now_ms() < deadline && (status = http_get(BASE "/healthz", NULL)) == 200)
		usleep(250 * 1000);
	cr_expect_eq(status, 503, "healthz stayed %ld with a stalled consumer", status);

	kill(r.pid, SIGUSR2);
	deadline = now_ms() + 5000;
	while (now_ms() < deadline && (status = http_get(BASE "/healthz", NULL)) != 200)
		usleep(100 * 1000);
	cr_expect_eq(status, 200, "healthz did not recover");
	cr_expect_eq(sensor_stop(&r), 0);
	sensor_free(&r);
}

static long http_post(const char *url, const char *token)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	struct body b = { NULL, 0 };
	char auth[128];
	long status = 0;

	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	if (token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		h = curl_slist_append(h, auth);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	}
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	free(b.data);
	return status;
}

/* The one state-changing endpoint needs the bearer token from the file
 * the configuration names. */
Test(sensor_http, policy_reload_endpoint_needs_the_token, .timeout = 60)
{
	static const char *const run_args[] = { "run", "--no-cri", "--config", "/tmp/vigil-http-token.yaml", NULL };
	struct sensor_run r;
	FILE *f;

	f = fopen("/tmp/vigil-http-token", "w");
	cr_assert(f);
	fputs("s3cret-token\n", f);
	fclose(f);
	f = fopen("/tmp/vigil-http-token.yaml", "w");
	cr_assert(f);
	fputs("http:\n  listen: 127.0.0.1:19818\n  token_file: /tmp/vigil-http-token\n", f);
	fclose(f);
	cr_assert(sensor_start(&r, run_args));
	cr_expect_eq(http_post("http://127.0.0.1:19818/v1/policy/reload", NULL), 401);
	cr_expect_eq(http_post("http://127.0.0.1:19818/v1/policy/reload", "wrong"), 401);
	cr_expect_eq(http_post("http://127.0.0.1:19818/v1/policy/reload", "s3cret-token"), 202);
	for (int i = 0; i < 40 && !strstr(r.errbuf, "rules active after reload"); i++)
		sensor_pump(&r, 100);
	cr_expect(strstr(r.errbuf, "policy: reloading (POST /v1/policy/reload)"), "stderr:\n%s", r.errbuf);
	cr_expect(strstr(r.errbuf, "rules active after reload"), "stderr:\n%s", r.errbuf);
	cr_expect_eq(sensor_stop(&r), 0);
	sensor_free(&r);
	unlink("/tmp/vigil-http-token");
	unlink("/tmp/vigil-http-token.yaml");
}
