// SPDX-License-Identifier: MIT
/*
 * Explored: the broken designs of the Rust abstraction's review (the
 * scenario harness's knobs), each in a test that it fails. The tests are
 * a Rust-shaped driver (the scenario harness) doing VM_BIND work on two
 * or three threads; every one passes completely within preemption bound 2
 * on the correct code, and each knob is found by one of them:
 *
 *   bind-job-signalling  drop-takes-gem-resv (C-01), extobj-in-map (C-06),
 *                        init-after-create (C-09), free-with-c-size
 *                        (C-10), teardown-no-drain (C-19)
 *   file-close           teardown-no-drain (C-19), vm-no-device-ref (C-21)
 *   foreign-map          no-map-req-checks (C-13/C-14)
 *   extobj-walk          no-from-raw-checks (C-12)
 *   exec-obtain          no-obtain-assert (C-17)
 *
 * Two of the checks the knobs switch off report what they refuse
 * (scenario-from-raw, lock-held) besides returning an error; the drivers
 * of extobj-walk and exec-obtain rely on the refusal, so they take exactly
 * the reports they caused, right after the refused call.
 */
#include <errno.h>
#include <string.h>

#include "xt_common.h"

#define P(n) ((uint64_t)(n) << 12)
#define SPACE P(4096)

static bool ok_bo(const struct gpuvm_bo *b)
{
	return !gpuvm_is_err_or_null(b);
}

/*
 * A job's lock phase: the VM's resv and every external object's, as
 * scn_job_lock() takes them but without a fence. A fence is freed after
 * an RCU grace period and the explorer waits for pending RCU callbacks
 * after every run (gpuvm_alloc_drain()): with a scn_job fence a run took
 * about 11 ms instead of about 0.3 ms.
 */
static int job_lock(struct gpuvm_vm_exec *ve, struct scn_vm *vm)
{
	memset(ve, 0, sizeof(*ve));
	ve->vm = &vm->base;
	ve->flags = GPUVM_EXEC_IGNORE_DUPLICATES;
	return gpuvm_vm_exec_lock(ve);
}

/*
 * Whether the job's lock set holds @g's resv. (struct scn_job's
 * scn_job_holds() without the job.)
 */
static bool job_holds(struct gpuvm_vm_exec *ve, struct scn_gem *g)
{
	struct gpuvm_gem_object *obj;

	gpuvm_exec_for_each_locked_object(&ve->exec, obj)
		if (obj->resv == g->base.resv)
			return true;
	return false;
}

/*
 * Where the job would attach its fence (scn_job_attach_fence()): every
 * external object mapped in the VM must be in its lock set, or it misses
 * the fence. Context: the VA lock.
 */
static void job_check_lockset(struct gpuvm_vm_exec *ve, struct scn_vm *vm)
{
	struct gpuva *va;

	gpuvm_for_each_va(va, &vm->base) {
		struct gpuvm_gem_object *obj = va->gem.obj;

		if (obj && gpuvm_is_extobj(&vm->base, obj))
			XP_CHECK(job_holds(ve, scn_gem_of(obj)),
				 "external object '%c' is mapped but not "
				 "locked by the job: it misses the job's fence",
				 scn_gem_of(obj)->name);
	}
}

/* ---- bind-job-signalling ------------------------------------------------ */

/*
 * An asynchronous VM_BIND: the ioctl obtains the vm_bo and preallocates,
 * the job locks the VM and its external objects, maps in a fence
 * signalling section and drops the op context's vm_bo reference there.
 * Next to it an unmap ioctl followed by the deferred cleanup worker, and a
 * second VM_BIND whose vm_bo data constructor fails (-ENOMEM), after which
 * its object's handle is closed.
 */
struct bind_state {
	struct scn_vm *vm;
	struct scn_gem *g, *h;
};

static struct bind_state bs;

static void *bind_setup(void)
{
	xt_begin();
	bs.vm = xt_vm_new();
	bs.g = scn_gem_new('G', NULL, 4); /* the handle's reference */
	scn_gem_get(bs.g); /* the bind job's */
	bs.h = scn_gem_new('H', NULL, 4); /* closed by thread 2 */
	return &bs;
}

