/* SPDX-License-Identifier: MIT */
/*
 * A reusable VM fixture for tests: a test "driver" embedding struct gpuvm,
 * a GEM factory, VA helpers, a textual layout language, recording
 * split/merge step callbacks and a helper that applies ops to the VA space
 * the way a driver does.
 *
 * Objects are named by one letter: a lowercase letter is a VM-private
 * object (it shares the VM's resv), an uppercase letter an external one
 * (its own resv); '-' stands for "no object" (sparse / NULL-backed). The
 * fixture creates an object the first time its letter is used and keeps a
 * reference on it until fx_vm_destroy().
 *
 * Layouts and expectations are written as text, the same text the fixture
 * prints, so a failing assertion shows expected and actual side by side:
 *
 *   VAs:   "a [0,4) @0, b [4,6) @10, - [6,8) @0"   (the offset may be
 *          left out: "@0")
 *   steps: "REMAP a [0,4) @0 keep=0 prev=a [0,2) @0 next=-; "
 *          "UNMAP b [4,6) @10 keep=0; MAP d [2,8) @100"
 *          (UNMAP, REMAP and PREFETCH name the existing VA with its
 *          interval and offset as they were when the step was taken)
 *
 * VAs in a fixture VM must come from fx_va_new() (they carry a magic
 * number the fixture checks before freeing them). Their memory is plain
 * calloc: the harness leak check counts library allocations only.
 *
 * Locking: the fixture takes whatever the library asserts. VA-space
 * functions need no library lock (the driver serialises them; tests are
 * single-threaded). Linking and unlinking take the GEM list lock of the
 * VM's mode (the gpuva mutex in immediate mode, the object's resv
 * otherwise, through a gpuvm_exec that also holds the VM resv so that a
 * final vm_bo put is allowed with GPUVM_RESV_PROTECTED).
 *
 * Every helper asserts through CMocka, so call them from the test thread.
 */
#ifndef GPUVM_TEST_FIXTURE_H
#define GPUVM_TEST_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gpuvm/gem.h>
#include <gpuvm/ops.h>
#include <gpuvm/va.h>
#include <gpuvm/vm.h>

/* Room for the recorded steps of one request (and the VAs it removes). */
#define FX_MAX_STEPS 1024
/* Size of the text buffers the fixture formats into. */
#define FX_TEXT_MAX 16384

#define FX_VA_MAGIC 0x67707576615f7661ull /* "gpuva_va" */
#define FX_OP_MAGIC 0x67707576615f6f70ull /* "gpuva_op" */

/* A GEM object made by the factory. */
struct fx_obj {
	struct gpuvm_gem_object base;
	char name; /* 'a'..'z' private, 'A'..'Z' external */
	bool external;
	struct fx_vm *fx;
};

/* A VA allocated by the fixture (the test side of a driver VA). */
struct fx_va {
	uint64_t magic;
	struct gpuva base;
};

/* The test driver: struct gpuvm embedded, as a real driver does. */
struct fx_vm {
	struct gpuvm base;
	/*
	 * The callback table the VM uses (base.ops points here). Tests may
	 * change it at any time; fx_vm_create() fills vm_free and the
	 * recording sm_step_* callbacks.
	 */
	struct gpuvm_ops ops;
	/* How often ops.vm_free ran (must be exactly once, at destroy). */
	unsigned int vm_free_calls;
	/* Link VAs that have an object to their vm_bo (default false). */
	bool link;
	/* Objects by letter ('a'..'z' at 0..25, 'A'..'Z' at 26..51). */
	struct fx_obj *objs[52];
};

/**
 * fx_vm_create() - a fresh VM with its own resv object
 * @flags: enum gpuvm_flags (GPUVM_IMMEDIATE_MODE, GPUVM_RESV_PROTECTED)
 * @start, @range: the managed window
 * @kstart, @krange: the kernel-reserved node (krange 0: none)
 *
 * The VM owns its resv object (the fixture drops its own reference, as
 * drivers do). Free with fx_vm_destroy().
 */
struct fx_vm *fx_vm_create(enum gpuvm_flags flags, uint64_t start,
			   uint64_t range, uint64_t kstart, uint64_t krange);

/*
 * Tear everything down: remove, unlink and free every VA left in the VA
 * space (the kernel node excepted), run the deferred vm_bo cleanup, drop
 * the fixture's object references (asserting each object is freed), drop
 * the VM reference and assert vm_free ran exactly once.
 */
void fx_vm_destroy(struct fx_vm *fx);

static inline struct fx_vm *fx_vm_of(struct gpuvm *gpuvm)
{
	return gpuvm_container_of(gpuvm, struct fx_vm, base);
}

/* ---- GEM factory ------------------------------------------------------- */

/*
 * The object named @name ('-' gives NULL), created on first use: private
 * (sharing the VM resv) for a lowercase letter, external for uppercase.
 * The fixture owns one reference.
 */
struct gpuvm_gem_object *fx_obj(struct fx_vm *fx, char name);

