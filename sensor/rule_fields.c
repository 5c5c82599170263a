/* rule_fields.c - see rule_fields.h.
 *
 * Fields are generated from a few families instead of written one by one:
 * every process attribute under process., process.parent.,
 * process.ancestors. (and exec./exit. for those events, signal.target. and
 * ptrace.tracee.), and every file attribute under each file event's
 * <event>.file. prefix. Two getters serve them all, steered by a small
 * context naming the scope and attribute. */
#include "rule_fields.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "event.h"

/* ---- process fields ---------------------------------------------------- */

enum proc_scope { SCOPE_SELF, SCOPE_PARENT, SCOPE_ANCESTORS, SCOPE_TARGET };

enum proc_attr {
	PA_PID, PA_PPID, PA_TID, PA_UID, PA_GID, PA_EUID, PA_EGID, PA_FSUID, PA_FSGID, PA_AUID,
	PA_CAP_EFFECTIVE, PA_CAP_PERMITTED, PA_COMM, PA_PATH, PA_NAME, PA_INODE, PA_ARGV0,
	PA_ARGS, PA_ARGV, PA_ARGS_TRUNCATED, PA_IS_THREAD, PA_CGROUP_ID, PA_COUNT
};

static const struct {
	const char *suffix;
	enum secl_type type;
} proc_attrs[PA_COUNT] = {
	[PA_PID] = { "pid", SECL_INT },
	[PA_PPID] = { "ppid", SECL_INT },
	[PA_TID] = { "tid", SECL_INT },
	[PA_UID] = { "uid", SECL_INT },
	[PA_GID] = { "gid", SECL_INT },
	[PA_EUID] = { "euid", SECL_INT },
	[PA_EGID] = { "egid", SECL_INT },
	[PA_FSUID] = { "fsuid", SECL_INT },
	[PA_FSGID] = { "fsgid", SECL_INT },
	[PA_AUID] = { "auid", SECL_INT },
	[PA_CAP_EFFECTIVE] = { "cap_effective", SECL_INT },
	[PA_CAP_PERMITTED] = { "cap_permitted", SECL_INT },
	[PA_COMM] = { "comm", SECL_STRING },
	[PA_PATH] = { "file.path", SECL_STRING },
	[PA_NAME] = { "file.name", SECL_STRING },
	[PA_INODE] = { "file.inode", SECL_INT },
	[PA_ARGV0] = { "argv0", SECL_STRING },
	[PA_ARGS] = { "args", SECL_STRING },
	[PA_ARGV] = { "argv", SECL_STRING },
	[PA_ARGS_TRUNCATED] = { "args_truncated", SECL_BOOL },
	[PA_IS_THREAD] = { "is_thread", SECL_BOOL },
	[PA_CGROUP_ID] = { "cgroup.id", SECL_INT },
};

struct proc_ctx {
	enum proc_scope scope;
	enum proc_attr attr;
};

static struct secl_str str_of(const char *s)
{
	return (struct secl_str){ .ptr = s ? s : "", .len = s ? strlen(s) : 0 };
}

static const char *base_name(const char *path)
{
	const char *slash = path ? strrchr(path, '/') : NULL;

	return slash ? slash + 1 : path;
}

/* "ls\0-l\0/tmp" -> "-l /tmp": Datadog's process.args leaves argv0 out. */
static const char *join_args(struct rule_input *in, int slot, const struct process *p)
{
	char *buf = in->joined[slot];
	size_t len = 0;
	const char *s, *end;

	if (in->joined_ready[slot])
		return buf;
	buf[0] = '\0';
	if (p->args) {
		s = p->args + strnlen(p->args, p->args_len) + 1;
		end = p->args + p->args_len;
		while (s < end && len + 1 < sizeof(in->joined[slot])) {
			size_t n = strnlen(s, (size_t)(end - s));

			if (len)
				buf[len++] = ' ';
			if (n > sizeof(in->joined[slot]) - 1 - len)
				n = sizeof(in->joined[slot]) - 1 - len;
			memcpy(buf + len, s, n);
			len += n;
			s += strnlen(s, (size_t)(end - s)) + 1;
		}
		buf[len] = '\0';
	}
	in->joined_ready[slot] = true;
	return buf;
}