static void bind_job(struct bind_state *s)
{
	struct scn_sm_ctx ctx;
	struct gpuvm_vm_exec job;
	struct gpuvm_bo *b;
	bool cookie;
	int ret;

	/* The ioctl: vm_bo and VAs, nothing locked yet. */
	b = scn_obtain(s->vm, s->g, 1);
	XP_CHECK(ok_bo(b), "obtain G");
	if (!ok_bo(b))
		goto out;
	scn_ctx_init(&ctx, s->vm);
	ret = scn_ctx_prealloc(&ctx, 3, GPUVM_GFP_KERNEL);
	XP_CHECK(ret == 0, "prealloc: %d", ret);

	/* The job. */
	scn_va_lock(s->vm);
	ret = job_lock(&job, s->vm);
	XP_CHECK(ret == 0, "the job's lock phase: %d", ret);
	if (!ret) {
		cookie = gpuvm_dma_fence_begin_signalling();
		ret = scn_sm_map(&ctx, P(0), P(4), b, 0);
		XP_CHECK(ret == 0, "map G: %d", ret);
		/* The op context's reference: the VA holds one. */
		scn_bo_put(b);
		gpuvm_dma_fence_end_signalling(cookie);
		job_check_lockset(&job, s->vm);
		gpuvm_vm_exec_unlock(&job);
	} else {
		scn_bo_put(b);
	}
	scn_va_unlock(s->vm);
	scn_ctx_fini(&ctx);
out:
	scn_gem_put(s->g);
}

static void bind_thread(unsigned int i, void *arg)
{
	struct bind_state *s = arg;
	struct gpuvm_bo *b;
	int ret;

	switch (i) {
	case 0:
		bind_job(s);
		break;
	case 1:
		ret = scn_unmap(s->vm, P(0), P(4));
		XP_CHECK(ret == 0, "unmap: %d", ret);
		scn_deferred_cleanup(s->vm);
		break;
	case 2:
		b = scn_obtain(s->vm, s->h, -ENOMEM);
		XP_CHECK(gpuvm_is_err(b) && gpuvm_ptr_err(b) == -ENOMEM,
			 "the failed constructor's error comes back");
		scn_gem_put(s->h);
		break;
	}
}

static void bind_teardown(void *arg)
{
	struct bind_state *s = arg;

	scn_vm_close(s->vm);
	scn_gem_put(s->g);
	xt_end();
}

static const struct xp_test bind_job_signalling = {
	.name = "bind-job-signalling",
	.doc = "VM_BIND job mapping in a signalling section vs unmap + "
	       "cleanup vs a failing bind",
	.nr_threads = 3,
	.setup = bind_setup,
	.thread = bind_thread,
	.teardown = bind_teardown,
};
XT_REGISTER(bind_job_signalling)

/* ---- file-close --------------------------------------------------------- */

/*
 * The file is closed (scn_vm_close(): unmap everything, deferred cleanup,
 * drop the unique handle, then the GEM handle) while an unmap job that
 * holds its own VM, vm_bo and GEM references finishes (unmap, drop, its
 * own cleanup, drop the VM), and the device is unbound (the driver's
 * device reference goes). Whoever drops the last reference frees the VM;
 * the device must outlive it.
 */
struct close_state {
	struct scn_dev *dev;
	struct scn_vm *vm;
	struct scn_gem *g;
	struct gpuvm_bo *b;
};

static struct close_state cs;

static void *close_setup(void)
{
	int ret;

	xt_begin();
	cs.dev = scn_dev_new("gpu0");
	cs.vm = scn_vm_new(&scn_reference_driver, cs.dev, NULL, 0, SPACE, 0, 0,
			   0);
	cs.g = scn_gem_new('G', NULL, 4); /* the file's handle */
	cs.b = scn_obtain(cs.vm, cs.g, 1); /* the job's reference */
	XP_CHECK(ok_bo(cs.b), "obtain");
	ret = scn_map(cs.vm, cs.b, P(0), P(4), 0);
	ret = ret ? ret : scn_map(cs.vm, cs.b, P(8), P(4), 0);
	XP_CHECK(ret == 0, "map: %d", ret);
	scn_vm_get(cs.vm); /* the job's */
	return &cs;
}

static void close_thread(unsigned int i, void *arg)
{
	struct close_state *s = arg;
	int ret;

	switch (i) {
	case 0: /* the file is closed */
		scn_vm_close(s->vm);
		scn_gem_put(s->g);
		break;
	case 1: /* the unmap job in flight */
		ret = scn_unmap(s->vm, P(8), P(4));
		XP_CHECK(ret == 0, "unmap: %d", ret);
		scn_bo_put(s->b);
		scn_deferred_cleanup(s->vm);
		scn_vm_put(s->vm);
		break;
	case 2: /* unbind: the driver's device reference goes */
		scn_dev_put(s->dev);
		break;
	}
}

