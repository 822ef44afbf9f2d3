// SPDX-License-Identifier: MIT
/*
 * Warnings and the debug checker.
 *
 * The checker keeps, per thread, the stack of locks the thread holds, and,
 * process wide, a directed graph of lock classes: an edge A -> B means some
 * thread once took B while holding A. A new edge that closes a cycle is a
 * possible deadlock and is reported once. It never allocates through the
 * checked allocator (that would recurse and disturb fault injection); it
 * uses plain malloc for its own bookkeeping.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gpuvm/debug.h>

#include "internal.h"

#define MAX_CLASSES 1024
#define ADJ_WORDS (MAX_CLASSES / 64)
#define SITE_LEN 96

/* Per-class state learned at run time. */
#define CLASS_SIGNALLING_SAFE (1u << 0) /* taken in a signalling section */
#define CLASS_WAITED_UNDER (1u << 1) /* held across a fence wait */
/* Held across a blocking allocation: reclaim may wait on fences, so to the
 * signalling rules this is a fence wait too (the kernel's fs_reclaim). */
#define CLASS_ALLOC_UNDER (1u << 2)

unsigned int gpuvm_slow__ = GPUVM_SLOW_DEBUG;

/* ---- warnings ---------------------------------------------------------- */

enum warn_mode { WARN_PRINT, WARN_ABORT, WARN_SILENT };

static atomic_ulong warn_counter;
static pthread_mutex_t handler_lock = PTHREAD_MUTEX_INITIALIZER;
static gpuvm_warn_handler_fn warn_handler;
static void *warn_handler_data;
static enum warn_mode warn_mode = WARN_PRINT;

void gpuvm_debug_read_environment__(void)
{
	const char *dbg = getenv("GPUVM_DEBUG");
	const char *warn = getenv("GPUVM_WARN");

	if (dbg && (!strcmp(dbg, "0") || !strcmp(dbg, "off")))
		gpuvm_slow_set(GPUVM_SLOW_DEBUG, false);
	if (warn && !strcmp(warn, "abort"))
		warn_mode = WARN_ABORT;
	else if (warn && !strcmp(warn, "silent"))
		warn_mode = WARN_SILENT;
	else
		warn_mode = WARN_PRINT;
}

__attribute__((constructor)) static void debug_constructor(void)
{
	gpuvm_debug_read_environment__();
}

GPUVM_EXPORT void gpuvm_warn_set_handler(gpuvm_warn_handler_fn fn, void *data)
{
	pthread_mutex_lock(&handler_lock);
	warn_handler = fn;
	warn_handler_data = data;
	pthread_mutex_unlock(&handler_lock);
}

GPUVM_EXPORT void gpuvm_warn(const char *rule, const char *fmt, ...)
{
	gpuvm_warn_handler_fn fn;
	char msg[1024];
	va_list ap;
	void *data;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	atomic_fetch_add(&warn_counter, 1);

	pthread_mutex_lock(&handler_lock);
	fn = warn_handler;
	data = warn_handler_data;
	pthread_mutex_unlock(&handler_lock);

	if (fn) {
		fn(rule, msg, data);
		return;
	}
	if (warn_mode == WARN_SILENT)
		return;
	fprintf(stderr, "libgpuvm: WARNING [%s] %s\n", rule, msg);
	if (warn_mode == WARN_ABORT)
		abort();
}

GPUVM_EXPORT unsigned long gpuvm_warn_count(void)
{
	return atomic_load(&warn_counter);
}

/* ---- switch ------------------------------------------------------------ */

GPUVM_EXPORT void gpuvm_debug_enable(bool enable)
{
	gpuvm_slow_set(GPUVM_SLOW_DEBUG, enable);
}

GPUVM_EXPORT bool gpuvm_debug_enabled(void)
{
	return gpuvm_debug_active();
}

/* ---- class graph ------------------------------------------------------- */

