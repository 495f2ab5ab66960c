//! WASI error numbers and the mapping from host errors.

use std::io;

/// A `wasi_snapshot_preview1` error number, as a system call returns it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Errno(pub u16);

impl Errno {
    /// No error.
    pub const SUCCESS: Errno = Errno(0);
    /// Permission denied.
    pub const ACCES: Errno = Errno(2);
    /// Resource unavailable, try again.
    pub const AGAIN: Errno = Errno(6);
    /// Bad file descriptor.
    pub const BADF: Errno = Errno(8);
    /// Device or resource busy.
    pub const BUSY: Errno = Errno(10);
    /// File exists.
    pub const EXIST: Errno = Errno(20);
    /// Bad address: a pointer or length outside linear memory.
    pub const FAULT: Errno = Errno(21);
    /// File too large.
    pub const FBIG: Errno = Errno(22);
    /// Illegal byte sequence.
    pub const ILSEQ: Errno = Errno(25);
    /// Interrupted function.
    pub const INTR: Errno = Errno(27);
    /// Invalid argument.
    pub const INVAL: Errno = Errno(28);
    /// I/O error.
    pub const IO: Errno = Errno(29);
    /// Is a directory.
    pub const ISDIR: Errno = Errno(31);
    /// Too many levels of symbolic links.
    pub const LOOP: Errno = Errno(32);
    /// Too many open files.
    pub const MFILE: Errno = Errno(33);
    /// Too many links.
    pub const MLINK: Errno = Errno(34);
    /// Filename too long.
    pub const NAMETOOLONG: Errno = Errno(37);
    /// Too many files open in system.
    pub const NFILE: Errno = Errno(41);
    /// No such device.
    pub const NODEV: Errno = Errno(43);
    /// No such file or directory.
    pub const NOENT: Errno = Errno(44);
    /// Not enough space.
    pub const NOMEM: Errno = Errno(48);
    /// No space left on device.
    pub const NOSPC: Errno = Errno(51);
    /// Function not supported.
    pub const NOSYS: Errno = Errno(52);
    /// Not a directory.
    pub const NOTDIR: Errno = Errno(54);
    /// Directory not empty.
    pub const NOTEMPTY: Errno = Errno(55);
    /// Not supported.
    pub const NOTSUP: Errno = Errno(58);
    /// Inappropriate I/O control operation.
    pub const NOTTY: Errno = Errno(59);
    /// No such device or address.
    pub const NXIO: Errno = Errno(60);
    /// Value too large to be stored in data type.
    pub const OVERFLOW: Errno = Errno(61);
    /// Operation not permitted.
    pub const PERM: Errno = Errno(63);
    /// Broken pipe.
    pub const PIPE: Errno = Errno(64);
    /// Result too large.
    pub const RANGE: Errno = Errno(68);
    /// Read-only file system.
    pub const ROFS: Errno = Errno(69);
    /// Invalid seek.
    pub const SPIPE: Errno = Errno(70);
    /// Text file busy.
    pub const TXTBSY: Errno = Errno(74);
    /// Cross-device link.
    pub const XDEV: Errno = Errno(75);
    /// Capabilities insufficient: the path leads outside the sandbox.
    pub const NOTCAPABLE: Errno = Errno(76);

    /// The WASI error for a host OS error number.
    pub fn from_raw_os_error(code: i32) -> Errno {
        match code {
            libc::EPERM => Errno::PERM,
            libc::ENOENT => Errno::NOENT,
            libc::EINTR => Errno::INTR,
            libc::EIO => Errno::IO,
            libc::ENXIO => Errno::NXIO,
            libc::EBADF => Errno::BADF,
            libc::EAGAIN => Errno::AGAIN,
            libc::ENOMEM => Errno::NOMEM,
            libc::EACCES => Errno::ACCES,
            libc::EFAULT => Errno::FAULT,
            libc::EBUSY => Errno::BUSY,
            libc::EEXIST => Errno::EXIST,
            libc::EXDEV => Errno::XDEV,
            libc::ENODEV => Errno::NODEV,
            libc::ENOTDIR => Errno::NOTDIR,
            libc::EISDIR => Errno::ISDIR,
            libc::EINVAL => Errno::INVAL,
            libc::ENFILE => Errno::NFILE,
            libc::EMFILE => Errno::MFILE,
            libc::ENOTTY => Errno::NOTTY,
            libc::ETXTBSY => Errno::TXTBSY,
            libc::EFBIG => Errno::FBIG,
            libc::ENOSPC => Errno::NOSPC,
            libc::ESPIPE => Errno::SPIPE,
            libc::EROFS => Errno::ROFS,
            libc::EMLINK => Errno::MLINK,
            libc::EPIPE => Errno::PIPE,
            libc::ERANGE => Errno::RANGE,
            libc::ENAMETOOLONG => Errno::NAMETOOLONG,
            libc::ENOSYS => Errno::NOSYS,
            libc::ENOTEMPTY => Errno::NOTEMPTY,
            libc::ELOOP => Errno::LOOP,
            libc::EOVERFLOW => Errno::OVERFLOW,
            libc::EILSEQ => Errno::ILSEQ,
            libc::EOPNOTSUPP => Errno::NOTSUP,
            _ => Errno::IO,
        }
    }
}

impl From<io::Error> for Errno {
    fn from(error: io::Error) -> Errno {
        if let Some(code) = error.raw_os_error() {
            return Errno::from_raw_os_error(code);
        }
        // cap-std reports a path that would leave the sandbox (`..` past the
        // root, an absolute path, a symlink pointing out) as PermissionDenied
        // with no OS error behind it: that is WASI's missing capability.
        match error.kind() {
            io::ErrorKind::PermissionDenied => Errno::NOTCAPABLE,
            io::ErrorKind::NotFound => Errno::NOENT,
            io::ErrorKind::AlreadyExists => Errno::EXIST,
            io::ErrorKind::InvalidInput => Errno::INVAL,
            io::ErrorKind::Unsupported => Errno::NOTSUP,
            io::ErrorKind::OutOfMemory => Errno::NOMEM,
            io::ErrorKind::InvalidFilename => Errno::INVAL,
            _ => Errno::IO,
        }
    }
}

impl From<rustix::io::Errno> for Errno {
    fn from(error: rustix::io::Errno) -> Errno {
        Errno::from_raw_os_error(error.raw_os_error())
    }
}

impl std::fmt::Display for Errno {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "wasi errno {}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sandbox_escape_is_a_missing_capability_and_a_real_eacces_is_not() {
        let escape = io::Error::new(io::ErrorKind::PermissionDenied, "a path led outside of the filesystem");
        assert_eq!(Errno::from(escape), Errno::NOTCAPABLE);
        assert_eq!(Errno::from(io::Error::from_raw_os_error(libc::EACCES)), Errno::ACCES);
        assert_eq!(Errno::from(io::Error::from_raw_os_error(libc::ENOENT)), Errno::NOENT);
        assert_eq!(Errno::from(rustix::io::Errno::NOTEMPTY), Errno::NOTEMPTY);
    }
}
