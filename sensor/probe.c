/* probe.c - the probe lifecycle, common to every platform: order checks,
 * the /proc snapshot, and dispatch to the platform's operations. */
#include "probe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "platform.h"
#include "proc_snapshot.h"

enum probe_state { STATE_NEW, STATE_INIT, STATE_SETUP, STATE_STARTED, STATE_STOPPED };

struct probe {
	struct probe_config cfg;
	struct probe_handler handler;
	const struct platform_ops *ops;
	void *platform;
	enum probe_state state;
	uint64_t snapshot_processes;
	char err[512];
};

static const char *const state_names[] = { "new", "init", "setup", "started", "stopped" };

void probe_config_defaults(struct probe_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->platform = PROBE_EBPF;
	cfg->event_mask = EVENT_MASK_ALL;
	cfg->poll_interval_ms = 10;
	cfg->wakeup_bytes = 256 * 1024;
	cfg->emit_threads = true;
	cfg->snapshot = true;
	cfg->proc_root = "/proc";
}

struct probe *probe_new(const struct probe_config *cfg, const struct probe_handler *handler)
{
	struct probe *p = calloc(1, sizeof(*p));
	struct platform_env env;

	if (!p)
		return NULL;
	p->cfg = *cfg;
	p->handler = *handler;
	p->ops = cfg->platform == PROBE_REPLAY ? &platform_replay : &platform_ebpf;
	env = (struct platform_env){ .cfg = &p->cfg, .handler = &p->handler,
				     .err = p->err, .errlen = sizeof(p->err) };
	p->platform = p->ops->create(&env);
	if (!p->platform) {
		free(p);
		return NULL;
	}
	clock_sync();
	return p;
}

static int expect_state(struct probe *p, enum probe_state want, const char *step)
{
	if (p->state == want)
		return 0;
	snprintf(p->err, sizeof(p->err), "probe_%s called in state %s (needs %s)", step,
		 state_names[p->state], state_names[want]);
	return -1;
}

int probe_init(struct probe *p)
{
	if (expect_state(p, STATE_NEW, "init") < 0 || p->ops->init(p->platform) < 0)
		return -1;
	p->state = STATE_INIT;
	return 0;
}

int probe_setup(struct probe *p)
{
	if (expect_state(p, STATE_INIT, "setup") < 0 || p->ops->setup(p->platform) < 0)
		return -1;
	p->state = STATE_SETUP;
	return 0;
}

/* Each running process becomes a synthetic exec event, so everything after
 * the decoder learns about it the same way it learns about new ones. */
static int play_snapshot_process(const struct process *proc, void *ctx)
{
	struct probe *p = ctx;
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = EVENT_EXEC;
	ev.source = EVENT_SOURCE_SNAPSHOT;
	ev.timestamp_ns = clock_boot_now();
	ev.process = *proc;
	p->handler.event(&ev, p->handler.ctx);
	p->snapshot_processes++;
	return 0;
}

int probe_start(struct probe *p)
{
	if (expect_state(p, STATE_SETUP, "start") < 0)
		return -1;
	/* The programs are attached already, so a process that starts during
	 * the walk is both in the snapshot and in the buffered stream: nothing
	 * falls between the two. */
	if (p->cfg.snapshot) {
		struct proc_snapshot_stats st;

		memset(&st, 0, sizeof(st));
		if (proc_snapshot_walk(p->cfg.proc_root, NULL, play_snapshot_process, p, &st) < 0)
			log_warn("process snapshot of %s failed; ancestry of running processes will be partial",
				 p->cfg.proc_root);
		log_info("snapshot: %u processes, %u kernel threads skipped, %u unreadable",
			 st.processes, st.kernel_threads_skipped, st.errors);
		if (p->handler.batch_end)
			p->handler.batch_end(p->handler.ctx);
	}
	if (p->ops->start(p->platform) < 0)
		return -1;
	p->state = STATE_STARTED;
	return 0;
}

int probe_stop(struct probe *p)
{
	if (p->state != STATE_STARTED && p->state != STATE_SETUP)
		return 0;
	if (p->ops->stop(p->platform) < 0)
		return -1;
	p->state = STATE_STOPPED;
	return 0;
}

void probe_close(struct probe *p)
{
	if (!p)
		return;
	probe_stop(p);
	p->ops->destroy(p->platform);
	free(p);
}

void probe_wait(struct probe *p)
{
	if (p->state == STATE_STARTED)
		p->ops->wait(p->platform);
}

int probe_set_event_mask(struct probe *p, uint64_t mask)
{
	p->cfg.event_mask = mask;
	return p->ops->set_event_mask(p->platform, mask);
}

int probe_set_filter(struct probe *p, const struct kernel_filter *f)
{
	if (!p->ops->set_filter)
		return 0; /* replay: nothing is in a kernel */
	if (p->state != STATE_SETUP && p->state != STATE_STARTED) {
		snprintf(p->err, sizeof(p->err), "probe_set_filter before setup");
		return -1;
	}
	return p->ops->set_filter(p->platform, f);
}

int probe_add_discarder(struct probe *p, uint64_t inode, uint32_t mount_id, uint32_t revision)
{
	if (!p->ops->add_discarder)
		return 0;
	return p->ops->add_discarder(p->platform, inode, mount_id, revision);
}

void probe_get_stats(struct probe *p, struct probe_stats *out)
{
	memset(out, 0, sizeof(*out));
	p->ops->stats(p->platform, out);
	out->snapshot_processes = p->snapshot_processes;
}

const char *probe_platform_name(const struct probe *p)
{
	return p->ops->name;
}

const char *probe_error(const struct probe *p)
{
	return p->err[0] ? p->err : "no error";
}