struct class_edge {
	unsigned int to;
	const void *from_ip; /* where the held lock was taken */
	const void *to_ip; /* where the new lock was taken */
};

struct class_info {
	const char *name;
	unsigned int state; /* CLASS_*, accessed atomically */
	struct class_edge *edges;
	unsigned int nr_edges, cap_edges;
};

static pthread_mutex_t graph_lock = PTHREAD_MUTEX_INITIALIZER;
static struct class_info classes[MAX_CLASSES]; /* index 0 unused */
static unsigned int nr_classes = 1;
static uint64_t adjacency[MAX_CLASSES][ADJ_WORDS];

/*
 * A call site as function+offset when dladdr() knows the function (an
 * exported symbol), else as module+offset (the file name's last part, the
 * offset from its load address, for addr2line), else the raw address.
 */
void gpuvm_format_site(char *buf, size_t len, const void *ip)
{
	Dl_info info;

	if (!ip || !dladdr(ip, &info)) {
		snprintf(buf, len, "%p", ip);
	} else if (info.dli_sname && info.dli_saddr) {
		snprintf(buf, len, "%s+0x%lx", info.dli_sname,
			 (unsigned long)((const char *)ip -
					 (const char *)info.dli_saddr));
	} else if (info.dli_fname && info.dli_fbase) {
		const char *base = strrchr(info.dli_fname, '/');

		snprintf(buf, len, "%s+0x%lx (%p)",
			 base ? base + 1 : info.dli_fname,
			 (unsigned long)((const char *)ip -
					 (const char *)info.dli_fbase),
			 ip);
	} else {
		snprintf(buf, len, "%p", ip);
	}
}

/* The class's id, assigning one on first use; 0 when out of ids. */
static unsigned int class_id(struct gpuvm_lock_class *cls)
{
	unsigned int id = __atomic_load_n(&cls->id, __ATOMIC_ACQUIRE);
	bool exhausted = false;

	if (likely(id))
		return id;

	pthread_mutex_lock(&graph_lock);
	id = cls->id;
	if (!id) {
		if (nr_classes < MAX_CLASSES) {
			id = nr_classes++;
			classes[id].name = cls->name;
			__atomic_store_n(&cls->id, id, __ATOMIC_RELEASE);
		} else {
			exhausted = true;
		}
	}
	pthread_mutex_unlock(&graph_lock);

	if (exhausted)
		gpuvm_warn(GPUVM_RULE_CHECKER,
			   "gpuvm_lock_acquire: more than %d lock classes; "
			   "lock order of '%s' is not checked",
			   MAX_CLASSES - 1, cls->name);
	return id;
}

static bool edge_known(unsigned int from, unsigned int to)
{
	uint64_t word =
		__atomic_load_n(&adjacency[from][to / 64], __ATOMIC_RELAXED);

	return word & (1ull << (to % 64));
}

/* Depth-first search for a path @from -> ... -> @to; graph_lock held.
 * On success *first is the first edge of the path. */
static bool path_exists(unsigned int from, unsigned int to, uint64_t *visited,
			const struct class_edge **first)
{
	struct class_info *ci = &classes[from];
	unsigned int i;

	if (from == to)
		return true;
	if (visited[from / 64] & (1ull << (from % 64)))
		return false;
	visited[from / 64] |= 1ull << (from % 64);

	for (i = 0; i < ci->nr_edges; i++) {
		const struct class_edge *unused;

		if (path_exists(ci->edges[i].to, to, visited, &unused)) {
			*first = &ci->edges[i];
			return true;
		}
	}
	return false;
}

struct cycle_report {
	bool found;
	const char *reverse_to;
	const void *reverse_from_ip, *reverse_to_ip;
};

