/* test_policy.c - unit tests for policy files (sensor/policy.c): loading the
 * fixtures in tests/fixtures/policies, overrides by id, disabled rules,
 * actions, diagnostics with file:line:col, and compiling into a ruleset.
 *
 * Run from the repository root, or set VIGIL_FIXTURES to the fixture
 * directory. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "secl_test_schema.h"

static const char *fixture(const char *name)
{
	static char path[512];
	const char *dir = getenv("VIGIL_FIXTURES");

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/fixtures/policies", name);
	return path;
}

/* The diagnostic whose text contains both the location and the words. */
static bool has_diag(const struct policy_set *ps, enum policy_diag_level level,
		     const char *file, int line, int col, const char *words)
{
	char loc[600];

	snprintf(loc, sizeof(loc), "%s:%d:%d: ", fixture(file), line, col);
	for (size_t i = 0; i < policy_set_diag_count(ps); i++) {
		const struct policy_diag *d = policy_set_diag(ps, i);

		if (d->level == level && strncmp(d->text, loc, strlen(loc)) == 0 &&
		    (!words || strstr(d->text, words)))
			return true;
	}
	return false;
}

static void dump_diags(const struct policy_set *ps)
{
	for (size_t i = 0; i < policy_set_diag_count(ps); i++)
		cr_log_info("diag: %s", policy_set_diag(ps, i)->text);
}

static const char *tag(const struct policy_rule *r, const char *key)
{
	for (size_t i = 0; i < r->n_tags; i++)
		if (strcmp(r->tags[i].key, key) == 0)
			return r->tags[i].value;
	return NULL;
}

struct hits {
	char ids[8][64];
	int n;
};

static void record(int idx, const char *id, void *ctx)
{
	struct hits *h = ctx;

	(void)idx;
	if (h->n < 8)
		snprintf(h->ids[h->n++], 64, "%s", id);
}

Test(policy, load_base_file)
{
	struct policy_set *ps = policy_set_new();

	cr_assert_eq(policy_set_load_file(ps, fixture("base.yaml")), 0);
	dump_diags(ps);
	cr_expect_eq(policy_set_diag_count(ps), 0);
	cr_assert_eq(policy_set_rule_count(ps), 5);
	cr_expect_eq(policy_set_macro_count(ps), 3);

	const struct policy_rule *r = policy_set_rule(ps, 0);
	cr_expect_str_eq(r->id, "shell_reads_secrets");
	cr_expect_str_eq(r->description, "A shell read a credentials file");
	cr_expect_str_eq(r->expression, "sensitive_files && process.file.name in shells");
	cr_expect_str_eq(r->priority, "high");
	cr_expect_eq(r->n_tags, 2);
	cr_expect_str_eq(tag(r, "mitre"), "T1003");
	cr_expect_str_eq(tag(r, "team"), "secops");
	cr_assert_eq(r->n_actions, 1);
	cr_expect_eq(r->actions[0].kind, POLICY_ACTION_KILL);
	cr_expect_eq(r->actions[0].kill.signal, SIGKILL);
	cr_expect_str_eq(r->actions[0].kill.signal_name, "SIGKILL");
	cr_expect_eq(r->line, 11);
	cr_expect_eq(r->column, 5);
	cr_expect_eq(r->status, POLICY_RULE_LOADED);

	r = policy_set_find_rule(ps, "netcat_exec");
	cr_assert_not_null(r);
	/* folded block scalar: one line, no trailing newline with ">-" */
	cr_expect_str_eq(r->expression, "exec.file.name in [\"nc\", \"ncat\"] && process.uid != 0");
	cr_expect_str_eq(r->severity, "warning");

	r = policy_set_find_rule(ps, "connect_ssh");
	cr_assert_eq(r->n_actions, 2);
	cr_expect_eq(r->actions[0].kind, POLICY_ACTION_SET);
	cr_expect_str_eq(r->actions[0].set.name, "suspicious");
	cr_expect_str_eq(r->actions[0].set.value, "true");
	cr_expect_str_eq(r->actions[0].set.scope, "process");
	cr_expect_eq(r->actions[1].kind, POLICY_ACTION_LOG);
	cr_expect_str_eq(r->actions[1].log.message, "connect seen");

	const struct policy_macro *m = policy_set_macro(ps, 0);
	cr_expect_str_eq(m->id, "shells");
	cr_expect_str_eq(m->expression, "[\"bash\", \"sh\", \"zsh\"]");
	cr_expect_str_eq(policy_set_macro(ps, 2)->expression, "[22, 443]");
	policy_set_free(ps);
}

