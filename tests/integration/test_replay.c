/* test_replay.c - `vigil events --replay`: recorded events go through the
 * same pipeline as live ones (ancestry from the recording, the process
 * cache filling exit events), and bad lines are reported by file:line and
 * skipped. Needs no root. */
#include <criterion/criterion.h>

#include "integration/harness.h"

#define FIXTURE "tests/fixtures/events/echo_exec_exit.jsonl"

static bool match_name(const cJSON *ev, const void *arg)
{
	const cJSON *name = json_path(ev, "evt.name");

	return cJSON_IsString(name) && strcmp(name->valuestring, arg) == 0;
}

Test(replay, recorded_events_flow_through_the_pipeline, .timeout = 30)
{
	static const char *const args[] = { "events", "--replay", FIXTURE, NULL };
	struct sensor_run r;
	cJSON *exec_ev, *exit_ev;
	const cJSON *anc;

	cr_assert(sensor_start(&r, args));
	exec_ev = sensor_find(&r, match_name, "exec", 5000);
	exit_ev = sensor_find(&r, match_name, "exit", 5000);
	cr_assert(exec_ev && exit_ev, "output:\n%s\nstderr:\n%s", r.buf, r.errbuf);

	cr_expect_eq(json_path(exec_ev, "process.pid")->valueint, 5001);
	cr_expect_str_eq(json_path(exec_ev, "process.file.path")->valuestring, "/usr/bin/echo");
	cr_expect_str_eq(json_path(exec_ev, "date")->valuestring, "2026-11-30T08:57:25.320762453Z");
	anc = json_path(exec_ev, "process.ancestors");
	cr_assert_eq(cJSON_GetArraySize(anc), 2);
	cr_expect_eq(json_path(cJSON_GetArrayItem(anc, 0), "pid")->valueint, 5000);
	cr_expect_eq(json_path(cJSON_GetArrayItem(anc, 1), "pid")->valueint, 4000);

	/* The recorded exit names only the pid; the cache knows the rest. */
	cr_expect_eq(json_path(exit_ev, "exit.code")->valueint, 4);
	cr_expect_str_eq(json_path(exit_ev, "process.file.path")->valuestring, "/usr/bin/echo");
	cr_expect_str_eq(json_path(exit_ev, "process.argv0")->valuestring, "/bin/echo");

	cr_expect_eq(sensor_stop(&r), 0);
	cr_expect(strstr(r.errbuf, FIXTURE ":2: skipped: \"process\" must be an object"), "stderr:\n%s",
		  r.errbuf);
	cr_expect(strstr(r.errbuf, FIXTURE ":3: skipped: invalid JSON"), "stderr:\n%s", r.errbuf);
	cJSON_Delete(exec_ev);
	cJSON_Delete(exit_ev);
	sensor_free(&r);
}

Test(replay, missing_file_is_a_clear_error, .timeout = 30)
{
	FILE *p = popen("\"${VIGIL:-build/vigil}\" events --replay /nonexistent/rec.jsonl 2>&1", "r");
	char out[4096] = "";
	size_t n;
	int status;

	cr_assert(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	status = pclose(p);
	cr_expect_neq(WEXITSTATUS(status), 0);
	cr_expect(strstr(out, "/nonexistent/rec.jsonl: No such file or directory"), "got: %s", out);
}

Test(cli, bad_arguments_are_rejected_with_a_reason)
{
	FILE *p = popen("\"${VIGIL:-build/vigil}\" events --types exec,teleport 2>&1", "r");
	char out[4096] = "";
	size_t n;
	int status;

	cr_assert(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	status = pclose(p);
	cr_expect_eq(WEXITSTATUS(status), 2);
	cr_expect(strstr(out, "unknown event type \"teleport\""), "got: %s", out);
}
