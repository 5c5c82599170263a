/* exec_loop.c - workload: fork, exec /bin/true, wait, in a loop.
 *
 * Exercises every process hook at once (fork, exec, exit) plus the
 * syscalls of a dynamic loader starting up: the path where a sensor
 * builds its process cache. */
#include "bench_common.h"

#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int run_once(const char *prog)
{
	pid_t pid = fork();
	int status;

	if (pid < 0) {
		fprintf(stderr, "exec_loop: fork: %s\n", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		char *const args[] = { (char *)prog, NULL };

		execv(prog, args);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "exec_loop: %s did not exit cleanly\n", prog);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	long n = bench_iterations(argc, argv, 500, "[iterations] [program]");
	const char *prog = argc > 2 ? argv[2] : "/bin/true";
	struct bench_clock start;

	if (run_once(prog) < 0)
		return 1;
	start = bench_start();
	for (long i = 0; i < n; i++)
		if (run_once(prog) < 0)
			return 1;
	bench_report("exec", n, start);
	return 0;
}
