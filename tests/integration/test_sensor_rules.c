/* test_sensor_rules.c - policies on the real sensor: the default policy
 * alerts with Falco-compatible keys, a kill action kills exactly the
 * offending process, a bad reload keeps the running policy and a good one
 * takes effect, and offline `policy check` / `policy test`. Needs root. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "integration/harness.h"

static bool match_rule(const cJSON *a, const void *arg)
{
	const cJSON *rule = json_path(a, "rule");

	return cJSON_IsString(rule) && strcmp(rule->valuestring, arg) == 0;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert(f, "cannot write %s", path);
	fputs(text, f);
	fclose(f);
}

Test(rules, default_policy_alerts_on_a_credentials_read, .timeout = 60)
{
	static const char *const args[] = { "run", "--listen", "127.0.0.1:19813", NULL };
	struct sensor_run r;
	cJSON *alert;
	const cJSON *tags;
	pid_t child;

	cr_assert(sensor_start(&r, args));
	child = fork();
	if (child == 0) {
		execl("/bin/cat", "cat", "/etc/shadow", (char *)NULL);
		_exit(91);
	}
	waitpid(child, NULL, 0);
	alert = sensor_find(&r, match_rule, "credential_file_read", 5000);
	cr_assert(alert, "no alert; stdout:\n%s\nstderr:\n%s", r.buf, r.errbuf);
	/* Falco's top-level keys, so Falco consumers take Vigil's alerts. */
	cr_expect(cJSON_IsString(json_path(alert, "time")));
	cr_expect_str_eq(json_path(alert, "priority")->valuestring, "Error");
	cr_expect_str_eq(json_path(alert, "source")->valuestring, "vigil");
	cr_expect(cJSON_IsString(json_path(alert, "hostname")));
	cr_expect(strstr(json_path(alert, "output")->valuestring, "/etc/shadow"));
	tags = json_path(alert, "tags");
	cr_expect(cJSON_IsArray(tags) && cJSON_GetArraySize(tags) > 0);
	cr_expect_eq(cJSON_GetObjectItemCaseSensitive(json_path(alert, "output_fields"), "process.pid")->valueint,
		     child);
	/* The full event rides along. */
	cr_expect_str_eq(json_path(alert, "event.open.file.path")->valuestring, "/etc/shadow");
	cr_expect_eq(json_path(alert, "event.process.pid")->valueint, child);
	cr_expect_eq(json_path(alert, "event.process.parent.pid")->valueint, getpid());
	cJSON_Delete(alert);
	cr_expect_eq(sensor_stop(&r), 0);
	sensor_free(&r);
}

Test(rules, kill_action_kills_the_offending_process_only, .timeout = 60)
{
	char dir[] = "/tmp/vigil-kill-XXXXXX", bin[128], policy[160];
	const char *args[] = { "run", "--no-default-policy", "--listen", "127.0.0.1:19814", "--policy", policy, NULL };
	struct sensor_run r;
	cJSON *alert;
	pid_t victim, bystander;
	int status;
	char cmd[512];

	cr_assert(mkdtemp(dir));
	snprintf(bin, sizeof(bin), "%s/vigil-victim", dir);
	snprintf(cmd, sizeof(cmd), "cp /bin/sleep %s", bin);
	cr_assert_eq(system(cmd), 0);
	snprintf(policy, sizeof(policy), "%s/kill.yaml", dir);
	snprintf(cmd, sizeof(cmd),
		 "version: 1.0.0\nrules:\n  - id: kill_victim\n    description: the test's victim ran\n"
		 "    expression: exec.file.path == \"%s\"\n    actions:\n      - kill:\n          signal: SIGKILL\n",
		 bin);
	write_text(policy, cmd);

	bystander = fork();
	if (bystander == 0) {
		execl("/bin/sleep", "sleep", "5", (char *)NULL);
		_exit(91);
	}
	cr_assert(sensor_start(&r, args));
	victim = fork();
	if (victim == 0) {
		execl(bin, "vigil-victim", "30", (char *)NULL);
		_exit(91);
	}
	alert = sensor_find(&r, match_rule, "kill_victim", 5000);
	cr_assert(alert, "no alert; stderr:\n%s", r.errbuf);
	cJSON_Delete(alert);
	waitpid(victim, &status, 0);
	cr_expect(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "the victim was not killed by SIGKILL");
	cr_expect_eq(waitpid(bystander, &status, WNOHANG), 0, "the bystander must still run");
	kill(bystander, SIGTERM);
	waitpid(bystander, NULL, 0);
	cr_expect_eq(sensor_stop(&r), 0);
	sensor_free(&r);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_expect_eq(system(cmd), 0);
}

