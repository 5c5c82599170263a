/* test_secl.c - unit tests for the SECL rule engine (sensor/secl*.c): the
 * language, error positions, multi-valued fields, macros, the ruleset
 * index, approvers and discarders. Uses the fake schema in
 * secl_test_schema.h. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "secl_test_schema.h"

static struct test_event sample(void)
{
	struct test_event e = {
		.open_path = "/etc/shadow",
		.open_flags = 64 | 2, /* O_CREAT | O_RDWR */
		.exec_path = "/usr/bin/nc",
		.connect_port = 443,
		.chmod_path = "/tmp/x",
		.chmod_mode = 0755,
		.proc_name = "bash",
		.proc_path = "/bin/bash",
		.pid = 1234,
		.uid = 1000,
		.created_at = 7000000000LL, /* 7 s */
		.container_id = "abc123",
		.args = { "-c", "curl http://x | sh", "--verbose" },
		.n_args = 3,
		.ancestors = { "sshd", "systemd" },
		.n_ancestors = 2,
	};
	secl_ip_parse(&e.connect_ip, "10.1.2.3");
	return e;
}

/* Compiles expr alone and evaluates it on ev as event type type. */
static bool holds_on(const char *expr, int type, const struct test_event *ev)
{
	struct secl_ruleset *rs = secl_ruleset_new(&test_schema);
	struct secl_error err;

	cr_assert_not_null(rs);
	int idx = secl_ruleset_add(rs, "r", expr, NULL, &err);
	cr_assert_geq(idx, 0, "'%s' failed to compile: %d:%d: %s", expr, err.line, err.column, err.msg);
	int n = secl_ruleset_eval(rs, type, ev, NULL, NULL);
	cr_assert_geq(n, 0);
	secl_ruleset_free(rs);
	return n == 1;
}

static bool holds(const char *expr, int type)
{
	struct test_event e = sample();

	return holds_on(expr, type, &e);
}

static void expect_error(const char *expr, enum secl_error_code code, int line, int col,
			 const char *substr)
{
	struct secl_ruleset *rs = secl_ruleset_new(&test_schema);
	struct secl_error err;

	int idx = secl_ruleset_add(rs, "r", expr, NULL, &err);
	cr_assert_eq(idx, -1, "'%s' compiled but should not", expr);
	cr_expect_eq(err.code, code, "'%s': code %d (%s), want %d", expr, err.code, err.msg, code);
	cr_expect_eq(err.line, line, "'%s': line %d, want %d (%s)", expr, err.line, line, err.msg);
	cr_expect_eq(err.column, col, "'%s': column %d, want %d (%s)", expr, err.column, col, err.msg);
	if (substr)
		cr_expect(strstr(err.msg, substr) != NULL, "'%s': message '%s' lacks '%s'",
			  expr, err.msg, substr);
	cr_expect_eq(secl_ruleset_count(rs), 0);
	secl_ruleset_free(rs);
}

Test(secl, comparison_operators)
{
	cr_expect(holds("open.file.path == \"/etc/shadow\"", TEV_OPEN));
	cr_expect(!holds("open.file.path == \"/etc/passwd\"", TEV_OPEN));
	cr_expect(holds("open.file.path != \"/etc/passwd\"", TEV_OPEN));
	cr_expect(!holds("open.file.path != \"/etc/shadow\"", TEV_OPEN));
	cr_expect(holds("process.pid < 1235", TEV_OPEN));
	cr_expect(!holds("process.pid < 1234", TEV_OPEN));
	cr_expect(holds("process.pid <= 1234", TEV_OPEN));
	cr_expect(holds("process.pid > 1233", TEV_OPEN));
	cr_expect(!holds("process.pid > 1234", TEV_OPEN));
	cr_expect(holds("process.pid >= 1234", TEV_OPEN));
	cr_expect(!holds("process.pid >= 1235", TEV_OPEN));
	/* constant on the left is mirrored */
	cr_expect(holds("1235 > process.pid", TEV_OPEN));
	cr_expect(!holds("1234 > process.pid", TEV_OPEN));
	cr_expect(holds("\"bash\" == process.file.name", TEV_OPEN));
	cr_expect(holds("open.file.path =~ \"/etc/*\"", TEV_OPEN));
	cr_expect(holds("open.file.path =~ ~\"/etc/sh*\"", TEV_OPEN));
	cr_expect(!holds("open.file.path !~ \"/etc/*\"", TEV_OPEN));
	cr_expect(holds("open.file.path !~ \"/usr/*\"", TEV_OPEN));
	cr_expect(holds("open.file.path == ~\"/etc/*\"", TEV_OPEN));
	cr_expect(holds("process.file.name in [\"zsh\", \"bash\"]", TEV_OPEN));
	cr_expect(!holds("process.file.name in [\"zsh\", \"sh\"]", TEV_OPEN));
	cr_expect(holds("process.file.name not in [\"zsh\", \"sh\"]", TEV_OPEN));
	cr_expect(!holds("process.file.name not in [\"zsh\", \"bash\"]", TEV_OPEN));
	cr_expect(holds("open.file.in_upper_layer == false", TEV_OPEN));
	cr_expect(!holds("open.file.in_upper_layer", TEV_OPEN));
	cr_expect(holds("!open.file.in_upper_layer", TEV_OPEN));
	/* field against field */
	cr_expect(holds("process.pid > process.uid", TEV_OPEN));
	cr_expect(!holds("process.pid == process.uid", TEV_OPEN));
	cr_expect(holds("process.file.path != open.file.path", TEV_OPEN));
}

