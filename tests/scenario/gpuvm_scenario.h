/* SPDX-License-Identifier: MIT */
/*
 * The GPUVM review scenarios as a tool: a driver-side harness that runs the
 * scenarios S-GV-01..22 (the hazards the kernel reviewers of the Rust GPUVM
 * abstraction argued about) against a driver's own callbacks.
 *
 * What it models. The Rust abstraction is a thin layer of C call sequences
 * over GPUVM in immediate, resv-protected mode: GpuVm::new, obtain, the
 * vm_bo and VA drops, sm_map/sm_unmap with typed step tokens, deferred
 * cleanup. This harness is that layer written in C (scn_* functions, one
 * per Rust method, each making exactly the C calls of the Rust method), plus
 * what a scenario needs to observe the result:
 *  - a recorder behind every callback (vm_bo_alloc/vm_bo_free, the
 *    sm_step_* steps, vm_free) that notes the lock set, the thread, the
 *    allocation family and whether the vm_bo data was initialised;
 *  - counted GEM objects, devices, VMs and VAs whose memory is kept until
 *    the end of the run and poisoned when released, so a use after free is
 *    reported instead of silently read;
 *  - a warning recorder, so a scenario asserts which rules fired;
 *  - knobs that switch the harness (the "driver side") to the broken
 *    designs the reviewers rejected, next to the library's own test-only
 *    knobs (gpuvm_debug_set_knob()).
 *
 * Using it for your driver: fill a struct scn_driver with your callbacks
 * (leave a member NULL to use the harness's reference behaviour) and call
 * scn_run_all(); see tests/scenario/scenario_driver.c. Your sm_step_* callbacks
 * receive a struct scn_sm_ctx as @priv and must apply the step through
 * scn_op_map_insert(), scn_op_unmap_remove() or scn_op_remap() (the Rust
 * tokens' consuming methods) before doing their own page-table work. A
 * step that returns 0 without applying its op is reported
 * (SCN_RULE_STEP_NOT_APPLIED), as the Rust token types forbid it.
 *
 * Location: this is test tooling, not library API. It uses the public
 * headers and testing.h; its broken-design variants need the knobs that
 * exist only in the internal static library, so a test program builds it
 * from tests/scenario/gpuvm_scenario.c and tests/harness/warn_recorder.c
 * and links that library (see tests/scenario/scenario_driver.c). It is not
 * installed: it models one client layer (the Rust abstraction) and carries
 * deliberately broken variants, neither of which belongs in the library.
 *
 * Threads: one scenario runs at a time per process. The scn_* operations
 * may be called from any thread, like the Rust methods they model; the
 * checks (SCN_CHECK) belong on the scenario's main thread.
 *
 * Hook points the harness adds (gpuvm_hook(), see debug.h):
 *  "obtain:before_extobj_add"  scn_obtain() registered the vm_bo on the
 *                              GEM list and is about to add it to the
 *                              VM's extobj list under the VM resv
 */
#ifndef GPUVM_SCENARIO_H
#define GPUVM_SCENARIO_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <gpuvm/gpuvm.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- rules the harness reports (the driver-side contract) ---------------- */

/* A step callback returned 0 without applying its op through scn_op_*. */
#define SCN_RULE_STEP_NOT_APPLIED "scenario-step-not-applied"
/* A vm_bo was freed whose driver data was never initialised (C-09). */
#define SCN_RULE_DATA_UNINIT "scenario-vm-bo-data-uninit"
/* A vm_bo freed by another family or size than it was allocated with. */
#define SCN_RULE_FREE_FAMILY "scenario-vm-bo-free-family"
/* A vm_bo is not in the state the operation documents (C-11). */
#define SCN_RULE_STATE "scenario-vm-bo-state"
/* A raw pointer converted to a handle breaks the handle's invariant. */
#define SCN_RULE_FROM_RAW "scenario-from-raw"
/* A job maps an external object it did not lock (C-06, C-07). */
#define SCN_RULE_JOB_LOCKSET "scenario-job-lockset"
/* Objects still alive at a point where everything should be gone. */
#define SCN_RULE_LEAK "scenario-leak"
/* The harness's own objects (device, GEM) used after their release. */
#define SCN_RULE_USE_AFTER_FREE GPUVM_RULE_USE_AFTER_FREE

