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
//! mapping is an anonymous copy of them. Loaded from static bytes (an
//! artifact embedded in the program, `Module::from_static`), there is no
//! mapping of the loader's own: the bytes are used where they lie, and only
//! the pages of their `.text` change protection.
//!
//! No page is ever writable and executable at once: the file mapping is
//! never writable, the copy is made read-only before its code is made
//! executable, and `mprotect` of static bytes to read + execute drops any
//! write permission their pages had.
#![allow(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::ops::Range;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;
use std::ptr::NonNull;

use super::LoadError;

/// The bytes of a whole artifact: a read-only private mapping of its file
/// or of a copy of its bytes, unmapped on drop, or static bytes of the
/// program, never unmapped.
pub(crate) struct ArtifactMapping {
    ptr: NonNull<u8>,
    len: usize,
    backing: Backing,
}

/// What the bytes of an [`ArtifactMapping`] are.
enum Backing {
    /// A mapping of this file, made by [`ArtifactMapping::open`].
    File(File),
    /// An anonymous mapping holding a copy, made by [`ArtifactMapping::copy_of`].
    Copy,
    /// Bytes that live and stay unchanged for as long as the program runs,
    /// given to [`ArtifactMapping::of_static`]; the loader did not map them
    /// and never unmaps them.
    Static,
}

// SAFETY: the bytes are never written after the mapping is made (file
// mappings are never writable; a copy is protected read-only before
// `copy_of` returns; static bytes are borrowed shared for `'static`), so
// sharing their addresses between threads is sound.
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
        Ok(ArtifactMapping { ptr, len, backing: Backing::File(file) })
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
        let mapping = ArtifactMapping { ptr, len, backing: Backing::Copy };
        // SAFETY: the mapping is `len` writable bytes that nothing else
        // refers to yet, and `bytes` is another allocation of `len` bytes.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), ptr.as_ptr(), len) };
        mapping.protect(0..len, libc::PROT_READ, "make an artifact copy read-only")?;
        Ok(mapping)
    }

    /// Static bytes that start on a page of memory, used where they lie:
    /// nothing is mapped or copied. Other static bytes are copied
    /// ([`ArtifactMapping::copy_of`]): their `.text`, at a page-aligned
    /// offset, cannot be whole pages of memory where they lie.
    pub(crate) fn of_static(bytes: &'static [u8]) -> Result<ArtifactMapping, LoadError> {
        if bytes.is_empty() {
            return Err(LoadError::new("an empty artifact"));
        }
        if !(bytes.as_ptr() as usize).is_multiple_of(page_size()) {
            return ArtifactMapping::copy_of(bytes);
        }
        // A slice's pointer is never null.
        let ptr = NonNull::from(bytes).cast::<u8>();
        Ok(ArtifactMapping { ptr, len: bytes.len(), backing: Backing::Static })
    }

    /// The artifact's bytes. Page-aligned when mapped by the loader, so
    /// every ELF structure in them is aligned as the file lays it out;
    /// static bytes are wherever the program put them.
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: the mapping is `len` readable bytes for as long as `self`
        // lives (static bytes: for as long as the program runs). A mapped
        // file must not be truncated or rewritten meanwhile (SPEC.md 2.5:
        // artifacts are replaced by rename, never rewritten in place).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The open file the bytes are mapped from, if they are.
    pub(crate) fn file(&self) -> Option<&File> {
        match &self.backing {
            Backing::File(file) => Some(file),
            Backing::Copy | Backing::Static => None,
        }
    }

    /// Whether these bytes are a copy the loader made, rather than the
    /// artifact's own file or static bytes.
    pub(crate) fn is_copy(&self) -> bool {
        matches!(self.backing, Backing::Copy)
    }

    /// Makes the bytes in `range` (whole pages, checked by the artifact
    /// checks against [`kiln_format::TEXT_PAGE_SIZE`]) read + execute, in
    /// place.
    ///
    /// On a file mounted `noexec` the kernel refuses; the caller then runs
    /// the code from an anonymous copy instead ([`ArtifactMapping::copy_of`]).
    ///
    /// Static bytes are refused unless `range` is whole pages of memory:
    /// the pages around it may hold other data of the program, which must
    /// never become executable. Their protection is never restored: other
    /// loads of the same bytes may be running the code (the code registry
    /// hands them one shared module), and the bytes stay the same code.
    pub(crate) fn make_executable(&self, range: Range<usize>) -> Result<(), LoadError> {
        if matches!(self.backing, Backing::Static) {
            let page = page_size();
            let start = (self.ptr.as_ptr() as usize).wrapping_add(range.start);
            if !start.is_multiple_of(page) || !range.len().is_multiple_of(page) {
                return Err(LoadError::new(format!(
                    "cannot make code executable in place: {:#x}..{:#x} of the static artifact at {:p} is not whole \
                     {page}-byte pages of memory",
                    range.start, range.end, self.ptr
                )));
            }
        }
        self.protect(range, libc::PROT_READ | libc::PROT_EXEC, "make code executable")
    }

    fn protect(&self, range: Range<usize>, prot: libc::c_int, what: &str) -> Result<(), LoadError> {
        let page = page_size();
        let address = (self.ptr.as_ptr() as usize).wrapping_add(range.start);
        if range.start > range.end || range.end > self.len || !address.is_multiple_of(page) {
            return Err(LoadError::new(format!(
                "cannot {what}: {:#x}..{:#x} is no page range of the {}-byte artifact",
                range.start, range.end, self.len
            )));
        }
        if range.is_empty() {
            return Ok(());
        }
        // SAFETY: the range lies inside these bytes and starts on a page.
        // A mapping made by the loader is owned by `self`, and the kernel
        // rounds the length up within it. Static bytes were checked by
        // `make_executable` (the only caller for them) to be whole pages,
        // so every page changed holds only bytes of the artifact, which
        // are borrowed shared for `'static`: nothing writes them, and no
        // other data of the program shares their pages.
        let rc = unsafe { libc::mprotect(self.ptr.as_ptr().add(range.start).cast(), range.len(), prot) };
        if rc != 0 {
            return Err(LoadError::new(format!("cannot {what}: {}", std::io::Error::last_os_error())));
        }
        Ok(())
    }
}

