/* noop_loader.c - load and attach bpf/noop.bpf.c, then wait to be killed.
 *
 * Prints "ready <programs>" on stdout once everything is attached, so that
 * hack/bench.sh can start measuring; on SIGTERM or SIGINT it detaches and
 * unloads everything before exiting. Built against the skeleton that
 * `bpftool gen skeleton` makes from noop.bpf.o. */
#include "noop.skel.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <bpf/libbpf.h>

/* libbpf is chatty at info level; the benchmark wants only problems. */
static int print_warnings(enum libbpf_print_level level, const char *fmt,
			  va_list ap)
{
	if (level != LIBBPF_WARN)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

int main(void)
{
	struct noop_bpf *skel;
	struct bpf_program *prog;
	sigset_t stop;
	int sig, err, count = 0;

	libbpf_set_print(print_warnings);
	/* Block the stop signals first: one arriving between attach and
	 * sigwait must not kill us before the programs are detached. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigprocmask(SIG_BLOCK, &stop, NULL);

	skel = noop_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "noop_loader: load failed: %s\n", strerror(errno));
		return 1;
	}
	err = noop_bpf__attach(skel);
	if (err) {
		fprintf(stderr, "noop_loader: attach failed: %s\n", strerror(-err));
		noop_bpf__destroy(skel);
		return 1;
	}
	bpf_object__for_each_program(prog, skel->obj)
		count++;
	printf("ready %d\n", count);
	fflush(stdout);

	if (sigwait(&stop, &sig) != 0)
		sig = 0;
	noop_bpf__destroy(skel);
	fprintf(stderr, "noop_loader: detached on signal %d\n", sig);
	return 0;
}
