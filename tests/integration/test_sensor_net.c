/* test_sensor_net.c - the real sensor, the real kernel: network events end to
 * end. A child binds, listens, connects and accepts on the loopback (IPv4 and
 * IPv6) and on unix sockets (a path, an abstract name); each call's JSON line
 * must carry the address, port, family, backlog and return value. Also: an
 * `events --types` list prints exactly the types it names. Needs root. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include "integration/harness.h"

#define NET_TYPES "connect,bind,listen,accept"
#include "integration/event_checks.h"

/* Finds the child's `name` event made by syscall `sysname`. */
static cJSON *expect_syscall(const char *name, pid_t child, const char *sysname)
{
	char key[64];

	snprintf(key, sizeof(key), "%s.syscall.name", name);
	return expect_event(name, child, key, sysname);
}

static void start_with(const char *types)
{
	suite_start("net", types);
}

static void setup(void)
{
	start_with(NET_TYPES);
}

static void setup_open_connect(void)
{
	start_with("open,connect");
}

static void teardown(void)
{
	suite_stop();
}

TestSuite(net, .init = setup, .fini = teardown, .timeout = 30);

/* What a child learnt about its sockets, for the test to compare. */
struct shared {
	int family;
	int listen_port, client_port, client2_port;
	int refused_port;
	int err;
};

static struct shared *shared_new(void)
{
	struct shared *s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
				-1, 0);

	cr_assert_neq(s, MAP_FAILED);
	memset(s, 0, sizeof(*s));
	return s;
}

/* The loopback address of res->family, with port. */
static socklen_t loopback(int family, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return sizeof(*sin);
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons((uint16_t)port);
	sin6->sin6_addr = in6addr_loopback;
	return sizeof(*sin6);
}

static int local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static int do_tcp(void *arg)
{
	struct shared *res = arg;
	struct sockaddr_storage ss;
	socklen_t len;
	int ls, c1, c2, s1, s2, dead;

	ls = socket(res->family, SOCK_STREAM, 0);
	len = loopback(res->family, 0, &ss);
	if (ls < 0 || bind(ls, (struct sockaddr *)&ss, len) < 0)
		return 1;
	if (listen(ls, 7) < 0)
		return 2;
	res->listen_port = local_port(ls);
	len = loopback(res->family, res->listen_port, &ss);
	c1 = socket(res->family, SOCK_STREAM, 0);
	c2 = socket(res->family, SOCK_STREAM, 0);
	/* The kernel completes the handshake: no second process needed. */
	if (c1 < 0 || c2 < 0 || connect(c1, (struct sockaddr *)&ss, len) < 0 ||
	    connect(c2, (struct sockaddr *)&ss, len) < 0)
		return 3;
	res->client_port = local_port(c1);
	res->client2_port = local_port(c2);
	s1 = (int)syscall(SYS_accept, ls, NULL, NULL);
	s2 = (int)syscall(SYS_accept4, ls, NULL, NULL, SOCK_CLOEXEC);
	if (s1 < 0 || s2 < 0)
		return 4;
	/* A port nobody listens on: the closed listener's, taken and freed. */
	dead = socket(res->family, SOCK_STREAM, 0);
	len = loopback(res->family, 0, &ss);
	if (dead < 0 || bind(dead, (struct sockaddr *)&ss, len) < 0)
		return 5;
	res->refused_port = local_port(dead);
	close(dead);
	dead = socket(res->family, SOCK_STREAM, 0);
	len = loopback(res->family, res->refused_port, &ss);
	if (connect(dead, (struct sockaddr *)&ss, len) == 0)
		return 6;
	res->err = errno;
	return 0;
}

