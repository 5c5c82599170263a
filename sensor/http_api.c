/* http_api.c - HTTP server on libmicrohttpd; see http_api.h.
 *
 * Every request is decided in two steps. When its headers arrive we pick
 * the route, check the token and the announced body size; any refusal is
 * queued at once, so MHD answers without reading the body and closes the
 * connection: unauthenticated clients never make us buffer anything. Then
 * the body (bounded by max_body) is collected and the handler runs. */
#include "http_api.h"
#include "health.h"
#include "log.h"
#include "metrics.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_LISTEN_LEN 128
#define MAX_PATH_LEN 256
#define MAX_METHOD_LEN 16

struct route {
	char method[MAX_METHOD_LEN];
	char path[MAX_PATH_LEN];
	bool prefix; /* path ended in a slash and a star, dropped here */
	bool mutating;
	http_handler_fn fn;
	void *ctx;
};

struct http_api {
	struct MHD_Daemon *daemon;
	uint16_t port;
	char listen[MAX_LISTEN_LEN];

	pthread_mutex_t routes_lock;
	struct route routes[HTTP_API_MAX_ROUTES];
	size_t nroutes;

	char *token; /* NULL: mutating routes disabled */
	size_t token_len;
	size_t max_body;

	char *version;
	struct metrics *metrics;
	struct health *health;
	char *(*status_fn)(void *ctx);
	void *status_ctx;
	char *(*rules_fn)(void *ctx);
	void *rules_ctx;

	struct timespec started_mono;
	time_t started_wall;
};

/* Per-request state between MHD's calls of the access handler. */
struct request_state {
	struct route route; /* a copy: the table may grow meanwhile */
	char *body;
	size_t body_len;
	bool too_large;
};

/* ---- helpers ---------------------------------------------------------- */

static char *json_error(const char *message, const char *key,
			const char *value)
{
	cJSON *obj = cJSON_CreateObject();
	char *text;

	if (!obj)
		return NULL;
	cJSON_AddStringToObject(obj, "error", message);
	if (key && value)
		cJSON_AddStringToObject(obj, key, value);
	text = cJSON_PrintUnformatted(obj);
	cJSON_Delete(obj);
	return text;
}

static bool method_is_mutating(const char *method)
{
	return strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
	       strcmp(method, "PATCH") == 0 || strcmp(method, "DELETE") == 0;
}

bool http_api_token_equal(const char *expected, size_t expected_len,
			  const char *given, size_t given_len)
{
	/* volatile keeps the compiler from turning the loop into an early
	 * exit; the running time depends on expected_len only. */
	volatile unsigned char diff = expected_len != given_len;
	size_t i;

	if (!expected || expected_len == 0)
		return false;
	if (!given)
		given_len = 0;
	for (i = 0; i < expected_len; i++) {
		unsigned char g = i < given_len ? (unsigned char)given[i] : 0;

		diff |= (unsigned char)expected[i] ^ g;
	}
	return diff == 0;
}

