//! Kernel filesystems (procfs, sysfs and their kind) and the host's root:
//! the places where a guest would reach the host kernel and this very
//! process rather than data. Through procfs alone it could read and write
//! this process's memory (`/proc/self/mem`), read its environment
//! (`/proc/self/environ`) and the physical addresses of its pages
//! (`/proc/self/pagemap`), and retune the kernel (`/proc/sys`).
//!
//! The rules, each checked where the host acts on the guest's behalf:
//!
//! - **Preopens.** A directory on a kernel filesystem, or the host's root
//!   (which holds `/proc`, `/sys` and `/dev`), is preopened only with
//!   [`WasiCtxBuilder::allow_unsafe_preopens`](crate::wasi::WasiCtxBuilder::allow_unsafe_preopens).
//!   A directory on debugfs or tracefs never is.
//! - **Opens** (`path_open`), whatever was preopened. The filesystem of the
//!   new descriptor itself is checked (`fstatfs`), so a kernel filesystem
//!   mounted somewhere beneath an ordinary preopened directory is caught as
//!   surely as a preopened one. On a kernel filesystem:
//!   - without the opt-in, nothing opens;
//!   - with it, a file or directory opens read-only, and only if the kernel
//!     makes it readable by everyone. The kernel keeps the files that
//!     expose a process's memory or secrets owner-only (`mem` is 0600;
//!     `pagemap`, `environ`, `auxv`, `kcore` and `kpageflags` are 0400),
//!     so they are refused by the kernel's own marking, with no list of
//!     names for a newer kernel to outgrow;
//!   - debugfs and tracefs never open: reading some of their files acts on
//!     hardware or consumes trace events.
//!
//!   On every filesystem, the memory devices (`/dev/mem`, `/dev/kmem`,
//!   `/dev/port`) never open. `O_TRUNC` is applied only once a descriptor
//!   has passed, with `ftruncate`, so that a refused open truncates nothing
//!   (truncating tracefs's `trace` would clear the trace buffer).
//! - **Changes** by path (`path_create_directory`, `path_remove_directory`,
//!   `path_unlink_file`, `path_rename`, `path_link`, `path_symlink`,
//!   `path_filestat_set_times`) and `path_readlink` look at the filesystem
//!   of the directory holding the path's last component: on a kernel
//!   filesystem a change is refused even with the opt-in, and a readlink
//!   without it.
//!
//! Every refusal is `EACCES`. `path_filestat_get` is not checked: it shows
//! sizes and times, never contents. With the opt-in, what everyone may read
//! stays readable, `/proc/self/maps` (this process's address layout, not
//! its contents) among it. An open has already happened when its
//! descriptor is judged: nothing is read, written or truncated through a
//! refused one, but a kernel file whose mere opening acts (some debugfs
//! files; no procfs or sysfs file is known to) would have acted.

use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;

use rustix::fs::{FileType, Stat};

use super::errno::Errno;

/// How far a guest may reach into kernel filesystems.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum KernelFsAccess {
    /// Not at all.
    #[default]
    Refused,
    /// Reading what everyone may read, and never changing anything: with
    /// [`WasiCtxBuilder::allow_unsafe_preopens`](crate::wasi::WasiCtxBuilder::allow_unsafe_preopens).
    ReadOnly,
}

/// Why a directory needs [`WasiCtxBuilder::allow_unsafe_preopens`](crate::wasi::WasiCtxBuilder::allow_unsafe_preopens) to be
/// preopened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnsafeDir {
    /// The host's root directory, which holds `/proc`, `/sys` and `/dev`.
    HostRoot,
    /// A directory on a kernel filesystem, such as `procfs` or `sysfs`
    /// (its name as given here).
    KernelFilesystem(&'static str),
}

impl std::fmt::Display for UnsafeDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UnsafeDir::HostRoot => f.write_str(
                "it is the host's root directory, which holds /proc, where the guest could read and write the \
                 memory of this process (/proc/self/mem), and /sys and /dev",
            ),
            UnsafeDir::KernelFilesystem("procfs") => f.write_str(
                "it is on procfs, where the guest could read and write the memory of this process \
                 (/proc/self/mem), read its environment and retune the kernel (/proc/sys)",
            ),
            UnsafeDir::KernelFilesystem(name) => write!(
                f,
                "it is on {name}, a kernel filesystem, whose files are the host kernel's settings and state \
                 rather than data"
            ),
        }
    }
}

/// A kernel filesystem, as `statfs` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct KernelFs {
    /// The name the kernel gives it (`/proc/filesystems`).
    pub(crate) name: &'static str,
    /// `f_type`, from `<linux/magic.h>`.
    magic: u32,
    /// Whether the opt-in lets a guest read it: all but debugfs and tracefs.
    pub(crate) readable_with_opt_in: bool,
}

const fn kernel_fs(name: &'static str, magic: u32, readable_with_opt_in: bool) -> KernelFs {
    KernelFs { name, magic, readable_with_opt_in }
}