/* Record edge from -> to; report whether it closed a cycle. */
static void add_edge(unsigned int from, unsigned int to, const void *from_ip,
		     const void *to_ip, struct cycle_report *report)
{
	uint64_t visited[ADJ_WORDS] = { 0 };
	const struct class_edge *first = NULL;
	struct class_info *ci = &classes[from];

	pthread_mutex_lock(&graph_lock);
	if (edge_known(from, to))
		goto out;

	if (path_exists(to, from, visited, &first) && first) {
		report->found = true;
		report->reverse_to = classes[first->to].name;
		report->reverse_from_ip = first->from_ip;
		report->reverse_to_ip = first->to_ip;
	}

	if (ci->nr_edges == ci->cap_edges) {
		unsigned int cap = ci->cap_edges ? 2 * ci->cap_edges : 8;
		struct class_edge *e = realloc(ci->edges, cap * sizeof(*e));

		if (!e)
			goto out; /* not learned now; maybe next time */
		ci->edges = e;
		ci->cap_edges = cap;
	}
	ci->edges[ci->nr_edges++] = (struct class_edge){ to, from_ip, to_ip };
	__atomic_or_fetch(&adjacency[from][to / 64], 1ull << (to % 64),
			  __ATOMIC_RELAXED);
out:
	pthread_mutex_unlock(&graph_lock);
}

static unsigned int class_state(unsigned int id)
{
	return id ? __atomic_load_n(&classes[id].state, __ATOMIC_RELAXED) : 0;
}

static void class_mark(unsigned int id, unsigned int bit)
{
	if (id && !(class_state(id) & bit))
		__atomic_or_fetch(&classes[id].state, bit, __ATOMIC_RELAXED);
}

/* ---- per-thread state -------------------------------------------------- */

struct held_lock {
	const struct gpuvm_lockdep_map *map;
	unsigned int class_id;
	unsigned int flags;
	const void *ip;
};

struct thread_state {
	struct held_lock *held;
	unsigned int depth, cap;
	unsigned int signalling; /* depth of signalling sections (0 or 1) */
};

static __thread struct thread_state ts
	__attribute__((tls_model("initial-exec")));
static pthread_key_t ts_key;
static pthread_once_t ts_key_once = PTHREAD_ONCE_INIT;

static void thread_state_release(void *arg)
{
	struct thread_state *t = arg;

	free(t->held);
	t->held = NULL;
	t->cap = 0;
	t->depth = 0;
}

static void thread_key_create(void)
{
	pthread_key_create(&ts_key, thread_state_release);
}

static bool held_push(const struct gpuvm_lockdep_map *map, unsigned int id,
		      unsigned int flags, const void *ip)
{
	if (ts.depth == ts.cap) {
		unsigned int cap = ts.cap ? 2 * ts.cap : 16;
		struct held_lock *h = realloc(ts.held, cap * sizeof(*h));

		if (!h) {
			gpuvm_warn(GPUVM_RULE_CHECKER,
				   "gpuvm_lock_acquire: out of memory for the "
				   "held-lock stack; '%s' is not tracked",
				   map->name);
			return false;
		}
		if (!ts.held) {
			pthread_once(&ts_key_once, thread_key_create);
			pthread_setspecific(ts_key, &ts);
		}
		ts.held = h;
		ts.cap = cap;
	}
	ts.held[ts.depth++] = (struct held_lock){ map, id, flags, ip };
	return true;
}

static int held_find(const struct gpuvm_lockdep_map *map)
{
	int i;

	for (i = (int)ts.depth - 1; i >= 0; i--)
		if (ts.held[i].map == map)
			return i;
	return -1;
}

/* ---- lock hooks -------------------------------------------------------- */

GPUVM_EXPORT void gpuvm_lockdep_init_map(struct gpuvm_lockdep_map *map,
					 const char *name,
					 struct gpuvm_lock_class *lock_class)
{
	map->lock_class = lock_class;
	map->name = name ? name : lock_class->name;
}

