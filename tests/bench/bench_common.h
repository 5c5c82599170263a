/* bench_common.h - shared bits of the benchmark workloads: argument
 * parsing, a monotonic clock and the one-line result every workload prints.
 *
 * Result format (parsed by hack/bench.sh):
 *   <workload> iterations=<n> ns_per_iter=<float>
 */
#ifndef VIGIL_BENCH_COMMON_H
#define VIGIL_BENCH_COMMON_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
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

static inline void bench_report(const char *name, long iterations,
				uint64_t elapsed_ns)
{
	printf("%s iterations=%ld ns_per_iter=%.1f\n", name, iterations,
	       (double)elapsed_ns / (double)iterations);
	fflush(stdout);
}

#endif