/* The letter of @obj ('-' for NULL, '?' for a foreign object). */
char fx_obj_name(struct fx_vm *fx, const struct gpuvm_gem_object *obj);

/* ---- VAs --------------------------------------------------------------- */

/* A new, not inserted VA (calloc). */
struct gpuva *fx_va_new(uint64_t addr, uint64_t range,
			struct gpuvm_gem_object *obj, uint64_t offset);

/* Free a VA from fx_va_new() that is neither inserted nor linked. */
void fx_va_free(struct gpuva *va);

/*
 * Insert a new VA, assert gpuva_insert() returned 0, and link it when
 * fx->link is set and it has an object. Return: the VA.
 */
struct gpuva *fx_va_insert(struct fx_vm *fx, uint64_t addr, uint64_t range,
			   struct gpuvm_gem_object *obj, uint64_t offset);

/* Unlink (if linked), remove and free @va. */
void fx_va_destroy(struct fx_vm *fx, struct gpuva *va);

/* Insert every VA of a layout string (see the top of this file). */
void fx_insert_layout(struct fx_vm *fx, const char *layout);

/* Remove, unlink and free every VA (not the kernel node). */
void fx_clear(struct fx_vm *fx);

/* Number of VAs in the VA space, the kernel node excluded. */
unsigned int fx_va_count(struct fx_vm *fx);

/*
 * Format the VA space as a layout string (the kernel node excluded) into
 * @buf, and check its consistency on the way: ascending, no overlap, each
 * VA found by gpuva_find() and pointing back at the VM. Return: @buf.
 */
char *fx_tree_format(struct fx_vm *fx, char *buf, size_t size);

/*
 * Fail the test unless the VA space is exactly @expected. With fx->link,
 * also check the links: every VA with an object is linked to the live
 * vm_bo of (VM, object), and each vm_bo lists exactly those VAs.
 */
void fx_assert_tree(struct fx_vm *fx, const char *expected);

/* The link check of fx_assert_tree() on its own. */
void fx_check_links(struct fx_vm *fx);

/*
 * Name what the test is doing (printf style); the fixture's failure
 * messages start with it. An empty string clears it.
 */
void fx_context(const char *fmt, ...) GPUVM_PRINTF(1, 2);

/* ---- linking ----------------------------------------------------------- */

/* Take / release the GEM list lock of @obj for fx's mode (see above). */
void fx_gem_list_lock(struct fx_vm *fx, struct gpuvm_gem_object *obj);
void fx_gem_list_unlock(struct fx_vm *fx, struct gpuvm_gem_object *obj);

/* Link an inserted VA to its object's vm_bo (obtained as the mode
 * requires; external objects also go on the extobj list). */
void fx_va_link(struct fx_vm *fx, struct gpuva *va);

/* Link @va to the vm_bo @vm_bo (a remnant inheriting its parent's). */
void fx_va_link_to(struct fx_vm *fx, struct gpuva *va, struct gpuvm_bo *vm_bo);

/* Unlink @va (deferred in immediate mode). */
void fx_va_unlink(struct fx_vm *fx, struct gpuva *va);

/* The live vm_bo of (fx, obj) without a reference, or NULL. */
struct gpuvm_bo *fx_vm_bo(struct fx_vm *fx, struct gpuvm_gem_object *obj);

/* ---- recorded steps ---------------------------------------------------- */

/* One step or op, copied (the callbacks' payloads live on the stack). */
struct fx_step {
	enum gpuva_op_type kind;
	/* UNMAP, REMAP, PREFETCH: the existing VA and its state back then. */
	struct gpuva *va;
	struct gpuva_op_map va_was;
	bool keep;
	/* MAP: the new mapping. */
	struct gpuva_op_map map;
	/* REMAP: the remnants. */
	bool has_prev, has_next;
	struct gpuva_op_map prev, next;
};

/*
 * The priv of the fixture's sm_step_* callbacks (pass it to gpuvm_sm_map
 * and gpuvm_sm_unmap). Each step is recorded; then, if this is callback
 * number @fail_at (0-based), @fail_ret is returned without applying it;
 * otherwise, with @apply, the step is applied to the VA space right away
 * (as an immediate-mode driver does).
 */
struct fx_recorder {
	struct fx_vm *fx;
	bool apply;
	int fail_at; /* -1: never */
	int fail_ret;
	unsigned int calls;
	unsigned int n;
	struct fx_step steps[FX_MAX_STEPS];
};

void fx_recorder_init(struct fx_recorder *rec, struct fx_vm *fx, bool apply);

/* The fixture's recording callbacks (installed by fx_vm_create()). */
int fx_step_map(struct gpuva_op *op, void *priv);
int fx_step_remap(struct gpuva_op *op, void *priv);
int fx_step_unmap(struct gpuva_op *op, void *priv);

/* Copy one op into @step. */
void fx_step_from_op(struct fx_step *step, const struct gpuva_op *op);

/* Record a whole ops list into @rec (appending). */
void fx_record_ops(struct fx_recorder *rec, const struct gpuva_ops *ops);

