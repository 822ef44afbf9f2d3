// SPDX-License-Identifier: MIT
/*
 * The schedule explorer (explore.h). One baton: the thread whose number is
 * in xp.current runs, every other explored thread waits on its own
 * condition variable. The library calls in at its scheduling points
 * (struct gpuvm_sched_ops); pick_next() makes the choice there.
 */
#include <errno.h>
#include <signal.h>
#include <unistd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gpuvm/gpuvm.h>

#include "explore.h"
#include "rcu_internal.h"
#include "warn_recorder.h"

#define MAX_CHOICES 8192

enum th_state { TH_RUNNABLE, TH_BLOCKED, TH_DONE };

struct xp_thread {
	pthread_t tid;
	enum th_state state;
	const void *blocked_on;
	unsigned int rcu_depth;
	pthread_cond_t cond;
};

/* One choice point of a run. */
struct choice {
	uint8_t enabled; /* bit mask of the runnable threads */
	uint8_t current; /* the thread at the point (may not be runnable) */
	uint8_t chosen;
	uint8_t dflt; /* the default: current if runnable, else the lowest */
	bool cur_on; /* current was runnable: another choice preempts it */
	uint16_t preempt_before;
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t main_cond;
	const struct xp_test *test;
	void *state;
	struct xp_thread th[XP_MAX_THREADS];
	unsigned int n;
	int current; /* the baton; -1: the runner */
	bool finished; /* every thread done, or a deadlock */
	bool deadlock;

	/* The choices a run must make (-1: the default), below forced_len. */
	int8_t forced[MAX_CHOICES];
	unsigned int forced_len;
	struct choice trace[MAX_CHOICES];
	unsigned int nr_choices;
	unsigned int preemptions;

	/* PCT */
	bool pct;
	int prio[XP_MAX_THREADS];
	unsigned int change_at[XP_MAX_BOUND + 1];
	unsigned int nr_changes;
	int low_prio;

	bool failed;
	char failure[768];
	unsigned int undrained; /* runs whose RCU frees were not waited for */
} xp = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.main_cond = PTHREAD_COND_INITIALIZER,
};

static __thread int self = -1;
/* What an RCU grace period waits on. */
static const char rcu_gp_token;

int xp_thread_id(void)
{
	return self;
}

/* xp.mu held, or a single-threaded phase. */
static void fail_locked(const char *fmt, va_list ap)
	__attribute__((format(printf, 1, 0)));
static void fail_locked(const char *fmt, va_list ap)
{
	if (xp.failed)
		return;
	xp.failed = true;
	vsnprintf(xp.failure, sizeof(xp.failure), fmt, ap);
}

static void fail_now(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static void fail_now(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fail_locked(fmt, ap);
	va_end(ap);
}

void xp_fail(const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&xp.mu);
	if (self >= 0)
		fail_now("thread %d: check failed: %s", self, msg);
	else
		fail_now("check failed: %s", msg);
	pthread_mutex_unlock(&xp.mu);
}

/* ---- choosing the next thread ------------------------------------------ */

static unsigned int runnable_mask(void)
{
	unsigned int i, mask = 0;

	for (i = 0; i < xp.n; i++)
		if (xp.th[i].state == TH_RUNNABLE)
			mask |= 1u << i;
	return mask;
}

static int lowest(unsigned int mask)
{
	return __builtin_ctz(mask);
}

static int pct_pick(unsigned int enabled, int cur)
{
	unsigned int k = xp.nr_choices, i;
	int best = -1;

	for (i = 0; i < xp.nr_changes; i++)
		if (xp.change_at[i] == k && cur >= 0)
			xp.prio[cur] = xp.low_prio--;
	for (i = 0; i < xp.n; i++)
		if ((enabled & (1u << i)) &&
		    (best < 0 || xp.prio[i] > xp.prio[best]))
			best = (int)i;
	return best;
}

/*
 * The thread to run after a point of thread @cur (-1: the runner), or -1
 * when none can. xp.mu held.
 */
