/* test_container_id.c - cgroup path -> container id / pod uid, with paths as
 * the runtimes really write them (cgroupfs and systemd drivers, cgroup v1 and
 * v2 line formats) and with junk that must be refused. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "../../sensor/container_id.h"

#define ID_A "1ed2e0f867b12991d32179fea3a8b47635e1d592cfe180388c76bf9a1c1c4fbf"
#define ID_B "9c4b7f3e2a1d0c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b"
#define UID_DASH "2f72bfb6-3b7c-4c8e-9817-1edd42b0946e"
#define UID_UNDER "2f72bfb6_3b7c_4c8e_9817_1edd42b0946e"

struct id_case {
	const char *path;
	const char *want_id; /* NULL: must be refused */
	enum container_runtime want_rt;
	const char *want_uid; /* NULL: no pod uid */
};

static const struct id_case cases[] = {
	/* kubelet cgroupfs driver, as seen on this machine's containerd */
	{ "/kubepods/besteffort/pod" UID_DASH "/" ID_A, ID_A,
	  CONTAINER_RUNTIME_UNKNOWN, UID_DASH },
	{ "/kubepods/burstable/pod" UID_DASH "/" ID_A, ID_A,
	  CONTAINER_RUNTIME_UNKNOWN, UID_DASH },
	{ "/kubepods/pod" UID_DASH "/" ID_A, ID_A, CONTAINER_RUNTIME_UNKNOWN,
	  UID_DASH },
	/* kubelet systemd driver */
	{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_UNDER
	  ".slice/cri-containerd-" ID_A ".scope",
	  ID_A, CONTAINER_RUNTIME_CONTAINERD, UID_DASH },
	{ "/kubepods.slice/kubepods-pod" UID_UNDER ".slice/crio-" ID_B ".scope",
	  ID_B, CONTAINER_RUNTIME_CRIO, UID_DASH },
	{ "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_UNDER
	  ".slice/docker-" ID_B ".scope",
	  ID_B, CONTAINER_RUNTIME_DOCKER, UID_DASH },
	/* static pod: kubelet uses a 32-hex hash as the uid */
	{ "/kubepods/burstable/pod6d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a/" ID_A, ID_A,
	  CONTAINER_RUNTIME_UNKNOWN, "6d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a" },
	/* runc's systemd cgroupsPath notation */
	{ "kubepods-besteffort-pod" UID_UNDER ".slice:cri-containerd:" ID_A, ID_A,
	  CONTAINER_RUNTIME_CONTAINERD, UID_DASH },
	/* outside Kubernetes */
	{ "/system.slice/docker-" ID_A ".scope", ID_A, CONTAINER_RUNTIME_DOCKER,
	  NULL },
	{ "/machine.slice/libpod-" ID_B ".scope", ID_B, CONTAINER_RUNTIME_PODMAN,
	  NULL },
	{ "/machine.slice/libpod-" ID_B ".scope/container", ID_B,
	  CONTAINER_RUNTIME_PODMAN, NULL },
	{ "/docker/" ID_A, ID_A, CONTAINER_RUNTIME_DOCKER, NULL },
	{ "/containerd/" ID_B, ID_B, CONTAINER_RUNTIME_CONTAINERD, NULL },
	/* sub-cgroups made inside the container: still the same container */
	{ "/kubepods/besteffort/pod" UID_DASH "/" ID_A "/init.scope", ID_A,
	  CONTAINER_RUNTIME_UNKNOWN, UID_DASH },
	{ "/system.slice/docker-" ID_A ".scope/system.slice/cron.service", ID_A,
	  CONTAINER_RUNTIME_DOCKER, NULL },
	/* docker in docker: the outer one is what the host runtime knows */
	{ "/docker/" ID_A "/docker/" ID_B, ID_A, CONTAINER_RUNTIME_DOCKER, NULL },
	/* /proc/<pid>/cgroup lines, v2 and v1 */
	{ "0::/kubepods/besteffort/pod" UID_DASH "/" ID_A, ID_A,
	  CONTAINER_RUNTIME_UNKNOWN, UID_DASH },
	{ "4:memory:/kubepods/besteffort/pod" UID_DASH "/" ID_A "\n", ID_A,
	  CONTAINER_RUNTIME_UNKNOWN, UID_DASH },
	{ "9:name=systemd:/docker/" ID_B, ID_B, CONTAINER_RUNTIME_DOCKER, NULL },
	{ "2:cpu,cpuacct:/kubepods.slice/kubepods-pod" UID_UNDER
	  ".slice/cri-containerd-" ID_B ".scope",
	  ID_B, CONTAINER_RUNTIME_CONTAINERD, UID_DASH },

	/* host cgroups */
	{ "/", NULL, CONTAINER_RUNTIME_UNKNOWN, NULL },
	{ "0::/", NULL, CONTAINER_RUNTIME_UNKNOWN, NULL },
	{ "0::/init.scope", NULL, CONTAINER_RUNTIME_UNKNOWN, NULL },
	{ "/system.slice/containerd.service", NULL, CONTAINER_RUNTIME_UNKNOWN,
	  NULL },
	{ "4:memory:/process_api/e242613e4d5e23254c8d1292660e25b2", NULL,
	  CONTAINER_RUNTIME_UNKNOWN, NULL },
	{ "/user.slice/user-1000.slice/user@1000.service/app.slice", NULL,
	  CONTAINER_RUNTIME_UNKNOWN, NULL },
	/* pod-level cgroup (kubelet's), no container yet */
	{ "/kubepods/besteffort/pod" UID_DASH, NULL, CONTAINER_RUNTIME_UNKNOWN,
	  UID_DASH },
	/* conmon sits next to the container, it is not the container */
	{ "/machine.slice/crio-conmon-" ID_A ".scope", NULL,
	  CONTAINER_RUNTIME_UNKNOWN, NULL },

	/* malformed */
	{ "", NULL, CONTAINER_RUNTIME_UNKNOWN, NULL },
	{ "/docker/" "1ed2e0f867b1", NULL, CONTAINER_RUNTIME_UNKNOWN, NULL },
	/* 63 and 65 hex digits */
	{ "/docker/" "ed2e0f867b12991d32179fea3a8b47635e1d592cfe180388c76bf9a1c1c4fbf",
	  NULL, CONTAINER_RUNTIME_UNKNOWN, NULL },
	{ "/docker/" ID_A "0", NULL, CONTAINER_RUNTIME_UNKNOWN, NULL },
	{ "/system.slice/docker-" ID_A "0.scope", NULL, CONTAINER_RUNTIME_UNKNOWN,
	  NULL },
	/* a non-hex character in the middle; upper case is not what runtimes write */
	{ "/docker/1ed2e0f867b12991d32179fea3a8b47635e1d592cfe18038gc76bf9a1c1c4fbf",
	  NULL, CONTAINER_RUNTIME_UNKNOWN, NULL },
	{ "/docker/1ED2E0F867B12991D32179FEA3A8B47635E1D592CFE180388C76BF9A1C1C4FBF",
	  NULL, CONTAINER_RUNTIME_UNKNOWN, NULL },
	{ "/docker-" ID_A "-extra.scope", NULL, CONTAINER_RUNTIME_UNKNOWN, NULL },
	{ "::::", NULL, CONTAINER_RUNTIME_UNKNOWN, NULL },
	{ "1:", NULL, CONTAINER_RUNTIME_UNKNOWN, NULL },
	{ "x:" ID_A, ID_A, CONTAINER_RUNTIME_UNKNOWN, NULL },
	{ "/kubepods/besteffort/pod2f72bfb6-3b7c-4c8e-9817_1edd42b0946e/x", NULL,
	  CONTAINER_RUNTIME_UNKNOWN, NULL },
	{ "/kubepods/besteffort/pod2f72bfb6-3b7c-4c8e-9817-1edd42b0946/x", NULL,
	  CONTAINER_RUNTIME_UNKNOWN, NULL },
	{ "////////", NULL, CONTAINER_RUNTIME_UNKNOWN, NULL },
};

