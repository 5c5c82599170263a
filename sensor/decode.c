/* decode.c - see decode.h. */
#include "decode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bpf/vigil_abi.h"
#include "syscall_table.h"

struct decoder {
	uint64_t errors[DECODE_ERROR_COUNT];
	/* A truncated argv may end mid-string; it is copied here to get a
	 * terminating NUL, since ring-buffer pages are read-only. */
	char args[VIGIL_ARGS_MAX + 1];
	char filename[VIGIL_PATH_MAX + 1];
	char path[2][2 * VIGIL_PATH_MAX + 1];
	char str[2][VIGIL_STR_MAX + 1];
};

static const char *const error_names[DECODE_ERROR_COUNT] = {
	[DECODE_OK] = "ok",
	[DECODE_SHORT] = "short",
	[DECODE_BAD_SIZE] = "bad_size",
	[DECODE_BAD_VERSION] = "bad_version",
	[DECODE_BAD_TYPE] = "bad_type",
	[DECODE_BAD_LENGTHS] = "bad_lengths",
};

struct decoder *decoder_new(void)
{
	return calloc(1, sizeof(struct decoder));
}

void decoder_free(struct decoder *d)
{
	free(d);
}

const char *decode_error_name(enum decode_error e)
{
	if ((unsigned)e >= DECODE_ERROR_COUNT)
		return "invalid";
	return error_names[e];
}

uint64_t decoder_errors(const struct decoder *d, enum decode_error e)
{
	if ((unsigned)e >= DECODE_ERROR_COUNT)
		return 0;
	return d->errors[e];
}

static void copy_comm(char dst[PROCESS_COMM_LEN], const char src[16])
{
	memcpy(dst, src, PROCESS_COMM_LEN - 1);
	dst[PROCESS_COMM_LEN - 1] = '\0';
}

static void decode_proc(const struct vigil_proc *k, struct process *p)
{
	memset(p, 0, sizeof(*p));
	p->pid = k->pid;
	p->tid = k->tid;
	p->ppid = k->ppid;
	p->start_ns = k->start_ns;
	p->parent_start_ns = k->parent_start_ns;
	p->cred.uid = k->uid;
	p->cred.gid = k->gid;
	p->cred.euid = k->euid;
	p->cred.egid = k->egid;
	p->cred.fsuid = k->fsuid;
	p->cred.fsgid = k->fsgid;
	p->cred.auid = k->auid;
	p->cred.cap_effective = k->cap_effective;
	p->cred.cap_permitted = k->cap_permitted;
	p->cgroup_id = k->cgroup_id;
	p->mntns = k->mntns;
	p->netns = k->netns;
	p->pidns = k->pidns;
	p->tty_nr = k->tty_nr;
	copy_comm(p->comm, k->comm);
	memcpy(p->cgroup_name, k->cgroup_name, sizeof(p->cgroup_name) - 1);
	p->cgroup_name[sizeof(p->cgroup_name) - 1] = '\0';
	p->source = PROCESS_FROM_EVENT;
}

/* Points *out at a NUL-terminated copy of [src, src+len): the record itself
 * when it already ends in NUL, else a copy in buf. */
static const char *terminated(const char *src, size_t len, char *buf, size_t bufsize)
{
	if (len > 0 && src[len - 1] == '\0')
		return src;
	if (len >= bufsize)
		len = bufsize - 1;
	memcpy(buf, src, len);
	buf[len] = '\0';
	return buf;
}

static uint32_t count_strings(const char *args, size_t len)
{
	uint32_t n = 0;

	for (size_t i = 0; i < len; i++) {
		if (args[i] == '\0')
			n++;
	}
	return n;
}

static enum decode_error decode_exec(struct decoder *d, const struct vigil_exec *k, size_t len,
				     struct event *ev)
{
	size_t var = (size_t)k->path_len + k->args_len + k->filename_len;
	const char *path, *args, *filename;

	if (len < sizeof(*k))
		return DECODE_SHORT;
	if (var > len - sizeof(*k) || k->path_len == 0 || k->args_len > VIGIL_ARGS_MAX)
		return DECODE_BAD_LENGTHS;
	path = k->data;
	args = path + k->path_len;
	filename = args + k->args_len;
	if (path[k->path_len - 1] != '\0')
		return DECODE_BAD_LENGTHS;

	decode_proc(&k->proc, &ev->process);
	ev->process.path = path;
	ev->process.inode = k->inode;
	ev->process.mount_id = k->mount_id;
	ev->process.path_truncated = (k->flags & VIGIL_F_PATH_TRUNCATED) != 0;
	ev->process.args_truncated = (k->flags & VIGIL_F_ARGS_TRUNCATED) != 0;
	ev->process.exec_ns = k->hdr.timestamp_ns;
	if (k->args_len > 0) {
		size_t n = k->args_len;

		args = terminated(args, n, d->args, sizeof(d->args));
		if (args == d->args)
			n++; /* the NUL the copy added */
		ev->process.args = args;
		ev->process.args_len = (uint32_t)n;
		ev->process.argc = count_strings(args, n);
	}
	ev->exec.killed_in_kernel = (k->flags & VIGIL_F_KILLED) != 0;
	ev->exec.syscall_path = k->filename_len > 0
		? terminated(filename, k->filename_len, d->filename, sizeof(d->filename))
		: NULL;
	return DECODE_OK;
}

