/* proc_snapshot.c - see proc_snapshot.h.
 *
 * Every file is read through a directory fd of /proc/<pid>: if the pid is
 * reused while we read, opening through the old fd fails (ESRCH) instead of
 * silently mixing two processes. Parsers never trust a NUL terminator; they
 * work on (buf, len). */
#include "proc_snapshot.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

/* Sizes of the read buffers. stat is one line (< 1 KiB even with a 64-byte
 * worker comm); status and cgroup grow with CPUs and v1 controllers. */
#define STAT_BUF_SIZE   2048
#define STATUS_BUF_SIZE 8192
#define CGROUP_BUF_SIZE 8192

/* ---- bounded number parsing ---- */

static const char *skip_blanks(const char *s, const char *end)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	return s;
}

/* Parses an unsigned number in base 10 or 16 at s (after blanks), no larger
 * than max. Returns the end of the digits, or NULL if there are none or the
 * value is too large. */
static const char *parse_uint(const char *s, const char *end, int base, uint64_t max,
			      uint64_t *out)
{
	uint64_t v = 0;
	const char *start;

	s = skip_blanks(s, end);
	start = s;
	for (; s < end; s++) {
		unsigned d;

		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = (unsigned)(*s - 'A' + 10);
		else
			break;
		if (v > (max - d) / (uint64_t)base)
			return NULL;
		v = v * (uint64_t)base + d;
	}
	if (s == start)
		return NULL;
	*out = v;
	return s;
}

/* Same for a decimal that may be negative (tty_nr and friends are ints). */
static const char *parse_int(const char *s, const char *end, int64_t *out)
{
	bool neg = false;
	uint64_t v;

	s = skip_blanks(s, end);
	if (s < end && *s == '-') {
		neg = true;
		s++;
	}
	s = parse_uint(s, end, 10, INT64_MAX, &v);
	if (!s)
		return NULL;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return s;
}

/* Steps over a decimal token we do not keep, which may be negative and
 * may not fit any integer type we care about. NULL if it is not a number. */
static const char *skip_number(const char *s, const char *end)
{
	const char *start;

	if (s < end && *s == '-')
		s++;
	start = s;
	while (s < end && *s >= '0' && *s <= '9')
		s++;
	return s == start ? NULL : s;
}

/* True when the token at s ends here: end of buffer or whitespace. */
static bool at_token_end(const char *s, const char *end)
{
	return s == end || isspace((unsigned char)*s);
}

uint64_t proc_ticks_to_ns(uint64_t ticks)
{
	static long hz;

	if (hz <= 0) {
		hz = sysconf(_SC_CLK_TCK);
		if (hz <= 0)
			hz = 100; /* USER_HZ on every Linux architecture we run on */
	}
	return ticks * (1000000000ull / (uint64_t)hz);
}

/* ---- /proc/<pid>/stat ---- */

int proc_parse_stat(const char *buf, size_t len, struct process *p, struct proc_stat_info *info)
{
	const char *end, *s, *comm_open, *comm_close;
	struct proc_stat_info tmp = { 0 };
	uint64_t pid, ppid = 0, v;
	int64_t tty = 0;
	size_t comm_len;
	unsigned field;

	if (!buf || !p)
		return -EINVAL;
	end = buf + len;
	s = parse_uint(buf, end, 10, UINT32_MAX, &pid);
	if (!s || pid == 0)
		return -EINVAL;
	comm_open = memchr(s, '(', (size_t)(end - s));
	comm_close = memrchr(s, ')', (size_t)(end - s));
	if (!comm_open || !comm_close || comm_close < comm_open ||
	    skip_blanks(s, end) != comm_open)
		return -EINVAL;

	/* Fields after the comm, numbered as in proc(5). */
	s = comm_close + 1;
	for (field = 3; field <= 22; field++) {
		const char *next;

		if (s >= end || *s != ' ')
			return -EINVAL;
		s++;
		switch (field) {
		case 3:
			if (s >= end || !isalpha((unsigned char)*s))
				return -EINVAL;
			tmp.state = *s;
			next = s + 1;
			break;
		case 4:
			next = parse_uint(s, end, 10, UINT32_MAX, &ppid);
			break;
		case 7:
			next = parse_int(s, end, &tty);
			break;
		case 9:
			next = parse_uint(s, end, 10, UINT32_MAX, &v);
			tmp.flags = (uint32_t)v;
			break;
		case 22:
			next = parse_uint(s, end, 10, UINT64_MAX / 1000000000ull, &tmp.start_ticks);
			break;
		default:
			next = skip_number(s, end);
			break;
		}
		if (!next || !at_token_end(next, end))
			return -EINVAL;
		s = next;
	}

	/* Only now, so a malformed line leaves *p as it was. */
	p->pid = p->tid = (uint32_t)pid;
	p->ppid = (uint32_t)ppid;
	p->tty_nr = (uint32_t)tty;
	p->start_ns = proc_ticks_to_ns(tmp.start_ticks);
	comm_len = (size_t)(comm_close - comm_open - 1);
	if (comm_len > PROCESS_COMM_LEN - 1)
		comm_len = PROCESS_COMM_LEN - 1;
	memcpy(p->comm, comm_open + 1, comm_len);
	p->comm[comm_len] = '\0';
	if (info)
		*info = tmp;
	return 0;
}