impl Drop for ArtifactMapping {
    fn drop(&mut self) {
        if matches!(self.backing, Backing::Static) {
            // Not the loader's to unmap: the bytes are part of the program.
            return;
        }
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

    #[test]
    fn static_bytes_on_a_page_are_used_in_place_and_only_their_whole_pages_turn_executable() {
        let page = page_size();
        let buffer: &'static mut [u8] = vec![0xcc; 4 * page].leak();
        let start = buffer.as_ptr().align_offset(page);
        let bytes: &'static [u8] = &buffer[start..start + 3 * page];
        let mapping = ArtifactMapping::of_static(bytes).unwrap();
        assert!(!mapping.is_copy() && mapping.file().is_none());
        assert_eq!(mapping.bytes().as_ptr(), bytes.as_ptr(), "not copied");
        assert!(mapping.make_executable(page..page + page / 2).is_err(), "part of a page");
        assert!(mapping.make_executable(1..page + 1).is_err(), "not a page start");
        assert!(mapping.make_executable(2 * page..4 * page).is_err(), "past the end");
        mapping.make_executable(page..2 * page).unwrap();
        drop(mapping);
        assert!(bytes.iter().all(|&b| b == 0xcc), "still there, and readable, after the mapping is dropped");

        let off_a_page = ArtifactMapping::of_static(&bytes[1..]).unwrap();
        assert!(off_a_page.is_copy(), "static bytes off a page are copied");
        assert_eq!(off_a_page.bytes(), &bytes[1..]);
        assert!(ArtifactMapping::of_static(&[]).is_err());
    }
}
