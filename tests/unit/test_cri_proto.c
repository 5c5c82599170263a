/* test_cri_proto.c - the CRI client without a runtime: decoding of reply
 * bytes captured from a real containerd (tests/fixtures/cri/), refusal of
 * damaged replies, image reference splitting, label packing, and transport
 * failures against fake unix-socket servers (missing, silent, garbage). */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../../sensor/cri.h"

#define FX_CONTAINER "baddab325255495bc2ce56aa0d51543d3ee4b9761750e8ffcb8a5a5ab3eafd3c"
#define FX_POD "b4b783ebe6a18b53a249eb3e77afffd308353f18e6db72f8039797a0016ed2d0"
#define FX_UID "0b1c2d3e-4f50-4617-8899-aabbccddeeff"
#define FX_IMAGE_ID "sha256:f74e1e263840ebdcb8e33172d32f907643cd28481e11b394b7d1f1cd0b0811c6"
#define FX_DIGEST "sha256:e72e11c0a944a7811cc1520923a7e3fc00a7b5494e1060b9977404673aa28ecb"

/* Fixtures are found through $VIGIL_FIXTURE_DIR, next to this source file,
 * or relative to the repository root. */
static uint8_t *load_fixture(const char *name, size_t *len)
{
	char path[1024], dir[900];
	const char *env = getenv("VIGIL_FIXTURE_DIR");
	const char *slash = strrchr(__FILE__, '/');
	FILE *f = NULL;
	uint8_t *buf;
	long n;

	if (env) {
		snprintf(path, sizeof(path), "%s/%s", env, name);
		f = fopen(path, "rb");
	}
	if (!f && slash) {
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - __FILE__), __FILE__);
		snprintf(path, sizeof(path), "%s/../fixtures/cri/%s", dir, name);
		f = fopen(path, "rb");
	}
	if (!f) {
		snprintf(path, sizeof(path), "tests/fixtures/cri/%s", name);
		f = fopen(path, "rb");
	}
	cr_assert_not_null(f, "fixture %s not found (set VIGIL_FIXTURE_DIR)", name);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	cr_assert_gt(n, 0);
	buf = malloc((size_t)n);
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

Test(cri_decode, version)
{
	size_t len;
	uint8_t *b = load_fixture("version.bin", &len);
	struct cri_version v;
	char err[256] = "";

	cr_assert_eq(cri_decode_version(b, len, &v, err, sizeof(err)), CRI_OK, "%s", err);
	cr_assert_str_eq(v.runtime_name, "containerd");
	cr_assert_str_eq(v.runtime_version, "1.6.20~ds1");
	cr_assert_str_eq(v.runtime_api_version, "v1");
	cr_assert_str_eq(v.version, "0.1.0");
	free(b);
}

Test(cri_decode, list_containers)
{
	size_t len;
	uint8_t *b = load_fixture("list_containers.bin", &len);
	struct cri_container_list l;
	const struct cri_container *c;
	char err[256] = "";

	cr_assert_eq(cri_decode_list_containers(b, len, &l, err, sizeof(err)), CRI_OK, "%s", err);
	cr_assert_eq(l.n, 1);
	cr_assert_eq(l.skipped, 0);
	c = &l.items[0];
	cr_assert_str_eq(c->id, FX_CONTAINER);
	cr_assert_str_eq(c->pod_sandbox_id, FX_POD);
	cr_assert_str_eq(c->name, "sleeper");
	cr_assert_str_eq(c->image, "localhost/vigil/busybox:1.35");
	cr_assert_str_eq(c->image_ref, FX_IMAGE_ID);
	cr_assert_eq(c->state, CRI_CONTAINER_RUNNING);
	cr_assert_gt(c->created_at_ns, 1600000000000000000LL);
	cr_assert_eq(c->labels.n, 4);
	cr_assert_str_eq(cri_labels_get(&c->labels, "io.kubernetes.pod.name"), "fixture-pod");
	cr_assert_str_eq(cri_labels_get(&c->labels, "io.kubernetes.pod.namespace"), "vigil-fixtures");
	cr_assert_str_eq(cri_labels_get(&c->labels, "io.kubernetes.pod.uid"), FX_UID);
	cr_assert_str_eq(cri_labels_get(&c->labels, "io.kubernetes.container.name"), "sleeper");
	cr_assert_null(cri_labels_get(&c->labels, "io.kubernetes.pod"));
	cri_container_list_free(&l);
	cr_assert_null(l.items);
	free(b);
}

