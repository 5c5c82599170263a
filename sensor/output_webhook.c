/* output_webhook.c - POSTs each line (by default only alerts) to an HTTP
 * endpoint, one JSON object per request, like Falco's http_output, so
 * receivers built for Falco (Falcosidekick and the like) accept it. The
 * pipeline produces the Falco-shaped JSON; this file only carries it.
 *
 * Failed requests are retried with exponential backoff and jitter, a bounded
 * number of times; every request has a timeout, and a request still running
 * when the close deadline passes is aborted, so a dead receiver never holds
 * up shutdown. While we retry, the queue in front keeps taking lines up to
 * its bound and drops (counted) beyond it. */
#include "output.h"
#include "log.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WEBHOOK_MAX_ATTEMPTS 100
#define WEBHOOK_ERROR_LOG_INTERVAL_MS 10000

struct webhook_state {
	CURL *curl;
	struct curl_slist *headers;
	unsigned timeout_ms;
	unsigned max_attempts;
	unsigned backoff_base_ms;
	unsigned backoff_cap_ms;
	uint64_t jitter_seed;
	int64_t last_error_log_ms;
	struct output_sink *sink; /* for the progress callback, set per request */
	char curl_error[CURL_ERROR_SIZE];
	char last_reason[CURL_ERROR_SIZE + 64];
};

/* Header values end up on the wire verbatim: a CR or LF would let a config
 * value inject extra headers or requests. */
static bool has_line_break(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
}

static int check_config(const struct output_webhook_config *cfg, char *err, size_t err_len)
{
	if (!cfg->url || !cfg->url[0]) {
		snprintf(err, err_len, "output webhook: no url configured");
		return -1;
	}
	if (strncmp(cfg->url, "http://", 7) != 0 && strncmp(cfg->url, "https://", 8) != 0) {
		snprintf(err, err_len, "output webhook: url must start with http:// or https://: %s",
			 cfg->url);
		return -1;
	}
	if (strpbrk(cfg->url, " \t\r\n")) {
		snprintf(err, err_len, "output webhook: url contains whitespace");
		return -1;
	}
	for (size_t i = 0; i < cfg->header_count; i++) {
		const char *h = cfg->headers ? cfg->headers[i] : NULL;
		const char *colon = h ? strchr(h, ':') : NULL;

		if (!h || !colon || colon == h || has_line_break(h)) {
			snprintf(err, err_len,
				 "output webhook: header %zu must be \"Name: value\" on one line", i);
			return -1;
		}
	}
	if (cfg->timeout_ms == 0) {
		snprintf(err, err_len, "output webhook: timeout_ms must be greater than 0");
		return -1;
	}
	if (cfg->max_attempts == 0 || cfg->max_attempts > WEBHOOK_MAX_ATTEMPTS) {
		snprintf(err, err_len, "output webhook: max_attempts must be 1..%d, got %u",
			 WEBHOOK_MAX_ATTEMPTS, cfg->max_attempts);
		return -1;
	}
	if (cfg->backoff_base_ms > cfg->backoff_cap_ms) {
		snprintf(err, err_len, "output webhook: backoff_base_ms (%u) above backoff_cap_ms (%u)",
			 cfg->backoff_base_ms, cfg->backoff_cap_ms);
		return -1;
	}
	return 0;
}

static size_t discard_body(char *data, size_t size, size_t nmemb, void *user)
{
	(void)data;
	(void)user;
	return size * nmemb;
}

/* Called by libcurl during a request (at least about once a second): a
 * non-zero return aborts it, which is how close stops a hung request. */
static int check_deadline(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
			  curl_off_t ulnow)
{
	struct webhook_state *st = user;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return output_now_ms() >= output_sink_deadline_ms(st->sink);
}

static void webhook_destroy(void *state)
{
	struct webhook_state *st = state;

	if (st->curl)
		curl_easy_cleanup(st->curl);
	curl_slist_free_all(st->headers);
	free(st);
	curl_global_cleanup();
}

static bool add_header(struct webhook_state *st, const char *h)
{
	struct curl_slist *next = curl_slist_append(st->headers, h);

	if (!next)
		return false;
	st->headers = next;
	return true;
}