static int pick_next(int cur)
{
	unsigned int enabled = runnable_mask();
	bool cur_on = cur >= 0 && (enabled & (1u << cur));
	struct choice *c;
	int dflt, pick;

	if (!enabled)
		return -1;
	dflt = cur_on ? cur : lowest(enabled);
	if (__builtin_popcount(enabled) == 1)
		return dflt;
	if (xp.nr_choices >= MAX_CHOICES) {
		fail_now("more than %d choice points: a livelock?",
			 MAX_CHOICES);
		return dflt;
	}
	c = &xp.trace[xp.nr_choices];
	if (xp.nr_choices < xp.forced_len && xp.forced[xp.nr_choices] >= 0) {
		pick = xp.forced[xp.nr_choices];
		if (pick >= (int)xp.n || !(enabled & (1u << pick))) {
			fail_now("the schedule does not fit the test: thread "
				 "%d cannot run at choice %u",
				 pick, xp.nr_choices);
			pick = dflt;
		}
	} else if (xp.pct) {
		pick = pct_pick(enabled, cur);
	} else {
		pick = dflt;
	}
	c->enabled = (uint8_t)enabled;
	c->current = (uint8_t)(cur < 0 ? 0 : cur);
	c->chosen = (uint8_t)pick;
	c->dflt = (uint8_t)dflt;
	c->cur_on = cur_on;
	c->preempt_before = (uint16_t)xp.preemptions;
	xp.nr_choices++;
	if (cur_on && pick != cur)
		xp.preemptions++;
	return pick;
}

/*
 * Hand the baton from @cur to @next (-1: nobody can run) and, unless
 * @cur is done, wait until it comes back. xp.mu held.
 */
static void switch_to(int cur, int next)
{
	if (next < 0) {
		bool all_done = true;
		unsigned int i;

		for (i = 0; i < xp.n; i++)
			all_done &= xp.th[i].state == TH_DONE;
		if (!all_done) {
			char who[256];
			size_t used = 0;

			who[0] = '\0';
			for (i = 0; i < xp.n && used < sizeof(who); i++)
				if (xp.th[i].state == TH_BLOCKED)
					used += (size_t)snprintf(
						who + used, sizeof(who) - used,
						"%sthread %u waits on %p",
						used ? ", " : "", i,
						xp.th[i].blocked_on);
			xp.deadlock = true;
			fail_now("deadlock: no thread can run (%s)", who);
		}
		xp.current = -1;
		xp.finished = true;
		pthread_cond_signal(&xp.main_cond);
	} else {
		xp.current = next;
		if (next != cur)
			pthread_cond_signal(&xp.th[next].cond);
	}
	if (cur < 0 || xp.th[cur].state == TH_DONE)
		return;
	while (xp.current != cur)
		pthread_cond_wait(&xp.th[cur].cond, &xp.mu);
}

/* ---- the library's callbacks ------------------------------------------- */

static bool cb_managed(void *data)
{
	(void)data;
	return self >= 0;
}

static void block_locked(const void *wait_obj)
{
	xp.th[self].state = TH_BLOCKED;
	xp.th[self].blocked_on = wait_obj;
	switch_to(self, pick_next(self));
}

static void wake_locked(const void *wait_obj)
{
	unsigned int i;

	for (i = 0; i < xp.n; i++) {
		if (xp.th[i].state == TH_BLOCKED &&
		    xp.th[i].blocked_on == wait_obj) {
			xp.th[i].state = TH_RUNNABLE;
			xp.th[i].blocked_on = NULL;
		}
	}
}

static bool other_reader(void)
{
	unsigned int i;

	for (i = 0; i < xp.n; i++)
		if ((int)i != self && xp.th[i].rcu_depth)
			return true;
	return false;
}

static void cb_point(enum gpuvm_sched_event ev, const void *obj, void *data)
{
	(void)data;
	pthread_mutex_lock(&xp.mu);
	switch (ev) {
	case GPUVM_SCHED_RCU_LOCK:
		xp.th[self].rcu_depth++;
		break;
	case GPUVM_SCHED_RCU_UNLOCK:
		if (xp.th[self].rcu_depth && !--xp.th[self].rcu_depth)
			wake_locked(&rcu_gp_token);
		break;
	case GPUVM_SCHED_RCU_SYNC:
		while (other_reader())
			block_locked(&rcu_gp_token);
		break;
	default:
		(void)obj;
		switch_to(self, pick_next(self));
		break;
	}
	pthread_mutex_unlock(&xp.mu);
}

static void cb_block(const void *wait_obj, void *data)
{
	(void)data;
	pthread_mutex_lock(&xp.mu);
	block_locked(wait_obj);
	pthread_mutex_unlock(&xp.mu);
}

static void cb_wake(const void *wait_obj, void *data)
{
	(void)data;
	pthread_mutex_lock(&xp.mu);
	wake_locked(wait_obj);
	pthread_mutex_unlock(&xp.mu);
}

