/* build_mix.c - workload: a "busy node", compiling a small C project.
 *
 * Writes a few generated .c files into a temporary directory and compiles
 * each with `$CC -O1 -c` per iteration. A compiler is a realistic mix for a
 * node: many execs (driver, cc1, as), thousands of opens of headers, file
 * writes and a lot of plain computation that a sensor should not slow. */
#include "bench_common.h"

#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SOURCE_FILES 6
#define FUNCTIONS_PER_FILE 40

extern char **environ;

static int write_source(const char *dir, int index)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/unit%d.c", dir, index);
	f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "build_mix: %s: %s\n", path, strerror(errno));
		return -1;
	}
	fprintf(f, "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n\n");
	fprintf(f, "struct item%d { int key; double weight; char name[32]; };\n\n",
		index);
	for (int i = 0; i < FUNCTIONS_PER_FILE; i++) {
		fprintf(f,
			"double unit%d_fn%d(struct item%d *items, int n)\n"
			"{\n"
			"\tdouble sum = 0;\n"
			"\tfor (int i = 0; i < n; i++) {\n"
			"\t\tif (strlen(items[i].name) > %d)\n"
			"\t\t\tsum += items[i].weight * %d;\n"
			"\t\telse\n"
			"\t\t\tsum -= items[i].key / (double)(i + %d);\n"
			"\t}\n"
			"\treturn sum;\n"
			"}\n\n",
			index, i, index, i % 7, i + 1, i + 2);
	}
	fclose(f);
	return 0;
}

static int compile(const char *cc, const char *dir, int index)
{
	char src[256], obj[256];
	char *args[] = { (char *)cc, "-O1", "-c", src, "-o", obj, NULL };
	pid_t pid;
	int status, err;

	snprintf(src, sizeof(src), "%s/unit%d.c", dir, index);
	snprintf(obj, sizeof(obj), "%s/unit%d.o", dir, index);
	err = posix_spawnp(&pid, cc, NULL, NULL, args, environ);
	if (err) {
		fprintf(stderr, "build_mix: cannot run %s: %s\n", cc, strerror(err));
		return -1;
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "build_mix: %s failed on %s\n", cc, src);
		return -1;
	}
	return 0;
}

static int build_all(const char *cc, const char *dir)
{
	for (int i = 0; i < SOURCE_FILES; i++)
		if (compile(cc, dir, i) < 0)
			return -1;
	return 0;
}

static void remove_tree(const char *dir)
{
	char path[256];

	for (int i = 0; i < SOURCE_FILES; i++) {
		snprintf(path, sizeof(path), "%s/unit%d.c", dir, i);
		unlink(path);
		snprintf(path, sizeof(path), "%s/unit%d.o", dir, i);
		unlink(path);
	}
	rmdir(dir);
}

int main(int argc, char **argv)
{
	long n = bench_iterations(argc, argv, 3, "[iterations]");
	const char *cc = getenv("CC") ? getenv("CC") : "gcc";
	char dir[] = "/tmp/vigil-bench-build-XXXXXX";
	struct bench_clock start;
	int ret = 1;

	if (!mkdtemp(dir)) {
		fprintf(stderr, "build_mix: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	for (int i = 0; i < SOURCE_FILES; i++)
		if (write_source(dir, i) < 0)
			goto out;
	/* One untimed build fills the page cache with the compiler. */
	if (build_all(cc, dir) < 0)
		goto out;
	start = bench_start();
	for (long i = 0; i < n; i++)
		if (build_all(cc, dir) < 0)
			goto out;
	bench_report("build", n, start);
	ret = 0;
out:
	remove_tree(dir);
	return ret;
}
