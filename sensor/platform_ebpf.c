/* platform_ebpf.c - the probe platform that runs Vigil's BPF programs.
 *
 * One ring buffer carries every record. The kernel side wakes us only when
 * a batch is waiting (see wakeup_flags in bpf/common.bpf.h); the consumer
 * thread also drains on a short timer, which bounds latency when traffic is
 * light. Losses are counted in the kernel per event type and read here. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../bpf/vigil_abi.h"
#include "bpf_env.h"
#include "decode.h"
#include "log.h"
#include "platform.h"
#include "syscall_table.h"
#include "vigil.skel.h"

struct ebpf_platform {
	struct platform_env env;
	struct vigil_bpf *skel;
	struct ring_buffer *rb;
	struct decoder *decoder;
	pthread_t thread;
	bool thread_running;
	atomic_bool stopping;
	_Atomic uint64_t received[EVENT_TYPE_COUNT];
	_Atomic uint64_t batches;
	_Atomic uint64_t discarders_added;
	int ncpus;
	/* The ring's position pages, mapped read-only to report its fill. */
	const volatile unsigned long *consumer_pos, *producer_pos;
	size_t page_size;
};


static void fail(struct ebpf_platform *pf, const char *what, int err)
{
	snprintf(pf->env.err, pf->env.errlen, "%s: %s", what, strerror(err < 0 ? -err : err));
}

static void *ebpf_create(const struct platform_env *env)
{
	struct ebpf_platform *pf = calloc(1, sizeof(*pf));

	if (!pf)
		return NULL;
	pf->env = *env;
	pf->decoder = decoder_new();
	if (!pf->decoder) {
		free(pf);
		return NULL;
	}
	return pf;
}

/* The sensor's event types are the kernel's numbers (event.h). */
static uint64_t kernel_mask(uint64_t event_mask)
{
	return event_mask & EVENT_MASK_ALL;
}

static bool wants_syscalls(uint64_t event_mask)
{
	return (event_mask & ~EVENT_MASK_PROCESS & EVENT_MASK_ALL) != 0;
}

static void write_spec(const struct syscall_info *info, void *ctx)
{
	int fd = *(int *)ctx;
	__u32 key = info->nr;

	if (bpf_map_update_elem(fd, &key, &info->spec, BPF_ANY) != 0)
		log_warn("cannot enable syscall %s: %s", info->name, strerror(errno));
}

static int ebpf_init(void *state)
{
	struct ebpf_platform *pf = state;
	const struct probe_config *cfg = pf->env.cfg;

	bpf_env_prepare(NULL);
	pf->ncpus = libbpf_num_possible_cpus();
	if (pf->ncpus <= 0) {
		fail(pf, "count possible CPUs", pf->ncpus);
		return -1;
	}
	pf->skel = vigil_bpf__open();
	if (!pf->skel) {
		fail(pf, "open BPF object", errno);
		return -1;
	}
	pf->skel->rodata->wakeup_bytes = cfg->wakeup_bytes;
	pf->skel->rodata->emit_threads = cfg->emit_threads;
	pf->skel->rodata->vigil_tgid = (__u32)getpid();
	/* Programs for types nobody asked for are not even loaded. */
	bpf_program__set_autoload(pf->skel->progs.vigil_exec, cfg->event_mask & EVENT_MASK(EVENT_EXEC));
	bpf_program__set_autoload(pf->skel->progs.vigil_fork, cfg->event_mask & EVENT_MASK(EVENT_FORK));
	bpf_program__set_autoload(pf->skel->progs.vigil_exit, cfg->event_mask & EVENT_MASK(EVENT_EXIT));
	bpf_program__set_autoload(pf->skel->progs.vigil_sys_enter, wants_syscalls(cfg->event_mask));
	bpf_program__set_autoload(pf->skel->progs.vigil_sys_exit, wants_syscalls(cfg->event_mask));
	bpf_program__set_autoload(pf->skel->progs.vigil_sys_exit_paths, wants_syscalls(cfg->event_mask));
	bpf_program__set_autoload(pf->skel->progs.vigil_sys_exit_finish, wants_syscalls(cfg->event_mask));
	/* Later stages of sys_exit run by tail call, never attached. */
	bpf_program__set_autoattach(pf->skel->progs.vigil_sys_exit_paths, false);
	bpf_program__set_autoattach(pf->skel->progs.vigil_sys_exit_finish, false);
	return 0;
}

