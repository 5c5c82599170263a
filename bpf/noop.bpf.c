/* noop.bpf.c - empty programs on every hook Vigil uses.
 *
 * The benchmark's "limit" configuration: what it costs merely to have a
 * program attached to the process tracepoints and to every syscall entry
 * and exit, before Vigil does any work. Loaded by tests/bench/noop_loader.c.
 * Keep the hook list in step with the sensor's. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tp_btf/sched_process_exec")
int noop_exec(void *ctx)
{
	return 0;
}

SEC("tp_btf/sched_process_fork")
int noop_fork(void *ctx)
{
	return 0;
}

SEC("tp_btf/sched_process_exit")
int noop_exit(void *ctx)
{
	return 0;
}

SEC("tp_btf/sys_enter")
int noop_sys_enter(void *ctx)
{
	return 0;
}

SEC("tp_btf/sys_exit")
int noop_sys_exit(void *ctx)
{
	return 0;
}