int http_api_parse_listen(const char *listen, struct sockaddr_storage *addr,
			  socklen_t *addr_len, char *err, size_t errlen)
{
	char host[MAX_LISTEN_LEN];
	const char *port_str, *p;
	unsigned long port = 0;
	size_t host_len;
	bool v6 = false;

	memset(addr, 0, sizeof(*addr));
	if (!listen || !listen[0]) {
		snprintf(err, errlen, "listen address is empty");
		return -1;
	}
	if (strlen(listen) >= MAX_LISTEN_LEN) {
		snprintf(err, errlen, "listen address is too long");
		return -1;
	}
	if (listen[0] == '[') {
		const char *close = strchr(listen, ']');

		if (!close || close[1] != ':') {
			snprintf(err, errlen, "listen address '%s': want "
				 "[ipv6]:port", listen);
			return -1;
		}
		host_len = (size_t)(close - listen - 1);
		memcpy(host, listen + 1, host_len);
		port_str = close + 2;
		v6 = true;
	} else {
		const char *colon = strrchr(listen, ':');

		if (!colon) {
			snprintf(err, errlen, "listen address '%s' has no "
				 ":port", listen);
			return -1;
		}
		host_len = (size_t)(colon - listen);
		memcpy(host, listen, host_len);
		port_str = colon + 1;
	}
	host[host_len] = '\0';
	if (!v6 && strchr(host, ':')) {
		snprintf(err, errlen, "listen address '%s': put IPv6 "
			 "addresses in brackets, [::1]:9810", listen);
		return -1;
	}
	if (!port_str[0] || strlen(port_str) > 5) {
		snprintf(err, errlen, "listen address '%s': port must be a "
			 "number from 0 to 65535", listen);
		return -1;
	}
	for (p = port_str; *p; p++) {
		if (*p < '0' || *p > '9') {
			snprintf(err, errlen, "listen address '%s': port must "
				 "be a number from 0 to 65535", listen);
			return -1;
		}
		port = port * 10 + (unsigned long)(*p - '0');
	}
	if (port > 65535) {
		snprintf(err, errlen, "listen address '%s': port must be a "
			 "number from 0 to 65535", listen);
		return -1;
	}
	if (v6) {
		struct sockaddr_in6 *sa = (struct sockaddr_in6 *)addr;

		sa->sin6_family = AF_INET6;
		sa->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &sa->sin6_addr) != 1) {
			snprintf(err, errlen, "listen address '%s': '%s' is "
				 "not an IPv6 address", listen, host);
			return -1;
		}
		*addr_len = sizeof(*sa);
	} else {
		struct sockaddr_in *sa = (struct sockaddr_in *)addr;

		sa->sin_family = AF_INET;
		sa->sin_port = htons((uint16_t)port);
		if (host[0] == '\0') {
			sa->sin_addr.s_addr = htonl(INADDR_ANY);
		} else if (inet_pton(AF_INET, host, &sa->sin_addr) != 1) {
			snprintf(err, errlen, "listen address '%s': '%s' is "
				 "not an IPv4 address (host names are not "
				 "accepted)", listen, host);
			return -1;
		}
		*addr_len = sizeof(*sa);
	}
	return 0;
}

static int read_token_file(struct http_api *api, const char *path, char *err,
			   size_t errlen)
{
	struct stat st;
	char *buf;
	ssize_t n;
	size_t len, i;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "token file %s: %s", path,
			 strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > HTTP_API_MAX_TOKEN) {
		snprintf(err, errlen, "token file %s: must be a regular file of "
			 "at most %d bytes", path, HTTP_API_MAX_TOKEN);
		close(fd);
		return -1;
	}
	buf = calloc(1, HTTP_API_MAX_TOKEN + 1);
	if (!buf) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	n = read(fd, buf, HTTP_API_MAX_TOKEN);
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "token file %s: %s", path,
			 strerror(errno));
		free(buf);
		return -1;
	}
	len = (size_t)n;
	/* Secrets mounted from files usually end in a newline. */
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' ||
			   buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		len--;
	buf[len] = '\0';
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c <= ' ' || c == 0x7f) {
			snprintf(err, errlen, "token file %s: token contains "
				 "whitespace or control characters", path);
			explicit_bzero(buf, HTTP_API_MAX_TOKEN);
			free(buf);
			return -1;
		}
	}
	if (len == 0) {
		snprintf(err, errlen, "token file %s is empty", path);
		free(buf);
		return -1;
	}
	api->token = buf;
	api->token_len = len;
	return 0;
}

/* ---- routes ----------------------------------------------------------- */

int http_api_route(struct http_api *api, const char *method, const char *path,
		   http_handler_fn fn, void *ctx, bool mutating)
{
	struct route r = { 0 };
	size_t len, i;
	int ret = 0;

	if (!api || !method || !path || !fn || path[0] != '/' ||
	    !method[0] || strlen(method) >= MAX_METHOD_LEN) {
		log_error("http: invalid route %s %s", method ? method : "?",
			  path ? path : "?");
		return -1;
	}
	len = strlen(path);
	if (len >= MAX_PATH_LEN) {
		log_error("http: route path too long: %.64s...", path);
		return -1;
	}
	snprintf(r.method, sizeof(r.method), "%s", method);
	memcpy(r.path, path, len + 1);
	if (len >= 2 && strcmp(path + len - 2, "/*") == 0) {
		r.prefix = true;
		r.path[len - 1] = '\0';
	}
	r.mutating = mutating || method_is_mutating(method);
	r.fn = fn;
	r.ctx = ctx;

	pthread_mutex_lock(&api->routes_lock);
	for (i = 0; i < api->nroutes; i++) {
		const struct route *o = &api->routes[i];

		if (o->prefix == r.prefix && strcmp(o->path, r.path) == 0 &&
		    strcmp(o->method, r.method) == 0)
			break;
	}
	if (i < api->nroutes) {
		log_error("http: route %s %s already exists", method, path);
		ret = -1;
	} else if (api->nroutes == HTTP_API_MAX_ROUTES) {
		log_error("http: more than %d routes, %s %s not added",
			  HTTP_API_MAX_ROUTES, method, path);
		ret = -1;
	} else {
		api->routes[api->nroutes++] = r;
	}
	pthread_mutex_unlock(&api->routes_lock);
	return ret;
}

