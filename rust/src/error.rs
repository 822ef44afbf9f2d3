// SPDX-License-Identifier: MIT
//! Errors as the kernel's Rust code spells them: an `Error` holding a
//! negative errno, the `code` constants, and `Result` with `Error` as the
//! default error type.

use core::fmt;

/// A kernel-style error: a negative errno.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Error(core::ffi::c_int);

/// The errno constants the GPUVM API returns (and a few drivers use).
pub mod code {
    use super::Error;
    /// Operation not permitted.
    pub const EPERM: Error = Error(-1);
    /// No such entry.
    pub const ENOENT: Error = Error(-2);
    /// Interrupted.
    pub const EINTR: Error = Error(-4);
    /// Try again.
    pub const EAGAIN: Error = Error(-11);
    /// Out of memory.
    pub const ENOMEM: Error = Error(-12);
    /// Resource busy.
    pub const EBUSY: Error = Error(-16);
    /// No such device.
    pub const ENODEV: Error = Error(-19);
    /// Invalid argument.
    pub const EINVAL: Error = Error(-22);
    /// No space left.
    pub const ENOSPC: Error = Error(-28);
    /// Value too large.
    pub const EOVERFLOW: Error = Error(-75);
    /// Deadlock avoided (wound/wait back-off).
    pub const EDEADLK: Error = Error(-35);
    /// Already done.
    pub const EALREADY: Error = Error(-114);
}

impl Error {
    /// The error for `-errno` (or `errno`); anything outside 1..=4095 is
    /// `EINVAL`, as in the kernel.
    pub fn from_errno(errno: core::ffi::c_int) -> Error {
        let e = if errno > 0 { -errno } else { errno };
        if (-4095..0).contains(&e) {
            Error(e)
        } else {
            code::EINVAL
        }
    }

    /// The negative errno.
    pub fn to_errno(self) -> core::ffi::c_int {
        self.0
    }

    fn name(self) -> Option<&'static str> {
        Some(match -self.0 {
            1 => "EPERM",
            2 => "ENOENT",
            4 => "EINTR",
            11 => "EAGAIN",
            12 => "ENOMEM",
            16 => "EBUSY",
            19 => "ENODEV",
            22 => "EINVAL",
            28 => "ENOSPC",
            35 => "EDEADLK",
            75 => "EOVERFLOW",
            114 => "EALREADY",
            _ => return None,
        })
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "Error({})", self.0),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for Error {}

/// An allocation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AllocError;

impl From<AllocError> for Error {
    fn from(_: AllocError) -> Error {
        code::ENOMEM
    }
}

impl From<core::convert::Infallible> for Error {
    fn from(e: core::convert::Infallible) -> Error {
        match e {}
    }
}

/// `Result` with the kernel's defaults.
pub type Result<T = (), E = Error> = core::result::Result<T, E>;

/// `Ok(())` for 0, the error for a negative errno.
pub fn to_result(err: core::ffi::c_int) -> Result {
    if err < 0 {
        Err(Error::from_errno(err))
    } else {
        Ok(())
    }
}
