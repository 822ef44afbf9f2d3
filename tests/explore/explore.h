/* SPDX-License-Identifier: MIT */
/*
 * A deterministic schedule explorer over libgpuvm's synchronisation points.
 *
 * The threads of an explored test run one at a time. At every scheduling
 * point of the library (testing.h: each lock acquire and release, each
 * reference count change of a VM, vm_bo or GEM object, each push and pop
 * of a deferred list, each fence signal, each named hook point) the
 * explorer decides which thread goes on. Blocking waits (a held mutex or
 * ww_mutex, a fence, a device unbind, an RCU grace period) go through the
 * explorer too, so it knows which threads can run; when none can and some
 * have not finished, that is a deadlock.
 *
 * Exploration is depth-first over the choices, under a preemption bound
 * (iterative context bounding: every schedule with at most 0, then 1, then
 * 2, ... preemptions, a preemption being a switch away from a thread that
 * could have gone on). A randomised mode (PCT: random thread priorities
 * with a few priority change points) samples larger tests.
 *
 * A run fails on any library warning (a broken lock rule, a use after
 * free, ...) unless the test allows its rule, on a leak (the leak report,
 * or libgpuvm allocations still live after teardown), on a deadlock, and
 * on the test's own XP_CHECK. A failing schedule is printed as the choices
 * that differ from the default (go on with the current thread), "K:T,..."
 * for "at choice point K run thread T"; running it again with
 * xp_options.replay (or GPUVM_EXPLORE_SCHEDULE) reproduces the run.
 */
#ifndef GPUVM_EXPLORE_H
#define GPUVM_EXPLORE_H

#include <stdbool.h>
#include <stdio.h>

#define XP_MAX_THREADS 8
#define XP_MAX_BOUND 8

/**
 * struct xp_test - one explored test
 * @name: its name (the runner's argument)
 * @doc: one line on what it explores
 * @nr_threads: threads to run (1..XP_MAX_THREADS)
 * @setup: builds the state the threads share (on the runner's thread, not
 *         explored); returns it
 * @thread: the body of thread @i
 * @check: after every thread finished, before @teardown: XP_CHECK the
 *         outcome (may be NULL)
 * @teardown: frees everything @setup and the threads made
 * @allowed_rules: NULL-terminated warning rules that do not fail a run
 *                 (may be NULL)
 */
struct xp_test {
	const char *name;
	const char *doc;
	unsigned int nr_threads;
	void *(*setup)(void);
	void (*thread)(unsigned int i, void *state);
	void (*check)(void *state);
	void (*teardown)(void *state);
	const char *const *allowed_rules;
};

/**
 * struct xp_options - how to explore
 * @bound: the largest preemption bound (iterative bounding from 0)
 * @max_schedules: stop after this many runs (0: no limit)
 * @replay: run this schedule once instead of exploring (NULL: explore)
 * @pct_runs: randomised runs instead of the depth-first search (0: DFS)
 * @pct_depth: priority change points of a PCT run, plus one
 * @seed: the PCT seed
 * @verbose: print each schedule as it runs
 */
struct xp_options {
	unsigned int bound;
	unsigned long max_schedules;
	const char *replay;
	unsigned long pct_runs;
	unsigned int pct_depth;
	unsigned long seed;
	bool verbose;
};

/**
 * struct xp_result - what an exploration found
 * @schedules: runs in all
 * @per_bound: runs per preemption bound (depth-first search)
 * @complete: the search space within the bound was exhausted
 * @failed: some run failed
 * @failure: what failed first, in the shortest failing run
 * @schedule: the shortest failing schedule found
 * @preemptions: its preemptions
 * @forced: its choices that differ from the default
 * @seconds: the time it took
 */
struct xp_result {
	unsigned long schedules;
	unsigned long per_bound[XP_MAX_BOUND + 1];
	bool complete;
	bool failed;
	char failure[768];
	char schedule[1024];
	unsigned int preemptions;
	unsigned int forced;
	double seconds;
};

/* Explore @t. Returns 0 when no run failed, 1 when one did. */
int xp_explore(const struct xp_test *t, const struct xp_options *o,
	       struct xp_result *r);

/* Print @r for @t: schedules, rate, and the failure with how to replay. */
void xp_print(const struct xp_test *t, const struct xp_result *r, FILE *out);

/*
 * Call @fn with the failing schedule when a run crashes (a signal such as
 * SIGSEGV or SIGABRT); the process then exits with status 1.
 */
void xp_on_crash(void (*fn)(const char *schedule));

/* Record that the run failed (from a test's thread, check or teardown). */
void xp_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define XP_CHECK(cond, ...)                   \
	do {                                  \
		if (!(cond))                  \
			xp_fail(__VA_ARGS__); \
	} while (0)

/* The number of the calling explored thread, or -1. */
int xp_thread_id(void);

#endif /* GPUVM_EXPLORE_H */