/* Removes ".", ".." and repeated "/" from an absolute path, in place, the
 * way the kernel would walk it if no component were a symlink. Paths built
 * from syscall arguments need it; walked paths are canonical already. */
void path_normalize(char *path)
{
	char *out = path, *in = path;

	if (*in != '/')
		return;
	while (*in) {
		char *end;
		size_t n;

		while (*in == '/')
			in++;
		end = in + strcspn(in, "/");
		n = (size_t)(end - in);
		if (n == 0)
			break;
		if (n == 1 && in[0] == '.') {
			/* skip */
		} else if (n == 2 && in[0] == '.' && in[1] == '.') {
			while (out > path && *--out != '/')
				;
		} else {
			*out++ = '/';
			memmove(out, in, n);
			out += n;
		}
		in = end;
	}
	if (out == path)
		*out++ = '/';
	*out = '\0';
}

static void decode_file(struct decoder *d, int i, const struct vigil_file *k, const char *data,
			struct file_ref *f)
{
	f->path = NULL;
	if (k->path_len && k->source == VIGIL_PATH_FROM_ARG) {
		size_t n = k->path_len < sizeof(d->path[i]) ? k->path_len : sizeof(d->path[i]) - 1;

		memcpy(d->path[i], data, n);
		d->path[i][n] = '\0';
		path_normalize(d->path[i]);
		f->path = d->path[i];
	} else if (k->path_len) {
		f->path = terminated(data, k->path_len, d->path[i], sizeof(d->path[i]));
	}
	f->path_truncated = (k->flags & VIGIL_F_PATH_TRUNCATED) != 0;
	f->source = k->source <= VIGIL_PATH_FROM_ARG ? (enum path_source)k->source : PATH_SOURCE_NONE;
	f->inode = k->inode;
	f->fs_magic = k->fs_magic;
	f->mount_id = k->mount_id;
	f->mode = k->mode;
	f->uid = k->uid;
	f->gid = k->gid;
}

/* Files of pseudo filesystems have no place in a directory tree: the walk
 * ends at once with "/". Name them the way readlink(2) on /proc/<pid>/fd
 * does instead: "net:[4026531840]", "pipe:[123]", "socket:[456]". */
static void name_pseudo_file(struct decoder *d, int i, struct file_ref *f, const struct process *p,
			     uint64_t nstype)
{
	const char *kind = NULL;

	if (!f->path || strcmp(f->path, "/") != 0)
		return;
	switch (f->fs_magic) {
	case 0x6e736673: /* nsfs: which namespace, from the process now in it */
		if (f->inode == p->netns || (nstype & 0x40000000))
			kind = "net";
		else if (f->inode == p->mntns || (nstype & 0x00020000))
			kind = "mnt";
		else if (f->inode == p->pidns || (nstype & 0x20000000))
			kind = "pid";
		else
			kind = "ns";
		break;
	case 0x50495045: kind = "pipe"; break;
	case 0x534f434b: kind = "socket"; break;
	case 0x09041934: kind = "anon_inode"; break;
	default: return;
	}
	snprintf(d->path[i], sizeof(d->path[i]), "%s:[%llu]", kind, (unsigned long long)f->inode);
	f->path = d->path[i];
}

/* Fills the named fields from the arguments, as the syscall table says. */
static void name_fields(const struct syscall_info *info, struct syscall_data *sc)
{
	const struct syscall_fields *f = &info->fields;

	sc->name = info->name;
	if (f->flags >= 0) {
		sc->flags = sc->args[f->flags];
		sc->present |= SYSCALL_HAS_FLAGS;
	}
	if (info->implied_flags) {
		sc->flags |= info->implied_flags;
		sc->present |= SYSCALL_HAS_FLAGS;
	}
	if (f->mode >= 0) {
		sc->mode = sc->args[f->mode];
		sc->present |= SYSCALL_HAS_MODE;
	}
	if (f->uid >= 0) {
		sc->uid = (uint32_t)sc->args[f->uid];
		sc->present |= SYSCALL_HAS_UID;
	}
	if (f->gid >= 0) {
		sc->gid = (uint32_t)sc->args[f->gid];
		sc->present |= SYSCALL_HAS_GID;
	}
	if (f->pid >= 0) {
		sc->pid = (int32_t)sc->args[f->pid];
		sc->present |= SYSCALL_HAS_PID;
	}
	if (f->op >= 0) {
		sc->op = (int64_t)sc->args[f->op];
		sc->present |= SYSCALL_HAS_OP;
	}
	if (info->spec.spec_flags & VIGIL_SPEC_RLIMIT) {
		sc->rlim_cur = sc->args[4];
		sc->rlim_max = sc->args[5];
	}
}