Test(secl, bit_and_arithmetic_operators)
{
	cr_expect(holds("open.flags & O_CREAT > 0", TEV_OPEN));
	cr_expect(holds("open.flags & O_CREAT == O_CREAT", TEV_OPEN));
	cr_expect(!holds("open.flags & O_TRUNC > 0", TEV_OPEN));
	cr_expect(holds("open.flags & (O_TRUNC | O_CREAT) != 0", TEV_OPEN));
	cr_expect(holds("open.flags | O_TRUNC == 578", TEV_OPEN));
	cr_expect(holds("open.flags ^ O_RDWR == O_CREAT", TEV_OPEN));
	cr_expect(holds("process.pid + 6 == 1240", TEV_OPEN));
	cr_expect(holds("process.pid - 34 == 1200", TEV_OPEN));
	cr_expect(holds("-process.pid == -1234", TEV_OPEN));
	cr_expect(holds("^process.uid == -1001", TEV_OPEN));
	cr_expect(holds("process.uid == -(-1000)", TEV_OPEN));
	cr_expect(holds("process.uid == 0x3e8", TEV_OPEN));
	cr_expect(holds("chmod.file.destination.mode == 0755", TEV_CHMOD));
	cr_expect(holds("chmod.file.destination.mode & S_IXUSR != 0", TEV_CHMOD));
}

Test(secl, boolean_operators_and_precedence)
{
	cr_expect(holds("process.pid == 1234 && process.uid == 1000", TEV_OPEN));
	cr_expect(!holds("process.pid == 1234 and process.uid == 0", TEV_OPEN));
	cr_expect(holds("process.pid == 1 || process.uid == 1000", TEV_OPEN));
	cr_expect(!holds("process.pid == 1 or process.uid == 0", TEV_OPEN));
	cr_expect(holds("not process.pid == 1", TEV_OPEN));
	cr_expect(!holds("not (process.pid == 1234)", TEV_OPEN));
	cr_expect(holds("!(process.pid == 1) && !(process.uid == 1)", TEV_OPEN));
	/* && binds tighter than ||: (false && x) || true */
	cr_expect(holds("process.pid == 1 && process.uid == 0 || process.uid == 1000", TEV_OPEN));
	cr_expect(!holds("process.pid == 1 && (process.uid == 0 || process.uid == 1000)", TEV_OPEN));
	/* not binds tighter than && */
	cr_expect(holds("not process.pid == 1 && process.uid == 1000", TEV_OPEN));
	cr_expect(!holds("not (process.pid == 1234 && process.uid == 1000)", TEV_OPEN));
	/* bit operators bind tighter than + and -, as in SECL: 1 + (6 & 3) */
	cr_expect(holds("process.uid + 6 & 3 == 1002", TEV_OPEN));
	/* comparisons bind tighter than && */
	cr_expect(holds("process.uid == 1000 && open.flags & O_CREAT > 0", TEV_OPEN));
	cr_expect(holds("true", TEV_OPEN));
	cr_expect(!holds("false", TEV_OPEN));
	cr_expect(holds("true == (process.pid == 1234)", TEV_OPEN));
}

Test(secl, lists)
{
	cr_expect(holds("process.uid in [0, 1000]", TEV_OPEN));
	cr_expect(!holds("process.uid in [0, 1, 2]", TEV_OPEN));
	cr_expect(holds("process.uid in [O_RDONLY, 999 + 1]", TEV_OPEN));
	cr_expect(holds("open.file.path in [\"/etc/passwd\", ~\"/etc/sh*\"]", TEV_OPEN));
	cr_expect(holds("open.file.path in [\"/etc/passwd\", r\"^/etc/s[a-z]+$\"]", TEV_OPEN));
	cr_expect(!holds("open.file.path in []", TEV_OPEN));
	cr_expect(holds("open.file.path not in []", TEV_OPEN));
	cr_expect(holds("open.file.path in [\"/etc/shadow\",]", TEV_OPEN));
	/* a long list uses the sorted set */
	char expr[4096];
	size_t n = (size_t)snprintf(expr, sizeof(expr), "process.file.name in [");
	for (int i = 0; i < 100; i++)
		n += (size_t)snprintf(expr + n, sizeof(expr) - n, "\"name%d\", ", i);
	snprintf(expr + n, sizeof(expr) - n, "\"bash\"]");
	cr_expect(holds(expr, TEV_OPEN));
	expr[n] = '\0';
	snprintf(expr + n, sizeof(expr) - n, "\"bosh\"]");
	cr_expect(!holds(expr, TEV_OPEN));
}

Test(secl, globs)
{
	struct test_event e = sample();

	/* on .path fields '*' stops at '/' */
	e.open_path = "/etc/ssh/sshd_config";
	cr_expect(!holds_on("open.file.path =~ \"/etc/*\"", TEV_OPEN, &e));
	cr_expect(holds_on("open.file.path =~ \"/etc/*/*\"", TEV_OPEN, &e));
	cr_expect(holds_on("open.file.path =~ \"/etc/**\"", TEV_OPEN, &e));
	cr_expect(holds_on("open.file.path =~ \"/**/sshd_config\"", TEV_OPEN, &e));
	cr_expect(holds_on("open.file.path =~ \"/etc/**/*_config\"", TEV_OPEN, &e));
	cr_expect(!holds_on("open.file.path =~ \"/etc/*_config\"", TEV_OPEN, &e));
	cr_expect(holds_on("open.file.path =~ \"*/sshd_config\"", TEV_OPEN, &e) == false);
	cr_expect(holds_on("open.file.path =~ \"/etc/ssh/*\"", TEV_OPEN, &e));
	/* on other fields '*' matches anything */
	cr_expect(holds_on("open.file.name =~ \"sshd_*\"", TEV_OPEN, &e));
	cr_expect(holds_on("process.args =~ \"*http://*\"", TEV_OPEN, &e));
	cr_expect(holds_on("process.file.name =~ \"*a*h\"", TEV_OPEN, &e));
	cr_expect(!holds_on("process.file.name =~ \"*a*x\"", TEV_OPEN, &e));

	/* the exported matcher */
	cr_expect(secl_glob_match("/a/**/c", 7, "/a/b/b/c", 8, true));
	cr_expect(secl_glob_match("/a/**/c", 7, "/a//c", 5, true));
	cr_expect(!secl_glob_match("/a/*/c", 6, "/a/b/b/c", 8, true));
	cr_expect(secl_glob_match("/a/*/c", 6, "/a/b/b/c", 8, false));
	cr_expect(secl_glob_match("*", 1, "", 0, true));
	cr_expect(!secl_glob_match("a*", 2, "", 0, false));
	cr_expect(secl_glob_match("**", 2, "a/b/c", 5, true));
	cr_expect(!secl_glob_match("*", 1, "a/b", 3, true));
}

