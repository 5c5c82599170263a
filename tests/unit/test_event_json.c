/* test_event_json.c - the JSON writer's escaping, and events written then
 * read back (what the replay platform relies on). */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <string.h>

#include "clock.h"
#include "event_json.h"
#include "json_writer.h"

Test(json_writer, nesting_commas_and_escaping)
{
	struct json_writer w;

	json_init(&w);
	json_object_begin(&w);
	json_key(&w, "a");
	json_uint(&w, 1);
	json_key(&w, "s");
	json_string(&w, "q\"b\\n\n\t\x01");
	json_key(&w, "arr");
	json_array_begin(&w);
	json_int(&w, -2);
	json_bool(&w, true);
	json_null(&w);
	json_object_begin(&w);
	json_object_end(&w);
	json_array_end(&w);
	json_object_end(&w);
	json_raw(&w, "", 0);
	cr_assert_not(w.oom);
	cr_expect_eq(strncmp(w.buf, "{\"a\":1,\"s\":\"q\\\"b\\\\n\\n\\t\\u0001\",\"arr\":[-2,true,null,{}]}", w.len), 0,
		     "got %.*s", (int)w.len, w.buf);
	json_free(&w);
}

Test(json_writer, invalid_utf8_becomes_replacement_character)
{
	struct json_writer w;
	cJSON *doc;

	json_init(&w);
	json_array_begin(&w);
	json_string(&w, "ok \xc3\xa9 bad \xff\xfe \xe2\x82 end"); /* é valid; ff fe and cut e2 82 invalid */
	json_array_end(&w);
	json_raw(&w, "\0", 1);
	doc = cJSON_Parse(w.buf);
	cr_assert(doc, "not valid JSON: %s", w.buf);
	cr_expect_str_eq(cJSON_GetArrayItem(doc, 0)->valuestring,
			 "ok \xc3\xa9 bad \xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd end");
	cJSON_Delete(doc);
	json_free(&w);
}

static struct process sample_process(void)
{
	struct process p;

	memset(&p, 0, sizeof(p));
	p.pid = 4242;
	p.tid = 4242;
	p.ppid = 100;
	p.start_ns = 1000000000ull * 50;
	p.exec_ns = 1000000000ull * 60;
	p.cred = (struct credentials){ .uid = 1000, .gid = 1001, .euid = 0, .egid = 0, .fsuid = 5,
				       .fsgid = 6, .auid = 1000, .cap_effective = (1ull << 21) | 1,
				       .cap_permitted = 1ull << 7 };
	p.cgroup_id = 9876;
	p.mntns = 4026531840u;
	strcpy(p.comm, "curl");
	p.path = "/usr/bin/curl";
	p.inode = 31337;
	p.mount_id = 22;
	p.args = "curl\0-s\0http://x y";
	p.args_len = 19;
	p.argc = 3;
	return p;
}

