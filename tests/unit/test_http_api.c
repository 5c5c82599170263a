/* test_http_api.c - tests for the HTTP server (sensor/http_api.c) and the
 * health state it serves (sensor/health.c): each test starts a real server
 * on 127.0.0.1 with an ephemeral port and talks to it with libcurl. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../sensor/health.h"
#include "../../sensor/http_api.h"
#include "../../sensor/metrics.h"

#define TOKEN "s3cret-token-value"

struct reply {
	long status;
	char *body;
	size_t len;
	char content_type[128];
	char allow[128];
	char www_auth[128];
};

static size_t collect_body(char *data, size_t size, size_t n, void *p)
{
	struct reply *r = p;
	size_t add = size * n;
	char *nb = realloc(r->body, r->len + add + 1);

	if (!nb)
		return 0;
	memcpy(nb + r->len, data, add);
	r->body = nb;
	r->len += add;
	nb[r->len] = '\0';
	return add;
}

static void copy_header(char *dst, size_t size, const char *line,
			size_t len, const char *name)
{
	size_t nl = strlen(name);

	if (len <= nl || strncasecmp(line, name, nl) != 0)
		return;
	line += nl;
	len -= nl;
	while (len && (*line == ' '))
		line++, len--;
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	snprintf(dst, size, "%.*s", (int)len, line);
}

static size_t collect_header(char *data, size_t size, size_t n, void *p)
{
	struct reply *r = p;
	size_t len = size * n;

	copy_header(r->content_type, sizeof(r->content_type), data, len,
		    "Content-Type:");
	copy_header(r->allow, sizeof(r->allow), data, len, "Allow:");
	copy_header(r->www_auth, sizeof(r->www_auth), data, len,
		    "WWW-Authenticate:");
	return len;
}

struct upload {
	const char *data;
	size_t len, pos;
};

static size_t feed_body(char *dst, size_t size, size_t n, void *p)
{
	struct upload *u = p;
	size_t room = size * n, left = u->len - u->pos;
	size_t take = left < room ? left : room;

	memcpy(dst, u->data + u->pos, take);
	u->pos += take;
	return take;
}

/* Sends one request; token NULL = no Authorization header. chunked sends
 * the body without Content-Length. */
static struct reply request(uint16_t port, const char *method,
			    const char *path, const char *token,
			    const char *body, size_t body_len, bool chunked)
{
	struct reply r = { 0 };
	struct upload up = { body, body_len, 0 };
	struct curl_slist *hdrs = NULL;
	char url[512], auth[256];
	CURL *c = curl_easy_init();
	CURLcode rc;

	cr_assert_not_null(c);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", (unsigned)port,
		 path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	if (token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		hdrs = curl_slist_append(hdrs, auth);
	}
	if (body) {
		if (chunked) {
			/* Fed by a callback with no size known up front,
			 * so curl sends chunks and no Content-Length. */
			hdrs = curl_slist_append(hdrs,
						 "Transfer-Encoding: chunked");
			curl_easy_setopt(c, CURLOPT_POST, 1L);
			curl_easy_setopt(c, CURLOPT_READFUNCTION, feed_body);
			curl_easy_setopt(c, CURLOPT_READDATA, &up);
		} else {
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE,
					 (long)body_len);
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		}
	}
	/* No "Expect: 100-continue" pause on larger bodies. */
	hdrs = curl_slist_append(hdrs, "Expect:");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	rc = curl_easy_perform(c);
	cr_assert_eq(rc, CURLE_OK, "%s %s: %s", method, path,
		     curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	if (!r.body)
		r.body = calloc(1, 1);
	return r;
}

static struct reply get(uint16_t port, const char *path)
{
	return request(port, "GET", path, NULL, NULL, 0, false);
}