Test(secl, regex)
{
	cr_expect(holds("process.file.name =~ r\"^ba(sh|rt)$\"", TEV_OPEN));
	cr_expect(!holds("process.file.name =~ r\"^zsh$\"", TEV_OPEN));
	cr_expect(holds("process.file.name !~ r\"^zsh$\"", TEV_OPEN));
	/* unanchored: like a search */
	cr_expect(holds("process.args =~ r\"curl .*\\| *sh\"", TEV_OPEN));
	expect_error("process.file.name =~ r\"(ab\"", SECL_ERR_REGEX, 1, 22, "invalid regular expression");
	expect_error("process.file.name =~ r\"(a)\\1\"", SECL_ERR_REGEX, 1, 22, "back-references");
	expect_error("process.file.name =~ r\"((a{200}){200})\"", SECL_ERR_REGEX, 1, 22, "repetition");
	expect_error("process.file.name =~ r\"a+*\"", SECL_ERR_REGEX, 1, 22, "directly after another");
	/* repetitions in sequence add up, they do not multiply */
	cr_expect(!holds("process.file.name =~ r\"(a+)+(b+)+(c+)+(d+)+(e+)+(f+)+(g+)+(h+)+(i+)+(j+)+(k+)+(l+)+(m+)+(n+)+\"", TEV_OPEN));
	expect_error("process.file.name =~ r\"((((((((((((((((a+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+\"",
		     SECL_ERR_REGEX, 1, 22, "too complex");
	/* many repetitions in sequence are fine */
	cr_expect(holds("process.file.name =~ r\"^[a-z]+[0-9]*[a-z]+[^/]*x?y?z?[[:alpha:]]*$\"", TEV_OPEN));
	cr_expect(holds("process.file.name =~ r\"^(b|c)(a+)(s|t)+h{1,3}$\"", TEV_OPEN));
}

Test(secl, ip_and_cidr)
{
	struct test_event e = sample();

	cr_expect(holds_on("connect.addr.ip == 10.1.2.3", TEV_CONNECT, &e));
	cr_expect(!holds_on("connect.addr.ip == 10.1.2.4", TEV_CONNECT, &e));
	cr_expect(holds_on("connect.addr.ip in 10.0.0.0/8", TEV_CONNECT, &e));
	cr_expect(holds_on("connect.addr.ip in [192.168.0.0/16, 10.1.0.0/16]", TEV_CONNECT, &e));
	cr_expect(!holds_on("connect.addr.ip in [192.168.0.0/16, ::1]", TEV_CONNECT, &e));
	cr_expect(holds_on("connect.addr.ip not in [192.168.0.0/16, ::1]", TEV_CONNECT, &e));
	cr_expect(holds_on("connect.addr.ip in [10.1.2.3/32]", TEV_CONNECT, &e));
	cr_expect(holds_on("connect.addr.ip in ::ffff:0:0/96", TEV_CONNECT, &e));
	secl_ip_parse(&e.connect_ip, "2001:db8::42");
	cr_expect(holds_on("connect.addr.ip in [10.0.0.0/8, 2001:db8::/32]", TEV_CONNECT, &e));
	cr_expect(holds_on("connect.addr.ip == 2001:db8::42", TEV_CONNECT, &e));
	cr_expect(!holds_on("connect.addr.ip in [fe80::/10, ::1]", TEV_CONNECT, &e));
	secl_ip_parse(&e.connect_ip, "::1");
	cr_expect(holds_on("connect.addr.ip in [10.0.0.0/8, ::1]", TEV_CONNECT, &e));
	expect_error("connect.addr.ip in [10.0.0.0/33]", SECL_ERR_SYNTAX, 1, 30, "prefix length");
	expect_error("connect.addr.ip == 10.0.0.300", SECL_ERR_SYNTAX, 1, 20, "invalid IP");
	expect_error("connect.addr.ip == \"10.0.0.1\"", SECL_ERR_TYPE, 1, 20, "cannot compare");
}

Test(secl, durations)
{
	/* created_at is 7 s */
	cr_expect(holds("process.created_at > 5s", TEV_OPEN));
	cr_expect(!holds("process.created_at > 7s", TEV_OPEN));
	cr_expect(holds("process.created_at == 7000ms", TEV_OPEN));
	cr_expect(holds("process.created_at < 1m", TEV_OPEN));
	cr_expect(holds("process.created_at < 1h && process.created_at < 1d", TEV_OPEN));
	cr_expect(holds("process.created_at == 7000000us", TEV_OPEN));
	cr_expect(holds("process.created_at - 2s == 5000000000", TEV_OPEN));
	expect_error("process.created_at > 5x", SECL_ERR_SYNTAX, 1, 23, "duration unit");
}

Test(secl, constants)
{
	cr_expect(holds("open.flags & O_CREAT == O_CREAT", TEV_OPEN));
	cr_expect(holds("open.flags & O_RDWR > 0", TEV_OPEN));
	cr_expect(holds("open.flags in [O_CREAT | O_RDWR, O_WRONLY]", TEV_OPEN));
	cr_expect(!holds("open.flags == O_TRUNC", TEV_OPEN));
	expect_error("open.flags == O_NOPE", SECL_ERR_UNKNOWN, 1, 15, "unknown identifier 'O_NOPE'");
}