static size_t proc_value(struct rule_input *in, int slot, const struct process *p, enum proc_attr a,
			 union secl_scalar *out, size_t max)
{
	const char *s, *end;
	size_t n = 0;

	switch (a) {
	case PA_PID: out->i = p->pid; return 1;
	case PA_PPID: out->i = p->ppid; return 1;
	case PA_TID: out->i = p->tid; return 1;
	case PA_UID: out->i = p->cred.uid; return 1;
	case PA_GID: out->i = p->cred.gid; return 1;
	case PA_EUID: out->i = p->cred.euid; return 1;
	case PA_EGID: out->i = p->cred.egid; return 1;
	case PA_FSUID: out->i = p->cred.fsuid; return 1;
	case PA_FSGID: out->i = p->cred.fsgid; return 1;
	case PA_AUID: out->i = p->cred.auid; return 1;
	case PA_CAP_EFFECTIVE: out->i = (int64_t)p->cred.cap_effective; return 1;
	case PA_CAP_PERMITTED: out->i = (int64_t)p->cred.cap_permitted; return 1;
	case PA_COMM: out->s = str_of(p->comm); return 1;
	case PA_PATH: out->s = str_of(p->path); return 1;
	case PA_NAME: out->s = str_of(base_name(p->path)); return 1;
	case PA_INODE: out->i = (int64_t)p->inode; return 1;
	case PA_ARGV0: out->s = str_of(p->args_len ? p->args : NULL); return 1;
	case PA_ARGS:
		out->s = str_of(slot >= 0 ? join_args(in, slot, p) : "");
		return 1;
	case PA_ARGV:
		if (!p->args)
			return 0;
		end = p->args + p->args_len;
		s = p->args + strnlen(p->args, p->args_len) + 1;
		for (; s < end; s += strnlen(s, (size_t)(end - s)) + 1) {
			if (n < max)
				out[n] = (union secl_scalar){ .s = { s, strnlen(s, (size_t)(end - s)) } };
			n++;
		}
		return n;
	case PA_ARGS_TRUNCATED: out->b = p->args_truncated; return 1;
	case PA_IS_THREAD: out->b = p->is_thread; return 1;
	case PA_CGROUP_ID: out->i = (int64_t)p->cgroup_id; return 1;
	default: return 0;
	}
}

static size_t get_proc(const void *event, void *ctx, union secl_scalar *out, size_t max)
{
	struct rule_input *in = (struct rule_input *)event;
	const struct proc_ctx *pc = ctx;
	const struct event_view *v = &in->view;
	size_t n = 0;

	switch (pc->scope) {
	case SCOPE_SELF:
		return proc_value(in, 0, v->process, pc->attr, out, max);
	case SCOPE_PARENT:
		return v->n_ancestors ? proc_value(in, 1, v->ancestors[0], pc->attr, out, max) : 0;
	case SCOPE_TARGET:
		return v->target ? proc_value(in, 2, v->target, pc->attr, out, max) : 0;
	case SCOPE_ANCESTORS:
		/* Any ancestor: one value each (multi-valued attributes take
		 * their first). */
		for (size_t i = 0; i < v->n_ancestors && n < max; i++) {
			if (proc_value(in, -1, v->ancestors[i], pc->attr, &out[n], 1) > 0)
				n++;
		}
		return n;
	}
	return 0;
}

/* ---- event fields ------------------------------------------------------ */

enum ev_attr {
	EA_PATH, EA_NAME, EA_INODE, EA_MODE, EA_UID, EA_GID, EA_MOUNT_ID,
	EA_DEST_PATH, EA_DEST_NAME, EA_DEST_MODE, EA_DEST_UID, EA_DEST_GID, EA_DEST_XATTR,
	EA_FLAGS, EA_RETVAL, EA_STR, EA_STR2, EA_OP, EA_PID, EA_RLIM_CUR, EA_RLIM_MAX,
	EA_ADDR_IP, EA_ADDR_PORT, EA_ADDR_FAMILY, EA_ADDR_PATH, EA_EXIT_CAUSE, EA_EXIT_CODE,
	EA_FROM_MEMORY, EA_MODULE_NAME, EA_BPF_MAP_TYPE, EA_BPF_MAP_NAME, EA_BPF_PROG_TYPE,
	EA_BPF_PROG_NAME, EA_EXEC_SYSCALL_PATH, EA_SETUID_UID, EA_SETUID_EUID, EA_SETUID_FSUID,
	EA_SETGID_GID, EA_SETGID_EGID, EA_SETGID_FSGID, EA_CAP_EFFECTIVE, EA_CAP_PERMITTED,
	EA_PROT, EA_NEW_NAME,
};

