/* bpf_env.c - mount bpffs/tracefs, lift the memlock limit, route libbpf logs.
 * See bpf_env.h. */
#include "bpf_env.h"
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include <bpf/libbpf.h>

#define MOUNTINFO_PATH "/proc/self/mountinfo"
#define MOUNTINFO_LINE_MAX 4096

/* Decodes mountinfo's octal escapes ("\040" for a space) in place. */
static void unescape_mountinfo_field(char *s)
{
	char *out = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
					(s[3] - '0'));
			s += 4;
		} else {
			*out++ = *s++;
		}
	}
	*out = '\0';
}

/* Splits one mountinfo line into its mount point and filesystem type.
 * Returns 0 on success, -1 if the line is malformed. Both results point
 * into line, which is modified. */
static int parse_mountinfo_line(char *line, char **mount_point, char **fstype)
{
	char *save = NULL, *tok;
	int field = 0;
	bool after_separator = false;

	*mount_point = NULL;
	*fstype = NULL;
	for (tok = strtok_r(line, " \n", &save); tok;
	     tok = strtok_r(NULL, " \n", &save), field++) {
		if (field == 4) {
			*mount_point = tok;
			continue;
		}
		/* Fields 6.. are optional tags ("shared:1") up to a lone "-";
		 * the filesystem type follows it. */
		if (field >= 6 && !after_separator) {
			if (strcmp(tok, "-") == 0)
				after_separator = true;
			continue;
		}
		if (after_separator) {
			*fstype = tok;
			break;
		}
	}
	if (!*mount_point || !*fstype)
		return -1;
	unescape_mountinfo_field(*mount_point);
	return 0;
}

/* Walks a mountinfo file; for each entry of type fstype (and at mount_point
 * if not NULL) copies the mount point into out. Stops at the first match. */
static int scan_mountinfo(const char *path, const char *mount_point,
			  const char *fstype, char *out, unsigned long out_size)
{
	char line[MOUNTINFO_LINE_MAX];
	FILE *f;
	int found = 0;

	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		size_t len = strlen(line);
		char *mp, *type;

		if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
			/* Longer than any sane entry: skip the rest of it. */
			int c;

			while ((c = fgetc(f)) != EOF && c != '\n')
				;
			continue;
		}
		if (parse_mountinfo_line(line, &mp, &type) < 0)
			continue;
		if (strcmp(type, fstype) != 0)
			continue;
		if (mount_point && strcmp(mp, mount_point) != 0)
			continue;
		if (out) {
			if (strlen(mp) >= out_size) {
				found = -ENAMETOOLONG;
				break;
			}
			strcpy(out, mp);
		}
		found = 1;
		break;
	}
	fclose(f);
	return found;
}

int bpf_env_is_mounted(const char *mountinfo_path, const char *mount_point,
		       const char *fstype)
{
	if (!mountinfo_path || !mount_point || !fstype)
		return -EINVAL;
	return scan_mountinfo(mountinfo_path, mount_point, fstype, NULL, 0);
}

int bpf_env_find_mount(const char *mountinfo_path, const char *fstype,
		       char *out, unsigned long out_size)
{
	if (!mountinfo_path || !fstype || !out || out_size == 0)
		return -EINVAL;
	return scan_mountinfo(mountinfo_path, NULL, fstype, out, out_size);
}

const char *bpf_env_mount_state_name(enum bpf_env_mount_state state)
{
	switch (state) {
	case BPF_ENV_MOUNT_ALREADY:
		return "already mounted";
	case BPF_ENV_MOUNT_DONE:
		return "mounted";
	case BPF_ENV_MOUNT_FAILED:
		return "failed";
	}
	return "unknown";
}

/* libbpf ends its messages with a newline and may split one message over
 * several calls; log.h wants one line per call, so trailing newlines go. */
static int libbpf_print_to_log(enum libbpf_print_level level, const char *fmt,
			       va_list ap)
{
	char msg[1024];
	size_t len;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	len = strlen(msg);
	while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
		msg[--len] = '\0';
	if (len == 0)
		return 0;
	switch (level) {
	case LIBBPF_WARN:
		log_warn("%s", msg);
		break;
	case LIBBPF_INFO:
		log_info("%s", msg);
		break;
	case LIBBPF_DEBUG:
	default:
		log_debug("%s", msg);
		break;
	}
	return (int)len;
}

void bpf_env_route_libbpf_logs(void)
{
	libbpf_set_print(libbpf_print_to_log);
}

static enum bpf_env_mount_state ensure_mounted(const char *what,
					       const char *fstype,
					       const char *target, int *err)
{
	int r;

	*err = 0;
	r = bpf_env_is_mounted(MOUNTINFO_PATH, target, fstype);
	if (r == 1)
		return BPF_ENV_MOUNT_ALREADY;
	if (r < 0)
		log_warn("bpf_env: cannot read %s: %s; trying to mount %s anyway",
			 MOUNTINFO_PATH, strerror(-r), what);
	/* bpffs only needs mode 0700: pinned objects are for root alone. */
	if (mount(fstype, target, fstype, MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  strcmp(fstype, "bpf") == 0 ? "mode=0700" : NULL) < 0) {
		*err = errno;
		/* A racing mounter (another process doing the same) is fine. */
		if (bpf_env_is_mounted(MOUNTINFO_PATH, target, fstype) == 1) {
			*err = 0;
			return BPF_ENV_MOUNT_ALREADY;
		}
		log_warn("bpf_env: cannot mount %s at %s: %s", what, target,
			 strerror(*err));
		return BPF_ENV_MOUNT_FAILED;
	}
	log_info("bpf_env: mounted %s at %s", what, target);
	return BPF_ENV_MOUNT_DONE;
}

static bool raise_memlock(int *err)
{
	struct rlimit lim;
	const struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };

	*err = 0;
	if (getrlimit(RLIMIT_MEMLOCK, &lim) == 0 &&
	    lim.rlim_cur == RLIM_INFINITY)
		return true;
	if (setrlimit(RLIMIT_MEMLOCK, &unlimited) == 0)
		return true;
	*err = errno;
	/* Raising the soft limit up to the hard one needs no privilege and
	 * helps older kernels a little. */
	if (getrlimit(RLIMIT_MEMLOCK, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
		lim.rlim_cur = lim.rlim_max;
		setrlimit(RLIMIT_MEMLOCK, &lim);
	}
	log_info("bpf_env: cannot lift RLIMIT_MEMLOCK (%s); fine on kernels >= 5.11, which charge BPF memory to the cgroup",
		 strerror(*err));
	return false;
}

int bpf_env_prepare(struct bpf_env_report *report)
{
	struct bpf_env_report local;
	struct bpf_env_report *r = report ? report : &local;
	int ret = 0;

	memset(r, 0, sizeof(*r));
	bpf_env_route_libbpf_logs();

	r->bpffs = ensure_mounted("bpffs", "bpf", BPF_ENV_BPFFS_PATH,
				  &r->bpffs_errno);
	if (r->bpffs == BPF_ENV_MOUNT_FAILED)
		ret = -r->bpffs_errno;

	r->tracefs = ensure_mounted("tracefs", "tracefs", BPF_ENV_TRACEFS_PATH,
				    &r->tracefs_errno);
	if (r->tracefs == BPF_ENV_MOUNT_FAILED && ret == 0)
		ret = -r->tracefs_errno;

	r->memlock_unlimited = raise_memlock(&r->memlock_errno);
	return ret;
}
