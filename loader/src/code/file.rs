//! Opening an artifact file: regular files only, mapped rather than read.
//!
//! A device, FIFO or directory is refused from its metadata before a byte
//! is read (`/dev/zero` would otherwise be read without end, and opening a
//! FIFO would wait for a writer). A regular file is mapped read-only, so
//! that loading costs nothing per byte that the checks do not look at: a
//! 2 GiB sparse file is refused at its first bytes, not after reading 2 GiB.
#![allow(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;
use std::ptr::NonNull;

use super::LoadError;

/// A read-only private mapping of a whole artifact file, and the open file.
pub(crate) struct MappedFile {
    file: File,
    ptr: NonNull<u8>,
    len: usize,
}

impl MappedFile {
    /// Opens and maps `path`, which must be a non-empty regular file.
    pub(crate) fn open(path: &Path) -> Result<MappedFile, LoadError> {
        let failed = |e: std::io::Error| LoadError::new(format!("cannot read {}: {e}", path.display()));
        // Non-blocking, so that opening a FIFO returns at once and is then
        // refused below instead of waiting for a writer.
        let file = OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path).map_err(failed)?;
        let metadata = file.metadata().map_err(failed)?;
        let kind = metadata.file_type();
        let what = if kind.is_dir() {
            Some("a directory")
        } else if kind.is_fifo() {
            Some("a FIFO")
        } else if kind.is_char_device() {
            Some("a character device")
        } else if kind.is_block_device() {
            Some("a block device")
        } else if kind.is_socket() {
            Some("a socket")
        } else {
            None
        };
        if let Some(what) = what {
            return Err(LoadError::new(format!("{} is {what}, not an artifact file", path.display())));
        }
        let len = usize::try_from(metadata.len())
            .map_err(|_| LoadError::new(format!("{} is too large to map", path.display())))?;
        if len == 0 {
            return Err(LoadError::new(format!("{} is empty, not an artifact", path.display())));
        }
        // SAFETY: a fresh read-only private mapping of an open regular file,
        // at an address of the kernel's choosing; it aliases nothing.
        let ptr =
            unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_PRIVATE, file.as_raw_fd(), 0) };
        if ptr == libc::MAP_FAILED {
            return Err(failed(std::io::Error::last_os_error()));
        }
        let ptr = NonNull::new(ptr.cast::<u8>()).ok_or_else(|| LoadError::new("mmap returned a null mapping"))?;
        Ok(MappedFile { file, ptr, len })
    }

    /// The file's bytes. Page-aligned, so every ELF structure in them is
    /// aligned as the file lays it out.
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: the mapping is `len` readable bytes for as long as `self`
        // lives. The file must not be truncated meanwhile (SPEC.md 2.5:
        // artifacts are replaced by rename, not rewritten in place).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The open file the bytes are mapped from.
    pub(crate) fn file(&self) -> &File {
        &self.file
    }
}

impl Drop for MappedFile {
    fn drop(&mut self) {
        // SAFETY: mapped in `open` with this length; no borrow of `bytes`
        // outlives `self`.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}
