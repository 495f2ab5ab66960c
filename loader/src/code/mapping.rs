//! The memory an artifact lives in while it is loaded: one read-only
//! mapping of all its bytes, whose `.text` pages are then made
//! read + execute in place.
//!
//! Loaded from a file, the mapping is of the file itself (`MAP_PRIVATE`),
//! so that loading costs nothing per byte that the checks do not look at:
//! the code runs from the page cache, shared with every other process that
//! maps the artifact, and the tables (traps, stack maps) are read where
//! they lie. A device, FIFO or directory is refused from its metadata
//! before a byte is read (`/dev/zero` would otherwise be read without end,
//! and opening a FIFO would wait for a writer). Loaded from bytes, the
//! mapping is an anonymous copy of them.
//!
//! No page is ever writable and executable at once: the file mapping is
//! never writable, and the copy is made read-only before its code is made
//! executable.
#![allow(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::ops::Range;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;
use std::ptr::NonNull;

use super::LoadError;

/// A read-only private mapping of a whole artifact, from its file or
/// copied from its bytes, unmapped on drop.
pub(crate) struct ArtifactMapping {
    ptr: NonNull<u8>,
    len: usize,
    /// The file mapped, if it is one.
    file: Option<File>,
}

// SAFETY: the mapping is never written after it is made (file mappings
// are never writable; a copy is protected read-only before `copy_of`
// returns), so sharing its addresses between threads is sound.
unsafe impl Send for ArtifactMapping {}
// SAFETY: as above, nothing mutates it through `&ArtifactMapping`.
unsafe impl Sync for ArtifactMapping {}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 {
        size as usize
    } else {
        4096
    }
}

impl ArtifactMapping {
    /// Opens and maps `path`, which must be a non-empty regular file.
    pub(crate) fn open(path: &Path) -> Result<ArtifactMapping, LoadError> {
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
        Ok(ArtifactMapping { ptr, len, file: Some(file) })
    }

    /// A read-only anonymous copy of `bytes`, page-aligned like a file
    /// mapping, so that the same checks and the same in-place `.text` apply.
    pub(crate) fn copy_of(bytes: &[u8]) -> Result<ArtifactMapping, LoadError> {
        if bytes.is_empty() {
            return Err(LoadError::new("an empty artifact"));
        }
        let len = bytes.len();
        // SAFETY: an anonymous private mapping at an address of the
        // kernel's choosing aliases no existing memory.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(LoadError::new(format!(
                "cannot map {len} bytes for an artifact: {}",
                std::io::Error::last_os_error()
            )));
        }
        let ptr = NonNull::new(ptr.cast::<u8>()).ok_or_else(|| LoadError::new("mmap returned a null mapping"))?;
        // Owned from here, so that an early return unmaps it.
        let mapping = ArtifactMapping { ptr, len, file: None };
        // SAFETY: the mapping is `len` writable bytes that nothing else
        // refers to yet, and `bytes` is another allocation of `len` bytes.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), ptr.as_ptr(), len) };
        mapping.protect(0..len, libc::PROT_READ, "make an artifact copy read-only")?;
        Ok(mapping)
    }

    /// The artifact's bytes. Page-aligned, so every ELF structure in them
    /// is aligned as the file lays it out.
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: the mapping is `len` readable bytes for as long as `self`
        // lives. A mapped file must not be truncated or rewritten meanwhile
        // (SPEC.md 2.5: artifacts are replaced by rename, never rewritten in
        // place).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The open file the bytes are mapped from, if they are.
    pub(crate) fn file(&self) -> Option<&File> {
        self.file.as_ref()
    }

    /// Makes the bytes in `range` (whole pages, checked by the artifact
    /// checks against [`kiln_format::TEXT_PAGE_SIZE`]) read + execute, in
    /// place.
    ///
    /// On a file mounted `noexec` the kernel refuses; the caller then runs
    /// the code from an anonymous copy instead ([`ArtifactMapping::copy_of`]).
    pub(crate) fn make_executable(&self, range: Range<usize>) -> Result<(), LoadError> {
        self.protect(range, libc::PROT_READ | libc::PROT_EXEC, "make code executable")
    }

    fn protect(&self, range: Range<usize>, prot: libc::c_int, what: &str) -> Result<(), LoadError> {
        let page = page_size();
        if range.start > range.end || range.end > self.len || !range.start.is_multiple_of(page) {
            return Err(LoadError::new(format!(
                "cannot {what}: {:#x}..{:#x} is no page range of the {}-byte artifact",
                range.start, range.end, self.len
            )));
        }
        if range.is_empty() {
            return Ok(());
        }
        // SAFETY: the range lies inside this mapping, which `self` owns,
        // and starts on a page; the protection changes only the pages of
        // this mapping, and no `&mut` into it exists.
        let rc = unsafe { libc::mprotect(self.ptr.as_ptr().add(range.start).cast(), range.len(), prot) };
        if rc != 0 {
            return Err(LoadError::new(format!("cannot {what}: {}", std::io::Error::last_os_error())));
        }
        Ok(())
    }
}

impl Drop for ArtifactMapping {
    fn drop(&mut self) {
        // SAFETY: mapped in `open` or `copy_of` with this length; no borrow
        // of `bytes` outlives `self`, and the code registry dropped this
        // module's range before its `LoadedCode` (and so this) goes.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_holds_the_bytes_and_its_pages_turn_executable() {
        let page = page_size();
        let bytes: Vec<u8> = (0..3 * page).map(|i| i as u8).collect();
        let mapping = ArtifactMapping::copy_of(&bytes).unwrap();
        assert_eq!(mapping.bytes(), &bytes[..]);
        assert!(mapping.file().is_none());
        mapping.make_executable(page..2 * page).unwrap();
        assert_eq!(mapping.bytes(), &bytes[..], "still readable");
        assert!(mapping.make_executable(1..page).is_err(), "not a page start");
        assert!(mapping.make_executable(0..4 * page).is_err(), "past the end");
        assert!(ArtifactMapping::copy_of(&[]).is_err());
    }
}
