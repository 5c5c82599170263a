/* proc_cache.h - the process cache: pid -> struct process, with ancestry.
 *
 * Every event is enriched with the process that caused it and that
 * process's ancestors, so the cache sits on the hot path: lookups are O(1)
 * and allocate nothing. It is fed by the /proc snapshot at start-up, then by
 * fork, exec and exit events.
 *
 * Memory is bounded: never more than max_entries entries, and each entry's
 * strings are capped (PROC_CACHE_MAX_PATH, PROC_CACHE_MAX_ARGS). When full,
 * the entry that exited first is evicted; if none has exited, the live entry
 * least recently inserted or updated.
 *
 * Not thread safe: the single-threaded pipeline owns the cache. Pointers
 * returned by any function stay valid until the next mutating call (insert,
 * exec, exit, expire, free). */
#ifndef VIGIL_PROC_CACHE_H
#define VIGIL_PROC_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "process.h"

/* Longest path and argv block kept per entry, NUL bytes included. Longer
 * input is cut and flagged path_truncated / args_truncated. */
#define PROC_CACHE_MAX_PATH 4096
#define PROC_CACHE_MAX_ARGS 4096

/* Ancestor walks stop after this many levels, so corrupt data (a parent
 * cycle) cannot loop forever. Far deeper than any real process tree. */
#define PROC_CACHE_MAX_DEPTH 128

struct proc_cache;

/* max_entries must be at least 1. Returns NULL (and logs why) on bad
 * arguments or out of memory. */
struct proc_cache *proc_cache_new(size_t max_entries, uint64_t exit_retention_ns);
void proc_cache_free(struct proc_cache *c);

/* Snapshot or a fork of a process: insert a copy (the cache deep-copies path
 * and args). Replaces any entry with the same pid (pid reuse). A fork child
 * that comes with no path (or no args) inherits the parent's path, inode,
 * mount_id (or args) when the parent (p->ppid with start p->parent_start_ns)
 * is cached; an empty comm is inherited too.
 *
 * A thread (p->is_thread) does not create a process: if its pid is already
 * cached, the existing entry is returned unchanged.
 *
 * Returns the cached entry, or NULL on bad input (pid 0) or out of memory. */
const struct process *proc_cache_insert(struct proc_cache *c, const struct process *p);

/* An exec: update (or create) the entry for p->pid with the new path, args,
 * credentials, comm, exec_ns, inode and mount_id. When the existing entry is
 * the same process (process_same_start, or p->start_ns is 0 = unknown), its
 * start_ns and parent link are kept, as are cgroup, namespaces and tty when
 * p leaves them 0. Otherwise the old entry is replaced as by an insert. */
const struct process *proc_cache_exec(struct proc_cache *c, const struct process *p);

/* The process exited at exit_ns (boot clock). start_ns 0 matches any start.
 * The entry stays visible for exit_retention_ns after exit so late events
 * still resolve; then proc_cache_expire() evicts it. An exit for an unknown
 * process (or a newer process with the same pid) is ignored. */
void proc_cache_exit(struct proc_cache *c, uint32_t pid, uint64_t start_ns, uint64_t exit_ns);

/* Evict every exited entry with exit_ns + exit_retention_ns <= now_ns. */
void proc_cache_expire(struct proc_cache *c, uint64_t now_ns);

/* The entry for pid (live or exited but retained), or NULL. */
const struct process *proc_cache_lookup(struct proc_cache *c, uint32_t pid);

/* The parent entry, only if its start time matches p->parent_start_ns (pid
 * reuse must not fake an ancestor) and it did not start after p. NULL at the
 * root or when unknown. Walk ancestors by calling it repeatedly, at most
 * PROC_CACHE_MAX_DEPTH times, or use proc_cache_ancestors(). */
const struct process *proc_cache_parent(struct proc_cache *c, const struct process *p);

/* Fills out[] with p's parent, grandparent, ... up to max entries (and at
 * most PROC_CACHE_MAX_DEPTH); stops early at the root, at an unknown parent,
 * or when an ancestor repeats (a cycle in corrupt data). Returns how many. */
size_t proc_cache_ancestors(struct proc_cache *c, const struct process *p,
			    const struct process **out, size_t max);

struct proc_cache_stats {
	size_t entries;     /* live + exited-but-retained */
	size_t max_entries;
	uint64_t hits, misses; /* of lookup and parent */
	uint64_t inserts;      /* entries written by insert, or created by exec */
	uint64_t evictions_expired, evictions_full;
	uint64_t evictions_full_live; /* part of evictions_full that hit a live
				       * process: the cache is too small */
	uint64_t bytes;        /* heap held by the cache: table, entries, strings */
};

void proc_cache_get_stats(const struct proc_cache *c, struct proc_cache_stats *out);

/* Visit every entry (for dumps/tests). fn must not modify the cache. */
void proc_cache_walk(struct proc_cache *c, void (*fn)(const struct process *p, void *ctx), void *ctx);

#endif
