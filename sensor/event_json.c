/* event_json.c - see event_json.h. */
#include "event_json.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"

static const char *const cap_names[] = {
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
	"CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
	"CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
	"CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
};
#define CAP_COUNT (sizeof(cap_names) / sizeof(cap_names[0]))

const char *capability_name(unsigned bit)
{
	return bit < CAP_COUNT ? cap_names[bit] : NULL;
}

static const char *const exit_causes[] = { "EXITED", "SIGNALED", "COREDUMPED" };

/* ---- writing ---------------------------------------------------------- */

static void write_time(struct json_writer *w, const char *key, uint64_t boot_ns)
{
	char buf[48];

	if (boot_ns == 0)
		return;
	if (clock_format_rfc3339(clock_boot_to_wall(boot_ns), buf, sizeof(buf)) == 0)
		return;
	json_key(w, key);
	json_string(w, buf);
}

static void write_caps(struct json_writer *w, const char *key, uint64_t caps)
{
	json_key(w, key);
	json_array_begin(w);
	for (unsigned bit = 0; bit < 64; bit++) {
		char unknown[16];

		if (!(caps & (1ull << bit)))
			continue;
		if (bit < CAP_COUNT) {
			json_string(w, cap_names[bit]);
		} else {
			snprintf(unknown, sizeof(unknown), "CAP_%u", bit);
			json_string(w, unknown);
		}
	}
	json_array_end(w);
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* pts/N and ttyN are what users recognise; other devices by number. */
static void write_tty(struct json_writer *w, uint32_t tty_nr)
{
	uint32_t major = (tty_nr >> 8) & 0xfff;
	uint32_t minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
	char name[32];

	if (tty_nr == 0)
		return;
	if (major >= 136 && major <= 143)
		snprintf(name, sizeof(name), "pts%u", (major - 136) * 256 + minor);
	else if (major == 4 && minor < 64)
		snprintf(name, sizeof(name), "tty%u", minor);
	else if (major == 4)
		snprintf(name, sizeof(name), "ttyS%u", minor - 64);
	else
		snprintf(name, sizeof(name), "%u:%u", major, minor);
	json_key(w, "tty_name");
	json_string(w, name);
}

static void write_file(struct json_writer *w, const struct process *p, bool full)
{
	if (!p->path)
		return;
	json_key(w, "file");
	json_object_begin(w);
	json_key(w, "path");
	json_string(w, p->path);
	json_key(w, "name");
	json_string(w, base_name(p->path));
	if (full) {
		json_key(w, "inode");
		json_uint(w, p->inode);
		json_key(w, "mount_id");
		json_uint(w, p->mount_id);
	}
	if (p->path_truncated) {
		json_key(w, "path_truncated");
		json_bool(w, true);
	}
	json_object_end(w);
}

/* argv0 apart, the rest as "args", as Datadog's schema has it. */
static void write_args(struct json_writer *w, const struct process *p)
{
	const char *s = p->args, *end = p->args + p->args_len;
	bool first = true;

	if (!p->args || p->args_len == 0)
		return;
	while (s < end) {
		size_t n = strnlen(s, (size_t)(end - s));

		if (first) {
			json_key(w, "argv0");
			json_string_len(w, s, n);
			json_key(w, "args");
			json_array_begin(w);
			first = false;
		} else {
			json_string_len(w, s, n);
		}
		s += n + 1;
	}
	json_array_end(w);
	json_key(w, "args_truncated");
	json_bool(w, p->args_truncated);
}

static void write_ancestor(struct json_writer *w, const struct process *p)
{
	json_object_begin(w);
	json_key(w, "pid");
	json_uint(w, p->pid);
	json_key(w, "ppid");
	json_uint(w, p->ppid);
	json_key(w, "comm");
	json_string(w, p->comm);
	write_file(w, p, false);
	write_args(w, p);
	json_key(w, "credentials");
	json_object_begin(w);
	json_key(w, "uid");
	json_uint(w, p->cred.uid);
	json_key(w, "euid");
	json_uint(w, p->cred.euid);
	json_object_end(w);
	write_time(w, "fork_time", p->start_ns);
	write_time(w, "exec_time", p->exec_ns);
	json_object_end(w);
}

static void write_credentials(struct json_writer *w, const struct credentials *c)
{
	json_key(w, "credentials");
	json_object_begin(w);
	json_key(w, "uid");
	json_uint(w, c->uid);
	json_key(w, "gid");
	json_uint(w, c->gid);
	json_key(w, "euid");
	json_uint(w, c->euid);
	json_key(w, "egid");
	json_uint(w, c->egid);
	json_key(w, "fsuid");
	json_uint(w, c->fsuid);
	json_key(w, "fsgid");
	json_uint(w, c->fsgid);
	if (c->auid != UINT32_MAX) {
		json_key(w, "auid");
		json_uint(w, c->auid);
	}
	write_caps(w, "cap_effective", c->cap_effective);
	write_caps(w, "cap_permitted", c->cap_permitted);
	json_object_end(w);
}

static void write_process(struct json_writer *w, const struct event_view *v)
{
	const struct process *p = v->process;

	json_key(w, "process");
	json_object_begin(w);
	json_key(w, "pid");
	json_uint(w, p->pid);
	json_key(w, "tid");
	json_uint(w, v->event->process.tid ? v->event->process.tid : p->tid);
	json_key(w, "ppid");
	json_uint(w, p->ppid);
	json_key(w, "comm");
	json_string(w, p->comm);
	write_tty(w, p->tty_nr);
	write_time(w, "fork_time", p->start_ns);
	write_time(w, "exec_time", p->exec_ns);
	write_time(w, "exit_time", p->exit_ns);
	write_credentials(w, &p->cred);
	write_file(w, p, true);
	write_args(w, p);
	json_key(w, "cgroup");
	json_object_begin(w);
	json_key(w, "id");
	json_uint(w, p->cgroup_id);
	json_object_end(w);
	json_key(w, "namespaces");
	json_object_begin(w);
	json_key(w, "mnt");
	json_uint(w, p->mntns);
	json_key(w, "net");
	json_uint(w, p->netns);
	json_key(w, "pid");
	json_uint(w, p->pidns);
	json_object_end(w);
	json_key(w, "is_thread");
	json_bool(w, v->event->process.is_thread);
	json_key(w, "source");
	json_string(w, p->source == PROCESS_FROM_SNAPSHOT ? "snapshot" : "event");
	if (v->n_ancestors > 0) {
		json_key(w, "parent");
		write_ancestor(w, v->ancestors[0]);
	}
	json_key(w, "ancestors");
	json_array_begin(w);
	for (size_t i = 0; i < v->n_ancestors; i++)
		write_ancestor(w, v->ancestors[i]);
	json_array_end(w);
	if (v->ancestors_truncated) {
		json_key(w, "truncated_ancestors");
		json_bool(w, true);
	}
	json_object_end(w);
}

/* ---- syscall events --------------------------------------------------- */

static const struct {
	uint64_t magic;
	const char *name;
} filesystems[] = {
	{ 0xef53, "ext4" }, { 0x58465342, "xfs" }, { 0x9123683e, "btrfs" }, { 0x01021994, "tmpfs" },
	{ 0x794c7630, "overlay" }, { 0x9fa0, "proc" }, { 0x62656572, "sysfs" }, { 0x63677270, "cgroup2" },
	{ 0x27e0eb, "cgroup" }, { 0x6e736673, "nsfs" }, { 0xcafe4a11, "bpf" }, { 0x74726163, "tracefs" },
	{ 0x534f434b, "sockfs" }, { 0x50495045, "pipefs" }, { 0x09041934, "anon_inodefs" },
	{ 0x73717368, "squashfs" }, { 0x4d44, "vfat" }, { 0x65735546, "fuse" }, { 0x6969, "nfs" },
	{ 0x01021997, "9p" }, { 0x1cd1, "devpts" }, { 0x64626720, "debugfs" }, { 0x73636673, "securityfs" },
	{ 0x858458f6, "ramfs" }, { 0x28cd3d45, "cramfs" }, { 0x5346544e, "ntfs" }, { 0x2fc12fc1, "zfs" },
};

static const char *filesystem_name(uint64_t magic)
{
	for (size_t i = 0; i < sizeof(filesystems) / sizeof(filesystems[0]); i++) {
		if (filesystems[i].magic == magic)
			return filesystems[i].name;
	}
	return NULL;
}

static const char *const path_sources[] = { "none", "file", "cwd", "argument" };

static void write_uint_field(struct json_writer *w, const char *key, uint64_t v)
{
	json_key(w, key);
	json_uint(w, v);
}

/* Syscall arguments that are C ints: -1 stays -1. */
static void write_int_field(struct json_writer *w, const char *key, int64_t v)
{
	json_key(w, key);
	json_int(w, (int32_t)v);
}

static void write_str_field(struct json_writer *w, const char *key, const char *v)
{
	if (!v)
		return;
	json_key(w, key);
	json_string(w, v);
}

/* A file_ref, leaving the object open so callers can add "destination". */
static void begin_file_ref(struct json_writer *w, const char *key, const struct file_ref *f)
{
	const char *fs = filesystem_name(f->fs_magic);

	json_key(w, key);
	json_object_begin(w);
	if (f->path) {
		write_str_field(w, "path", f->path);
		write_str_field(w, "name", base_name(f->path));
		if (f->path_truncated) {
			json_key(w, "path_truncated");
			json_bool(w, true);
		}
	}
	json_key(w, "path_resolution");
	json_string(w, path_sources[f->source <= PATH_FROM_ARG ? f->source : 0]);
	if (f->source == PATH_FROM_FILE || f->source == PATH_FROM_CWD) {
		write_uint_field(w, "inode", f->inode);
		write_uint_field(w, "mount_id", f->mount_id);
		write_uint_field(w, "mode", f->mode);
		write_uint_field(w, "uid", f->uid);
		write_uint_field(w, "gid", f->gid);
		if (fs)
			write_str_field(w, "filesystem", fs);
	}
}

static void write_file_ref(struct json_writer *w, const char *key, const struct file_ref *f)
{
	begin_file_ref(w, key, f);
	json_object_end(w);
}

static void write_ip(struct json_writer *w, const struct net_addr *a)
{
	char buf[64];

	if (a->family == 2)
		snprintf(buf, sizeof(buf), "%u.%u.%u.%u", a->ip[0], a->ip[1], a->ip[2], a->ip[3]);
	else if (!inet_ntop(AF_INET6, a->ip, buf, sizeof(buf)))
		return;
	write_str_field(w, "ip", buf);
}

static void write_addr(struct json_writer *w, const struct net_addr *a)
{
	json_key(w, "addr");
	json_object_begin(w);
	switch (a->family) {
	case 1:
		write_str_field(w, "family", "AF_UNIX");
		write_str_field(w, "path", a->unix_path);
		break;
	case 2:
	case 10:
		write_str_field(w, "family", a->family == 2 ? "AF_INET" : "AF_INET6");
		write_ip(w, a);
		write_uint_field(w, "port", a->port);
		break;
	default:
		write_uint_field(w, "family", a->family);
		break;
	}
	json_object_end(w);
}

/* bpf(2)'s attr: the map or program type and name the call names. */
static void write_bpf_attr(struct json_writer *w, const struct syscall_data *sc)
{
	uint32_t type;
	char name[17];
	size_t name_off;

	if (!sc->str || sc->str_len < 64 || (sc->op != 0 && sc->op != 5))
		return;
	name_off = sc->op == 0 ? 28 : 48; /* BPF_MAP_CREATE : BPF_PROG_LOAD */
	memcpy(&type, sc->str, sizeof(type));
	memcpy(name, sc->str + name_off, 16);
	name[16] = '\0';
	json_key(w, sc->op == 0 ? "map" : "prog");
	json_object_begin(w);
	write_uint_field(w, "type", type);
	write_str_field(w, "name", name);
	json_object_end(w);
}

static void write_target(struct json_writer *w, const char *key, const struct event_view *v)
{
	json_key(w, key);
	json_object_begin(w);
	json_key(w, "pid");
	json_int(w, v->event->syscall.pid);
	if (v->target) {
		write_str_field(w, "comm", v->target->comm);
		write_file(w, v->target, false);
		write_args(w, v->target);
		json_key(w, "credentials");
		json_object_begin(w);
		write_uint_field(w, "uid", v->target->cred.uid);
		write_uint_field(w, "euid", v->target->cred.euid);
		json_object_end(w);
	}
	json_object_end(w);
}

static void write_syscall_body(struct json_writer *w, const struct event_view *v)
{
	const struct event *ev = v->event;
	const struct syscall_data *sc = &ev->syscall;
	const struct credentials *c = &ev->process.cred;

	switch (ev->type) {
	case EVENT_OPEN:
	case EVENT_MKDIR:
	case EVENT_RMDIR:
	case EVENT_UNLINK:
	case EVENT_UTIMES:
	case EVENT_TRUNCATE:
	case EVENT_CHDIR:
	case EVENT_UMOUNT:
		begin_file_ref(w, "file", &sc->file);
		/* The mode only means something when the call creates. */
		if (ev->type == EVENT_MKDIR ||
		    (ev->type == EVENT_OPEN && (sc->flags & (O_CREAT | __O_TMPFILE)))) {
			json_key(w, "destination");
			json_object_begin(w);
			write_uint_field(w, "mode", sc->mode);
			json_object_end(w);
		}
		json_object_end(w);
		if (sc->present & SYSCALL_HAS_FLAGS)
			write_uint_field(w, "flags", sc->flags);
		break;
	case EVENT_RENAME:
	case EVENT_LINK:
		begin_file_ref(w, "file", &sc->file);
		write_file_ref(w, "destination", &sc->file2);
		json_object_end(w);
		if (sc->present & SYSCALL_HAS_FLAGS)
			write_uint_field(w, "flags", sc->flags);
		break;
	case EVENT_SYMLINK:
		write_file_ref(w, "file", &sc->file);
		write_str_field(w, "target", sc->str);
		break;
	case EVENT_CHMOD:
	case EVENT_CHOWN:
	case EVENT_SETXATTR:
	case EVENT_REMOVEXATTR:
		begin_file_ref(w, "file", &sc->file);
		json_key(w, "destination");
		json_object_begin(w);
		if (ev->type == EVENT_CHMOD)
			write_uint_field(w, "mode", sc->mode);
		if (ev->type == EVENT_CHOWN) {
			json_key(w, "uid");
			json_int(w, (int32_t)sc->uid);
			json_key(w, "gid");
			json_int(w, (int32_t)sc->gid);
		}
		if (ev->type == EVENT_SETXATTR || ev->type == EVENT_REMOVEXATTR)
			write_str_field(w, "name", sc->str);
		json_object_end(w);
		json_object_end(w);
		break;
	case EVENT_SETUID:
		write_uint_field(w, "uid", c->uid);
		write_uint_field(w, "euid", c->euid);
		write_uint_field(w, "fsuid", c->fsuid);
		break;
	case EVENT_SETGID:
		write_uint_field(w, "gid", c->gid);
		write_uint_field(w, "egid", c->egid);
		write_uint_field(w, "fsgid", c->fsgid);
		break;
	case EVENT_CAPSET:
		write_caps(w, "cap_effective", c->cap_effective);
		write_caps(w, "cap_permitted", c->cap_permitted);
		break;
	case EVENT_PTRACE:
		write_int_field(w, "request", sc->op);
		write_target(w, "tracee", v);
		break;
	case EVENT_SIGNAL:
		write_int_field(w, "type", sc->op);
		json_key(w, "pid");
		json_int(w, sc->pid);
		write_target(w, "target", v);
		break;
	case EVENT_PRCTL:
		write_int_field(w, "option", sc->op);
		if (sc->op == 15 /* PR_SET_NAME */)
			write_str_field(w, "new_name", sc->str);
		break;
	case EVENT_SETRLIMIT:
		write_int_field(w, "resource", sc->op);
		write_uint_field(w, "rlim_cur", sc->rlim_cur);
		write_uint_field(w, "rlim_max", sc->rlim_max);
		if (sc->present & SYSCALL_HAS_PID)
			write_target(w, "target", v);
		break;
	case EVENT_LOAD_MODULE:
		if (sc->file.path)
			write_file_ref(w, "file", &sc->file);
		json_key(w, "loaded_from_memory");
		json_bool(w, sc->name && strcmp(sc->name, "init_module") == 0);
		write_str_field(w, "args", sc->str);
		break;
	case EVENT_UNLOAD_MODULE:
		write_str_field(w, "name", sc->str);
		break;
	case EVENT_BPF:
		write_int_field(w, "cmd", sc->op);
		write_bpf_attr(w, sc);
		break;
	case EVENT_MOUNT:
		write_file_ref(w, "mountpoint", &sc->file);
		json_key(w, "source");
		json_object_begin(w);
		write_str_field(w, "path", sc->str);
		json_object_end(w);
		write_str_field(w, "fs_type", sc->str2);
		write_uint_field(w, "flags", sc->flags);
		break;
	case EVENT_MEMFD_CREATE:
		write_str_field(w, "name", sc->str);
		write_uint_field(w, "flags", sc->flags);
		break;
	case EVENT_MMAP:
		if (sc->file.path)
			write_file_ref(w, "file", &sc->file);
		write_uint_field(w, "protection", sc->mode);
		write_uint_field(w, "flags", sc->flags);
		break;
	case EVENT_MPROTECT:
		write_uint_field(w, "req_protection", sc->mode);
		write_uint_field(w, "addr", sc->args[0]);
		write_uint_field(w, "len", sc->args[1]);
		break;
	case EVENT_UNSHARE:
		write_uint_field(w, "flags", sc->flags);
		break;
	case EVENT_SETNS:
		write_file_ref(w, "file", &sc->file);
		write_uint_field(w, "nstype", sc->flags);
		break;
	case EVENT_CONNECT:
	case EVENT_BIND:
	case EVENT_ACCEPT:
	case EVENT_LISTEN:
		write_addr(w, &sc->addr);
		if (ev->type == EVENT_LISTEN)
			write_int_field(w, "backlog", sc->op);
		break;
	default:
		break;
	}
}

static void write_syscall(struct json_writer *w, const struct event_view *v)
{
	const struct syscall_data *sc = &v->event->syscall;

	json_key(w, event_type_name(v->event->type));
	json_object_begin(w);
	write_syscall_body(w, v);
	json_key(w, "retval");
	json_int(w, sc->retval);
	json_key(w, "syscall");
	json_object_begin(w);
	write_str_field(w, "name", sc->name);
	write_uint_field(w, "nr", sc->nr);
	json_object_end(w);
	json_object_end(w);
}

static void write_container(struct json_writer *w, const struct container_view *c)
{
	json_key(w, "container");
	json_object_begin(w);
	write_str_field(w, "id", c->id);
	if (c->name && c->name[0])
		write_str_field(w, "name", c->name);
	if (c->image_name && c->image_name[0]) {
		json_key(w, "image");
		json_object_begin(w);
		write_str_field(w, "name", c->image_name);
		if (c->image_tag && c->image_tag[0])
			write_str_field(w, "tag", c->image_tag);
		if (c->image_digest && c->image_digest[0])
			write_str_field(w, "digest", c->image_digest);
		json_object_end(w);
	}
	if (c->runtime && c->runtime[0])
		write_str_field(w, "runtime", c->runtime);
	write_time(w, "created_at", c->created_at_ns ? clock_wall_to_boot(c->created_at_ns) : 0);
	json_key(w, "resolved");
	json_bool(w, c->resolved);
	json_object_end(w);
	if (c->pod_name && c->pod_name[0]) {
		json_key(w, "pod");
		json_object_begin(w);
		write_str_field(w, "name", c->pod_name);
		write_str_field(w, "namespace", c->pod_namespace);
		write_str_field(w, "uid", c->pod_uid);
		json_object_end(w);
	}
}

void event_json_write(struct json_writer *w, const struct event_view *v)
{
	const struct event *ev = v->event;
	char date[48];
	uint64_t wall = clock_boot_to_wall(ev->timestamp_ns);

	json_object_begin(w);
	json_key(w, "timestamp");
	json_uint(w, wall);
	if (clock_format_rfc3339(wall, date, sizeof(date)) > 0) {
		json_key(w, "date");
		json_string(w, date);
	}
	json_key(w, "evt");
	json_object_begin(w);
	json_key(w, "name");
	json_string(w, event_type_name(ev->type));
	json_key(w, "category");
	json_string(w, event_category(ev->type));
	if (event_is_syscall(ev->type)) {
		json_key(w, "outcome");
		json_string(w, ev->syscall.retval < 0 ? "failure" : "success");
	}
	json_key(w, "source");
	json_string(w, ev->source == EVENT_SOURCE_SNAPSHOT ? "snapshot" : "runtime");
	json_object_end(w);
	if (v->hostname) {
		json_key(w, "hostname");
		json_string(w, v->hostname);
	}
	write_process(w, v);
	if (v->container && v->container->id)
		write_container(w, v->container);

	switch (ev->type) {
	case EVENT_EXEC:
		json_key(w, "exec");
		json_object_begin(w);
		write_file(w, &ev->process, false);
		write_args(w, &ev->process);
		if (ev->exec.killed_in_kernel) {
			json_key(w, "killed_in_kernel");
			json_bool(w, true);
		}
		if (ev->exec.syscall_path) {
			json_key(w, "syscall");
			json_object_begin(w);
			json_key(w, "path");
			json_string(w, ev->exec.syscall_path);
			json_object_end(w);
		}
		json_object_end(w);
		break;
	case EVENT_EXIT:
		json_key(w, "exit");
		json_object_begin(w);
		json_key(w, "cause");
		json_string(w, exit_causes[ev->exit.cause]);
		json_key(w, "code");
		json_uint(w, ev->exit.code);
		json_object_end(w);
		break;
	default:
		if (event_is_syscall(ev->type))
			write_syscall(w, v);
		break;
	}
	json_object_end(w);
}

/* ---- reading ---------------------------------------------------------- */

struct reader {
	struct event_json_record *rec;
	char *err;
	size_t errlen;
};

static const char *keep_string(struct reader *r, const char *s, size_t len)
{
	struct event_json_record *rec = r->rec;
	char *dst;

	if (len + 1 > sizeof(rec->strings) - rec->strings_used)
		return NULL;
	dst = rec->strings + rec->strings_used;
	memcpy(dst, s, len);
	dst[len] = '\0';
	rec->strings_used += len + 1;
	return dst;
}

static const cJSON *member(const cJSON *obj, const char *key)
{
	return obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

/* Numbers are optional; present ones must be non-negative integers. */
static int read_uint(struct reader *r, const cJSON *obj, const char *key, uint64_t *out)
{
	const cJSON *item = member(obj, key);

	if (!item)
		return 0;
	if (!cJSON_IsNumber(item) || item->valuedouble < 0) {
		snprintf(r->err, r->errlen, "field \"%s\": expected a non-negative number", key);
		return -1;
	}
	*out = (uint64_t)item->valuedouble;
	return 0;
}

static int read_u32(struct reader *r, const cJSON *obj, const char *key, uint32_t *out)
{
	uint64_t v = *out;

	if (read_uint(r, obj, key, &v) < 0)
		return -1;
	if (v > UINT32_MAX) {
		snprintf(r->err, r->errlen, "field \"%s\": %llu is out of range", key, (unsigned long long)v);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

static int read_time(struct reader *r, const cJSON *obj, const char *key, uint64_t *boot_ns)
{
	const cJSON *item = member(obj, key);
	uint64_t wall;

	if (!item)
		return 0;
	if (!cJSON_IsString(item) || clock_parse_rfc3339(item->valuestring, &wall) < 0) {
		snprintf(r->err, r->errlen, "field \"%s\": expected an RFC 3339 time", key);
		return -1;
	}
	*boot_ns = clock_wall_to_boot(wall);
	return 0;
}

static uint64_t read_caps(const cJSON *arr)
{
	uint64_t caps = 0;
	const cJSON *item;

	cJSON_ArrayForEach(item, arr) {
		if (!cJSON_IsString(item))
			continue;
		for (unsigned bit = 0; bit < CAP_COUNT; bit++) {
			if (strcmp(item->valuestring, cap_names[bit]) == 0)
				caps |= 1ull << bit;
		}
	}
	return caps;
}

static int read_args(struct reader *r, const cJSON *obj, struct process *p)
{
	const cJSON *argv0 = member(obj, "argv0"), *args = member(obj, "args"), *item;
	char buf[8192];
	size_t len = 0;

	if (!argv0)
		return 0;
	if (!cJSON_IsString(argv0) || (args && !cJSON_IsArray(args))) {
		snprintf(r->err, r->errlen, "field \"argv0\"/\"args\": expected a string and an array");
		return -1;
	}
	for (item = argv0; item; item = item == argv0 ? (args ? args->child : NULL) : item->next) {
		size_t n;

		if (!cJSON_IsString(item)) {
			snprintf(r->err, r->errlen, "field \"args\": expected strings");
			return -1;
		}
		n = strlen(item->valuestring);
		if (len + n + 1 > sizeof(buf)) {
			p->args_truncated = true;
			break;
		}
		memcpy(buf + len, item->valuestring, n + 1);
		len += n + 1;
		p->argc++;
	}
	p->args = keep_string(r, buf, len ? len - 1 : 0);
	p->args_len = (uint32_t)len;
	if (cJSON_IsTrue(member(obj, "args_truncated")))
		p->args_truncated = true;
	return 0;
}

static int read_process(struct reader *r, const cJSON *obj, struct process *p)
{
	const cJSON *cred = member(obj, "credentials"), *file = member(obj, "file");
	const cJSON *comm = member(obj, "comm"), *ns = member(obj, "namespaces");
	uint64_t inode = 0;

	if (!cJSON_IsObject(obj)) {
		snprintf(r->err, r->errlen, "\"process\" must be an object");
		return -1;
	}
	p->cred.auid = UINT32_MAX;
	if (read_u32(r, obj, "pid", &p->pid) || read_u32(r, obj, "tid", &p->tid) ||
	    read_u32(r, obj, "ppid", &p->ppid) || read_time(r, obj, "fork_time", &p->start_ns) ||
	    read_time(r, obj, "exec_time", &p->exec_ns) || read_time(r, obj, "exit_time", &p->exit_ns) ||
	    read_u32(r, cred, "uid", &p->cred.uid) || read_u32(r, cred, "gid", &p->cred.gid) ||
	    read_u32(r, cred, "euid", &p->cred.euid) || read_u32(r, cred, "egid", &p->cred.egid) ||
	    read_u32(r, cred, "fsuid", &p->cred.fsuid) || read_u32(r, cred, "fsgid", &p->cred.fsgid) ||
	    read_u32(r, cred, "auid", &p->cred.auid) ||
	    read_uint(r, member(obj, "cgroup"), "id", &p->cgroup_id) ||
	    read_u32(r, ns, "mnt", &p->mntns) || read_u32(r, ns, "net", &p->netns) ||
	    read_u32(r, ns, "pid", &p->pidns) || read_uint(r, file, "inode", &inode) ||
	    read_u32(r, file, "mount_id", &p->mount_id))
		return -1;
	if (p->pid == 0) {
		snprintf(r->err, r->errlen, "\"process.pid\" is missing or 0");
		return -1;
	}
	if (!p->tid)
		p->tid = p->pid;
	p->inode = inode;
	p->cred.cap_effective = read_caps(member(cred, "cap_effective"));
	p->cred.cap_permitted = read_caps(member(cred, "cap_permitted"));
	if (cJSON_IsString(comm))
		snprintf(p->comm, sizeof(p->comm), "%s", comm->valuestring);
	if (cJSON_IsString(member(file, "path"))) {
		const char *path = member(file, "path")->valuestring;

		p->path = keep_string(r, path, strlen(path));
		p->path_truncated = cJSON_IsTrue(member(file, "path_truncated"));
	}
	p->is_thread = cJSON_IsTrue(member(obj, "is_thread"));
	return read_args(r, obj, p);
}

static int read_file_ref(struct reader *r, const cJSON *obj, struct file_ref *f)
{
	const cJSON *path = member(obj, "path"), *res = member(obj, "path_resolution");
	uint64_t v = 0;

	if (!obj)
		return 0;
	if (cJSON_IsString(path))
		f->path = keep_string(r, path->valuestring, strlen(path->valuestring));
	f->source = PATH_FROM_ARG;
	for (unsigned i = 0; cJSON_IsString(res) && i < 4; i++) {
		if (strcmp(res->valuestring, path_sources[i]) == 0)
			f->source = (enum path_source)i;
	}
	if (read_uint(r, obj, "inode", &f->inode) || read_u32(r, obj, "mount_id", &f->mount_id) ||
	    read_u32(r, obj, "mode", &f->mode) || read_u32(r, obj, "uid", &f->uid) ||
	    read_u32(r, obj, "gid", &f->gid) || read_uint(r, obj, "fs_magic", &v))
		return -1;
	f->path_truncated = cJSON_IsTrue(member(obj, "path_truncated"));
	return 0;
}

static int read_int_field(struct reader *r, const cJSON *obj, const char *key, int64_t *out, bool *found)
{
	const cJSON *item = member(obj, key);

	if (!item)
		return 0;
	if (!cJSON_IsNumber(item)) {
		snprintf(r->err, r->errlen, "field \"%s\": expected a number", key);
		return -1;
	}
	*out = (int64_t)item->valuedouble;
	*found = true;
	return 0;
}

static const char *read_str_field(struct reader *r, const cJSON *obj, const char *key)
{
	const cJSON *item = member(obj, key);

	if (!cJSON_IsString(item))
		return NULL;
	return keep_string(r, item->valuestring, strlen(item->valuestring));
}

/* The reverse of write_syscall: what rules can see of a recorded event. */
static int read_syscall(struct reader *r, const cJSON *root, struct event *ev)
{
	struct syscall_data *sc = &ev->syscall;
	const cJSON *body = member(root, event_type_name(ev->type));
	const cJSON *file = member(body, "file"), *dest = member(file, "destination");
	const cJSON *addr = member(body, "addr"), *ip = member(addr, "ip"), *fam = member(addr, "family");
	static const char *const op_keys[] = { "type", "request", "option", "resource", "cmd", "backlog" };
	static const char *const flag_keys[] = { "flags", "nstype" };
	static const char *const mode_keys[] = { "protection", "req_protection" };
	int64_t v = 0;
	bool found = false;

	if (!cJSON_IsObject(body)) {
		snprintf(r->err, r->errlen, "\"%s\" must be an object", event_type_name(ev->type));
		return -1;
	}
	if (read_file_ref(r, file ? file : member(body, "mountpoint"), &sc->file) < 0 ||
	    read_int_field(r, body, "retval", &sc->retval, &found) < 0)
		return -1;
	if (cJSON_IsObject(dest) && member(dest, "path") && read_file_ref(r, dest, &sc->file2) < 0)
		return -1;
	found = false;
	if (read_int_field(r, dest, "mode", &v, &found) < 0)
		return -1;
	if (found) {
		sc->mode = (uint64_t)v;
		sc->present |= SYSCALL_HAS_MODE;
	}
	for (size_t i = 0; i < 2; i++) {
		found = false;
		if (read_int_field(r, body, mode_keys[i], &v, &found) < 0)
			return -1;
		if (found) {
			sc->mode = (uint64_t)v;
			sc->present |= SYSCALL_HAS_MODE;
		}
		found = false;
		if (read_int_field(r, body, flag_keys[i], &v, &found) < 0)
			return -1;
		if (found) {
			sc->flags = (uint64_t)v;
			sc->present |= SYSCALL_HAS_FLAGS;
		}
	}
	found = false;
	if (read_int_field(r, dest, "uid", &v, &found) < 0)
		return -1;
	if (found) {
		sc->uid = (uint32_t)v;
		sc->present |= SYSCALL_HAS_UID;
	}
	found = false;
	if (read_int_field(r, dest, "gid", &v, &found) < 0)
		return -1;
	if (found) {
		sc->gid = (uint32_t)v;
		sc->present |= SYSCALL_HAS_GID;
	}
	for (size_t i = 0; i < sizeof(op_keys) / sizeof(op_keys[0]); i++) {
		found = false;
		if (read_int_field(r, body, op_keys[i], &v, &found) < 0)
			return -1;
		if (found) {
			sc->op = v;
			sc->present |= SYSCALL_HAS_OP;
		}
	}
	found = false;
	if (read_int_field(r, body, "pid", &v, &found) < 0)
		return -1;
	if (!found && member(body, "target"))
		read_int_field(r, member(body, "target"), "pid", &v, &found);
	if (!found && member(body, "tracee"))
		read_int_field(r, member(body, "tracee"), "pid", &v, &found);
	if (found) {
		sc->pid = (int32_t)v;
		sc->present |= SYSCALL_HAS_PID;
	}
	if (read_uint(r, body, "rlim_cur", &sc->rlim_cur) || read_uint(r, body, "rlim_max", &sc->rlim_max))
		return -1;
	sc->str = read_str_field(r, body, "name");
	if (!sc->str)
		sc->str = read_str_field(r, body, "new_name");
	if (!sc->str)
		sc->str = read_str_field(r, body, "target");
	if (!sc->str)
		sc->str = read_str_field(r, body, "args");
	if (!sc->str)
		sc->str = read_str_field(r, member(body, "source"), "path");
	if (!sc->str && dest)
		sc->str = read_str_field(r, dest, "name");
	sc->str_len = sc->str ? strlen(sc->str) + 1 : 0;
	sc->str2 = read_str_field(r, body, "fs_type");
	sc->name = read_str_field(r, member(body, "syscall"), "name");
	read_u32(r, member(body, "syscall"), "nr", &sc->nr);
	if (cJSON_IsString(fam)) {
		sc->addr.family = strcmp(fam->valuestring, "AF_UNIX") == 0 ? 1
				  : strcmp(fam->valuestring, "AF_INET") == 0 ? 2 : 10;
		sc->addr.unix_path = read_str_field(r, addr, "path");
		if (cJSON_IsString(ip) &&
		    inet_pton(sc->addr.family == 2 ? AF_INET : AF_INET6, ip->valuestring, sc->addr.ip) != 1) {
			snprintf(r->err, r->errlen, "field \"addr.ip\": \"%s\" is not an address", ip->valuestring);
			return -1;
		}
		if (read_u32(r, addr, "port", &(uint32_t){ 0 }) < 0)
			return -1;
		if (cJSON_IsNumber(member(addr, "port")))
			sc->addr.port = (uint16_t)member(addr, "port")->valuedouble;
	}
	return 0;
}

static int parse_root(struct reader *r, const cJSON *root)
{
	struct event *ev = &r->rec->event;
	const cJSON *evt = member(root, "evt"), *name = member(evt, "name");
	const cJSON *source = member(evt, "source"), *proc = member(root, "process");
	const cJSON *ancestors = member(proc, "ancestors"), *item;
	uint64_t wall = 0;

	if (!cJSON_IsObject(root)) {
		snprintf(r->err, r->errlen, "not a JSON object");
		return -1;
	}
	if (!cJSON_IsString(name)) {
		snprintf(r->err, r->errlen, "\"evt.name\" is missing");
		return -1;
	}
	ev->type = event_type_from_name(name->valuestring);
	if (ev->type == EVENT_UNKNOWN) {
		snprintf(r->err, r->errlen, "unknown event type \"%s\"", name->valuestring);
		return -1;
	}
	ev->source = cJSON_IsString(source) && strcmp(source->valuestring, "snapshot") == 0
		? EVENT_SOURCE_SNAPSHOT : EVENT_SOURCE_RUNTIME;
	/* "date" carries every nanosecond; "timestamp", a JSON number, loses
	 * some to double precision in most readers (this one included). */
	if (member(root, "date")) {
		if (read_time(r, root, "date", &ev->timestamp_ns) < 0)
			return -1;
	} else {
		if (read_uint(r, root, "timestamp", &wall) < 0)
			return -1;
		ev->timestamp_ns = wall ? clock_wall_to_boot(wall) : clock_boot_now();
	}
	if (!proc) {
		snprintf(r->err, r->errlen, "\"process\" is missing");
		return -1;
	}
	if (read_process(r, proc, &ev->process) < 0)
		return -1;
	ev->process.source = ev->source == EVENT_SOURCE_SNAPSHOT ? PROCESS_FROM_SNAPSHOT
								 : PROCESS_FROM_EVENT;
	cJSON_ArrayForEach(item, ancestors) {
		struct process *a;

		if (r->rec->n_ancestors == EVENT_JSON_MAX_ANCESTORS)
			break;
		a = &r->rec->ancestors[r->rec->n_ancestors];
		if (read_process(r, item, a) < 0)
			return -1;
		a->source = PROCESS_FROM_SNAPSHOT;
		r->rec->n_ancestors++;
	}
	/* Link the chain so a cache fed from it walks the same ancestry. */
	if (r->rec->n_ancestors > 0)
		ev->process.parent_start_ns = r->rec->ancestors[0].start_ns;
	for (size_t i = 0; i + 1 < r->rec->n_ancestors; i++)
		r->rec->ancestors[i].parent_start_ns = r->rec->ancestors[i + 1].start_ns;

	if (ev->type == EVENT_EXEC) {
		const cJSON *sys = member(member(root, "exec"), "syscall");

		if (cJSON_IsString(member(sys, "path")))
			ev->exec.syscall_path = keep_string(r, member(sys, "path")->valuestring,
							    strlen(member(sys, "path")->valuestring));
		if (!ev->process.exec_ns)
			ev->process.exec_ns = ev->timestamp_ns;
	} else if (ev->type == EVENT_EXIT) {
		const cJSON *exit = member(root, "exit"), *cause = member(exit, "cause");

		ev->exit.cause = EXIT_EXITED;
		for (unsigned i = 0; cJSON_IsString(cause) && i < 3; i++) {
			if (strcmp(cause->valuestring, exit_causes[i]) == 0)
				ev->exit.cause = (enum exit_cause)i;
		}
		if (read_u32(r, exit, "code", &ev->exit.code) < 0)
			return -1;
		if (!ev->process.exit_ns)
			ev->process.exit_ns = ev->timestamp_ns;
	} else if (event_is_syscall(ev->type)) {
		return read_syscall(r, root, ev);
	}
	return 0;
}

int event_json_parse(const char *line, size_t len, struct event_json_record *rec, char *err,
		     size_t errlen)
{
	struct reader r = { .rec = rec, .err = err, .errlen = errlen };
	const char *end = NULL;
	cJSON *root;
	int ret;

	memset(&rec->event, 0, sizeof(rec->event));
	rec->n_ancestors = 0;
	rec->strings_used = 0;
	memset(rec->ancestors, 0, sizeof(rec->ancestors));
	root = cJSON_ParseWithLengthOpts(line, len, &end, 0);
	if (!root) {
		snprintf(err, errlen, "invalid JSON near byte %zu",
			 end ? (size_t)(end - line) : (size_t)0);
		return -1;
	}
	ret = parse_root(&r, root);
	cJSON_Delete(root);
	return ret;
}
