/* metrics.c - metric registry and Prometheus text rendering; see metrics.h.
 *
 * Layout: the registry holds families sorted by name; a family holds its
 * series sorted by canonical label string. Each series owns its value cell
 * in a separate 64-byte aligned allocation, so handles never move when the
 * arrays grow and two hot counters never share a cache line. */
#include "metrics.h"
#include "log.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_LINE 64
#define MAX_NAME_LEN 200
#define MAX_HELP_LEN 1024
#define MAX_LABELS_LEN 2048
#define MAX_LABEL_PAIRS 16

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

static const char *const type_names[] = { "counter", "gauge", "histogram" };

struct metric_counter {
	_Atomic uint64_t value;
};

struct metric_gauge {
	_Atomic uint64_t bits; /* a double, stored by its bit pattern */
};

struct metric_histogram {
	_Atomic uint64_t sum_bits; /* a double */
	size_t nbounds;
	double *bounds;
	/* nbounds + 1 cells, the last for +Inf. Not cumulative: observe bumps
	 * exactly one cell; render accumulates. */
	_Atomic uint64_t *counts;
};

struct series {
	char *labels; /* canonical: sorted by name, escaped; "" when none */
	bool is_fn;
	union {
		struct metric_counter *counter;
		struct metric_gauge *gauge;
		struct metric_histogram *histogram;
	};
	double (*gauge_fn)(void *ctx);
	uint64_t (*counter_fn)(void *ctx);
	void *ctx;
};

struct family {
	char *name;
	char *help;
	enum metric_type type;
	struct series **series;
	size_t nseries, cap;
};

struct metrics {
	pthread_mutex_t lock;
	struct family **families;
	size_t nfamilies, cap;
	size_t nseries, max_series;
	bool full_logged;
};

/* ---- small helpers ---------------------------------------------------- */

static uint64_t double_bits(double d)
{
	uint64_t u;

	memcpy(&u, &d, sizeof(u));
	return u;
}

static double bits_double(uint64_t u)
{
	double d;

	memcpy(&d, &u, sizeof(d));
	return d;
}

static void atomic_add_double(_Atomic uint64_t *cell, double delta)
{
	uint64_t old = atomic_load_explicit(cell, memory_order_relaxed);
	uint64_t new;

	do {
		new = double_bits(bits_double(old) + delta);
	} while (!atomic_compare_exchange_weak_explicit(cell, &old, new,
							memory_order_relaxed,
							memory_order_relaxed));
}

