/* rules.c - see rules.h. */
#include "rules.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "clock.h"
#include "decode.h"
#include "event.h"
#include "log.h"
#include "metrics.h"
#include "policy.h"
#include "probe.h"
#include "rule_fields.h"
#include "secl.h"

/* The embedded default policy (policies/default.yaml, linked in by ld). */
extern const char _binary_policies_default_yaml_start[];
extern const char _binary_policies_default_yaml_end[];

struct rule_state {
	const struct policy_rule *rule;
	const char *priority; /* Falco's name */
	double tokens;
	uint64_t last_refill_ns;
	_Atomic uint64_t matches, suppressed, kills, kills_refused;
	/* The same in /metrics; registered by rule id, so a rule keeps its
	 * series across reloads. */
	struct metric_counter *m_matches, *m_suppressed;
};

struct rules {
	struct rules_config cfg;
	struct policy_set *policies;
	struct secl_ruleset *ruleset;
	struct rule_state *states; /* by ruleset index */
	size_t n_states;
	uint64_t event_mask;
	struct metric_counter *m_evaluations;
	/* During one rules_eval: what the match callback needs. */
	const struct event_view *view;
	struct json_writer *w;
	void (*emit)(struct json_writer *w, void *ctx);
	void *emit_ctx;
	struct rule_input input;
};

void rules_config_defaults(struct rules_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->default_policy = true;
	cfg->rate_per_sec = 10;
	cfg->burst = 50;
}

const char *rules_default_policy(size_t *len)
{
	*len = (size_t)(_binary_policies_default_yaml_end - _binary_policies_default_yaml_start);
	return _binary_policies_default_yaml_start;
}

/* Datadog rules have no priority; Falco's consumers want one. */
static const char *falco_priority(const struct policy_rule *r)
{
	static const struct { const char *in, *out; } map[] = {
		{ "critical", "Critical" }, { "high", "Error" }, { "error", "Error" },
		{ "medium", "Warning" }, { "warning", "Warning" }, { "low", "Notice" },
		{ "notice", "Notice" }, { "info", "Informational" }, { "informational", "Informational" },
		{ "debug", "Debug" }, { "emergency", "Emergency" }, { "alert", "Alert" },
	};
	const char *p = r->priority ? r->priority : r->severity;

	for (size_t i = 0; p && i < sizeof(map) / sizeof(map[0]); i++) {
		if (strcasecmp(p, map[i].in) == 0)
			return map[i].out;
	}
	return "Warning";
}

static void register_rule_metrics(struct metrics *m, struct rule_state *st)
{
	char id[256], labels[300];

	if (metrics_label_escape(id, sizeof(id), st->rule->id) < 0)
		return;
	snprintf(labels, sizeof(labels), "rule=\"%s\"", id);
	st->m_matches = metrics_counter(m, "vigil_rule_matches_total", "Events that matched a rule, by rule.",
					labels);
	st->m_suppressed = metrics_counter(m, "vigil_alerts_suppressed_total",
					   "Alerts dropped by a rule's rate limit, by rule.", labels);
}

struct rules *rules_load(const struct rules_config *cfg, size_t *errors)
{
	struct rules *r = calloc(1, sizeof(*r));
	size_t len, nerr;
	const char *text;

	if (errors)
		*errors = 0;
	if (!r)
		return NULL;
	r->cfg = *cfg;
	r->policies = policy_set_new();
	if (!r->policies)
		goto fail;
	if (cfg->default_policy) {
		text = rules_default_policy(&len);
		policy_set_load_buffer(r->policies, "<default policy>", text, len);
	}
	for (size_t i = 0; i < cfg->n_files; i++)
		policy_set_load_file(r->policies, cfg->files[i]);
	r->ruleset = policy_set_compile(r->policies, rule_schema());
	if (!r->ruleset)
		goto fail;
	for (size_t i = 0; i < policy_set_diag_count(r->policies); i++) {
		const struct policy_diag *d = policy_set_diag(r->policies, i);

		if (d->level == POLICY_ERROR)
			log_error("policy: %s", d->text);
		else
			log_warn("policy: %s", d->text);
	}
	nerr = policy_set_error_count(r->policies);
	if (errors)
		*errors = nerr;
	if (nerr && cfg->strict)
		goto fail;

