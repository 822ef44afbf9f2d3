// SPDX-License-Identifier: MIT
//! Making libgpuvm's checks fail tests: warnings, leaks, hook points.
//!
//! [`Checked`] is the fixture: it serialises the tests that use it (the
//! library's warning handler and counters are process wide), records every
//! warning the library reports while it lives, and when dropped fails the
//! test if there was one, if a VM leaked (the library's leak report), or
//! if libgpuvm allocations made during the test are still live.

use core::ffi::{c_char, c_void, CStr};
use std::sync::{Mutex, MutexGuard};

use crate::bindings;

/// A warning the library reported: the broken rule and the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// The rule's name (e.g. `lock-not-held`).
    pub rule: String,
    /// The message, naming the function that noticed.
    pub msg: String,
}

static WARNINGS: Mutex<Vec<Warning>> = Mutex::new(Vec::new());
static SERIAL: Mutex<()> = Mutex::new(());

unsafe extern "C" fn record(rule: *const c_char, msg: *const c_char, _data: *mut c_void) {
    // SAFETY: the library passes two valid strings.
    let (rule, msg) = unsafe { (CStr::from_ptr(rule), CStr::from_ptr(msg)) };
    let w = Warning {
        rule: rule.to_string_lossy().into_owned(),
        msg: msg.to_string_lossy().into_owned(),
    };
    if let Ok(mut v) = WARNINGS.lock() {
        v.push(w);
    }
}

/// Routes the library's warnings to the recorder (idempotent).
pub fn capture_warnings() {
    // SAFETY: `record` does not call back into the library.
    unsafe { bindings::gpuvm_warn_set_handler(Some(record), core::ptr::null_mut()) };
}

/// The warnings recorded so far, cleared.
pub fn take_warnings() -> Vec<Warning> {
    std::mem::take(&mut *WARNINGS.lock().unwrap_or_else(|e| e.into_inner()))
}

/// Live libgpuvm allocations, after deferred frees have run.
pub fn live_allocations() -> i64 {
    // SAFETY: the caller is not in an RCU read section (Rust code has no
    // way to be in one).
    unsafe {
        bindings::gpuvm_alloc_drain();
        bindings::gpuvm_alloc_live() as i64
    }
}

/// The test fixture; see the module documentation.
pub struct Checked {
    _serial: MutexGuard<'static, ()>,
    live_at_start: i64,
    expected: Vec<&'static str>,
    // Rules of the warnings the test took itself with `take_warnings`.
    taken_rules: Vec<String>,
}

impl Checked {
    /// Starts a checked test.
    pub fn new() -> Checked {
        let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        capture_warnings();
        take_warnings();
        Checked {
            _serial: serial,
            live_at_start: live_allocations(),
            expected: Vec::new(),
            taken_rules: Vec::new(),
        }
    }

    /// Declares that the test provokes a warning of `rule`: it must be
    /// reported (at least once) instead of failing the test.
    pub fn expect_warning(&mut self, rule: &'static str) {
        self.expected.push(rule);
    }

    /// The warnings so far, cleared (the test checks them itself; they
    /// still count for [`expect_warning`](Self::expect_warning)).
    pub fn take_warnings(&mut self) -> Vec<Warning> {
        let taken = take_warnings();
        self.taken_rules
            .extend(taken.iter().map(|w| w.rule.clone()));
        taken
    }

