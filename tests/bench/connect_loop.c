/* connect_loop.c - workload: TCP connect/accept/close on loopback.
 *
 * The listener lives in the same process: the kernel completes the
 * handshake from the backlog, so one thread can connect then accept. The
 * client closes with SO_LINGER 0 (a reset) so that thousands of runs leave
 * no TIME_WAIT sockets eating the ephemeral port range. */
#include "bench_common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int connect_once(int listener, const struct sockaddr_in *addr)
{
	const struct linger reset = { .l_onoff = 1, .l_linger = 0 };
	int client, server;

	client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (client < 0) {
		fprintf(stderr, "connect_loop: socket: %s\n", strerror(errno));
		return -1;
	}
	if (connect(client, (const struct sockaddr *)addr, sizeof(*addr)) < 0) {
		fprintf(stderr, "connect_loop: connect: %s\n", strerror(errno));
		close(client);
		return -1;
	}
	server = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
	if (server < 0) {
		fprintf(stderr, "connect_loop: accept: %s\n", strerror(errno));
		close(client);
		return -1;
	}
	setsockopt(client, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
	close(client);
	close(server);
	return 0;
}

int main(int argc, char **argv)
{
	long n = bench_iterations(argc, argv, 5000, "[iterations]");
	struct sockaddr_in addr;
	socklen_t len = sizeof(addr);
	struct bench_clock start;
	int listener;

	listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listener < 0) {
		fprintf(stderr, "connect_loop: socket: %s\n", strerror(errno));
		return 1;
	}
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr.sin_port = 0; /* any free port */
	if (bind(listener, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(listener, 16) < 0 ||
	    getsockname(listener, (struct sockaddr *)&addr, &len) < 0) {
		fprintf(stderr, "connect_loop: listener: %s\n", strerror(errno));
		return 1;
	}
	for (long i = 0; i < n / 10 + 1; i++)
		if (connect_once(listener, &addr) < 0)
			return 1;
	start = bench_start();
	for (long i = 0; i < n; i++)
		if (connect_once(listener, &addr) < 0)
			return 1;
	bench_report("connect", n, start);
	close(listener);
	return 0;
}
