// SPDX-License-Identifier: MIT
//! Hand-written declarations of the libgpuvm C API the crate uses.
//!
//! Only what the safe layer needs is declared. Every struct the crate
//! embeds or reads is `repr(C)` with the C field order; the parts the
//! crate never reads are opaque byte blocks of the C size. `tests/layout.rs`
//! checks every size, alignment and offset against the C compiler, and
//! [`declared_functions`] takes the address of every function, so a
//! binary that links the crate fails to link if one is missing.

#![allow(non_camel_case_types, missing_docs)]

use core::ffi::{c_char, c_int, c_long, c_uint, c_ulong, c_void};

/// `struct gpuvm_list_head`.
#[repr(C)]
pub struct gpuvm_list_head {
    pub next: *mut gpuvm_list_head,
    pub prev: *mut gpuvm_list_head,
}

/// `struct gpuvm_llist_node` (also the layout of `struct gpuvm_llist_head`).
#[repr(C)]
pub struct gpuvm_llist_node {
    pub next: *mut gpuvm_llist_node,
}

/// `struct gpuvm_mutex`: never read from Rust, only embedded.
#[repr(C)]
pub struct gpuvm_mutex {
    _opaque: [u64; 3],
}

/// `struct gpuvm_dma_resv`: never read from Rust, only embedded.
#[repr(C)]
pub struct gpuvm_dma_resv {
    _opaque: [u64; 13],
}

/// `struct gpuvm_ww_mutex`: only locked through a pointer (the first
/// member of `struct gpuvm_dma_resv`).
#[repr(C)]
pub struct gpuvm_ww_mutex {
    _opaque: [u64; 12],
}

/// `struct gpuvm_lockdep_map`: never read from Rust.
#[repr(C)]
pub struct gpuvm_lockdep_map {
    _opaque: [u64; 2],
}

/// `struct gpuvm_gem_object_funcs`.
#[repr(C)]
pub struct gpuvm_gem_object_funcs {
    pub free: Option<unsafe extern "C" fn(obj: *mut gpuvm_gem_object)>,
}

/// The `gpuva` member of `struct gpuvm_gem_object`.
#[repr(C)]
pub struct gpuvm_gem_gpuva {
    pub list: gpuvm_list_head,
    pub lock: gpuvm_mutex,
    hash: *mut c_void,
    hash_bits: c_uint,
    nr_vm_bos: c_uint,
}

/// `struct gpuvm_gem_object`.
#[repr(C)]
pub struct gpuvm_gem_object {
    pub refcount: c_int,
    pub size: usize,
    pub funcs: *const gpuvm_gem_object_funcs,
    pub resv: *mut gpuvm_dma_resv,
    pub _resv: gpuvm_dma_resv,
    pub gpuva: gpuvm_gem_gpuva,
}

/// `va` member of `struct gpuva` and of `struct gpuva_op_map`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct gpuva_range {
    pub addr: u64,
    pub range: u64,
}

/// `gem` member of `struct gpuva`.
#[repr(C)]
pub struct gpuva_gem {
    pub offset: u64,
    pub obj: *mut gpuvm_gem_object,
    pub entry: gpuvm_list_head,
}

/// `struct gpuva`.
#[repr(C)]
pub struct gpuva {
    pub vm: *mut gpuvm,
    pub vm_bo: *mut gpuvm_bo,
    pub flags: c_uint,
    pub va: gpuva_range,
    pub gem: gpuva_gem,
    /// `rb.leaf__`: private to the library, never touched by the crate.
    pub rb_leaf: *mut c_void,
}

/// `rb` member of `struct gpuvm`: the VA index, private to the library
/// (the kernel's rb.tree and rb.list).
#[repr(C)]
pub struct gpuvm_rb {
    index: [u64; 12],
}

/// `extobj` and `evict` members of `struct gpuvm`.
#[repr(C)]
pub struct gpuvm_bo_list {
    pub list: gpuvm_list_head,
    pub local_list: *mut gpuvm_list_head,
    pub lock: gpuvm_mutex,
}

/// `enum gpuvm_flags`.
pub const GPUVM_RESV_PROTECTED: c_uint = 1 << 0;
pub const GPUVM_IMMEDIATE_MODE: c_uint = 1 << 1;