Test(event_json, exec_written_then_read_back)
{
	struct event ev;
	struct process parent;
	const struct process *ancestors[1];
	struct event_view view;
	struct json_writer w;
	static struct event_json_record rec;
	char err[256];

	memset(&ev, 0, sizeof(ev));
	ev.type = EVENT_EXEC;
	ev.timestamp_ns = 1000000000ull * 60 + 123;
	ev.process = sample_process();
	ev.exec.syscall_path = "curl";
	parent = sample_process();
	parent.pid = 100;
	parent.ppid = 1;
	parent.path = "/usr/bin/bash";
	parent.args = "bash\0";
	parent.args_len = 5;
	ancestors[0] = &parent;
	view = (struct event_view){ .event = &ev, .process = &ev.process, .ancestors = ancestors,
				    .n_ancestors = 1, .hostname = "node-1" };
	json_init(&w);
	event_json_write(&w, &view);
	cr_assert_not(w.oom);

	cr_assert_eq(event_json_parse(w.buf, w.len, &rec, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(rec.event.type, EVENT_EXEC);
	/* Times survive the boot -> wall -> boot trip. */
	cr_expect_eq(rec.event.timestamp_ns, ev.timestamp_ns);
	cr_expect_eq(rec.event.process.start_ns, ev.process.start_ns);
	cr_expect_eq(rec.event.process.pid, 4242);
	cr_expect_eq(rec.event.process.ppid, 100);
	cr_expect_eq(rec.event.process.cred.uid, 1000);
	cr_expect_eq(rec.event.process.cred.gid, 1001);
	cr_expect_eq(rec.event.process.cred.fsuid, 5);
	cr_expect_eq(rec.event.process.cred.auid, 1000);
	cr_expect_eq(rec.event.process.cred.cap_effective, (1ull << 21) | 1);
	cr_expect_eq(rec.event.process.cred.cap_permitted, 1ull << 7);
	cr_expect_eq(rec.event.process.cgroup_id, 9876);
	cr_expect_eq(rec.event.process.mntns, 4026531840u);
	cr_expect_eq(rec.event.process.inode, 31337);
	cr_expect_str_eq(rec.event.process.comm, "curl");
	cr_expect_str_eq(rec.event.process.path, "/usr/bin/curl");
	cr_expect_eq(rec.event.process.argc, 3);
	cr_expect_eq(rec.event.process.args_len, 19);
	cr_expect_eq(memcmp(rec.event.process.args, "curl\0-s\0http://x y", 19), 0);
	cr_expect_str_eq(rec.event.exec.syscall_path, "curl");
	cr_assert_eq(rec.n_ancestors, 1);
	cr_expect_eq(rec.ancestors[0].pid, 100);
	cr_expect_str_eq(rec.ancestors[0].path, "/usr/bin/bash");
	cr_expect_eq(rec.event.process.parent_start_ns, rec.ancestors[0].start_ns);
	json_free(&w);
}

Test(event_json, exit_written_then_read_back)
{
	struct event ev;
	struct event_view view;
	struct json_writer w;
	static struct event_json_record rec;
	char err[256];

	memset(&ev, 0, sizeof(ev));
	ev.type = EVENT_EXIT;
	ev.timestamp_ns = 1000000000ull * 70;
	ev.process = sample_process();
	ev.exit.cause = EXIT_SIGNALED;
	ev.exit.code = 9;
	view = (struct event_view){ .event = &ev, .process = &ev.process };
	json_init(&w);
	event_json_write(&w, &view);
	cr_assert_eq(event_json_parse(w.buf, w.len, &rec, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(rec.event.type, EVENT_EXIT);
	cr_expect_eq(rec.event.exit.cause, EXIT_SIGNALED);
	cr_expect_eq(rec.event.exit.code, 9);
	json_free(&w);
}

Test(event_json, bad_lines_are_errors_with_reasons)
{
	static struct event_json_record rec;
	char err[256];
	const struct { const char *line, *reason; } cases[] = {
		{ "not json", "invalid JSON" },
		{ "[1,2]", "not a JSON object" },
		{ "{\"process\":{\"pid\":1}}", "evt.name" },
		{ "{\"evt\":{\"name\":\"teleport\"},\"process\":{\"pid\":1}}", "unknown event type" },
		{ "{\"evt\":{\"name\":\"exec\"}}", "\"process\" is missing" },
		{ "{\"evt\":{\"name\":\"exec\"},\"process\":{\"pid\":-4}}", "pid" },
		{ "{\"evt\":{\"name\":\"exec\"},\"process\":{\"pid\":5000000000}}", "out of range" },
		{ "{\"evt\":{\"name\":\"exec\"},\"process\":{\"pid\":1,\"fork_time\":\"yesterday\"}}", "RFC 3339" },
		{ "{\"evt\":{\"name\":\"exec\"},\"process\":{\"pid\":1,\"argv0\":3}}", "argv0" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		cr_expect_eq(event_json_parse(cases[i].line, strlen(cases[i].line), &rec, err, sizeof(err)), -1,
			     "accepted: %s", cases[i].line);
		cr_expect(strstr(err, cases[i].reason), "for %s: error \"%s\" lacks \"%s\"", cases[i].line,
			  err, cases[i].reason);
	}
}

Test(clock, rfc3339_round_trip)
{
	char buf[64];
	uint64_t back = 0;

	cr_assert_gt(clock_format_rfc3339(1796029045320762453ull, buf, sizeof(buf)), 0);
	cr_expect_str_eq(buf, "2026-11-30T08:57:25.320762453Z");
	cr_assert_eq(clock_parse_rfc3339(buf, &back), 0);
	cr_expect_eq(back, 1796029045320762453ull);
	cr_assert_eq(clock_parse_rfc3339("2026-11-30T08:57:25.5Z", &back), 0);
	cr_expect_eq(back % 1000000000ull, 500000000ull);
	cr_expect_eq(clock_parse_rfc3339("2026-11-30 08:57:25Z", &back), -1);
	cr_expect_eq(clock_parse_rfc3339("2026-11-30T08:57:25.Z", &back), -1);
	cr_expect_eq(clock_parse_rfc3339("2026-11-30T08:57:25+01:00", &back), -1);
}

Test(event_json, syscall_events_written_then_read_back)
{
	struct event ev;
	struct event_view view;
	struct json_writer w;
	static struct event_json_record rec;
	char err[256];
	const uint8_t ip[4] = { 10, 1, 2, 3 };

	memset(&ev, 0, sizeof(ev));
	ev.type = EVENT_OPEN;
	ev.timestamp_ns = 1000000000ull * 80;
	ev.process = sample_process();
	ev.syscall.name = "openat";
	ev.syscall.nr = 257;
	ev.syscall.retval = -13;
	ev.syscall.flags = 0x241;
	ev.syscall.mode = 0644;
	ev.syscall.present = SYSCALL_HAS_FLAGS | SYSCALL_HAS_MODE;
	ev.syscall.file = (struct file_ref){ .path = "/etc/shadow", .source = PATH_FROM_ARG };
	view = (struct event_view){ .event = &ev, .process = &ev.process };
	json_init(&w);
	event_json_write(&w, &view);
	cr_assert_eq(event_json_parse(w.buf, w.len, &rec, err, sizeof(err)), 0, "%s in %.*s", err, (int)w.len, w.buf);
	cr_expect_eq(rec.event.type, EVENT_OPEN);
	cr_expect_str_eq(rec.event.syscall.file.path, "/etc/shadow");
	cr_expect_eq(rec.event.syscall.file.source, PATH_FROM_ARG);
	cr_expect_eq(rec.event.syscall.retval, -13);
	cr_expect_eq(rec.event.syscall.flags, 0x241);
	cr_expect_eq(rec.event.syscall.mode, 0644);
	cr_expect_str_eq(rec.event.syscall.name, "openat");

	memset(&ev.syscall, 0, sizeof(ev.syscall));
	ev.type = EVENT_CONNECT;
	ev.syscall.name = "connect";
	ev.syscall.addr.family = 2;
	ev.syscall.addr.port = 4444;
	memcpy(ev.syscall.addr.ip, ip, 4);
	json_reset(&w);
	event_json_write(&w, &view);
	cr_assert_eq(event_json_parse(w.buf, w.len, &rec, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(rec.event.type, EVENT_CONNECT);
	cr_expect_eq(rec.event.syscall.addr.family, 2);
	cr_expect_eq(rec.event.syscall.addr.port, 4444);
	cr_expect_eq(memcmp(rec.event.syscall.addr.ip, ip, 4), 0);
	json_free(&w);
}

Test(clock, calendar_edges)
{
	char buf[64];

	cr_assert_gt(clock_format_rfc3339(0, buf, sizeof(buf)), 0);
	cr_expect_str_eq(buf, "1970-01-01T00:00:00.000000000Z");
	clock_format_rfc3339(951782400ull * 1000000000ull + 7, buf, sizeof(buf));
	cr_expect_str_eq(buf, "2000-02-29T00:00:00.000000007Z");
	clock_format_rfc3339(4102444800ull * 1000000000ull, buf, sizeof(buf));
	cr_expect_str_eq(buf, "2100-01-01T00:00:00.000000000Z");
	/* the last second before 2500, near the top of 64-bit nanoseconds */
	clock_format_rfc3339(16725225599ull * 1000000000ull + 999999999ull, buf, sizeof(buf));
	cr_expect_str_eq(buf, "2499-12-31T23:59:59.999999999Z");
	cr_expect_eq(clock_format_rfc3339(0, buf, 10), 0, "a short buffer must be refused");
}