static void run_marker(const char *marker)
{
	pid_t child = fork();

	if (child == 0) {
		execl("/bin/true", "true", marker, (char *)NULL);
		_exit(91);
	}
	waitpid(child, NULL, 0);
}

Test(rules, reload_rejects_a_bad_policy_and_applies_a_good_one, .timeout = 90)
{
	char dir[] = "/tmp/vigil-reload-XXXXXX", policy[160], text[512];
	const char *args[] = { "run", "--no-default-policy", "--listen", "127.0.0.1:19815", "--policy", policy, NULL };
	struct sensor_run r;
	cJSON *alert;

	cr_assert(mkdtemp(dir));
	snprintf(policy, sizeof(policy), "%s/p.yaml", dir);
	write_text(policy, "version: 1.0.0\nrules:\n  - id: first\n"
			   "    expression: exec.args in [\"vigil-reload-one\"]\n");
	cr_assert(sensor_start(&r, args));
	run_marker("vigil-reload-one");
	alert = sensor_find(&r, match_rule, "first", 5000);
	cr_assert(alert, "the first policy did not alert; stderr:\n%s", r.errbuf);
	cJSON_Delete(alert);

	/* A broken file: rejected, with its position; "first" keeps working. */
	write_text(policy, "version: 1.0.0\nrules:\n  - id: first\n    expression: exec.nope == 1\n");
	kill(r.pid, SIGHUP);
	for (int i = 0; i < 50 && !(r.errbuf && strstr(r.errbuf, "reload rejected")); i++)
		sensor_pump(&r, 100);
	cr_assert(strstr(r.errbuf, "reload rejected"), "stderr:\n%s", r.errbuf);
	cr_expect(strstr(r.errbuf, "p.yaml:4:"), "the error should name file:line: %s", r.errbuf);
	free(r.buf);
	r.buf = NULL;
	r.len = r.cap = 0;
	run_marker("vigil-reload-one");
	alert = sensor_find(&r, match_rule, "first", 5000);
	cr_expect(alert, "the old policy stopped working after a rejected reload");
	cJSON_Delete(alert);

	/* A good file: noticed by its change, no signal needed. */
	write_text(policy, "version: 1.0.0\nrules:\n  - id: second\n"
			   "    expression: exec.args in [\"vigil-reload-two\"]\n");
	for (int i = 0; i < 50 && !strstr(r.errbuf, "rules active after reload"); i++)
		sensor_pump(&r, 100);
	cr_assert(strstr(r.errbuf, "rules active after reload"), "stderr:\n%s", r.errbuf);
	/* The pipeline adopts the new rules between two batches (~10 ms);
	 * events before that are judged by the old ones, none is lost. */
	usleep(300 * 1000);
	run_marker("vigil-reload-two");
	alert = sensor_find(&r, match_rule, "second", 5000);
	cr_expect(alert, "the new policy did not alert; stderr:\n%s\nstdout:\n%s", r.errbuf, r.buf ? r.buf : "");
	cJSON_Delete(alert);
	cr_expect_eq(sensor_stop(&r), 0);
	sensor_free(&r);
	snprintf(text, sizeof(text), "rm -rf %s", dir);
	cr_expect_eq(system(text), 0);
}