struct ev_ctx {
	enum ev_attr attr;
};

/* A module's name is its file's name without ".ko" (and compression). */
static struct secl_str module_name(const struct syscall_data *sc)
{
	const char *name = sc->file.path ? base_name(sc->file.path) : sc->str;
	const char *dot = name ? strstr(name, ".ko") : NULL;

	if (!name)
		return str_of(NULL);
	return (struct secl_str){ name, dot ? (size_t)(dot - name) : strlen(name) };
}

static size_t bpf_attr_value(const struct syscall_data *sc, enum ev_attr a, union secl_scalar *out)
{
	bool is_map = sc->op == 0, is_prog = sc->op == 5;
	uint32_t type;

	if (!sc->str || sc->str_len < 64 || (!is_map && !is_prog))
		return 0;
	if ((a == EA_BPF_MAP_TYPE || a == EA_BPF_MAP_NAME) != is_map)
		return 0;
	if (a == EA_BPF_MAP_TYPE || a == EA_BPF_PROG_TYPE) {
		memcpy(&type, sc->str, sizeof(type));
		out->i = type;
	} else {
		const char *name = sc->str + (is_map ? 28 : 48);

		out->s = (struct secl_str){ name, strnlen(name, 16) };
	}
	return 1;
}

static size_t get_event(const void *event, void *ctx, union secl_scalar *out, size_t max)
{
	const struct rule_input *in = event;
	const struct event *ev = in->view.event;
	const struct syscall_data *sc = &ev->syscall;
	const struct credentials *c = &ev->process.cred;
	enum ev_attr a = ((const struct ev_ctx *)ctx)->attr;

	(void)max;
	if (ev->type == EVENT_EXIT) {
		if (a == EA_EXIT_CAUSE)
			out->i = ev->exit.cause;
		else if (a == EA_EXIT_CODE)
			out->i = ev->exit.code;
		else
			return 0;
		return 1;
	}
	if (ev->type == EVENT_EXEC) {
		if (a != EA_EXEC_SYSCALL_PATH)
			return 0;
		out->s = str_of(ev->exec.syscall_path);
		return 1;
	}
	if (!event_is_syscall(ev->type))
		return 0;
	switch (a) {
	case EA_PATH: out->s = str_of(sc->file.path); return 1;
	case EA_NAME: out->s = str_of(base_name(sc->file.path)); return 1;
	case EA_INODE: out->i = (int64_t)sc->file.inode; return 1;
	case EA_MODE: out->i = sc->file.mode; return 1;
	case EA_UID: out->i = sc->file.uid; return 1;
	case EA_GID: out->i = sc->file.gid; return 1;
	case EA_MOUNT_ID: out->i = sc->file.mount_id; return 1;
	case EA_DEST_PATH: out->s = str_of(sc->file2.path); return 1;
	case EA_DEST_NAME: out->s = str_of(base_name(sc->file2.path)); return 1;
	case EA_DEST_MODE: out->i = (int64_t)sc->mode; return 1;
	case EA_DEST_UID: out->i = (int32_t)sc->uid; return 1;
	case EA_DEST_GID: out->i = (int32_t)sc->gid; return 1;
	case EA_DEST_XATTR: out->s = str_of(sc->str); return 1;
	case EA_FLAGS: out->i = (int64_t)sc->flags; return 1;
	case EA_RETVAL: out->i = sc->retval; return 1;
	case EA_STR: out->s = str_of(sc->str); return 1;
	case EA_STR2: out->s = str_of(sc->str2); return 1;
	case EA_OP: out->i = sc->op; return 1;
	case EA_PID: out->i = sc->pid; return 1;
	case EA_RLIM_CUR: out->i = (int64_t)sc->rlim_cur; return 1;
	case EA_RLIM_MAX: out->i = (int64_t)sc->rlim_max; return 1;
	case EA_ADDR_IP:
		if (sc->addr.family == 2) {
			uint32_t be;

			memcpy(&be, sc->addr.ip, 4);
			secl_ip_v4(&out->ip, be);
		} else if (sc->addr.family == 10) {
			secl_ip_v6(&out->ip, sc->addr.ip);
		} else {
			return 0;
		}
		return 1;
	case EA_ADDR_PORT: out->i = sc->addr.port; return 1;
	case EA_ADDR_FAMILY: out->i = sc->addr.family; return 1;
	case EA_ADDR_PATH: out->s = str_of(sc->addr.unix_path); return 1;
	case EA_FROM_MEMORY: out->b = sc->name && strcmp(sc->name, "init_module") == 0; return 1;
	case EA_MODULE_NAME: out->s = module_name(sc); return 1;
	case EA_BPF_MAP_TYPE:
	case EA_BPF_MAP_NAME:
	case EA_BPF_PROG_TYPE:
	case EA_BPF_PROG_NAME:
		return bpf_attr_value(sc, a, out);
	case EA_SETUID_UID: out->i = c->uid; return 1;
	case EA_SETUID_EUID: out->i = c->euid; return 1;
	case EA_SETUID_FSUID: out->i = c->fsuid; return 1;
	case EA_SETGID_GID: out->i = c->gid; return 1;
	case EA_SETGID_EGID: out->i = c->egid; return 1;
	case EA_SETGID_FSGID: out->i = c->fsgid; return 1;
	case EA_CAP_EFFECTIVE: out->i = (int64_t)c->cap_effective; return 1;
	case EA_CAP_PERMITTED: out->i = (int64_t)c->cap_permitted; return 1;
	case EA_PROT: out->i = (int64_t)sc->mode; return 1;
	case EA_NEW_NAME: out->s = str_of(sc->op == 15 ? sc->str : NULL); return 1;
	default: return 0;
	}
}