static void check_tcp(int family, const char *fam_name, const char *ip)
{
	struct shared *res = shared_new();
	pid_t child;
	cJSON *ev;

	res->family = family;
	child = run_child(do_tcp, res);

	ev = expect_match(&(struct want){ .name = "bind", .pid = child, .key = "bind.addr.family",
					  .value = fam_name, .num_key = "bind.addr.port", .num = 0 });
	expect_str(ev, "evt.category", "network");
	expect_str(ev, "bind.syscall.name", "bind");
	expect_str(ev, "bind.addr.ip", ip);
	expect_num(ev, "bind.retval", 0);
	cJSON_Delete(ev);

	ev = expect_syscall("listen", child, "listen");
	expect_str(ev, "listen.addr.family", fam_name);
	expect_str(ev, "listen.addr.ip", ip);
	expect_num(ev, "listen.addr.port", res->listen_port);
	expect_num(ev, "listen.backlog", 7);
	expect_num(ev, "listen.retval", 0);
	cJSON_Delete(ev);

	ev = expect_match(&(struct want){ .name = "connect", .pid = child,
					  .num_key = "connect.addr.port", .num = res->listen_port });
	expect_str(ev, "connect.syscall.name", "connect");
	expect_str(ev, "connect.addr.family", fam_name);
	expect_str(ev, "connect.addr.ip", ip);
	expect_num(ev, "connect.retval", 0);
	cJSON_Delete(ev);

	/* accept: the peer is the connecting socket. */
	ev = expect_syscall("accept", child, "accept");
	expect_str(ev, "accept.addr.family", fam_name);
	expect_str(ev, "accept.addr.ip", ip);
	expect_num(ev, "accept.addr.port", res->client_port);
	cr_expect_geq(num_at(ev, "accept.retval"), 0);
	cJSON_Delete(ev);

	ev = expect_syscall("accept", child, "accept4");
	expect_str(ev, "accept.addr.ip", ip);
	expect_num(ev, "accept.addr.port", res->client2_port);
	cJSON_Delete(ev);

	cr_assert_eq(res->err, ECONNREFUSED, "the refused connect failed with %s", strerror(res->err));
	ev = expect_match(&(struct want){ .name = "connect", .pid = child,
					  .num_key = "connect.addr.port", .num = res->refused_port });
	expect_num(ev, "connect.retval", -ECONNREFUSED);
	expect_str(ev, "evt.outcome", "failure");
	expect_str(ev, "connect.addr.ip", ip);
	cJSON_Delete(ev);
	munmap(res, sizeof(*res));
}

Test(net, tcp_over_ipv4_loopback)
{
	check_tcp(AF_INET, "AF_INET", "127.0.0.1");
}

Test(net, tcp_over_ipv6_loopback)
{
	int probe = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_storage ss;
	socklen_t len = loopback(AF_INET6, 0, &ss);

	if (probe < 0 || bind(probe, (struct sockaddr *)&ss, len) < 0) {
		if (probe >= 0)
			close(probe);
		cr_skip_test("no IPv6 loopback here");
	}
	close(probe);
	check_tcp(AF_INET6, "AF_INET6", "::1");
}

/* ---- unix sockets ------------------------------------------------------------- */

struct unix_args {
	char name[100];   /* a path, or an abstract name without its NUL */
	bool abstract;
	bool dirty;       /* fill sun_path past the name with junk */
};