static int run_capture(const char *cmd, char *out, size_t len)
{
	FILE *p = popen(cmd, "r");
	size_t n;

	cr_assert(p);
	n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	return WEXITSTATUS(pclose(p));
}

Test(rules, policy_check_reports_file_line_column)
{
	char out[8192];

	cr_expect_eq(run_capture("\"${VIGIL:-build/vigil}\" policy check tests/fixtures/policies/errors.yaml 2>&1",
				 out, sizeof(out)), 1);
	cr_expect(strstr(out, "tests/fixtures/policies/errors.yaml:6:46: rule 'quoted_error': unknown field 'open.nope'"),
		  "got: %s", out);
	cr_expect_eq(run_capture("\"${VIGIL:-build/vigil}\" policy check tests/fixtures/policies/base.yaml 2>&1",
				 out, sizeof(out)), 0, "got: %s", out);
	cr_expect(strstr(out, "ok: "), "got: %s", out);
}

Test(rules, policy_test_replays_recorded_events)
{
	char out[65536];

	write_text("/tmp/vigil-policy-test.yaml",
		   "version: 1.0.0\nrules:\n  - id: echo_ran\n    expression: exec.file.name == \"echo\" && "
		   "process.parent.pid == 5000\n");
	cr_expect_eq(run_capture("\"${VIGIL:-build/vigil}\" policy test --no-default-policy "
				 "--policy /tmp/vigil-policy-test.yaml "
				 "--events tests/fixtures/events/echo_exec_exit.jsonl 2>/dev/null", out, sizeof(out)), 0);
	cr_expect(strstr(out, "\"rule\":\"echo_ran\""), "got: %s", out);
	unlink("/tmp/vigil-policy-test.yaml");
}

static double metric(const char *listen, const char *series)
{
	char cmd[256], out[1 << 16], *p;
	size_t n = strlen(series);

	snprintf(cmd, sizeof(cmd), "curl -s http://%s/metrics", listen);
	run_capture(cmd, out, sizeof(out));
	for (p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	}
	return -1;
}

/* A policy that watches one file: opens of other files stay in the kernel
 * (the approver counter moves, the delivered counter barely does), and
 * opening the watched file still alerts. */
Test(rules, kernel_filters_opens_no_rule_can_match, .timeout = 60)
{
	char dir[] = "/tmp/vigil-approve-XXXXXX", policy[160], watched[160], other[160], text[512];
	const char *args[] = { "run", "--no-default-policy", "--no-cri", "--listen", "127.0.0.1:19817",
			       "--policy", policy, NULL };
	double delivered_before, delivered_after, filtered_before, filtered_after;
	struct sensor_run r;
	cJSON *alert;
	int fd;

	cr_assert(mkdtemp(dir));
	snprintf(policy, sizeof(policy), "%s/p.yaml", dir);
	snprintf(watched, sizeof(watched), "%s/watched-secret", dir);
	snprintf(other, sizeof(other), "%s/other-file", dir);
	write_text(watched, "s");
	write_text(other, "o");
	snprintf(text, sizeof(text), "version: 1.0.0\nrules:\n  - id: watched_open\n"
				     "    expression: open.file.path == \"%s\"\n", watched);
	write_text(policy, text);
	cr_assert(sensor_start(&r, args));
	cr_expect(strstr(r.errbuf, "open approvers: flags 0x0 or one of 1 names"), "stderr:\n%s", r.errbuf);

	delivered_before = metric("127.0.0.1:19817", "vigil_events_total{type=\"open\"}");
	filtered_before = metric("127.0.0.1:19817", "vigil_kernel_filtered_total{reason=\"approver\",type=\"open\"}");
	for (int i = 0; i < 20000; i++) {
		fd = open(other, O_RDONLY);
		cr_assert_geq(fd, 0);
		close(fd);
	}
	usleep(300 * 1000);
	delivered_after = metric("127.0.0.1:19817", "vigil_events_total{type=\"open\"}");
	filtered_after = metric("127.0.0.1:19817", "vigil_kernel_filtered_total{reason=\"approver\",type=\"open\"}");
	cr_expect_geq(filtered_after - filtered_before, 20000, "filtered %f -> %f", filtered_before, filtered_after);
	/* Other processes on the machine may open a few files of their own. */
	cr_expect_lt(delivered_after - delivered_before, 2000, "delivered %f -> %f", delivered_before,
		     delivered_after);

	fd = open(watched, O_RDONLY);
	cr_assert_geq(fd, 0);
	close(fd);
	alert = sensor_find(&r, match_rule, "watched_open", 5000);
	cr_expect(alert, "opening the watched file did not alert");
	cJSON_Delete(alert);
	cr_expect_eq(sensor_stop(&r), 0);
	sensor_free(&r);
	snprintf(text, sizeof(text), "rm -rf %s", dir);
	cr_expect_eq(system(text), 0);
}

