/* open_close.c - workload: open(2) and close(2) a file in a loop.
 *
 * The cheapest syscall pair a sensor hooks (openat); its slowdown is the
 * per-syscall cost of whatever is attached to sys_enter/sys_exit. */
#include "bench_common.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = bench_iterations(argc, argv, 200000, "[iterations] [file]");
	const char *path = argc > 2 ? argv[2] : "/etc/hostname";
	struct bench_clock start;

	/* Warm the dentry cache so the first iterations are not special. */
	for (long i = 0; i < n / 10 + 1; i++) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);

		if (fd < 0) {
			fprintf(stderr, "open_close: %s: %s\n", path, strerror(errno));
			return 1;
		}
		close(fd);
	}
	start = bench_start();
	for (long i = 0; i < n; i++) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);

		if (fd < 0) {
			fprintf(stderr, "open_close: %s: %s\n", path, strerror(errno));
			return 1;
		}
		close(fd);
	}
	bench_report("open_close", n, start);
	return 0;
}