void *output_webhook_create(const struct output_webhook_config *cfg, char *err, size_t err_len)
{
	struct webhook_state *st;
	CURLcode rc;

	if (check_config(cfg, err, err_len) < 0)
		return NULL;
	/* Reference counted by libcurl, and thread safe in the versions we
	 * build against; undone in webhook_destroy. */
	rc = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (rc != CURLE_OK) {
		snprintf(err, err_len, "output webhook: libcurl init failed: %s",
			 curl_easy_strerror(rc));
		return NULL;
	}
	st = calloc(1, sizeof(*st));
	if (!st) {
		curl_global_cleanup();
		snprintf(err, err_len, "output webhook: out of memory");
		return NULL;
	}
	st->timeout_ms = cfg->timeout_ms;
	st->max_attempts = cfg->max_attempts;
	st->backoff_base_ms = cfg->backoff_base_ms;
	st->backoff_cap_ms = cfg->backoff_cap_ms;
	st->jitter_seed = (uint64_t)output_now_ms() ^ (uint64_t)(uintptr_t)st;
	if (st->jitter_seed == 0)
		st->jitter_seed = 1;
	st->last_error_log_ms = output_now_ms() - WEBHOOK_ERROR_LOG_INTERVAL_MS;

	st->curl = curl_easy_init();
	/* "Expect:" turns off the 100-continue round trip curl would do for
	 * bigger bodies; receivers gain nothing from it. */
	if (!st->curl || !add_header(st, "Content-Type: application/json") ||
	    !add_header(st, "Expect:"))
		goto oom;
	for (size_t i = 0; i < cfg->header_count; i++)
		if (!add_header(st, cfg->headers[i]))
			goto oom;

	curl_easy_setopt(st->curl, CURLOPT_URL, cfg->url);
	curl_easy_setopt(st->curl, CURLOPT_HTTPHEADER, st->headers);
	curl_easy_setopt(st->curl, CURLOPT_POST, 1L);
	curl_easy_setopt(st->curl, CURLOPT_USERAGENT, "vigil");
	curl_easy_setopt(st->curl, CURLOPT_WRITEFUNCTION, discard_body);
	/* Signals for DNS timeouts are not safe with threads. */
	curl_easy_setopt(st->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(st->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(st->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(st->curl, CURLOPT_XFERINFOFUNCTION, check_deadline);
	curl_easy_setopt(st->curl, CURLOPT_XFERINFODATA, st);
	curl_easy_setopt(st->curl, CURLOPT_ERRORBUFFER, st->curl_error);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(st->curl, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
	return st;

oom:
	webhook_destroy(st);
	snprintf(err, err_len, "output webhook: out of memory setting up libcurl");
	return NULL;
}

static uint64_t next_random(struct webhook_state *st)
{
	uint64_t x = st->jitter_seed;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	st->jitter_seed = x;
	return x;
}

/* Delay before retry number `retry` (1-based): base * 2^(retry-1) capped,
 * then a random point in its upper half, so many nodes that lost the same
 * receiver do not all come back in the same millisecond. */
static unsigned backoff_ms(struct webhook_state *st, unsigned retry)
{
	uint64_t delay = st->backoff_base_ms;

	for (unsigned i = 1; i < retry && delay < st->backoff_cap_ms; i++)
		delay *= 2;
	if (delay > st->backoff_cap_ms)
		delay = st->backoff_cap_ms;
	return (unsigned)(delay / 2 + next_random(st) % (delay / 2 + 1));
}

enum post_result { POST_OK, POST_RETRY, POST_GIVE_UP, POST_NO_TIME };

static enum post_result post_once(struct webhook_state *st, const char *body, size_t len)
{
	int64_t left = output_sink_deadline_ms(st->sink) - output_now_ms();
	long timeout = st->timeout_ms;
	long status = 0;
	CURLcode rc;

	if (left <= 0) {
		snprintf(st->last_reason, sizeof(st->last_reason), "close deadline passed");
		return POST_NO_TIME;
	}
	if (left < timeout)
		timeout = (long)left;
	curl_easy_setopt(st->curl, CURLOPT_TIMEOUT_MS, timeout);
	curl_easy_setopt(st->curl, CURLOPT_CONNECTTIMEOUT_MS, timeout);
	curl_easy_setopt(st->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(st->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	st->curl_error[0] = '\0';

	rc = curl_easy_perform(st->curl);
	if (rc != CURLE_OK) {
		snprintf(st->last_reason, sizeof(st->last_reason), "%s",
			 st->curl_error[0] ? st->curl_error : curl_easy_strerror(rc));
		return POST_RETRY;
	}
	curl_easy_getinfo(st->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 200 && status < 300)
		return POST_OK;
	snprintf(st->last_reason, sizeof(st->last_reason), "HTTP status %ld", status);
	/* Timeouts, rate limits and server errors may pass; any other
	 * client error means the request itself is refused, every time. */
	if (status == 408 || status == 429 || status >= 500)
		return POST_RETRY;
	return POST_GIVE_UP;
}

static void post_line(struct webhook_state *st, struct output_sink *sink, const char *body,
		      size_t len)
{
	unsigned attempt, made = 0;
	int64_t now;

	for (attempt = 1; attempt <= st->max_attempts; attempt++) {
		enum post_result res;

		if (attempt > 1) {
			if (!output_sink_sleep(sink, backoff_ms(st, attempt - 1))) {
				snprintf(st->last_reason, sizeof(st->last_reason),
					 "close deadline passed while backing off");
				break;
			}
			output_sink_count(sink, OUTPUT_RETRIES, 1);
		}
		res = post_once(st, body, len);
		if (res == POST_NO_TIME)
			break;
		made++;
		if (res == POST_OK) {
			output_sink_count(sink, OUTPUT_SENT, 1);
			return;
		}
		output_sink_count(sink, OUTPUT_ERRORS, 1);
		if (res == POST_GIVE_UP)
			break;
	}
	output_sink_count(sink, OUTPUT_FAILED, 1);
	now = output_now_ms();
	if (now - st->last_error_log_ms >= WEBHOOK_ERROR_LOG_INTERVAL_MS) {
		st->last_error_log_ms = now;
		log_warn("output webhook: gave up on a line after %u attempt(s): %s", made,
			 st->last_reason);
	}
}

static void webhook_deliver(void *state, struct output_sink *sink, const struct iovec *lines,
			    size_t n)
{
	struct webhook_state *st = state;

	st->sink = sink;
	for (size_t i = 0; i < n; i++) {
		/* The trailing newline is for line-oriented sinks only. */
		size_t len = lines[i].iov_len;
		const char *body = lines[i].iov_base;

		if (len > 0 && body[len - 1] == '\n')
			len--;
		post_line(st, sink, body, len);
	}
}

const struct output_sink_ops output_webhook_ops = {
	.name = "webhook",
	.max_batch = 1, /* a line in retry holds its place; keep the rest queued */
	.deliver = webhook_deliver,
	.destroy = webhook_destroy,
};
