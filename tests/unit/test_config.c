/* test_config.c - configuration files: values land, errors point at the
 * right place, and a bad file changes nothing. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static const char *write_file(const char *text)
{
	static char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/vigil-config-test-%d.yaml", getpid());
	f = fopen(path, "w");
	cr_assert(f);
	fputs(text, f);
	fclose(f);
	return path;
}

Test(config, values_override_defaults)
{
	struct config c;
	char err[256];
	const char *path = write_file("log_level: debug\n"
				      "events:\n  poll_interval_ms: 5\n  wakeup_bytes: 64Ki\n  threads: false\n"
				      "process_cache:\n  max_entries: 1000\n  exit_retention: 1500ms\n"
				      "http:\n  listen: 127.0.0.1:9999\n"
				      "cri:\n  socket: /run/x.sock\n"
				      "policies:\n  default: false\n  files: [/etc/vigil/a.yaml, b.yaml]\n"
				      "outputs:\n  stdout: false\n  file:\n    path: /var/log/vigil.json\n    max_size: 10Mi\n"
				      "  webhook:\n    url: http://127.0.0.1:2801/\n    timeout: 2s\n"
				      "    headers: [\"Authorization: Bearer x\"]\n");

	config_defaults(&c);
	cr_assert_eq(config_load(&c, path, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(c.log_level, LOG_DEBUG);
	cr_expect_eq(c.poll_interval_ms, 5);
	cr_expect_eq(c.wakeup_bytes, 65536);
	cr_expect_not(c.threads);
	cr_expect_eq(c.proc_cache_entries, 1000);
	cr_expect_eq(c.exit_retention_ns, 1500000000ull);
	cr_expect_str_eq(c.listen, "127.0.0.1:9999");
	cr_expect_str_eq(c.cri_socket, "/run/x.sock");
	cr_expect_not(c.default_policy);
	cr_assert_eq(c.n_policies, 2);
	cr_expect_str_eq(c.policies[1], "b.yaml");
	cr_expect_not(c.stdout_enabled);
	cr_expect_str_eq(c.file_path, "/var/log/vigil.json");
	cr_expect_eq(c.file_max_bytes, 10ull << 20);
	cr_expect_eq(c.webhook_timeout_ms, 2000);
	cr_expect_eq(c.n_webhook_headers, 1);
	unlink(path);
}

Test(config, errors_name_file_line_column_and_leave_config_unchanged)
{
	const struct { const char *text, *error; } cases[] = {
		{ "events:\n  poll_interval_ms: fast\n", ":2:21: \"poll_interval_ms\" must be a whole number" },
		{ "events:\n  poll_interval_ms: 0\n", ":2:21: \"poll_interval_ms\" must be at least 1" },
		{ "eventz: {}\n", ":1:9: unknown key \"eventz\"" },
		{ "process_cache:\n  exit_retention: soon\n", ":2:19: \"exit_retention\" must be a duration" },
		{ "outputs:\n  stdout: maybe\n", ":2:11: \"stdout\" must be true or false" },
		{ "outputs:\n  webhook:\n    headers: [\"no colon\"]\n", ":3:15: \"headers\" entries" },
		{ "http: [1, 2]\n", ":1:7: \"http\" must be a mapping" },
		{ "events:\n  - a\n  b: c\n", ":3:" },
	};
	struct config c, before;
	char err[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *path = write_file(cases[i].text);

		config_defaults(&c);
		before = c;
		cr_expect_eq(config_load(&c, path, err, sizeof(err)), -1, "accepted: %s", cases[i].text);
		cr_expect(strstr(err, cases[i].error), "for %s: got \"%s\", want \"%s\"", cases[i].text, err,
			  cases[i].error);
		cr_expect(strncmp(err, path, strlen(path)) == 0, "error should start with the file: %s", err);
		cr_expect_eq(memcmp(&c, &before, sizeof(c)), 0, "a failed load changed the configuration");
		unlink(path);
	}
}

Test(config, missing_file)
{
	struct config c;
	char err[256];

	config_defaults(&c);
	cr_expect_eq(config_load(&c, "/nonexistent/vigil.yaml", err, sizeof(err)), -1);
	cr_expect_str_eq(err, "/nonexistent/vigil.yaml: No such file or directory");
}

Test(config, durations_and_sizes)
{
	uint64_t v;

	cr_expect_eq(config_parse_duration("250ms", &v), 0);
	cr_expect_eq(v, 250000000ull);
	cr_expect_eq(config_parse_duration("2m", &v), 0);
	cr_expect_eq(v, 120000000000ull);
	cr_expect_eq(config_parse_duration("3", &v), 0);
	cr_expect_eq(v, 3000000000ull);
	cr_expect_eq(config_parse_duration("3 days", &v), -1);
	cr_expect_eq(config_parse_duration("-1s", &v), -1);
	cr_expect_eq(config_parse_size("64Ki", &v), 0);
	cr_expect_eq(v, 65536);
	cr_expect_eq(config_parse_size("1GB", &v), 0);
	cr_expect_eq(v, 1000000000ull);
	cr_expect_eq(config_parse_size("lots", &v), -1);
}