/* ---- container fields --------------------------------------------------- */

enum container_attr { CA_ID, CA_NAME, CA_IMAGE, CA_TAG, CA_POD, CA_NAMESPACE, CA_COUNT };

static const char *const container_fields[CA_COUNT] = {
	[CA_ID] = "container.id", [CA_NAME] = "container.name", [CA_IMAGE] = "container.image.name",
	[CA_TAG] = "container.image.tag", [CA_POD] = "pod.name", [CA_NAMESPACE] = "pod.namespace",
};

static struct ev_ctx container_ctxs[CA_COUNT];

static size_t get_container(const void *event, void *ctx, union secl_scalar *out, size_t max)
{
	const struct container_view *c = ((const struct rule_input *)event)->view.container;
	const char *v = NULL;

	(void)max;
	if (c) {
		switch ((enum container_attr)((const struct ev_ctx *)ctx)->attr) {
		case CA_ID: v = c->id; break;
		case CA_NAME: v = c->name; break;
		case CA_IMAGE: v = c->image_name; break;
		case CA_TAG: v = c->image_tag; break;
		case CA_POD: v = c->pod_name; break;
		case CA_NAMESPACE: v = c->pod_namespace; break;
		default: break;
		}
	}
	out->s = str_of(v);
	return 1;
}

/* ---- the schema -------------------------------------------------------- */

#define MAX_FIELDS 1024
#define NAME_POOL 32768

static struct secl_field fields[MAX_FIELDS];
static size_t n_fields;
static char name_pool[NAME_POOL];
static size_t pool_used;
static struct proc_ctx proc_ctxs[4][PA_COUNT];
static struct ev_ctx ev_ctxs[64];
static const char *event_names[EVENT_TYPE_COUNT];
static struct secl_schema schema;
static pthread_once_t schema_once = PTHREAD_ONCE_INIT;

static const char *intern(const char *a, const char *b)
{
	char *dst = name_pool + pool_used;
	int n = snprintf(dst, NAME_POOL - pool_used, "%s%s", a, b);

	if (n < 0 || (size_t)n >= NAME_POOL - pool_used)
		abort(); /* the pool is sized for the fixed field set below */
	pool_used += (size_t)n + 1;
	return dst;
}