Test(cri_decode, container_status_verbose)
{
	size_t len;
	uint8_t *b = load_fixture("container_status.bin", &len);
	struct cri_container c;
	char err[256] = "";

	cr_assert_eq(cri_decode_container_status(b, len, &c, err, sizeof(err)), CRI_OK, "%s", err);
	cr_assert_str_eq(c.id, FX_CONTAINER);
	cr_assert_str_eq(c.name, "sleeper");
	cr_assert_eq(c.state, CRI_CONTAINER_RUNNING);
	/* not a field of ContainerStatus: comes from the verbose info JSON */
	cr_assert_str_eq(c.pod_sandbox_id, FX_POD);
	cr_assert_eq(c.pid, 12750);
	cr_assert_str_eq(c.cgroups_path, "/kubepods/besteffort/pod" FX_UID "/" FX_CONTAINER);
	cr_assert_str_eq(c.image_ref, "localhost/vigil/busybox@" FX_DIGEST);
	cr_assert_geq(c.started_at_ns, c.created_at_ns);
	cr_assert_eq(c.finished_at_ns, 0);
	cr_assert_str_eq(cri_labels_get(&c.labels, "io.kubernetes.pod.uid"), FX_UID);
	free(b);
}

Test(cri_decode, list_pods)
{
	size_t len;
	uint8_t *b = load_fixture("list_pods.bin", &len);
	struct cri_pod_list l;
	char err[256] = "";

	cr_assert_eq(cri_decode_list_pods(b, len, &l, err, sizeof(err)), CRI_OK, "%s", err);
	cr_assert_eq(l.n, 1);
	cr_assert_str_eq(l.items[0].id, FX_POD);
	cr_assert_str_eq(l.items[0].name, "fixture-pod");
	cr_assert_str_eq(l.items[0].namespace, "vigil-fixtures");
	cr_assert_str_eq(l.items[0].uid, FX_UID);
	cr_assert_eq(l.items[0].state, CRI_POD_READY);
	cr_assert_str_eq(cri_labels_get(&l.items[0].labels, "app"), "fixture");
	cri_pod_list_free(&l);
	free(b);
}

Test(cri_decode, pod_status_verbose)
{
	size_t len;
	uint8_t *b = load_fixture("pod_status.bin", &len);
	struct cri_pod p;
	char err[256] = "";

	cr_assert_eq(cri_decode_pod_status(b, len, &p, err, sizeof(err)), CRI_OK, "%s", err);
	cr_assert_str_eq(p.id, FX_POD);
	cr_assert_str_eq(p.name, "fixture-pod");
	cr_assert_str_eq(p.namespace, "vigil-fixtures");
	cr_assert_str_eq(p.uid, FX_UID);
	cr_assert_str_eq(p.ip, "10.89.0.2");
	cr_assert_gt(p.pid, 0);
	cr_assert_str_eq(cri_labels_get(&p.labels, "app"), "fixture");
	free(b);
}

Test(cri_decode, image_status)
{
	size_t len;
	uint8_t *b = load_fixture("image_status.bin", &len);
	struct cri_image im;
	char err[256] = "";

	cr_assert_eq(cri_decode_image_status(b, len, &im, err, sizeof(err)), CRI_OK, "%s", err);
	cr_assert_str_eq(im.id, FX_IMAGE_ID);
	cr_assert_str_eq(im.repo_tag, "localhost/vigil/busybox:1.35");
	cr_assert_str_eq(im.repo_digest, "localhost/vigil/busybox@" FX_DIGEST);

	/* "image unknown" is an empty reply, reported as not found */
	const uint8_t empty[5] = { 0, 0, 0, 0, 0 };
	cr_assert_eq(cri_decode_image_status(empty, sizeof(empty), &im, err, sizeof(err)),
		     CRI_ERR_NOT_FOUND);
	free(b);
}

/* Every prefix of a real reply is refused with a message: a reply cut short
 * is never decoded as a smaller valid one. */
