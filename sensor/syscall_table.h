/* syscall_table.h - which syscalls Vigil traces and how to read them.
 *
 * For each traced syscall: the event type it produces, what the kernel side
 * must capture (struct vigil_syscall_spec: which arguments are paths, fds,
 * strings, addresses), and where the decoder finds the event's named fields
 * (flags, mode, uid, ...) among the raw arguments. Numbers are x86_64's. */
#ifndef VIGIL_SYSCALL_TABLE_H
#define VIGIL_SYSCALL_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../bpf/vigil_abi.h"

/* Argument indexes (0-5) of an event's named fields; -1 when absent. */
struct syscall_fields {
	int8_t flags, mode, uid, gid, pid, op;
};

struct syscall_info {
	uint32_t nr;
	const char *name;
	uint8_t event_type; /* enum vigil_event_type */
	struct vigil_syscall_spec spec;
	struct syscall_fields fields;
	uint64_t implied_flags; /* creat() is open(O_CREAT|O_WRONLY|O_TRUNC) */
};

/* The entry for nr, or NULL if Vigil does not trace it. */
const struct syscall_info *syscall_lookup(uint32_t nr);
/* Syscalls that can change which path leads to an inode (renames, links,
 * unlinks, mounts): they invalidate the kernel's discarders. */
const uint32_t *syscall_path_changers(size_t *n);
/* Visits every traced syscall. */
void syscall_table_walk(void (*fn)(const struct syscall_info *info, void *ctx), void *ctx);

#endif
