// SPDX-License-Identifier: MIT

use super::*;

use core::ffi::{c_int, c_void};
use core::marker::PhantomData;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use crate::error::{code::EINVAL, to_result, Result};
use crate::pin_init::PinInit;

/// What the step callbacks get through the C walk's private pointer.
struct SmData<'a, 'ctx, T: DriverGpuVm + 'ctx> {
    gpuvm: &'a mut UniqueRefGpuVm<T>,
    user_context: &'a mut T::SmContext<'ctx>,
    // A panic in a step is caught (it must not unwind through C), stops
    // the walk, and is resumed once the walk has returned.
    panic: Option<Box<dyn core::any::Any + Send>>,
}

/// `SmData` plus the vm_bo of the map request; `repr(C)` with `SmData`
/// first, so the unmap and remap steps can read either as `SmData`.
///
/// # Invariants
///
/// `vm_bo.gpuvm()` is `sm_data.gpuvm`'s VM.
#[repr(C)]
struct SmMapData<'a, 'ctx, T: DriverGpuVm + 'ctx> {
    sm_data: SmData<'a, 'ctx, T>,
    vm_bo: &'a GpuVmBo<T>,
}

/// A map request for [`UniqueRefGpuVm::sm_map`].
pub struct OpMapRequest<'a, 'ctx, T: DriverGpuVm + 'ctx> {
    /// Start address.
    pub addr: u64,
    /// Length.
    pub range: u64,
    /// Offset into the object.
    pub gem_offset: u64,
    /// The vm_bo of the object in this VM (from [`GpuVm::obtain`]).
    pub vm_bo: &'a GpuVmBo<T>,
    /// Passed to every step.
    pub context: &'a mut T::SmContext<'ctx>,
}

/// A map step not carried out yet.
pub struct OpMap<'op, T: DriverGpuVm> {
    op: &'op bindings::gpuva_op_map,
    vm_bo: &'op GpuVmBo<T>,
    // Makes `'op` invariant: an `OpMapped` of another step cannot pass
    // for this one's.
    _invariant: PhantomData<*mut &'op mut T>,
}

impl<'op, T: DriverGpuVm> OpMap<'op, T> {
    /// The start address of the new mapping.
    pub fn addr(&self) -> u64 {
        self.op.va.addr
    }

    /// The length of the new mapping.
    pub fn length(&self) -> u64 {
        self.op.va.range
    }

    /// The offset into the object.
    pub fn gem_offset(&self) -> u64 {
        self.op.gem.offset
    }

    /// The object.
    pub fn obj(&self) -> &T::Object {
        // SAFETY: the request's vm_bo keeps the object alive.
        unsafe { <T::Object as IntoGEMObject>::from_raw(self.op.gem.obj) }
    }

    /// The vm_bo the new mapping will be linked to.
    pub fn vm_bo(&self) -> &GpuVmBo<T> {
        self.vm_bo
    }

    /// Inserts the mapping, using the memory `va` and the data `va_data`.
    /// Takes the object's gpuva mutex to link it; allocates nothing.
    pub fn insert(self, va: GpuVaAlloc<T>, va_data: impl PinInit<T::VaData>) -> OpMapped<'op, T> {
        let va = va.prepare(va_data);
        // SAFETY: the walk runs under the unique handle; `va` is prepared.
        let ret = unsafe { bindings::gpuva_map_checked(self.vm_bo.gpuvm().as_raw(), va, self.op) };
        if ret != 0 {
            // SAFETY: prepared by us and not inserted.
            unsafe { GpuVaRemoved::<T>::from_raw(va) };
            index_failure(Error::from_errno(ret));
        }
        let _guard = self.vm_bo.lock_gpuva();
        // SAFETY: in the tree, and we hold the object's gpuva mutex.
        unsafe { bindings::gpuva_link(va, self.vm_bo.as_raw()) };
        OpMapped {
            _invariant: PhantomData,
        }
    }
}

/// Proof that an [`OpMap`] was carried out.
pub struct OpMapped<'op, T> {
    _invariant: PhantomData<*mut &'op mut T>,
}

/// An unmap step not carried out yet.
pub struct OpUnmap<'op, T: DriverGpuVm> {
    op: &'op bindings::gpuva_op_unmap,
    _invariant: PhantomData<*mut &'op mut T>,
}

impl<'op, T: DriverGpuVm> OpUnmap<'op, T> {
    /// Whether the mapping is contiguous with the map request (page
    /// tables may be kept).
    pub fn keep(&self) -> bool {
        self.op.keep
    }