Test(cri_decode, truncated_replies_refused)
{
	static const char *names[] = { "version.bin", "list_containers.bin",
				       "container_status.bin", "list_pods.bin",
				       "pod_status.bin" };

	for (size_t f = 0; f < sizeof(names) / sizeof(names[0]); f++) {
		size_t len;
		uint8_t *b = load_fixture(names[f], &len);

		for (size_t cut = 0; cut < len; cut++) {
			/* copy so ASan catches any read past the cut */
			uint8_t *p = malloc(cut ? cut : 1);
			char err[256] = "";
			int rc;

			memcpy(p, b, cut);
			switch (f) {
			case 0: {
				struct cri_version v;
				rc = cri_decode_version(p, cut, &v, err, sizeof(err));
				break;
			}
			case 1: {
				struct cri_container_list l;
				rc = cri_decode_list_containers(p, cut, &l, err, sizeof(err));
				cri_container_list_free(&l);
				break;
			}
			case 2: {
				struct cri_container c;
				rc = cri_decode_container_status(p, cut, &c, err, sizeof(err));
				break;
			}
			case 3: {
				struct cri_pod_list l;
				rc = cri_decode_list_pods(p, cut, &l, err, sizeof(err));
				cri_pod_list_free(&l);
				break;
			}
			default: {
				struct cri_pod pod;
				rc = cri_decode_pod_status(p, cut, &pod, err, sizeof(err));
				break;
			}
			}
			cr_assert_eq(rc, CRI_ERR_PROTO, "%s cut at %zu accepted", names[f], cut);
			cr_assert_neq(err[0], '\0', "%s cut at %zu: no message", names[f], cut);
			free(p);
		}
		free(b);
	}
}

Test(cri_decode, framing_errors)
{
	size_t len;
	uint8_t *b = load_fixture("version.bin", &len);
	uint8_t *p = malloc(len + 1);
	const uint8_t *msg;
	size_t msg_len;
	struct cri_version v;
	char err[256];

	cr_assert_eq(cri_grpc_unframe(b, len, &msg, &msg_len, err, sizeof(err)), CRI_OK);
	cr_assert_eq(msg_len, len - 5);
	cr_assert_eq(msg, b + 5);

	/* trailing garbage after the message */
	memcpy(p, b, len);
	p[len] = 0x0a;
	cr_assert_eq(cri_decode_version(p, len + 1, &v, err, sizeof(err)), CRI_ERR_PROTO);
	cr_assert(strstr(err, "frame says"), "%s", err);

	/* compressed flag: we never ask for compression */
	memcpy(p, b, len);
	p[0] = 1;
	cr_assert_eq(cri_decode_version(p, len, &v, err, sizeof(err)), CRI_ERR_PROTO);
	cr_assert(strstr(err, "compressed"), "%s", err);

	/* length field claims 4 GiB */
	memcpy(p, b, len);
	p[1] = p[2] = p[3] = p[4] = 0xff;
	cr_assert_eq(cri_decode_version(p, len, &v, err, sizeof(err)), CRI_ERR_PROTO);

	cr_assert_eq(cri_grpc_unframe(NULL, 10, &msg, &msg_len, err, sizeof(err)), CRI_ERR_PROTO);
	free(p);
	free(b);
}

Test(cri_decode, bad_protobuf_refused)
{
	/* field 1, wire type 7 (does not exist) */
	const uint8_t bad_wire[] = { 0, 0, 0, 0, 2, 0x0f, 0x00 };
	/* field 1 (id), length 0x7f, only 2 bytes follow */
	const uint8_t bad_len[] = { 0, 0, 0, 0, 4, 0x0a, 0x7f, 'a', 'b' };
	/* ContainerStatus reply with no status message at all */
	const uint8_t no_status[] = { 0, 0, 0, 0, 0 };
	/* status.id (field 1 in field 1) of 70 bytes: longer than any id */
	uint8_t long_id[5 + 2 + 2 + 70];
	struct cri_version v;
	struct cri_container c;
	struct cri_container_list l;
	char err[256];

	cr_assert_eq(cri_decode_version(bad_wire, sizeof(bad_wire), &v, err, sizeof(err)), CRI_ERR_PROTO);
	cr_assert_eq(cri_decode_list_containers(bad_len, sizeof(bad_len), &l, err, sizeof(err)),
		     CRI_ERR_PROTO);
	cr_assert_eq(cri_decode_container_status(no_status, sizeof(no_status), &c, err, sizeof(err)),
		     CRI_ERR_PROTO);

	long_id[0] = 0;
	long_id[1] = long_id[2] = long_id[3] = 0;
	long_id[4] = 2 + 2 + 70;
	long_id[5] = 0x0a;
	long_id[6] = 2 + 70;
	long_id[7] = 0x0a;
	long_id[8] = 70;
	memset(long_id + 9, 'a', 70);
	cr_assert_eq(cri_decode_container_status(long_id, sizeof(long_id), &c, err, sizeof(err)),
		     CRI_ERR_PROTO);
}

/* Random damage to a real reply: any outcome but a crash or an invalid
 * result is fine. */