/* ---- the driver under test --------------------------------------------- */

struct scn_vm;

/**
 * struct scn_driver - the callbacks a driver plugs into the scenarios
 * @name: for the report
 * @vm_bo_size: size of the driver's vm_bo (struct gpuvm_bo first, then
 *	the VmBoData); 0 means exactly struct gpuvm_bo (a zero-sized data)
 * @vm_bo_align: its alignment; 0 means that of struct gpuvm_bo
 * @vm_bo_data_init: constructs the data at @data (NULL for zero-sized
 *	data) from @arg; may fail with a negative errno. Optional. A
 *	negative @arg is the scenarios asking it to fail with that errno
 *	(S-GV-09); a constructor that cannot fail ignores it.
 * @vm_bo_data_drop: the data's destructor; NULL when it has none
 * @vm_bo_alloc: optional allocation hook; NULL: the harness picks one the
 *	way the Rust layer does (C allocation when the layout is that of
 *	struct gpuvm_bo, a sized driver allocation otherwise)
 * @vm_bo_free: optional free hook; NULL: chosen the same way (the C free
 *	unless the data has a destructor)
 * @sm_step_map, @sm_step_remap, @sm_step_unmap: optional; NULL uses the
 *	reference steps scn_step_map() etc. @priv is a struct scn_sm_ctx.
 * @vm_data_new: constructs the VM's driver data (the T of GpuVm<T>),
 *	stored in struct scn_vm's @data; may be NULL
 * @vm_data_drop: the VM's driver data destructor, run by vm_free; may be
 *	NULL
 *
 * A driver hook may use the libgpuvm API as a driver would; the harness
 * records the locks held around it.
 */
struct scn_driver {
	const char *name;
	size_t vm_bo_size;
	size_t vm_bo_align;
	int (*vm_bo_data_init)(void *data, long arg);
	void (*vm_bo_data_drop)(struct gpuvm_bo *vm_bo, void *data);
	struct gpuvm_bo *(*vm_bo_alloc)(void);
	void (*vm_bo_free)(struct gpuvm_bo *vm_bo);
	int (*sm_step_map)(struct gpuva_op *op, void *priv);
	int (*sm_step_remap)(struct gpuva_op *op, void *priv);
	int (*sm_step_unmap)(struct gpuva_op *op, void *priv);
	void *(*vm_data_new)(void);
	void (*vm_data_drop)(struct scn_vm *vm);
};

/*
 * The reference driver: a vm_bo data with a destructor that, like
 * panthor's unpin, takes the GEM's resv; reference steps that drop removed
 * VAs at once. The scenarios' expectations are written for any correct
 * driver; this one is what our own tests run.
 */
extern const struct scn_driver scn_reference_driver;

/* The reference vm_bo data: scn_bo_data() of a reference-driver vm_bo. */
struct scn_ref_data {
	uint64_t magic; /* SCN_REF_MAGIC once constructed */
	long value;
	int readers; /* atomic: threads reading it right now */
	int dropped; /* atomic */
};
#define SCN_REF_MAGIC 0x7363656e5f626f64ull

/* ---- running scenarios -------------------------------------------------- */

#define SCN_MAX_NOTES 32
#define SCN_MAX_FAILURES 8

/* A named observation a scenario made (printed by the runner). */
struct scn_note {
	const char *key;
	long value;
};

struct scn_result {
	const char *id;
	const char *title;
	unsigned int checks;
	unsigned int failures;
	char failure[SCN_MAX_FAILURES][320];
	unsigned int nr_notes;
	struct scn_note notes[SCN_MAX_NOTES];
};

struct scn_scenario {
	const char *id; /* "S-GV-01", "S-GV-01-naive", ... */
	const char *title;
	/* The variant drives a broken design and expects it to be reported. */
	bool misuse;
	void (*run)(const struct scn_driver *drv, struct scn_result *r);
};

extern const struct scn_scenario scn_scenarios[];
extern const unsigned int scn_nr_scenarios;