GPUVM_EXPORT void gpuvm_lockdep_fini_map(struct gpuvm_lockdep_map *map,
					 const char *func)
{
	char site[SITE_LEN];
	int i;

	if (!gpuvm_debug_active() || (i = held_find(map)) < 0)
		return;
	gpuvm_format_site(site, sizeof(site), ts.held[i].ip);
	gpuvm_warn(GPUVM_RULE_DESTROY_HELD,
		   "%s: destroying lock '%s' while this thread holds it "
		   "(taken at %s)",
		   func, map->name, site);
}

const void *gpuvm_lock_held_site(const struct gpuvm_lockdep_map *map)
{
	int i = gpuvm_debug_active() ? held_find(map) : -1;

	return i >= 0 ? ts.held[i].ip : NULL;
}

static void check_recursion(const struct gpuvm_lockdep_map *map,
			    unsigned int id, unsigned int flags)
{
	unsigned int i;
	char site[SITE_LEN];

	for (i = 0; i < ts.depth; i++) {
		const struct held_lock *h = &ts.held[i];

		if (h->map == map) {
			gpuvm_format_site(site, sizeof(site), h->ip);
			gpuvm_warn(GPUVM_RULE_RECURSIVE_LOCK,
				   "gpuvm_lock_acquire: taking '%s' which this "
				   "thread already holds (taken at %s)",
				   map->name, site);
			return;
		}
		if (id && h->class_id == id && !(flags & GPUVM_LOCK_ACQ_TRY) &&
		    !((flags & h->flags) & GPUVM_LOCK_ACQ_NEST)) {
			gpuvm_format_site(site, sizeof(site), h->ip);
			gpuvm_warn(GPUVM_RULE_RECURSIVE_LOCK,
				   "gpuvm_lock_acquire: taking '%s' while "
				   "holding '%s' of the same class '%s' (taken "
				   "at %s) without an acquire context",
				   map->name, h->map->name,
				   map->lock_class->name, site);
			return;
		}
	}
}

static void check_signalling(const struct gpuvm_lockdep_map *map,
			     unsigned int id, unsigned int flags)
{
	if (!ts.signalling)
		return;
	if (map->lock_class->flags & GPUVM_LOCK_CLASS_RESV)
		gpuvm_warn(GPUVM_RULE_SIGNALLING_RESV,
			   "gpuvm_lock_acquire: taking reservation lock '%s' "
			   "inside a fence signalling section",
			   map->name);
	/*
	 * A trylock never waits, so the section cannot come to depend on
	 * whoever holds the lock (lockdep adds no dependency for it either):
	 * neither the wait/alloc history of the class matters nor does the
	 * class become one that signalling paths take.
	 */
	if (flags & GPUVM_LOCK_ACQ_TRY)
		return;
	if (class_state(id) & CLASS_WAITED_UNDER)
		gpuvm_warn(GPUVM_RULE_SIGNALLING_LOCK_WAIT,
			   "gpuvm_lock_acquire: taking '%s' inside a fence "
			   "signalling section, but its class '%s' was held "
			   "while waiting on a fence",
			   map->name, map->lock_class->name);
	if (class_state(id) & CLASS_ALLOC_UNDER)
		gpuvm_warn(GPUVM_RULE_SIGNALLING_LOCK_ALLOC,
			   "gpuvm_lock_acquire: taking '%s' inside a fence "
			   "signalling section, but its class '%s' was held "
			   "while allocating memory that may block",
			   map->name, map->lock_class->name);
	class_mark(id, CLASS_SIGNALLING_SAFE);
}