Test(cri_decode, bit_flips_never_crash)
{
	size_t len;
	uint8_t *b = load_fixture("list_containers.bin", &len);
	uint8_t *p = malloc(len);
	unsigned seed = 7;
	int ok = 0;

	for (int round = 0; round < 3000; round++) {
		struct cri_container_list l;
		char err[256];

		memcpy(p, b, len);
		for (int k = 0; k < 3; k++) {
			seed = seed * 1103515245u + 12345u;
			size_t at = 5 + (seed >> 8) % (len - 5);
			p[at] ^= (uint8_t)(1u << ((seed >> 4) & 7));
		}
		if (cri_decode_list_containers(p, len, &l, err, sizeof(err)) == CRI_OK) {
			ok++;
			for (size_t i = 0; i < l.n; i++)
				cr_assert_lt(strlen(l.items[i].id), sizeof(l.items[i].id));
			cri_container_list_free(&l);
		}
	}
	/* flipping bits in string bodies keeps the protobuf valid: some must pass */
	cr_assert_gt(ok, 0);
	free(p);
	free(b);
}

Test(cri_labels, pack_get_iterate_truncate)
{
	struct cri_labels l;
	char key[40], value[200];
	unsigned added = 0;
	const char *kv;
	unsigned seen = 0;

	memset(&l, 0, sizeof(l));
	cr_assert_null(cri_labels_next(&l, NULL));
	cr_assert_eq(cri_labels_add(&l, "app", "web"), 0);
	cr_assert_eq(cri_labels_add(&l, "tier", ""), 0);
	cr_assert_eq(cri_labels_add(&l, "a=b", "x"), -1); /* '=' in a key */
	cr_assert_eq(cri_labels_add(&l, "", "x"), -1);
	cr_assert_str_eq(cri_labels_get(&l, "app"), "web");
	cr_assert_str_eq(cri_labels_get(&l, "tier"), "");
	cr_assert_null(cri_labels_get(&l, "ap"));
	cr_assert(l.truncated);

	memset(&l, 0, sizeof(l));
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "key-%d", i);
		memset(value, 'v', sizeof(value) - 1);
		value[sizeof(value) - 1] = '\0';
		if (cri_labels_add(&l, key, value) == 0)
			added++;
	}
	cr_assert(l.truncated);
	cr_assert_eq(l.n, added);
	cr_assert_lt(added, 100);
	cr_assert_leq(l.used, sizeof(l.buf));
	for (kv = cri_labels_next(&l, NULL); kv; kv = cri_labels_next(&l, kv))
		seen++;
	cr_assert_eq(seen, added);
	cr_assert_not_null(cri_labels_get(&l, "key-0"));
	cr_assert_null(cri_labels_get(&l, "key-99"));
}

Test(cri_image, split)
{
	static const struct {
		const char *ref, *name, *tag, *digest;
	} cases[] = {
		{ "localhost/vigil/busybox:1.35", "localhost/vigil/busybox", "1.35", "" },
		{ "nginx", "nginx", "latest", "" },
		{ "docker.io/library/nginx:1.25", "docker.io/library/nginx", "1.25", "" },
		{ "registry:5000/team/app", "registry:5000/team/app", "latest", "" },
		{ "registry:5000/team/app:v2", "registry:5000/team/app", "v2", "" },
		{ "repo/app@" FX_DIGEST, "repo/app", "", FX_DIGEST },
		{ "repo/app:v1@" FX_DIGEST, "repo/app", "v1", FX_DIGEST },
		{ FX_IMAGE_ID, "", "", FX_IMAGE_ID },
		{ "", "", "", "" },
	};
	char name[64], tag[16], digest[80];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cri_split_image(cases[i].ref, name, sizeof(name), tag, sizeof(tag),
				digest, sizeof(digest));
		cr_expect_str_eq(name, cases[i].name, "%s", cases[i].ref);
		cr_expect_str_eq(tag, cases[i].tag, "%s", cases[i].ref);
		cr_expect_str_eq(digest, cases[i].digest, "%s", cases[i].ref);
	}
	/* small buffers truncate, never overflow */
	char n4[4], t2[2], d3[3];
	cri_split_image("abcdef:ghijk@sha256:00", n4, sizeof(n4), t2, sizeof(t2), d3, sizeof(d3));
	cr_assert_str_eq(n4, "abc");
	cr_assert_str_eq(t2, "g");
	cr_assert_str_eq(d3, "sh");
	cri_split_image(NULL, n4, sizeof(n4), t2, sizeof(t2), d3, sizeof(d3));
	cr_assert_str_eq(n4, "");
}

/* ---- transport failures against fake servers ---------------------------- */