Test(secl, multi_valued_fields)
{
	struct test_event e = sample();

	cr_expect(holds_on("process.args == \"-c\"", TEV_OPEN, &e));
	cr_expect(holds_on("process.args == \"--verbose\"", TEV_OPEN, &e));
	cr_expect(!holds_on("process.args == \"-x\"", TEV_OPEN, &e));
	/* negations hold when NO value matches */
	cr_expect(!holds_on("process.args != \"-c\"", TEV_OPEN, &e));
	cr_expect(holds_on("process.args != \"-x\"", TEV_OPEN, &e));
	cr_expect(holds_on("process.args in [\"-x\", \"--verbose\"]", TEV_OPEN, &e));
	cr_expect(!holds_on("process.args not in [\"-x\", \"--verbose\"]", TEV_OPEN, &e));
	cr_expect(holds_on("process.ancestors.file.name == \"systemd\"", TEV_OPEN, &e));
	cr_expect(holds_on("process.ancestors.file.name in [\"containerd-shim\", \"sshd\"]", TEV_OPEN, &e));
	/* allin: every value must be in the list */
	cr_expect(holds_on("process.ancestors.file.name allin [\"sshd\", \"systemd\", \"init\"]", TEV_OPEN, &e));
	cr_expect(!holds_on("process.ancestors.file.name allin [\"sshd\", \"init\"]", TEV_OPEN, &e));
	cr_expect(holds_on("process.args allin [~\"-*\", ~\"curl*\"]", TEV_OPEN, &e));
	e.n_ancestors = 0;
	cr_expect(!holds_on("process.ancestors.file.name allin [\"sshd\"]", TEV_OPEN, &e));
	cr_expect(!holds_on("process.ancestors.file.name == \"sshd\"", TEV_OPEN, &e));
	cr_expect(holds_on("process.ancestors.file.name != \"sshd\"", TEV_OPEN, &e));
	/* .length maps over every value */
	cr_expect(holds_on("process.args.length > 10", TEV_OPEN, &e));
	cr_expect(holds_on("process.args.length == 2", TEV_OPEN, &e));
	cr_expect(!holds_on("process.args.length == 3", TEV_OPEN, &e));
	cr_expect(holds_on("open.file.path.length == 11", TEV_OPEN, &e));
}

Test(secl, variables)
{
	struct test_event e = sample();

	e.open_path = "/proc/1234/maps";
	cr_expect(holds_on("open.file.path == \"/proc/${process.pid}/maps\"", TEV_OPEN, &e));
	e.pid = 99;
	cr_expect(!holds_on("open.file.path == \"/proc/${process.pid}/maps\"", TEV_OPEN, &e));
	cr_expect(holds_on("open.file.path =~ \"/proc/*/maps\"", TEV_OPEN, &e));
	cr_expect(holds_on("open.file.path != \"/proc/${process.pid}/maps\"", TEV_OPEN, &e));
	e.open_path = "/home/bash/.ssh/id_rsa";
	cr_expect(holds_on("open.file.path =~ \"/home/${process.file.name}/**\"", TEV_OPEN, &e));
	cr_expect(holds_on("process.uid == ${process.uid}", TEV_OPEN, &e));
	/* a field on the right of =~ is used as a pattern */
	e.proc_path = "/home/*/.ssh/**";
	cr_expect(holds_on("open.file.path =~ process.file.path", TEV_OPEN, &e));
	cr_expect(!holds_on("open.file.path == process.file.path", TEV_OPEN, &e));
	e.proc_path = "/home/*/.ssh";
	cr_expect(!holds_on("open.file.path =~ process.file.path", TEV_OPEN, &e));
	expect_error("open.file.path == \"/proc/${process.nope}/x\"", SECL_ERR_UNKNOWN, 1, 26, "unknown field");
	expect_error("open.file.path == \"${process.pid\"", SECL_ERR_SYNTAX, 1, 20, "'}'");
}

Test(secl, macros)
{
	struct secl_macro_table *mt = secl_macros_new(&test_schema);
	struct secl_ruleset *rs = secl_ruleset_new(&test_schema);
	struct secl_error err;
	struct test_event e = sample();

	cr_assert_eq(secl_macros_add(mt, "shells", "[\"bash\", \"sh\", \"zsh\"]", &err), 0, "%s", err.msg);
	cr_assert_eq(secl_macros_add(mt, "is_shell", "process.file.name in shells", &err), 0, "%s", err.msg);
	cr_assert_eq(secl_macros_add(mt, "sensitive", "open.file.path in [\"/etc/shadow\", \"/etc/sudoers\"]", &err), 0, "%s", err.msg);
	cr_assert_geq(secl_ruleset_add(rs, "shell_reads_secret", "is_shell && sensitive", mt, &err), 0, "%s", err.msg);
	cr_assert_geq(secl_ruleset_add(rs, "not_shell", "!is_shell && sensitive", mt, &err), 0, "%s", err.msg);
	/* the macro's event type counts for the rule */
	cr_expect_eq(secl_ruleset_rule_event(rs, 0), TEV_OPEN);
	cr_expect_eq(secl_ruleset_eval(rs, TEV_OPEN, &e, NULL, NULL), 1);
	e.proc_name = "python";
	cr_expect_eq(secl_ruleset_eval(rs, TEV_OPEN, &e, NULL, NULL), 1);

	/* redefining a macro affects later rules only */
	cr_assert_eq(secl_macros_add(mt, "shells", "[\"python\"]", &err), 0);
	cr_assert_eq(secl_macros_add(mt, "is_shell2", "process.file.name in shells", &err), 0);
	cr_assert_geq(secl_ruleset_add(rs, "python", "is_shell2 && sensitive", mt, &err), 0);
	cr_expect_eq(secl_ruleset_eval(rs, TEV_OPEN, &e, NULL, NULL), 2);

	/* errors inside macros are reported at the macro's text */
	cr_expect_eq(secl_macros_add(mt, "bad", "process.file.name ==", &err), -1);
	cr_expect_eq(err.code, SECL_ERR_SYNTAX);
	cr_expect_eq(err.column, 21);
	/* and using a broken macro says why, at the reference */
	cr_expect_eq(secl_ruleset_add(rs, "uses_bad", "process.pid == 1 && bad", mt, &err), -1);
	cr_expect_eq(err.code, SECL_ERR_UNKNOWN);
	cr_expect_eq(err.column, 21);
	cr_expect(strstr(err.msg, "macro 'bad'") != NULL, "%s", err.msg);
	/* a macro of an unknown event type makes its rules "unknown event" */
	cr_expect_eq(secl_macros_add(mt, "dns_evil", "dns.question.name == \"evil.com\"", &err), -1);
	cr_expect_eq(err.code, SECL_ERR_UNKNOWN_EVENT);
	cr_expect_eq(secl_ruleset_add(rs, "uses_dns", "dns_evil", mt, &err), -1);
	cr_expect_eq(err.code, SECL_ERR_UNKNOWN_EVENT);
	/* macro types are checked where they are used */
	cr_expect_eq(secl_ruleset_add(rs, "type", "process.pid in shells", mt, &err), -1);
	cr_expect_eq(err.code, SECL_ERR_TYPE);
	cr_expect_eq(err.column, 16);
	/* macros may not shadow fields or constants */
	cr_expect_eq(secl_macros_add(mt, "process.pid", "true", &err), -1);
	cr_expect_eq(secl_macros_add(mt, "O_CREAT", "true", &err), -1);
	cr_expect_eq(secl_macros_add(mt, "bad id", "true", &err), -1);
	/* a macro mixing event types is refused */
	cr_expect_eq(secl_macros_add(mt, "mixed", "open.file.path == \"a\" && exec.file.path == \"b\"", &err), -1);
	cr_expect_eq(err.code, SECL_ERR_EVENT_MIX);
	/* so is a rule mixing a macro's event type with another */
	cr_expect_eq(secl_ruleset_add(rs, "mix2", "sensitive && exec.file.name == \"nc\"", mt, &err), -1);
	cr_expect_eq(err.code, SECL_ERR_EVENT_MIX);
	cr_expect_eq(err.column, 14);

	secl_ruleset_free(rs);
	secl_macros_free(mt);
}