    /// The mapping to remove.
    pub fn va(&self) -> &GpuVa<T> {
        // SAFETY: a mapping of the tree, neither the kernel node nor sparse.
        unsafe { GpuVa::from_raw(self.op.va) }
    }

    /// Removes the mapping from the tree and unlinks it (a deferred put
    /// of its vm_bo: the last one queues it for `deferred_cleanup`).
    pub fn remove(self) -> (OpUnmapped<'op, T>, GpuVaRemoved<T>) {
        // SAFETY: under the unique handle; the VA is in the tree.
        unsafe { bindings::gpuva_unmap(self.op) };
        // SAFETY: out of the tree, still linked; takes the gpuva mutex.
        unsafe { bindings::gpuva_unlink_defer(self.op.va) };
        // SAFETY: removed and unlinked.
        let va = unsafe { GpuVaRemoved::from_raw(self.op.va) };
        (
            OpUnmapped {
                _invariant: PhantomData,
            },
            va,
        )
    }
}

/// Proof that an [`OpUnmap`] was carried out.
pub struct OpUnmapped<'op, T> {
    _invariant: PhantomData<*mut &'op mut T>,
}

/// A remap step not carried out yet: a mapping is replaced by the parts of
/// it outside the request.
pub struct OpRemap<'op, T: DriverGpuVm> {
    op: &'op bindings::gpuva_op_remap,
    _invariant: PhantomData<*mut &'op mut T>,
}

impl<'op, T: DriverGpuVm> OpRemap<'op, T> {
    /// The part before the request, if any.
    pub fn prev(&self) -> Option<&OpRemapMapData> {
        // SAFETY: NULL or a valid op for the step.
        unsafe { self.op.prev.cast::<OpRemapMapData>().as_ref() }
    }

    /// The part after the request, if any.
    pub fn next(&self) -> Option<&OpRemapMapData> {
        // SAFETY: NULL or a valid op for the step.
        unsafe { self.op.next.cast::<OpRemapMapData>().as_ref() }
    }

    /// Whether the mapping is contiguous with the map request.
    pub fn keep(&self) -> bool {
        // SAFETY: `unmap` is always set.
        unsafe { (*self.op.unmap).keep }
    }

    /// The mapping being replaced.
    pub fn va_to_unmap(&self) -> &GpuVa<T> {
        // SAFETY: a mapping of the tree, neither the kernel node nor sparse.
        unsafe { GpuVa::from_raw((*self.op.unmap).va) }
    }

    /// Its object.
    pub fn obj(&self) -> &T::Object {
        self.va_to_unmap().obj()
    }

    /// Its vm_bo.
    pub fn vm_bo(&self) -> &GpuVmBo<T> {
        self.va_to_unmap().vm_bo()
    }

    /// Replaces the mapping: `va_alloc[0]` becomes `prev` (with
    /// `prev_data`), `va_alloc[1]` becomes `next`; an allocation not
    /// needed comes back in [`OpRemapRet::unused_va`]. The new parts are
    /// linked before the old mapping is unlinked, so the vm_bo cannot
    /// become a zombie in between.
    pub fn remap(
        self,
        va_alloc: [GpuVaAlloc<T>; 2],
        prev_data: impl PinInit<T::VaData>,
        next_data: impl PinInit<T::VaData>,
    ) -> (OpRemapped<'op, T>, OpRemapRet<T>) {
        let [va_prev, va_next] = va_alloc;
        let mut unused_va = None;
        let prev = if self.prev().is_some() {
            va_prev.prepare(prev_data)
        } else {
            unused_va = Some(va_prev);
            ptr::null_mut()
        };
        let next = if self.next().is_some() {
            va_next.prepare(next_data)
        } else {
            unused_va = Some(va_next);
            ptr::null_mut()
        };
        let old = self.va_to_unmap().as_raw();
        let vm_bo = self.vm_bo();
        // SAFETY: under the unique handle; each piece is prepared when the
        // op has it.
        unsafe { bindings::gpuva_remap(prev, next, self.op) };
        // An inserted VA has its VM set; ours were zeroed.
        // SAFETY: our own VAs.
        if unsafe {
            (!prev.is_null() && (*prev).vm.is_null()) || (!next.is_null() && (*next).vm.is_null())
        } {
            index_failure(crate::error::code::ENOMEM);
        }
        {
            let _guard = vm_bo.lock_gpuva();
            // SAFETY: the old VA, still linked, keeps the vm_bo alive; we
            // hold the object's gpuva mutex.
            unsafe {
                if !prev.is_null() {
                    bindings::gpuva_link(prev, vm_bo.as_raw());
                }
                if !next.is_null() {
                    bindings::gpuva_link(next, vm_bo.as_raw());
                }
            }
        }
        // SAFETY: out of the tree, still linked; takes the gpuva mutex.
        unsafe { bindings::gpuva_unlink_defer(old) };
        (
            OpRemapped {
                _invariant: PhantomData,
            },
            OpRemapRet {
                // SAFETY: removed and unlinked.
                unmapped_va: unsafe { GpuVaRemoved::from_raw(old) },
                unused_va,
            },
        )
    }
}

