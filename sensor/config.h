/* config.h - the sensor's configuration: built-in defaults, overridden by a
 * YAML file (--config) and then by command-line flags.
 *
 * Every error names the file, line and column and what was expected, and a
 * bad file leaves the caller's configuration untouched. */
#ifndef VIGIL_CONFIG_H
#define VIGIL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"

#define CONFIG_MAX_POLICIES 32
#define CONFIG_MAX_HEADERS 16
#define CONFIG_STR 512

struct config {
	enum log_level log_level;

	/* events: the kernel side and the consumer */
	unsigned poll_interval_ms;
	uint64_t wakeup_bytes;
	bool threads; /* report thread creation as fork events */

	/* process_cache */
	size_t proc_cache_entries;
	uint64_t exit_retention_ns;

	/* http */
	char listen[CONFIG_STR]; /* "ADDR:PORT"; "" disables the server */
	char token_file[CONFIG_STR];

	/* cri */
	char cri_socket[CONFIG_STR]; /* "" = auto-detect */

	/* policies */
	bool default_policy;
	char policies[CONFIG_MAX_POLICIES][CONFIG_STR];
	size_t n_policies;

	/* outputs */
	bool stdout_enabled;
	char file_path[CONFIG_STR]; /* "" = no file output */
	uint64_t file_max_bytes;
	unsigned file_max_files;
	char webhook_url[CONFIG_STR]; /* "" = no webhook */
	char webhook_headers[CONFIG_MAX_HEADERS][CONFIG_STR];
	size_t n_webhook_headers;
	unsigned webhook_timeout_ms;
};

void config_defaults(struct config *cfg);
/* Loads path over cfg. On error returns -1, cfg is unchanged and err says
 * "path:line:col: what". */
int config_load(struct config *cfg, const char *path, char *err, size_t errlen);
/* Parses "10s", "500ms", "2m", "1h" or a bare number of seconds. */
int config_parse_duration(const char *s, uint64_t *ns);
/* Parses "64Mi", "10MB", "4096"... into bytes. */
int config_parse_size(const char *s, uint64_t *bytes);

#endif