/* How well a route's path matches: 0 no match, longer prefixes score
 * higher, an exact match beats every prefix. */
static size_t path_score(const struct route *r, const char *path)
{
	size_t len = strlen(r->path);

	if (!r->prefix)
		return strcmp(r->path, path) == 0 ? MAX_PATH_LEN + 1 : 0;
	return strncmp(r->path, path, len) == 0 ? len : 0;
}

enum route_result { ROUTE_FOUND, ROUTE_NO_PATH, ROUTE_NO_METHOD };

/* Finds the best route for method and path and copies it to *out. On
 * ROUTE_NO_METHOD, allow receives the methods the path does accept. */
static enum route_result find_route(struct http_api *api, const char *method,
				    const char *path, struct route *out,
				    char *allow, size_t allow_len)
{
	size_t i, best = 0;
	bool any_path = false;
	/* HEAD is GET without a body; MHD drops the body for us. */
	const char *want = strcmp(method, "HEAD") == 0 ? "GET" : method;

	allow[0] = '\0';
	pthread_mutex_lock(&api->routes_lock);
	for (i = 0; i < api->nroutes; i++) {
		const struct route *r = &api->routes[i];
		size_t score = path_score(r, path);

		if (score == 0)
			continue;
		any_path = true;
		if (strcmp(r->method, want) == 0) {
			if (score > best) {
				best = score;
				*out = *r;
			}
		} else if (!strstr(allow, r->method) &&
			   strlen(allow) + strlen(r->method) + 3 < allow_len) {
			if (allow[0])
				strcat(allow, ", ");
			strcat(allow, r->method);
		}
	}
	pthread_mutex_unlock(&api->routes_lock);
	if (best)
		return ROUTE_FOUND;
	return any_path ? ROUTE_NO_METHOD : ROUTE_NO_PATH;
}

/* ---- responses -------------------------------------------------------- */

static void count_request(struct http_api *api, int status)
{
	char labels[32];

	if (!api->metrics)
		return;
	/* Labelled by status code only: paths come from clients and would
	 * let anyone create series. */
	snprintf(labels, sizeof(labels), "code=\"%d\"", status);
	metric_counter_inc(metrics_counter(api->metrics,
					   "vigil_http_requests_total",
					   "HTTP requests served, by status code",
					   labels));
}

static enum MHD_Result send_response(struct http_api *api,
				     struct MHD_Connection *conn,
				     struct http_response *r,
				     const char *allow)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	size_t len;

	if (r->body) {
		len = r->body_len ? r->body_len : strlen(r->body);
		resp = MHD_create_response_from_buffer(len, r->body,
						       MHD_RESPMEM_MUST_FREE);
		if (!resp)
			free(r->body);
	} else {
		const char *s = r->static_body ? r->static_body : "";

		len = r->body_len ? r->body_len : strlen(s);
		resp = MHD_create_response_from_buffer(len, (void *)s,
						       MHD_RESPMEM_PERSISTENT);
	}
	r->body = NULL;
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				r->content_type ? r->content_type
						: "application/json");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
				"no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (allow && allow[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	if (r->status == 401)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					"Bearer realm=\"vigil\"");
	ret = MHD_queue_response(conn, (unsigned)r->status, resp);
	MHD_destroy_response(resp);
	count_request(api, r->status);
	return ret;
}

static enum MHD_Result send_error(struct http_api *api,
				  struct MHD_Connection *conn, int status,
				  const char *message, const char *key,
				  const char *value, const char *allow)
{
	struct http_response r = { .status = status };

	r.body = json_error(message, key, value);
	if (!r.body)
		r.static_body = "{\"error\":\"out of memory\"}";
	return send_response(api, conn, &r, allow);
}

/* Checks "Authorization: Bearer <token>"; returns 0 when allowed, else the
 * HTTP status to refuse with. */