/// `struct gpuvm`.
#[repr(C)]
pub struct gpuvm {
    pub name: *const c_char,
    pub flags: c_uint,
    pub mm_start: u64,
    pub mm_range: u64,
    pub rb: gpuvm_rb,
    pub kref: c_int,
    pub kernel_alloc_node: gpuva,
    pub ops: *const gpuvm_ops,
    pub r_obj: *mut gpuvm_gem_object,
    pub extobj: gpuvm_bo_list,
    pub evict: gpuvm_bo_list,
    pub bo_defer: gpuvm_llist_node,
}

/// `entry` of the `list` member of `struct gpuvm_bo`.
#[repr(C)]
pub struct gpuvm_bo_entry {
    pub gem: gpuvm_list_head,
    pub extobj: gpuvm_list_head,
    pub evict: gpuvm_list_head,
    pub bo_defer: gpuvm_llist_node,
}

/// `list` member of `struct gpuvm_bo`.
#[repr(C)]
pub struct gpuvm_bo_lists {
    pub gpuva: gpuvm_list_head,
    pub entry: gpuvm_bo_entry,
}

/// `struct gpuvm_bo`.
#[repr(C)]
pub struct gpuvm_bo {
    pub vm: *mut gpuvm,
    pub obj: *mut gpuvm_gem_object,
    pub evicted: bool,
    on_extobj: u8,
    on_evict: u8,
    pub kref: c_int,
    pub list: gpuvm_bo_lists,
    hash_next: *mut gpuvm_bo,
}

/// `gem` member of `struct gpuva_op_map`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct gpuva_op_map_gem {
    pub offset: u64,
    pub obj: *mut gpuvm_gem_object,
}

/// `struct gpuva_op_map`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct gpuva_op_map {
    pub va: gpuva_range,
    pub gem: gpuva_op_map_gem,
}

/// `struct gpuva_op_unmap`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct gpuva_op_unmap {
    pub va: *mut gpuva,
    pub keep: bool,
}

/// `struct gpuva_op_remap`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct gpuva_op_remap {
    pub prev: *mut gpuva_op_map,
    pub next: *mut gpuva_op_map,
    pub unmap: *mut gpuva_op_unmap,
}

/// The anonymous union of `struct gpuva_op`.
#[repr(C)]
pub union gpuva_op_union {
    pub map: gpuva_op_map,
    pub remap: gpuva_op_remap,
    pub unmap: gpuva_op_unmap,
}

/// `struct gpuva_op`.
#[repr(C)]
pub struct gpuva_op {
    pub entry: gpuvm_list_head,
    pub op: c_uint,
    pub u: gpuva_op_union,
}

/// `struct gpuvm_map_req`.
#[repr(C)]
pub struct gpuvm_map_req {
    pub map: gpuva_op_map,
}

/// `struct gpuvm_ops`, in the C member order.
#[repr(C)]
pub struct gpuvm_ops {
    pub vm_free: Option<unsafe extern "C" fn(gpuvm: *mut gpuvm)>,
    pub op_alloc: Option<unsafe extern "C" fn() -> *mut gpuva_op>,
    pub op_free: Option<unsafe extern "C" fn(op: *mut gpuva_op)>,
    pub vm_bo_alloc: Option<unsafe extern "C" fn() -> *mut gpuvm_bo>,
    pub vm_bo_free: Option<unsafe extern "C" fn(vm_bo: *mut gpuvm_bo)>,
    pub vm_bo_validate:
        Option<unsafe extern "C" fn(vm_bo: *mut gpuvm_bo, exec: *mut c_void) -> c_int>,
    pub sm_step_map: Option<unsafe extern "C" fn(op: *mut gpuva_op, p: *mut c_void) -> c_int>,
    pub sm_step_remap: Option<unsafe extern "C" fn(op: *mut gpuva_op, p: *mut c_void) -> c_int>,
    pub sm_step_unmap: Option<unsafe extern "C" fn(op: *mut gpuva_op, p: *mut c_void) -> c_int>,
}

/// `struct gpuvm_device`: only the name is read.
#[repr(C)]
pub struct gpuvm_device {
    pub name: *const c_char,
    _opaque: [u64; 30],
}

/// `struct gpuvm_device_bound`.
#[repr(C)]
pub struct gpuvm_device_bound {
    pub dev: *mut gpuvm_device,
    pub generation: u64,
    pub dep_map: gpuvm_lockdep_map,
    outer: *mut gpuvm_device_bound,
}

/// `struct gpuvm_scatterlist`.
#[repr(C)]
pub struct gpuvm_scatterlist {
    pub page_link: *mut c_void,
    pub offset: c_uint,
    pub length: c_uint,
    pub dma_address: u64,
    pub dma_length: c_uint,
}