static void reply_free(struct reply *r)
{
	free(r->body);
	r->body = NULL;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* ---- handlers used by the tests ---- */

static int echo_handler(const struct http_request *req,
			struct http_response *resp, void *ctx)
{
	char buf[512];
	const char *who = http_request_arg(req, "who");

	(void)ctx;
	snprintf(buf, sizeof(buf), "%s %s who=%s body=%.*s", req->method,
		 req->path, who ? who : "-", (int)req->body_len,
		 req->body ? req->body : "");
	resp->content_type = "text/plain";
	resp->body = strdup(buf);
	return resp->body ? 0 : -1;
}

static int static_handler(const struct http_request *req,
			  struct http_response *resp, void *ctx)
{
	(void)req;
	resp->status = 202;
	resp->static_body = ctx;
	return 0;
}

static int failing_handler(const struct http_request *req,
			   struct http_response *resp, void *ctx)
{
	(void)req;
	(void)ctx;
	resp->body = strdup("partial");
	return -1;
}

static char *status_fragment(void *ctx)
{
	return strdup(ctx);
}

static char *rules_json(void *ctx)
{
	(void)ctx;
	return strdup("{\"rules\":[{\"id\":\"shell_in_container\"}]}");
}

/* ---- fixture: one server per test ---- */

static struct metrics *metrics;
static struct health *health;
static struct http_api *api;
static uint16_t port;
static char token_path[64];

static struct http_api *start_with(struct http_api_config *cfg)
{
	char err[256] = "";
	struct http_api *a;

	cfg->listen = "127.0.0.1:0";
	a = http_api_start(cfg, err, sizeof(err));
	cr_assert_not_null(a, "start failed: %s", err);
	cr_assert_neq(http_api_port(a), 0);
	return a;
}

static void setup(void)
{
	struct http_api_config cfg = { 0 };
	FILE *f;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(token_path, sizeof(token_path), "/tmp/vigil-token-XXXXXX");
	cr_assert_neq(mkstemp(token_path), -1);
	f = fopen(token_path, "w");
	cr_assert_not_null(f);
	fputs(TOKEN "\n", f);
	fclose(f);

	metrics = metrics_new(0);
	health = health_new(0);
	cfg.token_file = token_path;
	cfg.version = "1.2.3-test";
	cfg.metrics = metrics;
	cfg.health = health;
	cfg.max_body = 1024;
	cfg.status_fn = status_fragment;
	cfg.status_ctx = "{\"features\":{\"tc\":false},\"policy\":\"p1\","
			 "\"version\":\"shadowed\"}";
	cfg.rules_fn = rules_json;
	api = start_with(&cfg);
	port = http_api_port(api);
	cr_assert_eq(http_api_route(api, "POST", "/v1/echo", echo_handler, NULL,
				    false), 0);
	cr_assert_eq(http_api_route(api, "GET", "/v1/echo", echo_handler, NULL,
				    false), 0);
}

static void teardown(void)
{
	http_api_stop(api);
	health_free(health);
	metrics_free(metrics);
	unlink(token_path);
	curl_global_cleanup();
}

TestSuite(http_api, .init = setup, .fini = teardown);

/* ---- pure helpers ---- */

Test(http_api_parse, listen_addresses)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	socklen_t len;
	char err[256];
	const char *junk[] = {
		"", "abc", "1.2.3.4", "1.2.3.4:", "1.2.3.4:99999",
		"1.2.3.4:65536", "1.2.3.4:80x", "1.2.3.4: 80", "1.2.3.4:-1",
		"localhost:80", "::1:80", "[::1]80", "[::1", "[zz]:80",
		"1.2.3:80", "1.2.3.4:123456",
	};
	size_t i;

	cr_assert_eq(http_api_parse_listen("0.0.0.0:9810", &ss, &len, err,
					   sizeof(err)), 0);
	cr_assert_eq(in->sin_family, AF_INET);
	cr_assert_eq(ntohs(in->sin_port), 9810);
	cr_assert_eq(len, sizeof(struct sockaddr_in));

	cr_assert_eq(http_api_parse_listen(":80", &ss, &len, err, sizeof(err)),
		     0);
	cr_assert_eq(in->sin_addr.s_addr, htonl(INADDR_ANY));
	cr_assert_eq(ntohs(in->sin_port), 80);

	cr_assert_eq(http_api_parse_listen("127.0.0.1:0", &ss, &len, err,
					   sizeof(err)), 0);
	cr_assert_eq(in->sin_addr.s_addr, htonl(INADDR_LOOPBACK));

	cr_assert_eq(http_api_parse_listen("[::1]:65535", &ss, &len, err,
					   sizeof(err)), 0);
	cr_assert_eq(ss.ss_family, AF_INET6);
	cr_assert_eq(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 65535);

	for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		err[0] = '\0';
		cr_assert_eq(http_api_parse_listen(junk[i], &ss, &len, err,
						   sizeof(err)), -1,
			     "accepted '%s'", junk[i]);
		cr_assert_neq(err[0], '\0', "no message for '%s'", junk[i]);
	}
	cr_assert_eq(http_api_parse_listen(NULL, &ss, &len, err, sizeof(err)),
		     -1);
}