static void close_check(void *arg)
{
	struct close_state *s = arg;

	XP_CHECK(scn_vm_freed(s->vm), "the VM outlived its last handle");
	XP_CHECK(scn_gem_freed(s->g), "G outlived its last handle");
	XP_CHECK(scn_dev_released(s->dev), "the device outlived its unbind");
}

static void close_teardown(void *arg)
{
	(void)arg;
	xt_end();
}

static const struct xp_test file_close = {
	.name = "file-close",
	.doc = "file close vs an unmap job holding VM and vm_bo references vs "
	       "device unbind",
	.nr_threads = 3,
	.setup = close_setup,
	.thread = close_thread,
	.check = close_check,
	.teardown = close_teardown,
};
XT_REGISTER(file_close)

/* ---- foreign-map -------------------------------------------------------- */

/*
 * One object shared by two VMs (two files that imported it). The driver
 * keeps a per-object hint, the vm_bo of the object's last bind, and tries
 * it first; the map request's check (C-13/C-14: registered, same VM)
 * refuses a hint of the other VM with -EINVAL and the driver falls back
 * to obtaining its own. Two binds, one per VM, race: the hint one finds
 * may be the vm_bo the other thread is obtaining and mapping right now.
 */
struct foreign_state {
	struct scn_vm *vm[2];
	struct scn_gem *g;
	struct gpuvm_mutex hint_lock;
	struct gpuvm_bo *hint; /* counted */
};

static struct foreign_state fs;
static struct gpuvm_lock_class hint_class =
	GPUVM_LOCK_CLASS_INIT("xt_hint_lock", 0);

static void *foreign_setup(void)
{
	xt_begin();
	fs.vm[0] = xt_vm_new();
	fs.vm[1] = xt_vm_new();
	fs.g = scn_gem_new('G', NULL, 4);
	gpuvm_mutex_init(&fs.hint_lock, "hint_lock", &hint_class);
	fs.hint = NULL;
	return &fs;
}

static struct gpuvm_bo *hint_get(struct foreign_state *s)
{
	struct gpuvm_bo *b;

	gpuvm_mutex_lock(&s->hint_lock);
	b = s->hint;
	if (b)
		scn_bo_get(b);
	gpuvm_mutex_unlock(&s->hint_lock);
	return b;
}

static void hint_set(struct foreign_state *s, struct gpuvm_bo *b)
{
	struct gpuvm_bo *old;

	scn_bo_get(b);
	gpuvm_mutex_lock(&s->hint_lock);
	old = s->hint;
	s->hint = b;
	gpuvm_mutex_unlock(&s->hint_lock);
	if (old)
		scn_bo_put(old);
}

static void foreign_thread(unsigned int i, void *arg)
{
	struct foreign_state *s = arg;
	struct scn_vm *vm = s->vm[i];
	struct gpuvm_bo *b = hint_get(s);
	int ret;

	if (b) {
		ret = scn_map(vm, b, P(0), P(4), 0);
		XP_CHECK(ret == 0 || ret == -EINVAL, "map with the hint: %d",
			 ret);
		if (!ret) {
			/* The library reported the link (and linked anyway);
			 * say so here, before the leak it leads to. */
			XP_CHECK(b->vm == &vm->base,
				 "VM %u mapped the other VM's vm_bo: [%s] %s",
				 i, GPUVM_RULE_LINK_VM,
				 scn_last_warning(GPUVM_RULE_LINK_VM));
			scn_bo_put(b);
			return;
		}
		scn_bo_put(b); /* refused: not this VM's */
	}
	b = scn_obtain(vm, s->g, (long)i);
	XP_CHECK(ok_bo(b), "obtain in VM %u", i);
	if (!ok_bo(b))
		return;
	ret = scn_map(vm, b, P(0), P(4), 0);
	XP_CHECK(ret == 0, "map: %d", ret);
	hint_set(s, b);
	scn_bo_put(b);
}

static void foreign_teardown(void *arg)
{
	struct foreign_state *s = arg;

	if (s->hint)
		scn_bo_put(s->hint);
	gpuvm_mutex_destroy(&s->hint_lock);
	scn_vm_close(s->vm[0]);
	scn_vm_close(s->vm[1]);
	scn_gem_put(s->g);
	xt_end();
}

static const struct xp_test foreign_map = {
	.name = "foreign-map",
	.doc = "binds of one object in two VMs through a per-object vm_bo "
	       "hint",
	.nr_threads = 2,
	.setup = foreign_setup,
	.thread = foreign_thread,
	.teardown = foreign_teardown,
};
XT_REGISTER(foreign_map)