static socklen_t unix_addr(const struct unix_args *a, struct sockaddr_un *sun)
{
	size_t n = strlen(a->name);

	memset(sun, a->dirty ? 'X' : 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (!a->abstract) {
		memcpy(sun->sun_path, a->name, n + 1);
		return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	}
	/* An abstract name is exactly addrlen long: no NUL ends it. */
	sun->sun_path[0] = '\0';
	memcpy(sun->sun_path + 1, a->name, n);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

static int do_unix(void *arg)
{
	const struct unix_args *a = arg;
	struct sockaddr_un sun;
	socklen_t len = unix_addr(a, &sun);
	int ls = socket(AF_UNIX, SOCK_STREAM, 0), c = socket(AF_UNIX, SOCK_STREAM, 0);

	if (ls < 0 || c < 0)
		return 1;
	if (bind(ls, (struct sockaddr *)&sun, len) < 0)
		return 2;
	if (listen(ls, 3) < 0)
		return 3;
	if (connect(c, (struct sockaddr *)&sun, len) < 0)
		return 4;
	if (accept(ls, NULL, NULL) < 0)
		return 5;
	return 0;
}

static void check_unix(const struct unix_args *a, const char *want)
{
	pid_t child = run_child(do_unix, (void *)a);
	cJSON *ev;

	ev = expect_syscall("bind", child, "bind");
	expect_str(ev, "bind.addr.family", "AF_UNIX");
	expect_str(ev, "bind.addr.path", want);
	expect_num(ev, "bind.retval", 0);
	cJSON_Delete(ev);

	ev = expect_syscall("connect", child, "connect");
	expect_str(ev, "connect.addr.family", "AF_UNIX");
	expect_str(ev, "connect.addr.path", want);
	expect_num(ev, "connect.retval", 0);
	cJSON_Delete(ev);

	ev = expect_syscall("listen", child, "listen");
	expect_str(ev, "listen.addr.family", "AF_UNIX");
	expect_num(ev, "listen.backlog", 3);
	cJSON_Delete(ev);

	ev = expect_event("accept", child, NULL, NULL);
	expect_str(ev, "accept.addr.family", "AF_UNIX");
	cr_expect_geq(num_at(ev, "accept.retval"), 0);
	cJSON_Delete(ev);
}

Test(net, unix_socket_path)
{
	struct unix_args a = { 0 };
	char p[PATH_MAX];

	join(p, "sock");
	cr_assert_lt(strlen(p), sizeof(a.name));
	memcpy(a.name, p, strlen(p) + 1);
	check_unix(&a, a.name);
}

Test(net, abstract_unix_socket_shows_an_at_sign)
{
	struct unix_args a = { .abstract = true };
	char want[128];

	snprintf(a.name, sizeof(a.name), "vigil-abstract-%d", getpid());
	snprintf(want, sizeof(want), "@%s", a.name);
	check_unix(&a, want);
}

/* The name is addrlen bytes long; what follows in the caller's buffer is
 * not part of it (Go and others do not zero it). */
Test(net, abstract_unix_name_ends_at_addrlen)
{
	struct unix_args a = { .abstract = true, .dirty = true };
	char want[128];

	snprintf(a.name, sizeof(a.name), "vigil-dirty-%d", getpid());
	snprintf(want, sizeof(want), "@%s", a.name);
	check_unix(&a, want);
}

/* ---- --types ---------------------------------------------------------------------- */

static int do_mixed_activity(void *arg)
{
	const struct shared *res = arg;
	struct sockaddr_storage ss;
	socklen_t len;
	char p[PATH_MAX];
	int fd, s;

	join(p, "opened");
	fd = open(p, O_CREAT | O_WRONLY, 0644);
	if (fd < 0)
		return 1;
	close(fd);
	join(p, "dir");
	if (mkdir(p, 0755) < 0 || rmdir(p) < 0)
		return 2;
	s = socket(AF_INET, SOCK_STREAM, 0);
	len = loopback(AF_INET, 0, &ss);
	if (s < 0 || bind(s, (struct sockaddr *)&ss, len) < 0)
		return 3;
	len = loopback(AF_INET, res->listen_port, &ss);
	if (connect(s, (struct sockaddr *)&ss, len) < 0)
		return 4;
	join(p, "opened");
	if (unlink(p) < 0)
		return 5;
	return 0;
}

Test(types, open_connect_prints_exactly_those, .init = setup_open_connect, .fini = teardown,
     .timeout = 30)
{
	struct shared *res = shared_new();
	struct sockaddr_storage ss;
	socklen_t len = loopback(AF_INET, 0, &ss);
	unsigned opens = 0, connects = 0, lines = 0;
	char p[PATH_MAX];
	pid_t child;
	cJSON *ev;
	int ls = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_geq(ls, 0);
	cr_assert_eq(bind(ls, (struct sockaddr *)&ss, len), 0);
	cr_assert_eq(listen(ls, 4), 0);
	res->listen_port = local_port(ls);
	child = run_child(do_mixed_activity, res);
	/* Also an exec, a fork and an exit, which the sensor always tracks. */
	cr_assert_eq(system("/bin/true"), 0);

	ev = expect_match(&(struct want){ .name = "connect", .pid = child,
					  .num_key = "connect.addr.port", .num = res->listen_port });
	cJSON_Delete(ev);
	close(ls);
	munmap(res, sizeof(*res));
	cr_assert_eq(sensor_stop(&sensor), 0, "stderr:\n%s", sensor.errbuf);

	join(p, "opened");
	for (char *line = sensor.buf; line && *line;) {
		char *nl = strchr(line, '\n');
		cJSON *obj;
		const char *name;

		if (!nl)
			break;
		obj = cJSON_ParseWithLength(line, (size_t)(nl - line));
		line = nl + 1;
		cr_assert(obj, "a line that is not JSON");
		lines++;
		name = str_at(obj, "evt.name");
		cr_expect(name && (strcmp(name, "open") == 0 || strcmp(name, "connect") == 0),
			  "--types open,connect printed a \"%s\" event", name ? name : "(none)");
		if (match_want(obj, &(struct want){ .name = "open", .pid = child,
						    .key = "open.file.path", .value = p }))
			opens++;
		if (match_want(obj, &(struct want){ .name = "connect", .pid = child }))
			connects++;
		cJSON_Delete(obj);
	}
	cr_expect_gt(lines, 0);
	cr_expect_eq(opens, 1, "the child's open of %s", p);
	cr_expect_eq(connects, 1, "the child's connect");
}