/* Format steps as text (see the top of this file). Return: @buf. */
char *fx_steps_format(struct fx_vm *fx, const struct fx_step *steps,
		      unsigned int n, char *buf, size_t size);

/* Fail the test unless the recorded steps read exactly @expected. */
void fx_assert_steps(struct fx_recorder *rec, const char *expected);

/* Fail the test unless @ops reads exactly @expected. */
void fx_assert_ops(struct fx_vm *fx, const struct gpuva_ops *ops,
		   const char *expected);

/* Number of ops in @ops. */
unsigned int fx_ops_count(const struct gpuva_ops *ops);

/* ---- applying ops ------------------------------------------------------ */

/*
 * Apply one op like a driver: MAP inserts a fresh VA (and links it with
 * fx->link); REMAP inserts fresh remnants, links them to the old VA's
 * vm_bo before unlinking the old VA, and removes it; UNMAP removes and
 * unlinks; PREFETCH does nothing. Every insert must succeed. The old VA is
 * freed when @free_old, otherwise appended to @graveyard (an array of
 * FX_MAX_STEPS entries, counted by *@nr_dead), because an ops list still
 * points at it.
 */
void fx_apply_op(struct fx_vm *fx, const struct gpuva_op *op, bool free_old,
		 struct gpuva **graveyard, unsigned int *nr_dead);

/*
 * Apply a whole ops list in order, then free the VAs it removed. The ops
 * list itself stays the caller's (free it with gpuva_ops_free(); do not
 * read the VAs its UNMAP/REMAP ops name any more).
 */
void fx_apply_ops(struct fx_vm *fx, const struct gpuva_ops *ops);

/* ---- counted op_alloc / op_free ---------------------------------------- */

/*
 * A driver op: struct gpuva_op embedded after a header, so that a default
 * free of the op pointer would be a bad free. Memory comes from the
 * library allocator, so fault injection reaches it too.
 */
struct fx_op {
	uint64_t magic;
	struct gpuva_op op;
};

/* Calls of fx_op_alloc (successful ones) and fx_op_free since reset. */
extern unsigned long fx_op_allocs, fx_op_frees;

struct gpuva_op *fx_op_alloc(void);
void fx_op_free(struct gpuva_op *op);

/* Install fx_op_alloc/fx_op_free in fx->ops and zero the counters. */
void fx_use_counted_ops(struct fx_vm *fx);

/* ---- modes and state queries (for the VM contract tests) ---------------- */

/* The four locking modes: staged/immediate x plain/GPUVM_RESV_PROTECTED. */
struct fx_mode {
	const char *name;
	enum gpuvm_flags flags;
};

#define FX_NR_MODES 4
extern const struct fx_mode fx_modes[FX_NR_MODES];

/*
 * Snapshots for assertions. They take no lock: call them from the test
 * thread while no other thread changes the VM. The list queries walk the
 * lists, so pass only vm_bos that are still allocated (live or zombie).
 */
int fx_vm_kref(const struct gpuvm *gpuvm);
int fx_bo_kref(const struct gpuvm_bo *vm_bo);
unsigned int fx_list_count(const struct gpuvm_list_head *head);
bool fx_bo_on_gem_list(const struct gpuvm_bo *vm_bo);
bool fx_bo_on_extobj(const struct gpuvm_bo *vm_bo);
bool fx_bo_on_evict(const struct gpuvm_bo *vm_bo);
bool fx_bo_on_defer(const struct gpuvm_bo *vm_bo);
/* Zombies waiting on @gpuvm's deferred list. */
unsigned int fx_defer_count(const struct gpuvm *gpuvm);

/*
 * Lock the resvs of @objs (NULL entries skipped) in @exec, initialised
 * here with GPUVM_EXEC_IGNORE_DUPLICATES, asserting success. Unlock with
 * gpuvm_exec_fini().
 */
void fx_exec_lock_objs(struct gpuvm_exec *exec,
		       struct gpuvm_gem_object *const *objs, unsigned int n);

/* Lock / unlock the VM resv alone (no acquire context). */
void fx_vm_resv_lock(struct fx_vm *fx);
void fx_vm_resv_unlock(struct fx_vm *fx);

/*
 * A vm_bo of (@fx, @obj) with a reference for the caller, obtained the
 * way the mode wants: gpuvm_bo_obtain_locked() under the GEM list lock
 * (staged) or gpuvm_bo_create() + gpuvm_bo_obtain_prealloc() (immediate).
 * Not put on the extobj list.
 */
struct gpuvm_bo *fx_bo_obtain(struct fx_vm *fx, struct gpuvm_gem_object *obj);

/*
 * gpuvm_bo_put() with every lock a final put needs in the mode: the GEM
 * list lock and, with GPUVM_RESV_PROTECTED, the VM resv. Return: what
 * gpuvm_bo_put() returned.
 */
bool fx_bo_put_locked(struct fx_vm *fx, struct gpuvm_bo *vm_bo);

#endif /* GPUVM_TEST_FIXTURE_H */
