/* event.c - names of event types, shared by the CLI, the serializers and the
 * rule engine's schema. */
#include "event.h"

#include <stdio.h>
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