static const struct gpuvm_sched_ops xp_ops = {
	.managed = cb_managed,
	.point = cb_point,
	.block = cb_block,
	.wake = cb_wake,
};

/* ---- one run ------------------------------------------------------------ */

static void *thread_main(void *arg)
{
	int id = (int)(intptr_t)arg;

	self = id;
	pthread_mutex_lock(&xp.mu);
	while (xp.current != id)
		pthread_cond_wait(&xp.th[id].cond, &xp.mu);
	pthread_mutex_unlock(&xp.mu);

	xp.test->thread((unsigned int)id, xp.state);

	pthread_mutex_lock(&xp.mu);
	xp.th[id].state = TH_DONE;
	switch_to(id, pick_next(id));
	pthread_mutex_unlock(&xp.mu);
	return NULL;
}

static bool rule_allowed(const struct xp_test *t, const char *rule)
{
	const char *const *r;

	for (r = t->allowed_rules; r && *r; r++)
		if (!strcmp(*r, rule))
			return true;
	return false;
}

static void fail_unless_allowed(const char *rule, const char *msg, void *arg)
{
	const struct xp_test *t = arg;

	if (!rule_allowed(t, rule))
		fail_now("warning [%s] %s", rule, msg);
}

static void check_warnings(const struct xp_test *t)
{
	unsigned int dropped = 0;

	warn_recorder_drain(fail_unless_allowed, (void *)t, &dropped);
	if (dropped)
		fail_now("%u more warning(s) were dropped", dropped);
}

/*
 * Run @t once, following xp.forced. Returns false after a deadlock: the
 * stuck threads cannot be recovered, exploration must stop.
 */
static bool run_once(const struct xp_test *t)
{
	long live_before;
	unsigned int i;
	int first;

	gpuvm_lockdep_reset();
	warn_recorder_clear();
	/* No drain here: waiting for the RCU callbacks of the previous run
	 * costs more than a run. They can only make the baseline higher;
	 * the end drains when the count looks too high. */
	live_before = gpuvm_alloc_live();

	xp.test = t;
	xp.n = t->nr_threads;
	xp.current = -1;
	xp.finished = false;
	xp.deadlock = false;
	xp.nr_choices = 0;
	xp.preemptions = 0;
	xp.failed = false;
	xp.failure[0] = '\0';
	xp.low_prio = -1;
	xp.state = t->setup();

	for (i = 0; i < xp.n; i++) {
		xp.th[i].state = TH_RUNNABLE;
		xp.th[i].blocked_on = NULL;
		xp.th[i].rcu_depth = 0;
		pthread_cond_init(&xp.th[i].cond, NULL);
		if (pthread_create(&xp.th[i].tid, NULL, thread_main,
				   (void *)(intptr_t)i)) {
			fprintf(stderr, "explore: pthread_create failed\n");
			exit(2);
		}
	}

	pthread_mutex_lock(&xp.mu);
	first = pick_next(-1);
	xp.current = first;
	pthread_cond_signal(&xp.th[first].cond);
	while (!xp.finished)
		pthread_cond_wait(&xp.main_cond, &xp.mu);
	pthread_mutex_unlock(&xp.mu);
	if (xp.deadlock)
		return false;

	for (i = 0; i < xp.n; i++) {
		pthread_join(xp.th[i].tid, NULL);
		pthread_cond_destroy(&xp.th[i].cond);
	}
	/* The threads' warnings first: a leak they cause comes later. */
	check_warnings(t);
	if (t->check)
		t->check(xp.state);
	t->teardown(xp.state);

	if (gpuvm_report_leaks())
		fail_now("leak report (see the warning)");
	check_warnings(t);
	/*
	 * Memory still waiting for an RCU grace period is not a leak. Waiting
	 * for it (an RCU barrier) costs ~10 ms, 30 runs' worth: only when the
	 * count is high with nothing pending, or every 64 runs.
	 */
	if (!xp.failed && gpuvm_alloc_live() > live_before &&
	    (!gpuvm_rcu_callbacks_pending() || ++xp.undrained >= 64)) {
		xp.undrained = 0;
		gpuvm_alloc_drain();
		if (gpuvm_alloc_live() > live_before)
			fail_now("%ld libgpuvm allocation(s) leaked",
				 gpuvm_alloc_live() - live_before);
	}
	return true;
}

/* ---- schedules as strings ------------------------------------------------ */

/*
 * A schedule is written as the choices that differ from the default (go
 * on with the current thread, or the lowest runnable one): "K:T,..." for
 * "at choice point K run thread T". "" is the default schedule.
 */