/// `struct gpuvm_sg_table`.
#[repr(C)]
pub struct gpuvm_sg_table {
    pub sgl: *mut gpuvm_scatterlist,
    pub nents: c_uint,
    pub orig_nents: c_uint,
}

/// `struct gpuvm_gem_shmem_object`.
#[repr(C)]
pub struct gpuvm_gem_shmem_object {
    pub base: gpuvm_gem_object,
    pub dev: *mut gpuvm_device,
    pub pages: *mut *mut c_void,
    pub pages_use_count: c_uint,
    pub pages_pin_count: c_uint,
    pub sgt: *mut gpuvm_sg_table,
    pub imported: bool,
    pub map_wc: bool,
    pub sgt_lock: gpuvm_mutex,
    resv: gpuvm_dma_resv,
    sgt_res: *mut c_void,
    sgt_pages_ref: bool,
}

/// `gpuvm_gfp_t` and its flags.
pub type gpuvm_gfp_t = c_uint;
pub const GPUVM_GFP_KERNEL: gpuvm_gfp_t = 0;
pub const GPUVM_GFP_ZERO: gpuvm_gfp_t = 1 << 0;
pub const GPUVM_GFP_NOWAIT: gpuvm_gfp_t = 1 << 1;

/// `gpuvm_warn_handler_fn`.
pub type gpuvm_warn_handler_fn =
    Option<unsafe extern "C" fn(rule: *const c_char, msg: *const c_char, data: *mut c_void)>;

/// Whether `ptr` is an error pointer (the kernel's `IS_ERR`).
pub fn is_err<T>(ptr: *const T) -> bool {
    (ptr as usize) >= (-4095isize) as usize
}

/// The `-errno` of an error pointer (the kernel's `PTR_ERR`).
pub fn ptr_err<T>(ptr: *const T) -> c_int {
    ptr as isize as c_int
}

macro_rules! c_functions {
    ($( fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)?; )*) => {
        extern "C" {
            $( pub fn $name($($arg: $ty),*) $(-> $ret)?; )*
        }

        /// Every declared C function with its address. Taking the
        /// addresses makes the linker resolve each one: a declaration the
        /// library does not export fails the link of any binary that
        /// calls this (the layout test does).
        pub fn declared_functions() -> Vec<(&'static str, usize)> {
            vec![$((stringify!($name), $name as *const () as usize)),*]
        }
    };
}