/* ---- /proc/<pid>/status ---- */

/* The end of the line starting at s (its '\n' or end). */
static const char *line_end(const char *s, const char *end)
{
	const char *nl = memchr(s, '\n', (size_t)(end - s));

	return nl ? nl : end;
}

/* If the line [s, eol) is "key:...", the text after the colon; else NULL. */
static const char *field_value(const char *s, const char *eol, const char *key)
{
	size_t n = strlen(key);

	if ((size_t)(eol - s) <= n || memcmp(s, key, n) != 0 || s[n] != ':')
		return NULL;
	return s + n + 1;
}

/* Parses the four ids of a Uid:/Gid: line. */
static int parse_id_quad(const char *s, const char *eol, uint32_t ids[4])
{
	for (int i = 0; i < 4; i++) {
		uint64_t v;

		s = parse_uint(s, eol, 10, UINT32_MAX, &v);
		if (!s || !at_token_end(s, eol))
			return -EINVAL;
		ids[i] = (uint32_t)v;
	}
	return 0;
}

/* A single number filling the rest of the line. */
static int parse_line_uint(const char *s, const char *eol, int base, uint64_t max, uint64_t *out)
{
	s = parse_uint(s, eol, base, max, out);
	if (!s || skip_blanks(s, eol) != eol)
		return -EINVAL;
	return 0;
}

int proc_parse_status(const char *buf, size_t len, struct process *p)
{
	const char *s, *end;
	struct process v;
	bool have_uid = false, have_gid = false;
	uint32_t ids[4];
	uint64_t n;

	if (!buf || !p)
		return -EINVAL;
	end = buf + len;
	/* Work on a copy so a malformed file leaves *p untouched. */
	v = *p;
	for (s = buf; s < end;) {
		const char *eol = line_end(s, end), *val;
		int err = 0;

		if ((val = field_value(s, eol, "Uid"))) {
			err = parse_id_quad(val, eol, ids);
			v.cred.uid = ids[0];
			v.cred.euid = ids[1];
			v.cred.fsuid = ids[3]; /* ids[2], the saved uid, has no field */
			have_uid = true;
		} else if ((val = field_value(s, eol, "Gid"))) {
			err = parse_id_quad(val, eol, ids);
			v.cred.gid = ids[0];
			v.cred.egid = ids[1];
			v.cred.fsgid = ids[3];
			have_gid = true;
		} else if ((val = field_value(s, eol, "CapEff"))) {
			err = parse_line_uint(val, eol, 16, UINT64_MAX, &v.cred.cap_effective);
		} else if ((val = field_value(s, eol, "CapPrm"))) {
			err = parse_line_uint(val, eol, 16, UINT64_MAX, &v.cred.cap_permitted);
		} else if ((val = field_value(s, eol, "PPid"))) {
			err = parse_line_uint(val, eol, 10, UINT32_MAX, &n);
			v.ppid = (uint32_t)n;
		} else if ((val = field_value(s, eol, "Tgid"))) {
			err = parse_line_uint(val, eol, 10, UINT32_MAX, &n);
			v.pid = v.tid = (uint32_t)n;
		}
		if (err)
			return -EINVAL;
		s = eol + 1;
	}
	if (!have_uid || !have_gid)
		return -EINVAL;
	*p = v;
	return 0;
}