static int check_token(struct http_api *api, struct MHD_Connection *conn)
{
	const char *h, *tok;
	size_t len;

	if (!api->token)
		return 403;
	h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
					MHD_HTTP_HEADER_AUTHORIZATION);
	if (!h)
		return 401;
	while (*h == ' ')
		h++;
	if (strncasecmp(h, "Bearer ", 7) != 0)
		return 401;
	tok = h + 7;
	while (*tok == ' ')
		tok++;
	len = strlen(tok);
	while (len > 0 && (tok[len - 1] == ' ' || tok[len - 1] == '\t'))
		len--;
	return http_api_token_equal(api->token, api->token_len, tok, len) ? 0
									   : 401;
}

/* Returns false (and queues a refusal) when the request must not go on. */
static bool admit_request(struct http_api *api, struct MHD_Connection *conn,
			  const char *method, const char *path,
			  struct request_state *st, enum MHD_Result *ret)
{
	char allow[128];
	const char *cl;
	int refusal;

	switch (find_route(api, method, path, &st->route, allow,
			   sizeof(allow))) {
	case ROUTE_NO_PATH:
		*ret = send_error(api, conn, 404, "not found", "path", path,
				  NULL);
		return false;
	case ROUTE_NO_METHOD:
		*ret = send_error(api, conn, 405, "method not allowed",
				  "method", method, allow);
		return false;
	case ROUTE_FOUND:
		break;
	}
	if (st->route.mutating || method_is_mutating(method)) {
		refusal = check_token(api, conn);
		if (refusal == 403) {
			*ret = send_error(api, conn, 403,
					  "mutating requests are disabled: no "
					  "token file configured", NULL, NULL,
					  NULL);
			return false;
		}
		if (refusal) {
			*ret = send_error(api, conn, 401,
					  "missing or invalid bearer token",
					  NULL, NULL, NULL);
			return false;
		}
	}
	cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
					 MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl) {
		char *end;
		unsigned long long n;

		errno = 0;
		n = strtoull(cl, &end, 10);
		if (errno || end == cl || n > api->max_body) {
			*ret = send_error(api, conn, 413,
					  "request body too large", NULL, NULL,
					  NULL);
			return false;
		}
	}
	return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct http_api *api = cls;
	struct request_state *st = *con_cls;
	struct http_response resp = { .status = 200 };
	struct http_request req = { 0 };
	enum MHD_Result ret = MHD_NO;

	(void)version;
	if (!st) {
		st = calloc(1, sizeof(*st));
		if (!st)
			return MHD_NO; /* MHD closes the connection */
		*con_cls = st;
		if (!admit_request(api, conn, method, url, st, &ret))
			return ret;
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;

		if (!st->too_large && st->body_len + n <= api->max_body) {
			char *nb = realloc(st->body, st->body_len + n + 1);

			if (!nb)
				return MHD_NO;
			st->body = nb;
			memcpy(st->body + st->body_len, upload_data, n);
			st->body_len += n;
			st->body[st->body_len] = '\0';
		} else {
			/* Chunked bodies have no Content-Length to refuse
			 * up front: drop what exceeds and refuse at the end. */
			st->too_large = true;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (st->too_large)
		return send_error(api, conn, 413, "request body too large",
				  NULL, NULL, NULL);

	req.method = method;
	req.path = url;
	req.body = st->body;
	req.body_len = st->body_len;
	req.conn = conn;
	if (st->route.fn(&req, &resp, st->route.ctx) != 0 ||
	    resp.status < 100 || resp.status > 599) {
		free(resp.body);
		log_warn("http: handler for %s %s failed", method, url);
		return send_error(api, conn, 500, "internal error", NULL, NULL,
				  NULL);
	}
	return send_response(api, conn, &resp, NULL);
}

static void on_completed(void *cls, struct MHD_Connection *conn,
			 void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct request_state *st = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (st) {
		free(st->body);
		free(st);
		*con_cls = NULL;
	}
}

/* Most of MHD's messages are about bad clients; anyone who can connect
 * could flood the sensor's log with them. Allow a burst per minute. */
#define MHD_LOG_BURST 20

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static time_t window;
	static unsigned logged, dropped;
	unsigned was_dropped = 0;
	time_t now = time(NULL);
	char msg[512];
	size_t n;

	(void)cls;
	pthread_mutex_lock(&lock);
	if (now - window >= 60) {
		was_dropped = dropped;
		window = now;
		logged = dropped = 0;
	}
	if (logged >= MHD_LOG_BURST) {
		dropped++;
		pthread_mutex_unlock(&lock);
		return;
	}
	logged++;
	pthread_mutex_unlock(&lock);
	if (was_dropped)
		log_warn("http: %u server messages suppressed in the last "
			 "minute", was_dropped);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_warn("http: %s", msg);
}