/* The scenario named @id, or NULL. */
const struct scn_scenario *scn_find(const char *id);

/**
 * scn_run() - run one scenario against @drv
 *
 * Installs the harness's warning recorder for the run (and the default
 * handler afterwards: a caller with its own handler re-installs it), resets
 * the checker's learned lock order before and after, and at the end turns
 * every knob off, disarms hook points and fault injection, really frees the
 * objects released during the run and fails the run on a warning the
 * scenario did not take. Return: 0 when every check passed.
 */
int scn_run(const struct scn_scenario *s, const struct scn_driver *drv,
	    struct scn_result *r);

/*
 * Run every scenario whose id starts with @prefix (NULL: all), print one
 * line per scenario (and its failures and notes when @verbose) to @out.
 * Return: the number of failed scenarios.
 */
unsigned int scn_run_all(const struct scn_driver *drv, const char *prefix,
			 bool verbose, FILE *out);

/* Really free the objects released since the last call (kept until now
 * so that a use after free reads poison). scn_run() calls it at the end of
 * a scenario; the schedule explorer after each run. */
void scn_release_graves(void);

/* Print @r as the runner does. */
void scn_print_result(const struct scn_result *r, bool verbose, FILE *out);

/* ---- inside a scenario -------------------------------------------------- */

#define SCN_CHECK(r, cond, ...) \
	scn_check__((r), (cond), __FILE__, __LINE__, #cond, __VA_ARGS__)

void scn_check__(struct scn_result *r, bool ok, const char *file, int line,
		 const char *expr, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/* Warnings recorded with @rule (NULL: any) and not yet taken. */
unsigned int scn_warnings(const char *rule);
/* The same, and forget them: the run does not fail on them. */
unsigned int scn_take_warnings(const char *rule);
/* The newest recorded message of @rule, or "". */
const char *scn_last_warning(const char *rule);

void scn_note(struct scn_result *r, const char *key, long value);
/* The value noted for @key, or -1 when absent. */
long scn_get_note(const struct scn_result *r, const char *key);

/* Events in order, as one string "a b c " (for ordering assertions). */
void scn_event(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Position of @token in the event log, or -1. */
int scn_event_pos(const char *token);
const char *scn_events(void);

/* Thread tags (0 = the scenario's main thread) for "which thread ran". */
void scn_set_thread_tag(int tag);
int scn_thread_tag(void);

/* Start @n threads running @fn(i, @arg) (tags i + 1) and join them. */
void scn_run_threads(unsigned int n, void (*fn)(unsigned int i, void *arg),
		     void *arg);
/* Or start and join separately (at most 8 at a time). */
struct scn_thread {
	void *handle__;
};
void scn_thread_start(struct scn_thread *t, int tag,
		      void (*fn)(unsigned int i, void *arg), void *arg);
void scn_thread_join(struct scn_thread *t);

/* ---- harness knobs: the broken driver-side designs ---------------------- */

enum scn_knob {
	/* C-01: the vm_bo destructor locks the GEM's resv around a put. */
	SCN_KNOB_DROP_TAKES_GEM_RESV,
	/* C-02: the final put is synchronous, under the GEM's gpuva mutex. */
	SCN_KNOB_SYNC_PUT_UNDER_GPUVA,
	/* C-06: extobj registration moved from obtain into the map step. */
	SCN_KNOB_EXTOBJ_IN_MAP,
	/* C-07: obtain adds to the extobj list only if it created the vm_bo. */
	SCN_KNOB_EXTOBJ_ONLY_CREATOR,
	/* C-09: the data is constructed in place after the vm_bo exists; a
	 * failed constructor is followed by a put. */
	SCN_KNOB_INIT_AFTER_CREATE,
	/* C-10: the driver free hook frees with the C struct's size. */
	SCN_KNOB_FREE_WITH_C_SIZE,
	/* C-13, C-14: sm_map takes any vm_bo (no registered / same-VM check). */
	SCN_KNOB_NO_MAP_REQ_CHECKS,
	/* C-12: handle-from-raw conversions skip their precondition checks. */
	SCN_KNOB_NO_FROM_RAW_CHECKS,
	/* C-17: obtain does not assert that the VM resv is free. */
	SCN_KNOB_NO_OBTAIN_ASSERT,
	/* C-19: the file-close teardown does not run deferred cleanup. */
	SCN_KNOB_TEARDOWN_NO_DRAIN,
	/* C-21: the VM takes no device reference. */
	SCN_KNOB_VM_NO_DEVICE_REF,
	SCN_KNOB_COUNT
};

void scn_set_knob(enum scn_knob knob, bool on);
bool scn_knob(enum scn_knob knob);

/* How an unused prealloc (GpuVmBoAlloc) is dropped (C-08). */
enum scn_prealloc_drop {
	/* Merged Rust: gpuvm_bo_put_deferred(); freed by deferred cleanup. */
	SCN_DROP_DEFERRED,
	/* The follow-up: gpuvm_bo_destroy_not_in_lists(); freed at once. */
	SCN_DROP_DESTROY,
};
void scn_set_prealloc_drop(enum scn_prealloc_drop how);

/* ---- objects ------------------------------------------------------------ */

/* A DRM device, reference counted (the VM keeps one, C-21). */
struct scn_dev {
	uint64_t magic; /* SCN_DEV_MAGIC while alive, poisoned after */
	int refcount; /* atomic */
	char name[16];
};
#define SCN_DEV_MAGIC 0x7363656e5f646576ull

struct scn_dev *scn_dev_new(const char *name);
void scn_dev_get(struct scn_dev *dev);
/* The last put releases (and poisons) the device. */
void scn_dev_put(struct scn_dev *dev);
/* Whether @dev was released; a released device is reported when used. */
bool scn_dev_released(const struct scn_dev *dev);
/* The device's name, checking it is alive (reported otherwise). */
const char *scn_dev_name(const struct scn_dev *dev, const char *func);

/*
 * A GEM object. @pages are "pinned" while the object lives (the
 * accounting of S-GV-18). Released objects are poisoned and their memory
 * is kept until the end of the run, so a broken variant that touches one
 * stays well-defined and is reported.
 */
struct scn_gem {
	struct gpuvm_gem_object base;
	uint64_t magic;
	char name;
	unsigned long pages;
	int freed; /* atomic */
	struct scn_gem *next__;
};
#define SCN_GEM_MAGIC 0x7363656e5f67656dull

/* @resv: NULL for an object with its own resv (external to every VM),
 * or a VM's resv for a VM-private object. One reference for the caller. */
struct scn_gem *scn_gem_new(char name, struct gpuvm_dma_resv *resv,
			    unsigned long pages);
void scn_gem_get(struct scn_gem *g);
void scn_gem_put(struct scn_gem *g);
bool scn_gem_freed(const struct scn_gem *g);
int scn_gem_refcount(const struct scn_gem *g);
/* Pages pinned by live objects of this run. */
long scn_pinned_pages(void);

static inline struct scn_gem *scn_gem_of(struct gpuvm_gem_object *obj)
{
	return gpuvm_container_of(obj, struct scn_gem, base);
}

/* What the recorder saw around the driver's callbacks of one VM. */
struct scn_vm_stats {
	/* vm_bo frees, and how many ran with these locks held. */
	unsigned int frees, frees_gpuva_held, frees_vm_resv_held,
		frees_signalling;
	int last_free_thread;
	/* Allocation and free families (C: libgpuvm's default). */
	unsigned int alloc_c, alloc_driver, free_c, free_driver;
	/* VmBoData destructor runs, and on which thread the last ran. */
	unsigned int data_drops;
	int last_drop_thread;
	/* Step callbacks, and those that ran without the VA lock. */
	unsigned int steps, steps_without_va_lock, steps_in_signalling;
	/* VAs dropped by the reference steps (GpuVaRemoved drops). */
	unsigned int va_frees;
	/* vm_free: how often, on which thread. */
	unsigned int vm_frees;
	int vm_free_thread;
	unsigned int vm_data_drops;
};

/* Flags for scn_vm_new(). */
#define SCN_VM_STAGED (1u << 0) /* no GPUVM_IMMEDIATE_MODE */
#define SCN_VM_POISONED_ALLOC (1u << 1) /* not zeroed: GPUVM_POISON_FREE */

/*
 * GpuVm<T>: struct gpuvm first, then the driver's side. Its memory is
 * kept until the end of the run (the stats stay readable after vm_free).
 */
struct scn_vm {
	struct gpuvm base;
	struct gpuvm_ops ops;
	const struct scn_driver *drv;
	struct scn_dev *dev; /* counted (C-21) */
	struct gpuvm_mutex va_lock; /* the driver's Mutex<UniqueRefGpuVm> */
	void *data; /* T, for the driver */
	char dev_name_at_free[16]; /* what vm_free read from dev */
	int freed; /* atomic: vm_free ran */
	struct scn_vm_stats stats; /* counters updated atomically */
	bool dev_ref__;
	struct scn_vm *next__;
};

static inline struct scn_vm *scn_vm_of(struct gpuvm *gpuvm)
{
	return gpuvm_container_of(gpuvm, struct scn_vm, base);
}

/**
 * scn_vm_new() - GpuVm::new: a VM in IMMEDIATE | RESV_PROTECTED mode
 * @dev: a reference is taken (unless SCN_KNOB_VM_NO_DEVICE_REF)
 * @r_obj: the object whose resv becomes the VM's; NULL: a fresh one the
 *	VM owns alone
 * @flags: SCN_VM_*
 *
 * Return: the VM with one reference: the unique handle (UniqueRefGpuVm).
 */
struct scn_vm *scn_vm_new(const struct scn_driver *drv, struct scn_dev *dev,
			  struct scn_gem *r_obj, uint64_t start, uint64_t range,
			  uint64_t kstart, uint64_t krange, unsigned int flags);
/* ARef<GpuVm> clone and drop (the unique handle's drop too). */
void scn_vm_get(struct scn_vm *vm);
void scn_vm_put(struct scn_vm *vm);
bool scn_vm_freed(const struct scn_vm *vm);
int scn_vm_refcount(const struct scn_vm *vm);

/* The VA lock: what owning &mut UniqueRefGpuVm means. */
void scn_va_lock(struct scn_vm *vm);
void scn_va_unlock(struct scn_vm *vm);

/* ---- vm_bos ------------------------------------------------------------- */

/*
 * The states of C-11: derived from the public fields. FREED is only seen
 * while freed memory is poisoned (gpuvm_alloc_poisoning()) and kept.
 */
enum scn_bo_state {
	SCN_BO_PREALLOC, /* count > 0, on no GEM list */
	SCN_BO_REGISTERED, /* count > 0, on its GEM's list */
	SCN_BO_ZOMBIE, /* count 0: awaiting deferred cleanup */
	SCN_BO_FREED, /* the memory holds the free poison */
};
enum scn_bo_state scn_bo_state(const struct gpuvm_bo *vm_bo);
const char *scn_bo_state_name(enum scn_bo_state state);

/* The driver data of @vm_bo (NULL for zero-sized data). */
void *scn_bo_data(struct gpuvm_bo *vm_bo);

/**
 * scn_bo_alloc_new() - GpuVmBoAlloc::new
 * @arg: passed to the driver's vm_bo_data_init
 *
 * Constructs the data first (it may fail), then gpuvm_bo_create(), then
 * moves the data in (cannot fail): nothing uninitialised can reach the
 * free hook. Return: a PREALLOC vm_bo; NULL when out of memory; an error
 * pointer when the data constructor failed.
 */
struct gpuvm_bo *scn_bo_alloc_new(struct scn_vm *vm, struct scn_gem *g,
				  long arg);
/* GpuVmBoAlloc::obtain: publish @prealloc (or find the live one), then
 * add it to the extobj list under the VM resv. Return: REGISTERED. */
struct gpuvm_bo *scn_bo_alloc_obtain(struct gpuvm_bo *prealloc);
/* Drop of an unused GpuVmBoAlloc (see scn_set_prealloc_drop()). */
void scn_bo_alloc_drop(struct gpuvm_bo *prealloc);

/**
 * scn_obtain() - GpuVm::obtain: scn_bo_alloc_new + scn_bo_alloc_obtain
 *
 * Context: must not hold the VM resv (reported as GPUVM_RULE_LOCK_HELD and
 * refused with -EDEADLK) nor a gpuva lock; not in a signalling section.
 * Return: a REGISTERED vm_bo with a reference, NULL when out of memory, or
 * an error pointer.
 */
struct gpuvm_bo *scn_obtain(struct scn_vm *vm, struct scn_gem *g, long arg);

/* ARef<GpuVmBo> clone and drop (gpuvm_bo_put_deferred()). */
void scn_bo_get(struct gpuvm_bo *vm_bo);
void scn_bo_put(struct gpuvm_bo *vm_bo);
/* GpuVm::deferred_cleanup. */
void scn_deferred_cleanup(struct scn_vm *vm);

/* GpuVmBo::from_raw with its preconditions checked (SCN_RULE_FROM_RAW).
 * Return: @vm_bo, or NULL when a precondition fails. */
struct gpuvm_bo *scn_bo_from_raw(struct gpuvm_bo *vm_bo);

/* ---- VAs and the split/merge steps ------------------------------------- */

/* GpuVa<T>: struct gpuva first. */
struct scn_va {
	struct gpuva base;
	uint64_t magic;
	long data;
};
#define SCN_VA_MAGIC 0x7363656e5f766161ull

/* GpuVaAlloc::new (library memory: counted and fault-injectable). */
struct scn_va *scn_va_alloc(gpuvm_gfp_t gfp);
/* Drop of a GpuVaAlloc or GpuVaRemoved. */
void scn_va_free(struct scn_va *va);
/* VAs allocated and not freed in this run. */
long scn_vas_alive(void);
/* GpuVa::from_raw with its preconditions checked (SCN_RULE_FROM_RAW). */
struct scn_va *scn_va_from_raw(struct gpuva *va);

struct scn_job;

#define SCN_CTX_POOL 8
#define SCN_CTX_KEEP 64

/**
 * struct scn_sm_ctx - the private data of one sm_map / sm_unmap walk
 * (SmMapData / SmData plus the driver's SmContext)
 * @vm: the VM; @vm_bo: the request's vm_bo (map only)
 * @pool: preallocated VAs the steps take from (GpuVaAlloc); the unused
 *	ones are freed by scn_ctx_fini()
 * @keep_removed: keep removed VAs in @removed instead of dropping them
 * @inject_fail_at: make step number n (0-based) fail with @inject_ret
 *	before the driver's callback runs (-1: never)
 * @job: the job whose locks the walk runs under, or NULL
 * @user: for the driver's callbacks
 */
struct scn_sm_ctx {
	struct scn_vm *vm;
	struct gpuvm_bo *vm_bo;
	struct scn_va *pool[SCN_CTX_POOL];
	unsigned int nr_pool;
	bool keep_removed;
	struct scn_va *removed[SCN_CTX_KEEP];
	unsigned int nr_removed;
	int inject_fail_at;
	int inject_ret;
	struct scn_job *job;
	void *user;
	/* private */
	unsigned int steps__, applied__;
};

void scn_ctx_init(struct scn_sm_ctx *ctx, struct scn_vm *vm);
/* Preallocate @n VAs (@gfp) and index room for @n inserts. Call without
 * the VA lock held. Return: 0 or -ENOMEM (nothing kept). */
int scn_ctx_prealloc(struct scn_sm_ctx *ctx, unsigned int n, gpuvm_gfp_t gfp);
/* Free what the walk left: unused preallocs and kept removed VAs. */
void scn_ctx_fini(struct scn_sm_ctx *ctx);

/**
 * scn_sm_map() - UniqueRefGpuVm::sm_map
 *
 * Context: the VA lock held (asserted). Checks that @vm_bo is REGISTERED
 * and belongs to @vm (-EINVAL, no step runs, unless
 * SCN_KNOB_NO_MAP_REQ_CHECKS), then walks gpuvm_sm_map() with @ctx.
 * Return: 0, -EINVAL, or the first step error.
 */
int scn_sm_map(struct scn_sm_ctx *ctx, uint64_t addr, uint64_t range,
	       struct gpuvm_bo *vm_bo, uint64_t offset);
/* UniqueRefGpuVm::sm_unmap. Context: the VA lock held. */
int scn_sm_unmap(struct scn_sm_ctx *ctx, uint64_t addr, uint64_t range);

/* The token methods for the driver's steps. */
/* OpMap::insert: map a pooled VA, link it under the gpuva lock. */
int scn_op_map_insert(struct scn_sm_ctx *ctx, struct gpuva_op *op);
/* OpUnmap::remove: unmap + unlink_defer; *@removed: the removed VA,
 * now the caller's (GpuVaRemoved). Return: 0. */
int scn_op_unmap_remove(struct scn_sm_ctx *ctx, struct gpuva_op *op,
			struct scn_va **removed);
/* OpRemap::remap: pieces from the pool, linked before the old VA is
 * unlinked; unused pieces stay in the pool. *@removed: the old VA.
 * Return: 0, or -ENOMEM when the pool lacks a piece (nothing done). */
int scn_op_remap(struct scn_sm_ctx *ctx, struct gpuva_op *op,
		 struct scn_va **removed);

/* The reference steps: apply the op, drop (or keep) the removed VA. */
int scn_step_map(struct gpuva_op *op, void *priv);
int scn_step_remap(struct gpuva_op *op, void *priv);
int scn_step_unmap(struct gpuva_op *op, void *priv);

/* Convenience: a whole map or unmap with its own context (VA lock taken
 * here, @prealloc VAs allocated with GPUVM_GFP_KERNEL). */
int scn_map(struct scn_vm *vm, struct gpuvm_bo *vm_bo, uint64_t addr,
	    uint64_t range, uint64_t offset);
int scn_unmap(struct scn_vm *vm, uint64_t addr, uint64_t range);

/* ---- a job (drm_gpuvm_exec) -------------------------------------------- */

struct scn_job {
	struct gpuvm_vm_exec vm_exec;
	struct gpuvm_dma_fence *fence;
	struct scn_vm *vm;
};

/* Lock the VM resv and every (non-zombie) extobj, one fence slot each. */
int scn_job_lock(struct scn_job *job, struct scn_vm *vm);
/* Whether the job's exec holds @g's resv. */
bool scn_job_holds(struct scn_job *job, struct scn_gem *g);
/*
 * Attach the job's fence to every locked object. Every external object
 * mapped in the VM must be locked, or it would miss the fence: reported
 * as SCN_RULE_JOB_LOCKSET. Context: the VA lock (the mappings are read).
 */
void scn_job_attach_fence(struct scn_job *job);
/* Whether @g's resv holds the job's fence (call before unlocking). */
bool scn_job_fence_on(struct scn_job *job, struct scn_gem *g);
/* Unlock, signal and drop the fence. */
void scn_job_finish(struct scn_job *job);

/* ---- teardown and leaks ------------------------------------------------- */

/*
 * A driver's file-close path (Tyr's kill(), Asahi's Vm::drop): unmap the
 * whole range, run deferred cleanup (skipped with
 * SCN_KNOB_TEARDOWN_NO_DRAIN), drop the unique handle.
 */
void scn_vm_close(struct scn_vm *vm);

/* Live counts for the leak report. */
struct scn_live {
	long vms, gems, vm_bos, vas, pinned_pages, devs;
};
void scn_live(struct scn_live *live);

/*
 * Report what is alive beyond @base (SCN_RULE_LEAK, naming @when).
 * Return: the number of leaked objects (0: nothing reported).
 */
long scn_leak_report(const struct scn_live *base, const char *when);

/* List membership for assertions (walks; the GEM list under its lock). */
bool scn_bo_on_gem_list(const struct gpuvm_bo *vm_bo);
bool scn_bo_on_extobj(const struct gpuvm_bo *vm_bo);
bool scn_bo_on_defer(const struct gpuvm_bo *vm_bo);
unsigned int scn_defer_count(const struct scn_vm *vm);
unsigned int scn_va_count(struct scn_vm *vm);

#ifdef __cplusplus
}
#endif

#endif /* GPUVM_SCENARIO_H */