static void learn_order(const struct gpuvm_lockdep_map *map, unsigned int id,
			const void *ip)
{
	char site_a[SITE_LEN], site_b[SITE_LEN], site_c[SITE_LEN],
		site_d[SITE_LEN];
	unsigned int i;

	for (i = 0; i < ts.depth; i++) {
		const struct held_lock *h = &ts.held[i];
		struct cycle_report r = { 0 };

		if (!h->class_id || h->class_id == id ||
		    edge_known(h->class_id, id))
			continue;
		add_edge(h->class_id, id, h->ip, ip, &r);
		if (!r.found)
			continue;
		gpuvm_format_site(site_a, sizeof(site_a), ip);
		gpuvm_format_site(site_b, sizeof(site_b), h->ip);
		gpuvm_format_site(site_c, sizeof(site_c), r.reverse_from_ip);
		gpuvm_format_site(site_d, sizeof(site_d), r.reverse_to_ip);
		gpuvm_warn(GPUVM_RULE_LOCK_ORDER,
			   "gpuvm_lock_acquire: possible deadlock: taking "
			   "class '%s' at %s while holding class '%s' (taken "
			   "at %s), but earlier '%s' was held (taken at %s) "
			   "while taking '%s' at %s",
			   map->lock_class->name, site_a,
			   h->map->lock_class->name, site_b,
			   map->lock_class->name, site_c, r.reverse_to, site_d);
	}
}

GPUVM_EXPORT void gpuvm_lock_acquire(struct gpuvm_lockdep_map *map,
				     unsigned int flags, const void *ip)
{
	unsigned int id;

	if (!gpuvm_debug_active())
		return;

	id = class_id(map->lock_class);
	check_recursion(map, id, flags);
	check_signalling(map, id, flags);
	if (id && !(flags & GPUVM_LOCK_ACQ_TRY))
		learn_order(map, id, ip);
	held_push(map, id, flags, ip);
}

GPUVM_EXPORT bool gpuvm_lock_release(struct gpuvm_lockdep_map *map,
				     const char *func)
{
	int i;

	if (!gpuvm_debug_active())
		return true;

	i = held_find(map);
	if (i < 0) {
		gpuvm_warn(GPUVM_RULE_UNLOCK_UNHELD,
			   "%s: releasing '%s' which this thread does not hold",
			   func, map->name);
		return false;
	}
	memmove(&ts.held[i], &ts.held[i + 1],
		(ts.depth - (unsigned int)i - 1) * sizeof(ts.held[0]));
	ts.depth--;
	return true;
}

GPUVM_EXPORT bool gpuvm_lock_is_held(const struct gpuvm_lockdep_map *map)
{
	if (!gpuvm_debug_active())
		return true;
	return held_find(map) >= 0;
}

GPUVM_EXPORT void gpuvm_lock_assert_held(const struct gpuvm_lockdep_map *map,
					 const char *func)
{
	if (gpuvm_debug_active() && held_find(map) < 0)
		gpuvm_warn(GPUVM_RULE_LOCK_NOT_HELD, "%s: lock '%s' not held",
			   func, map->name);
}

GPUVM_EXPORT void
gpuvm_lock_assert_not_held(const struct gpuvm_lockdep_map *map,
			   const char *func)
{
	char site[SITE_LEN];
	int i;

	if (!gpuvm_debug_active() || (i = held_find(map)) < 0)
		return;
	gpuvm_format_site(site, sizeof(site), ts.held[i].ip);
	gpuvm_warn(GPUVM_RULE_LOCK_HELD,
		   "%s: lock '%s' must not be held here (taken at %s)", func,
		   map->name, site);
}

GPUVM_EXPORT unsigned int gpuvm_lock_held_count(void)
{
	return gpuvm_debug_active() ? ts.depth : 0;
}

/* ---- signalling sections ----------------------------------------------- */

GPUVM_EXPORT bool gpuvm_dma_fence_begin_signalling(void)
{
	if (ts.signalling)
		return true;
	ts.signalling = 1;
	return false;
}

GPUVM_EXPORT void gpuvm_dma_fence_end_signalling(bool cookie)
{
	if (cookie)
		return;
	if (!ts.signalling) {
		if (gpuvm_debug_active())
			gpuvm_warn(GPUVM_RULE_SIGNALLING_UNBALANCED,
				   "gpuvm_dma_fence_end_signalling: not in a "
				   "signalling section");
		return;
	}
	ts.signalling = 0;
}