static void *alloc_cell(size_t size)
{
	size_t rounded = (size + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE;
	void *p = aligned_alloc(CACHE_LINE, rounded);

	if (p)
		memset(p, 0, rounded);
	return p;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_seq_len(const unsigned char *s)
{
	unsigned char c = s[0];
	size_t n, i;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if ((c & 0xe0) == 0xc0) {
		n = 2;
		cp = c & 0x1f;
	} else if ((c & 0xf0) == 0xe0) {
		n = 3;
		cp = c & 0x0f;
	} else if ((c & 0xf8) == 0xf0) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Reject overlong forms, surrogates and values past U+10FFFF. */
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
	    (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static bool utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t n = utf8_seq_len(p);

		if (n == 0)
			return false;
		p += n;
	}
	return true;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

static bool valid_metric_name(const char *name)
{
	size_t i;

	if (!name || !name[0] || strlen(name) > MAX_NAME_LEN)
		return false;
	for (i = 0; name[i]; i++) {
		char c = name[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     c == '_' || c == ':';

		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return false;
	}
	return true;
}

/* ---- growable output buffer ------------------------------------------- */

struct strbuf {
	char *buf;
	size_t len, cap;
	bool failed;
};

static void sb_reserve(struct strbuf *sb, size_t extra)
{
	size_t want;
	char *p;

	if (sb->failed || sb->len + extra + 1 <= sb->cap)
		return;
	want = sb->cap ? sb->cap : 4096;
	while (want < sb->len + extra + 1)
		want *= 2;
	p = realloc(sb->buf, want);
	if (!p) {
		sb->failed = true;
		return;
	}
	sb->buf = p;
	sb->cap = want;
}

static void sb_append(struct strbuf *sb, const char *s, size_t n)
{
	sb_reserve(sb, n);
	if (sb->failed)
		return;
	memcpy(sb->buf + sb->len, s, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

static void sb_puts(struct strbuf *sb, const char *s)
{
	sb_append(sb, s, strlen(s));
}

static void sb_printf(struct strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void sb_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		sb->failed = true;
		return;
	}
	sb_reserve(sb, (size_t)n);
	if (sb->failed)
		return;
	va_start(ap, fmt);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
}

/* Prometheus parses values with Go's ParseFloat: print the shortest form
 * that reads back to the same double, and its spellings of the specials. */
static void format_double(char *out, size_t size, double v)
{
	if (isnan(v)) {
		snprintf(out, size, "NaN");
	} else if (isinf(v)) {
		snprintf(out, size, v > 0 ? "+Inf" : "-Inf");
	} else {
		snprintf(out, size, "%.15g", v);
		if (strtod(out, NULL) != v)
			snprintf(out, size, "%.17g", v);
	}
}

/* ---- labels ----------------------------------------------------------- */

int metrics_label_escape(char *dst, size_t size, const char *value)
{
	const unsigned char *p = (const unsigned char *)(value ? value : "");
	size_t n = 0;

	if (size == 0)
		return -1;
	while (*p) {
		char esc[3] = { 0 };
		size_t seq = utf8_seq_len(p), need, i;

		if (*p == '\\' || *p == '"' || *p == '\n') {
			esc[0] = '\\';
			esc[1] = *p == '\n' ? 'n' : (char)*p;
			need = 2;
			seq = 1;
		} else if (seq == 0) {
			/* Label values must be UTF-8; a stray byte becomes '?'
			 * rather than making the whole series unregistrable. */
			esc[0] = '?';
			need = 1;
			seq = 1;
		} else {
			need = seq;
		}
		if (n + need >= size) {
			dst[0] = '\0';
			return -1;
		}
		for (i = 0; i < need; i++)
			dst[n++] = esc[0] ? esc[i] : (char)p[i];
		p += seq;
	}
	dst[n] = '\0';
	return (int)n;
}

struct label_pair {
	const char *name;
	size_t name_len;
	char *value; /* decoded */
};

static int compare_pairs(const void *a, const void *b)
{
	const struct label_pair *x = a, *y = b;
	size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
	int r = memcmp(x->name, y->name, n);

	if (r)
		return r;
	return (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

static const char *skip_spaces(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Parses a label string into its canonical form: pairs sorted by name,
 * values re-escaped. Returns a malloc'd string, or NULL with err set. */
static char *canonical_labels(const char *in, bool histogram, char *err,
			      size_t errlen)
{
	struct label_pair pairs[MAX_LABEL_PAIRS];
	size_t npairs = 0, i, in_len;
	const char *p;
	char *decoded = NULL, *d, *out = NULL;
	struct strbuf sb = { 0 };

	if (!in)
		in = "";
	in_len = strlen(in);
	if (in_len > MAX_LABELS_LEN) {
		snprintf(err, errlen, "label string longer than %d bytes",
			 MAX_LABELS_LEN);
		return NULL;
	}
	/* Decoded values are never longer than the input; one buffer holds
	 * them all. */
	decoded = malloc(in_len + MAX_LABEL_PAIRS + 1);
	if (!decoded) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	d = decoded;
	p = skip_spaces(in);
	while (*p) {
		struct label_pair *lp;

		if (npairs == MAX_LABEL_PAIRS) {
			snprintf(err, errlen, "more than %d labels",
				 MAX_LABEL_PAIRS);
			goto fail;
		}
		lp = &pairs[npairs];
		lp->name = p;
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      *p == '_')) {
			snprintf(err, errlen,
				 "label name must start with a letter or '_' at "
				 "offset %zu", (size_t)(p - in));
			goto fail;
		}
		while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		       (*p >= '0' && *p <= '9') || *p == '_')
			p++;
		lp->name_len = (size_t)(p - lp->name);
		if (lp->name_len >= 2 && lp->name[0] == '_' &&
		    lp->name[1] == '_') {
			snprintf(err, errlen,
				 "label names starting with '__' are reserved");
			goto fail;
		}
		if (histogram && lp->name_len == 2 &&
		    memcmp(lp->name, "le", 2) == 0) {
			snprintf(err, errlen,
				 "label 'le' is reserved for histogram buckets");
			goto fail;
		}
		p = skip_spaces(p);
		if (*p != '=') {
			snprintf(err, errlen, "expected '=' after label name "
				 "at offset %zu", (size_t)(p - in));
			goto fail;
		}
		p = skip_spaces(p + 1);
		if (*p != '"') {
			snprintf(err, errlen, "expected '\"' to open label value "
				 "at offset %zu", (size_t)(p - in));
			goto fail;
		}
		p++;
		lp->value = d;
		for (;;) {
			if (*p == '\0') {
				snprintf(err, errlen, "unterminated label value");
				goto fail;
			}
			if (*p == '"')
				break;
			if (*p == '\\') {
				p++;
				if (*p == '\\' || *p == '"')
					*d++ = *p;
				else if (*p == 'n')
					*d++ = '\n';
				else {
					snprintf(err, errlen, "invalid escape in "
						 "label value at offset %zu "
						 "(only \\\\, \\\" and \\n)",
						 (size_t)(p - in));
					goto fail;
				}
				p++;
				continue;
			}
			*d++ = *p++;
		}
		*d++ = '\0';
		if (!utf8_valid(lp->value)) {
			snprintf(err, errlen, "label value is not valid UTF-8");
			goto fail;
		}
		p = skip_spaces(p + 1);
		npairs++;
		if (*p == ',') {
			p = skip_spaces(p + 1);
		} else if (*p != '\0') {
			snprintf(err, errlen, "expected ',' between labels at "
				 "offset %zu", (size_t)(p - in));
			goto fail;
		}
	}

	qsort(pairs, npairs, sizeof(pairs[0]), compare_pairs);
	for (i = 0; i < npairs; i++) {
		const char *v;

		if (i > 0 && compare_pairs(&pairs[i - 1], &pairs[i]) == 0) {
			snprintf(err, errlen, "duplicate label '%.*s'",
				 (int)pairs[i].name_len, pairs[i].name);
			goto fail;
		}
		if (i > 0)
			sb_append(&sb, ",", 1);
		sb_append(&sb, pairs[i].name, pairs[i].name_len);
		sb_append(&sb, "=\"", 2);
		for (v = pairs[i].value; *v; v++) {
			if (*v == '\\')
				sb_append(&sb, "\\\\", 2);
			else if (*v == '"')
				sb_append(&sb, "\\\"", 2);
			else if (*v == '\n')
				sb_append(&sb, "\\n", 2);
			else
				sb_append(&sb, v, 1);
		}
		sb_append(&sb, "\"", 1);
	}
	if (sb.failed) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	out = sb.buf ? sb.buf : strdup("");
	if (!out)
		snprintf(err, errlen, "out of memory");
	free(decoded);
	return out;
fail:
	free(sb.buf);
	free(decoded);
	return NULL;
}

/* ---- registry --------------------------------------------------------- */

struct metrics *metrics_new(size_t max_series)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	if (pthread_mutex_init(&m->lock, NULL) != 0) {
		free(m);
		return NULL;
	}
	m->max_series = max_series ? max_series : METRICS_DEFAULT_MAX_SERIES;
	return m;
}

static void free_series(struct series *s, enum metric_type type)
{
	if (!s)
		return;
	if (!s->is_fn) {
		switch (type) {
		case METRIC_COUNTER:
			free(s->counter);
			break;
		case METRIC_GAUGE:
			free(s->gauge);
			break;
		case METRIC_HISTOGRAM:
			if (s->histogram) {
				free(s->histogram->bounds);
				free(s->histogram->counts);
				free(s->histogram);
			}
			break;
		}
	}
	free(s->labels);
	free(s);
}

void metrics_free(struct metrics *m)
{
	size_t i, j;

	if (!m)
		return;
	for (i = 0; i < m->nfamilies; i++) {
		struct family *f = m->families[i];

		for (j = 0; j < f->nseries; j++)
			free_series(f->series[j], f->type);
		free(f->series);
		free(f->name);
		free(f->help);
		free(f);
	}
	free(m->families);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* Binary search over a sorted array of pointers; returns the index where
 * key is or would be inserted, and whether it was found. */
static size_t find_family(struct metrics *m, const char *name, bool *found)
{
	size_t lo = 0, hi = m->nfamilies;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = strcmp(m->families[mid]->name, name);

		if (r == 0) {
			*found = true;
			return mid;
		}
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static size_t find_series(struct family *f, const char *labels, bool *found)
{
	size_t lo = 0, hi = f->nseries;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = strcmp(f->series[mid]->labels, labels);

		if (r == 0) {
			*found = true;
			return mid;
		}
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static int insert_ptr(void ***arr, size_t *n, size_t *cap, size_t at, void *p)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		void **na = realloc(*arr, ncap * sizeof(*na));

		if (!na)
			return -1;
		*arr = na;
		*cap = ncap;
	}
	memmove(*arr + at + 1, *arr + at, (*n - at) * sizeof(**arr));
	(*arr)[at] = p;
	(*n)++;
	return 0;
}

static bool check_name(const char *name, enum metric_type type, char *err,
		       size_t errlen)
{
	if (!valid_metric_name(name)) {
		snprintf(err, errlen, "invalid metric name (want "
			 "[a-zA-Z_:][a-zA-Z0-9_:]*, at most %d bytes)",
			 MAX_NAME_LEN);
		return false;
	}
	if (type == METRIC_COUNTER && !ends_with(name, "_total")) {
		snprintf(err, errlen, "counter names must end in _total");
		return false;
	}
	if (type != METRIC_COUNTER && ends_with(name, "_total")) {
		snprintf(err, errlen, "only counters may end in _total");
		return false;
	}
	if (type == METRIC_HISTOGRAM &&
	    (ends_with(name, "_bucket") || ends_with(name, "_sum") ||
	     ends_with(name, "_count"))) {
		snprintf(err, errlen, "histogram names must not end in "
			 "_bucket, _sum or _count");
		return false;
	}
	return true;
}

static bool check_help(const char *help, char *err, size_t errlen)
{
	if (!help || !help[0]) {
		snprintf(err, errlen, "help text is required");
		return false;
	}
	if (strlen(help) > MAX_HELP_LEN || !utf8_valid(help)) {
		snprintf(err, errlen, "help text must be UTF-8 of at most %d "
			 "bytes", MAX_HELP_LEN);
		return false;
	}
	return true;
}

/* Finds or creates the series name{labels}; called with m->lock held.
 * *created tells the caller to fill in the new series' value. */
static struct series *lookup_series(struct metrics *m, const char *name,
				    const char *help, const char *labels,
				    enum metric_type type, bool *created,
				    char *err, size_t errlen)
{
	struct family *f;
	struct series *s;
	char *canon;
	bool found;
	size_t fi, si;

	*created = false;
	if (!check_name(name, type, err, errlen) ||
	    !check_help(help, err, errlen))
		return NULL;
	canon = canonical_labels(labels, type == METRIC_HISTOGRAM, err, errlen);
	if (!canon)
		return NULL;

	fi = find_family(m, name, &found);
	if (found) {
		f = m->families[fi];
		if (f->type != type) {
			snprintf(err, errlen, "already registered as a %s",
				 type_names[f->type]);
			free(canon);
			return NULL;
		}
	} else {
		f = calloc(1, sizeof(*f));
		if (!f || !(f->name = strdup(name)) ||
		    !(f->help = strdup(help)) ||
		    insert_ptr((void ***)&m->families, &m->nfamilies, &m->cap,
			       fi, f) != 0) {
			if (f) {
				free(f->name);
				free(f->help);
			}
			free(f);
			free(canon);
			snprintf(err, errlen, "out of memory");
			return NULL;
		}
		f->type = type;
	}

	si = find_series(f, canon, &found);
	if (found) {
		free(canon);
		return f->series[si];
	}
	if (m->nseries >= m->max_series) {
		snprintf(err, errlen, "series limit %zu reached", m->max_series);
		free(canon);
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s || insert_ptr((void ***)&f->series, &f->nseries, &f->cap, si,
			     s) != 0) {
		free(s);
		free(canon);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->labels = canon;
	m->nseries++;
	*created = true;
	return s;
}

/* A new series whose value could not be allocated is removed again so the
 * registry never holds a series without a cell. */
static void drop_series(struct metrics *m, const char *name, struct series *s)
{
	bool found;
	size_t fi = find_family(m, name, &found), si;
	struct family *f;

	if (!found)
		return;
	f = m->families[fi];
	si = find_series(f, s->labels, &found);
	if (!found)
		return;
	memmove(f->series + si, f->series + si + 1,
		(f->nseries - si - 1) * sizeof(*f->series));
	f->nseries--;
	m->nseries--;
	free(s->labels);
	free(s);
}

static void log_register_error(struct metrics *m, const char *name,
			       const char *labels, const char *err)
{
	/* The series limit is hit in a loop when labels come from data: say
	 * it once instead of flooding the log. */
	if (strncmp(err, "series limit", 12) == 0) {
		if (m->full_logged)
			return;
		m->full_logged = true;
	}
	log_error("metrics: cannot register %s%s%s%s: %s",
		  name ? name : "(null)", labels && labels[0] ? "{" : "",
		  labels ? labels : "", labels && labels[0] ? "}" : "", err);
}

struct metric_counter *metrics_counter(struct metrics *m, const char *name,
				       const char *help, const char *labels)
{
	struct metric_counter *c = NULL;
	struct series *s;
	char err[256];
	bool created;

	if (!m)
		return NULL;
	pthread_mutex_lock(&m->lock);
	s = lookup_series(m, name, help, labels, METRIC_COUNTER, &created, err,
			  sizeof(err));
	if (!s) {
		log_register_error(m, name, labels, err);
	} else if (!created) {
		if (s->is_fn)
			log_register_error(m, name, labels,
					   "already registered as a callback");
		else
			c = s->counter;
	} else {
		c = s->counter = alloc_cell(sizeof(*c));
		if (!c) {
			drop_series(m, name, s);
			log_register_error(m, name, labels, "out of memory");
		}
	}
	pthread_mutex_unlock(&m->lock);
	return c;
}

struct metric_gauge *metrics_gauge(struct metrics *m, const char *name,
				   const char *help, const char *labels)
{
	struct metric_gauge *g = NULL;
	struct series *s;
	char err[256];
	bool created;

	if (!m)
		return NULL;
	pthread_mutex_lock(&m->lock);
	s = lookup_series(m, name, help, labels, METRIC_GAUGE, &created, err,
			  sizeof(err));
	if (!s) {
		log_register_error(m, name, labels, err);
	} else if (!created) {
		if (s->is_fn)
			log_register_error(m, name, labels,
					   "already registered as a callback");
		else
			g = s->gauge;
	} else {
		g = s->gauge = alloc_cell(sizeof(*g));
		if (!g) {
			drop_series(m, name, s);
			log_register_error(m, name, labels, "out of memory");
		}
	}
	pthread_mutex_unlock(&m->lock);
	return g;
}

static bool valid_bounds(const double *bounds, size_t n, char *err,
			 size_t errlen)
{
	size_t i;

	if (!bounds || n == 0 || n > METRICS_MAX_HISTOGRAM_BOUNDS) {
		snprintf(err, errlen, "histograms need 1 to %d bounds",
			 METRICS_MAX_HISTOGRAM_BOUNDS);
		return false;
	}
	for (i = 0; i < n; i++) {
		if (!isfinite(bounds[i])) {
			snprintf(err, errlen, "bound %zu is not finite (+Inf "
				 "is implicit)", i);
			return false;
		}
		if (i > 0 && !(bounds[i] > bounds[i - 1])) {
			snprintf(err, errlen, "bounds must strictly increase "
				 "(bound %zu)", i);
			return false;
		}
	}
	return true;
}

static struct metric_histogram *new_histogram(const double *bounds, size_t n)
{
	struct metric_histogram *h = alloc_cell(sizeof(*h));
	size_t i;

	if (!h)
		return NULL;
	h->bounds = malloc(n * sizeof(*h->bounds));
	h->counts = malloc((n + 1) * sizeof(*h->counts));
	if (!h->bounds || !h->counts) {
		free(h->bounds);
		free(h->counts);
		free(h);
		return NULL;
	}
	memcpy(h->bounds, bounds, n * sizeof(*bounds));
	for (i = 0; i <= n; i++)
		atomic_init(&h->counts[i], 0);
	atomic_init(&h->sum_bits, double_bits(0.0));
	h->nbounds = n;
	return h;
}

struct metric_histogram *metrics_histogram(struct metrics *m, const char *name,
					   const char *help, const char *labels,
					   const double *bounds, size_t n)
{
	struct metric_histogram *h = NULL;
	struct series *s;
	char err[256];
	bool created;

	if (!m)
		return NULL;
	if (!valid_bounds(bounds, n, err, sizeof(err))) {
		log_error("metrics: cannot register %s: %s",
			  name ? name : "(null)", err);
		return NULL;
	}
	pthread_mutex_lock(&m->lock);
	s = lookup_series(m, name, help, labels, METRIC_HISTOGRAM, &created,
			  err, sizeof(err));
	if (!s) {
		log_register_error(m, name, labels, err);
	} else if (!created) {
		struct metric_histogram *old = s->histogram;

		if (old->nbounds != n ||
		    memcmp(old->bounds, bounds, n * sizeof(*bounds)) != 0)
			log_register_error(m, name, labels,
					   "already registered with other "
					   "bounds");
		else
			h = old;
	} else {
		h = s->histogram = new_histogram(bounds, n);
		if (!h) {
			drop_series(m, name, s);
			log_register_error(m, name, labels, "out of memory");
		}
	}
	pthread_mutex_unlock(&m->lock);
	return h;
}

static int register_fn(struct metrics *m, const char *name, const char *help,
		       const char *labels, enum metric_type type,
		       double (*gauge_fn)(void *), uint64_t (*counter_fn)(void *),
		       void *ctx)
{
	struct series *s;
	char err[256];
	bool created;
	int ret = -1;

	if (!m)
		return -1;
	pthread_mutex_lock(&m->lock);
	s = lookup_series(m, name, help, labels, type, &created, err,
			  sizeof(err));
	if (!s) {
		log_register_error(m, name, labels, err);
	} else if (!created && !s->is_fn) {
		log_register_error(m, name, labels,
				   "already registered as a plain series");
	} else {
		s->is_fn = true;
		s->gauge_fn = gauge_fn;
		s->counter_fn = counter_fn;
		s->ctx = ctx;
		ret = 0;
	}
	pthread_mutex_unlock(&m->lock);
	return ret;
}

int metrics_gauge_fn(struct metrics *m, const char *name, const char *help,
		     const char *labels, double (*fn)(void *ctx), void *ctx)
{
	return register_fn(m, name, help, labels, METRIC_GAUGE, fn, NULL, ctx);
}

int metrics_counter_fn(struct metrics *m, const char *name, const char *help,
		       const char *labels, uint64_t (*fn)(void *ctx), void *ctx)
{
	return register_fn(m, name, help, labels, METRIC_COUNTER, NULL, fn, ctx);
}

/* ---- hot path --------------------------------------------------------- */

void metric_counter_add(struct metric_counter *c, uint64_t n)
{
	if (c)
		atomic_fetch_add_explicit(&c->value, n, memory_order_relaxed);
}

uint64_t metric_counter_value(const struct metric_counter *c)
{
	if (!c)
		return 0;
	return atomic_load_explicit(&((struct metric_counter *)c)->value,
				    memory_order_relaxed);
}

void metric_gauge_set(struct metric_gauge *g, double v)
{
	if (g)
		atomic_store_explicit(&g->bits, double_bits(v),
				      memory_order_relaxed);
}

void metric_gauge_add(struct metric_gauge *g, double delta)
{
	if (g)
		atomic_add_double(&g->bits, delta);
}

double metric_gauge_value(const struct metric_gauge *g)
{
	if (!g)
		return 0.0;
	return bits_double(atomic_load_explicit(
		&((struct metric_gauge *)g)->bits, memory_order_relaxed));
}

void metric_histogram_observe(struct metric_histogram *h, double v)
{
	size_t lo, hi;

	if (!h || isnan(v))
		return;
	/* First bucket whose upper bound is >= v; nbounds means +Inf. */
	lo = 0;
	hi = h->nbounds;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (h->bounds[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	atomic_fetch_add_explicit(&h->counts[lo], 1, memory_order_relaxed);
	atomic_add_double(&h->sum_bits, v);
}

uint64_t metric_histogram_count(const struct metric_histogram *h)
{
	uint64_t total = 0;
	size_t i;

	if (!h)
		return 0;
	for (i = 0; i <= h->nbounds; i++)
		total += atomic_load_explicit(&h->counts[i],
					      memory_order_relaxed);
	return total;
}

/* ---- rendering -------------------------------------------------------- */

static void render_help(struct strbuf *sb, const struct family *f)
{
	const char *p;

	sb_printf(sb, "# HELP %s ", f->name);
	for (p = f->help; *p; p++) {
		if (*p == '\\')
			sb_append(sb, "\\\\", 2);
		else if (*p == '\n')
			sb_append(sb, "\\n", 2);
		else
			sb_append(sb, p, 1);
	}
	sb_printf(sb, "\n# TYPE %s %s\n", f->name, type_names[f->type]);
}

static void render_sample_name(struct strbuf *sb, const char *name,
			       const char *suffix, const char *labels)
{
	sb_puts(sb, name);
	sb_puts(sb, suffix);
	if (labels[0]) {
		sb_append(sb, "{", 1);
		sb_puts(sb, labels);
		sb_append(sb, "}", 1);
	}
}

static void render_histogram(struct strbuf *sb, const struct family *f,
			     const struct series *s)
{
	const struct metric_histogram *h = s->histogram;
	uint64_t cumulative = 0;
	char num[64];
	size_t i;

	for (i = 0; i <= h->nbounds; i++) {
		cumulative += atomic_load_explicit(&h->counts[i],
						   memory_order_relaxed);
		if (i < h->nbounds)
			format_double(num, sizeof(num), h->bounds[i]);
		else
			snprintf(num, sizeof(num), "+Inf");
		sb_printf(sb, "%s_bucket{%s%sle=\"%s\"} %" PRIu64 "\n",
			  f->name, s->labels, s->labels[0] ? "," : "", num,
			  cumulative);
	}
	format_double(num, sizeof(num),
		      bits_double(atomic_load_explicit(
			      &((struct metric_histogram *)h)->sum_bits,
			      memory_order_relaxed)));
	render_sample_name(sb, f->name, "_sum", s->labels);
	sb_printf(sb, " %s\n", num);
	/* _count is the +Inf bucket by definition; reusing the same sum keeps
	 * the two equal even while observations race with the scrape. */
	render_sample_name(sb, f->name, "_count", s->labels);
	sb_printf(sb, " %" PRIu64 "\n", cumulative);
}

int metrics_render(struct metrics *m, char **buf, size_t *len)
{
	struct strbuf sb = { 0 };
	char num[64];
	size_t i, j;

	if (!m || !buf || !len)
		return -1;
	sb_reserve(&sb, 0);
	if (!sb.failed)
		sb.buf[0] = '\0';
	pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->nfamilies; i++) {
		const struct family *f = m->families[i];

		render_help(&sb, f);
		for (j = 0; j < f->nseries; j++) {
			const struct series *s = f->series[j];

			switch (f->type) {
			case METRIC_COUNTER:
				if (s->is_fn && !s->counter_fn)
					break;
				render_sample_name(&sb, f->name, "", s->labels);
				sb_printf(&sb, " %" PRIu64 "\n",
					  s->is_fn ? s->counter_fn(s->ctx)
						   : metric_counter_value(
							     s->counter));
				break;
			case METRIC_GAUGE:
				if (s->is_fn && !s->gauge_fn)
					break;
				format_double(num, sizeof(num),
					      s->is_fn ? s->gauge_fn(s->ctx)
						       : metric_gauge_value(
								 s->gauge));
				render_sample_name(&sb, f->name, "", s->labels);
				sb_printf(&sb, " %s\n", num);
				break;
			case METRIC_HISTOGRAM:
				render_histogram(&sb, f, s);
				break;
			}
		}
	}
	pthread_mutex_unlock(&m->lock);
	if (sb.failed) {
		free(sb.buf);
		log_error("metrics: out of memory while rendering");
		return -1;
	}
	*buf = sb.buf;
	*len = sb.len;
	return 0;
}