Test(policy, compile_and_evaluate)
{
	struct policy_set *ps = policy_set_new();

	cr_assert_eq(policy_set_load_file(ps, fixture("base.yaml")), 0);
	struct secl_ruleset *rs = policy_set_compile(ps, &test_schema);
	dump_diags(ps);
	cr_assert_not_null(rs);
	cr_expect_eq(policy_set_error_count(ps), 0);
	cr_expect_eq(secl_ruleset_count(rs), 5);
	cr_expect(secl_ruleset_uses_event(rs, TEV_OPEN));
	cr_expect(secl_ruleset_uses_event(rs, TEV_EXEC));
	cr_expect(secl_ruleset_uses_event(rs, TEV_CONNECT));
	cr_expect(!secl_ruleset_uses_event(rs, TEV_CHMOD));

	struct test_event e = { .open_path = "/etc/shadow", .proc_name = "bash", .uid = 1000 };
	struct hits h = { 0 };
	cr_expect_eq(secl_ruleset_eval(rs, TEV_OPEN, &e, record, &h), 1);
	cr_expect_str_eq(h.ids[0], "shell_reads_secrets");
	const struct policy_rule *r = policy_set_rule_for_index(ps, 0);
	cr_assert_not_null(r);
	cr_expect_str_eq(r->id, "shell_reads_secrets");
	cr_expect_eq(r->status, POLICY_RULE_ACTIVE);
	cr_expect_eq(r->actions[0].kill.signal, SIGKILL);

	/* literal block with a more-indented continuation line */
	e.open_path = "/etc/cron.d/x";
	e.open_flags = 64;
	e.proc_name = "python";
	h.n = 0;
	cr_expect_eq(secl_ruleset_eval(rs, TEV_OPEN, &e, record, &h), 1);
	cr_expect_str_eq(h.ids[0], "write_etc");

	/* values macro of integers; CIDR */
	e.connect_port = 443;
	secl_ip_parse(&e.connect_ip, "10.9.8.7");
	cr_expect_eq(secl_ruleset_eval(rs, TEV_CONNECT, &e, NULL, NULL), 1);
	e.connect_port = 80;
	cr_expect_eq(secl_ruleset_eval(rs, TEV_CONNECT, &e, NULL, NULL), 0);
	secl_ruleset_free(rs);
	policy_set_free(ps);
}

Test(policy, override_and_disable)
{
	struct policy_set *ps = policy_set_new();

	cr_assert_eq(policy_set_load_file(ps, fixture("base.yaml")), 0);
	cr_assert_eq(policy_set_load_file(ps, fixture("override.yaml")), 0);
	struct secl_ruleset *rs = policy_set_compile(ps, &test_schema);
	dump_diags(ps);
	cr_assert_not_null(rs);

	/* order of first appearance: overrides keep their place */
	cr_assert_eq(policy_set_rule_count(ps), 7);
	const struct policy_rule *r = policy_set_rule(ps, 1);
	cr_expect_str_eq(r->id, "netcat_exec");
	cr_expect_str_eq(r->description, "netcat started (tuned)");
	cr_expect_str_eq(r->file, fixture("override.yaml"));
	cr_expect_null(r->severity);
	cr_assert_eq(r->n_actions, 1);
	cr_expect_eq(r->actions[0].kill.signal, SIGTERM);
	cr_expect_str_eq(r->actions[0].kill.scope, "container");
	cr_expect_eq(r->status, POLICY_RULE_ACTIVE);

	/* "id + disabled" keeps the earlier definition, disabled */
	r = policy_set_find_rule(ps, "to_disable");
	cr_expect(r->disabled);
	cr_expect_eq(r->status, POLICY_RULE_DISABLED);
	cr_expect_eq(r->rule_index, -1);
	cr_expect_str_eq(r->expression, "process.file.name == \"curl\"");

	/* unknown event type: skipped with a warning at the field */
	r = policy_set_find_rule(ps, "dns_lookup");
	cr_expect_eq(r->status, POLICY_RULE_SKIPPED);
	cr_expect(has_diag(ps, POLICY_WARNING, "override.yaml", 14, 17, "unknown event type 'dns'"));

	/* error inside a literal block: line and column of the token */
	r = policy_set_find_rule(ps, "broken_block");
	cr_expect_eq(r->status, POLICY_RULE_INVALID);
	cr_expect(has_diag(ps, POLICY_ERROR, "override.yaml", 18, 7, "unknown field 'open.flagz'"));
	cr_expect_eq(policy_set_error_count(ps), 1);

	/* the rest loaded */
	cr_expect_eq(secl_ruleset_count(rs), 4);
	struct test_event e = { .exec_path = "/usr/bin/socat", .proc_name = "curl", .uid = 0 };
	struct hits h = { 0 };
	cr_expect_eq(secl_ruleset_eval(rs, TEV_EXEC, &e, record, &h), 1);
	cr_expect_str_eq(h.ids[0], "netcat_exec");
	secl_ruleset_free(rs);
	policy_set_free(ps);
}