static int handle_record(void *ctx, void *data, size_t len)
{
	struct ebpf_platform *pf = ctx;
	struct event ev;
	enum decode_error err = decoder_decode(pf->decoder, data, len, &ev);

	if (err != DECODE_OK) {
		log_debug("skipped a malformed record (%s, %zu bytes)", decode_error_name(err), len);
		return 0;
	}
	atomic_fetch_add_explicit(&pf->received[ev.type], 1, memory_order_relaxed);
	pf->env.handler->event(&ev, pf->env.handler->ctx);
	return 0;
}

static void map_positions(struct ebpf_platform *pf)
{
	int fd = bpf_map__fd(pf->skel->maps.events);
	void *c, *p;

	pf->page_size = (size_t)sysconf(_SC_PAGESIZE);
	c = mmap(NULL, pf->page_size, PROT_READ, MAP_SHARED, fd, 0);
	p = mmap(NULL, pf->page_size, PROT_READ, MAP_SHARED, fd, (off_t)pf->page_size);
	if (c == MAP_FAILED || p == MAP_FAILED) {
		log_warn("cannot map ring buffer positions; fill ratio will read 0");
		if (c != MAP_FAILED)
			munmap(c, pf->page_size);
		if (p != MAP_FAILED)
			munmap(p, pf->page_size);
		return;
	}
	pf->consumer_pos = c;
	pf->producer_pos = p;
}

static int setup_syscalls(struct ebpf_platform *pf)
{
	int specs = bpf_map__fd(pf->skel->maps.syscall_specs);
	int stages = bpf_map__fd(pf->skel->maps.exit_stages);
	struct bpf_program *progs[] = { pf->skel->progs.vigil_sys_exit_paths,
					pf->skel->progs.vigil_sys_exit_finish };
	const uint32_t *changers;
	size_t n;

	for (__u32 i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		int fd = bpf_program__fd(progs[i]);

		if (bpf_map_update_elem(stages, &i, &fd, BPF_ANY) != 0) {
			fail(pf, "install sys_exit stages", errno);
			return -1;
		}
	}
	syscall_table_walk(write_spec, &specs);
	changers = syscall_path_changers(&n);
	for (size_t i = 0; i < n; i++) {
		if (changers[i] < VIGIL_SYSCALL_MAX)
			pf->skel->bss->path_changers[changers[i] / 64] |= 1ull << (changers[i] % 64);
	}
	return 0;
}

static int ebpf_setup(void *state)
{
	struct ebpf_platform *pf = state;
	int err;

	err = vigil_bpf__load(pf->skel);
	if (err) {
		fail(pf, "load BPF programs", err);
		return -1;
	}
	if (wants_syscalls(pf->env.cfg->event_mask) && setup_syscalls(pf) < 0)
		return -1;
	err = vigil_bpf__attach(pf->skel);
	if (err) {
		fail(pf, "attach BPF programs", err);
		return -1;
	}
	pf->rb = ring_buffer__new(bpf_map__fd(pf->skel->maps.events), handle_record, pf, NULL);
	if (!pf->rb) {
		fail(pf, "create ring buffer consumer", errno);
		return -1;
	}
	map_positions(pf);
	pf->skel->bss->enabled_events = kernel_mask(pf->env.cfg->event_mask);
	return 0;
}

