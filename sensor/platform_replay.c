/* platform_replay.c - the probe platform that plays recorded events.
 *
 * Reads the JSON lines `vigil events` writes and hands them to the same
 * handler the kernel's events go to, so rules can be developed and tested
 * offline and tests can drive the whole pipeline without root. The
 * ancestors each recorded event carries are played first, as snapshot
 * entries, so ancestry-based rules see what they saw live. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event_json.h"
#include "log.h"
#include "platform.h"

struct replay_platform {
	struct platform_env env;
	FILE *in;
	bool close_in;
	pthread_t thread;
	bool thread_running;
	atomic_bool stopping;
	_Atomic uint64_t received[EVENT_TYPE_COUNT];
	_Atomic uint64_t errors;
	_Atomic uint64_t batches;
	struct event_json_record rec;
};

#define REPLAY_BATCH 256 /* lines between batch_end calls */

static void *replay_create(const struct platform_env *env)
{
	struct replay_platform *pf = calloc(1, sizeof(*pf));

	if (pf)
		pf->env = *env;
	return pf;
}

static int replay_init(void *state)
{
	struct replay_platform *pf = state;
	const char *path = pf->env.cfg->replay_path;

	if (!path) {
		snprintf(pf->env.err, pf->env.errlen, "replay: no events file given");
		return -1;
	}
	if (strcmp(path, "-") == 0) {
		pf->in = stdin;
		return 0;
	}
	pf->in = fopen(path, "r");
	if (!pf->in) {
		snprintf(pf->env.err, pf->env.errlen, "replay: open %s: %s", path, strerror(errno));
		return -1;
	}
	pf->close_in = true;
	return 0;
}

static int replay_setup(void *state)
{
	(void)state;
	return 0;
}

static void deliver_ancestors(struct replay_platform *pf)
{
	const struct probe_handler *h = pf->env.handler;

	for (size_t i = pf->rec.n_ancestors; i-- > 0;) {
		struct event anc;

		memset(&anc, 0, sizeof(anc));
		anc.type = EVENT_EXEC;
		anc.source = EVENT_SOURCE_SNAPSHOT;
		anc.timestamp_ns = pf->rec.event.timestamp_ns;
		anc.process = pf->rec.ancestors[i];
		h->event(&anc, h->ctx);
	}
}

static void *replay_loop(void *arg)
{
	struct replay_platform *pf = arg;
	const struct probe_handler *h = pf->env.handler;
	const char *name = pf->env.cfg->replay_path;
	char *line = NULL, err[256];
	size_t cap = 0, lineno = 0, in_batch = 0;
	ssize_t n;

	while (!atomic_load(&pf->stopping) && (n = getline(&line, &cap, pf->in)) >= 0) {
		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0)
			continue;
		if (event_json_parse(line, (size_t)n, &pf->rec, err, sizeof(err)) < 0) {
			atomic_fetch_add(&pf->errors, 1);
			log_warn("%s:%zu: skipped: %s", name, lineno, err);
			continue;
		}
		deliver_ancestors(pf);
		atomic_fetch_add(&pf->received[pf->rec.event.type], 1);
		h->event(&pf->rec.event, h->ctx);
		if (++in_batch == REPLAY_BATCH) {
			in_batch = 0;
			atomic_fetch_add(&pf->batches, 1);
			if (h->batch_end)
				h->batch_end(h->ctx);
		}
	}
	free(line);
	atomic_fetch_add(&pf->batches, 1);
	if (h->batch_end)
		h->batch_end(h->ctx);
	return NULL;
}

static int replay_start(void *state)
{
	struct replay_platform *pf = state;
	int err = pthread_create(&pf->thread, NULL, replay_loop, pf);

	if (err) {
		snprintf(pf->env.err, pf->env.errlen, "replay: start thread: %s", strerror(err));
		return -1;
	}
	pf->thread_running = true;
	return 0;
}

static void replay_wait(void *state)
{
	struct replay_platform *pf = state;

	if (pf->thread_running) {
		pthread_join(pf->thread, NULL);
		pf->thread_running = false;
	}
}

static int replay_stop(void *state)
{
	struct replay_platform *pf = state;

	atomic_store(&pf->stopping, true);
	replay_wait(pf);
	return 0;
}

static void replay_destroy(void *state)
{
	struct replay_platform *pf = state;

	replay_stop(pf);
	if (pf->close_in)
		fclose(pf->in);
	free(pf);
}

static int replay_set_event_mask(void *state, uint64_t mask)
{
	(void)state;
	(void)mask;
	return 0; /* a recording holds what it holds */
}

static void replay_stats(void *state, struct probe_stats *out)
{
	struct replay_platform *pf = state;

	for (int t = 0; t < EVENT_TYPE_COUNT; t++)
		out->received[t] = atomic_load(&pf->received[t]);
	out->decode_errors = atomic_load(&pf->errors);
	out->batches = atomic_load(&pf->batches);
}

const struct platform_ops platform_replay = {
	.name = "replay",
	.create = replay_create,
	.init = replay_init,
	.setup = replay_setup,
	.start = replay_start,
	.stop = replay_stop,
	.destroy = replay_destroy,
	.wait = replay_wait,
	.set_event_mask = replay_set_event_mask,
	.stats = replay_stats,
};