Test(secl, macro_expansion_is_bounded)
{
	struct secl_macro_table *mt = secl_macros_new(&test_schema);
	struct secl_ruleset *rs = secl_ruleset_new(&test_schema);
	struct secl_error err;
	char id[16], expr[64];

	cr_assert_eq(secl_macros_add(mt, "m0", "process.pid == 1", &err), 0);
	for (int i = 1; i < 40; i++) {
		snprintf(id, sizeof(id), "m%d", i);
		snprintf(expr, sizeof(expr), "m%d || m%d", i - 1, i - 1);
		/* doubling each time: must stop with a clear error, not hang */
		if (secl_macros_add(mt, id, expr, &err) < 0) {
			cr_expect_eq(err.code, SECL_ERR_LIMIT, "%s", err.msg);
			break;
		}
	}
	cr_expect_eq(secl_ruleset_add(rs, "big", "m39", mt, &err), -1);
	secl_ruleset_free(rs);
	secl_macros_free(mt);
}

Test(secl, error_positions)
{
	expect_error("open.file.path ==", SECL_ERR_SYNTAX, 1, 18, "expected a value");
	expect_error("open.file.path == \"/etc/shadow\" &&", SECL_ERR_SYNTAX, 1, 35, "found end of expression");
	expect_error("open.file.path = \"x\"", SECL_ERR_SYNTAX, 1, 16, "'=='");
	expect_error("(open.file.path == \"x\"", SECL_ERR_SYNTAX, 1, 23, "expected ')'");
	expect_error("open.file.path == \"x\" process.pid == 1", SECL_ERR_SYNTAX, 1, 23, "found 'process.pid'");
	expect_error("open.file.pth == \"x\"", SECL_ERR_UNKNOWN, 1, 1, "unknown field 'open.file.pth'");
	expect_error("dns.question.name == \"x\"", SECL_ERR_UNKNOWN_EVENT, 1, 1, "unknown event type 'dns'");
	expect_error("open.flags == \"x\"", SECL_ERR_TYPE, 1, 15, "'open.flags' (an integer)");
	expect_error("open.file.path > 3", SECL_ERR_TYPE, 1, 1, "needs integers");
	expect_error("open.file.path", SECL_ERR_TYPE, 1, 1, "expected a boolean expression");
	expect_error("process.pid in [1, \"a\"]", SECL_ERR_TYPE, 1, 20, "list mixes types");
	expect_error("open.file.path == \"a\" && exec.file.path == \"b\"", SECL_ERR_EVENT_MIX, 1, 26, "one event type");
	expect_error("open.file.path == \"unterminated", SECL_ERR_SYNTAX, 1, 19, "unterminated string");
	expect_error("process.pid == 1 @", SECL_ERR_SYNTAX, 1, 18, "unexpected character '@'");
	expect_error("process.pid not 1", SECL_ERR_SYNTAX, 1, 13, "'in' after 'not'");
	expect_error("", SECL_ERR_SYNTAX, 1, 1, "found nothing");
	expect_error("process.pid == 99999999999999999999", SECL_ERR_SYNTAX, 1, 16, "out of range");
	/* multi-line expression: line and column of the offending token */
	expect_error("process.pid == 1 &&\n  open.file.path == \"x\" &&\n  open.flagz > 0",
		     SECL_ERR_UNKNOWN, 3, 3, "open.flagz");
	expect_error("process.pid == 1 # a comment\n  && process.uid ==", SECL_ERR_SYNTAX, 2, 20, NULL);
	/* nesting limits */
	char deep[1024];
	memset(deep, '(', 300);
	strcpy(deep + 300, "true");
	expect_error(deep, SECL_ERR_LIMIT, 1, 201, "nested");
}

Test(secl, duplicate_ids_and_bad_arguments)
{
	struct secl_ruleset *rs = secl_ruleset_new(&test_schema);
	struct secl_error err;

	cr_assert_eq(secl_ruleset_add(rs, "a", "true", NULL, &err), 0);
	cr_expect_eq(secl_ruleset_add(rs, "a", "true", NULL, &err), -1);
	cr_expect_eq(err.code, SECL_ERR_DUPLICATE);
	cr_expect_eq(secl_ruleset_add(rs, "", "true", NULL, &err), -1);
	cr_expect_eq(secl_ruleset_add(rs, "b", NULL, NULL, &err), -1);
	cr_expect_eq(secl_ruleset_eval(rs, TEV_COUNT, NULL, NULL, NULL), -1);
	cr_expect_eq(secl_ruleset_eval(rs, -1, NULL, NULL, NULL), -1);
	cr_expect_null(secl_ruleset_new(NULL));
	secl_ruleset_free(rs);
}

