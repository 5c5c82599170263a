/* proc_cache.c - see proc_cache.h.
 *
 * Layout: entries live in one array of slots (grown by doubling up to
 * max_entries) and refer to each other by 32-bit index, which keeps links
 * small and lets the array move when it grows. A fixed power-of-two bucket
 * table chains entries with the same pid hash. Every used slot is on exactly
 * one of two lists:
 *   live    - running processes, oldest insert/update first (eviction order)
 *   exited  - exited processes, sorted by exit time (expiry order)
 * Free slots are chained through `next`. Each entry's path and args share a
 * single heap block. */
#include "proc_cache.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define NIL UINT32_MAX

/* pid_max cannot exceed 2^22 (PID_MAX_LIMIT), so a bigger cache is a
 * configuration mistake, not a need. */
#define PROC_CACHE_LIMIT (1u << 22)

enum entry_state { ENTRY_FREE, ENTRY_LIVE, ENTRY_EXITED };

struct cache_entry {
	struct process proc; /* path/args point into strings */
	char *strings;       /* path, NUL, then the args block */
	uint32_t strings_size;
	uint32_t hash_next;
	uint32_t prev, next; /* live or exited list; free list uses next */
	uint8_t state;
};

struct entry_list {
	uint32_t head, tail;
};

struct proc_cache {
	struct cache_entry *slots;
	uint32_t nslots; /* allocated, <= max_entries */
	uint32_t max_entries;
	uint32_t count;
	uint32_t free_head;
	uint32_t *buckets;
	uint32_t bucket_bits;
	struct entry_list live, exited;
	uint64_t retention_ns;
	uint64_t hits, misses, inserts;
	uint64_t evictions_expired, evictions_full, evictions_full_live;
	uint64_t string_bytes;
};

static uint32_t bucket_of(const struct proc_cache *c, uint32_t pid)
{
	/* Fibonacci hashing: pids are dense and sequential; the multiply
	 * spreads them over the high bits. */
	return (uint32_t)(pid * 2654435761u) >> (32 - c->bucket_bits);
}

struct proc_cache *proc_cache_new(size_t max_entries, uint64_t exit_retention_ns)
{
	struct proc_cache *c;
	uint32_t bits = 4;

