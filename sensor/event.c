/* event.c - names of event types, shared by the CLI, the serializers and the
 * rule engine's schema. */
#include "event.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[EVENT_TYPE_COUNT] = {
	[EVENT_UNKNOWN] = "unknown",
	[EVENT_EXEC] = "exec",
	[EVENT_FORK] = "fork",
	[EVENT_EXIT] = "exit",
	[EVENT_OPEN] = "open",
	[EVENT_MKDIR] = "mkdir",
	[EVENT_RMDIR] = "rmdir",
	[EVENT_UNLINK] = "unlink",
	[EVENT_RENAME] = "rename",
	[EVENT_LINK] = "link",
	[EVENT_SYMLINK] = "symlink",
	[EVENT_CHMOD] = "chmod",
	[EVENT_CHOWN] = "chown",
	[EVENT_UTIMES] = "utimes",
	[EVENT_TRUNCATE] = "truncate",
	[EVENT_SETXATTR] = "setxattr",
	[EVENT_REMOVEXATTR] = "removexattr",
	[EVENT_CHDIR] = "chdir",
	[EVENT_SETUID] = "setuid",
	[EVENT_SETGID] = "setgid",
	[EVENT_CAPSET] = "capset",
	[EVENT_PTRACE] = "ptrace",
	[EVENT_SIGNAL] = "signal",
	[EVENT_PRCTL] = "prctl",
	[EVENT_SETRLIMIT] = "setrlimit",
	[EVENT_LOAD_MODULE] = "load_module",
	[EVENT_UNLOAD_MODULE] = "unload_module",
	[EVENT_BPF] = "bpf",
	[EVENT_MOUNT] = "mount",
	[EVENT_UMOUNT] = "umount",
	[EVENT_MEMFD_CREATE] = "memfd_create",
	[EVENT_MMAP] = "mmap",
	[EVENT_MPROTECT] = "mprotect",
	[EVENT_UNSHARE] = "unshare",
	[EVENT_SETNS] = "setns",
	[EVENT_CONNECT] = "connect",
	[EVENT_BIND] = "bind",
	[EVENT_ACCEPT] = "accept",
	[EVENT_LISTEN] = "listen",
};

const char *event_category(enum event_type type)
{
	if (type >= EVENT_OPEN && type <= EVENT_CHDIR)
		return "file";
	if (type >= EVENT_LOAD_MODULE && type <= EVENT_SETNS)
		return "kernel";
	if (type >= EVENT_CONNECT && type < EVENT_TYPE_COUNT)
		return "network";
	return "process";
}

const char *event_type_name(enum event_type type)
{
	if ((unsigned)type >= EVENT_TYPE_COUNT || !type_names[type])
		return "unknown";
	return type_names[type];
}

enum event_type event_type_from_name(const char *name)
{
	for (int t = 1; t < EVENT_TYPE_COUNT; t++) {
		if (type_names[t] && strcmp(type_names[t], name) == 0)
			return (enum event_type)t;
	}
	return EVENT_UNKNOWN;
}

int event_type_mask_parse(const char *list, uint64_t *mask, char *err, size_t errlen)
{
	char name[64];
	const char *p = list;

	*mask = 0;
	while (*p) {
		size_t n = strcspn(p, ",");
		enum event_type t;

		if (n == 0 || n >= sizeof(name)) {
			snprintf(err, errlen, "bad event type list \"%s\": empty or over-long entry", list);
			return -1;
		}
		memcpy(name, p, n);
		name[n] = '\0';
		t = event_type_from_name(name);
		if (t == EVENT_UNKNOWN) {
			snprintf(err, errlen, "unknown event type \"%s\" (`vigil events --help` lists them)", name);
			return -1;
		}
		*mask |= EVENT_MASK(t);
		p += n;
		if (*p == ',')
			p++;
	}
	if (*mask == 0) {
		snprintf(err, errlen, "empty event type list");
		return -1;
	}
	return 0;
}

/* Strings an event points at, with their lengths (args and raw str are
 * byte blocks, not C strings). */
struct string_ref {
	const char **ptr;
	size_t len;
};

static size_t collect_strings(struct event *ev, struct string_ref *refs)
{
	size_t n = 0;

#define ADD_STR(field) \
	do { \
		if (field) \
			refs[n++] = (struct string_ref){ &(field), strlen(field) + 1 }; \
	} while (0)
	ADD_STR(ev->process.path);
	if (ev->process.args)
		refs[n++] = (struct string_ref){ &ev->process.args, ev->process.args_len };
	if (ev->type == EVENT_EXEC) {
		ADD_STR(ev->exec.syscall_path);
	} else if (event_is_syscall(ev->type)) {
		struct syscall_data *sc = &ev->syscall;
		bool unix_is_str = sc->addr.unix_path && sc->addr.unix_path == sc->str;

		ADD_STR(sc->file.path);
		ADD_STR(sc->file2.path);
		if (sc->str)
			refs[n++] = (struct string_ref){ &sc->str, sc->str_len > strlen(sc->str) + 1
									 ? sc->str_len : strlen(sc->str) + 1 };
		ADD_STR(sc->str2);
		if (sc->addr.unix_path && !unix_is_str)
			refs[n++] = (struct string_ref){ &sc->addr.unix_path, strlen(sc->addr.unix_path) + 1 };
	}
#undef ADD_STR
	return n;
}

struct event *event_clone(const struct event *ev)
{
	struct string_ref refs[8];
	struct event tmp = *ev;
	struct event *copy;
	size_t n, total = sizeof(*copy);
	char *p;

	n = collect_strings(&tmp, refs);
	for (size_t i = 0; i < n; i++)
		total += refs[i].len;
	copy = malloc(total);
	if (!copy)
		return NULL;
	*copy = *ev;
	n = collect_strings(copy, refs);
	p = (char *)(copy + 1);
	for (size_t i = 0; i < n; i++) {
		const char *old = *refs[i].ptr;

		memcpy(p, old, refs[i].len);
		*refs[i].ptr = p;
		p += refs[i].len;
	}
	if (event_is_syscall(copy->type) && copy->syscall.addr.unix_path && ev->syscall.addr.unix_path == ev->syscall.str)
		copy->syscall.addr.unix_path = copy->syscall.str;
	return copy;
}