static enum decode_error decode_syscall(struct decoder *d, const struct vigil_syscall *k, size_t len,
					struct event *ev)
{
	struct syscall_data *sc = &ev->syscall;
	const struct syscall_info *info;
	const char *p;
	size_t var;

	if (len < sizeof(*k))
		return DECODE_SHORT;
	var = (size_t)k->file[0].path_len + k->file[1].path_len + k->str_len + k->str2_len;
	if (var > len - sizeof(*k))
		return DECODE_BAD_LENGTHS;
	info = syscall_lookup(k->nr);
	if (!info || info->event_type != k->hdr.type)
		return DECODE_BAD_TYPE;

	decode_proc(&k->proc, &ev->process);
	sc->nr = k->nr;
	sc->retval = k->retval;
	sc->revision = k->revision;
	memcpy(sc->args, k->args, sizeof(sc->args));
	p = k->data;
	decode_file(d, 0, &k->file[0], p, &sc->file);
	p += k->file[0].path_len;
	decode_file(d, 1, &k->file[1], p, &sc->file2);
	p += k->file[1].path_len;
	if (k->str_len) {
		/* Raw bytes (bpf's attr) keep their length; strings get a NUL. */
		sc->str = terminated(p, k->str_len, d->str[0], sizeof(d->str[0]));
		sc->str_len = sc->str == p || k->str_len < sizeof(d->str[0]) ? k->str_len
									  : sizeof(d->str[0]) - 1;
	}
	p += k->str_len;
	if (k->str2_len)
		sc->str2 = terminated(p, k->str2_len, d->str[1], sizeof(d->str[1]));
	sc->addr.family = k->addr.family;
	sc->addr.port = k->addr.port;
	memcpy(sc->addr.ip, k->addr.ip, sizeof(sc->addr.ip));
	if (k->addr.family == 1 /* AF_UNIX */)
		sc->addr.unix_path = sc->str;
	name_fields(info, sc);
	name_pseudo_file(d, 0, &sc->file, &ev->process, sc->flags);
	return DECODE_OK;
}

static enum decode_error decode_fixed(size_t len, size_t need)
{
	return len < need ? DECODE_SHORT : DECODE_OK;
}

enum decode_error decoder_decode(struct decoder *d, const void *record, size_t len, struct event *ev)
{
	const struct vigil_header *h = record;
	enum decode_error err;

	memset(ev, 0, sizeof(*ev));
	if (len < sizeof(*h)) {
		err = DECODE_SHORT;
		goto fail;
	}
	/* The ring buffer rounds lengths up to 8 bytes; the header's size is
	 * what the kernel meant to send. */
	if (h->size < sizeof(*h) || h->size > len) {
		err = DECODE_BAD_SIZE;
		goto fail;
	}
	if (h->version != VIGIL_ABI_VERSION) {
		err = DECODE_BAD_VERSION;
		goto fail;
	}
	len = h->size;
	ev->timestamp_ns = h->timestamp_ns;
	ev->source = EVENT_SOURCE_RUNTIME;

	switch (h->type) {
	case VIGIL_EVENT_EXEC:
		ev->type = EVENT_EXEC;
		err = decode_exec(d, record, len, ev);
		break;
	case VIGIL_EVENT_FORK: {
		const struct vigil_fork *f = record;

		ev->type = EVENT_FORK;
		err = decode_fixed(len, sizeof(*f));
		if (err == DECODE_OK) {
			decode_proc(&f->proc, &ev->process);
			ev->process.is_thread = (f->flags & VIGIL_F_THREAD) != 0;
		}
		break;
	}
	case VIGIL_EVENT_EXIT: {
		const struct vigil_exit *x = record;

		ev->type = EVENT_EXIT;
		err = decode_fixed(len, sizeof(*x));
		if (err == DECODE_OK) {
			uint32_t status = x->exit_code;

			decode_proc(&x->proc, &ev->process);
			ev->process.exit_ns = h->timestamp_ns;
			if ((status & 0x7f) == 0) {
				ev->exit.cause = EXIT_EXITED;
				ev->exit.code = (status >> 8) & 0xff;
			} else {
				ev->exit.cause = (status & 0x80) ? EXIT_COREDUMPED : EXIT_SIGNALED;
				ev->exit.code = status & 0x7f;
			}
		}
		break;
	}
	default:
		if (h->type > VIGIL_EVENT_EXIT && h->type < VIGIL_EVENT_TYPE_MAX) {
			ev->type = (enum event_type)h->type;
			err = decode_syscall(d, record, len, ev);
		} else {
			err = DECODE_BAD_TYPE;
		}
		break;
	}
	if (err == DECODE_OK)
		return DECODE_OK;
fail:
	d->errors[err]++;
	memset(ev, 0, sizeof(*ev));
	return err;
}