/* ---- extobj-walk -------------------------------------------------------- */

/*
 * A revalidation worker walks the VM's external objects under the VM's
 * resv and takes a handle of each vm_bo it finds there (GpuVmBo::from_raw,
 * under the object's gpuva mutex, so the count cannot drop to zero in
 * between). A vm_bo whose last reference went stays on the extobj list as
 * a zombie until the deferred cleanup takes it off under the same resv:
 * the checked conversion refuses it (reported as scenario-from-raw, which
 * the worker expects and takes) and the worker skips it. Meanwhile a job
 * drops the last reference of G's vm_bo and runs the cleanup.
 */
#define WALK_MAX 4

struct walk_state {
	struct scn_vm *vm;
	struct scn_gem *g, *h;
	struct gpuvm_bo *bg, *bh;
};

static struct walk_state ws;

static void *walk_setup(void)
{
	xt_begin();
	ws.vm = xt_vm_new();
	ws.g = scn_gem_new('G', NULL, 4);
	ws.h = scn_gem_new('H', NULL, 4);
	ws.bg = scn_obtain(ws.vm, ws.g, 1); /* the job's */
	ws.bh = scn_obtain(ws.vm, ws.h, 2); /* the file's */
	XP_CHECK(ok_bo(ws.bg) && ok_bo(ws.bh), "obtain");
	return &ws;
}

static void walk_worker(struct walk_state *s)
{
	struct gpuvm_dma_resv *resv = gpuvm_resv(&s->vm->base);
	struct gpuvm_bo *vb, *got[WALK_MAX];
	unsigned int n = 0, refused = 0, k;

	gpuvm_dma_resv_lock(resv, NULL);
	gpuvm_list_for_each_entry(vb, &s->vm->base.extobj.list,
				  list.entry.extobj) {
		struct gpuvm_gem_object *obj = vb->obj;
		struct gpuvm_bo *h;

		gpuvm_gem_gpuva_lock(obj);
		h = scn_bo_from_raw(vb);
		if (h && n < WALK_MAX) {
			scn_bo_get(h);
			got[n++] = h;
		} else if (!h) {
			refused++;
		}
		gpuvm_gem_gpuva_unlock(obj);
	}
	gpuvm_dma_resv_unlock(resv);
	/* Each refusal was reported: expected here. */
	k = scn_take_warnings(SCN_RULE_FROM_RAW);
	XP_CHECK(k == refused, "%u refusal(s), %u report(s)", refused, k);

	for (k = 0; k < n; k++) {
		struct scn_ref_data *d = scn_bo_data(got[k]);

		XP_CHECK(d->magic == SCN_REF_MAGIC,
			 "a handle to a vm_bo whose data is gone");
		scn_bo_put(got[k]);
	}
	scn_deferred_cleanup(s->vm);
}

static void walk_thread(unsigned int i, void *arg)
{
	struct walk_state *s = arg;

	switch (i) {
	case 0:
		walk_worker(s);
		break;
	case 1:
		scn_bo_put(s->bg);
		scn_deferred_cleanup(s->vm);
		break;
	}
}

static void walk_teardown(void *arg)
{
	struct walk_state *s = arg;

	scn_bo_put(s->bh);
	scn_vm_close(s->vm);
	scn_gem_put(s->g);
	scn_gem_put(s->h);
	xt_end();
}

static const struct xp_test extobj_walk = {
	.name = "extobj-walk",
	.doc = "a worker converting the VM's extobj entries to handles vs the "
	       "last put and cleanup of one",
	.nr_threads = 2,
	.setup = walk_setup,
	.thread = walk_thread,
	.teardown = walk_teardown,
};
XT_REGISTER(extobj_walk)

/* ---- exec-obtain -------------------------------------------------------- */

/*
 * Two VM_BINDs of one object into one VM. Thread 0 is a bind whose job
 * locks first (VM resv and external objects) and only then looks for the
 * vm_bo; when there is none yet it obtains one under its locks, which the
 * abstraction refuses (C-17: obtain takes the VM resv for an external
 * object; refused with -EDEADLK and reported as lock-held, which the
 * driver expects and takes), and the driver backs off: unlock, obtain,
 * lock again. Thread 1 is an ordinary bind: obtain, then lock and map.
 * Whether thread 0 finds thread 1's vm_bo depends on the interleaving.
 */
struct exec_state {
	struct scn_vm *vm;
	struct scn_gem *g;
};

static struct exec_state es;

static void *exec_setup(void)
{
	xt_begin();
	es.vm = xt_vm_new();
	es.g = scn_gem_new('G', NULL, 4);
	return &es;
}