static void add_field(const char *prefix, const char *suffix, enum secl_type type, int event_type,
		      size_t (*get)(const void *, void *, union secl_scalar *, size_t), void *ctx)
{
	if (n_fields == MAX_FIELDS)
		abort();
	fields[n_fields++] = (struct secl_field){ .name = intern(prefix, suffix), .type = type,
						  .event_type = event_type, .get = get,
						  .getter_ctx = ctx };
}

static void add_process_family(const char *prefix, enum proc_scope scope, int event_type)
{
	for (int a = 0; a < PA_COUNT; a++) {
		proc_ctxs[scope][a] = (struct proc_ctx){ scope, (enum proc_attr)a };
		add_field(prefix, proc_attrs[a].suffix, proc_attrs[a].type, event_type, get_proc,
			  &proc_ctxs[scope][a]);
	}
}

static void *ev(enum ev_attr a)
{
	ev_ctxs[a].attr = a;
	return &ev_ctxs[a];
}

static void add_ev(enum event_type t, const char *suffix, enum secl_type type, enum ev_attr a)
{
	char prefix[64];

	snprintf(prefix, sizeof(prefix), "%s.", event_type_name(t));
	add_field(prefix, suffix, type, t, get_event, ev(a));
}

static void add_file_family(enum event_type t, const char *file_key)
{
	char key[64];

	snprintf(key, sizeof(key), "%s.", file_key);
	add_ev(t, intern(key, "path"), SECL_STRING, EA_PATH);
	add_ev(t, intern(key, "name"), SECL_STRING, EA_NAME);
	add_ev(t, intern(key, "inode"), SECL_INT, EA_INODE);
	add_ev(t, intern(key, "mode"), SECL_INT, EA_MODE);
	add_ev(t, intern(key, "uid"), SECL_INT, EA_UID);
	add_ev(t, intern(key, "gid"), SECL_INT, EA_GID);
	add_ev(t, intern(key, "mount_id"), SECL_INT, EA_MOUNT_ID);
	add_ev(t, "retval", SECL_INT, EA_RETVAL);
}