    /// Fails now if a warning was reported that the test did not
    /// expect, an expected one was not, a VM leaked, or allocations made
    /// since the start are still live.
    pub fn check(&mut self) {
        // The leak report comes first: its findings are warnings too.
        // SAFETY: a report of the VMs alive now.
        let leaks = unsafe { bindings::gpuvm_report_leaks() };
        let warnings = take_warnings();
        let expected = std::mem::take(&mut self.expected);
        let missing: Vec<_> = expected
            .iter()
            .filter(|r| !warnings.iter().any(|w| w.rule == **r))
            .collect();
        let unexpected: Vec<_> = warnings
            .iter()
            .filter(|w| !expected.contains(&w.rule.as_str()))
            .collect();
        assert!(unexpected.is_empty(), "libgpuvm reported: {unexpected:#?}");
        assert!(
            missing.is_empty(),
            "expected libgpuvm warnings not reported: {missing:?}"
        );
        assert_eq!(leaks, 0, "libgpuvm reported {leaks} leak(s)");
        let live = live_allocations();
        assert!(
            live <= self.live_at_start,
            "{} libgpuvm allocation(s) leaked",
            live - self.live_at_start
        );
    }
}

impl Default for Checked {
    fn default() -> Self {
        Checked::new()
    }
}

impl Drop for Checked {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.check();
        }
    }
}

/// Hook points: park threads at a named point of the library to force an
/// interleaving (see `testing.h`).
pub mod hook {
    use crate::bindings;
    use core::ffi::CStr;

    /// Parks the next `count` threads that reach `name`.
    pub fn park(name: &'static CStr, count: u32) {
        // SAFETY: a static name.
        unsafe { bindings::gpuvm_hook_park(name.as_ptr(), count) }
    }

    /// Waits until `n` threads are parked at `name` (false: timed out).
    pub fn wait_parked(name: &'static CStr, n: u32) -> bool {
        // SAFETY: a static name.
        unsafe { bindings::gpuvm_hook_wait_parked(name.as_ptr(), n) }
    }

    /// Releases the threads parked at `name` and disarms it.
    pub fn release(name: &'static CStr) {
        // SAFETY: a static name.
        unsafe { bindings::gpuvm_hook_release(name.as_ptr()) }
    }

    /// How often `name` was reached while armed.
    pub fn hits(name: &'static CStr) -> u64 {
        // SAFETY: a static name.
        unsafe { bindings::gpuvm_hook_hits(name.as_ptr()) as u64 }
    }

    /// Disarms every point.
    pub fn reset() {
        // SAFETY: no arguments.
        unsafe { bindings::gpuvm_hook_reset() }
    }
}

/// Whether the failure armed by [`fail_nth_allocation`] happened.
pub fn allocation_fault_fired() -> bool {
    // SAFETY: reads the injector's state.
    unsafe { bindings::gpuvm_alloc_fault_fired() }
}

/// Forgets what the checker learned (lock orders, which lock classes were
/// taken in signalling sections), so one test's history does not report
/// in the next.
pub fn lockdep_reset() {
    // SAFETY: no arguments; the caller holds no lock of the library.
    unsafe { bindings::gpuvm_lockdep_reset() }
}

/// Makes the `n`-th libgpuvm allocation from now fail (0 disarms).
pub fn fail_nth_allocation(n: u64) {
    // SAFETY: any value.
    unsafe { bindings::gpuvm_alloc_fail_nth(n as core::ffi::c_ulong) }
}

/// A fence signalling section (the kernel's `dma_fence_begin_signalling()`
/// up to the guard's drop): where an asynchronous VM_BIND job's run path
/// executes. Inside it the checker reports blocking allocations, taking a
/// reservation, and anything else the kernel's lockdep annotations forbid.
pub struct SignallingSection {
    cookie: bool,
    _not_send: core::marker::PhantomData<*mut ()>,
}

/// Enters a fence signalling section on this thread.
pub fn signalling_section() -> SignallingSection {
    // SAFETY: paired with the end in `Drop`, on this thread (`!Send`).
    let cookie = unsafe { bindings::gpuvm_dma_fence_begin_signalling() };
    SignallingSection {
        cookie,
        _not_send: core::marker::PhantomData,
    }
}

impl Drop for SignallingSection {
    fn drop(&mut self) {
        // SAFETY: begun in `signalling_section` on this thread.
        unsafe { bindings::gpuvm_dma_fence_end_signalling(self.cookie) }
    }
}
