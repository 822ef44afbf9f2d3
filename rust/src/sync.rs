// SPDX-License-Identifier: MIT
//! Reference counting as in the kernel's `sync::aref`.

/// `ARef` and `AlwaysRefCounted`, at the kernel's path.
pub mod aref {
    use core::marker::PhantomData;
    use core::ops::Deref;
    use core::ptr::NonNull;

    /// Types whose lifetime is governed by a reference count inside them.
    ///
    /// # Safety
    ///
    /// `inc_ref` keeps the object alive until the matching `dec_ref`, and
    /// an object is valid while any reference is held.
    pub unsafe trait AlwaysRefCounted {
        /// Takes a reference.
        fn inc_ref(&self);
        /// Drops a reference; the last one frees the object.
        ///
        /// # Safety
        ///
        /// The caller owns one reference on `obj` and gives it up.
        unsafe fn dec_ref(obj: NonNull<Self>);
    }

    /// An owned reference on an [`AlwaysRefCounted`] object.
    pub struct ARef<T: AlwaysRefCounted> {
        ptr: NonNull<T>,
        _p: PhantomData<T>,
    }

    // SAFETY: an `ARef` may drop the object on another thread (needs
    // `Send`) and shares it with the threads holding other references
    // (needs `Sync`), as the kernel's rule.
    unsafe impl<T: AlwaysRefCounted + Sync + Send> Send for ARef<T> {}
    // SAFETY: as above; `&ARef` can be cloned into an `ARef` on any thread.
    unsafe impl<T: AlwaysRefCounted + Sync + Send> Sync for ARef<T> {}

    impl<T: AlwaysRefCounted> ARef<T> {
        /// Wraps a reference the caller owns.
        ///
        /// # Safety
        ///
        /// The caller owns one reference on `ptr` and hands it over.
        pub unsafe fn from_raw(ptr: NonNull<T>) -> Self {
            ARef {
                ptr,
                _p: PhantomData,
            }
        }

        /// Gives the reference up without dropping it.
        pub fn into_raw(me: Self) -> NonNull<T> {
            core::mem::ManuallyDrop::new(me).ptr
        }
    }

    impl<T: AlwaysRefCounted> Clone for ARef<T> {
        fn clone(&self) -> Self {
            self.deref().inc_ref();
            ARef {
                ptr: self.ptr,
                _p: PhantomData,
            }
        }
    }

    impl<T: AlwaysRefCounted> From<&T> for ARef<T> {
        fn from(obj: &T) -> Self {
            obj.inc_ref();
            ARef {
                ptr: NonNull::from(obj),
                _p: PhantomData,
            }
        }
    }

    impl<T: AlwaysRefCounted> Deref for ARef<T> {
        type Target = T;
        fn deref(&self) -> &T {
            // SAFETY: the reference we own keeps the object alive.
            unsafe { self.ptr.as_ref() }
        }
    }

    impl<T: AlwaysRefCounted> Drop for ARef<T> {
        fn drop(&mut self) {
            // SAFETY: we own one reference.
            unsafe { T::dec_ref(self.ptr) }
        }
    }

    impl<T: AlwaysRefCounted + core::fmt::Debug> core::fmt::Debug for ARef<T> {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            self.deref().fmt(f)
        }
    }
}

pub use aref::{ARef, AlwaysRefCounted};

/// The kernel's `sync::Arc` is std's here (no pinned initialisers).
pub use std::sync::Arc;

/// A borrowed [`Arc`], as the kernel's `ArcBorrow`: derefs to `T`, and
/// `.into()` makes an owned `Arc` (a new reference).
///
/// ```
/// use gpuvm::sync::{Arc, ArcBorrow, AsArcBorrow};
///
/// let a = Arc::new(5);
/// let b: ArcBorrow<'_, i32> = a.as_arc_borrow();
/// assert_eq!(*b, 5);
/// let c: Arc<i32> = b.into();
/// assert_eq!((*c, Arc::strong_count(&a)), (5, 2));
/// ```
pub struct ArcBorrow<'a, T>(&'a Arc<T>);

impl<'a, T> ArcBorrow<'a, T> {
    /// Borrows `arc`.
    pub fn new(arc: &'a Arc<T>) -> Self {
        ArcBorrow(arc)
    }
}

impl<T> Clone for ArcBorrow<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for ArcBorrow<'_, T> {}

impl<T> core::ops::Deref for ArcBorrow<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.0
    }
}

impl<T> From<ArcBorrow<'_, T>> for Arc<T> {
    fn from(b: ArcBorrow<'_, T>) -> Arc<T> {
        Arc::clone(b.0)
    }
}

/// `arc.as_arc_borrow()`, as the kernel's `Arc` offers.
pub trait AsArcBorrow<T> {
    /// Borrows this `Arc`.
    fn as_arc_borrow(&self) -> ArcBorrow<'_, T>;
}

impl<T> AsArcBorrow<T> for Arc<T> {
    fn as_arc_borrow(&self) -> ArcBorrow<'_, T> {
        ArcBorrow(self)
    }
}

/// A mutex with the kernel's `lock()` shape: no poisoning to handle (a
/// panic while holding it is a test failure anyway), and a guard whose
/// `as_mut()` gives `Pin<&mut T>` as the kernel's does. Drivers keep their
/// `UniqueRefGpuVm` in one: it is their VA lock.
pub struct Mutex<T>(std::sync::Mutex<T>);

impl<T> Mutex<T> {
    /// A new, unlocked mutex.
    pub fn new(value: T) -> Self {
        Mutex(std::sync::Mutex::new(value))
    }

    /// Locks it.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        MutexGuard(self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Holds a [`Mutex`].
pub struct MutexGuard<'a, T>(std::sync::MutexGuard<'a, T>);

impl<T> MutexGuard<'_, T> {
    /// The protected value, pinned (it never moves while locked).
    pub fn as_mut(&mut self) -> core::pin::Pin<&mut T>
    where
        T: Unpin,
    {
        core::pin::Pin::new(&mut self.0)
    }
}

impl<T> core::ops::Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> core::ops::DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

/// `new_mutex!(value)`: a [`Mutex`] holding `value` (the kernel's macro
/// returns a pinned initialiser; here it is the mutex itself).
#[macro_export]
macro_rules! new_mutex {
    ($value:expr $(, $name:literal)? $(,)?) => {
        $crate::sync::Mutex::new($value)
    };
}
