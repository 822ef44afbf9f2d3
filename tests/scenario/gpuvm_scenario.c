// SPDX-License-Identifier: MIT
/*
 * The scenario harness: the Rust GPUVM layer's C call sequences, the
 * recorder behind the driver's callbacks, counted and poisoned objects, and
 * the runner. See gpuvm_scenario.h.
 *
 * Only the public libgpuvm API is used here (and the warning recorder of
 * tests/harness/warn_recorder.c, which needs nothing else), so the file
 * builds against the installed library as well as inside the test suite.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <gpuvm/testing.h>
#include "gpuvm_scenario.h"
#include "warn_recorder.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static void inc(unsigned int *p)
{
	__atomic_fetch_add(p, 1, __ATOMIC_RELAXED);
}

static void set_int(int *p, int v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

static int get_int(const int *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* ---- warnings ----------------------------------------------------------- */

/* The recorder is shared with the CMocka harness (warn_recorder.h). */

unsigned int scn_warnings(const char *rule)
{
	return warn_recorder_count(rule);
}

unsigned int scn_take_warnings(const char *rule)
{
	return warn_recorder_take(rule);
}

const char *scn_last_warning(const char *rule)
{
	return warn_recorder_last(rule);
}

/* ---- checks and notes --------------------------------------------------- */

static pthread_mutex_t result_lock = PTHREAD_MUTEX_INITIALIZER;