Test(container_id, table)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct id_case *c = &cases[i];
		char id[65], uid[37];
		enum container_runtime rt = CONTAINER_RUNTIME_PODMAN;
		int rc = container_id_from_cgroup(c->path, strlen(c->path), id, &rt);

		if (c->want_id) {
			cr_expect_eq(rc, 0, "case %zu (%s): want id", i, c->path);
			cr_expect_str_eq(id, c->want_id, "case %zu (%s)", i, c->path);
			cr_expect_eq(rt, c->want_rt, "case %zu (%s): runtime %s", i,
				     c->path, container_runtime_name(rt));
		} else {
			cr_expect_eq(rc, -1, "case %zu (%s): want host", i, c->path);
			cr_expect_str_eq(id, "", "case %zu", i);
			cr_expect_eq(rt, CONTAINER_RUNTIME_UNKNOWN, "case %zu", i);
		}

		rc = container_pod_uid_from_cgroup(c->path, strlen(c->path), uid);
		if (c->want_uid) {
			cr_expect_eq(rc, 0, "case %zu (%s): want uid", i, c->path);
			cr_expect_str_eq(uid, c->want_uid, "case %zu", i);
		} else {
			cr_expect_eq(rc, -1, "case %zu (%s): want no uid (got %s)", i,
				     c->path, uid);
			cr_expect_str_eq(uid, "", "case %zu", i);
		}
	}
}

/* The real /proc/<pid>/cgroup of a container started by hack/cri-up.sh's
 * containerd on a hybrid v1/v2 host: every hierarchy names the container. */