	r->n_states = secl_ruleset_count(r->ruleset);
	r->states = calloc(r->n_states ? r->n_states : 1, sizeof(*r->states));
	if (!r->states)
		goto fail;
	for (size_t i = 0; i < r->n_states; i++) {
		struct rule_state *st = &r->states[i];

		st->rule = policy_set_rule_for_index(r->policies, (int)i);
		st->priority = st->rule ? falco_priority(st->rule) : "Warning";
		st->tokens = cfg->burst;
		if (cfg->metrics && st->rule)
			register_rule_metrics(cfg->metrics, st);
	}
	if (cfg->metrics)
		r->m_evaluations = metrics_counter(cfg->metrics, "vigil_rule_evaluations_total",
						   "Events evaluated against the rules.", NULL);
	for (int t = 1; t < EVENT_TYPE_COUNT; t++) {
		if (secl_ruleset_uses_event(r->ruleset, t))
			r->event_mask |= EVENT_MASK(t);
	}
	return r;
fail:
	rules_free(r);
	return NULL;
}

void rules_free(struct rules *r)
{
	if (!r)
		return;
	secl_ruleset_free(r->ruleset);
	policy_set_free(r->policies);
	free(r->states);
	free(r);
}

size_t rules_count(const struct rules *r)
{
	return r ? r->n_states : 0;
}

uint64_t rules_event_mask(const struct rules *r)
{
	return r ? r->event_mask : 0;
}

static bool take_token(struct rules *r, struct rule_state *st, uint64_t now)
{
	double elapsed = now > st->last_refill_ns ? (double)(now - st->last_refill_ns) / 1e9 : 0;

	st->tokens += elapsed * r->cfg.rate_per_sec;
	if (st->tokens > r->cfg.burst)
		st->tokens = r->cfg.burst;
	if (now > st->last_refill_ns)
		st->last_refill_ns = now;
	if (st->tokens < 1)
		return false;
	st->tokens -= 1;
	return true;
}

/* /proc/<pid>/stat's start time (field 22), in ns. */
static int proc_start_ns(uint32_t pid, uint64_t *out)
{
	char path[64], buf[1024], *p;
	unsigned long long ticks;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d "
			 "%*d %*d %llu", &ticks) != 1)
		return -1;
	*out = ticks * (1000000000ull / (uint64_t)sysconf(_SC_CLK_TCK));
	return 0;
}

/* Signals the process the event came from, and only that one: the pidfd
 * pins the process, and its start time proves the pid was not reused. */
static bool kill_process(const struct process *p, int sig, const char **why)
{
	uint64_t start;
	int fd;

	if (p->pid <= 1) {
		*why = "never pid 1";
		return false;
	}
	if (p->pid == (uint32_t)getpid() || p->ppid == (uint32_t)getpid()) {
		*why = "never Vigil itself or its children";
		return false;
	}
	fd = (int)syscall(SYS_pidfd_open, p->pid, 0);
	if (fd < 0) {
		*why = "process already gone";
		return false;
	}
	if (proc_start_ns(p->pid, &start) < 0 || !process_same_start(start, p->start_ns)) {
		close(fd);
		*why = "pid reused by another process";
		return false;
	}
	if (syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) < 0) {
		*why = strerror(errno);
		close(fd);
		return false;
	}
	close(fd);
	return true;
}

static void run_actions(struct rules *r, struct rule_state *st)
{
	const struct policy_rule *rule = st->rule;

	for (size_t i = 0; rule && i < rule->n_actions; i++) {
		const struct policy_action *a = &rule->actions[i];
		const char *why = NULL;

		if (a->kind != POLICY_ACTION_KILL)
			continue;
		if (a->kill.scope && strcmp(a->kill.scope, "process") != 0) {
			log_warn("rule %s: kill scope \"%s\" is not supported; only \"process\"", rule->id,
				 a->kill.scope);
			atomic_fetch_add(&st->kills_refused, 1);
			continue;
		}
		if (r->view->event->type == EVENT_EXEC && r->view->event->exec.killed_in_kernel) {
			atomic_fetch_add(&st->kills, 1);
			log_info("rule %s: pid %u was killed in the kernel before it ran", rule->id,
				 r->view->process->pid);
			continue;
		}
		if (kill_process(r->view->process, a->kill.signal, &why)) {
			atomic_fetch_add(&st->kills, 1);
			log_info("rule %s: sent signal %d to pid %u", rule->id, a->kill.signal,
				 r->view->process->pid);
		} else {
			atomic_fetch_add(&st->kills_refused, 1);
			log_warn("rule %s: did not kill pid %u: %s", rule->id, r->view->process->pid, why);
		}
	}
}