Test(http_api_parse, token_compare)
{
	cr_assert(http_api_token_equal("abc", 3, "abc", 3));
	cr_assert_not(http_api_token_equal("abc", 3, "abd", 3));
	cr_assert_not(http_api_token_equal("abc", 3, "ab", 2));
	cr_assert_not(http_api_token_equal("abc", 3, "abcd", 4));
	cr_assert_not(http_api_token_equal("abc", 3, "", 0));
	cr_assert_not(http_api_token_equal("abc", 3, NULL, 0));
	cr_assert_not(http_api_token_equal("", 0, "", 0),
		      "an empty expected token never matches");
	/* Only the given length counts, not what follows it. */
	cr_assert(http_api_token_equal("abc", 3, "abcdef", 3));
}

Test(http_api_parse, start_rejects_bad_config)
{
	struct http_api_config cfg = { 0 };
	char err[256];
	char path[] = "/tmp/vigil-empty-token-XXXXXX";
	int fd;

	cfg.listen = "127.0.0.1:http";
	err[0] = '\0';
	cr_assert_null(http_api_start(&cfg, err, sizeof(err)));
	cr_assert_not_null(strstr(err, "port"), "%s", err);

	cfg.listen = "127.0.0.1:0";
	cfg.token_file = "/nonexistent/token";
	cr_assert_null(http_api_start(&cfg, err, sizeof(err)));
	cr_assert_not_null(strstr(err, "/nonexistent/token"), "%s", err);

	fd = mkstemp(path);
	cr_assert_neq(fd, -1);
	cr_assert_eq(write(fd, "\n", 1), 1);
	close(fd);
	cfg.token_file = path;
	cr_assert_null(http_api_start(&cfg, err, sizeof(err)));
	cr_assert_not_null(strstr(err, "empty"), "%s", err);
	unlink(path);
	cr_assert_null(http_api_start(NULL, err, sizeof(err)));
}

Test(http_api_parse, port_in_use_is_reported)
{
	struct http_api_config cfg = { 0 };
	struct http_api *a, *b;
	char err[256], listen[32];

	cfg.listen = "127.0.0.1:0";
	a = http_api_start(&cfg, err, sizeof(err));
	cr_assert_not_null(a, "%s", err);
	snprintf(listen, sizeof(listen), "127.0.0.1:%u",
		 (unsigned)http_api_port(a));
	cfg.listen = listen;
	b = http_api_start(&cfg, err, sizeof(err));
	cr_assert_null(b);
	cr_assert_not_null(strstr(err, "in use"), "%s", err);
	http_api_stop(a);
}

/* ---- served endpoints ---- */

Test(http_api, metrics_endpoint)
{
	struct metric_counter *c;
	struct reply r;

	c = metrics_counter(metrics, "vigil_events_total", "Events.",
			    "type=\"exec\"");
	metric_counter_add(c, 17);
	r = get(port, "/metrics");
	cr_assert_eq(r.status, 200);
	cr_assert_not_null(strstr(r.content_type, "text/plain"));
	cr_assert_not_null(strstr(r.content_type, "version=0.0.4"));
	cr_assert_not_null(strstr(r.body,
				  "\nvigil_events_total{type=\"exec\"} 17\n"),
			   "%s", r.body);
	reply_free(&r);

	metric_counter_add(c, 3);
	r = get(port, "/metrics");
	cr_assert_not_null(strstr(r.body,
				  "\nvigil_events_total{type=\"exec\"} 20\n"));
	/* The server counts its own requests by status code. */
	cr_assert_not_null(strstr(r.body, "vigil_http_requests_total{code=\"200\"} "),
			   "%s", r.body);
	reply_free(&r);

	r = request(port, "HEAD", "/metrics", NULL, NULL, 0, false);
	cr_assert_eq(r.status, 200);
	cr_assert_eq(r.len, 0);
	reply_free(&r);
}