c_functions! {
    // alloc.h
    fn gpuvm_kmalloc(size: usize, gfp: gpuvm_gfp_t) -> *mut c_void;
    fn gpuvm_kfree(ptr: *mut c_void);
    // debug.h
    fn gpuvm_warn_set_handler(f: gpuvm_warn_handler_fn, data: *mut c_void);
    fn gpuvm_warn_count() -> c_ulong;
    fn gpuvm_report_leaks() -> c_uint;
    fn gpuvm_debug_enabled() -> bool;
    fn gpuvm_dma_fence_begin_signalling() -> bool;
    fn gpuvm_dma_fence_end_signalling(cookie: bool);
    fn gpuvm_in_signalling_section() -> bool;
    // mutex.h, dma_resv.h, ww_mutex.h
    fn gpuvm_mutex_lock(m: *mut gpuvm_mutex);
    fn gpuvm_mutex_unlock(m: *mut gpuvm_mutex);
    fn gpuvm_ww_mutex_lock(lock: *mut gpuvm_ww_mutex, ctx: *mut c_void) -> c_int;
    fn gpuvm_dma_resv_unlock(obj: *mut gpuvm_dma_resv);
    fn gpuvm_dma_resv_held(obj: *mut gpuvm_dma_resv) -> bool;
    // gem.h
    fn gpuvm_gem_object_get(obj: *mut gpuvm_gem_object) -> *mut gpuvm_gem_object;
    fn gpuvm_gem_object_put(obj: *mut gpuvm_gem_object);
    fn gpuvm_gem_object_refcount(obj: *const gpuvm_gem_object) -> c_int;
    fn gpuvm_gem_object_set_label(obj: *mut gpuvm_gem_object, label: *const c_char);
    // vm.h
    fn gpuvm_init(
        gpuvm: *mut gpuvm,
        name: *const c_char,
        flags: c_uint,
        r_obj: *mut gpuvm_gem_object,
        start_offset: u64,
        range: u64,
        reserve_offset: u64,
        reserve_range: u64,
        ops: *const gpuvm_ops,
    );
    fn gpuvm_get(gpuvm: *mut gpuvm) -> *mut gpuvm;
    fn gpuvm_put(gpuvm: *mut gpuvm);
    fn gpuvm_is_extobj(gpuvm: *mut gpuvm, obj: *mut gpuvm_gem_object) -> bool;
    fn gpuvm_bo_create(gpuvm: *mut gpuvm, obj: *mut gpuvm_gem_object) -> *mut gpuvm_bo;
    fn gpuvm_bo_obtain_prealloc(prealloc: *mut gpuvm_bo) -> *mut gpuvm_bo;
    fn gpuvm_bo_get(vm_bo: *mut gpuvm_bo) -> *mut gpuvm_bo;
    fn gpuvm_bo_destroy_not_in_lists(vm_bo: *mut gpuvm_bo) -> bool;
    fn gpuvm_bo_put_deferred(vm_bo: *mut gpuvm_bo) -> bool;
    fn gpuvm_bo_deferred_cleanup(gpuvm: *mut gpuvm);
    fn gpuvm_bo_extobj_add(vm_bo: *mut gpuvm_bo);
    fn gpuvm_bo_find(gpuvm: *mut gpuvm, obj: *mut gpuvm_gem_object) -> *mut gpuvm_bo;
    // va.h, ops.h
    fn gpuva_find_first(gpuvm: *mut gpuvm, addr: u64, range: u64) -> *mut gpuva;
    fn gpuva_link(va: *mut gpuva, vm_bo: *mut gpuvm_bo);
    fn gpuva_unlink_defer(va: *mut gpuva);
    fn gpuva_map_checked(gpuvm: *mut gpuvm, va: *mut gpuva, op: *const gpuva_op_map) -> c_int;
    fn gpuvm_va_reserve(gpuvm: *mut gpuvm, n: c_uint) -> c_int;
    fn gpuva_remap(prev: *mut gpuva, next: *mut gpuva, op: *const gpuva_op_remap);
    fn gpuva_unmap(op: *const gpuva_op_unmap);
    fn gpuvm_sm_map(gpuvm: *mut gpuvm, p: *mut c_void, req: *const gpuvm_map_req) -> c_int;
    fn gpuvm_sm_unmap(gpuvm: *mut gpuvm, p: *mut c_void, addr: u64, range: u64) -> c_int;
    // device.h
    fn gpuvm_device_init(dev: *mut gpuvm_device, name: *const c_char);
    fn gpuvm_device_fini(dev: *mut gpuvm_device);
    fn gpuvm_device_bind(dev: *mut gpuvm_device) -> c_int;
    fn gpuvm_device_unbind(dev: *mut gpuvm_device) -> c_int;
    fn gpuvm_device_is_bound(dev: *mut gpuvm_device) -> bool;
    fn gpuvm_device_bound_enter(dev: *mut gpuvm_device, bound: *mut gpuvm_device_bound) -> c_int;
    fn gpuvm_device_bound_exit(bound: *mut gpuvm_device_bound);
    fn gpuvm_device_dma_mappings(dev: *mut gpuvm_device) -> c_ulong;
    // shmem.h
    fn gpuvm_gem_shmem_init(
        dev: *mut gpuvm_device,
        shmem: *mut gpuvm_gem_shmem_object,
        funcs: *const gpuvm_gem_object_funcs,
        size: usize,
    ) -> c_int;
    fn gpuvm_gem_shmem_release(shmem: *mut gpuvm_gem_shmem_object);
    fn gpuvm_gem_shmem_sg_table(
        shmem: *mut gpuvm_gem_shmem_object,
        bound: *const gpuvm_device_bound,
    ) -> *const gpuvm_sg_table;
    // testing.h
    fn gpuvm_alloc_live() -> c_long;
    fn gpuvm_alloc_drain();
    fn gpuvm_alloc_fail_nth(n: c_ulong);
    fn gpuvm_alloc_fault_fired() -> bool;
    fn gpuvm_lockdep_reset();
    fn gpuvm_hook_park(name: *const c_char, count: c_uint);
    fn gpuvm_hook_wait_parked(name: *const c_char, n: c_uint) -> bool;
    fn gpuvm_hook_release(name: *const c_char);
    fn gpuvm_hook_hits(name: *const c_char) -> c_ulong;
    fn gpuvm_hook_reset();
}