/* The one-line summary Falco consumers show. */
static void write_output_text(struct json_writer *w, const struct rule_state *st,
			      const struct event_view *v)
{
	const struct event *ev = v->event;
	const struct process *p = v->process;
	const char *what = NULL;
	char buf[1024];

	if (event_is_syscall(ev->type))
		what = ev->syscall.file.path ? ev->syscall.file.path : ev->syscall.str;
	snprintf(buf, sizeof(buf), "%s: %s%s%s by %s (pid=%u uid=%u%s%.64s)",
		 st->rule && st->rule->description ? st->rule->description : "rule matched",
		 event_type_name(ev->type), what ? " " : "", what ? what : "",
		 p->path ? p->path : p->comm, p->pid, p->cred.uid,
		 v->container && v->container->id && v->container->id[0] ? " container=" : "",
		 v->container && v->container->id ? v->container->id : "");
	json_key(w, "output");
	json_string(w, buf);
}

static void write_alert(struct rules *r, struct rule_state *st)
{
	const struct event_view *v = r->view;
	const struct policy_rule *rule = st->rule;
	struct json_writer *w = r->w;
	char date[48];

	json_reset(w);
	json_object_begin(w);
	clock_format_rfc3339(clock_boot_to_wall(v->event->timestamp_ns), date, sizeof(date));
	json_key(w, "time");
	json_string(w, date);
	json_key(w, "rule");
	json_string(w, rule ? rule->id : "unknown");
	json_key(w, "priority");
	json_string(w, st->priority);
	write_output_text(w, st, v);
	json_key(w, "output_fields");
	json_object_begin(w);
	json_key(w, "evt.name");
	json_string(w, event_type_name(v->event->type));
	json_key(w, "process.pid");
	json_uint(w, v->process->pid);
	json_key(w, "process.file.path");
	json_string(w, v->process->path ? v->process->path : "");
	json_key(w, "process.comm");
	json_string(w, v->process->comm);
	json_key(w, "process.uid");
	json_uint(w, v->process->cred.uid);
	json_key(w, "container.id");
	json_string(w, v->container && v->container->id ? v->container->id : "");
	if (event_is_syscall(v->event->type) && v->event->syscall.file.path) {
		json_key(w, "file.path");
		json_string(w, v->event->syscall.file.path);
	}
	json_object_end(w);
	json_key(w, "tags");
	json_array_begin(w);
	for (size_t i = 0; rule && i < rule->n_tags; i++) {
		char tag[256];

		if (rule->tags[i].value)
			snprintf(tag, sizeof(tag), "%s:%s", rule->tags[i].key, rule->tags[i].value);
		else
			snprintf(tag, sizeof(tag), "%s", rule->tags[i].key);
		json_string(w, tag);
	}
	json_array_end(w);
	json_key(w, "source");
	json_string(w, "vigil");
	if (v->hostname) {
		json_key(w, "hostname");
		json_string(w, v->hostname);
	}
	json_key(w, "event");
	event_json_write(w, v);
	json_object_end(w);
}

static void on_match(int rule_index, const char *rule_id, void *ctx)
{
	struct rules *r = ctx;
	struct rule_state *st;

	(void)rule_id;
	if (rule_index < 0 || (size_t)rule_index >= r->n_states)
		return;
	st = &r->states[rule_index];
	atomic_fetch_add(&st->matches, 1);
	metric_counter_inc(st->m_matches);
	if (st->rule && st->rule->silent)
		return;
	/* By event time: a burst stays a burst however late it is read. */
	if (!take_token(r, st, r->view->event->timestamp_ns)) {
		atomic_fetch_add(&st->suppressed, 1);
		metric_counter_inc(st->m_suppressed);
		return;
	}
	write_alert(r, st);
	if (!r->w->oom)
		r->emit(r->w, r->emit_ctx);
	run_actions(r, st);
}

