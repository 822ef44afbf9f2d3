// SPDX-License-Identifier: MIT
/*
 * Hook points: named places in library code where a test parks threads.
 *
 * The armed points live in a small table under one mutex; a condition
 * variable wakes both parked threads (on release) and tests waiting for
 * arrivals. Nothing here allocates.
 */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include <gpuvm/testing.h>

#include "internal.h"

#define MAX_HOOKS 32
/* A guard against hanging a broken test (slow under valgrind), not a
 * timing device. */
#define WAIT_LIMIT_S 30

struct hook {
	const char *name; /* NULL: free slot */
	unsigned int park_left; /* threads still to park */
	unsigned int parked;
	unsigned long hits;
	unsigned long generation; /* bumped by release */
	void (*fn)(const char *name, void *arg);
	void *arg;
};

int gpuvm_hooks_armed__;

static pthread_mutex_t hooks_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hooks_cond = PTHREAD_COND_INITIALIZER;
static struct hook hooks[MAX_HOOKS];

/* hooks_lock held. */
static struct hook *find(const char *name, bool create)
{
	struct hook *free_slot = NULL;
	unsigned int i;

	for (i = 0; i < MAX_HOOKS; i++) {
		if (hooks[i].name && !strcmp(hooks[i].name, name))
			return &hooks[i];
		if (!hooks[i].name && !free_slot)
			free_slot = &hooks[i];
	}
	if (!create || !free_slot)
		return NULL;
	/* Keep the generation: threads released from this slot before may
	 * not have woken up yet. */
	free_slot->name = name;
	free_slot->park_left = 0;
	free_slot->parked = 0;
	free_slot->hits = 0;
	free_slot->fn = NULL;
	free_slot->arg = NULL;
	__atomic_fetch_add(&gpuvm_hooks_armed__, 1, __ATOMIC_RELAXED);
	return free_slot;
}

void gpuvm_hook_hit__(const char *name)
{
	void (*fn)(const char *name, void *arg) = NULL;
	unsigned long generation;
	struct hook *h;
	void *arg = NULL;

	gpuvm_sched_point(GPUVM_SCHED_HOOK, name);
	pthread_mutex_lock(&hooks_lock);
	h = find(name, false);
	if (!h) {
		pthread_mutex_unlock(&hooks_lock);
		return;
	}
	h->hits++;
	pthread_cond_broadcast(&hooks_cond); /* for gpuvm_hook_wait_hits() */
	fn = h->fn;
	arg = h->arg;
	if (h->park_left) {
		if (h->park_left != GPUVM_HOOK_PARK_ALL)
			h->park_left--;
		h->parked++;
		generation = h->generation;
		pthread_cond_broadcast(&hooks_cond);
		while (h->generation == generation)
			pthread_cond_wait(&hooks_cond, &hooks_lock);
	}
	pthread_mutex_unlock(&hooks_lock);
	if (fn)
		fn(name, arg);
}

/* hooks_lock held. Arming a point again while nobody is parked there or
 * about to be starts its count anew. */
static struct hook *arm(const char *name)
{
	struct hook *h = find(name, true);

	if (h && !h->park_left && !h->parked)
		h->hits = 0;
	return h;
}

void gpuvm_hook_park(const char *name, unsigned int count)
{
	struct hook *h;

	pthread_mutex_lock(&hooks_lock);
	h = arm(name);
	if (h)
		h->park_left =
			count == GPUVM_HOOK_PARK_ALL ||
					h->park_left == GPUVM_HOOK_PARK_ALL ?
				GPUVM_HOOK_PARK_ALL :
				h->park_left + count;
	pthread_mutex_unlock(&hooks_lock);
	if (!h)
		gpuvm_warn(GPUVM_RULE_CHECKER,
			   "gpuvm_hook_park: more than %d hook points armed",
			   MAX_HOOKS);
}

void gpuvm_hook_count(const char *name)
{
	struct hook *h;

	pthread_mutex_lock(&hooks_lock);
	h = arm(name);
	pthread_mutex_unlock(&hooks_lock);
	if (!h)
		gpuvm_warn(GPUVM_RULE_CHECKER,
			   "gpuvm_hook_count: more than %d hook points armed",
			   MAX_HOOKS);
}

void gpuvm_hook_set_callback(const char *name,
			     void (*fn)(const char *name, void *arg), void *arg)
{
	struct hook *h;

	pthread_mutex_lock(&hooks_lock);
	h = find(name, true);
	if (h) {
		h->fn = fn;
		h->arg = arg;
	}
	pthread_mutex_unlock(&hooks_lock);
	if (!h)
		gpuvm_warn(GPUVM_RULE_CHECKER,
			   "gpuvm_hook_set_callback: more than %d hook points "
			   "armed",
			   MAX_HOOKS);
}

/* Wait until @name's @field (parked or hits) reaches @n; false after
 * WAIT_LIMIT_S, reported naming @func. */
static bool wait_for(const char *name, unsigned int n, bool hits,
		     const char *func)
{
	struct timespec deadline;
	struct hook *h;
	bool ok = true;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += WAIT_LIMIT_S;
	pthread_mutex_lock(&hooks_lock);
	while (!(h = find(name, false)) || (hits ? h->hits : h->parked) < n) {
		if (pthread_cond_timedwait(&hooks_cond, &hooks_lock,
					   &deadline)) {
			ok = false;
			break;
		}
	}
	pthread_mutex_unlock(&hooks_lock);
	if (!ok)
		gpuvm_warn(GPUVM_RULE_CHECKER,
			   "%s: '%s' reached fewer than %u times within %d s",
			   func, name, n, WAIT_LIMIT_S);
	return ok;
}

bool gpuvm_hook_wait_parked(const char *name, unsigned int n)
{
	return wait_for(name, n, false, "gpuvm_hook_wait_parked");
}

bool gpuvm_hook_wait_hits(const char *name, unsigned int n)
{
	return wait_for(name, n, true, "gpuvm_hook_wait_hits");
}

void gpuvm_hook_unpark(const char *name)
{
	struct hook *h;

	pthread_mutex_lock(&hooks_lock);
	h = find(name, false);
	if (h) {
		h->park_left = 0;
		h->parked = 0;
		h->generation++;
		pthread_cond_broadcast(&hooks_cond);
	}
	pthread_mutex_unlock(&hooks_lock);
}

/* hooks_lock held. */
static void release(struct hook *h)
{
	h->name = NULL;
	h->park_left = 0;
	h->parked = 0;
	h->generation++;
	__atomic_fetch_sub(&gpuvm_hooks_armed__, 1, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&hooks_cond);
}

void gpuvm_hook_release(const char *name)
{
	struct hook *h;

	pthread_mutex_lock(&hooks_lock);
	h = find(name, false);
	if (h)
		release(h);
	pthread_mutex_unlock(&hooks_lock);
}

unsigned long gpuvm_hook_hits(const char *name)
{
	unsigned long hits = 0;
	struct hook *h;

	pthread_mutex_lock(&hooks_lock);
	h = find(name, false);
	if (h)
		hits = h->hits;
	pthread_mutex_unlock(&hooks_lock);
	return hits;
}

void gpuvm_hook_reset(void)
{
	unsigned int i;

	pthread_mutex_lock(&hooks_lock);
	for (i = 0; i < MAX_HOOKS; i++)
		if (hooks[i].name)
			release(&hooks[i]);
	pthread_mutex_unlock(&hooks_lock);
}