Test(http_api, healthz_fails_when_beats_stop)
{
	struct reply r;
	int i;

	r = get(port, "/healthz");
	cr_assert_eq(r.status, 200, "no loops yet: live");
	reply_free(&r);

	cr_assert_eq(health_register_loop(health, "events", 1000), 0);
	for (i = 0; i < 3; i++) {
		health_beat(health, "events");
		sleep_ms(100);
	}
	r = get(port, "/healthz");
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_assert_not_null(strstr(r.body, "\"status\":\"ok\""), "%s", r.body);
	reply_free(&r);

	sleep_ms(1500);
	cr_assert_not(health_live(health));
	r = get(port, "/healthz");
	cr_assert_eq(r.status, 503, "%s", r.body);
	cr_assert_not_null(strstr(r.body, "\"status\":\"fail\""), "%s", r.body);
	cr_assert_not_null(strstr(r.body, "loop events has not run for"),
			   "%s", r.body);
	cr_assert_not_null(strstr(r.body, "\"deadline_ms\":1000"), "%s", r.body);
	reply_free(&r);

	/* A stuck loop makes the sensor not ready either. */
	r = get(port, "/readyz");
	cr_assert_eq(r.status, 503, "%s", r.body);
	reply_free(&r);

	health_beat(health, "events");
	r = get(port, "/healthz");
	cr_assert_eq(r.status, 200, "%s", r.body);
	reply_free(&r);

	/* A loop that stopped on purpose no longer counts. */
	health_loop_stop(health, "events");
	sleep_ms(1200);
	r = get(port, "/healthz");
	cr_assert_eq(r.status, 200, "%s", r.body);
	reply_free(&r);
}

Test(http_api, readyz_required_and_optional)
{
	struct reply r;

	health_register(health, "probe", true);
	health_register(health, "ringbuf", true);
	health_register(health, "cri", false);

	r = get(port, "/readyz");
	cr_assert_eq(r.status, 503, "components start as starting");
	cr_assert_not_null(strstr(r.body, "required component probe is starting"),
			   "%s", r.body);
	reply_free(&r);

	health_set(health, "probe", HEALTH_OK, "attached 12 programs");
	health_set(health, "ringbuf", HEALTH_OK, NULL);
	health_set(health, "cri", HEALTH_OK, NULL);
	r = get(port, "/readyz");
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_assert_not_null(strstr(r.body, "\"status\":\"ready\""), "%s", r.body);
	cr_assert_not_null(strstr(r.body, "attached 12 programs"), "%s", r.body);
	reply_free(&r);

	/* An optional component going bad shows, but stays ready. */
	health_set(health, "cri", HEALTH_DOWN, "containerd socket missing");
	r = get(port, "/readyz");
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_assert_not_null(strstr(r.body, "\"status\":\"degraded\""), "%s",
			   r.body);
	cr_assert_not_null(strstr(r.body, "containerd socket missing"), "%s",
			   r.body);
	reply_free(&r);

	/* Degraded is not OK for a required component. */
	health_set(health, "ringbuf", HEALTH_DEGRADED, "dropping");
	cr_assert_eq(health_get(health, "ringbuf"), HEALTH_DEGRADED);
	r = get(port, "/readyz");
	cr_assert_eq(r.status, 503, "%s", r.body);
	cr_assert_not_null(strstr(r.body, "required component ringbuf is "
					  "degraded: dropping"), "%s", r.body);
	reply_free(&r);

	/* Unknown components from health_set are optional. */
	health_set(health, "ringbuf", HEALTH_OK, NULL);
	health_set(health, "tc", HEALTH_DOWN, NULL);
	r = get(port, "/readyz");
	cr_assert_eq(r.status, 200, "%s", r.body);
	reply_free(&r);
	cr_assert_eq(health_set(health, "x", (enum health_state)42, NULL), -1);
	cr_assert_eq(health_get(health, "nope"), -1);
}

