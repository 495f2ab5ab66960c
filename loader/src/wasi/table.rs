//! The guest's file descriptors.
//!
//! Rights are recorded and reported (wasi-libc derives the rights of new
//! descriptors from their directory's) but not used as a second permission
//! system: a file opened read-only is refused writes by the host OS, and a
//! directory handle is a `cap_std::fs::Dir`, which cannot name anything
//! outside itself.

use std::collections::BTreeMap;
use std::os::fd::{AsFd, BorrowedFd};

use super::errno::Errno;

/// Most descriptors one guest may hold, as `RLIMIT_NOFILE` would bound it.
const MAX_DESCRIPTORS: u32 = 1 << 16;

/// The rights of a descriptor.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rights {
    pub(crate) base: u64,
    pub(crate) inheriting: u64,
}

/// One of the host process's standard streams, shared with the guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stdio {
    Stdin,
    Stdout,
    Stderr,
}

/// An open regular file (or any non-directory the guest opened).
pub(crate) struct OpenFile {
    pub(crate) file: cap_std::fs::File,
    pub(crate) rights: Rights,
}

/// One entry of a directory listing, as `fd_readdir` hands it out.
#[derive(Clone, Debug)]
pub(crate) struct Dirent {
    pub(crate) name: Vec<u8>,
    pub(crate) ino: u64,
    pub(crate) filetype: u8,
}

/// An open directory: the root of every path the guest resolves from it.
pub(crate) struct OpenDir {
    pub(crate) dir: cap_std::fs::Dir,
    /// The name the guest knows a preopened directory by.
    pub(crate) preopen: Option<Vec<u8>>,
    pub(crate) rights: Rights,
    /// The listing that `fd_readdir` cookies index, taken at cookie 0 so that
    /// a listing read in several calls is one consistent snapshot.
    pub(crate) listing: Option<Vec<Dirent>>,
}

/// What a guest file descriptor refers to.
pub(crate) enum Descriptor {
    Stdio(Stdio, Rights),
    File(OpenFile),
    Dir(OpenDir),
}

impl Descriptor {
    /// The host descriptor behind it.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Descriptor::Stdio(Stdio::Stdin, _) => rustix::stdio::stdin(),
            Descriptor::Stdio(Stdio::Stdout, _) => rustix::stdio::stdout(),
            Descriptor::Stdio(Stdio::Stderr, _) => rustix::stdio::stderr(),
            Descriptor::File(f) => f.file.as_fd(),
            Descriptor::Dir(d) => d.dir.as_fd(),
        }
    }

    pub(crate) fn rights(&self) -> Rights {
        match self {
            Descriptor::Stdio(_, rights) => *rights,
            Descriptor::File(f) => f.rights,
            Descriptor::Dir(d) => d.rights,
        }
    }

    pub(crate) fn rights_mut(&mut self) -> &mut Rights {
        match self {
            Descriptor::Stdio(_, rights) => rights,
            Descriptor::File(f) => &mut f.rights,
            Descriptor::Dir(d) => &mut d.rights,
        }
    }
}

/// The descriptor table: guest numbers to descriptors.
#[derive(Default)]
pub(crate) struct FdTable {
    entries: BTreeMap<u32, Descriptor>,
}

impl FdTable {
    pub(crate) fn get(&self, fd: u32) -> Result<&Descriptor, Errno> {
        self.entries.get(&fd).ok_or(Errno::BADF)
    }

    pub(crate) fn get_mut(&mut self, fd: u32) -> Result<&mut Descriptor, Errno> {
        self.entries.get_mut(&fd).ok_or(Errno::BADF)
    }

    /// The directory `fd`, which paths are resolved from.
    pub(crate) fn dir(&self, fd: u32) -> Result<&OpenDir, Errno> {
        match self.get(fd)? {
            Descriptor::Dir(dir) => Ok(dir),
            _ => Err(Errno::NOTDIR),
        }
    }

    /// Places `descriptor` at the lowest free number, as POSIX `open` does.
    pub(crate) fn insert(&mut self, descriptor: Descriptor) -> Result<u32, Errno> {
        let mut fd = 0;
        for &used in self.entries.keys() {
            if used != fd {
                break;
            }
            fd += 1;
        }
        if fd >= MAX_DESCRIPTORS {
            return Err(Errno::MFILE);
        }
        self.entries.insert(fd, descriptor);
        Ok(fd)
    }

    pub(crate) fn insert_at(&mut self, fd: u32, descriptor: Descriptor) {
        self.entries.insert(fd, descriptor);
    }

    pub(crate) fn remove(&mut self, fd: u32) -> Result<Descriptor, Errno> {
        self.entries.remove(&fd).ok_or(Errno::BADF)
    }

    /// Moves `from` to `to`, closing what `to` held; both must be open.
    pub(crate) fn renumber(&mut self, from: u32, to: u32) -> Result<(), Errno> {
        if !self.entries.contains_key(&to) {
            return Err(Errno::BADF);
        }
        let descriptor = self.remove(from)?;
        self.entries.insert(to, descriptor);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stdio() -> Descriptor {
        Descriptor::Stdio(Stdio::Stdin, Rights { base: 0, inheriting: 0 })
    }

    #[test]
    fn new_descriptors_take_the_lowest_free_number() {
        let mut table = FdTable::default();
        assert_eq!(table.insert(stdio()).unwrap(), 0);
        assert_eq!(table.insert(stdio()).unwrap(), 1);
        assert_eq!(table.insert(stdio()).unwrap(), 2);
        table.remove(1).unwrap();
        assert_eq!(table.insert(stdio()).unwrap(), 1);
        assert_eq!(table.insert(stdio()).unwrap(), 3);
        assert!(table.remove(7).is_err());
    }

    #[test]
    fn renumber_needs_both_ends_open() {
        let mut table = FdTable::default();
        table.insert(stdio()).unwrap();
        table.insert(stdio()).unwrap();
        assert_eq!(table.renumber(0, 5), Err(Errno::BADF));
        table.renumber(0, 1).unwrap();
        assert!(table.get(0).is_err());
        assert!(table.get(1).is_ok());
        assert_eq!(table.renumber(0, 1), Err(Errno::BADF));
    }
}