/// Every filesystem whose files are the kernel's state and settings.
const KERNEL_FILESYSTEMS: &[KernelFs] = &[
    kernel_fs("procfs", 0x9fa0, true),
    kernel_fs("sysfs", 0x6265_6572, true),
    kernel_fs("cgroup", 0x0027_e0eb, true),
    kernel_fs("cgroup2", 0x6367_7270, true),
    kernel_fs("securityfs", 0x7363_6673, true),
    kernel_fs("selinuxfs", 0xf97c_ff8c, true),
    kernel_fs("smackfs", 0x4341_5d53, true),
    kernel_fs("configfs", 0x6265_6570, true),
    kernel_fs("efivarfs", 0xde5e_81e4, true),
    kernel_fs("pstore", 0x6165_676c, true),
    kernel_fs("bpf", 0xcafe_4a11, true),
    kernel_fs("binfmt_misc", 0x4249_4e4d, true),
    kernel_fs("fusectl", 0x6573_5543, true),
    kernel_fs("debugfs", 0x6462_6720, false),
    kernel_fs("tracefs", 0x7472_6163, false),
];

/// The kernel filesystem that `fd` lies on, if it does.
pub(crate) fn kernel_fs_of(fd: BorrowedFd<'_>) -> rustix::io::Result<Option<KernelFs>> {
    // Every magic number is 32 bits wide, whatever the width of `f_type`.
    let magic = rustix::fs::fstatfs(fd)?.f_type as u32;
    Ok(KERNEL_FILESYSTEMS.iter().copied().find(|fs| fs.magic == magic))
}

/// Why a directory may not be preopened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PreopenRefusal {
    /// Not without [`WasiCtxBuilder::allow_unsafe_preopens`](crate::wasi::WasiCtxBuilder::allow_unsafe_preopens).
    NeedsOptIn(UnsafeDir),
    /// Not at all: a directory on this filesystem (debugfs, tracefs).
    Never(&'static str),
}

/// Why `dir` may not be preopened under `access`, if it may not.
pub(crate) fn preopen_refusal(
    dir: BorrowedFd<'_>,
    access: KernelFsAccess,
) -> rustix::io::Result<Option<PreopenRefusal>> {
    let hazard = match kernel_fs_of(dir)? {
        Some(fs) if !fs.readable_with_opt_in => return Ok(Some(PreopenRefusal::Never(fs.name))),
        Some(fs) => UnsafeDir::KernelFilesystem(fs.name),
        None => {
            // The same inode as `/`, however it was named (`/usr/..`,
            // `/proc/self/root`).
            let (here, root) = (rustix::fs::fstat(dir)?, rustix::fs::stat("/")?);
            if (here.st_dev, here.st_ino) != (root.st_dev, root.st_ino) {
                return Ok(None);
            }
            UnsafeDir::HostRoot
        }
    };
    Ok(match access {
        KernelFsAccess::ReadOnly => None,
        KernelFsAccess::Refused => Some(PreopenRefusal::NeedsOptIn(hazard)),
    })
}

/// Whether the guest may keep `fd`, which an open has just given it, for
/// writing too when `write`; its `fstat` when it may.
pub(crate) fn admit_open(fd: BorrowedFd<'_>, write: bool, access: KernelFsAccess) -> Result<Stat, Errno> {
    let stat = rustix::fs::fstat(fd)?;
    if open_allowed(kernel_fs_of(fd)?, stat.st_mode, stat.st_rdev, write, access) {
        Ok(stat)
    } else {
        Err(Errno::ACCES)
    }
}

/// The rule for opens, apart from the system calls that feed it: a file of
/// `mode` and device number `rdev` on `fs`.
fn open_allowed(fs: Option<KernelFs>, mode: u32, rdev: u64, write: bool, access: KernelFsAccess) -> bool {
    if is_memory_device(mode, rdev) {
        return false;
    }
    let Some(fs) = fs else { return true };
    let readable_by_everyone = mode & 0o004 != 0;
    access == KernelFsAccess::ReadOnly && fs.readable_with_opt_in && !write && readable_by_everyone
}

/// `/dev/mem`, `/dev/kmem` and `/dev/port`: character devices 1:1, 1:2
/// and 1:4, the physical memory, the kernel's and the I/O ports.
fn is_memory_device(mode: u32, rdev: u64) -> bool {
    FileType::from_raw_mode(mode) == FileType::CharacterDevice
        && rustix::fs::major(rdev) == 1
        && matches!(rustix::fs::minor(rdev), 1 | 2 | 4)
}

/// Whether the guest may act on `path` beneath `dir`: change it when
/// `change`, read its link otherwise. Judged by the directory that holds
/// its last component.
pub(crate) fn admit_path(
    dir: &cap_std::fs::Dir,
    path: &OsStr,
    change: bool,
    access: KernelFsAccess,
) -> Result<(), Errno> {
    let fs = match parent_of(path.as_bytes()) {
        None => kernel_fs_of(dir.as_fd())?,
        // `open_dir` opens with `O_PATH`: it needs no read permission,
        // only the search permission that the operation itself needs.
        Some(parent) => kernel_fs_of(dir.open_dir(OsStr::from_bytes(parent))?.as_fd())?,
    };
    match fs {
        None => Ok(()),
        Some(fs) if !change && access == KernelFsAccess::ReadOnly && fs.readable_with_opt_in => Ok(()),
        Some(_) => Err(Errno::ACCES),
    }
}