const char *http_request_arg(const struct http_request *req, const char *key)
{
	if (!req || !req->conn || !key)
		return NULL;
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND,
					   key);
}

const char *http_request_header(const struct http_request *req,
				const char *name)
{
	if (!req || !req->conn || !name)
		return NULL;
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

/* ---- built-in handlers ------------------------------------------------ */

static int handle_healthz(const struct http_request *req,
			  struct http_response *resp, void *ctx)
{
	struct http_api *api = ctx;
	int status;

	(void)req;
	status = health_report_live(api->health, &resp->body, &resp->body_len);
	if (status < 0)
		return -1;
	resp->status = status;
	return 0;
}

static int handle_readyz(const struct http_request *req,
			 struct http_response *resp, void *ctx)
{
	struct http_api *api = ctx;
	int status;

	(void)req;
	status = health_report_ready(api->health, &resp->body,
				     &resp->body_len);
	if (status < 0)
		return -1;
	resp->status = status;
	return 0;
}

static int handle_metrics(const struct http_request *req,
			  struct http_response *resp, void *ctx)
{
	struct http_api *api = ctx;

	(void)req;
	if (metrics_render(api->metrics, &resp->body, &resp->body_len) != 0)
		return -1;
	resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
	return 0;
}

static int handle_status(const struct http_request *req,
			 struct http_response *resp, void *ctx)
{
	struct http_api *api = ctx;
	struct timespec now;
	char started[32];
	struct tm tm;
	cJSON *obj;
	double uptime;

	(void)req;
	obj = cJSON_CreateObject();
	if (!obj)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	uptime = (double)(now.tv_sec - api->started_mono.tv_sec) +
		 (double)(now.tv_nsec - api->started_mono.tv_nsec) / 1e9;
	gmtime_r(&api->started_wall, &tm);
	strftime(started, sizeof(started), "%Y-%m-%dT%H:%M:%SZ", &tm);
	cJSON_AddStringToObject(obj, "version",
				api->version ? api->version : "unknown");
	cJSON_AddNumberToObject(obj, "uptime_seconds",
				(double)(long long)(uptime * 1000) / 1000);
	cJSON_AddStringToObject(obj, "started_at", started);
	cJSON_AddNumberToObject(obj, "pid", (double)getpid());
	if (api->health) {
		cJSON_AddBoolToObject(obj, "live", health_live(api->health));
		cJSON_AddBoolToObject(obj, "ready", health_ready(api->health));
	}
	if (api->status_fn) {
		char *text = api->status_fn(api->status_ctx);
		cJSON *frag = text ? cJSON_Parse(text) : NULL;

		free(text);
		if (frag && cJSON_IsObject(frag)) {
			cJSON *item = frag->child;

			/* Move each member over unless it would shadow a field
			 * the server owns. */
			while (item) {
				cJSON *next = item->next;

				if (item->string &&
				    !cJSON_HasObjectItem(obj, item->string)) {
					cJSON_DetachItemViaPointer(frag, item);
					cJSON_AddItemToObject(obj, item->string,
							      item);
				}
				item = next;
			}
		} else {
			cJSON_AddStringToObject(obj, "status_error",
						"status callback returned no "
						"JSON object");
		}
		cJSON_Delete(frag);
	}
	resp->body = cJSON_PrintUnformatted(obj);
	cJSON_Delete(obj);
	return resp->body ? 0 : -1;
}

static int handle_rules(const struct http_request *req,
			struct http_response *resp, void *ctx)
{
	struct http_api *api = ctx;
	char *text = api->rules_fn(api->rules_ctx);
	cJSON *doc;

	(void)req;
	if (!text) {
		resp->status = 503;
		resp->body = json_error("rules are not available", NULL, NULL);
		return resp->body ? 0 : -1;
	}
	doc = cJSON_Parse(text);
	if (!doc) {
		free(text);
		log_warn("http: rules callback returned invalid JSON");
		return -1;
	}
	cJSON_Delete(doc);
	resp->body = text;
	return 0;
}

/* ---- lifecycle -------------------------------------------------------- */

static int open_listener(const struct sockaddr_storage *addr, socklen_t len,
			 const char *listen_str, uint16_t *port, char *err,
			 size_t errlen)
{
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	int fd, one = 1;

	fd = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	/* Restarts must not wait for old connections in TIME_WAIT. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)addr, len) != 0 ||
	    listen(fd, 64) != 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", listen_str,
			 strerror(errno));
		close(fd);
		return -1;
	}
	if (getsockname(fd, (struct sockaddr *)&bound, &blen) != 0) {
		snprintf(err, errlen, "getsockname: %s", strerror(errno));
		close(fd);
		return -1;
	}
	if (bound.ss_family == AF_INET6)
		*port = ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
	else
		*port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
	return fd;
}

static void free_api(struct http_api *api)
{
	if (api->token) {
		explicit_bzero(api->token, api->token_len);
		free(api->token);
	}
	free(api->version);
	pthread_mutex_destroy(&api->routes_lock);
	free(api);
}

struct http_api *http_api_start(const struct http_api_config *cfg, char *err,
				size_t errlen)
{
	struct sockaddr_storage addr;
	struct http_api *api;
	socklen_t addr_len;
	unsigned flags;
	int fd;

	if (!cfg) {
		snprintf(err, errlen, "no configuration");
		return NULL;
	}
	api = calloc(1, sizeof(*api));
	if (!api) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (pthread_mutex_init(&api->routes_lock, NULL) != 0) {
		free(api);
		snprintf(err, errlen, "pthread_mutex_init failed");
		return NULL;
	}
	snprintf(api->listen, sizeof(api->listen), "%s",
		 cfg->listen ? cfg->listen : HTTP_API_DEFAULT_LISTEN);
	if (http_api_parse_listen(api->listen, &addr, &addr_len, err,
				  errlen) != 0)
		goto fail;
	if (cfg->token_file &&
	    read_token_file(api, cfg->token_file, err, errlen) != 0)
		goto fail;
	api->max_body = cfg->max_body ? cfg->max_body
				      : HTTP_API_DEFAULT_MAX_BODY;
	api->version = strdup(cfg->version ? cfg->version : "unknown");
	if (!api->version) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	api->metrics = cfg->metrics;
	api->health = cfg->health;
	api->status_fn = cfg->status_fn;
	api->status_ctx = cfg->status_ctx;
	api->rules_fn = cfg->rules_fn;
	api->rules_ctx = cfg->rules_ctx;
	clock_gettime(CLOCK_MONOTONIC, &api->started_mono);
	api->started_wall = time(NULL);

	if (api->health) {
		http_api_route(api, "GET", "/healthz", handle_healthz, api,
			       false);
		http_api_route(api, "GET", "/readyz", handle_readyz, api,
			       false);
	}
	if (api->metrics)
		http_api_route(api, "GET", "/metrics", handle_metrics, api,
			       false);
	http_api_route(api, "GET", "/v1/status", handle_status, api, false);
	if (api->rules_fn)
		http_api_route(api, "GET", "/v1/rules", handle_rules, api,
			       false);

	fd = open_listener(&addr, addr_len, api->listen, &api->port, err,
			   errlen);
	if (fd < 0)
		goto fail;
	flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	if (addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	api->daemon = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, api,
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
		MHD_OPTION_LISTEN_SOCKET, fd,
		MHD_OPTION_CONNECTION_LIMIT,
		cfg->max_connections ? cfg->max_connections
				     : HTTP_API_DEFAULT_MAX_CONNECTIONS,
		MHD_OPTION_CONNECTION_TIMEOUT,
		cfg->timeout_s ? cfg->timeout_s : HTTP_API_DEFAULT_TIMEOUT_S,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024),
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, api,
		MHD_OPTION_END);
	if (!api->daemon) {
		close(fd);
		snprintf(err, errlen, "cannot start HTTP server on %s",
			 api->listen);
		goto fail;
	}
	log_info("http: listening on %s (port %u)%s", api->listen,
		 (unsigned)api->port,
		 api->token ? "" : ", mutating routes disabled (no token file)");
	return api;
fail:
	free_api(api);
	return NULL;
}

uint16_t http_api_port(const struct http_api *api)
{
	return api ? api->port : 0;
}

void http_api_stop(struct http_api *api)
{
	if (!api)
		return;
	/* Joins the server thread and closes the listening socket. */
	if (api->daemon)
		MHD_stop_daemon(api->daemon);
	free_api(api);
}