static unsigned int schedule_string(char *buf, size_t len)
{
	unsigned int i, n = 0;
	size_t used = 0;

	buf[0] = '\0';
	for (i = 0; i < xp.nr_choices; i++) {
		if (xp.trace[i].chosen == xp.trace[i].dflt)
			continue;
		if (used < len)
			used += (size_t)snprintf(buf + used, len - used,
						 "%s%u:%u", n ? "," : "", i,
						 xp.trace[i].chosen);
		n++;
	}
	return n;
}

static void clear_forced(void)
{
	memset(xp.forced, -1, sizeof(xp.forced));
	xp.forced_len = 0;
}

static bool parse_schedule(const char *s)
{
	clear_forced();
	while (*s) {
		char *end;
		unsigned long k = strtoul(s, &end, 10), t;

		if (end == s || *end != ':' || k >= MAX_CHOICES)
			return false;
		s = end + 1;
		t = strtoul(s, &end, 10);
		if (end == s || t >= XP_MAX_THREADS)
			return false;
		xp.forced[k] = (int8_t)t;
		if (k + 1 > xp.forced_len)
			xp.forced_len = (unsigned int)k + 1;
		s = end;
		if (*s == ',')
			s++;
		else if (*s)
			return false;
	}
	return true;
}

/* Keep the failure of this run if it is the first or the shortest. */
static void note_failure(struct xp_result *r)
{
	char sched[sizeof(r->schedule)];
	unsigned int n = schedule_string(sched, sizeof(sched));

	/* Shortest: fewest forced choices, then the shorter string. */
	if (r->failed &&
	    (n > r->forced ||
	     (n == r->forced && strlen(sched) >= strlen(r->schedule))))
		return;
	r->forced = n;
	r->failed = true;
	snprintf(r->schedule, sizeof(r->schedule), "%s", sched);
	snprintf(r->failure, sizeof(r->failure), "%s", xp.failure);
	r->preemptions = xp.preemptions;
}

/*
 * The next prefix of a depth-first search under @bound: the deepest choice
 * with an alternative not tried yet whose preemptions stay within it.
 * Alternatives are tried default first, then by thread number.
 */
static bool next_prefix(unsigned int bound)
{
	int k;

	for (k = (int)xp.nr_choices - 1; k >= 0; k--) {
		const struct choice *c = &xp.trace[k];
		bool cur_on = c->cur_on;
		unsigned int alt;
		int start;

		/* Position of the chosen one in the order [dflt, 0, 1, ...]. */
		start = c->chosen == c->dflt ? -1 : c->chosen;
		for (alt = (unsigned int)(start + 1); alt < xp.n; alt++) {
			unsigned int pre = c->preempt_before;

			if (alt == c->dflt || !(c->enabled & (1u << alt)))
				continue;
			if (cur_on && alt != c->current)
				pre++;
			if (pre > bound)
				continue;
			clear_forced();
			for (int i = 0; i < k; i++)
				if (xp.trace[i].chosen != xp.trace[i].dflt)
					xp.forced[i] =
						(int8_t)xp.trace[i].chosen;
			xp.forced[k] = (int8_t)alt;
			xp.forced_len = (unsigned int)k + 1;
			return true;
		}
	}
	return false;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- crashes ----------------------------------------------------------------- */

static void (*crash_fn)(const char *schedule);

void xp_on_crash(void (*fn)(const char *schedule))
{
	crash_fn = fn;
}

/*
 * A crash in a run (a use after free that reached unmapped or poisoned
 * memory, an abort) is a failure too: print the schedule that led to it,
 * let the runner check its replay, and end the process.
 */
static void crash_handler(int sig)
{
	static char sched[1024], line[1400];
	int n;

	signal(sig, SIG_DFL);
	schedule_string(sched, sizeof(sched));
	n = snprintf(line, sizeof(line),
		     "%s: FAILED: crash (signal %d) in thread %d\n"
		     "%s: failing schedule: \"%s\" (%u preemption(s)); "
		     "replay: --schedule '%s'\n",
		     xp.test ? xp.test->name : "?", sig, self,
		     xp.test ? xp.test->name : "?", sched, xp.preemptions,
		     sched);
	if (n > 0)
		(void)!write(STDOUT_FILENO, line, (size_t)n);
	if (crash_fn)
		crash_fn(sched);
	_exit(1);
}

static void catch_crashes(void)
{
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL };
	unsigned int i;

	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], crash_handler);
}