GPUVM_EXPORT bool gpuvm_in_signalling_section(void)
{
	return ts.signalling != 0;
}

GPUVM_EXPORT void gpuvm_might_alloc(const char *func)
{
	unsigned int i;

	if (likely(!ts.depth && !ts.signalling) || !gpuvm_debug_active())
		return;
	if (ts.signalling)
		gpuvm_warn(GPUVM_RULE_SIGNALLING_ALLOC,
			   "%s: allocation that may block inside a fence "
			   "signalling section",
			   func);
	for (i = 0; i < ts.depth; i++) {
		const struct held_lock *h = &ts.held[i];

		/* A resv inside a section has its own rule. */
		if (h->map->lock_class->flags & GPUVM_LOCK_CLASS_RESV)
			continue;
		if (class_state(h->class_id) & CLASS_SIGNALLING_SAFE)
			gpuvm_warn(
				GPUVM_RULE_SIGNALLING_LOCK_ALLOC,
				"%s: allocation that may block while holding "
				"'%s', whose class '%s' is taken inside "
				"fence signalling sections",
				func, h->map->name, h->map->lock_class->name);
		class_mark(h->class_id, CLASS_ALLOC_UNDER);
	}
}

GPUVM_EXPORT void gpuvm_might_wait_fence(const char *func)
{
	unsigned int i;

	if (!gpuvm_debug_active())
		return;
	if (ts.signalling)
		gpuvm_warn(GPUVM_RULE_SIGNALLING_WAIT,
			   "%s: waiting on a fence inside a fence signalling "
			   "section",
			   func);
	for (i = 0; i < ts.depth; i++) {
		const struct held_lock *h = &ts.held[i];

		if (class_state(h->class_id) & CLASS_SIGNALLING_SAFE)
			gpuvm_warn(GPUVM_RULE_SIGNALLING_LOCK_WAIT,
				   "%s: waiting on a fence while holding '%s', "
				   "whose class '%s' is taken inside fence "
				   "signalling sections",
				   func, h->map->name,
				   h->map->lock_class->name);
		class_mark(h->class_id, CLASS_WAITED_UNDER);
	}
}

/* ---- graph queries and reset (tests) ------------------------------------ */

GPUVM_EXPORT bool
gpuvm_lockdep_order_known(const struct gpuvm_lock_class *held,
			  const struct gpuvm_lock_class *taken)
{
	unsigned int from = __atomic_load_n(&held->id, __ATOMIC_ACQUIRE);
	unsigned int to = __atomic_load_n(&taken->id, __ATOMIC_ACQUIRE);

	return from && to && edge_known(from, to);
}

GPUVM_EXPORT void gpuvm_lockdep_reset(void)
{
	unsigned int i, w;

	pthread_mutex_lock(&graph_lock);
	for (i = 0; i < nr_classes; i++) {
		classes[i].nr_edges = 0;
		__atomic_store_n(&classes[i].state, 0, __ATOMIC_RELAXED);
		for (w = 0; w < ADJ_WORDS; w++)
			__atomic_store_n(&adjacency[i][w], 0, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&graph_lock);
}

/* ---- test knobs (internal library only) -------------------------------- */

#ifdef GPUVM_TEST_KNOBS
unsigned int gpuvm_test_knobs__;

void gpuvm_debug_set_knob(enum gpuvm_debug_knob knob, bool on)
{
	unsigned int bit;

	if ((unsigned int)knob >= GPUVM_KNOB_COUNT__)
		return;
	bit = 1u << knob;
	if (on)
		__atomic_or_fetch(&gpuvm_test_knobs__, bit, __ATOMIC_RELAXED);
	else
		__atomic_and_fetch(&gpuvm_test_knobs__, ~bit, __ATOMIC_RELAXED);
}
#endif
