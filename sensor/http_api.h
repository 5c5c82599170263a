/* http_api.h - the sensor's HTTP endpoint: probes, metrics and a small API.
 *
 * Built-in routes (each present only when its source is configured):
 *   GET /healthz    liveness from struct health (200 or 503, JSON)
 *   GET /readyz     readiness from struct health (200 or 503, JSON)
 *   GET /metrics    Prometheus text format 0.0.4 from struct metrics
 *   GET /v1/status  version, uptime and the caller's status fragment
 *   GET /v1/rules   the caller's rules JSON
 * Other features add routes with http_api_route().
 *
 * Mutating routes need "Authorization: Bearer <token>", the token being the
 * content of cfg->token_file (read once at start). Without a token file
 * they answer 403; a missing or wrong token gets 401. Errors are JSON:
 * {"error": "..."}. Connections, idle time and request bodies are bounded.
 *
 * One internal thread serves every connection, so handlers must be quick
 * and must not block. */
#ifndef VIGIL_HTTP_API_H
#define VIGIL_HTTP_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct metrics;
struct health;
struct http_api;

#define HTTP_API_DEFAULT_LISTEN "0.0.0.0:9810"
#define HTTP_API_DEFAULT_MAX_CONNECTIONS 64
#define HTTP_API_DEFAULT_TIMEOUT_S 10
#define HTTP_API_DEFAULT_MAX_BODY (64 * 1024)
#define HTTP_API_MAX_ROUTES 64
#define HTTP_API_MAX_TOKEN 4096

struct http_api_config {
	const char *listen;       /* "ip:port", "[ipv6]:port" or ":port" (all
				   * addresses); NULL = HTTP_API_DEFAULT_LISTEN;
				   * port 0 = any free port */
	const char *token_file;   /* NULL = mutating routes disabled */
	unsigned max_connections; /* 0 = default */
	unsigned timeout_s;       /* idle connection timeout; 0 = default */
	size_t max_body;          /* request body limit in bytes; 0 = default */
	const char *version;      /* shown in /v1/status */
	struct metrics *metrics;  /* serves /metrics, counts requests */
	struct health *health;    /* serves /healthz and /readyz */
	/* Returns a malloc'd JSON object whose members are added to
	 * /v1/status (features, policy, ...), or NULL. */
	char *(*status_fn)(void *ctx);
	void *status_ctx;
	/* Returns the malloc'd JSON document served at /v1/rules. */
	char *(*rules_fn)(void *ctx);
	void *rules_ctx;
};

/* What a handler sees. body is NUL-terminated (NULL when empty). */
struct http_request {
	const char *method;
	const char *path;
	const char *body;
	size_t body_len;
	void *conn; /* private to http_api.c */
};

/* What a handler fills in. status starts at 200 and content_type at
 * "application/json". Set body to a malloc'd buffer (the server frees it)
 * or static_body to a string that outlives the server. body_len 0 means
 * strlen. */
struct http_response {
	int status;
	const char *content_type;
	char *body;
	const char *static_body;
	size_t body_len;
};

/* Returns 0, or -1 for an internal error (answered 500; body is freed). */
typedef int (*http_handler_fn)(const struct http_request *req,
			       struct http_response *resp, void *ctx);

/* Starts serving in a background thread. Returns NULL with a message in err
 * when the address is junk, the port is taken or the token file is
 * unusable. */
struct http_api *http_api_start(const struct http_api_config *cfg, char *err,
				size_t errlen);
/* The port actually bound (useful with port 0). */
uint16_t http_api_port(const struct http_api *api);
/* Adds a route; may be called while serving. path is exact, or ends in a
 * slash and a star ("/v1/x/" "*") to match every path below it; exact
 * beats prefix, longer prefix beats shorter. mutating routes, and every
 * POST, PUT, PATCH or DELETE route, need the token.
 * Returns 0, or -1 when the table is full, the route exists or an argument
 * is invalid. */
int http_api_route(struct http_api *api, const char *method, const char *path,
		   http_handler_fn fn, void *ctx, bool mutating);
/* Stops the server, waits for its thread and frees everything. */
void http_api_stop(struct http_api *api);

/* Query-string argument or request header of the current request, or NULL. */
const char *http_request_arg(const struct http_request *req, const char *key);
const char *http_request_header(const struct http_request *req,
				const char *name);

/* Helpers, public for tests. */
int http_api_parse_listen(const char *listen, struct sockaddr_storage *addr,
			  socklen_t *addr_len, char *err, size_t errlen);
/* Compares in time that depends only on the expected token's length. */
bool http_api_token_equal(const char *expected, size_t expected_len,
			  const char *given, size_t given_len);

#endif