/* A failure found, keep searching this bound a little for a shorter one. */
#define SHORTER_SEARCH 400

int xp_explore(const struct xp_test *t, const struct xp_options *o,
	       struct xp_result *r)
{
	const char *env = getenv("GPUVM_EXPLORE_SCHEDULE");
	const char *replay = o->replay ? o->replay : env;
	double start = now_s();
	unsigned int b,
		bound = o->bound > XP_MAX_BOUND ? XP_MAX_BOUND : o->bound;

	memset(r, 0, sizeof(*r));
	if (t->nr_threads < 1 || t->nr_threads > XP_MAX_THREADS) {
		fprintf(stderr, "explore: %s: bad thread count\n", t->name);
		exit(2);
	}
	warn_recorder_install();
	catch_crashes();
	gpuvm_sched_set_ops(&xp_ops, NULL);

	if (replay) {
		if (!parse_schedule(replay)) {
			fprintf(stderr, "explore: bad schedule '%s'\n", replay);
			exit(2);
		}
		xp.pct = false;
		(void)run_once(t);
		r->schedules = 1;
		if (xp.failed)
			note_failure(r);
		goto out;
	}

	if (o->pct_runs) {
		unsigned int steps, i;

		srand((unsigned int)o->seed);
		clear_forced();
		xp.pct = false;
		if (!run_once(t))
			goto deadlocked;
		r->schedules++;
		if (xp.failed)
			note_failure(r);
		steps = xp.nr_choices ? xp.nr_choices : 1;
		xp.pct = true;
		while (r->schedules < o->pct_runs && !r->failed) {
			for (i = 0; i < t->nr_threads; i++)
				xp.prio[i] = rand() % 1000 + 1000;
			xp.nr_changes = o->pct_depth > 1 ? o->pct_depth - 1 : 0;
			if (xp.nr_changes > XP_MAX_BOUND)
				xp.nr_changes = XP_MAX_BOUND;
			for (i = 0; i < xp.nr_changes; i++)
				xp.change_at[i] = (unsigned int)rand() % steps;
			if (!run_once(t))
				goto deadlocked;
			r->schedules++;
			if (xp.failed)
				note_failure(r);
		}
		xp.pct = false;
		goto out;
	}

	xp.pct = false;
	for (b = 0; b <= bound; b++) {
		unsigned long after_failure = 0;

		clear_forced();
		for (;;) {
			if (o->verbose)
				fprintf(stderr, "bound %u run %lu\n", b,
					r->schedules);
			if (!run_once(t))
				goto deadlocked;
			r->schedules++;
			r->per_bound[b]++;
			if (xp.failed)
				note_failure(r);
			if (r->failed && ++after_failure > SHORTER_SEARCH)
				break;
			if (o->max_schedules &&
			    r->schedules >= o->max_schedules)
				goto out;
			if (!next_prefix(b)) {
				if (b == bound)
					r->complete = true;
				break;
			}
		}
		if (r->failed)
			break;
	}
	goto out;

deadlocked:
	/* The stuck threads keep their locks: report and stop here. */
	r->schedules++;
	note_failure(r);
	r->seconds = now_s() - start;
	return 1;
out:
	gpuvm_sched_set_ops(NULL, NULL);
	r->seconds = now_s() - start;
	return r->failed ? 1 : 0;
}

void xp_print(const struct xp_test *t, const struct xp_result *r, FILE *out)
{
	unsigned int b;

	fprintf(out, "%s: %lu schedule(s) in %.2f s (%.0f/s)", t->name,
		r->schedules, r->seconds,
		r->seconds > 0 ? (double)r->schedules / r->seconds : 0.0);
	for (b = 0; b <= XP_MAX_BOUND; b++)
		if (r->per_bound[b])
			fprintf(out, "%s bound %u: %lu", b ? "," : ";", b,
				r->per_bound[b]);
	fprintf(out, "%s\n", r->complete ? "; complete" : "");
	if (!r->failed)
		return;
	fprintf(out, "%s: FAILED: %s\n", t->name, r->failure);
	fprintf(out,
		"%s: shortest failing schedule: \"%s\" (%u preemption(s)); "
		"replay: GPUVM_EXPLORE_SCHEDULE=%s, or --schedule %s\n",
		t->name, r->schedule, r->preemptions,
		r->schedule[0] ? r->schedule : "\"\"",
		r->schedule[0] ? r->schedule : "\"\"");
}