enum fake_mode { FAKE_SILENT, FAKE_GARBAGE, FAKE_CLOSE };

struct fake_server {
	char dir[40];
	char path[80];
	int fd;
	enum fake_mode mode;
	pthread_t thread;
};

static void *fake_serve(void *arg)
{
	struct fake_server *s = arg;
	int conn = accept(s->fd, NULL, NULL);
	char buf[4096];

	if (conn < 0)
		return NULL;
	switch (s->mode) {
	case FAKE_SILENT:
		/* read the request, never answer; the client must time out */
		while (read(conn, buf, sizeof(buf)) > 0)
			;
		break;
	case FAKE_GARBAGE:
		(void)!read(conn, buf, sizeof(buf));
		(void)!write(conn, "HTTP/1.1 200 OK\r\n\r\nnot grpc at all", 34);
		break;
	case FAKE_CLOSE:
		break;
	}
	close(conn);
	return NULL;
}

static void fake_start(struct fake_server *s, enum fake_mode mode)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(s->dir, sizeof(s->dir), "/tmp/vigil-cri-test-XXXXXX");
	cr_assert_not_null(mkdtemp(s->dir));
	snprintf(s->path, sizeof(s->path), "%s/fake.sock", s->dir);
	s->mode = mode;
	s->fd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_geq(s->fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", s->path);
	cr_assert_eq(bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "%s", strerror(errno));
	cr_assert_eq(listen(s->fd, 4), 0);
	cr_assert_eq(pthread_create(&s->thread, NULL, fake_serve, s), 0);
}

static void fake_stop(struct fake_server *s)
{
	shutdown(s->fd, SHUT_RDWR);
	close(s->fd);
	pthread_join(s->thread, NULL);
	unlink(s->path);
	rmdir(s->dir);
}

static double elapsed_s(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

Test(cri_transport, missing_socket)
{
	struct cri_client *c = cri_client_new("/tmp/vigil-no-such-dir/none.sock", 500);
	struct cri_version v;

	cr_assert_not_null(c);
	cr_assert_eq(cri_version(c, &v), CRI_ERR_TRANSPORT);
	cr_assert(strstr(cri_client_error(c), "none.sock"), "%s", cri_client_error(c));
	cr_assert_str_eq(cri_client_socket(c), "/tmp/vigil-no-such-dir/none.sock");
	cri_client_free(c);
}

Test(cri_transport, silent_server_times_out, .timeout = 10)
{
	struct fake_server s;
	struct cri_client *c;
	struct cri_container_list l;
	struct timespec t0;
	double took;

	fake_start(&s, FAKE_SILENT);
	c = cri_client_new(s.path, 300);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(cri_list_containers(c, NULL, &l), CRI_ERR_TRANSPORT);
	took = elapsed_s(&t0);
	cr_assert_geq(took, 0.25, "gave up too early: %.3f s", took);
	cr_assert_lt(took, 2.0, "timeout not honoured: %.3f s", took);
	cr_assert_eq(l.n, 0);
	cri_client_free(c);
	fake_stop(&s);
}

Test(cri_transport, garbage_and_hangup_are_errors, .timeout = 10)
{
	enum fake_mode modes[] = { FAKE_GARBAGE, FAKE_CLOSE };

	for (size_t i = 0; i < 2; i++) {
		struct fake_server s;
		struct cri_client *c;
		struct cri_version v;
		int rc;

		fake_start(&s, modes[i]);
		c = cri_client_new(s.path, 1000);
		rc = cri_version(c, &v);
		cr_assert(rc == CRI_ERR_TRANSPORT || rc == CRI_ERR_PROTO,
			  "mode %zu: rc %d", i, rc);
		cr_assert_neq(cri_client_error(c)[0], '\0');
		cri_client_free(c);
		fake_stop(&s);
	}
}

Test(cri_transport, bad_arguments)
{
	struct cri_client *c = cri_client_new("/tmp/vigil-no-such-dir/none.sock", 100);
	struct cri_container ct;
	struct cri_pod p;
	char long_id[100];

	memset(long_id, 'a', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	cr_assert_eq(cri_container_status(c, NULL, false, &ct), CRI_ERR_ARG);
	cr_assert_eq(cri_container_status(c, "", false, &ct), CRI_ERR_ARG);
	cr_assert_eq(cri_pod_status(c, long_id, false, &p), CRI_ERR_ARG);
	cr_assert_eq(cri_stop_pod(c, NULL), CRI_ERR_ARG);
	cr_assert_str_eq(cri_error_name(CRI_ERR_NOT_FOUND), "not found");
	cri_client_free(c);
}
