/* fuzz_secl.c - libFuzzer target for the SECL engine: arbitrary bytes are
 * compiled as a rule expression (with a few macros defined) against the
 * fake test schema; what compiles is evaluated on two events and put
 * through the approver and discarder queries.
 *
 * Build and run from the repository root:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *     tests/fuzz/fuzz_secl.c sensor/secl_lex.c sensor/secl_parse.c \
 *     sensor/secl_eval.c -o /tmp/fuzz_secl
 *   /tmp/fuzz_secl -max_total_time=30 -max_len=4096 tests/fuzz/corpus */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/secl_test_schema.h"

static struct secl_macro_table *macros;

static void setup(void)
{
	struct secl_error err;

	macros = secl_macros_new(&test_schema);
	secl_macros_add(macros, "shells", "[\"bash\", \"sh\", ~\"*sh\"]", &err);
	secl_macros_add(macros, "is_shell", "process.file.name in shells", &err);
	secl_macros_add(macros, "etc", "open.file.path =~ \"/etc/**\"", &err);
	secl_macros_add(macros, "ports", "[22, 80, 443]", &err);
}

static void ignore(int idx, const char *id, void *ctx)
{
	(void)idx;
	(void)id;
	(*(int *)ctx)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct secl_error err;
	struct secl_approvers a;
	char *expr;
	int hits = 0;

	if (!macros)
		setup();
	expr = malloc(size + 1);
	if (!expr)
		return 0;
	memcpy(expr, data, size);
	expr[size] = '\0';

	struct secl_ruleset *rs = secl_ruleset_new(&test_schema);
	int idx = secl_ruleset_add(rs, "fuzz", expr, macros, &err);
	if (idx < 0) {
		/* Errors must point inside (or just past) the expression. */
		if (err.offset > strlen(expr) || err.line < 1 || err.column < 1 || !err.msg[0])
			abort();
	} else {
		struct test_event e = {
			.open_path = "/etc/shadow", .open_flags = 66, .exec_path = "/bin/nc",
			.proc_name = "bash", .proc_path = "/bin/bash", .pid = 42, .uid = 0,
			.created_at = 5, .container_id = "c1",
			.args = { "-c", "id" }, .n_args = 2,
			.ancestors = { "sshd", "systemd" }, .n_ancestors = 2,
		};
		secl_ip_parse(&e.connect_ip, "10.0.0.1");
		for (int t = 0; t < TEV_COUNT; t++)
			secl_ruleset_eval(rs, t, &e, ignore, &hits);
		e.n_args = 0;
		e.open_path = "";
		secl_ruleset_eval(rs, TEV_OPEN, &e, ignore, &hits);
		if (secl_ruleset_approvers(rs, TEV_OPEN, "open.file.path", &a, &err) == 1)
			secl_approvers_free(&a);
		if (secl_ruleset_approvers(rs, TEV_OPEN, "open.flags", &a, &err) == 1)
			secl_approvers_free(&a);
		union secl_scalar v = { .s = { "/tmp/x", 6 } };
		secl_ruleset_is_discarder(rs, TEV_OPEN, "open.file.path", &v, &err);
		v.i = 64;
		secl_ruleset_is_discarder(rs, TEV_OPEN, "open.flags", &v, &err);
	}
	secl_ruleset_free(rs);
	free(expr);
	return 0;
}