struct matches {
	int idx[16];
	int n;
};

static void record(int idx, const char *id, void *ctx)
{
	struct matches *m = ctx;

	(void)id;
	if (m->n < 16)
		m->idx[m->n++] = idx;
}

Test(secl, ruleset_buckets_and_order)
{
	struct secl_ruleset *rs = secl_ruleset_new(&test_schema);
	struct secl_error err;
	struct test_event e = sample();
	struct matches m = { 0 };

	cr_assert_eq(secl_ruleset_add(rs, "open_shadow", "open.file.path == \"/etc/shadow\"", NULL, &err), 0);
	cr_assert_eq(secl_ruleset_add(rs, "exec_nc", "exec.file.name in [\"nc\", \"ncat\"]", NULL, &err), 1);
	cr_assert_eq(secl_ruleset_add(rs, "any_bash", "process.file.name == \"bash\"", NULL, &err), 2);
	cr_assert_eq(secl_ruleset_add(rs, "open_etc", "open.file.path =~ \"/etc/*\" && process.uid != 0", NULL, &err), 3);
	cr_assert_eq(secl_ruleset_add(rs, "open_other", "open.file.path == \"/etc/passwd\"", NULL, &err), 4);

	cr_expect(secl_ruleset_uses_event(rs, TEV_OPEN));
	cr_expect(secl_ruleset_uses_event(rs, TEV_EXEC));
	cr_expect(!secl_ruleset_uses_event(rs, TEV_CONNECT));
	cr_expect(!secl_ruleset_uses_event(rs, TEV_CHMOD));
	cr_expect(secl_ruleset_has_wildcard_rules(rs));
	cr_expect_eq(secl_ruleset_rule_event(rs, 2), -1);
	cr_expect_str_eq(secl_ruleset_rule_id(rs, 1), "exec_nc");

	cr_expect_eq(secl_ruleset_eval(rs, TEV_OPEN, &e, record, &m), 3);
	cr_expect_eq(m.idx[0], 0);
	cr_expect_eq(m.idx[1], 2);
	cr_expect_eq(m.idx[2], 3);
	m.n = 0;
	cr_expect_eq(secl_ruleset_eval(rs, TEV_EXEC, &e, record, &m), 2);
	cr_expect_eq(m.idx[0], 1);
	cr_expect_eq(m.idx[1], 2);
	m.n = 0;
	cr_expect_eq(secl_ruleset_eval(rs, TEV_CHMOD, &e, record, &m), 1);
	cr_expect_eq(m.idx[0], 2);
	/* adding a rule after evaluating rebuilds the index */
	cr_assert_eq(secl_ruleset_add(rs, "open_shadow2", "open.file.name == \"shadow\"", NULL, &err), 5);
	cr_expect_eq(secl_ruleset_eval(rs, TEV_OPEN, &e, NULL, NULL), 4);
	e.open_path = "/etc/passwd";
	cr_expect_eq(secl_ruleset_eval(rs, TEV_OPEN, &e, NULL, NULL), 3);
	secl_ruleset_free(rs);
}

/* The index must give the same answers as evaluating every rule. */
Test(secl, index_agrees_with_plain_evaluation)
{
	static const char *const exprs[] = {
		"open.file.path == \"/etc/shadow\"",
		"open.file.path in [\"/etc/shadow\", \"/etc/passwd\"] && process.uid == 1000",
		"open.file.path == \"/etc/shadow\" && process.uid == 0",
		"open.flags == 66",
		"open.flags in [1, 2, 66] && open.file.name == \"shadow\"",
		"process.args == \"-c\"",
		"process.ancestors.file.name in [\"systemd\", \"x\"] && open.flags & O_CREAT > 0",
		"open.file.path == \"/etc/shadow\" || process.pid == 1",
		"process.file.name == \"bash\" && open.file.path =~ \"/etc/*\"",
		/* prefix index: literal prefixes of patterns */
		"open.file.path =~ \"/etc/sh*\"",
		"open.file.path in [~\"/etc/pa*\", \"/etc/shadow\"] && process.uid > 1",
		"open.file.path =~ \"/e*\"",
		"open.file.path =~ \"/etc/**\" || open.file.path =~ \"/var/lib/*\"",
		"process.args =~ \"--verb*\"",
	};
	const size_t n = sizeof(exprs) / sizeof(exprs[0]);
	struct secl_ruleset *all = secl_ruleset_new(&test_schema);
	struct secl_error err;
	struct test_event events[4];

	for (int v = 0; v < 4; v++) {
		events[v] = sample();
		if (v & 1)
			events[v].open_path = "/etc/passwd";
		if (v & 2) {
			events[v].open_flags = 1;
			events[v].n_args = 1;
			events[v].args[0] = "-x";
		}
	}
	for (size_t i = 0; i < n; i++) {
		char id[8];

		snprintf(id, sizeof(id), "r%zu", i);
		cr_assert_geq(secl_ruleset_add(all, id, exprs[i], NULL, &err), 0, "%s", err.msg);
	}
	for (int v = 0; v < 4; v++) {
		int expected = 0;

		for (size_t i = 0; i < n; i++) {
			/* "|| false" hides any key: the reference evaluates every rule */
			char plain[512];

			snprintf(plain, sizeof(plain), "(%s) || false", exprs[i]);
			expected += holds_on(plain, TEV_OPEN, &events[v]);
		}
		cr_expect_eq(secl_ruleset_eval(all, TEV_OPEN, &events[v], NULL, NULL), expected,
			     "event variant %d", v);
	}
	secl_ruleset_free(all);
}

static bool has_approver(const struct secl_approvers *a, enum secl_approver_kind kind,
			 const char *str, int64_t i)
{
	for (size_t k = 0; k < a->n; k++)
		if (a->items[k].kind == kind && (str ? strcmp(a->items[k].str, str) == 0 : a->items[k].i == i))
			return true;
	return false;
}