/* Discarders: writes to a file no rule can match are dropped in the kernel
 * once user space has proved it; renaming that file under a watched
 * directory invalidates the proof, and the next write alerts. */
Test(rules, discarders_drop_proved_files_until_a_rename, .timeout = 60)
{
	char dir[] = "/tmp/vigil-discard-XXXXXX", policy[160], text[512], other[200], moved[200], wdir[180];
	const char *args[] = { "run", "--no-default-policy", "--no-cri", "--listen", "127.0.0.1:19822",
			       "--policy", policy, NULL };
	double discarded0, discarded1;
	struct sensor_run r;
	cJSON *alert;
	int fd;

	cr_assert(mkdtemp(dir));
	snprintf(policy, sizeof(policy), "%s/p.yaml", dir);
	snprintf(wdir, sizeof(wdir), "%s/watched", dir);
	snprintf(other, sizeof(other), "%s/plain-file", dir);
	snprintf(moved, sizeof(moved), "%s/plain-file", wdir);
	cr_assert_eq(mkdir(wdir, 0755), 0);
	write_text(other, "x");
	snprintf(text, sizeof(text), "version: 1.0.0\nrules:\n  - id: watched_write\n"
				     "    expression: open.file.path =~ \"%s/**\" && open.flags & O_WRONLY > 0\n", wdir);
	write_text(policy, text);
	cr_assert(sensor_start(&r, args));

	discarded0 = metric("127.0.0.1:19822", "vigil_kernel_filtered_total{reason=\"discarder\",type=\"open\"}");
	for (int i = 0; i < 5000; i++) {
		fd = open(other, O_WRONLY);
		cr_assert_geq(fd, 0);
		close(fd);
	}
	usleep(300 * 1000);
	discarded1 = metric("127.0.0.1:19822", "vigil_kernel_filtered_total{reason=\"discarder\",type=\"open\"}");
	cr_expect_geq(discarded1 - discarded0, 4000, "discarded %f -> %f", discarded0, discarded1);
	cr_expect_geq(metric("127.0.0.1:19822", "vigil_discarders_added_total"), 1);

	/* The same inode under a watched path: the proof no longer holds. */
	cr_assert_eq(rename(other, moved), 0);
	fd = open(moved, O_WRONLY);
	cr_assert_geq(fd, 0);
	close(fd);
	alert = sensor_find(&r, match_rule, "watched_write", 5000);
	cr_expect(alert, "a write to the renamed file was hidden by a stale discarder");
	cJSON_Delete(alert);
	cr_expect_eq(sensor_stop(&r), 0);
	sensor_free(&r);
	snprintf(text, sizeof(text), "rm -rf %s", dir);
	cr_expect_eq(system(text), 0);
}

/* A kill rule that names an executable exactly is decided in the kernel at
 * exec: the program never runs a single instruction (the file it would
 * create never appears), and the event says so. */