Test(policy, errors_with_positions)
{
	struct policy_set *ps = policy_set_new();

	cr_assert_eq(policy_set_load_file(ps, fixture("errors.yaml")), 0);
	struct secl_ruleset *rs = policy_set_compile(ps, &test_schema);
	dump_diags(ps);
	cr_assert_not_null(rs);

	/* plain scalar: end of expression */
	cr_expect(has_diag(ps, POLICY_ERROR, "errors.yaml", 4, 57, "found end of expression"));
	/* double-quoted with escaped quotes before the token */
	cr_expect(has_diag(ps, POLICY_ERROR, "errors.yaml", 6, 46, "unknown field 'open.nope'"));
	/* folded block, second line */
	cr_expect(has_diag(ps, POLICY_ERROR, "errors.yaml", 10, 29, "list mixes types"));
	/* duplicate id in one file */
	cr_expect(has_diag(ps, POLICY_ERROR, "errors.yaml", 11, 5, "duplicate rule id 'plain_error'"));
	/* bad action */
	cr_expect(has_diag(ps, POLICY_ERROR, "errors.yaml", 17, 19, "unknown signal 'SIGNOPE'"));
	cr_expect(has_diag(ps, POLICY_ERROR, "errors.yaml", 18, 5, "has no 'expression'"));
	cr_expect(has_diag(ps, POLICY_ERROR, "errors.yaml", 21, 43, "one event type"));
	/* single-quoted with a doubled quote before the token */
	cr_expect(has_diag(ps, POLICY_ERROR, "errors.yaml", 23, 65, "cannot compare"));
	cr_expect_eq(policy_set_error_count(ps), 8);

	cr_expect_eq(policy_set_find_rule(ps, "bad_signal")->status, POLICY_RULE_INVALID);
	cr_expect_eq(policy_set_find_rule(ps, "plain_error")->status, POLICY_RULE_INVALID);
	cr_expect_eq(secl_ruleset_count(rs), 1);
	cr_expect_str_eq(secl_ruleset_rule_id(rs, 0), "good_one");
	secl_ruleset_free(rs);
	policy_set_free(ps);
}

Test(policy, macros_in_any_order)
{
	struct policy_set *ps = policy_set_new();

	cr_assert_eq(policy_set_load_file(ps, fixture("macros_later.yaml")), 0);
	struct secl_ruleset *rs = policy_set_compile(ps, &test_schema);
	dump_diags(ps);
	cr_assert_not_null(rs);
	cr_expect_eq(policy_set_find_rule(ps, "uses_later_macro")->status, POLICY_RULE_ACTIVE);
	cr_expect_eq(policy_set_find_rule(ps, "uses_dns_macro")->status, POLICY_RULE_SKIPPED);
	cr_expect(has_diag(ps, POLICY_WARNING, "macros_later.yaml", 7, 17, "macro 'bad_domain'"));
	cr_expect(has_diag(ps, POLICY_WARNING, "macros_later.yaml", 16, 17, "unknown event type 'dns'"));
	cr_expect(has_diag(ps, POLICY_ERROR, "macros_later.yaml", 18, 17, "list mixes types"));
	cr_expect(has_diag(ps, POLICY_ERROR, "macros_later.yaml", 9, 32, "macro 'broken_values' cannot be used"));
	cr_expect_eq(policy_set_find_rule(ps, "uses_broken_values")->status, POLICY_RULE_INVALID);

	struct test_event e = { .open_path = "/etc/hosts", .proc_name = "ed" };
	cr_expect_eq(secl_ruleset_eval(rs, TEV_OPEN, &e, NULL, NULL), 1);
	e.proc_name = "emacs";
	cr_expect_eq(secl_ruleset_eval(rs, TEV_OPEN, &e, NULL, NULL), 0);
	secl_ruleset_free(rs);
	policy_set_free(ps);
}