/// One remaining part of a remapped mapping.
#[repr(transparent)]
pub struct OpRemapMapData(bindings::gpuva_op_map);

impl OpRemapMapData {
    /// Its start address.
    pub fn addr(&self) -> u64 {
        self.0.va.addr
    }

    /// Its length.
    pub fn length(&self) -> u64 {
        self.0.va.range
    }

    /// Its offset into the object.
    pub fn gem_offset(&self) -> u64 {
        self.0.gem.offset
    }
}

/// What [`OpRemap::remap`] gives back.
pub struct OpRemapRet<T: DriverGpuVm> {
    /// The replaced mapping.
    pub unmapped_va: GpuVaRemoved<T>,
    /// The allocation not needed (only one part remained), if any.
    pub unused_va: Option<GpuVaAlloc<T>>,
}

/// Proof that an [`OpRemap`] was carried out.
pub struct OpRemapped<'op, T> {
    _invariant: PhantomData<*mut &'op mut T>,
}

impl<T: DriverGpuVm> UniqueRefGpuVm<T> {
    /// Sets aside the VA index memory `n` inserts may need (libgpuvm
    /// addition: the kernel's tree needs none). `sm_map` and `sm_unmap`
    /// reserve for themselves, except in a fence signalling section: an
    /// asynchronous VM_BIND job reserves here when it is prepared, for the
    /// steps its run will do. Allocates (not in a signalling section).
    pub fn va_reserve(&mut self, n: u32) -> Result {
        // SAFETY: under the unique handle.
        to_result(unsafe { bindings::gpuvm_va_reserve(self.as_raw(), n) })
    }

    /// Maps `req`: unmap and remap steps for what overlaps, then one map
    /// step. Stops at the first step that fails and returns its error.
    /// `EINVAL` for a vm_bo of another VM or a range outside the VM;
    /// `ENOMEM` with nothing changed if the VA index memory could not be
    /// reserved.
    pub fn sm_map(&mut self, req: OpMapRequest<'_, '_, T>) -> Result {
        if req.vm_bo.gpuvm() != &**self {
            return Err(EINVAL);
        }
        let gpuvm = self.as_raw();
        reserve_for_walk(gpuvm, MAP_INSERTS)?;
        let raw_req = bindings::gpuvm_map_req {
            map: bindings::gpuva_op_map {
                va: bindings::gpuva_range {
                    addr: req.addr,
                    range: req.range,
                },
                gem: bindings::gpuva_op_map_gem {
                    offset: req.gem_offset,
                    obj: req.vm_bo.obj().as_raw(),
                },
            },
        };
        // INVARIANT: checked above.
        let mut p = SmMapData {
            sm_data: SmData {
                gpuvm: self,
                user_context: req.context,
                panic: None,
            },
            vm_bo: req.vm_bo,
        };
        // SAFETY: a valid request; the private pointer is an `SmMapData`,
        // which starts with an `SmData`.
        let ret = unsafe { bindings::gpuvm_sm_map(gpuvm, ptr::addr_of_mut!(p).cast(), &raw_req) };
        if let Some(panic) = p.sm_data.panic.take() {
            resume_unwind(panic);
        }
        to_result(ret)
    }

    /// Unmaps `[addr, addr + length)`: unmap steps for mappings inside it,
    /// remap steps for those crossing its ends.
    pub fn sm_unmap(&mut self, addr: u64, length: u64, context: &mut T::SmContext<'_>) -> Result {
        let gpuvm = self.as_raw();
        reserve_for_walk(gpuvm, UNMAP_INSERTS)?;
        let mut p = SmData {
            gpuvm: self,
            user_context: context,
            panic: None,
        };
        // SAFETY: the private pointer is an `SmData`.
        let ret =
            unsafe { bindings::gpuvm_sm_unmap(gpuvm, ptr::addr_of_mut!(p).cast(), addr, length) };
        if let Some(panic) = p.panic.take() {
            resume_unwind(panic);
        }
        to_result(ret)
    }
}