Test(secl, approvers)
{
	struct secl_ruleset *rs = secl_ruleset_new(&test_schema);
	struct secl_approvers a;
	struct secl_error err;

	/* no rules: approvable with nothing to let through */
	cr_expect_eq(secl_ruleset_approvers(rs, TEV_OPEN, "open.file.path", &a, &err), 1);
	cr_expect_eq(a.n, 0);
	secl_approvers_free(&a);

	cr_assert_geq(secl_ruleset_add(rs, "a", "open.file.path == \"/etc/shadow\" && process.uid != 0", NULL, &err), 0);
	cr_assert_geq(secl_ruleset_add(rs, "b", "process.uid == 0 && open.file.path in [\"/etc/sudoers\", ~\"/etc/cron.d/*\"]", NULL, &err), 0);
	cr_assert_geq(secl_ruleset_add(rs, "c", "(open.file.path == \"/root/.ssh/authorized_keys\" || open.file.path =~ \"/home/*/.ssh/*\") && open.flags & O_CREAT > 0", NULL, &err), 0);
	cr_assert_geq(secl_ruleset_add(rs, "d", "exec.file.name == \"nc\"", NULL, &err), 0);

	cr_assert_eq(secl_ruleset_approvers(rs, TEV_OPEN, "open.file.path", &a, &err), 1, "%s", err.msg);
	cr_expect_eq(a.n, 5);
	cr_expect(has_approver(&a, SECL_APPROVE_EXACT, "/etc/shadow", 0));
	cr_expect(has_approver(&a, SECL_APPROVE_EXACT, "/etc/sudoers", 0));
	cr_expect(has_approver(&a, SECL_APPROVE_EXACT, "/root/.ssh/authorized_keys", 0));
	cr_expect(has_approver(&a, SECL_APPROVE_PATTERN, "/etc/cron.d/*", 0));
	cr_expect(has_approver(&a, SECL_APPROVE_PATTERN, "/home/*/.ssh/*", 0));
	for (size_t k = 0; k < a.n; k++)
		if (strcmp(a.items[k].str, "/etc/cron.d/*") == 0)
			cr_expect_eq(a.items[k].prefix_len, 12);
	secl_approvers_free(&a);

	/* open.flags: only rule c constrains it */
	cr_expect_eq(secl_ruleset_approvers(rs, TEV_OPEN, "open.flags", &a, &err), 0);
	cr_expect_eq(a.n, 0);

	/* exec: exact name */
	cr_expect_eq(secl_ruleset_approvers(rs, TEV_EXEC, "exec.file.name", &a, &err), 1);
	cr_expect_eq(a.n, 1);
	cr_expect(has_approver(&a, SECL_APPROVE_EXACT, "nc", 0));
	secl_approvers_free(&a);

	/* a negated or regex test is not an approver */
	cr_assert_geq(secl_ruleset_add(rs, "e", "exec.file.name != \"ls\"", NULL, &err), 0);
	cr_expect_eq(secl_ruleset_approvers(rs, TEV_EXEC, "exec.file.name", &a, &err), 0);

	/* flags */
	struct secl_ruleset *fl = secl_ruleset_new(&test_schema);
	cr_assert_geq(secl_ruleset_add(fl, "w", "open.flags & (O_WRONLY | O_RDWR) > 0", NULL, &err), 0);
	cr_assert_geq(secl_ruleset_add(fl, "t", "open.flags & O_TRUNC != 0 && process.uid == 0", NULL, &err), 0);
	cr_assert_geq(secl_ruleset_add(fl, "x", "open.flags == O_CREAT", NULL, &err), 0);
	cr_expect_eq(secl_ruleset_approvers(fl, TEV_OPEN, "open.flags", &a, &err), 1);
	cr_expect_eq(a.n, 3);
	cr_expect(has_approver(&a, SECL_APPROVE_FLAGS, NULL, 3));
	cr_expect(has_approver(&a, SECL_APPROVE_FLAGS, NULL, 512));
	cr_expect(has_approver(&a, SECL_APPROVE_INT, NULL, 64));
	secl_approvers_free(&a);
	/* a wildcard rule makes every event type unapprovable by its own fields */
	cr_assert_geq(secl_ruleset_add(fl, "wild", "process.file.name == \"nc\"", NULL, &err), 0);
	cr_expect_eq(secl_ruleset_approvers(fl, TEV_OPEN, "open.flags", &a, &err), 0);

	/* bad arguments */
	cr_expect_eq(secl_ruleset_approvers(rs, TEV_OPEN, "exec.file.name", &a, &err), -1);
	cr_expect_eq(err.code, SECL_ERR_INVALID);
	cr_expect_eq(secl_ruleset_approvers(rs, TEV_OPEN, "nope", &a, &err), -1);
	cr_expect_eq(secl_ruleset_approvers(rs, 42, "open.file.path", &a, &err), -1);
	secl_ruleset_free(fl);
	secl_ruleset_free(rs);
}

static int discard(struct secl_ruleset *rs, int type, const char *field, const char *s)
{
	union secl_scalar v = { .s = { s, strlen(s) } };
	struct secl_error err;

	return secl_ruleset_is_discarder(rs, type, field, &v, &err);
}