int proc_parse_nspid(const char *buf, size_t len, uint32_t *nspid)
{
	const char *s, *end;

	if (!buf || !nspid)
		return -EINVAL;
	end = buf + len;
	for (s = buf; s < end;) {
		const char *eol = line_end(s, end), *val;
		uint64_t v;
		bool any = false;

		val = field_value(s, eol, "NSpid");
		if (val) {
			/* One pid per nested namespace, outermost first. */
			while ((val = parse_uint(val, eol, 10, UINT32_MAX, &v))) {
				if (!at_token_end(val, eol))
					return -EINVAL;
				*nspid = (uint32_t)v;
				any = true;
			}
			return any ? 0 : -EINVAL;
		}
		s = eol + 1;
	}
	return -EINVAL;
}

/* ---- cmdline, cgroup, namespaces, mountinfo ---- */

int proc_parse_cmdline(const char *buf, size_t len, char *out, size_t out_size, struct process *p)
{
	size_t n;

	if (!buf || !out || !p || out_size == 0 || out_size > UINT32_MAX)
		return -EINVAL;
	p->args_truncated = len > out_size;
	if (len == 0) {
		p->args = NULL;
		p->args_len = p->argc = 0;
		return 0;
	}
	n = len < out_size ? len : out_size;
	memcpy(out, buf, n);
	if (out[n - 1] != '\0') {
		/* A process may overwrite its argv; still hand out a
		 * terminated block. Without room, the last byte is lost. */
		if (n < out_size) {
			out[n++] = '\0';
		} else {
			out[n - 1] = '\0';
			p->args_truncated = true;
		}
	}
	p->args = out;
	p->args_len = (uint32_t)n;
	p->argc = 0;
	for (size_t i = 0; i < n; i++)
		p->argc += out[i] == '\0';
	return 0;
}

const char *proc_cgroup_v2_path(const char *buf, size_t len, char *out, size_t out_size)
{
	const char *s, *end;

	if (!buf || !out || out_size == 0)
		return NULL;
	end = buf + len;
	for (s = buf; s < end;) {
		const char *eol = line_end(s, end);
		size_t n = (size_t)(eol - s);

		if (n >= 4 && memcmp(s, "0::/", 4) == 0) {
			n -= 3;
			if (n + 1 > out_size)
				return NULL;
			memcpy(out, s + 3, n);
			out[n] = '\0';
			return out;
		}
		s = eol + 1;
	}
	return NULL;
}

int proc_parse_ns_link(const char *link, const char *type, uint32_t *ino)
{
	size_t n;
	const char *s, *end;
	uint64_t v;

	if (!link || !type || !ino)
		return -EINVAL;
	n = strlen(type);
	if (strncmp(link, type, n) != 0 || strncmp(link + n, ":[", 2) != 0)
		return -EINVAL;
	s = link + n + 2;
	end = s + strlen(s);
	s = parse_uint(s, end, 10, UINT32_MAX, &v);
	if (!s || s == link + n + 2 || strcmp(s, "]") != 0)
		return -EINVAL;
	*ino = (uint32_t)v;
	return 0;
}

/* Copies the space-separated token at s into out, decoding the \ooo escapes
 * mountinfo uses for spaces, tabs, newlines and backslashes. */
static int copy_unescaped(const char *s, const char *eol, char *out, size_t out_size)
{
	size_t n = 0;

	while (s < eol && *s != ' ') {
		char c = *s++;

		if (c == '\\' && eol - s >= 3 && s[0] >= '0' && s[0] <= '3' &&
		    s[1] >= '0' && s[1] <= '7' && s[2] >= '0' && s[2] <= '7') {
			c = (char)((s[0] - '0') * 64 + (s[1] - '0') * 8 + (s[2] - '0'));
			s += 3;
		}
		if (n + 1 >= out_size)
			return -ENAMETOOLONG;
		out[n++] = c;
	}
	out[n] = '\0';
	return n ? 0 : -EINVAL;
}