void scn_check__(struct scn_result *r, bool ok, const char *file, int line,
		 const char *expr, const char *fmt, ...)
{
	char detail[192];
	const char *base = strrchr(file, '/');
	va_list ap;

	pthread_mutex_lock(&result_lock);
	r->checks++;
	if (ok) {
		pthread_mutex_unlock(&result_lock);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (r->failures < SCN_MAX_FAILURES)
		snprintf(r->failure[r->failures], sizeof(r->failure[0]),
			 "%s:%d: %s (%s)", base ? base + 1 : file, line, detail,
			 expr);
	r->failures++;
	pthread_mutex_unlock(&result_lock);
}

void scn_note(struct scn_result *r, const char *key, long value)
{
	unsigned int i;

	pthread_mutex_lock(&result_lock);
	for (i = 0; i < r->nr_notes; i++) {
		if (!strcmp(r->notes[i].key, key)) {
			r->notes[i].value = value;
			goto out;
		}
	}
	if (r->nr_notes < SCN_MAX_NOTES)
		r->notes[r->nr_notes++] = (struct scn_note){ key, value };
out:
	pthread_mutex_unlock(&result_lock);
}

long scn_get_note(const struct scn_result *r, const char *key)
{
	unsigned int i;

	for (i = 0; i < r->nr_notes; i++)
		if (!strcmp(r->notes[i].key, key))
			return r->notes[i].value;
	return -1;
}

/* ---- events and threads ------------------------------------------------- */

static pthread_mutex_t event_lock = PTHREAD_MUTEX_INITIALIZER;
static char event_log[4096];
static size_t event_len;

void scn_event(const char *fmt, ...)
{
	char tok[64];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(tok, sizeof(tok), fmt, ap);
	va_end(ap);
	n = strlen(tok);
	pthread_mutex_lock(&event_lock);
	if (event_len + n + 2 < sizeof(event_log)) {
		memcpy(event_log + event_len, tok, n);
		event_log[event_len + n] = ' ';
		event_len += n + 1;
		event_log[event_len] = '\0';
	}
	pthread_mutex_unlock(&event_lock);
}

int scn_event_pos(const char *token)
{
	char needle[66];
	const char *p;
	int pos = -1;

	snprintf(needle, sizeof(needle), " %s ", token);
	pthread_mutex_lock(&event_lock);
	/* The log starts with a token: match it with a leading space too. */
	if (!strncmp(event_log, needle + 1, strlen(needle + 1)))
		pos = 0;
	else if ((p = strstr(event_log, needle)))
		pos = (int)(p - event_log) + 1;
	pthread_mutex_unlock(&event_lock);
	return pos;
}

const char *scn_events(void)
{
	return event_log;
}

static __thread int thread_tag;

void scn_set_thread_tag(int tag)
{
	thread_tag = tag;
}

int scn_thread_tag(void)
{
	return thread_tag;
}

struct thread_box {
	pthread_t tid;
	void (*fn)(unsigned int i, void *arg);
	void *arg;
	int tag;
};

static void *thread_main(void *p)
{
	struct thread_box *box = p;

	thread_tag = box->tag;
	box->fn((unsigned int)box->tag - 1, box->arg);
	return NULL;
}

void scn_thread_start(struct scn_thread *t, int tag,
		      void (*fn)(unsigned int i, void *arg), void *arg)
{
	struct thread_box *box = calloc(1, sizeof(*box));

	if (!box)
		abort();
	box->fn = fn;
	box->arg = arg;
	box->tag = tag;
	if (pthread_create(&box->tid, NULL, thread_main, box))
		abort();
	t->handle__ = box;
}

void scn_thread_join(struct scn_thread *t)
{
	struct thread_box *box = t->handle__;

	pthread_join(box->tid, NULL);
	free(box);
	t->handle__ = NULL;
}

void scn_run_threads(unsigned int n, void (*fn)(unsigned int i, void *arg),
		     void *arg)
{
	struct scn_thread t[8];
	unsigned int i;

	if (n > ARRAY_LEN(t))
		abort();
	for (i = 0; i < n; i++)
		scn_thread_start(&t[i], (int)i + 1, fn, arg);
	for (i = 0; i < n; i++)
		scn_thread_join(&t[i]);
}

/* ---- knobs -------------------------------------------------------------- */

static unsigned int knobs;
static int prealloc_drop = SCN_DROP_DEFERRED;

void scn_set_knob(enum scn_knob knob, bool on)
{
	if (on)
		__atomic_or_fetch(&knobs, 1u << knob, __ATOMIC_RELAXED);
	else
		__atomic_and_fetch(&knobs, ~(1u << knob), __ATOMIC_RELAXED);
}

bool scn_knob(enum scn_knob knob)
{
	return __atomic_load_n(&knobs, __ATOMIC_RELAXED) & (1u << knob);
}

void scn_set_prealloc_drop(enum scn_prealloc_drop how)
{
	set_int(&prealloc_drop, how);
}

/* ---- live counts and the graveyard -------------------------------------- */

static long live_vms, live_gems, live_vm_bos, live_vas, live_devs;
static long pinned_pages;

static void live_add(long *counter, long n)
{
	__atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

static long live_get(const long *counter)
{
	return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

long scn_vas_alive(void)
{
	return live_get(&live_vas);
}

long scn_pinned_pages(void)
{
	return live_get(&pinned_pages);
}

void scn_live(struct scn_live *live)
{
	live->vms = live_get(&live_vms);
	live->gems = live_get(&live_gems);
	live->vm_bos = live_get(&live_vm_bos);
	live->vas = live_get(&live_vas);
	live->pinned_pages = live_get(&pinned_pages);
	live->devs = live_get(&live_devs);
}

long scn_leak_report(const struct scn_live *base, const char *when)
{
	struct scn_live now;
	long n;

	scn_live(&now);
	n = (now.vms - base->vms) + (now.gems - base->gems) +
	    (now.vm_bos - base->vm_bos) + (now.vas - base->vas) +
	    (now.devs - base->devs);
	if (n > 0)
		gpuvm_warn(SCN_RULE_LEAK,
			   "%s: still alive: %ld VM(s), %ld GEM(s), %ld "
			   "vm_bo(s), %ld VA(s), %ld device(s); %ld pinned "
			   "page(s)",
			   when, now.vms - base->vms, now.gems - base->gems,
			   now.vm_bos - base->vm_bos, now.vas - base->vas,
			   now.devs - base->devs,
			   now.pinned_pages - base->pinned_pages);
	return n > 0 ? n : 0;
}

/* Released objects whose memory is kept until the end of the run. */
static pthread_mutex_t grave_lock = PTHREAD_MUTEX_INITIALIZER;
static struct scn_vm *all_vms;
static struct scn_gem *all_gems;
struct dev_box {
	struct scn_dev dev;
	struct dev_box *next;
};
static struct dev_box *all_devs;

/* ---- devices ------------------------------------------------------------ */

struct scn_dev *scn_dev_new(const char *name)
{
	struct dev_box *box = calloc(1, sizeof(*box));

	if (!box)
		return NULL;
	box->dev.magic = SCN_DEV_MAGIC;
	box->dev.refcount = 1;
	snprintf(box->dev.name, sizeof(box->dev.name), "%s", name);
	live_add(&live_devs, 1);
	pthread_mutex_lock(&grave_lock);
	box->next = all_devs;
	all_devs = box;
	pthread_mutex_unlock(&grave_lock);
	return &box->dev;
}

static bool dev_check(const struct scn_dev *dev, const char *func)
{
	if (__atomic_load_n(&dev->magic, __ATOMIC_RELAXED) == SCN_DEV_MAGIC)
		return true;
	gpuvm_warn(SCN_RULE_USE_AFTER_FREE,
		   "%s: device %p used after its release", func,
		   (const void *)dev);
	return false;
}

void scn_dev_get(struct scn_dev *dev)
{
	if (dev_check(dev, "scn_dev_get"))
		__atomic_fetch_add(&dev->refcount, 1, __ATOMIC_RELAXED);
}

void scn_dev_put(struct scn_dev *dev)
{
	if (!dev || !dev_check(dev, "scn_dev_put"))
		return;
	if (__atomic_sub_fetch(&dev->refcount, 1, __ATOMIC_ACQ_REL))
		return;
	scn_event("D");
	live_add(&live_devs, -1);
	/* Poisoned, kept: a late use is reported, not undefined. */
	memset(dev, GPUVM_POISON_FREE, sizeof(*dev));
}

bool scn_dev_released(const struct scn_dev *dev)
{
	return __atomic_load_n(&dev->magic, __ATOMIC_RELAXED) != SCN_DEV_MAGIC;
}

const char *scn_dev_name(const struct scn_dev *dev, const char *func)
{
	return dev_check(dev, func) ? dev->name : "(released)";
}

/* ---- GEM objects -------------------------------------------------------- */

static void gem_free(struct gpuvm_gem_object *obj)
{
	struct scn_gem *g = scn_gem_of(obj);

	set_int(&g->freed, 1);
	live_add(&pinned_pages, -(long)g->pages);
	live_add(&live_gems, -1);
	scn_event("F:%c", g->name);
	g->magic = 0;
	/* The library reports any later get/put as a use after free. */
	__atomic_store_n(&g->base.refcount, GPUVM_POISON_INT, __ATOMIC_RELAXED);
}

static const struct gpuvm_gem_object_funcs gem_funcs = { .free = gem_free };

struct scn_gem *scn_gem_new(char name, struct gpuvm_dma_resv *resv,
			    unsigned long pages)
{
	struct scn_gem *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	gpuvm_gem_object_init_shared_resv(&g->base, &gem_funcs, pages * 4096,
					  resv);
	g->magic = SCN_GEM_MAGIC;
	g->name = name;
	g->pages = pages;
	live_add(&pinned_pages, (long)pages);
	live_add(&live_gems, 1);
	pthread_mutex_lock(&grave_lock);
	g->next__ = all_gems;
	all_gems = g;
	pthread_mutex_unlock(&grave_lock);
	return g;
}

void scn_gem_get(struct scn_gem *g)
{
	gpuvm_gem_object_get(&g->base);
}

void scn_gem_put(struct scn_gem *g)
{
	gpuvm_gem_object_put(&g->base);
}

bool scn_gem_freed(const struct scn_gem *g)
{
	return get_int(&g->freed);
}

int scn_gem_refcount(const struct scn_gem *g)
{
	return gpuvm_gem_object_refcount(&g->base);
}

/* ---- the vm_bo registry: family, size, data state ----------------------- */

struct bo_rec {
	struct gpuvm_bo *bo;
	size_t size;
	bool driver_alloc;
	bool data_init;
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct bo_rec *recs;
static unsigned int nr_recs, cap_recs;

/* reg_lock held. */
static struct bo_rec *reg_find(const struct gpuvm_bo *bo)
{
	unsigned int i;

	for (i = 0; i < nr_recs; i++)
		if (recs[i].bo == bo)
			return &recs[i];
	return NULL;
}

static void reg_add(struct gpuvm_bo *bo, size_t size, bool driver_alloc)
{
	pthread_mutex_lock(&reg_lock);
	if (!reg_find(bo)) {
		if (nr_recs == cap_recs) {
			unsigned int cap = cap_recs ? 2 * cap_recs : 64;
			struct bo_rec *r = realloc(recs, cap * sizeof(*r));

			if (!r)
				abort();
			recs = r;
			cap_recs = cap;
		}
		recs[nr_recs++] =
			(struct bo_rec){ bo, size, driver_alloc, false };
		live_add(&live_vm_bos, 1);
	}
	pthread_mutex_unlock(&reg_lock);
}

static void reg_set_data_init(struct gpuvm_bo *bo)
{
	struct bo_rec *r;

	pthread_mutex_lock(&reg_lock);
	r = reg_find(bo);
	if (r)
		r->data_init = true;
	pthread_mutex_unlock(&reg_lock);
}

/* Remove @bo; return what was recorded (bo NULL when unknown). */
static struct bo_rec reg_del(struct gpuvm_bo *bo)
{
	struct bo_rec out = { 0 }, *r;

	pthread_mutex_lock(&reg_lock);
	r = reg_find(bo);
	if (r) {
		out = *r;
		*r = recs[--nr_recs];
		live_add(&live_vm_bos, -1);
	}
	pthread_mutex_unlock(&reg_lock);
	return out;
}

/* ---- the Rust layout decision (ALLOC_FN / FREE_FN) ---------------------- */

static size_t layout_size(const struct scn_driver *drv)
{
	return drv->vm_bo_size ? drv->vm_bo_size : sizeof(struct gpuvm_bo);
}

static size_t layout_align(const struct scn_driver *drv)
{
	return drv->vm_bo_align ? drv->vm_bo_align : _Alignof(struct gpuvm_bo);
}

static size_t data_offset(const struct scn_driver *drv)
{
	size_t a = layout_align(drv);

	return (sizeof(struct gpuvm_bo) + a - 1) / a * a;
}

static size_t data_size(const struct scn_driver *drv)
{
	size_t size = layout_size(drv), off = data_offset(drv);

	return size > off ? size - off : 0;
}

static bool uses_driver_alloc(const struct scn_driver *drv)
{
	return drv->vm_bo_alloc ||
	       layout_size(drv) != sizeof(struct gpuvm_bo) ||
	       layout_align(drv) != _Alignof(struct gpuvm_bo);
}

static bool uses_driver_free(const struct scn_driver *drv)
{
	return drv->vm_bo_free || drv->vm_bo_data_drop;
}

void *scn_bo_data(struct gpuvm_bo *vm_bo)
{
	const struct scn_driver *drv = scn_vm_of(vm_bo->vm)->drv;

	return data_size(drv) ? (char *)vm_bo + data_offset(drv) : NULL;
}

/* gpuvm_bo_create() runs the allocation hook on the creating thread. */
static __thread struct scn_vm *creating_vm;

static struct gpuvm_bo *tramp_vm_bo_alloc(void)
{
	struct scn_vm *vm = creating_vm;
	const struct scn_driver *drv;
	struct gpuvm_bo *bo;

	if (!vm) {
		gpuvm_warn(SCN_RULE_FREE_FAMILY,
			   "vm_bo_alloc: called outside scn_bo_alloc_new()");
		return NULL;
	}
	drv = vm->drv;
	bo = drv->vm_bo_alloc ?
		     drv->vm_bo_alloc() :
		     gpuvm_kzalloc(layout_size(drv), GPUVM_GFP_KERNEL);
	if (!bo)
		return NULL;
	inc(&vm->stats.alloc_driver);
	reg_add(bo, layout_size(drv), true);
	return bo;
}

static void tramp_vm_bo_free(struct gpuvm_bo *bo)
{
	struct scn_vm *vm = scn_vm_of(bo->vm);
	const struct scn_driver *drv = vm->drv;
	struct gpuvm_gem_object *obj = bo->obj;
	struct bo_rec rec;
	size_t freed_size;

	inc(&vm->stats.frees);
	set_int(&vm->stats.last_free_thread, thread_tag);
	if (gpuvm_lock_is_held(&obj->gpuva.lock.dep_map) &&
	    gpuvm_debug_enabled())
		inc(&vm->stats.frees_gpuva_held);
	if (gpuvm_debug_enabled() && gpuvm_dma_resv_held(gpuvm_resv(bo->vm)))
		inc(&vm->stats.frees_vm_resv_held);
	if (gpuvm_in_signalling_section())
		inc(&vm->stats.frees_signalling);
	/* The contract vm.h states for cleanup and obtain_prealloc. */
	gpuvm_lock_assert_not_held(&obj->gpuva.lock.dep_map, "vm_bo_free");

	rec = reg_del(bo);
	if (drv->vm_bo_data_drop) {
		if (rec.bo && !rec.data_init) {
			gpuvm_warn(SCN_RULE_DATA_UNINIT,
				   "vm_bo_free: vm_bo %p freed with its driver "
				   "data never initialised; its destructor "
				   "would read garbage",
				   (void *)bo);
		} else {
			inc(&vm->stats.data_drops);
			set_int(&vm->stats.last_drop_thread, thread_tag);
			drv->vm_bo_data_drop(bo, scn_bo_data(bo));
		}
	}

	if (drv->vm_bo_free) {
		inc(&vm->stats.free_driver);
		drv->vm_bo_free(bo);
		return;
	}
	if (uses_driver_free(drv)) {
		/* A sized free (KBox drop): the layout must match. */
		inc(&vm->stats.free_driver);
		freed_size = scn_knob(SCN_KNOB_FREE_WITH_C_SIZE) ?
				     sizeof(struct gpuvm_bo) :
				     layout_size(drv);
		if (rec.bo && rec.size != freed_size)
			gpuvm_warn(SCN_RULE_FREE_FAMILY,
				   "vm_bo_free: vm_bo %p allocated with %zu "
				   "bytes (%s) freed as %zu bytes",
				   (void *)bo, rec.size,
				   rec.driver_alloc ? "driver hook" : "C",
				   freed_size);
		gpuvm_kfree(bo);
		return;
	}
	inc(&vm->stats.free_c);
	gpuvm_kfree(bo);
}

/* ---- VMs ---------------------------------------------------------------- */

static struct gpuvm_lock_class va_lock_class =
	GPUVM_LOCK_CLASS_INIT("scn_va_lock", 0);

static int tramp_step(int kind, struct gpuva_op *op, void *priv);

static int tramp_step_map(struct gpuva_op *op, void *priv)
{
	return tramp_step(GPUVA_OP_MAP, op, priv);
}

static int tramp_step_remap(struct gpuva_op *op, void *priv)
{
	return tramp_step(GPUVA_OP_REMAP, op, priv);
}

static int tramp_step_unmap(struct gpuva_op *op, void *priv)
{
	return tramp_step(GPUVA_OP_UNMAP, op, priv);
}

static void tramp_vm_free(struct gpuvm *gpuvm)
{
	struct scn_vm *vm = scn_vm_of(gpuvm);
	struct scn_dev *dev = vm->dev;

	inc(&vm->stats.vm_frees);
	set_int(&vm->stats.vm_free_thread, thread_tag);
	if (vm->drv->vm_data_drop) {
		inc(&vm->stats.vm_data_drops);
		vm->drv->vm_data_drop(vm);
	}
	/* The VM may be freed late: its device must still be there. */
	if (dev)
		snprintf(vm->dev_name_at_free, sizeof(vm->dev_name_at_free),
			 "%s", scn_dev_name(dev, "vm_free"));
	scn_event("V");
	live_add(&live_vms, -1);
	set_int(&vm->freed, 1);
	/* As drm_gpuvm_free: the device reference goes after vm_free. */
	if (dev && vm->dev_ref__)
		scn_dev_put(dev);
}

struct scn_vm *scn_vm_new(const struct scn_driver *drv, struct scn_dev *dev,
			  struct scn_gem *r_obj, uint64_t start, uint64_t range,
			  uint64_t kstart, uint64_t krange, unsigned int flags)
{
	enum gpuvm_flags vm_flags = GPUVM_RESV_PROTECTED;
	struct scn_gem *own = NULL;
	struct scn_vm *vm;

	if (layout_size(drv) < sizeof(struct gpuvm_bo) ||
	    layout_align(drv) > _Alignof(max_align_t)) {
		/* Rust rejects this layout at compile time. */
		gpuvm_warn(SCN_RULE_FREE_FAMILY,
			   "scn_vm_new: driver '%s': vm_bo layout of %zu "
			   "bytes aligned %zu cannot hold struct gpuvm_bo",
			   drv->name, layout_size(drv), layout_align(drv));
		return NULL;
	}
	if (flags & SCN_VM_POISONED_ALLOC) {
		/* What an allocation without __GFP_ZERO may hold (C-15). */
		vm = malloc(sizeof(*vm));
		if (vm) {
			memset(vm, 0, sizeof(*vm));
			memset(&vm->base, GPUVM_POISON_FREE, sizeof(vm->base));
		}
	} else {
		vm = calloc(1, sizeof(*vm));
	}
	if (!vm)
		return NULL;
	if (!r_obj)
		r_obj = own = scn_gem_new('R', NULL, 0);
	if (!r_obj) {
		free(vm);
		return NULL;
	}
	vm->drv = drv;
	vm->data = drv->vm_data_new ? drv->vm_data_new() : NULL;
	vm->ops.vm_free = tramp_vm_free;
	vm->ops.vm_bo_alloc = uses_driver_alloc(drv) ? tramp_vm_bo_alloc : NULL;
	vm->ops.vm_bo_free = tramp_vm_bo_free;
	vm->ops.sm_step_map = tramp_step_map;
	vm->ops.sm_step_remap = tramp_step_remap;
	vm->ops.sm_step_unmap = tramp_step_unmap;
	gpuvm_mutex_init(&vm->va_lock, "vm->va_lock", &va_lock_class);
	vm->dev = dev;
	if (dev && !scn_knob(SCN_KNOB_VM_NO_DEVICE_REF)) {
		scn_dev_get(dev);
		vm->dev_ref__ = true;
	}
	if (!(flags & SCN_VM_STAGED))
		vm_flags |= GPUVM_IMMEDIATE_MODE;
	gpuvm_init(&vm->base, "scn-vm", vm_flags, &r_obj->base, start, range,
		   kstart, krange, &vm->ops);
	if (own)
		scn_gem_put(own); /* the VM holds it alone now */
	live_add(&live_vms, 1);
	pthread_mutex_lock(&grave_lock);
	vm->next__ = all_vms;
	all_vms = vm;
	pthread_mutex_unlock(&grave_lock);
	return vm;
}

void scn_vm_get(struct scn_vm *vm)
{
	gpuvm_get(&vm->base);
}

void scn_vm_put(struct scn_vm *vm)
{
	gpuvm_put(&vm->base);
}

bool scn_vm_freed(const struct scn_vm *vm)
{
	return get_int(&vm->freed);
}

int scn_vm_refcount(const struct scn_vm *vm)
{
	return __atomic_load_n(&vm->base.kref, __ATOMIC_RELAXED);
}

void scn_va_lock(struct scn_vm *vm)
{
	gpuvm_mutex_lock(&vm->va_lock);
}

void scn_va_unlock(struct scn_vm *vm)
{
	gpuvm_mutex_unlock(&vm->va_lock);
}

/* ---- vm_bo states ------------------------------------------------------- */

/*
 * Reading the GEM list entry of a live vm_bo needs the list lock: other
 * vm_bos of the same object come and go next to it.
 */
static bool bo_listed(const struct gpuvm_bo *vm_bo)
{
	struct gpuvm_gem_object *obj = vm_bo->obj;
	bool lock = gpuvm_immediate_mode(vm_bo->vm) &&
		    !gpuvm_lock_is_held(&obj->gpuva.lock.dep_map);
	bool listed;

	if (lock)
		gpuvm_gem_gpuva_lock(obj);
	listed = !gpuvm_list_empty(&vm_bo->list.entry.gem);
	if (lock)
		gpuvm_gem_gpuva_unlock(obj);
	return listed;
}

enum scn_bo_state scn_bo_state(const struct gpuvm_bo *vm_bo)
{
	int count = __atomic_load_n(&vm_bo->kref, __ATOMIC_RELAXED);

	if (count == GPUVM_POISON_INT)
		return SCN_BO_FREED;
	if (count == 0)
		return SCN_BO_ZOMBIE;
	return bo_listed(vm_bo) ? SCN_BO_REGISTERED : SCN_BO_PREALLOC;
}

const char *scn_bo_state_name(enum scn_bo_state state)
{
	static const char *const names[] = { "PREALLOC", "REGISTERED", "ZOMBIE",
					     "FREED" };

	return (unsigned int)state < ARRAY_LEN(names) ? names[state] : "?";
}

/* A documented post-condition of a harness operation (C-11). */
static void expect_state(const struct gpuvm_bo *vm_bo, enum scn_bo_state want,
			 const char *func)
{
	enum scn_bo_state got = scn_bo_state(vm_bo);

	if (got != want)
		gpuvm_warn(SCN_RULE_STATE, "%s: vm_bo %p is %s, expected %s",
			   func, (const void *)vm_bo, scn_bo_state_name(got),
			   scn_bo_state_name(want));
}

/* ---- vm_bo operations (section 4.2 - 4.4 of the Rust design) ------------ */

struct gpuvm_bo *scn_bo_alloc_new(struct scn_vm *vm, struct scn_gem *g,
				  long arg)
{
	const struct scn_driver *drv = vm->drv;
	size_t dsize = data_size(drv);
	_Alignas(max_align_t) unsigned char tmp[256];
	struct gpuvm_bo *bo;
	int ret;

	if (dsize > sizeof(tmp))
		return gpuvm_err_ptr(-E2BIG);

	if (scn_knob(SCN_KNOB_INIT_AFTER_CREATE)) {
		/* Broken: construct in place, after the object exists. */
		creating_vm = vm;
		bo = gpuvm_bo_create(&vm->base, &g->base);
		creating_vm = NULL;
		if (!bo)
			return NULL;
		reg_add(bo, sizeof(struct gpuvm_bo), false);
		ret = drv->vm_bo_data_init ?
			      drv->vm_bo_data_init(scn_bo_data(bo), arg) :
			      0;
		if (ret) {
			scn_bo_alloc_drop(bo); /* the free hook sees garbage */
			return gpuvm_err_ptr(ret);
		}
		reg_set_data_init(bo);
		expect_state(bo, SCN_BO_PREALLOC, "scn_bo_alloc_new");
		return bo;
	}

	/* Construct (may fail), create, move in (cannot fail). */
	if (drv->vm_bo_data_init) {
		ret = drv->vm_bo_data_init(dsize ? tmp : NULL, arg);
		if (ret)
			return gpuvm_err_ptr(ret);
	}
	creating_vm = vm;
	bo = gpuvm_bo_create(&vm->base, &g->base);
	creating_vm = NULL;
	if (!bo) {
		if (drv->vm_bo_data_init && drv->vm_bo_data_drop)
			drv->vm_bo_data_drop(NULL, dsize ? tmp : NULL);
		return NULL;
	}
	if (!vm->ops.vm_bo_alloc)
		inc(&vm->stats.alloc_c);
	reg_add(bo, sizeof(struct gpuvm_bo), false); /* no-op if driver's */
	if (dsize && drv->vm_bo_data_init)
		memcpy(scn_bo_data(bo), tmp, dsize);
	reg_set_data_init(bo);
	expect_state(bo, SCN_BO_PREALLOC, "scn_bo_alloc_new");
	return bo;
}

struct gpuvm_bo *scn_bo_alloc_obtain(struct gpuvm_bo *prealloc)
{
	struct gpuvm *gpuvm = prealloc->vm;
	struct gpuvm_gem_object *obj = prealloc->obj;
	struct gpuvm_bo *bo;
	bool created, add;
	int ret;

	bo = gpuvm_bo_obtain_prealloc(prealloc);
	/* @prealloc may be gone now: only @bo, which we hold, is used. */
	created = bo == prealloc;
	expect_state(bo, SCN_BO_REGISTERED, "scn_bo_alloc_obtain");

	add = gpuvm_is_extobj(gpuvm, obj) && !scn_knob(SCN_KNOB_EXTOBJ_IN_MAP);
	if (scn_knob(SCN_KNOB_EXTOBJ_ONLY_CREATOR) && !created)
		add = false; /* v1-v5 logic */
	if (add) {
		gpuvm_hook("obtain:before_extobj_add");
		ret = gpuvm_dma_resv_lock(gpuvm_resv(gpuvm), NULL);
		gpuvm_bo_extobj_add(bo);
		if (!ret)
			gpuvm_dma_resv_unlock(gpuvm_resv(gpuvm));
	}
	return bo;
}

struct gpuvm_bo *scn_obtain(struct scn_vm *vm, struct scn_gem *g, long arg)
{
	struct gpuvm_bo *pre;

	if (!scn_knob(SCN_KNOB_NO_OBTAIN_ASSERT) && gpuvm_debug_enabled() &&
	    gpuvm_dma_resv_held(gpuvm_resv(&vm->base))) {
		gpuvm_warn(GPUVM_RULE_LOCK_HELD,
			   "scn_obtain: the caller holds the VM resv, which "
			   "obtain takes for external objects; refused");
		return gpuvm_err_ptr(-EDEADLK);
	}
	gpuvm_lock_assert_not_held(&g->base.gpuva.lock.dep_map, "scn_obtain");
	pre = scn_bo_alloc_new(vm, g, arg);
	if (gpuvm_is_err_or_null(pre))
		return pre;
	return scn_bo_alloc_obtain(pre);
}

void scn_bo_alloc_drop(struct gpuvm_bo *prealloc)
{
	expect_state(prealloc, SCN_BO_PREALLOC, "scn_bo_alloc_drop");
	if (get_int(&prealloc_drop) == SCN_DROP_DESTROY)
		gpuvm_bo_destroy_not_in_lists(prealloc);
	else
		gpuvm_bo_put_deferred(prealloc);
}

void scn_bo_get(struct gpuvm_bo *vm_bo)
{
	gpuvm_bo_get(vm_bo);
}

void scn_bo_put(struct gpuvm_bo *vm_bo)
{
	struct gpuvm_gem_object *obj = vm_bo->obj;
	struct gpuvm *gpuvm = vm_bo->vm;
	int ret;

	if (scn_knob(SCN_KNOB_DROP_TAKES_GEM_RESV)) {
		/* Broken (C-01): the destructor takes the GEM resv. */
		ret = gpuvm_dma_resv_lock(obj->resv, NULL);
		gpuvm_bo_put_deferred(vm_bo);
		if (!ret)
			gpuvm_dma_resv_unlock(obj->resv);
		return;
	}
	if (scn_knob(SCN_KNOB_SYNC_PUT_UNDER_GPUVA)) {
		/* Broken (C-02): a synchronous put under the GEM's mutex,
		 * without an extra GEM reference keeping the mutex alive. */
		gpuvm_get(gpuvm);
		ret = gpuvm_dma_resv_lock(gpuvm_resv(gpuvm), NULL);
		gpuvm_gem_gpuva_lock(obj);
		gpuvm_bo_put(vm_bo);
		gpuvm_gem_gpuva_unlock(obj); /* obj may be freed already */
		if (!ret)
			gpuvm_dma_resv_unlock(gpuvm_resv(gpuvm));
		gpuvm_put(gpuvm);
		return;
	}
	gpuvm_bo_put_deferred(vm_bo);
}

void scn_deferred_cleanup(struct scn_vm *vm)
{
	gpuvm_bo_deferred_cleanup(&vm->base);
}

struct gpuvm_bo *scn_bo_from_raw(struct gpuvm_bo *vm_bo)
{
	enum scn_bo_state state;

	if (scn_knob(SCN_KNOB_NO_FROM_RAW_CHECKS))
		return vm_bo;
	state = scn_bo_state(vm_bo);
	if (state == SCN_BO_REGISTERED)
		return vm_bo;
	gpuvm_warn(SCN_RULE_FROM_RAW,
		   "scn_bo_from_raw: vm_bo %p is %s; a GpuVmBo must be "
		   "registered",
		   (void *)vm_bo, scn_bo_state_name(state));
	return NULL;
}

/* ---- VAs ---------------------------------------------------------------- */

struct scn_va *scn_va_alloc(gpuvm_gfp_t gfp)
{
	struct scn_va *va = gpuvm_kzalloc(sizeof(*va), gfp);

	if (!va)
		return NULL;
	va->magic = SCN_VA_MAGIC;
	gpuvm_list_init(&va->base.gem.entry);
	live_add(&live_vas, 1);
	return va;
}

void scn_va_free(struct scn_va *va)
{
	if (!va)
		return;
	if (va->magic != SCN_VA_MAGIC) {
		gpuvm_warn(SCN_RULE_USE_AFTER_FREE,
			   "scn_va_free: %p is not a live harness VA",
			   (void *)va);
		return;
	}
	va->magic = 0;
	live_add(&live_vas, -1);
	gpuvm_kfree(va);
}

static struct scn_va *va_of(struct gpuva *va)
{
	return gpuvm_container_of(va, struct scn_va, base);
}

struct scn_va *scn_va_from_raw(struct gpuva *va)
{
	const char *why = NULL;

	if (scn_knob(SCN_KNOB_NO_FROM_RAW_CHECKS))
		return va_of(va);
	if (va->vm && va == &va->vm->kernel_alloc_node)
		why = "is the kernel-reserved node";
	else if (!va->gem.obj)
		why = "is sparse (no object)";
	else if (!va->vm || gpuva_find(va->vm, va->va.addr, va->va.range) != va)
		why = "is not in the VA space";
	else if (!va->vm_bo)
		why = "is not linked to a vm_bo";
	if (!why)
		return va_of(va);
	gpuvm_warn(SCN_RULE_FROM_RAW, "scn_va_from_raw: VA %p %s", (void *)va,
		   why);
	return NULL;
}

/* ---- split/merge (section 4.5) ------------------------------------------ */

void scn_ctx_init(struct scn_sm_ctx *ctx, struct scn_vm *vm)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->vm = vm;
	ctx->inject_fail_at = -1;
}

int scn_ctx_prealloc(struct scn_sm_ctx *ctx, unsigned int n, gpuvm_gfp_t gfp)
{
	unsigned int i, start = ctx->nr_pool;
	int ret;

	if (ctx->nr_pool + n > SCN_CTX_POOL)
		return -E2BIG;
	for (i = 0; i < n; i++) {
		struct scn_va *va = scn_va_alloc(gfp);

		if (!va)
			goto fail;
		ctx->pool[ctx->nr_pool++] = va;
	}
	ret = gpuvm_va_reserve(&ctx->vm->base, ctx->nr_pool);
	if (!ret)
		return 0;
fail:
	while (ctx->nr_pool > start)
		scn_va_free(ctx->pool[--ctx->nr_pool]);
	return -ENOMEM;
}

void scn_ctx_fini(struct scn_sm_ctx *ctx)
{
	while (ctx->nr_pool)
		scn_va_free(ctx->pool[--ctx->nr_pool]);
	while (ctx->nr_removed)
		scn_va_free(ctx->removed[--ctx->nr_removed]);
}

static struct scn_va *pool_take(struct scn_sm_ctx *ctx)
{
	return ctx->nr_pool ? ctx->pool[--ctx->nr_pool] : NULL;
}

static void pool_put(struct scn_sm_ctx *ctx, struct scn_va *va)
{
	if (va)
		ctx->pool[ctx->nr_pool++] = va;
}

static int tramp_step(int kind, struct gpuva_op *op, void *priv)
{
	static const char *const names[] = { "map", "remap", "unmap" };
	struct scn_sm_ctx *ctx = priv;
	struct scn_vm *vm = ctx->vm;
	const struct scn_driver *drv = vm->drv;
	int (*fn)(struct gpuva_op * op, void *priv);
	unsigned int idx = ctx->steps__++, before;
	int ret;

	inc(&vm->stats.steps);
	if (gpuvm_debug_enabled() && !gpuvm_lock_is_held(&vm->va_lock.dep_map))
		inc(&vm->stats.steps_without_va_lock);
	if (gpuvm_in_signalling_section())
		inc(&vm->stats.steps_in_signalling);
	if ((int)idx == ctx->inject_fail_at)
		return ctx->inject_ret;

	if (kind == GPUVA_OP_MAP)
		fn = drv->sm_step_map ? drv->sm_step_map : scn_step_map;
	else if (kind == GPUVA_OP_REMAP)
		fn = drv->sm_step_remap ? drv->sm_step_remap : scn_step_remap;
	else
		fn = drv->sm_step_unmap ? drv->sm_step_unmap : scn_step_unmap;
	before = ctx->applied__;
	ret = fn(op, priv);
	if (!ret && ctx->applied__ == before)
		gpuvm_warn(SCN_RULE_STEP_NOT_APPLIED,
			   "sm_step_%s: step %u returned 0 without applying "
			   "its op; the walk goes on from a VA space that "
			   "does not match",
			   names[kind], idx);
	return ret;
}

int scn_op_map_insert(struct scn_sm_ctx *ctx, struct gpuva_op *op)
{
	struct gpuvm_gem_object *obj = op->map.gem.obj;
	struct scn_vm *vm = ctx->vm;
	struct scn_va *va = pool_take(ctx);
	int ret;

	if (!va)
		return -ENOMEM; /* the driver did not preallocate */
	ret = gpuva_map_checked(&vm->base, &va->base, &op->map);
	if (ret) {
		pool_put(ctx, va);
		return ret;
	}
	if (scn_knob(SCN_KNOB_EXTOBJ_IN_MAP) && ctx->vm_bo)
		gpuvm_bo_extobj_add(ctx->vm_bo); /* broken: too late */
	if (obj) {
		gpuvm_gem_gpuva_lock(obj);
		gpuva_link(&va->base, ctx->vm_bo);
		gpuvm_gem_gpuva_unlock(obj);
	}
	ctx->applied__++;
	return 0;
}

int scn_op_unmap_remove(struct scn_sm_ctx *ctx, struct gpuva_op *op,
			struct scn_va **removed)
{
	struct scn_va *va = va_of(op->unmap.va);

	gpuva_unmap(&op->unmap);
	gpuva_unlink_defer(&va->base);
	ctx->applied__++;
	*removed = va;
	return 0;
}

int scn_op_remap(struct scn_sm_ctx *ctx, struct gpuva_op *op,
		 struct scn_va **removed)
{
	struct gpuva_op_remap *r = &op->remap;
	struct scn_va *old = va_of(r->unmap->va);
	struct gpuvm_bo *vm_bo = old->base.vm_bo;
	struct gpuvm_gem_object *obj = old->base.gem.obj;
	struct scn_va *prev = NULL, *next = NULL;

	if (r->prev && !(prev = pool_take(ctx)))
		return -ENOMEM;
	if (r->next && !(next = pool_take(ctx))) {
		pool_put(ctx, prev);
		return -ENOMEM;
	}
	gpuva_remap(prev ? &prev->base : NULL, next ? &next->base : NULL, r);
	/* The pieces hold the vm_bo before the old VA lets go of it. */
	if (obj && vm_bo) {
		gpuvm_gem_gpuva_lock(obj);
		if (prev)
			gpuva_link(&prev->base, vm_bo);
		if (next)
			gpuva_link(&next->base, vm_bo);
		gpuvm_gem_gpuva_unlock(obj);
	}
	gpuva_unlink_defer(&old->base);
	ctx->applied__++;
	*removed = old;
	return 0;
}

static void drop_removed(struct scn_sm_ctx *ctx, struct scn_va *va)
{
	if (ctx->keep_removed && ctx->nr_removed < SCN_CTX_KEEP) {
		ctx->removed[ctx->nr_removed++] = va;
		return;
	}
	scn_va_free(va);
	inc(&ctx->vm->stats.va_frees);
}

int scn_step_map(struct gpuva_op *op, void *priv)
{
	return scn_op_map_insert(priv, op);
}

int scn_step_remap(struct gpuva_op *op, void *priv)
{
	struct scn_va *removed;
	int ret = scn_op_remap(priv, op, &removed);

	if (!ret)
		drop_removed(priv, removed);
	return ret;
}

int scn_step_unmap(struct gpuva_op *op, void *priv)
{
	struct scn_va *removed;
	int ret = scn_op_unmap_remove(priv, op, &removed);

	if (!ret)
		drop_removed(priv, removed);
	return ret;
}

int scn_sm_map(struct scn_sm_ctx *ctx, uint64_t addr, uint64_t range,
	       struct gpuvm_bo *vm_bo, uint64_t offset)
{
	struct scn_vm *vm = ctx->vm;
	struct gpuvm_map_req req;
	int ret;

	gpuvm_lock_assert_held(&vm->va_lock.dep_map, "scn_sm_map");
	if (!scn_knob(SCN_KNOB_NO_MAP_REQ_CHECKS)) {
		/* v6: the request's vm_bo belongs to this VM (C-14)... */
		if (vm_bo->vm != &vm->base)
			return -EINVAL;
		/* ...and is registered (C-13). */
		if (scn_bo_state(vm_bo) != SCN_BO_REGISTERED)
			return -EINVAL;
	}
	memset(&req, 0, sizeof(req));
	req.map.va.addr = addr;
	req.map.va.range = range;
	req.map.gem.obj = vm_bo->obj;
	req.map.gem.offset = offset;
	ctx->vm_bo = vm_bo;
	ret = gpuvm_sm_map(&vm->base, ctx, &req);
	ctx->vm_bo = NULL;
	return ret;
}

int scn_sm_unmap(struct scn_sm_ctx *ctx, uint64_t addr, uint64_t range)
{
	gpuvm_lock_assert_held(&ctx->vm->va_lock.dep_map, "scn_sm_unmap");
	return gpuvm_sm_unmap(&ctx->vm->base, ctx, addr, range);
}

int scn_map(struct scn_vm *vm, struct gpuvm_bo *vm_bo, uint64_t addr,
	    uint64_t range, uint64_t offset)
{
	struct scn_sm_ctx ctx;
	int ret;

	scn_ctx_init(&ctx, vm);
	scn_va_lock(vm);
	ret = scn_ctx_prealloc(&ctx, 3, GPUVM_GFP_KERNEL);
	if (!ret)
		ret = scn_sm_map(&ctx, addr, range, vm_bo, offset);
	scn_va_unlock(vm);
	scn_ctx_fini(&ctx);
	return ret;
}

int scn_unmap(struct scn_vm *vm, uint64_t addr, uint64_t range)
{
	struct scn_sm_ctx ctx;
	int ret;

	scn_ctx_init(&ctx, vm);
	scn_va_lock(vm);
	ret = scn_ctx_prealloc(&ctx, 2, GPUVM_GFP_KERNEL);
	if (!ret)
		ret = scn_sm_unmap(&ctx, addr, range);
	scn_va_unlock(vm);
	scn_ctx_fini(&ctx);
	return ret;
}

/* ---- jobs --------------------------------------------------------------- */

static const char *fence_name(struct gpuvm_dma_fence *fence)
{
	(void)fence;
	return "scn-job";
}

static const struct gpuvm_dma_fence_ops job_fence_ops = {
	.get_driver_name = fence_name,
	.get_timeline_name = fence_name,
};

int scn_job_lock(struct scn_job *job, struct scn_vm *vm)
{
	int ret;

	memset(job, 0, sizeof(*job));
	job->vm = vm;
	job->fence = gpuvm_kzalloc(sizeof(*job->fence), GPUVM_GFP_KERNEL);
	if (!job->fence)
		return -ENOMEM;
	gpuvm_dma_fence_init(job->fence, &job_fence_ops, NULL,
			     gpuvm_dma_fence_context_alloc(1), 1);
	job->vm_exec.vm = &vm->base;
	job->vm_exec.num_fences = 1;
	job->vm_exec.flags = GPUVM_EXEC_IGNORE_DUPLICATES;
	ret = gpuvm_vm_exec_lock(&job->vm_exec);
	if (ret) {
		gpuvm_dma_fence_put(job->fence);
		job->fence = NULL;
	}
	return ret;
}

bool scn_job_holds(struct scn_job *job, struct scn_gem *g)
{
	struct gpuvm_gem_object *obj;

	gpuvm_exec_for_each_locked_object(&job->vm_exec.exec, obj)
		if (obj->resv == g->base.resv)
			return true;
	return false;
}

void scn_job_attach_fence(struct scn_job *job)
{
	struct gpuvm *gpuvm = &job->vm->base;
	struct gpuva *va;

	gpuvm_for_each_va(va, gpuvm) {
		struct gpuvm_gem_object *obj = va->gem.obj;

		if (!obj || !gpuvm_is_extobj(gpuvm, obj) ||
		    scn_job_holds(job, scn_gem_of(obj)))
			continue;
		gpuvm_warn(SCN_RULE_JOB_LOCKSET,
			   "scn_job_attach_fence: external object '%c' is "
			   "mapped but not locked by the job: it misses the "
			   "job's fence",
			   scn_gem_of(obj)->name);
	}
	gpuvm_vm_exec_resv_add_fence(&job->vm_exec, job->fence,
				     GPUVM_DMA_RESV_USAGE_BOOKKEEP,
				     GPUVM_DMA_RESV_USAGE_BOOKKEEP);
}

bool scn_job_fence_on(struct scn_job *job, struct scn_gem *g)
{
	struct gpuvm_dma_resv_iter cursor;
	struct gpuvm_dma_fence *f;

	if (!gpuvm_dma_resv_held(g->base.resv))
		return false;
	gpuvm_dma_resv_for_each_fence(&cursor, g->base.resv,
				      GPUVM_DMA_RESV_USAGE_BOOKKEEP, f)
		if (f == job->fence)
			return true;
	return false;
}

void scn_job_finish(struct scn_job *job)
{
	gpuvm_vm_exec_unlock(&job->vm_exec);
	if (job->fence) {
		gpuvm_dma_fence_signal(job->fence);
		gpuvm_dma_fence_put(job->fence);
		job->fence = NULL;
	}
}

/* ---- teardown, lookups -------------------------------------------------- */

void scn_vm_close(struct scn_vm *vm)
{
	struct gpuvm *gpuvm = &vm->base;
	uint64_t start = gpuvm->mm_start, end = start + gpuvm->mm_range;
	uint64_t kstart = gpuvm->kernel_alloc_node.va.addr;
	uint64_t kend = kstart + gpuvm->kernel_alloc_node.va.range;
	struct scn_sm_ctx ctx;

	/* A full-range unmap never splits: no preallocation needed. */
	scn_ctx_init(&ctx, vm);
	scn_va_lock(vm);
	if (kend == kstart) {
		scn_sm_unmap(&ctx, start, end - start);
	} else {
		if (kstart > start)
			scn_sm_unmap(&ctx, start, kstart - start);
		if (end > kend)
			scn_sm_unmap(&ctx, kend, end - kend);
	}
	scn_va_unlock(vm);
	scn_ctx_fini(&ctx);
	if (!scn_knob(SCN_KNOB_TEARDOWN_NO_DRAIN))
		scn_deferred_cleanup(vm);
	scn_vm_put(vm);
}

static bool list_has(const struct gpuvm_list_head *head,
		     const struct gpuvm_list_head *entry)
{
	const struct gpuvm_list_head *p;

	for (p = head->next; p != head; p = p->next)
		if (p == entry)
			return true;
	return false;
}

bool scn_bo_on_gem_list(const struct gpuvm_bo *vm_bo)
{
	struct gpuvm_gem_object *obj = vm_bo->obj;
	bool lock = gpuvm_immediate_mode(vm_bo->vm) &&
		    !gpuvm_lock_is_held(&obj->gpuva.lock.dep_map);
	bool on;

	if (lock)
		gpuvm_gem_gpuva_lock(obj);
	on = list_has(&obj->gpuva.list, &vm_bo->list.entry.gem);
	if (lock)
		gpuvm_gem_gpuva_unlock(obj);
	return on;
}

bool scn_bo_on_extobj(const struct gpuvm_bo *vm_bo)
{
	return list_has(&vm_bo->vm->extobj.list, &vm_bo->list.entry.extobj);
}

bool scn_bo_on_defer(const struct gpuvm_bo *vm_bo)
{
	const struct gpuvm_llist_node *n;

	for (n = __atomic_load_n(&vm_bo->vm->bo_defer.first, __ATOMIC_ACQUIRE);
	     n; n = n->next)
		if (n == &vm_bo->list.entry.bo_defer)
			return true;
	return false;
}

unsigned int scn_defer_count(const struct scn_vm *vm)
{
	const struct gpuvm_llist_node *n;
	unsigned int count = 0;

	for (n = __atomic_load_n(&vm->base.bo_defer.first, __ATOMIC_ACQUIRE); n;
	     n = n->next)
		count++;
	return count;
}

unsigned int scn_va_count(struct scn_vm *vm)
{
	struct gpuva *va;
	unsigned int n = 0;

	gpuvm_for_each_va(va, &vm->base)
		if (va != &vm->base.kernel_alloc_node)
			n++;
	return n;
}

/* ---- the runner --------------------------------------------------------- */

const struct scn_scenario *scn_find(const char *id)
{
	unsigned int i;

	for (i = 0; i < scn_nr_scenarios; i++)
		if (!strcmp(scn_scenarios[i].id, id))
			return &scn_scenarios[i];
	return NULL;
}

void scn_release_graves(void)
{
	struct scn_vm *vm, **vp;
	struct scn_gem *g, **gp;
	struct dev_box *d, **dp;

	pthread_mutex_lock(&grave_lock);
	for (vp = &all_vms; (vm = *vp);) {
		if (get_int(&vm->freed)) {
			*vp = vm->next__;
			free(vm);
		} else {
			vp = &vm->next__;
		}
	}
	for (gp = &all_gems; (g = *gp);) {
		if (get_int(&g->freed)) {
			*gp = g->next__;
			free(g);
		} else {
			gp = &g->next__;
		}
	}
	for (dp = &all_devs; (d = *dp);) {
		if (d->dev.magic != SCN_DEV_MAGIC) {
			*dp = d->next;
			free(d);
		} else {
			dp = &d->next;
		}
	}
	pthread_mutex_unlock(&grave_lock);
}

static void fail_unexpected(const char *rule, const char *msg, void *arg)
{
	scn_check__(arg, false, __FILE__, __LINE__, "no other warning",
		    "unexpected warning [%s] %s", rule, msg);
}

int scn_run(const struct scn_scenario *s, const struct scn_driver *drv,
	    struct scn_result *r)
{
	struct scn_live base, now;
	unsigned int dropped;
	int k;

	memset(r, 0, sizeof(*r));
	r->id = s->id;
	r->title = s->title;

	warn_recorder_clear();
	pthread_mutex_lock(&event_lock);
	event_len = 0;
	event_log[0] = '\0';
	pthread_mutex_unlock(&event_lock);
	warn_recorder_install();
	gpuvm_lockdep_reset();
	scn_live(&base);
	thread_tag = 0;

	s->run(drv, r);

	gpuvm_hook_reset();
	for (k = 0; k < GPUVM_KNOB_COUNT__; k++)
		gpuvm_debug_set_knob((enum gpuvm_debug_knob)k, false);
	__atomic_store_n(&knobs, 0, __ATOMIC_RELAXED);
	set_int(&prealloc_drop, SCN_DROP_DEFERRED);
	gpuvm_alloc_fail_nth(0);
	gpuvm_alloc_drain();

	warn_recorder_drain(fail_unexpected, r, &dropped);
	if (dropped)
		scn_check__(r, false, __FILE__, __LINE__, "no other warning",
			    "%u more warnings dropped", dropped);

	scn_live(&now);
	scn_check__(r,
		    now.vms == base.vms && now.gems == base.gems &&
			    now.vm_bos == base.vm_bos && now.vas == base.vas &&
			    now.devs == base.devs,
		    __FILE__, __LINE__, "nothing alive at the end",
		    "leaked: %ld VM, %ld GEM, %ld vm_bo, %ld VA, %ld device",
		    now.vms - base.vms, now.gems - base.gems,
		    now.vm_bos - base.vm_bos, now.vas - base.vas,
		    now.devs - base.devs);

	scn_release_graves();
	gpuvm_lockdep_reset();
	gpuvm_warn_set_handler(NULL, NULL);
	return r->failures ? -1 : 0;
}

void scn_print_result(const struct scn_result *r, bool verbose, FILE *out)
{
	unsigned int i;

	fprintf(out, "%-4s %-22s %s (%u checks)\n", r->failures ? "FAIL" : "ok",
		r->id, r->title, r->checks);
	for (i = 0; i < r->failures && i < SCN_MAX_FAILURES; i++)
		fprintf(out, "       %s\n", r->failure[i]);
	if (!verbose)
		return;
	for (i = 0; i < r->nr_notes; i++)
		fprintf(out, "       . %s = %ld\n", r->notes[i].key,
			r->notes[i].value);
}

unsigned int scn_run_all(const struct scn_driver *drv, const char *prefix,
			 bool verbose, FILE *out)
{
	struct scn_result r;
	unsigned int i, failed = 0;

	for (i = 0; i < scn_nr_scenarios; i++) {
		const struct scn_scenario *s = &scn_scenarios[i];

		if (prefix && strncmp(s->id, prefix, strlen(prefix)))
			continue;
		if (scn_run(s, drv, &r))
			failed++;
		scn_print_result(&r, verbose, out);
	}
	return failed;
}

/* ---- the reference driver ----------------------------------------------- */

static int ref_data_init(void *data, long arg)
{
	struct scn_ref_data *d = data;

	if (arg < 0)
		return (int)arg; /* a constructor that fails on request */
	d->magic = SCN_REF_MAGIC;
	d->value = arg;
	d->readers = 0;
	d->dropped = 0;
	return 0;
}

/* Like panthor's vm_bo_free: unpinning takes the object's resv. */
static void ref_data_drop(struct gpuvm_bo *vm_bo, void *data)
{
	struct scn_ref_data *d = data;

	if (d->magic != SCN_REF_MAGIC)
		gpuvm_warn(SCN_RULE_DATA_UNINIT,
			   "ref_data_drop: data %p has no constructed magic",
			   data);
	if (get_int(&d->readers))
		gpuvm_warn(SCN_RULE_USE_AFTER_FREE,
			   "ref_data_drop: data %p dropped while read", data);
	set_int(&d->dropped, 1);
	d->magic = 0;
	if (vm_bo) {
		struct gpuvm_dma_resv *resv = vm_bo->obj->resv;

		if (!gpuvm_dma_resv_lock(resv, NULL))
			gpuvm_dma_resv_unlock(resv);
	}
}

const struct scn_driver scn_reference_driver = {
	.name = "reference",
	.vm_bo_size = sizeof(struct gpuvm_bo) + sizeof(struct scn_ref_data),
	.vm_bo_data_init = ref_data_init,
	.vm_bo_data_drop = ref_data_drop,
};