Test(secl, discarders)
{
	struct secl_ruleset *rs = secl_ruleset_new(&test_schema);
	struct secl_error err;

	/* nothing can match an event type without rules */
	cr_expect_eq(discard(rs, TEV_OPEN, "open.file.path", "/tmp/x"), 1);

	cr_assert_geq(secl_ruleset_add(rs, "a", "open.file.path == \"/etc/shadow\" && process.uid != 0", NULL, &err), 0);
	cr_assert_geq(secl_ruleset_add(rs, "b", "open.file.path =~ \"/etc/cron.d/*\" || (open.file.path == \"/root/x\" && process.uid == 0)", NULL, &err), 0);
	cr_assert_geq(secl_ruleset_add(rs, "c", "!(open.file.path =~ \"/tmp/**\") && open.flags & O_CREAT > 0 && open.file.path =~ \"/var/**\"", NULL, &err), 0);

	cr_expect_eq(discard(rs, TEV_OPEN, "open.file.path", "/tmp/x"), 1);
	cr_expect_eq(discard(rs, TEV_OPEN, "open.file.path", "/etc/shadow"), 0);
	cr_expect_eq(discard(rs, TEV_OPEN, "open.file.path", "/etc/cron.d/job"), 0);
	cr_expect_eq(discard(rs, TEV_OPEN, "open.file.path", "/var/log/x"), 0);
	cr_expect_eq(discard(rs, TEV_OPEN, "open.file.path", "/etc/passwd"), 1);
	/* open.file.name is unknown to rules a and c: they might match */
	cr_expect_eq(discard(rs, TEV_OPEN, "open.file.name", "whatever"), 0);
	/* a variable of another field makes the comparison unknown */
	cr_assert_geq(secl_ruleset_add(rs, "d", "exec.file.path == \"/proc/${process.pid}/exe\"", NULL, &err), 0);
	cr_expect_eq(discard(rs, TEV_EXEC, "exec.file.path", "/usr/bin/ls"), 0);
	/* a wildcard rule on another field keeps everything */
	cr_expect_eq(discard(rs, TEV_CHMOD, "chmod.file.path", "/x"), 1);
	cr_assert_geq(secl_ruleset_add(rs, "w", "process.file.name == \"nc\"", NULL, &err), 0);
	cr_expect_eq(discard(rs, TEV_CHMOD, "chmod.file.path", "/x"), 0);
	/* ...but a wildcard rule on the fixed field itself can be ruled out */
	cr_expect_eq(discard(rs, TEV_CHMOD, "process.file.name", "ls"), 1);
	cr_expect_eq(discard(rs, TEV_CHMOD, "process.file.name", "nc"), 0);

	cr_expect_eq(discard(rs, TEV_OPEN, "exec.file.path", "/x"), -1);
	secl_ruleset_free(rs);
}

/* Timing print only, never an assertion: machines differ. */
static void count_match(int idx, const char *id, void *ctx)
{
	(void)idx;
	(void)id;
	(*(long *)ctx)++;
}

Test(secl, benchmark_200_rules)
{
	struct secl_ruleset *rs = secl_ruleset_new(&test_schema);
	struct secl_error err;
	struct test_event e = sample();
	char id[32], expr[256];
	long hits = 0;

	for (int i = 0; i < 200; i++) {
		snprintf(id, sizeof(id), "rule%d", i);
		switch (i % 4) {
		case 0:
			snprintf(expr, sizeof(expr), "open.file.path == \"/etc/file%d\" && process.uid != 0", i);
			break;
		case 1:
			snprintf(expr, sizeof(expr), "open.file.name in [\"f%d\", \"g%d\"]", i, i);
			break;
		case 2:
			snprintf(expr, sizeof(expr), "process.file.name == \"tool%d\" && open.flags & O_CREAT > 0", i);
			break;
		default:
			snprintf(expr, sizeof(expr), "open.file.path == \"/var/x%d\" || open.file.path == \"/srv/y%d\"", i, i);
			break;
		}
		cr_assert_geq(secl_ruleset_add(rs, id, expr, NULL, &err), 0, "%s", err.msg);
	}
	e.open_path = "/etc/file40";
	const long iters = 1000000;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < iters; i++)
		secl_ruleset_eval(rs, TEV_OPEN, &e, count_match, &hits);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / (double)iters;
	cr_expect_eq(hits, iters);
	fprintf(stderr, "secl benchmark: 200 rules, %.1f ns/event (sanitizers on if built so)\n", ns);
	secl_ruleset_free(rs);
}

/* Per-rule queries: approvers of one rule, and whether a rule is nothing
 * but "field equals one of these" (what the kernel can decide alone). */
Test(secl, per_rule_approvers_and_exact_values)
{
	struct secl_ruleset *rs = secl_ruleset_new(&test_schema);
	struct secl_approvers a;
	struct secl_error err;

	cr_assert_geq(secl_ruleset_add(rs, "exact", "exec.file.path == \"/tmp/x\" || exec.file.path in [\"/tmp/y\", \"/tmp/z\"]", NULL, &err), 0);
	cr_assert_geq(secl_ruleset_add(rs, "more", "exec.file.path == \"/tmp/x\" && process.uid != 0", NULL, &err), 0);
	cr_assert_geq(secl_ruleset_add(rs, "glob", "exec.file.path =~ \"/tmp/*\"", NULL, &err), 0);
	cr_assert_geq(secl_ruleset_add(rs, "flags", "open.flags & O_CREAT > 0 && open.file.path == \"/a\"", NULL, &err), 0);

	cr_assert_eq(secl_rule_exact_values(rs, 0, "exec.file.path", &a), 1);
	cr_expect_eq(a.n, 3);
	cr_expect(has_approver(&a, SECL_APPROVE_EXACT, "/tmp/z", 0));
	secl_approvers_free(&a);
	/* another conjunct: the kernel cannot decide it alone */
	cr_expect_eq(secl_rule_exact_values(rs, 1, "exec.file.path", &a), 0);
	cr_expect_eq(a.n, 0);
	/* ... but it still only matches that path */
	cr_assert_eq(secl_rule_approvers(rs, 1, "exec.file.path", &a, &err), 1);
	cr_expect(has_approver(&a, SECL_APPROVE_EXACT, "/tmp/x", 0));
	secl_approvers_free(&a);
	cr_expect_eq(secl_rule_exact_values(rs, 2, "exec.file.path", &a), 0);
	cr_assert_eq(secl_rule_approvers(rs, 3, "open.flags", &a, &err), 1);
	cr_expect(has_approver(&a, SECL_APPROVE_FLAGS, NULL, 0100));
	secl_approvers_free(&a);
	cr_expect_eq(secl_rule_approvers(rs, 2, "exec.file.name", &a, &err), 0);
	cr_expect_eq(secl_rule_exact_values(rs, 99, "exec.file.path", &a), -1);
	secl_ruleset_free(rs);
}
