/* config.c - see config.h. The file is a YAML mapping of known sections;
 * unknown keys are errors (a typo must not silently fall back to a
 * default). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

void config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->log_level = LOG_INFO;
	cfg->poll_interval_ms = 10;
	cfg->wakeup_bytes = 256 * 1024;
	cfg->threads = true;
	cfg->proc_cache_entries = 65536;
	cfg->exit_retention_ns = 5ull * 1000000000ull;
	snprintf(cfg->listen, sizeof(cfg->listen), "0.0.0.0:9810");
	cfg->default_policy = true;
	cfg->stdout_enabled = true;
	cfg->file_max_bytes = 100ull << 20;
	cfg->file_max_files = 5;
	cfg->webhook_timeout_ms = 5000;
}

static int parse_scaled(const char *s, uint64_t *out, const char *const *units,
			const uint64_t *scales, size_t n_units, uint64_t bare_scale)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -1;
	if (*end == '\0') {
		*out = (uint64_t)(v * (double)bare_scale);
		return 0;
	}
	for (size_t i = 0; i < n_units; i++) {
		if (strcmp(end, units[i]) == 0) {
			*out = (uint64_t)(v * (double)scales[i]);
			return 0;
		}
	}
	return -1;
}

int config_parse_duration(const char *s, uint64_t *ns)
{
	static const char *const units[] = { "ns", "us", "ms", "s", "m", "h" };
	static const uint64_t scales[] = { 1, 1000, 1000000, 1000000000ull, 60000000000ull,
					   3600000000000ull };

	return parse_scaled(s, ns, units, scales, 6, 1000000000ull);
}

int config_parse_size(const char *s, uint64_t *bytes)
{
	static const char *const units[] = { "B", "K", "Ki", "KB", "M", "Mi", "MB", "G", "Gi", "GB" };
	static const uint64_t scales[] = { 1, 1024, 1024, 1000, 1 << 20, 1 << 20, 1000000,
					   1ull << 30, 1ull << 30, 1000000000ull };

	return parse_scaled(s, bytes, units, scales, 10, 1);
}

/* The parser keeps the whole document as a libyaml tree; errors point at
 * the node that is wrong. */
struct loader {
	const char *path;
	yaml_document_t doc;
	struct config *cfg;
	char *err;
	size_t errlen;
};

static int fail_at(struct loader *l, const yaml_node_t *node, const char *fmt, const char *what)
{
	char msg[256];

	snprintf(msg, sizeof(msg), fmt, what);
	snprintf(l->err, l->errlen, "%s:%zu:%zu: %s", l->path, node->start_mark.line + 1,
		 node->start_mark.column + 1, msg);
	return -1;
}