static const struct secl_constant constants[] = {
	{ "O_RDONLY", O_RDONLY }, { "O_WRONLY", O_WRONLY }, { "O_RDWR", O_RDWR },
	{ "O_CREAT", O_CREAT }, { "O_EXCL", O_EXCL }, { "O_NOCTTY", O_NOCTTY },
	{ "O_TRUNC", O_TRUNC }, { "O_APPEND", O_APPEND }, { "O_NONBLOCK", O_NONBLOCK },
	{ "O_SYNC", O_SYNC }, { "O_DIRECTORY", O_DIRECTORY }, { "O_NOFOLLOW", O_NOFOLLOW },
	{ "O_CLOEXEC", O_CLOEXEC }, { "O_PATH", O_PATH }, { "O_TMPFILE", O_TMPFILE },
	{ "S_ISUID", 04000 }, { "S_ISGID", 02000 }, { "S_ISVTX", 01000 },
	{ "S_IRWXU", 0700 }, { "S_IRUSR", 0400 }, { "S_IWUSR", 0200 }, { "S_IXUSR", 0100 },
	{ "S_IRWXG", 070 }, { "S_IRGRP", 040 }, { "S_IWGRP", 020 }, { "S_IXGRP", 010 },
	{ "S_IRWXO", 07 }, { "S_IROTH", 04 }, { "S_IWOTH", 02 }, { "S_IXOTH", 01 },
	{ "SIGHUP", SIGHUP }, { "SIGINT", SIGINT }, { "SIGQUIT", SIGQUIT }, { "SIGKILL", SIGKILL },
	{ "SIGUSR1", SIGUSR1 }, { "SIGUSR2", SIGUSR2 }, { "SIGTERM", SIGTERM },
	{ "SIGSTOP", SIGSTOP }, { "SIGCONT", SIGCONT }, { "SIGSEGV", SIGSEGV },
	{ "PTRACE_TRACEME", 0 }, { "PTRACE_PEEKTEXT", 1 }, { "PTRACE_PEEKDATA", 2 },
	{ "PTRACE_POKETEXT", 4 }, { "PTRACE_POKEDATA", 5 }, { "PTRACE_POKEUSR", 6 },
	{ "PTRACE_CONT", 7 }, { "PTRACE_SETREGS", 13 }, { "PTRACE_ATTACH", 16 },
	{ "PTRACE_DETACH", 17 }, { "PTRACE_SEIZE", 0x4206 },
	{ "PROT_READ", PROT_READ }, { "PROT_WRITE", PROT_WRITE }, { "PROT_EXEC", PROT_EXEC },
	{ "MAP_SHARED", MAP_SHARED }, { "MAP_PRIVATE", MAP_PRIVATE }, { "MAP_ANONYMOUS", MAP_ANONYMOUS },
	{ "AF_UNIX", 1 }, { "AF_INET", 2 }, { "AF_INET6", 10 },
	{ "CLONE_NEWNS", 0x00020000 }, { "CLONE_NEWCGROUP", 0x02000000 }, { "CLONE_NEWUTS", 0x04000000 },
	{ "CLONE_NEWIPC", 0x08000000 }, { "CLONE_NEWUSER", 0x10000000 }, { "CLONE_NEWPID", 0x20000000 },
	{ "CLONE_NEWNET", 0x40000000 },
	{ "BPF_MAP_CREATE", 0 }, { "BPF_MAP_LOOKUP_ELEM", 1 }, { "BPF_MAP_UPDATE_ELEM", 2 },
	{ "BPF_PROG_LOAD", 5 }, { "BPF_PROG_ATTACH", 8 }, { "BPF_LINK_CREATE", 28 },
	{ "BPF_PROG_TYPE_KPROBE", 2 }, { "BPF_PROG_TYPE_TRACEPOINT", 5 }, { "BPF_PROG_TYPE_XDP", 6 },
	{ "BPF_PROG_TYPE_RAW_TRACEPOINT", 17 }, { "BPF_PROG_TYPE_TRACING", 26 },
	{ "BPF_PROG_TYPE_LSM", 29 }, { "BPF_MAP_TYPE_HASH", 1 }, { "BPF_MAP_TYPE_ARRAY", 2 },
	{ "BPF_MAP_TYPE_RINGBUF", 27 },
	{ "RLIMIT_CPU", 0 }, { "RLIMIT_FSIZE", 1 }, { "RLIMIT_DATA", 2 }, { "RLIMIT_STACK", 3 },
	{ "RLIMIT_CORE", 4 }, { "RLIMIT_NPROC", 6 }, { "RLIMIT_NOFILE", 7 }, { "RLIMIT_MEMLOCK", 8 },
	{ "RLIMIT_AS", 9 },
	{ "PR_SET_NAME", 15 }, { "PR_SET_DUMPABLE", 4 }, { "PR_SET_SECCOMP", 22 },
	{ "EXITED", EXIT_EXITED }, { "SIGNALED", EXIT_SIGNALED }, { "COREDUMPED", EXIT_COREDUMPED },
	{ "MS_RDONLY", 1 }, { "MS_BIND", 4096 }, { "MS_REMOUNT", 32 }, { "MS_MOVE", 8192 },
	{ "AT_REMOVEDIR", 0x200 },
};

static const enum event_type file_events[] = {
	EVENT_OPEN, EVENT_MKDIR, EVENT_RMDIR, EVENT_UNLINK, EVENT_RENAME, EVENT_LINK, EVENT_SYMLINK,
	EVENT_CHMOD, EVENT_CHOWN, EVENT_UTIMES, EVENT_TRUNCATE, EVENT_SETXATTR, EVENT_REMOVEXATTR,
	EVENT_CHDIR,
};