/* The vm_bo of (@vm, @g) if there is a live one, with a reference. */
static struct gpuvm_bo *find_bo(struct scn_vm *vm, struct scn_gem *g)
{
	struct gpuvm_bo *b;

	gpuvm_gem_gpuva_lock(&g->base);
	b = gpuvm_bo_find(&vm->base, &g->base);
	gpuvm_gem_gpuva_unlock(&g->base);
	return b;
}

/* Map @b at @addr under the job's locks, in a signalling section. */
static void job_map(struct scn_sm_ctx *ctx, struct gpuvm_vm_exec *job,
		    struct gpuvm_bo *b, uint64_t addr)
{
	bool cookie = gpuvm_dma_fence_begin_signalling();
	int ret = scn_sm_map(ctx, addr, P(4), b, 0);

	gpuvm_dma_fence_end_signalling(cookie);
	XP_CHECK(ret == 0, "map: %d", ret);
	job_check_lockset(job, ctx->vm);
}

/*
 * Thread 0's lookup under the job's locks (@job locked). Return: the
 * vm_bo with a reference (or an error), @job locked again; or NULL with
 * @job unlocked when locking again failed.
 */
static struct gpuvm_bo *exec_lookup(struct exec_state *s,
				    struct gpuvm_vm_exec *job)
{
	struct gpuvm_bo *b = find_bo(s->vm, s->g);
	int ret;

	if (!b) {
		b = scn_obtain(s->vm, s->g, 0);
		if (gpuvm_is_err(b) && gpuvm_ptr_err(b) == -EDEADLK) {
			/* Refused and reported, as expected. */
			XP_CHECK(scn_take_warnings(GPUVM_RULE_LOCK_HELD) == 1,
				 "the refusal was reported");
			b = NULL;
		}
	}
	if (ok_bo(b) && job_holds(job, s->g))
		return b;
	/*
	 * Back off: without a vm_bo, or with one that the other bind
	 * registered but has not put on the extobj list yet (it waits for
	 * the VM resv we hold), so the lock phase missed its object. Obtain
	 * unlocked (that adds it), then lock again.
	 */
	gpuvm_vm_exec_unlock(job);
	scn_va_unlock(s->vm);
	if (ok_bo(b))
		scn_bo_put(b);
	b = scn_obtain(s->vm, s->g, 0);
	XP_CHECK(ok_bo(b), "obtain");
	scn_va_lock(s->vm);
	ret = job_lock(job, s->vm);
	XP_CHECK(ret == 0, "lock again: %d", ret);
	if (ret && ok_bo(b))
		scn_bo_put(b);
	return ret ? NULL : b;
}

static void exec_thread(unsigned int i, void *arg)
{
	struct exec_state *s = arg;
	struct gpuvm_vm_exec job;
	struct scn_sm_ctx ctx;
	struct gpuvm_bo *b = NULL;
	int ret;

	if (i == 1) {
		/* The ordinary bind: its ioctl obtains, unlocked. */
		b = scn_obtain(s->vm, s->g, 1);
		XP_CHECK(ok_bo(b), "obtain");
		if (!ok_bo(b))
			return;
	}
	scn_ctx_init(&ctx, s->vm);
	ret = scn_ctx_prealloc(&ctx, 3, GPUVM_GFP_KERNEL);
	XP_CHECK(ret == 0, "prealloc: %d", ret);
	scn_va_lock(s->vm);
	ret = job_lock(&job, s->vm);
	XP_CHECK(ret == 0, "lock: %d", ret);
	if (ret) {
		if (b)
			scn_bo_put(b);
		goto out;
	}
	if (i == 0) {
		b = exec_lookup(s, &job);
		if (!b)
			goto out; /* unlocked */
	}
	if (ok_bo(b)) {
		job_map(&ctx, &job, b, P(8 * i));
		scn_bo_put(b);
	}
	gpuvm_vm_exec_unlock(&job);
out:
	scn_va_unlock(s->vm);
	scn_ctx_fini(&ctx);
}

static void exec_teardown(void *arg)
{
	struct exec_state *s = arg;

	scn_vm_close(s->vm);
	scn_gem_put(s->g);
	xt_end();
}

static const struct xp_test exec_obtain = {
	.name = "exec-obtain",
	.doc = "a bind that looks for its vm_bo under the job's locks vs an "
	       "ordinary bind of the same object",
	.nr_threads = 2,
	.setup = exec_setup,
	.thread = exec_thread,
	.teardown = exec_teardown,
};
XT_REGISTER(exec_obtain)