/// Index nodes reserved before a walk: a map inserts at most three VAs
/// (the remnant on each side and the new one, or two remnants of one
/// mapping and the new one), an unmap at most two.
const MAP_INSERTS: u32 = 3;
const UNMAP_INSERTS: u32 = 2;

/// libgpuvm's VA index needs memory where the kernel's tree does not.
/// `sm_map` and `sm_unmap` reserve it before the walk (see
/// [`UniqueRefGpuVm::va_reserve`]), so an insert cannot fail; if one does
/// all the same, the step cannot report it (the kernel's API has no error
/// there) and the VM would no longer be what the driver was told: stop
/// loudly instead.
fn index_failure(e: Error) -> ! {
    panic!(
        "libgpuvm: inserting a mapping into the VA index failed ({e:?}) although index nodes \
         were reserved; reserve with UniqueRefGpuVm::va_reserve() before a fence signalling \
         section"
    )
}

/// Reserves index nodes for `n` inserts, unless in a fence signalling
/// section (a reservation may allocate; there the driver reserves ahead
/// with `va_reserve`, and the inserts top up without blocking).
fn reserve_for_walk(gpuvm: *mut bindings::gpuvm, n: u32) -> Result {
    // SAFETY: a live VM under the unique handle.
    unsafe {
        if bindings::gpuvm_in_signalling_section() {
            return Ok(());
        }
        to_result(bindings::gpuvm_va_reserve(gpuvm, n))
    }
}

/// Runs one step, turning a panic into an error that stops the walk.
fn run_step(
    panic: &mut Option<Box<dyn core::any::Any + Send>>,
    step: impl FnOnce() -> Result<(), Error>,
) -> c_int {
    match catch_unwind(AssertUnwindSafe(step)) {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => e.to_errno(),
        Err(payload) => {
            *panic = Some(payload);
            EINVAL.to_errno()
        }
    }
}

impl<T: DriverGpuVm> GpuVm<T> {
    /// # Safety
    ///
    /// Called by `gpuvm_sm_map` from [`UniqueRefGpuVm::sm_map`], whose
    /// private pointer is an `SmMapData`.
    pub(super) unsafe extern "C" fn sm_step_map(
        op: *mut bindings::gpuva_op,
        p: *mut c_void,
    ) -> c_int {
        // SAFETY: by the caller's promise.
        let p = unsafe { &mut *p.cast::<SmMapData<'_, '_, T>>() };
        // SAFETY: a map op.
        let op = OpMap {
            op: unsafe { &(*op).u.map },
            vm_bo: p.vm_bo,
            _invariant: PhantomData,
        };
        let data = &mut p.sm_data;
        run_step(&mut data.panic, || {
            data.gpuvm
                .data()
                .sm_step_map(op, data.user_context)
                .map(|OpMapped { .. }| ())
        })
    }

    /// # Safety
    ///
    /// Called by the C walk of `sm_map` or `sm_unmap`, whose private
    /// pointer starts with an `SmData`.
    pub(super) unsafe extern "C" fn sm_step_unmap(
        op: *mut bindings::gpuva_op,
        p: *mut c_void,
    ) -> c_int {
        // SAFETY: by the caller's promise.
        let p = unsafe { &mut *p.cast::<SmData<'_, '_, T>>() };
        // SAFETY: an unmap op.
        let op = OpUnmap {
            op: unsafe { &(*op).u.unmap },
            _invariant: PhantomData,
        };
        run_step(&mut p.panic, || {
            p.gpuvm
                .data()
                .sm_step_unmap(op, p.user_context)
                .map(|OpUnmapped { .. }| ())
        })
    }

    /// # Safety
    ///
    /// As [`Self::sm_step_unmap`].
    pub(super) unsafe extern "C" fn sm_step_remap(
        op: *mut bindings::gpuva_op,
        p: *mut c_void,
    ) -> c_int {
        // SAFETY: by the caller's promise.
        let p = unsafe { &mut *p.cast::<SmData<'_, '_, T>>() };
        // SAFETY: a remap op.
        let op = OpRemap {
            op: unsafe { &(*op).u.remap },
            _invariant: PhantomData,
        };
        run_step(&mut p.panic, || {
            p.gpuvm
                .data()
                .sm_step_remap(op, p.user_context)
                .map(|OpRemapped { .. }| ())
        })
    }
}
