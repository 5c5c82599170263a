/* bench_common.h - shared bits of the benchmark workloads: argument
 * parsing, clocks and the one-line result every workload prints.
 *
 * Result format (parsed by hack/bench.sh):
 *   <workload> iterations=<n> ns_per_iter=<float> cpu_ns_per_iter=<float>
 *
 * ns_per_iter is wall-clock time. cpu_ns_per_iter is the CPU time (user +
 * system) of the workload and of the children it waited for: BPF programs
 * run in the context of the task that hit the hook, so their cost lands
 * there, while time lost to other work on a busy machine does not. */
#ifndef VIGIL_BENCH_COMMON_H
#define VIGIL_BENCH_COMMON_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t timeval_ns(struct timeval tv)
{
	return (uint64_t)tv.tv_sec * 1000000000ull + (uint64_t)tv.tv_usec * 1000ull;
}

/* CPU time used so far by this process and its reaped children. */
static inline uint64_t bench_cpu_ns(void)
{
	struct rusage self, children;

	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &children);
	return timeval_ns(self.ru_utime) + timeval_ns(self.ru_stime) +
	       timeval_ns(children.ru_utime) + timeval_ns(children.ru_stime);
}

/* Parses argv[1] as a positive iteration count, or exits with a usage
 * message naming the workload. */
static inline long bench_iterations(int argc, char **argv, long fallback,
				    const char *usage)
{
	char *end;
	long n;

	if (argc < 2)
		return fallback;
	errno = 0;
	n = strtol(argv[1], &end, 10);
	if (errno || *end || n <= 0 || n > 100000000L) {
		fprintf(stderr, "usage: %s %s\n", argv[0], usage);
		exit(2);
	}
	return n;
}

struct bench_clock {
	uint64_t wall_ns;
	uint64_t cpu_ns;
};

static inline struct bench_clock bench_start(void)
{
	struct bench_clock c = { bench_now_ns(), bench_cpu_ns() };

	return c;
}

static inline void bench_report(const char *name, long iterations,
				struct bench_clock start)
{
	uint64_t wall = bench_now_ns() - start.wall_ns;
	uint64_t cpu = bench_cpu_ns() - start.cpu_ns;

	printf("%s iterations=%ld ns_per_iter=%.1f cpu_ns_per_iter=%.1f\n",
	       name, iterations, (double)wall / (double)iterations,
	       (double)cpu / (double)iterations);
	fflush(stdout);
}

#endif
