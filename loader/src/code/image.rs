//! Where a module's memory images come from: a file descriptor whose pages
//! instantiation maps into linear memories copy-on-write (SPEC.md 2.5).
//!
//! Loaded from a file, that is the artifact file itself, whose
//! `.kiln.image` is page-aligned: its pages then come from the page cache,
//! shared by every instance of every process that maps them. Loaded from
//! bytes, or from a file whose image is not page-aligned, the images are
//! written once into an anonymous `memfd`, shared by the module's instances.
#![allow(unsafe_code)]

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};

use kiln_format::IMAGE_PAGE_SIZE;

use super::LoadError;

/// The file and offset of a module's `.kiln.image` bytes.
#[derive(Debug)]
pub struct ImageSource {
    fd: OwnedFd,
    /// Offset of `.kiln.image` in the file, a multiple of the page size.
    file_offset: u64,
    /// Never reused: lets a pooled memory slot recognise that it still
    /// holds this module's image.
    id: u64,
}

fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl ImageSource {
    /// The images of a file whose `.kiln.image` is `image`, at `file_offset`:
    /// the file itself when the offset is page-aligned, else a copy.
    pub(crate) fn from_file(file: &File, file_offset: u64, image: &[u8]) -> Result<Option<ImageSource>, LoadError> {
        if image.is_empty() {
            return Ok(None);
        }
        if !file_offset.is_multiple_of(IMAGE_PAGE_SIZE) {
            return ImageSource::from_bytes(image);
        }
        let fd = file
            .try_clone()
            .map_err(|e| LoadError::new(format!("cannot keep the artifact open for its memory images: {e}")))?;
        Ok(Some(ImageSource { fd: fd.into(), file_offset, id: next_id() }))
    }

    /// The images `image`, copied into an anonymous file.
    pub(crate) fn from_bytes(image: &[u8]) -> Result<Option<ImageSource>, LoadError> {
        if image.is_empty() {
            return Ok(None);
        }
        let error = |e: std::io::Error| LoadError::new(format!("cannot make an anonymous memory image: {e}"));
        // SAFETY: the name is a NUL-terminated string and the flags valid.
        let fd = unsafe { libc::memfd_create(c"kiln-memory-image".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(error(std::io::Error::last_os_error()));
        }
        // SAFETY: `fd` was just opened and nothing else owns it.
        let mut file = unsafe { File::from_raw_fd(fd) };
        file.write_all(image).map_err(error)?;
        Ok(Some(ImageSource { fd: file.into(), file_offset: 0, id: next_id() }))
    }

    /// The descriptor to map from, valid while `self` lives.
    pub(crate) fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Offset in the file of byte `image_offset` of `.kiln.image`.
    pub(crate) fn file_offset(&self, image_offset: u64) -> u64 {
        self.file_offset + image_offset
    }

    /// This source's identity, unique for the process's lifetime.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }
}