static void *consume_loop(void *arg)
{
	struct ebpf_platform *pf = arg;
	const struct probe_handler *h = pf->env.handler;
	int timeout = (int)pf->env.cfg->poll_interval_ms;

	while (!atomic_load(&pf->stopping)) {
		int n = ring_buffer__poll(pf->rb, timeout);

		/* poll only drains rings that signalled; records sent without a
		 * wake-up are picked up here. */
		if (n >= 0)
			n = ring_buffer__consume(pf->rb);
		if (n < 0 && n != -EINTR) {
			log_error("ring buffer consumer failed: %s", strerror(-n));
			break;
		}
		atomic_fetch_add_explicit(&pf->batches, 1, memory_order_relaxed);
		if (h->batch_end)
			h->batch_end(h->ctx);
	}
	return NULL;
}

static int ebpf_start(void *state)
{
	struct ebpf_platform *pf = state;
	int err;

	atomic_store(&pf->stopping, false);
	err = pthread_create(&pf->thread, NULL, consume_loop, pf);
	if (err) {
		fail(pf, "start consumer thread", err);
		return -1;
	}
	pf->thread_running = true;
	return 0;
}

static int ebpf_stop(void *state)
{
	struct ebpf_platform *pf = state;

	atomic_store(&pf->stopping, true);
	if (pf->thread_running) {
		pthread_join(pf->thread, NULL);
		pf->thread_running = false;
		/* What the kernel sent before detach still reaches the handler. */
		if (pf->rb)
			ring_buffer__consume(pf->rb);
		if (pf->env.handler->batch_end)
			pf->env.handler->batch_end(pf->env.handler->ctx);
	}
	if (pf->skel)
		vigil_bpf__detach(pf->skel);
	return 0;
}

static void ebpf_destroy(void *state)
{
	struct ebpf_platform *pf = state;

	if (pf->thread_running)
		ebpf_stop(pf);
	if (pf->consumer_pos) {
		munmap((void *)pf->consumer_pos, pf->page_size);
		munmap((void *)pf->producer_pos, pf->page_size);
	}
	ring_buffer__free(pf->rb);
	vigil_bpf__destroy(pf->skel);
	decoder_free(pf->decoder);
	free(pf);
}

static void ebpf_wait(void *state)
{
	struct ebpf_platform *pf = state;

	while (!atomic_load(&pf->stopping))
		usleep(100 * 1000);
}

static int ebpf_set_event_mask(void *state, uint64_t mask)
{
	struct ebpf_platform *pf = state;

	if (!pf->skel || !pf->skel->bss)
		return -1;
	pf->skel->bss->enabled_events = kernel_mask(mask);
	return 0;
}

static int set_kill_list(struct ebpf_platform *pf, const struct kernel_filter *f)
{
	int fd = bpf_map__fd(pf->skel->maps.kill_exec);
	__u64 key, next;
	__u32 sig;

	pf->skel->bss->kill_exec_count = 0;
	while (bpf_map_get_next_key(fd, NULL, &next) == 0)
		bpf_map_delete_elem(fd, &next);
	for (size_t i = 0; i < f->n_kills; i++) {
		key = f->kill_hashes[i];
		sig = (__u32)f->kill_signals[i];
		if (bpf_map_update_elem(fd, &key, &sig, BPF_ANY) != 0)
			return -1;
	}
	pf->skel->bss->kill_exec_count = (__u32)f->n_kills;
	return 0;
}