static const char *scalar(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int get_string(struct loader *l, const yaml_node_t *v, char *out, size_t size, const char *key)
{
	const char *s = scalar(v);

	if (!s)
		return fail_at(l, v, "\"%s\" must be a string", key);
	if (strlen(s) >= size)
		return fail_at(l, v, "\"%s\" is too long", key);
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

static int get_bool(struct loader *l, const yaml_node_t *v, bool *out, const char *key)
{
	const char *s = scalar(v);

	if (s && (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0 || strcmp(s, "on") == 0)) {
		*out = true;
		return 0;
	}
	if (s && (strcmp(s, "false") == 0 || strcmp(s, "no") == 0 || strcmp(s, "off") == 0)) {
		*out = false;
		return 0;
	}
	return fail_at(l, v, "\"%s\" must be true or false", key);
}

static int get_uint(struct loader *l, const yaml_node_t *v, uint64_t max, uint64_t *out, const char *key)
{
	const char *s = scalar(v);
	char *end;
	unsigned long long x;

	if (!s)
		return fail_at(l, v, "\"%s\" must be a number", key);
	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || x > max)
		return fail_at(l, v, "\"%s\" must be a whole number in range", key);
	*out = x;
	return 0;
}

static int get_duration(struct loader *l, const yaml_node_t *v, uint64_t *out, const char *key)
{
	const char *s = scalar(v);

	if (!s || config_parse_duration(s, out) < 0)
		return fail_at(l, v, "\"%s\" must be a duration like 500ms, 5s or 2m", key);
	return 0;
}

static int get_size(struct loader *l, const yaml_node_t *v, uint64_t *out, const char *key)
{
	const char *s = scalar(v);

	if (!s || config_parse_size(s, out) < 0)
		return fail_at(l, v, "\"%s\" must be a size like 4096, 64Ki or 100Mi", key);
	return 0;
}

typedef int (*section_fn)(struct loader *l, const char *key, const yaml_node_t *value);

/* Calls fn for each key of a mapping node. */
static int each_key(struct loader *l, const yaml_node_t *map, const char *section, section_fn fn)
{
	if (map->type != YAML_MAPPING_NODE)
		return fail_at(l, map, "\"%s\" must be a mapping", section);
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(&l->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(&l->doc, p->value);
		const char *name = k ? scalar(k) : NULL;

		if (!name)
			return fail_at(l, k ? k : map, "keys in \"%s\" must be strings", section);
		if (fn(l, name, v) < 0)
			return -1;
	}
	return 0;
}

static int unknown_key(struct loader *l, const yaml_node_t *v, const char *key)
{
	return fail_at(l, v, "unknown key \"%s\"", key);
}

static int events_key(struct loader *l, const char *key, const yaml_node_t *v)
{
	uint64_t x;

	if (strcmp(key, "poll_interval_ms") == 0) {
		if (get_uint(l, v, 1000, &x, key) < 0)
			return -1;
		if (x == 0)
			return fail_at(l, v, "\"%s\" must be at least 1", key);
		l->cfg->poll_interval_ms = (unsigned)x;
		return 0;
	}
	if (strcmp(key, "wakeup_bytes") == 0)
		return get_size(l, v, &l->cfg->wakeup_bytes, key);
	if (strcmp(key, "threads") == 0)
		return get_bool(l, v, &l->cfg->threads, key);
	return unknown_key(l, v, key);
}

static int cache_key(struct loader *l, const char *key, const yaml_node_t *v)
{
	uint64_t x;

	if (strcmp(key, "max_entries") == 0) {
		if (get_uint(l, v, 10000000, &x, key) < 0)
			return -1;
		if (x == 0)
			return fail_at(l, v, "\"%s\" must be at least 1", key);
		l->cfg->proc_cache_entries = x;
		return 0;
	}
	if (strcmp(key, "exit_retention") == 0)
		return get_duration(l, v, &l->cfg->exit_retention_ns, key);
	return unknown_key(l, v, key);
}

static int http_key(struct loader *l, const char *key, const yaml_node_t *v)
{
	if (strcmp(key, "listen") == 0)
		return get_string(l, v, l->cfg->listen, sizeof(l->cfg->listen), key);
	if (strcmp(key, "token_file") == 0)
		return get_string(l, v, l->cfg->token_file, sizeof(l->cfg->token_file), key);
	return unknown_key(l, v, key);
}

static int cri_key(struct loader *l, const char *key, const yaml_node_t *v)
{
	if (strcmp(key, "socket") == 0)
		return get_string(l, v, l->cfg->cri_socket, sizeof(l->cfg->cri_socket), key);
	return unknown_key(l, v, key);
}

static int file_key(struct loader *l, const char *key, const yaml_node_t *v)
{
	uint64_t x;

	if (strcmp(key, "path") == 0)
		return get_string(l, v, l->cfg->file_path, sizeof(l->cfg->file_path), key);
	if (strcmp(key, "max_size") == 0)
		return get_size(l, v, &l->cfg->file_max_bytes, key);
	if (strcmp(key, "max_files") == 0) {
		if (get_uint(l, v, 100, &x, key) < 0)
			return -1;
		l->cfg->file_max_files = (unsigned)x;
		return 0;
	}
	return unknown_key(l, v, key);
}

static int webhook_key(struct loader *l, const char *key, const yaml_node_t *v)
{
	uint64_t ns;

	if (strcmp(key, "url") == 0)
		return get_string(l, v, l->cfg->webhook_url, sizeof(l->cfg->webhook_url), key);
	if (strcmp(key, "timeout") == 0) {
		if (get_duration(l, v, &ns, key) < 0)
			return -1;
		l->cfg->webhook_timeout_ms = (unsigned)(ns / 1000000);
		return 0;
	}
	if (strcmp(key, "headers") == 0) {
		if (v->type != YAML_SEQUENCE_NODE)
			return fail_at(l, v, "\"%s\" must be a list of \"Name: value\" strings", key);
		l->cfg->n_webhook_headers = 0;
		for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top; i++) {
			yaml_node_t *h = yaml_document_get_node(&l->doc, *i);

			if (l->cfg->n_webhook_headers == CONFIG_MAX_HEADERS)
				return fail_at(l, h, "too many %s", key);
			if (get_string(l, h, l->cfg->webhook_headers[l->cfg->n_webhook_headers++],
				       CONFIG_STR, key) < 0)
				return -1;
			if (!strchr(scalar(h), ':'))
				return fail_at(l, h, "\"%s\" entries look like \"Name: value\"", key);
		}
		return 0;
	}
	return unknown_key(l, v, key);
}