int rules_eval(struct rules *r, const struct event_view *view, struct json_writer *w,
	       void (*emit)(struct json_writer *w, void *ctx), void *ctx)
{
	if (!r)
		return 0;
	if (!(r->event_mask & EVENT_MASK(view->event->type)) && !secl_ruleset_has_wildcard_rules(r->ruleset))
		return 0;
	metric_counter_inc(r->m_evaluations);
	rule_input_init(&r->input, view);
	r->view = view;
	r->w = w;
	r->emit = emit;
	r->emit_ctx = ctx;
	return secl_ruleset_eval(r->ruleset, view->event->type, &r->input, on_match, r);
}

size_t rules_stats(struct rules *r, struct rule_stats *out, size_t max)
{
	for (size_t i = 0; r && i < r->n_states && i < max; i++) {
		const struct rule_state *st = &r->states[i];

		out[i] = (struct rule_stats){
			.id = st->rule ? st->rule->id : "",
			.description = st->rule ? st->rule->description : NULL,
			.priority = st->priority,
			.matches = atomic_load(&st->matches),
			.suppressed = atomic_load(&st->suppressed),
			.kills = atomic_load(&st->kills),
			.kills_refused = atomic_load(&st->kills_refused),
		};
	}
	return r ? r->n_states : 0;
}

char *rules_json(struct rules *r)
{
	cJSON *arr = cJSON_CreateArray();
	char *out;

	for (size_t i = 0; r && i < r->n_states; i++) {
		const struct rule_state *st = &r->states[i];
		cJSON *o = cJSON_CreateObject();

		if (!st->rule)
			continue;
		cJSON_AddStringToObject(o, "id", st->rule->id);
		if (st->rule->description)
			cJSON_AddStringToObject(o, "description", st->rule->description);
		cJSON_AddStringToObject(o, "expression", st->rule->expression);
		cJSON_AddStringToObject(o, "priority", st->priority);
		cJSON_AddStringToObject(o, "file", st->rule->file ? st->rule->file : "");
		cJSON_AddNumberToObject(o, "matches", (double)atomic_load(&st->matches));
		cJSON_AddNumberToObject(o, "suppressed", (double)atomic_load(&st->suppressed));
		cJSON_AddItemToArray(arr, o);
	}
	out = cJSON_PrintUnformatted(arr);
	cJSON_Delete(arr);
	return out;
}

/* ---- in-kernel approvers ------------------------------------------------ */

static bool add_name(struct kernel_filter *f, const char *name, size_t len)
{
	if (len == 0 || len >= sizeof(f->open_names[0]) || f->n_open_names == KERNEL_FILTER_MAX_NAMES)
		return false;
	for (size_t i = 0; i < f->n_open_names; i++) {
		if (strncmp(f->open_names[i], name, len) == 0 && f->open_names[i][len] == '\0')
			return true;
	}
	memcpy(f->open_names[f->n_open_names], name, len);
	f->open_names[f->n_open_names][len] = '\0';
	f->n_open_names++;
	return true;
}

/* A path approver narrows the name only when its last component is literal. */
static bool add_path_name(struct kernel_filter *f, const struct secl_approver *a)
{
	const char *slash = strrchr(a->str, '/');
	const char *name = slash ? slash + 1 : a->str;

	if (a->kind == SECL_APPROVE_PATTERN && strpbrk(name, "*?[") != NULL)
		return false;
	return add_name(f, name, strlen(name));
}

