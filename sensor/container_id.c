/* container_id.c - container id and pod uid from cgroup paths.
 *
 * A path is walked one '/'-separated component at a time; a component names
 * a container when, once a known runtime prefix and a ".scope" suffix are
 * removed, exactly 64 lowercase hex digits remain. Anything shorter, longer
 * or with a stray character is not an id: runtimes never produce those, and
 * accepting "almost ids" would attach events to the wrong container. */
#include "container_id.h"

#include <string.h>

struct span {
	const char *p;
	size_t n;
};

static const struct {
	const char *prefix; /* as in "<prefix>-<id>.scope" or "<prefix>:<id>" */
	enum container_runtime rt;
} runtime_prefixes[] = {
	{ "cri-containerd", CONTAINER_RUNTIME_CONTAINERD },
	{ "crio", CONTAINER_RUNTIME_CRIO },
	{ "docker", CONTAINER_RUNTIME_DOCKER },
	{ "libpod", CONTAINER_RUNTIME_PODMAN },
};

#define N_PREFIXES (sizeof(runtime_prefixes) / sizeof(runtime_prefixes[0]))

const char *container_runtime_name(enum container_runtime rt)
{
	switch (rt) {
	case CONTAINER_RUNTIME_DOCKER:
		return "docker";
	case CONTAINER_RUNTIME_CONTAINERD:
		return "containerd";
	case CONTAINER_RUNTIME_CRIO:
		return "cri-o";
	case CONTAINER_RUNTIME_PODMAN:
		return "podman";
	case CONTAINER_RUNTIME_UNKNOWN:
		break;
	}
	return "unknown";
}

static bool is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool all_lower_hex(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_lower_hex(p[i]))
			return false;
	return true;
}

bool container_id_valid(const char *s)
{
	if (!s)
		return false;
	for (size_t i = 0; i < CONTAINER_ID_LEN; i++)
		if (!is_lower_hex(s[i]))
			return false; /* also stops at an early NUL */
	return s[CONTAINER_ID_LEN] == '\0';
}

static bool span_eq(struct span s, const char *lit)
{
	size_t n = strlen(lit);
	return s.n == n && memcmp(s.p, lit, n) == 0;
}

static bool span_starts(struct span s, const char *lit)
{
	size_t n = strlen(lit);
	return s.n >= n && memcmp(s.p, lit, n) == 0;
}

static bool span_ends(struct span s, const char *lit)
{
	size_t n = strlen(lit);
	return s.n >= n && memcmp(s.p + s.n - n, lit, n) == 0;
}

/* The usable part of the input: up to len, the first NUL or newline, with
 * the "hierarchy-id:controllers:" prefix of a /proc/<pid>/cgroup line
 * removed. Anything that is not such a line is taken as a bare path. */
static struct span cgroup_path_of(const char *s, size_t len)
{
	struct span out = { s, 0 };
	size_t n = 0, i = 0;

	if (!s)
		return out;
	while (n < len && s[n] != '\0' && s[n] != '\n')
		n++;
	out.n = n;

	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++;
	if (i == 0 || i >= n || s[i] != ':')
		return out;
	for (size_t j = i + 1; j < n; j++) {
		if (s[j] == ':') {
			out.p = s + j + 1;
			out.n = n - j - 1;
			return out;
		}
		if (s[j] == '/')
			break; /* controllers never contain '/': not a line */
	}
	return out;
}

static void copy_id(char id[65], const char *p)
{
	memcpy(id, p, CONTAINER_ID_LEN);
	id[CONTAINER_ID_LEN] = '\0';
}

/* One path component. prev is the component before it (empty for the
 * first), which names the runtime for the "/docker/<id>" shape. */
static bool component_is_container(struct span c, struct span prev,
				   char id[65], enum container_runtime *rt)
{
	const char *colon;

	/* systemd cgroupsPath notation "<slice>:<prefix>:<id>" */
	colon = memchr(c.p, ':', c.n);
	if (colon) {
		const char *last = c.p + c.n;
		const char *second = NULL;
		struct span kind;

		for (const char *q = c.p + c.n; q > c.p; q--) {
			if (q[-1] == ':') {
				second = q;
				break;
			}
		}
		if (!second || (size_t)(last - second) != CONTAINER_ID_LEN ||
		    !all_lower_hex(second, CONTAINER_ID_LEN))
			return false;
		kind.p = colon + 1;
		kind.n = second - 1 > kind.p ? (size_t)(second - 1 - kind.p) : 0;
		*rt = CONTAINER_RUNTIME_UNKNOWN;
		for (size_t i = 0; i < N_PREFIXES; i++)
			if (span_eq(kind, runtime_prefixes[i].prefix))
				*rt = runtime_prefixes[i].rt;
		copy_id(id, second);
		return true;
	}

	if (span_ends(c, ".scope"))
		c.n -= strlen(".scope");

	if (c.n == CONTAINER_ID_LEN && all_lower_hex(c.p, c.n)) {
		if (span_eq(prev, "docker"))
			*rt = CONTAINER_RUNTIME_DOCKER;
		else if (span_eq(prev, "containerd"))
			*rt = CONTAINER_RUNTIME_CONTAINERD;
		else if (span_eq(prev, "libpod_parent"))
			*rt = CONTAINER_RUNTIME_PODMAN;
		else
			*rt = CONTAINER_RUNTIME_UNKNOWN;
		copy_id(id, c.p);
		return true;
	}

	for (size_t i = 0; i < N_PREFIXES; i++) {
		size_t plen = strlen(runtime_prefixes[i].prefix);

		/* "crio-conmon-<id>" is the monitor next to the container, not
		 * the container: it fails the length check below. */
		if (c.n == plen + 1 + CONTAINER_ID_LEN &&
		    span_starts(c, runtime_prefixes[i].prefix) &&
		    c.p[plen] == '-' &&
		    all_lower_hex(c.p + plen + 1, CONTAINER_ID_LEN)) {
			*rt = runtime_prefixes[i].rt;
			copy_id(id, c.p + plen + 1);
			return true;
		}
	}
	return false;
}