Test(container_id, whole_proc_file_hybrid)
{
	const char *file =
		"9:name=systemd:/kubepods/besteffort/pod" UID_DASH "/" ID_A "\n"
		"8:pids:/kubepods/besteffort/pod" UID_DASH "/" ID_A "\n"
		"4:memory:/kubepods/besteffort/pod" UID_DASH "/" ID_A "\n"
		"1:cpu:/kubepods/besteffort/pod" UID_DASH "/" ID_A "\n"
		"0::/kubepods/besteffort/pod" UID_DASH "/" ID_A "\n";
	char id[65];
	enum container_runtime rt;

	cr_assert_eq(container_id_from_cgroup_file(file, strlen(file), id, &rt), 0);
	cr_assert_str_eq(id, ID_A);
}

/* A host process whose only hint is in a late line (v1 memory hierarchy
 * moved by an agent): the first matching line wins, host lines are skipped. */
Test(container_id, whole_proc_file_late_match)
{
	const char *file = "9:name=systemd:/\n8:pids:/\n"
			   "4:memory:/docker/" ID_B "\n0::/\n";
	const char *host = "9:name=systemd:/\n4:memory:/process_api/abc\n0::/\n";
	char id[65];
	enum container_runtime rt;

	cr_assert_eq(container_id_from_cgroup_file(file, strlen(file), id, &rt), 0);
	cr_assert_str_eq(id, ID_B);
	cr_assert_eq(rt, CONTAINER_RUNTIME_DOCKER);
	cr_assert_eq(container_id_from_cgroup_file(host, strlen(host), id, &rt), -1);
	cr_assert_str_eq(id, "");
	cr_assert_eq(container_id_from_cgroup_file(NULL, 10, id, &rt), -1);
}

/* len is a hard limit: an id cut by len is not an id, and bytes after len
 * (here: the rest of the id) are never looked at. */
Test(container_id, respects_len)
{
	const char *path = "/docker/" ID_A;
	size_t full = strlen(path);
	char id[65];

	cr_assert_eq(container_id_from_cgroup(path, full, id, NULL), 0);
	cr_assert_eq(container_id_from_cgroup(path, full - 1, id, NULL), -1);
	cr_assert_eq(container_id_from_cgroup(path, 0, id, NULL), -1);
	cr_assert_eq(container_id_from_cgroup(NULL, 100, id, NULL), -1);

	/* An unterminated heap buffer of exactly the path: ASan would flag any
	 * read past it. */
	char *exact = malloc(full);
	cr_assert_not_null(exact);
	memcpy(exact, path, full);
	cr_assert_eq(container_id_from_cgroup(exact, full, id, NULL), 0);
	cr_assert_str_eq(id, ID_A);
	free(exact);

	/* An embedded NUL ends the input even if len says more. */
	char buf[100] = "/docker/";
	memcpy(buf + 8, ID_A, 30); /* rest zero */
	cr_assert_eq(container_id_from_cgroup(buf, sizeof(buf), id, NULL), -1);
}

/* Pseudo-random junk: must never crash or read out of bounds, and whatever
 * it returns must be a well-formed id. */
Test(container_id, junk_never_crashes)
{
	static const char alphabet[] = "0123456789abcdef/:-_.podkubescrioxyz\n";
	unsigned seed = 12345;
	int found = 0;

	for (int round = 0; round < 20000; round++) {
		size_t len;
		char *buf;
		char id[65], uid[37];

		seed = seed * 1103515245u + 12345u;
		len = (seed >> 16) % 200;
		buf = malloc(len ? len : 1);
		cr_assert_not_null(buf);
		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			buf[i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
		}
		/* plant a real id sometimes so the success path is fuzzed too */
		if (round % 7 == 0 && len >= 80) {
			size_t at = (seed >> 8) % (len - 70);
			buf[at] = '/';
			memcpy(buf + at + 1, ID_B, 64);
			buf[at + 65] = '/';
		}
		if (container_id_from_cgroup(buf, len, id, NULL) == 0) {
			cr_assert(container_id_valid(id), "bad id from junk: %s", id);
			found++;
		} else {
			cr_assert_str_eq(id, "");
		}
		if (container_pod_uid_from_cgroup(buf, len, uid) == 0)
			cr_assert(strlen(uid) == 36 || strlen(uid) == 32);
		container_id_from_cgroup_file(buf, len, id, NULL);
		free(buf);
	}
	cr_assert_gt(found, 0, "the planted ids were never found");
}

Test(container_id, valid_and_names)
{
	cr_assert(container_id_valid(ID_A));
	cr_assert_not(container_id_valid(ID_A "0"));
	cr_assert_not(container_id_valid("1ed2e0f8"));
	cr_assert_not(container_id_valid(NULL));
	cr_assert_str_eq(container_runtime_name(CONTAINER_RUNTIME_CRIO), "cri-o");
	cr_assert_str_eq(container_runtime_name(CONTAINER_RUNTIME_CONTAINERD),
			 "containerd");
	cr_assert_str_eq(container_runtime_name((enum container_runtime)99),
			 "unknown");
}