static void build_schema(void)
{
	for (int t = 0; t < EVENT_TYPE_COUNT; t++)
		event_names[t] = event_type_name((enum event_type)t);

	for (int a = 0; a < CA_COUNT; a++) {
		container_ctxs[a].attr = (enum ev_attr)a;
		add_field("", container_fields[a], SECL_STRING, -1, get_container, &container_ctxs[a]);
	}
	add_process_family("process.", SCOPE_SELF, -1);
	add_process_family("process.parent.", SCOPE_PARENT, -1);
	add_process_family("process.ancestors.", SCOPE_ANCESTORS, -1);
	/* exec.* and exit.* are the process itself, as in Datadog's SECL. */
	add_process_family("exec.", SCOPE_SELF, EVENT_EXEC);
	add_process_family("exit.", SCOPE_SELF, EVENT_EXIT);
	add_process_family("signal.target.", SCOPE_TARGET, EVENT_SIGNAL);
	add_process_family("ptrace.tracee.", SCOPE_TARGET, EVENT_PTRACE);
	add_ev(EVENT_EXEC, "syscall.path", SECL_STRING, EA_EXEC_SYSCALL_PATH);
	add_ev(EVENT_EXIT, "cause", SECL_INT, EA_EXIT_CAUSE);
	add_ev(EVENT_EXIT, "code", SECL_INT, EA_EXIT_CODE);

	for (size_t i = 0; i < sizeof(file_events) / sizeof(file_events[0]); i++)
		add_file_family(file_events[i], "file");
	add_ev(EVENT_OPEN, "flags", SECL_INT, EA_FLAGS);
	add_ev(EVENT_OPEN, "file.destination.mode", SECL_INT, EA_DEST_MODE);
	add_ev(EVENT_MKDIR, "file.destination.mode", SECL_INT, EA_DEST_MODE);
	add_ev(EVENT_UNLINK, "flags", SECL_INT, EA_FLAGS);
	add_ev(EVENT_RENAME, "file.destination.path", SECL_STRING, EA_DEST_PATH);
	add_ev(EVENT_RENAME, "file.destination.name", SECL_STRING, EA_DEST_NAME);
	add_ev(EVENT_LINK, "file.destination.path", SECL_STRING, EA_DEST_PATH);
	add_ev(EVENT_LINK, "file.destination.name", SECL_STRING, EA_DEST_NAME);
	add_ev(EVENT_SYMLINK, "target", SECL_STRING, EA_STR);
	add_ev(EVENT_CHMOD, "file.destination.mode", SECL_INT, EA_DEST_MODE);
	add_ev(EVENT_CHMOD, "file.destination.rights", SECL_INT, EA_DEST_MODE);
	add_ev(EVENT_CHOWN, "file.destination.uid", SECL_INT, EA_DEST_UID);
	add_ev(EVENT_CHOWN, "file.destination.gid", SECL_INT, EA_DEST_GID);
	add_ev(EVENT_SETXATTR, "file.destination.name", SECL_STRING, EA_DEST_XATTR);
	add_ev(EVENT_REMOVEXATTR, "file.destination.name", SECL_STRING, EA_DEST_XATTR);

	add_ev(EVENT_SETUID, "uid", SECL_INT, EA_SETUID_UID);
	add_ev(EVENT_SETUID, "euid", SECL_INT, EA_SETUID_EUID);
	add_ev(EVENT_SETUID, "fsuid", SECL_INT, EA_SETUID_FSUID);
	add_ev(EVENT_SETGID, "gid", SECL_INT, EA_SETGID_GID);
	add_ev(EVENT_SETGID, "egid", SECL_INT, EA_SETGID_EGID);
	add_ev(EVENT_SETGID, "fsgid", SECL_INT, EA_SETGID_FSGID);
	add_ev(EVENT_CAPSET, "cap_effective", SECL_INT, EA_CAP_EFFECTIVE);
	add_ev(EVENT_CAPSET, "cap_permitted", SECL_INT, EA_CAP_PERMITTED);
	add_ev(EVENT_PTRACE, "request", SECL_INT, EA_OP);
	add_ev(EVENT_PTRACE, "retval", SECL_INT, EA_RETVAL);
	add_ev(EVENT_SIGNAL, "type", SECL_INT, EA_OP);
	add_ev(EVENT_SIGNAL, "pid", SECL_INT, EA_PID);
	add_ev(EVENT_SIGNAL, "retval", SECL_INT, EA_RETVAL);
	add_ev(EVENT_PRCTL, "option", SECL_INT, EA_OP);
	add_ev(EVENT_PRCTL, "new_name", SECL_STRING, EA_NEW_NAME);
	add_ev(EVENT_SETRLIMIT, "resource", SECL_INT, EA_OP);
	add_ev(EVENT_SETRLIMIT, "rlim_cur", SECL_INT, EA_RLIM_CUR);
	add_ev(EVENT_SETRLIMIT, "rlim_max", SECL_INT, EA_RLIM_MAX);

	add_ev(EVENT_LOAD_MODULE, "file.path", SECL_STRING, EA_PATH);
	add_ev(EVENT_LOAD_MODULE, "name", SECL_STRING, EA_MODULE_NAME);
	add_ev(EVENT_LOAD_MODULE, "args", SECL_STRING, EA_STR);
	add_ev(EVENT_LOAD_MODULE, "loaded_from_memory", SECL_BOOL, EA_FROM_MEMORY);
	add_ev(EVENT_LOAD_MODULE, "retval", SECL_INT, EA_RETVAL);
	add_ev(EVENT_UNLOAD_MODULE, "name", SECL_STRING, EA_STR);
	add_ev(EVENT_UNLOAD_MODULE, "retval", SECL_INT, EA_RETVAL);
	add_ev(EVENT_BPF, "cmd", SECL_INT, EA_OP);
	add_ev(EVENT_BPF, "map.type", SECL_INT, EA_BPF_MAP_TYPE);
	add_ev(EVENT_BPF, "map.name", SECL_STRING, EA_BPF_MAP_NAME);
	add_ev(EVENT_BPF, "prog.type", SECL_INT, EA_BPF_PROG_TYPE);
	add_ev(EVENT_BPF, "prog.name", SECL_STRING, EA_BPF_PROG_NAME);
	add_ev(EVENT_BPF, "retval", SECL_INT, EA_RETVAL);
	add_ev(EVENT_MOUNT, "mountpoint.path", SECL_STRING, EA_PATH);
	add_ev(EVENT_MOUNT, "source.path", SECL_STRING, EA_STR);
	add_ev(EVENT_MOUNT, "fs_type", SECL_STRING, EA_STR2);
	add_ev(EVENT_MOUNT, "flags", SECL_INT, EA_FLAGS);
	add_ev(EVENT_MOUNT, "retval", SECL_INT, EA_RETVAL);
	add_ev(EVENT_UMOUNT, "file.path", SECL_STRING, EA_PATH);
	add_ev(EVENT_UMOUNT, "retval", SECL_INT, EA_RETVAL);
	add_ev(EVENT_MEMFD_CREATE, "name", SECL_STRING, EA_STR);
	add_ev(EVENT_MEMFD_CREATE, "flags", SECL_INT, EA_FLAGS);
	add_ev(EVENT_MMAP, "file.path", SECL_STRING, EA_PATH);
	add_ev(EVENT_MMAP, "protection", SECL_INT, EA_PROT);
	add_ev(EVENT_MMAP, "flags", SECL_INT, EA_FLAGS);
	add_ev(EVENT_MMAP, "retval", SECL_INT, EA_RETVAL);
	add_ev(EVENT_MPROTECT, "req_protection", SECL_INT, EA_PROT);
	add_ev(EVENT_MPROTECT, "retval", SECL_INT, EA_RETVAL);
	add_ev(EVENT_UNSHARE, "flags", SECL_INT, EA_FLAGS);
	add_ev(EVENT_UNSHARE, "retval", SECL_INT, EA_RETVAL);
	add_ev(EVENT_SETNS, "file.path", SECL_STRING, EA_PATH);
	add_ev(EVENT_SETNS, "nstype", SECL_INT, EA_FLAGS);
	add_ev(EVENT_SETNS, "retval", SECL_INT, EA_RETVAL);
	for (enum event_type t = EVENT_CONNECT; t <= EVENT_LISTEN; t++) {
		add_ev(t, "addr.ip", SECL_IP, EA_ADDR_IP);
		add_ev(t, "addr.port", SECL_INT, EA_ADDR_PORT);
		add_ev(t, "addr.family", SECL_INT, EA_ADDR_FAMILY);
		add_ev(t, "addr.path", SECL_STRING, EA_ADDR_PATH);
		add_ev(t, "retval", SECL_INT, EA_RETVAL);
	}

	schema = (struct secl_schema){
		.event_names = event_names, .n_events = EVENT_TYPE_COUNT,
		.fields = fields, .n_fields = n_fields,
		.constants = constants, .n_constants = sizeof(constants) / sizeof(constants[0]),
	};
}

const struct secl_schema *rule_schema(void)
{
	pthread_once(&schema_once, build_schema);
	return &schema;
}

void rule_input_init(struct rule_input *in, const struct event_view *view)
{
	in->view = *view;
	memset(in->joined_ready, 0, sizeof(in->joined_ready));
}