/* One rule: approvable by its flags, or its file name, or its file path. */
static bool approve_open_rule(struct secl_ruleset *rs, int i, struct kernel_filter *f)
{
	struct secl_approvers a;
	bool ok = true;

	if (secl_rule_approvers(rs, i, "open.flags", &a, NULL) == 1) {
		for (size_t k = 0; k < a.n; k++) {
			if (a.items[k].kind == SECL_APPROVE_FLAGS && a.items[k].i != 0)
				f->open_flags |= (uint64_t)a.items[k].i;
			else
				ok = false;
		}
		secl_approvers_free(&a);
		if (ok)
			return true;
	}
	ok = true;
	if (secl_rule_approvers(rs, i, "open.file.name", &a, NULL) == 1) {
		for (size_t k = 0; k < a.n && ok; k++)
			ok = a.items[k].kind == SECL_APPROVE_EXACT && add_name(f, a.items[k].str, strlen(a.items[k].str));
		secl_approvers_free(&a);
		if (ok)
			return true;
	}
	ok = true;
	if (secl_rule_approvers(rs, i, "open.file.path", &a, NULL) == 1) {
		for (size_t k = 0; k < a.n && ok; k++)
			ok = (a.items[k].kind == SECL_APPROVE_EXACT || a.items[k].kind == SECL_APPROVE_PATTERN) &&
			     add_path_name(f, &a.items[k]);
		secl_approvers_free(&a);
		return ok;
	}
	return false;
}

bool rules_open_discardable(struct rules *r, const char *path)
{
	union secl_scalar v = { .s = { path, strlen(path) } };

	return r && !secl_ruleset_has_wildcard_rules(r->ruleset) &&
	       secl_ruleset_is_discarder(r->ruleset, EVENT_OPEN, "open.file.path", &v, NULL) == 1;
}

static uint64_t fnv1a(const char *s)
{
	uint64_t h = VIGIL_FNV_OFFSET;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * VIGIL_FNV_PRIME;
	return h;
}

/* Kill rules whose whole expression is "the executable is one of these
 * paths" are decided in the kernel, at exec, before the program runs. */
static void kernel_kill_list(struct rules *r, struct kernel_filter *f)
{
	static const char *const fields[] = { "exec.file.path", "process.file.path" };

	for (size_t i = 0; i < r->n_states; i++) {
		const struct policy_rule *rule = r->states[i].rule;
		const struct policy_action *kill = NULL;
		struct secl_approvers a = { 0 };

		for (size_t k = 0; rule && k < rule->n_actions; k++) {
			if (rule->actions[k].kind == POLICY_ACTION_KILL &&
			    (!rule->actions[k].kill.scope || strcmp(rule->actions[k].kill.scope, "process") == 0))
				kill = &rule->actions[k];
		}
		if (!kill || secl_ruleset_rule_event(r->ruleset, (int)i) != EVENT_EXEC)
			continue;
		for (size_t fi = 0; fi < 2 && a.n == 0; fi++) {
			if (secl_rule_exact_values(r->ruleset, (int)i, fields[fi], &a) != 1)
				secl_approvers_free(&a);
		}
		for (size_t k = 0; k < a.n && f->n_kills < KERNEL_FILTER_MAX_NAMES; k++) {
			char canon[PATH_MAX];

			/* The kernel hashes the canonical path it walked. */
			if (!realpath(a.items[k].str, canon)) {
				snprintf(canon, sizeof(canon), "%s", a.items[k].str);
				path_normalize(canon);
			}
			f->kill_hashes[f->n_kills] = fnv1a(canon);
			f->kill_signals[f->n_kills] = kill->kill.signal;
			f->n_kills++;
		}
		secl_approvers_free(&a);
	}
	if (f->n_kills)
		log_info("kill list: %zu executables are killed in the kernel at exec", f->n_kills);
}

void rules_kernel_filter(struct rules *r, struct kernel_filter *f)
{
	memset(f, 0, sizeof(*f));
	if (r)
		kernel_kill_list(r, f);
	if (!r || !(r->event_mask & EVENT_MASK(EVENT_OPEN)) || secl_ruleset_has_wildcard_rules(r->ruleset))
		return;
	f->discarders = true;
	for (size_t i = 0; i < r->n_states; i++) {
		if (secl_ruleset_rule_event(r->ruleset, (int)i) != EVENT_OPEN)
			continue;
		if (!approve_open_rule(r->ruleset, (int)i, f)) {
			log_info("open approvers off: rule %s needs every open",
				 secl_ruleset_rule_id(r->ruleset, (int)i));
			f->open_enabled = false;
			f->open_flags = 0;
			f->n_open_names = 0;
			return;
		}
	}
	f->open_enabled = true;
	log_info("open approvers: flags 0x%llx or one of %zu names", (unsigned long long)f->open_flags,
		 f->n_open_names);
}