Test(http_api, not_found_and_wrong_method)
{
	struct reply r;

	r = get(port, "/nope");
	cr_assert_eq(r.status, 404);
	cr_assert_not_null(strstr(r.content_type, "application/json"));
	cr_assert_str_eq(r.body, "{\"error\":\"not found\",\"path\":\"/nope\"}");
	reply_free(&r);

	r = get(port, "/healthz/");
	cr_assert_eq(r.status, 404);
	reply_free(&r);

	r = request(port, "DELETE", "/metrics", TOKEN, NULL, 0, false);
	cr_assert_eq(r.status, 405, "%s", r.body);
	cr_assert_str_eq(r.allow, "GET");
	cr_assert_not_null(strstr(r.body, "method not allowed"));
	reply_free(&r);

	r = request(port, "PUT", "/v1/echo", TOKEN, "x", 1, false);
	cr_assert_eq(r.status, 405, "%s", r.body);
	cr_assert_not_null(strstr(r.allow, "POST"), "%s", r.allow);
	cr_assert_not_null(strstr(r.allow, "GET"), "%s", r.allow);
	reply_free(&r);
}

Test(http_api, mutating_routes_need_the_token)
{
	struct reply r;

	r = request(port, "POST", "/v1/echo", NULL, "hi", 2, false);
	cr_assert_eq(r.status, 401, "%s", r.body);
	cr_assert_not_null(strstr(r.body, "bearer token"), "%s", r.body);
	cr_assert_not_null(strstr(r.www_auth, "Bearer"));
	reply_free(&r);

	r = request(port, "POST", "/v1/echo", "s3cret-token-valuf", "hi", 2,
		    false);
	cr_assert_eq(r.status, 401);
	reply_free(&r);

	r = request(port, "POST", "/v1/echo", "s3cret-token-value-longer", "hi",
		    2, false);
	cr_assert_eq(r.status, 401);
	reply_free(&r);

	r = request(port, "POST", "/v1/echo?who=me", TOKEN, "hi there", 8,
		    false);
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_assert_str_eq(r.body, "POST /v1/echo who=me body=hi there");
	reply_free(&r);

	/* Reads on the same path are open. */
	r = get(port, "/v1/echo?who=you");
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "GET /v1/echo who=you body=");
	reply_free(&r);
}

Test(http_api, explicitly_mutating_get_route)
{
	struct reply r;

	cr_assert_eq(http_api_route(api, "GET", "/v1/secret", static_handler,
				    "{\"ok\":true}", true), 0);
	r = get(port, "/v1/secret");
	cr_assert_eq(r.status, 401);
	reply_free(&r);
	r = request(port, "GET", "/v1/secret", TOKEN, NULL, 0, false);
	cr_assert_eq(r.status, 202);
	cr_assert_str_eq(r.body, "{\"ok\":true}");
	reply_free(&r);
}

Test(http_api, no_token_file_disables_mutations)
{
	struct http_api_config cfg = { 0 };
	struct http_api *a;
	struct reply r;

	a = start_with(&cfg);
	cr_assert_eq(http_api_route(a, "POST", "/v1/echo", echo_handler, NULL,
				    false), 0);
	r = request(http_api_port(a), "POST", "/v1/echo", TOKEN, "x", 1, false);
	cr_assert_eq(r.status, 403, "%s", r.body);
	cr_assert_not_null(strstr(r.body, "disabled"), "%s", r.body);
	reply_free(&r);
	/* Without metrics or health those routes do not exist. */
	r = get(http_api_port(a), "/metrics");
	cr_assert_eq(r.status, 404);
	reply_free(&r);
	http_api_stop(a);
}