/// `path` without its last component (and the slashes after it); `None`
/// when it has just one.
fn parent_of(path: &[u8]) -> Option<&[u8]> {
    let end = path.iter().rposition(|&b| b != b'/')?;
    let slash = path[..end].iter().rposition(|&b| b == b'/')?;
    // `/x` keeps its `/`, which the sandbox then refuses as it would `/x`.
    Some(if slash == 0 { b"/" } else { &path[..slash] })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROCFS: Option<KernelFs> = Some(KERNEL_FILESYSTEMS[0]);
    const DEBUGFS: Option<KernelFs> = Some(KERNEL_FILESYSTEMS[KERNEL_FILESYSTEMS.len() - 2]);
    const FILE: u32 = 0o100_000;
    const CHAR_DEVICE: u32 = 0o020_000;
    use KernelFsAccess::{ReadOnly, Refused};

    #[test]
    fn on_procfs_only_reading_what_everyone_may_read_and_only_with_the_opt_in() {
        let status = FILE | 0o444;
        let mem = FILE | 0o600;
        let pagemap = FILE | 0o400;
        assert!(open_allowed(PROCFS, status, 0, false, ReadOnly));
        assert!(!open_allowed(PROCFS, status, 0, true, ReadOnly), "never for writing");
        assert!(!open_allowed(PROCFS, status, 0, false, Refused), "nothing without the opt-in");
        for secret in [mem, pagemap] {
            assert!(!open_allowed(PROCFS, secret, 0, false, ReadOnly));
            assert!(!open_allowed(PROCFS, secret, 0, true, ReadOnly));
        }
        assert!(!open_allowed(DEBUGFS, status, 0, false, ReadOnly), "debugfs never");
        assert_eq!(DEBUGFS.map(|fs| fs.name), Some("debugfs"));
    }

    #[test]
    fn elsewhere_everything_opens_but_the_memory_devices() {
        let dev = |major: u32, minor: u32| rustix::fs::makedev(major, minor);
        for access in [Refused, ReadOnly] {
            assert!(open_allowed(None, FILE | 0o600, 0, true, access));
            assert!(open_allowed(None, CHAR_DEVICE | 0o666, dev(1, 3), true, access), "/dev/null");
            assert!(open_allowed(None, CHAR_DEVICE | 0o666, dev(1, 9), false, access), "/dev/urandom");
            for minor in [1, 2, 4] {
                assert!(!open_allowed(None, CHAR_DEVICE | 0o640, dev(1, minor), false, access));
            }
            assert!(open_allowed(None, FILE | 0o600, dev(1, 1), true, access), "only devices have numbers");
        }
    }

    #[test]
    fn the_parent_is_everything_before_the_last_component() {
        let parent = |path: &str| parent_of(path.as_bytes()).map(|p| String::from_utf8_lossy(p).into_owned());
        assert_eq!(parent("a"), None);
        assert_eq!(parent("a/"), None);
        assert_eq!(parent(""), None);
        assert_eq!(parent("a/b"), Some("a".into()));
        assert_eq!(parent("a/b/c//"), Some("a/b".into()));
        assert_eq!(parent("a//b"), Some("a/".into()));
        assert_eq!(parent("/x"), Some("/".into()));
    }

    #[test]
    fn procfs_and_sysfs_are_recognized_and_a_temporary_directory_is_not() {
        let kind = |path: &str| {
            let dir = std::fs::File::open(path).expect("open");
            kernel_fs_of(dir.as_fd()).expect("fstatfs").map(|fs| fs.name)
        };
        assert_eq!(kind("/proc"), Some("procfs"));
        assert_eq!(kind("/proc/self"), Some("procfs"));
        assert_eq!(kind("/sys"), Some("sysfs"));
        assert_eq!(kind(std::env::temp_dir().to_str().expect("utf-8")), None);
        let refusal = |path: &str, access| {
            let dir = std::fs::File::open(path).expect("open");
            preopen_refusal(dir.as_fd(), access).expect("fstatfs")
        };
        assert_eq!(refusal("/", Refused), Some(PreopenRefusal::NeedsOptIn(UnsafeDir::HostRoot)));
        assert_eq!(refusal("/usr/..", Refused), Some(PreopenRefusal::NeedsOptIn(UnsafeDir::HostRoot)));
        assert_eq!(refusal("/proc", Refused), Some(PreopenRefusal::NeedsOptIn(UnsafeDir::KernelFilesystem("procfs"))));
        assert_eq!(refusal("/", ReadOnly), None);
        assert_eq!(refusal("/proc", ReadOnly), None);
        assert_eq!(refusal(std::env::temp_dir().to_str().expect("utf-8"), Refused), None);
    }
}