Test(policy, invalid_yaml_and_missing_file)
{
	struct policy_set *ps = policy_set_new();

	cr_expect_eq(policy_set_load_file(ps, fixture("bad_yaml.yaml")), -1);
	dump_diags(ps);
	cr_assert_eq(policy_set_diag_count(ps), 1);
	cr_expect(has_diag(ps, POLICY_ERROR, "bad_yaml.yaml", 5, 4, "invalid YAML"));
	cr_expect_eq(policy_set_rule_count(ps), 0);

	cr_expect_eq(policy_set_load_file(ps, fixture("does_not_exist.yaml")), -1);
	cr_expect_eq(policy_set_diag_count(ps), 2);
	cr_expect(strstr(policy_set_diag(ps, 1)->text, "cannot open") != NULL);
	policy_set_free(ps);
}

Test(policy, buffers_and_shapes)
{
	struct policy_set *ps = policy_set_new();
	static const char not_a_map[] = "- just\n- a list\n";
	static const char empty[] = "";
	static const char odd[] =
		"rules:\n"
		"  - id: r1\n"
		"    expression: true\n"
		"    colour: blue\n"
		"  - id: \"bad id!\"\n"
		"    expression: true\n"
		"  - id: r2\n"
		"    expression: process.pid == 1\n"
		"    actions:\n"
		"      - kill: {signal: 9}\n"
		"        log: {}\n"
		"      - teleport: {}\n"
		"      - hash: {}\n"
		"        filter: process.uid == 0\n"
		"  - id: r3\n"
		"    expression:\n"
		"      \"process.pid ==\n"
		"      x\"\n";

	cr_expect_eq(policy_set_load_buffer(ps, "list.yaml", not_a_map, strlen(not_a_map)), -1);
	cr_expect_eq(policy_set_load_buffer(ps, "empty.yaml", empty, 0), 0);
	cr_expect_eq(policy_set_load_buffer(ps, "odd.yaml", odd, strlen(odd)), 0);
	struct secl_ruleset *rs = policy_set_compile(ps, &test_schema);
	for (size_t i = 0; i < policy_set_diag_count(ps); i++)
		cr_log_info("diag: %s", policy_set_diag(ps, i)->text);
	cr_assert_not_null(rs);

	const char *want[] = {
		"list.yaml:1:1: expected a mapping",
		"empty.yaml:1:1: empty policy file",
		"odd.yaml:4:5: unknown rule key 'colour'",
		"odd.yaml:5:9: invalid rule id 'bad id!'",
		"odd.yaml:11:9: an action must have exactly one",
		"odd.yaml:12:9: unknown action 'teleport'",
		/* multi-line double-quoted scalar: the line break folds to a space */
		"odd.yaml:18:7: rule 'r3': unknown identifier 'x'",
	};
	for (size_t w = 0; w < sizeof(want) / sizeof(want[0]); w++) {
		bool found = false;

		for (size_t i = 0; i < policy_set_diag_count(ps); i++)
			found |= strncmp(policy_set_diag(ps, i)->text, want[w], strlen(want[w])) == 0;
		cr_expect(found, "missing diagnostic '%s'", want[w]);
	}
	cr_expect_eq(policy_set_find_rule(ps, "r1")->status, POLICY_RULE_ACTIVE);
	cr_expect_eq(policy_set_find_rule(ps, "r2")->status, POLICY_RULE_INVALID);
	const struct policy_rule *r2 = policy_set_find_rule(ps, "r2");
	cr_expect_eq(r2->actions[0].kill.signal, 9);
	cr_expect_eq(r2->actions[2].kind, POLICY_ACTION_HASH);
	cr_expect_str_eq(r2->actions[2].filter, "process.uid == 0");
	cr_expect_eq(secl_ruleset_count(rs), 1);
	secl_ruleset_free(rs);
	policy_set_free(ps);
}

Test(policy, signal_names)
{
	cr_expect_eq(policy_signal_number("SIGKILL"), SIGKILL);
	cr_expect_eq(policy_signal_number("KILL"), SIGKILL);
	cr_expect_eq(policy_signal_number("SIGUSR2"), SIGUSR2);
	cr_expect_eq(policy_signal_number("15"), 15);
	cr_expect_eq(policy_signal_number("0"), -1);
	cr_expect_eq(policy_signal_number("SIGFOO"), -1);
	cr_expect_eq(policy_signal_number(""), -1);
	cr_expect_eq(policy_signal_number(NULL), -1);
}