Test(http_api, body_too_large)
{
	char big[4096];
	struct reply r;

	memset(big, 'a', sizeof(big));
	r = request(port, "POST", "/v1/echo", TOKEN, big, sizeof(big), false);
	cr_assert_eq(r.status, 413, "%s", r.body);
	cr_assert_not_null(strstr(r.body, "too large"));
	reply_free(&r);

	r = request(port, "POST", "/v1/echo", TOKEN, big, sizeof(big), true);
	cr_assert_eq(r.status, 413, "chunked: %s", r.body);
	reply_free(&r);

	/* Exactly the limit is fine. */
	r = request(port, "POST", "/v1/echo", TOKEN, big, 1024, true);
	cr_assert_eq(r.status, 200, "%s", r.body);
	reply_free(&r);

	/* The token is checked before the size: no hint to strangers. */
	r = request(port, "POST", "/v1/echo", NULL, big, sizeof(big), false);
	cr_assert_eq(r.status, 401);
	reply_free(&r);
}

Test(http_api, status_and_rules)
{
	struct reply r;

	r = get(port, "/v1/status");
	cr_assert_eq(r.status, 200);
	cr_assert_not_null(strstr(r.body, "\"version\":\"1.2.3-test\""), "%s",
			   r.body);
	cr_assert_null(strstr(r.body, "shadowed"), "%s", r.body);
	cr_assert_not_null(strstr(r.body, "\"uptime_seconds\":"), "%s", r.body);
	cr_assert_not_null(strstr(r.body, "\"features\":{\"tc\":false}"), "%s",
			   r.body);
	cr_assert_not_null(strstr(r.body, "\"policy\":\"p1\""), "%s", r.body);
	reply_free(&r);

	r = get(port, "/v1/rules");
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "{\"rules\":[{\"id\":\"shell_in_container\"}]}");
	reply_free(&r);
}

Test(http_api, bad_status_fragment_is_reported)
{
	struct http_api_config cfg = { 0 };
	struct http_api *a;
	struct reply r;

	cfg.status_fn = status_fragment;
	cfg.status_ctx = "not json {";
	a = start_with(&cfg);
	r = get(http_api_port(a), "/v1/status");
	cr_assert_eq(r.status, 200);
	cr_assert_not_null(strstr(r.body, "\"status_error\""), "%s", r.body);
	reply_free(&r);
	http_api_stop(a);
}

Test(http_api, custom_routes)
{
	struct reply r;

	cr_assert_eq(http_api_route(api, "GET", "/v1/things/*", echo_handler,
				    NULL, false), 0);
	cr_assert_eq(http_api_route(api, "GET", "/v1/things/special",
				    static_handler, "\"special\"", false), 0);
	cr_assert_eq(http_api_route(api, "GET", "/v1/things/special",
				    static_handler, "dup", false), -1);
	cr_assert_eq(http_api_route(api, "GET", "relative", static_handler,
				    NULL, false), -1);
	cr_assert_eq(http_api_route(api, "GET", "/v1/fail", failing_handler,
				    NULL, false), 0);

	r = get(port, "/v1/things/abc");
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "GET /v1/things/abc who=- body=");
	reply_free(&r);

	r = get(port, "/v1/things/special");
	cr_assert_eq(r.status, 202, "exact match beats the prefix");
	cr_assert_str_eq(r.body, "\"special\"");
	reply_free(&r);

	r = get(port, "/v1/things");
	cr_assert_eq(r.status, 404, "prefix routes match below the slash");
	reply_free(&r);

	r = get(port, "/v1/fail");
	cr_assert_eq(r.status, 500);
	cr_assert_str_eq(r.body, "{\"error\":\"internal error\"}");
	reply_free(&r);
}

