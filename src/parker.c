// SPDX-License-Identifier: MIT
/*
 * Per-thread parkers and the interrupt test hook.
 *
 * Parkers are kept in a registry so that gpuvm_interrupt_thread() can
 * find a thread's parker, or create it ahead of the thread's first wait
 * (an interrupt then hits the thread's next interruptible wait). They are
 * library bookkeeping, not objects: allocated with plain calloc so they
 * never take part in fault injection or leak counts, and freed when their
 * thread exits.
 */
#include <errno.h>
#include <stdlib.h>

#include "parker.h"

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct gpuvm_list_head registry = GPUVM_LIST_HEAD_INIT(registry);
static pthread_key_t parker_key;
static pthread_once_t parker_key_once = PTHREAD_ONCE_INIT;
static __thread struct gpuvm_parker *self_parker;

static void parker_destroy(void *arg)
{
	struct gpuvm_parker *p = arg;

	pthread_mutex_lock(&registry_lock);
	gpuvm_list_del(&p->node);
	pthread_mutex_unlock(&registry_lock);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

static void parker_key_create(void)
{
	pthread_key_create(&parker_key, parker_destroy);
}

/* registry_lock held. */
static struct gpuvm_parker *parker_lookup_or_create(pthread_t thread)
{
	struct gpuvm_parker *p;
	pthread_condattr_t attr;

	gpuvm_list_for_each_entry(p, &registry, node)
		if (pthread_equal(p->thread, thread))
			return p;

	p = calloc(1, sizeof(*p));
	if (!p)
		abort(); /* a few bytes per thread; nothing sane to do */
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &attr);
	pthread_condattr_destroy(&attr);
	p->thread = thread;
	gpuvm_list_add_tail(&p->node, &registry);
	return p;
}

struct gpuvm_parker *gpuvm_parker_self(void)
{
	struct gpuvm_parker *p = self_parker;

	if (likely(p))
		return p;

	pthread_once(&parker_key_once, parker_key_create);
	pthread_mutex_lock(&registry_lock);
	p = parker_lookup_or_create(pthread_self());
	pthread_mutex_unlock(&registry_lock);
	pthread_setspecific(parker_key, p);
	self_parker = p;
	return p;
}

static bool past(const struct timespec *deadline)
{
	struct timespec now;

	if (!deadline)
		return false;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > deadline->tv_sec ||
	       (now.tv_sec == deadline->tv_sec &&
		now.tv_nsec >= deadline->tv_nsec);
}

int gpuvm_parker_park(struct gpuvm_parker *p, unsigned int snapshot,
		      bool interruptible, const struct timespec *deadline)
{
	int ret = 0;

	if (gpuvm_sched_managed()) {
		/* Under an explorer: no timeout, the unpark wakes us. */
		for (;;) {
			if (__atomic_load_n(&p->epoch, __ATOMIC_ACQUIRE) !=
			    snapshot)
				return 0;
			if (interruptible &&
			    gpuvm_parker_take_interrupt(p) == -EINTR)
				return -EINTR;
			gpuvm_sched_block__(p);
		}
	}

	pthread_mutex_lock(&p->lock);
	for (;;) {
		if (__atomic_load_n(&p->epoch, __ATOMIC_ACQUIRE) != snapshot)
			break;
		if (interruptible && p->interrupt) {
			p->interrupt = false;
			ret = -EINTR;
			break;
		}
		if (past(deadline)) {
			ret = -ETIMEDOUT;
			break;
		}
		if (deadline)
			pthread_cond_timedwait(&p->cond, &p->lock, deadline);
		else
			pthread_cond_wait(&p->cond, &p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return ret;
}

void gpuvm_parker_unpark(struct gpuvm_parker *p)
{
	pthread_mutex_lock(&p->lock);
	__atomic_fetch_add(&p->epoch, 1, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	gpuvm_sched_wake(p);
}

int gpuvm_parker_take_interrupt(struct gpuvm_parker *p)
{
	int ret = 0;

	pthread_mutex_lock(&p->lock);
	if (p->interrupt) {
		p->interrupt = false;
		ret = -EINTR;
	}
	pthread_mutex_unlock(&p->lock);
	return ret;
}

void gpuvm_deadline_from_now(struct timespec *ts, uint64_t timeout_ns)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t)(timeout_ns / 1000000000u);
	ts->tv_nsec += (long)(timeout_ns % 1000000000u);
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

GPUVM_EXPORT void gpuvm_interrupt_thread(pthread_t thread)
{
	struct gpuvm_parker *p;

	pthread_mutex_lock(&registry_lock);
	p = parker_lookup_or_create(thread);
	pthread_mutex_lock(&p->lock);
	p->interrupt = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_mutex_unlock(&registry_lock);
}

GPUVM_EXPORT void gpuvm_interrupt_clear(void)
{
	gpuvm_parker_take_interrupt(gpuvm_parker_self());
}