int container_id_from_cgroup(const char *path, size_t len, char id[65],
			     enum container_runtime *rt)
{
	struct span s = cgroup_path_of(path, len);
	struct span prev = { "", 0 };
	enum container_runtime hint = CONTAINER_RUNTIME_UNKNOWN;
	size_t i = 0;

	id[0] = '\0';
	if (rt)
		*rt = CONTAINER_RUNTIME_UNKNOWN;
	while (i < s.n) {
		struct span c = { s.p + i, 0 };

		while (i < s.n && s.p[i] != '/')
			i++;
		c.n = (size_t)(s.p + i - c.p);
		i++; /* skip '/' */
		if (c.n == 0)
			continue;
		if (component_is_container(c, prev, id, &hint)) {
			if (rt)
				*rt = hint;
			return 0;
		}
		prev = c;
	}
	id[0] = '\0';
	return -1;
}

/* A pod uid: 8-4-4-4-12 lowercase hex with one separator kind ('-' for
 * cgroupfs, '_' for systemd slices, where '-' means nesting), or 32 hex. */
static bool parse_uid(struct span u, char uid[37])
{
	static const size_t seps[] = { 8, 13, 18, 23 };
	char sep;

	if (u.n == 32 && all_lower_hex(u.p, 32)) {
		memcpy(uid, u.p, 32);
		uid[32] = '\0';
		return true;
	}
	if (u.n != CONTAINER_POD_UID_LEN)
		return false;
	sep = u.p[8];
	if (sep != '-' && sep != '_')
		return false;
	for (size_t i = 0, k = 0; i < u.n; i++) {
		if (k < 4 && i == seps[k]) {
			if (u.p[i] != sep)
				return false;
			uid[i] = '-';
			k++;
		} else if (is_lower_hex(u.p[i])) {
			uid[i] = u.p[i];
		} else {
			return false;
		}
	}
	uid[CONTAINER_POD_UID_LEN] = '\0';
	return true;
}

static bool component_pod_uid(struct span c, char uid[37])
{
	const char *colon = memchr(c.p, ':', c.n);
	struct span u;

	if (colon) /* "<slice>:<prefix>:<id>": the pod is in the slice part */
		c.n = (size_t)(colon - c.p);

	/* cgroupfs: "pod<uid>" */
	if (span_starts(c, "pod")) {
		u.p = c.p + 3;
		u.n = c.n - 3;
		if (parse_uid(u, uid))
			return true;
	}
	/* systemd: "kubepods[-<qos>]-pod<uid>.slice" */
	if (span_ends(c, ".slice")) {
		size_t end = c.n - strlen(".slice");

		for (size_t i = 0; i + 4 <= end; i++) {
			if (memcmp(c.p + i, "-pod", 4) != 0)
				continue;
			u.p = c.p + i + 4;
			u.n = end - i - 4;
			if (parse_uid(u, uid))
				return true;
		}
	}
	return false;
}

int container_pod_uid_from_cgroup(const char *path, size_t len, char uid[37])
{
	struct span s = cgroup_path_of(path, len);
	size_t i = 0;

	uid[0] = '\0';
	while (i < s.n) {
		struct span c = { s.p + i, 0 };

		while (i < s.n && s.p[i] != '/')
			i++;
		c.n = (size_t)(s.p + i - c.p);
		i++;
		if (c.n && component_pod_uid(c, uid))
			return 0;
	}
	uid[0] = '\0';
	return -1;
}

int container_id_from_cgroup_file(const char *buf, size_t len, char id[65],
				  enum container_runtime *rt)
{
	size_t i = 0;

	id[0] = '\0';
	if (rt)
		*rt = CONTAINER_RUNTIME_UNKNOWN;
	if (!buf)
		return -1;
	while (i < len && buf[i] != '\0') {
		size_t start = i;

		while (i < len && buf[i] != '\n' && buf[i] != '\0')
			i++;
		if (container_id_from_cgroup(buf + start, i - start, id, rt) == 0)
			return 0;
		if (i < len && buf[i] == '\n')
			i++;
	}
	return -1;
}