Test(http_api, garbage_requests_do_not_hurt)
{
	const char *junk[] = {
		"GARBAGE\r\n\r\n",
		"GET /metrics HTTP/9.9\r\n\r\n",
		"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
		"POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Length: "
		"99999999999999999999999\r\n\r\n",
		"\x01\x02\x03\xff\r\n\r\n",
	};
	struct sockaddr_in sa = { 0 };
	char buf[512];
	struct reply r;
	size_t i;

	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct timeval tv = { 2, 0 };
		ssize_t n;

		cr_assert_geq(fd, 0);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		cr_assert_eq(write(fd, junk[i], strlen(junk[i])),
			     (ssize_t)strlen(junk[i]));
		n = read(fd, buf, sizeof(buf) - 1);
		if (n > 0) {
			buf[n] = '\0';
			cr_assert_eq(strncmp(buf, "HTTP/1.", 7), 0, "%s", buf);
			cr_assert_null(strstr(buf, " 200 "), "junk %zu got %s",
				       i, buf);
		}
		close(fd);
	}
	r = get(port, "/v1/status");
	cr_assert_eq(r.status, 200, "server still serves after junk");
	reply_free(&r);
}

static int connect_local(uint16_t to)
{
	struct sockaddr_in sa = { 0 };
	struct timeval tv = { 5, 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_geq(fd, 0);
	sa.sin_family = AF_INET;
	sa.sin_port = htons(to);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

Test(http_api_parse, idle_connections_time_out)
{
	struct http_api_config cfg = { 0 };
	const char *partial = "GET /v1/status HTTP/1.1\r\nHost: x\r\n";
	struct http_api *a;
	char buf[256];
	double t0;
	ssize_t n;
	int fd;

	cfg.timeout_s = 1;
	a = start_with(&cfg);
	fd = connect_local(http_api_port(a));
	cr_assert_eq(write(fd, partial, strlen(partial)),
		     (ssize_t)strlen(partial));
	t0 = now_s();
	n = read(fd, buf, sizeof(buf));
	cr_assert_leq(n, 0, "a half-sent request got an answer");
	cr_assert_lt(now_s() - t0, 4.0, "server kept a stalled client");
	close(fd);
	http_api_stop(a);
}

Test(http_api_parse, connection_limit)
{
	struct http_api_config cfg = { 0 };
	const char *req = "GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n";
	struct http_api *a;
	int idle[2], extra, i;
	char buf[512];
	ssize_t n;
	struct reply r;

	cfg.max_connections = 2;
	cfg.timeout_s = 30;
	a = start_with(&cfg);
	for (i = 0; i < 2; i++)
		idle[i] = connect_local(http_api_port(a));
	sleep_ms(200); /* let the server accept both */
	extra = connect_local(http_api_port(a));
	/* MHD stops accepting at the limit: the client waits in the backlog
	 * and gets nothing; a second is enough to tell. */
	setsockopt(extra, SOL_SOCKET, SO_RCVTIMEO,
		   &(struct timeval){ 1, 0 }, sizeof(struct timeval));
	if (write(extra, req, strlen(req)) == (ssize_t)strlen(req)) {
		n = read(extra, buf, sizeof(buf) - 1);
		cr_assert_leq(n, 0, "third connection was served past the limit");
	}
	close(extra);
	for (i = 0; i < 2; i++)
		close(idle[i]);
	sleep_ms(200);
	r = get(http_api_port(a), "/v1/status");
	cr_assert_eq(r.status, 200, "served again once connections closed");
	reply_free(&r);
	http_api_stop(a);
}

Test(http_api_parse, stop_releases_everything)
{
	struct http_api_config cfg = { 0 };
	struct metrics *m = metrics_new(0);
	struct health *h = health_new(0);
	struct http_api *a;
	struct reply r;
	int before, i;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	cfg.metrics = m;
	cfg.health = h;
	/* Warm up libcurl's and the allocator's own descriptors first. */
	a = start_with(&cfg);
	r = get(http_api_port(a), "/metrics");
	reply_free(&r);
	http_api_stop(a);

	before = count_fds();
	for (i = 0; i < 3; i++) {
		a = start_with(&cfg);
		r = get(http_api_port(a), "/healthz");
		cr_assert_eq(r.status, 200);
		reply_free(&r);
		http_api_stop(a);
	}
	cr_assert_eq(count_fds(), before, "descriptors leaked by stop");
	http_api_stop(NULL);
	health_free(h);
	metrics_free(m);
	curl_global_cleanup();
}