static int outputs_key(struct loader *l, const char *key, const yaml_node_t *v)
{
	if (strcmp(key, "stdout") == 0)
		return get_bool(l, v, &l->cfg->stdout_enabled, key);
	if (strcmp(key, "file") == 0)
		return each_key(l, v, key, file_key);
	if (strcmp(key, "webhook") == 0)
		return each_key(l, v, key, webhook_key);
	return unknown_key(l, v, key);
}

static int policies_key(struct loader *l, const char *key, const yaml_node_t *v)
{
	if (strcmp(key, "default") == 0)
		return get_bool(l, v, &l->cfg->default_policy, key);
	if (strcmp(key, "files") == 0) {
		if (v->type != YAML_SEQUENCE_NODE)
			return fail_at(l, v, "\"%s\" must be a list of paths", key);
		l->cfg->n_policies = 0;
		for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top; i++) {
			yaml_node_t *f = yaml_document_get_node(&l->doc, *i);

			if (l->cfg->n_policies == CONFIG_MAX_POLICIES)
				return fail_at(l, f, "too many policy %s", key);
			if (get_string(l, f, l->cfg->policies[l->cfg->n_policies++], CONFIG_STR, key) < 0)
				return -1;
		}
		return 0;
	}
	return unknown_key(l, v, key);
}

static int top_key(struct loader *l, const char *key, const yaml_node_t *v)
{
	if (strcmp(key, "log_level") == 0) {
		const char *s = scalar(v);

		if (!s || log_parse_level(s, &l->cfg->log_level) < 0)
			return fail_at(l, v, "\"%s\" must be debug, info, warn or error", key);
		return 0;
	}
	if (strcmp(key, "events") == 0)
		return each_key(l, v, key, events_key);
	if (strcmp(key, "process_cache") == 0)
		return each_key(l, v, key, cache_key);
	if (strcmp(key, "http") == 0)
		return each_key(l, v, key, http_key);
	if (strcmp(key, "cri") == 0)
		return each_key(l, v, key, cri_key);
	if (strcmp(key, "outputs") == 0)
		return each_key(l, v, key, outputs_key);
	if (strcmp(key, "policies") == 0)
		return each_key(l, v, key, policies_key);
	return unknown_key(l, v, key);
}

int config_load(struct config *cfg, const char *path, char *err, size_t errlen)
{
	struct loader l = { .path = path, .err = err, .errlen = errlen };
	struct config *work = malloc(sizeof(*work));
	yaml_parser_t parser;
	yaml_node_t *root;
	FILE *f;
	int ret = -1;

	if (!work) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	*work = *cfg;
	l.cfg = work;
	f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(work);
		return -1;
	}
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &l.doc)) {
		snprintf(err, errlen, "%s:%zu:%zu: %s", path, parser.problem_mark.line + 1,
			 parser.problem_mark.column + 1, parser.problem ? parser.problem : "invalid YAML");
		goto out_parser;
	}
	root = yaml_document_get_root_node(&l.doc);
	if (!root) /* an empty file changes nothing */
		ret = 0;
	else
		ret = each_key(&l, root, "the configuration", top_key);
	yaml_document_delete(&l.doc);
	if (ret == 0)
		*cfg = *work;
out_parser:
	yaml_parser_delete(&parser);
	fclose(f);
	free(work);
	return ret;
}