int proc_parse_mountinfo_cgroup2(const char *buf, size_t len, char *out, size_t out_size)
{
	const char *s, *end;

	if (!buf || !out || out_size == 0)
		return -EINVAL;
	end = buf + len;
	for (s = buf; s < end;) {
		const char *eol = line_end(s, end), *sep, *t;
		size_t left = (size_t)(eol - s);

		/* "id parent maj:min root mountpoint opts [optional...] - fstype ..." */
		sep = memmem(s, left, " - ", 3);
		if (sep && eol - (sep + 3) >= 8 && memcmp(sep + 3, "cgroup2", 7) == 0 &&
		    sep[10] == ' ') {
			t = s;
			for (int field = 0; field < 4 && t; field++) {
				t = memchr(t, ' ', (size_t)(eol - t));
				if (t)
					t++;
			}
			if (t && t < sep)
				return copy_unescaped(t, eol, out, out_size);
		}
		s = eol + 1;
	}
	return -ENOENT;
}

/* ---- reading files ---- */

static bool is_gone(int err)
{
	return err == -ENOENT || err == -ESRCH;
}

/* Reads up to size bytes of name (relative to dfd). 0 or -errno. */
static int read_at(int dfd, const char *name, char *buf, size_t size, size_t *len)
{
	size_t n = 0;
	int fd, err = 0;

	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	while (n < size) {
		ssize_t r = read(fd, buf + n, size - n);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	*len = n;
	return err;
}

/* readlinkat into a NUL-terminated buffer. Length or -errno; a result of
 * size - 1 means the target may have been cut. */
static ssize_t readlink_str(int dfd, const char *name, char *buf, size_t size)
{
	ssize_t r = readlinkat(dfd, name, buf, size - 1);

	if (r < 0)
		return -errno;
	buf[r] = '\0';
	return r;
}

int proc_detect_cgroup2_root(char *out, size_t out_size)
{
	const size_t size = 1 << 20; /* hosts with many mounts have long files */
	char *buf = malloc(size);
	size_t len;
	int err;

	if (!buf)
		return -ENOMEM;
	err = read_at(AT_FDCWD, "/proc/self/mountinfo", buf, size, &len);
	if (!err)
		err = proc_parse_mountinfo_cgroup2(buf, len, out, out_size);
	free(buf);
	return err;
}

/* The executable as the process sees it: readlink exe, minus " (deleted)",
 * minus the process's root directory when it is not "/". */
static void read_exe(int dfd, struct process *p, struct proc_snapshot_buf *buf)
{
	static const char deleted[] = " (deleted)";
	const size_t deleted_len = sizeof(deleted) - 1;
	char root[PROC_PATH_MAX];
	struct statx stx;
	ssize_t n, rn;

	n = readlink_str(dfd, "exe", buf->path, sizeof(buf->path));
	if (n <= 0)
		return; /* zombie, or no permission: path stays unknown */
	p->path_truncated = (size_t)n == sizeof(buf->path) - 1;
	if ((size_t)n > deleted_len && strcmp(buf->path + n - deleted_len, deleted) == 0) {
		n -= (ssize_t)deleted_len;
		buf->path[n] = '\0';
	}
	rn = readlink_str(dfd, "root", root, sizeof(root));
	if (rn > 1 && strcmp(root, "/") != 0) {
		if (root[rn - 1] == '/')
			root[--rn] = '\0';
		if (n > rn && strncmp(buf->path, root, (size_t)rn) == 0 && buf->path[rn] == '/') {
			memmove(buf->path, buf->path + rn, (size_t)(n - rn) + 1);
			n -= rn;
		}
	}
	p->path = buf->path;

	if (statx(dfd, "exe", 0, STATX_INO | STATX_MNT_ID, &stx) == 0) {
		p->inode = stx.stx_ino;
		if (stx.stx_mask & STATX_MNT_ID)
			p->mount_id = (uint32_t)stx.stx_mnt_id;
	}
}

static void read_namespaces(int dfd, struct process *p)
{
	const char *links[] = { "ns/mnt", "ns/net", "ns/pid" };
	const char *types[] = { "mnt", "net", "pid" };
	uint32_t *dst[] = { &p->mntns, &p->netns, &p->pidns };
	char link[64];

	for (size_t i = 0; i < 3; i++) {
		uint32_t ino;

		if (readlink_str(dfd, links[i], link, sizeof(link)) > 0 &&
		    proc_parse_ns_link(link, types[i], &ino) == 0)
			*dst[i] = ino;
	}
}

static void read_cgroup(int dfd, const char *cgroup2_root, struct process *p)
{
	char buf[CGROUP_BUF_SIZE], rel[PROC_PATH_MAX], full[PROC_PATH_MAX * 2];
	struct stat st;
	size_t len;

	if (read_at(dfd, "cgroup", buf, sizeof(buf), &len) < 0)
		return;
	if (!proc_cgroup_v2_path(buf, len, rel, sizeof(rel)))
		return; /* pure v1 host, or a path too long to be real */
	/* The directory's own name, as the kernel side reports it. */
	snprintf(p->cgroup_name, sizeof(p->cgroup_name), "%s",
		 strcmp(rel, "/") ? strrchr(rel, '/') + 1 : "");
	snprintf(full, sizeof(full), "%s%s", cgroup2_root, strcmp(rel, "/") ? rel : "");
	if (stat(full, &st) == 0)
		p->cgroup_id = st.st_ino;
	else
		log_debug("proc_snapshot: pid %u: cannot stat cgroup %s: %s",
			  p->pid, full, strerror(errno));
}

static void read_loginuid(int dfd, struct process *p)
{
	char buf[32];
	size_t len;
	uint64_t v;

	p->cred.auid = UINT32_MAX; /* unset, or a kernel without audit */
	if (read_at(dfd, "loginuid", buf, sizeof(buf), &len) == 0 &&
	    parse_uint(buf, buf + len, 10, UINT32_MAX, &v))
		p->cred.auid = (uint32_t)v;
}

static uint64_t read_start_ns(const char *proc_root, uint32_t pid)
{
	char path[PROC_PATH_MAX], buf[STAT_BUF_SIZE];
	struct process tmp;
	size_t len;

	snprintf(path, sizeof(path), "%s/%u/stat", proc_root, pid);
	if (read_at(AT_FDCWD, path, buf, sizeof(buf), &len) < 0)
		return 0;
	memset(&tmp, 0, sizeof(tmp));
	if (proc_parse_stat(buf, len, &tmp, NULL) < 0)
		return 0;
	return tmp.start_ns;
}

static bool is_kernel_thread(const struct process *p, const struct proc_stat_info *info)
{
	if (info->flags & PROC_PF_KTHREAD)
		return true;
	/* kthreadd and its children, for fixtures or kernels that hide flags.
	 * pid 2 counts only with ppid 0: in a pid namespace pid 2 is a
	 * normal process whose parent is 1. */
	return (p->pid == 2 && p->ppid == 0) || p->ppid == 2;
}

static int read_pid_at(int dfd, const char *proc_root, const char *cgroup2_root,
		       uint32_t pid, struct process *p, struct proc_snapshot_buf *buf)
{
	char stat_buf[STAT_BUF_SIZE], status_buf[STATUS_BUF_SIZE];
	char args[PROC_ARGS_MAX + 1];
	struct proc_stat_info info;
	size_t len;
	int err;

	memset(p, 0, sizeof(*p));
	err = read_at(dfd, "stat", stat_buf, sizeof(stat_buf), &len);
	if (err)
		return is_gone(err) ? -ENOENT : err;
	if (len == sizeof(stat_buf) || proc_parse_stat(stat_buf, len, p, &info) < 0) {
		log_warn("proc_snapshot: pid %u: malformed stat", pid);
		return -EINVAL;
	}
	if (p->pid != pid) {
		log_warn("proc_snapshot: pid %u: stat names pid %u", pid, p->pid);
		return -EINVAL;
	}
	if (is_kernel_thread(p, &info))
		return PROC_SNAPSHOT_KTHREAD;

	err = read_at(dfd, "status", status_buf, sizeof(status_buf), &len);
	if (err)
		return is_gone(err) ? -ENOENT : err;
	if (proc_parse_status(status_buf, len, p) < 0 || p->pid != pid) {
		log_warn("proc_snapshot: pid %u: malformed status", pid);
		return -EINVAL;
	}

	read_loginuid(dfd, p);
	read_exe(dfd, p, buf);
	if (read_at(dfd, "cmdline", args, sizeof(args), &len) == 0)
		proc_parse_cmdline(args, len, buf->args, sizeof(buf->args), p);
	if (cgroup2_root && cgroup2_root[0])
		read_cgroup(dfd, cgroup2_root, p);
	read_namespaces(dfd, p);
	if (p->ppid)
		p->parent_start_ns = read_start_ns(proc_root, p->ppid);
	p->source = PROCESS_FROM_SNAPSHOT;
	return 0;
}

static int open_pid_dir(const char *proc_root, uint32_t pid)
{
	char path[PROC_PATH_MAX];
	int dfd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%u", proc_root, pid) >= sizeof(path))
		return -ENAMETOOLONG;
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return is_gone(-errno) ? -ENOENT : -errno;
	return dfd;
}

/* Resolves the caller's cgroup2_root argument: NULL detects, "" disables. */
static const char *pick_cgroup2_root(const char *cgroup2_root, char *detected, size_t size)
{
	int err;

	if (cgroup2_root)
		return cgroup2_root;
	err = proc_detect_cgroup2_root(detected, size);
	if (err) {
		log_info("proc_snapshot: no cgroup2 mount found (%s), cgroup ids not resolved",
			 strerror(-err));
		return "";
	}
	return detected;
}

int proc_snapshot_read_pid(const char *proc_root, const char *cgroup2_root, uint32_t pid,
			   struct process *p, struct proc_snapshot_buf *buf)
{
	char detected[PROC_PATH_MAX];
	int dfd, ret;

	if (!proc_root || !p || !buf || pid == 0)
		return -EINVAL;
	cgroup2_root = pick_cgroup2_root(cgroup2_root, detected, sizeof(detected));
	dfd = open_pid_dir(proc_root, pid);
	if (dfd < 0)
		return dfd;
	ret = read_pid_at(dfd, proc_root, cgroup2_root, pid, p, buf);
	close(dfd);
	return ret;
}

/* A /proc entry name that is a pid: digits only, fits 32 bits, not 0. */
static bool parse_pid_name(const char *name, uint32_t *pid)
{
	const char *end = name + strlen(name);
	const char *s;
	uint64_t v;

	s = parse_uint(name, end, 10, UINT32_MAX, &v);
	if (!s || s != end || name[0] < '0' || name[0] > '9' || v == 0)
		return false;
	*pid = (uint32_t)v;
	return true;
}

int proc_snapshot_walk(const char *proc_root, const char *cgroup2_root,
		       int (*fn)(const struct process *p, void *ctx), void *ctx,
		       struct proc_snapshot_stats *stats)
{
	struct proc_snapshot_stats local = { 0 };
	struct proc_snapshot_buf *buf;
	char detected[PROC_PATH_MAX];
	struct dirent *de;
	DIR *dir;
	int ret = 0;

	if (!stats)
		stats = &local;
	memset(stats, 0, sizeof(*stats));
	if (!proc_root)
		return -EINVAL;
	dir = opendir(proc_root);
	if (!dir) {
		ret = -errno;
		log_error("proc_snapshot: cannot open %s: %s", proc_root, strerror(errno));
		return ret;
	}
	buf = malloc(sizeof(*buf));
	if (!buf) {
		closedir(dir);
		return -ENOMEM;
	}
	cgroup2_root = pick_cgroup2_root(cgroup2_root, detected, sizeof(detected));

	while ((de = readdir(dir))) {
		struct process p;
		uint32_t pid;
		int dfd, r;

		if (!parse_pid_name(de->d_name, &pid))
			continue;
		dfd = open_pid_dir(proc_root, pid);
		if (dfd < 0) {
			r = dfd;
		} else {
			r = read_pid_at(dfd, proc_root, cgroup2_root, pid, &p, buf);
			close(dfd);
		}
		if (r == 0) {
			stats->processes++;
			if (fn && (ret = fn(&p, ctx)) != 0)
				break;
		} else if (r == PROC_SNAPSHOT_KTHREAD) {
			stats->kernel_threads_skipped++;
		} else if (r != -ENOENT) {
			stats->errors++;
			if (r != -EINVAL) /* malformed ones were logged already */
				log_warn("proc_snapshot: pid %u skipped: %s", pid, strerror(-r));
		}
	}
	free(buf);
	closedir(dir);
	return ret;
}