static int ebpf_set_filter(void *state, const struct kernel_filter *f)
{
	struct ebpf_platform *pf = state;
	struct vigil_open_filter of = { .enabled = f->open_enabled, .flags_mask = f->open_flags };
	int filter_fd, names_fd;
	__u32 zero = 0;
	char key[VIGIL_BASENAME_MAX], next[VIGIL_BASENAME_MAX];
	__u8 one = 1;

	if (pf->skel && set_kill_list(pf, f) < 0)
		log_warn("cannot install the in-kernel kill list; kill actions stay in user space");
	if (!pf->skel || !bpf_program__autoload(pf->skel->progs.vigil_sys_enter))
		return 0; /* no syscall hooks loaded: nothing to filter */
	filter_fd = bpf_map__fd(pf->skel->maps.open_filter);
	names_fd = bpf_map__fd(pf->skel->maps.open_basenames);
	/* Turn the filter off while its name set changes, so no open is
	 * judged against half a set. */
	of.enabled = 0;
	if (bpf_map_update_elem(filter_fd, &zero, &of, BPF_ANY) != 0)
		return -1;
	while (bpf_map_get_next_key(names_fd, NULL, next) == 0)
		bpf_map_delete_elem(names_fd, next);
	for (size_t i = 0; i < f->n_open_names; i++) {
		memset(key, 0, sizeof(key));
		snprintf(key, sizeof(key), "%s", f->open_names[i]);
		if (bpf_map_update_elem(names_fd, key, &one, BPF_ANY) != 0) {
			log_warn("open approvers: cannot add \"%s\": %s; approvers stay off", key, strerror(errno));
			return -1;
		}
	}
	of.enabled = f->open_enabled;
	if (bpf_map_update_elem(filter_fd, &zero, &of, BPF_ANY) != 0)
		return -1;
	/* A new policy proves its own discarders: every old one lapses. */
	__sync_fetch_and_add(&pf->skel->bss->discarder_revision, 1);
	pf->skel->bss->discarders_enabled = f->discarders;
	return 0;
}

static int ebpf_add_discarder(void *state, uint64_t inode, uint32_t mount_id, uint32_t revision)
{
	struct ebpf_platform *pf = state;
	struct vigil_discarder_key key = { .inode = inode, .mount_id = mount_id };

	if (!pf->skel || !pf->skel->bss->discarders_enabled)
		return 0;
	if (bpf_map_update_elem(bpf_map__fd(pf->skel->maps.discarders), &key, &revision, BPF_ANY) != 0)
		return -1;
	atomic_fetch_add_explicit(&pf->discarders_added, 1, memory_order_relaxed);
	return 0;
}

static void read_kernel_counters(struct ebpf_platform *pf, struct probe_stats *out)
{
	struct vigil_counters *percpu = calloc((size_t)pf->ncpus, sizeof(*percpu));
	int fd;

	if (!percpu || !pf->skel)
		goto out;
	fd = bpf_map__fd(pf->skel->maps.counters);
	for (int t = 1; t < EVENT_TYPE_COUNT; t++) {
		__u32 key = (__u32)t;

		if (bpf_map_lookup_elem(fd, &key, percpu) != 0)
			continue;
		for (int cpu = 0; cpu < pf->ncpus; cpu++) {
			out->kernel_sent[t] += percpu[cpu].sent;
			out->kernel_dropped[t] += percpu[cpu].dropped;
			out->kernel_filtered[t] += percpu[cpu].filtered;
			out->kernel_discarded[t] += percpu[cpu].discarded;
		}
	}
out:
	free(percpu);
}

static void ebpf_stats(void *state, struct probe_stats *out)
{
	struct ebpf_platform *pf = state;

	for (int t = 0; t < EVENT_TYPE_COUNT; t++)
		out->received[t] = atomic_load_explicit(&pf->received[t], memory_order_relaxed);
	out->batches = atomic_load_explicit(&pf->batches, memory_order_relaxed);
	out->discarders_added = atomic_load_explicit(&pf->discarders_added, memory_order_relaxed);
	for (int e = 1; e < DECODE_ERROR_COUNT; e++)
		out->decode_errors += decoder_errors(pf->decoder, (enum decode_error)e);
	read_kernel_counters(pf, out);
	if (pf->skel)
		out->ringbuf_size = bpf_map__max_entries(pf->skel->maps.events);
	if (pf->consumer_pos)
		out->ringbuf_pending = *pf->producer_pos - *pf->consumer_pos;
}

const struct platform_ops platform_ebpf = {
	.name = "ebpf",
	.create = ebpf_create,
	.init = ebpf_init,
	.setup = ebpf_setup,
	.start = ebpf_start,
	.stop = ebpf_stop,
	.destroy = ebpf_destroy,
	.wait = ebpf_wait,
	.set_event_mask = ebpf_set_event_mask,
	.set_filter = ebpf_set_filter,
	.add_discarder = ebpf_add_discarder,
	.stats = ebpf_stats,
};