Test(rules, exact_exec_kill_happens_in_the_kernel_before_the_program_runs, .timeout = 60)
{
	char dir[] = "/tmp/vigil-kkill-XXXXXX", bin[128], policy[160], marker[160], cmd[512];
	const char *args[] = { "run", "--no-default-policy", "--no-cri", "--listen", "127.0.0.1:19823",
			       "--policy", policy, NULL };
	struct sensor_run r;
	struct stat st;
	cJSON *alert;
	pid_t victim;
	int status;

	cr_assert(mkdtemp(dir));
	snprintf(bin, sizeof(bin), "%s/vigil-touch", dir);
	snprintf(marker, sizeof(marker), "%s/created-by-victim", dir);
	snprintf(policy, sizeof(policy), "%s/kill.yaml", dir);
	snprintf(cmd, sizeof(cmd), "cp /bin/touch %s", bin);
	cr_assert_eq(system(cmd), 0);
	snprintf(cmd, sizeof(cmd),
		 "version: 1.0.0\nrules:\n  - id: kill_touch\n    expression: exec.file.path == \"%s\"\n"
		 "    actions:\n      - kill:\n          signal: SIGKILL\n", bin);
	write_text(policy, cmd);
	cr_assert(sensor_start(&r, args));
	cr_expect(strstr(r.errbuf, "kill list: 1 executables"), "stderr:\n%s", r.errbuf);

	victim = fork();
	if (victim == 0) {
		execl(bin, "vigil-touch", marker, (char *)NULL);
		_exit(91);
	}
	waitpid(victim, &status, 0);
	cr_expect(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "the victim was not killed (status %d)",
		  status);
	cr_expect_neq(stat(marker, &st), 0, "the victim ran: it created %s", marker);
	alert = sensor_find(&r, match_rule, "kill_touch", 5000);
	cr_assert(alert, "no alert; stderr:\n%s", r.errbuf);
	cr_expect(cJSON_IsTrue(json_path(alert, "event.exec.killed_in_kernel")));
	cJSON_Delete(alert);
	cr_expect_eq(sensor_stop(&r), 0);
	sensor_free(&r);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_expect_eq(system(cmd), 0);
}

/* Rule matches and rate-limited alerts are in /metrics, by rule id. */
Test(rules, matches_and_suppressed_alerts_are_counted_by_rule, .timeout = 60)
{
	char dir[] = "/tmp/vigil-rulemetrics-XXXXXX", policy[160], text[256];
	const char *args[] = { "run", "--no-default-policy", "--no-cri", "--listen", "127.0.0.1:19824",
			       "--policy", policy, NULL };
	struct sensor_run r;
	double matches, suppressed;

	cr_assert(mkdtemp(dir));
	snprintf(policy, sizeof(policy), "%s/p.yaml", dir);
	write_text(policy, "version: 1.0.0\nrules:\n  - id: marker_exec\n"
			   "    expression: exec.args in [\"vigil-rule-metrics\"]\n");
	cr_assert(sensor_start(&r, args));
	/* 80 matches in a burst: the bucket (50, 10/s) lets about 50 through. */
	for (int i = 0; i < 80; i++)
		run_marker("vigil-rule-metrics");
	usleep(500 * 1000);
	matches = metric("127.0.0.1:19824", "vigil_rule_matches_total{rule=\"marker_exec\"}");
	suppressed = metric("127.0.0.1:19824", "vigil_alerts_suppressed_total{rule=\"marker_exec\"}");
	cr_expect_eq(matches, 80, "matches %f", matches);
	cr_expect_geq(suppressed, 5, "suppressed %f", suppressed);
	cr_expect_leq(suppressed, 30, "suppressed %f", suppressed);
	cr_expect_geq(metric("127.0.0.1:19824", "vigil_rule_evaluations_total"), 80);
	cr_expect_eq(sensor_stop(&r), 0);
	sensor_free(&r);
	snprintf(text, sizeof(text), "rm -rf %s", dir);
	cr_expect_eq(system(text), 0);
}