	if (max_entries == 0 || max_entries > PROC_CACHE_LIMIT) {
		log_error("proc_cache: max_entries %zu out of range (1..%u)",
			  max_entries, PROC_CACHE_LIMIT);
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		goto oom;
	while ((1u << bits) < max_entries)
		bits++;
	c->bucket_bits = bits;
	c->buckets = malloc(sizeof(uint32_t) << bits);
	if (!c->buckets)
		goto oom;
	for (uint32_t i = 0; i < (1u << bits); i++)
		c->buckets[i] = NIL;
	c->max_entries = (uint32_t)max_entries;
	c->retention_ns = exit_retention_ns;
	c->free_head = NIL;
	c->live.head = c->live.tail = NIL;
	c->exited.head = c->exited.tail = NIL;
	return c;
oom:
	log_error("proc_cache: out of memory");
	if (c)
		free(c->buckets);
	free(c);
	return NULL;
}

void proc_cache_free(struct proc_cache *c)
{
	if (!c)
		return;
	for (uint32_t i = 0; i < c->nslots; i++)
		free(c->slots[i].strings);
	free(c->slots);
	free(c->buckets);
	free(c);
}

static uint32_t find_index(const struct proc_cache *c, uint32_t pid)
{
	uint32_t i = c->buckets[bucket_of(c, pid)];

	while (i != NIL && c->slots[i].proc.pid != pid)
		i = c->slots[i].hash_next;
	return i;
}

static void hash_add(struct proc_cache *c, uint32_t idx)
{
	uint32_t b = bucket_of(c, c->slots[idx].proc.pid);

	c->slots[idx].hash_next = c->buckets[b];
	c->buckets[b] = idx;
}

static void hash_remove(struct proc_cache *c, uint32_t idx)
{
	uint32_t *link = &c->buckets[bucket_of(c, c->slots[idx].proc.pid)];

	while (*link != NIL && *link != idx)
		link = &c->slots[*link].hash_next;
	if (*link == idx)
		*link = c->slots[idx].hash_next;
}

static struct entry_list *list_of(struct proc_cache *c, uint32_t idx)
{
	return c->slots[idx].state == ENTRY_EXITED ? &c->exited : &c->live;
}

static void list_unlink(struct proc_cache *c, uint32_t idx)
{
	struct entry_list *l = list_of(c, idx);
	struct cache_entry *e = &c->slots[idx];

	if (e->prev != NIL)
		c->slots[e->prev].next = e->next;
	else
		l->head = e->next;
	if (e->next != NIL)
		c->slots[e->next].prev = e->prev;
	else
		l->tail = e->prev;
	e->prev = e->next = NIL;
}

/* Links idx after `after` (NIL = at the head). */
static void list_link_after(struct entry_list *l, struct cache_entry *slots,
			    uint32_t after, uint32_t idx)
{
	struct cache_entry *e = &slots[idx];

	e->prev = after;
	e->next = after == NIL ? l->head : slots[after].next;
	if (e->next != NIL)
		slots[e->next].prev = idx;
	else
		l->tail = idx;
	if (after != NIL)
		slots[after].next = idx;
	else
		l->head = idx;
}

/* Puts a detached entry on the list its exit_ns calls for. */
static void list_place(struct proc_cache *c, uint32_t idx)
{
	struct cache_entry *e = &c->slots[idx];
	uint32_t after;

	if (e->proc.exit_ns == 0) {
		e->state = ENTRY_LIVE;
		list_link_after(&c->live, c->slots, c->live.tail, idx);
		return;
	}
	/* Exits arrive nearly in order, so the scan from the tail is short. */
	e->state = ENTRY_EXITED;
	after = c->exited.tail;
	while (after != NIL && c->slots[after].proc.exit_ns > e->proc.exit_ns)
		after = c->slots[after].prev;
	list_link_after(&c->exited, c->slots, after, idx);
}

static void release_slot(struct proc_cache *c, uint32_t idx)
{
	struct cache_entry *e = &c->slots[idx];

	hash_remove(c, idx);
	list_unlink(c, idx);
	free(e->strings);
	c->string_bytes -= e->strings_size;
	memset(e, 0, sizeof(*e));
	e->state = ENTRY_FREE;
	e->prev = e->hash_next = NIL;
	e->next = c->free_head;
	c->free_head = idx;
	c->count--;
}

/* Makes room for one more entry: the first exited, else the oldest live. */
static void evict_one(struct proc_cache *c)
{
	if (c->exited.head != NIL) {
		release_slot(c, c->exited.head);
	} else if (c->live.head != NIL) {
		log_debug("proc_cache: full, evicting live pid %u",
			  c->slots[c->live.head].proc.pid);
		release_slot(c, c->live.head);
		c->evictions_full_live++;
	} else {
		return;
	}
	c->evictions_full++;
}

static int grow(struct proc_cache *c)
{
	uint32_t n = c->nslots ? c->nslots * 2 : 64;
	struct cache_entry *slots;

	if (n > c->max_entries)
		n = c->max_entries;
	slots = realloc(c->slots, (size_t)n * sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	/* Push the new slots so the lowest index is handed out first. */
	for (uint32_t i = n; i-- > c->nslots;) {
		memset(&slots[i], 0, sizeof(slots[i]));
		slots[i].state = ENTRY_FREE;
		slots[i].prev = slots[i].hash_next = NIL;
		slots[i].next = c->free_head;
		c->free_head = i;
	}
	c->slots = slots;
	c->nslots = n;
	return 0;
}

/* A free slot, evicting or growing as needed. Moves c->slots. */
static uint32_t take_slot(struct proc_cache *c)
{
	uint32_t idx;

	if (c->free_head == NIL) {
		if (c->nslots < c->max_entries) {
			if (grow(c) < 0) {
				log_error("proc_cache: out of memory growing to %u slots",
					  c->nslots * 2);
				return NIL;
			}
		} else {
			evict_one(c);
		}
	}
	idx = c->free_head;
	if (idx != NIL)
		c->free_head = c->slots[idx].next;
	return idx;
}

/* Copies path and args of v into one new block, bounded, and points v at
 * it. The argv block always ends up NUL-terminated and argc is recounted,
 * so malformed input cannot make readers run off the end. */
static int copy_strings(struct process *v, char **block, uint32_t *block_size)
{
	size_t path_len = 0, path_size = 0, args_in = 0, args_size = 0, size;
	bool add_nul = false;
	char *buf;

	*block = NULL;
	*block_size = 0;
	if (v->path) {
		path_len = strnlen(v->path, PROC_CACHE_MAX_PATH);
		if (path_len == PROC_CACHE_MAX_PATH) {
			path_len = PROC_CACHE_MAX_PATH - 1;
			v->path_truncated = true;
		}
		path_size = path_len + 1;
	}
	if (v->args && v->args_len > 0) {
		args_in = v->args_len;
		if (args_in > PROC_CACHE_MAX_ARGS) {
			args_in = PROC_CACHE_MAX_ARGS;
			v->args_truncated = true;
		}
		add_nul = v->args[args_in - 1] != '\0';
		args_size = args_in + add_nul;
		if (args_size > PROC_CACHE_MAX_ARGS) {
			/* Cut mid-string: keep the bound, end on a NUL. */
			args_size = PROC_CACHE_MAX_ARGS;
			args_in = PROC_CACHE_MAX_ARGS - 1;
		}
	}
	size = path_size + args_size;
	if (size == 0) {
		v->path = NULL;
		v->args = NULL;
		v->args_len = v->argc = 0;
		return 0;
	}
	buf = malloc(size);
	if (!buf)
		return -ENOMEM;
	if (v->path) {
		memcpy(buf, v->path, path_len);
		buf[path_len] = '\0';
		v->path = buf;
	}
	if (args_size) {
		char *a = buf + path_size;

		memcpy(a, v->args, args_in);
		a[args_size - 1] = '\0';
		v->args = a;
		v->args_len = (uint32_t)args_size;
		v->argc = 0;
		for (size_t i = 0; i < args_size; i++)
			v->argc += a[i] == '\0';
	} else {
		v->args = NULL;
		v->args_len = v->argc = 0;
	}
	*block = buf;
	*block_size = (uint32_t)size;
	return 0;
}

/* Stores v (whose strings are already in block) at idx, or in a new slot
 * when idx is NIL. Takes ownership of block. */
static const struct process *store(struct proc_cache *c, uint32_t idx,
				   const struct process *v, char *block,
				   uint32_t block_size)
{
	struct cache_entry *e;

	if (idx == NIL) {
		idx = take_slot(c);
		if (idx == NIL) {
			free(block);
			return NULL;
		}
		c->slots[idx].proc.pid = v->pid;
		hash_add(c, idx);
		c->count++;
	} else {
		list_unlink(c, idx);
		free(c->slots[idx].strings);
		c->string_bytes -= c->slots[idx].strings_size;
	}
	e = &c->slots[idx];
	e->proc = *v;
	e->strings = block;
	e->strings_size = block_size;
	c->string_bytes += block_size;
	list_place(c, idx);
	return &e->proc;
}

/* Parent lookup without touching the hit/miss counters. */
static const struct process *find_parent(const struct proc_cache *c, const struct process *p)
{
	const struct process *parent;
	uint32_t idx;

	if (p->ppid == 0 || p->ppid == p->pid)
		return NULL;
	idx = find_index(c, p->ppid);
	if (idx == NIL)
		return NULL;
	parent = &c->slots[idx].proc;
	if (!process_same_start(parent->start_ns, p->parent_start_ns))
		return NULL;
	/* A parent cannot be younger than its child; if it looks so, the
	 * data is corrupt and following it could close a cycle. */
	if (p->start_ns && parent->start_ns > p->start_ns &&
	    !process_same_start(parent->start_ns, p->start_ns))
		return NULL;
	return parent;
}

const struct process *proc_cache_insert(struct proc_cache *c, const struct process *p)
{
	const struct process *parent, *ret;
	struct process v;
	uint32_t idx, block_size;
	char *block;

	if (!c || !p)
		return NULL;
	if (p->pid == 0) {
		log_warn("proc_cache: refusing to insert pid 0");
		return NULL;
	}
	idx = find_index(c, p->pid);
	if (p->is_thread && idx != NIL)
		return &c->slots[idx].proc;

	v = *p;
	if (!v.path || !v.args || !v.comm[0]) {
		parent = find_parent(c, &v);
		if (parent && !v.path) {
			v.path = parent->path;
			v.path_truncated = parent->path_truncated;
			v.inode = parent->inode;
			v.mount_id = parent->mount_id;
		}
		if (parent && !v.args) {
			v.args = parent->args;
			v.args_len = parent->args_len;
			v.argc = parent->argc;
			v.args_truncated = parent->args_truncated;
		}
		if (parent && !v.comm[0])
			memcpy(v.comm, parent->comm, sizeof(v.comm));
	}
	v.comm[PROCESS_COMM_LEN - 1] = '\0';
	/* Copy before store(): it may evict or move the parent's entry. */
	if (copy_strings(&v, &block, &block_size) < 0) {
		log_error("proc_cache: out of memory inserting pid %u", v.pid);
		return NULL;
	}
	ret = store(c, idx, &v, block, block_size);
	if (ret)
		c->inserts++;
	return ret;
}

const struct process *proc_cache_exec(struct proc_cache *c, const struct process *p)
{
	const struct process *old = NULL, *ret;
	struct process v;
	uint32_t idx, block_size;
	bool same = false;
	char *block;

	if (!c || !p)
		return NULL;
	if (p->pid == 0) {
		log_warn("proc_cache: refusing exec for pid 0");
		return NULL;
	}
	idx = find_index(c, p->pid);
	if (idx != NIL) {
		old = &c->slots[idx].proc;
		same = p->start_ns == 0 || process_same_start(old->start_ns, p->start_ns);
	}
	v = *p;
	v.is_thread = false; /* exec makes the caller the group leader */
	if (same) {
		v.start_ns = old->start_ns;
		v.ppid = old->ppid;
		v.parent_start_ns = old->parent_start_ns;
		if (!v.cgroup_id)
			v.cgroup_id = old->cgroup_id;
		if (!v.mntns)
			v.mntns = old->mntns;
		if (!v.netns)
			v.netns = old->netns;
		if (!v.pidns)
			v.pidns = old->pidns;
		if (!v.tty_nr)
			v.tty_nr = old->tty_nr;
		if (!v.comm[0])
			memcpy(v.comm, old->comm, sizeof(v.comm));
		/* A late exec must not revive an exited process. */
		if (!v.exit_ns)
			v.exit_ns = old->exit_ns;
	}
	v.comm[PROCESS_COMM_LEN - 1] = '\0';
	if (copy_strings(&v, &block, &block_size) < 0) {
		log_error("proc_cache: out of memory on exec of pid %u", v.pid);
		return NULL;
	}
	ret = store(c, idx, &v, block, block_size);
	if (ret && !same)
		c->inserts++;
	return ret;
}

void proc_cache_exit(struct proc_cache *c, uint32_t pid, uint64_t start_ns, uint64_t exit_ns)
{
	struct cache_entry *e;
	uint32_t idx;

	if (!c)
		return;
	idx = find_index(c, pid);
	if (idx == NIL)
		return;
	e = &c->slots[idx];
	if (start_ns && !process_same_start(e->proc.start_ns, start_ns)) {
		log_debug("proc_cache: exit of pid %u ignored, start time differs", pid);
		return;
	}
	if (e->state == ENTRY_EXITED)
		return; /* keep the first exit time */
	list_unlink(c, idx);
	/* 0 means running; an exit without a time still has to expire. */
	e->proc.exit_ns = exit_ns ? exit_ns : 1;
	list_place(c, idx);
}

void proc_cache_expire(struct proc_cache *c, uint64_t now_ns)
{
	if (!c)
		return;
	while (c->exited.head != NIL) {
		uint64_t exit_ns = c->slots[c->exited.head].proc.exit_ns;

		if (now_ns < exit_ns || now_ns - exit_ns < c->retention_ns)
			break;
		release_slot(c, c->exited.head);
		c->evictions_expired++;
	}
}

const struct process *proc_cache_lookup(struct proc_cache *c, uint32_t pid)
{
	uint32_t idx;

	if (!c)
		return NULL;
	idx = find_index(c, pid);
	if (idx == NIL) {
		c->misses++;
		return NULL;
	}
	c->hits++;
	return &c->slots[idx].proc;
}

const struct process *proc_cache_parent(struct proc_cache *c, const struct process *p)
{
	const struct process *parent;

	if (!c || !p || p->ppid == 0)
		return NULL;
	parent = find_parent(c, p);
	if (parent)
		c->hits++;
	else
		c->misses++;
	return parent;
}

size_t proc_cache_ancestors(struct proc_cache *c, const struct process *p,
			    const struct process **out, size_t max)
{
	const struct process *cur = p;
	size_t n = 0;

	if (!c || !p || !out)
		return 0;
	if (max > PROC_CACHE_MAX_DEPTH)
		max = PROC_CACHE_MAX_DEPTH;
	while (n < max) {
		const struct process *parent = proc_cache_parent(c, cur);
		bool seen = parent == p;

		if (!parent)
			break;
		for (size_t i = 0; i < n && !seen; i++)
			seen = out[i] == parent;
		if (seen) {
			log_warn("proc_cache: ancestry cycle at pid %u", parent->pid);
			break;
		}
		out[n++] = parent;
		cur = parent;
	}
	return n;
}

void proc_cache_get_stats(const struct proc_cache *c, struct proc_cache_stats *out)
{
	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	if (!c)
		return;
	out->entries = c->count;
	out->max_entries = c->max_entries;
	out->hits = c->hits;
	out->misses = c->misses;
	out->inserts = c->inserts;
	out->evictions_expired = c->evictions_expired;
	out->evictions_full = c->evictions_full;
	out->evictions_full_live = c->evictions_full_live;
	out->bytes = sizeof(*c) + ((uint64_t)sizeof(uint32_t) << c->bucket_bits) +
		     (uint64_t)c->nslots * sizeof(struct cache_entry) + c->string_bytes;
}

void proc_cache_walk(struct proc_cache *c, void (*fn)(const struct process *p, void *ctx), void *ctx)
{
	if (!c || !fn)
		return;
	for (uint32_t i = 0; i < c->nslots; i++)
		if (c->slots[i].state != ENTRY_FREE)
			fn(&c->slots[i].proc, ctx);
}
