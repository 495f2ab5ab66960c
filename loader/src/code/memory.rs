//! Executable memory for `.text`.
//!
//! The code is copied into a fresh anonymous mapping that is writable while
//! relocations are applied, then switched to read + execute for good: no
//! page is ever writable and executable at once.
#![allow(unsafe_code)]

use std::ptr::NonNull;

use super::LoadError;

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 {
        size as usize
    } else {
        4096
    }
}

/// An anonymous mapping holding code, unmapped on drop.
struct Mapping {
    ptr: NonNull<u8>,
    mapped_len: usize,
}

impl Mapping {
    fn new(len: usize) -> Result<Self, LoadError> {
        let page = page_size();
        // An empty .text still gets one page so that the registry keeps a
        // unique, non-empty address range for the module.
        let mapped_len = len
            .max(1)
            .checked_next_multiple_of(page)
            .ok_or_else(|| LoadError::new(format!(".text of {len} bytes is too large to map")))?;
        // MAP_POPULATE: `.text` is copied over the whole mapping right
        // away, and having the kernel fill every page in this one call is
        // far cheaper than one page fault per page during the copy (the
        // load bench's largest module, 17 pages, loads in about half the time).
        // SAFETY: an anonymous private mapping at an address of the
        // kernel's choosing aliases no existing memory.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                mapped_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(LoadError::new(format!(
                "cannot map {mapped_len} bytes for code: {}",
                std::io::Error::last_os_error()
            )));
        }
        let ptr = NonNull::new(ptr.cast::<u8>()).ok_or_else(|| LoadError::new("mmap returned a null mapping"))?;
        Ok(Mapping { ptr, mapped_len })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping was created by `Mapping::new` with this length
        // and is unmapped only here; no reference into it outlives `self`.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.mapped_len);
        }
    }
}

/// Code memory that is still writable: `.text` has been copied in and
/// relocations are being applied.
pub(crate) struct WritableCode {
    mapping: Mapping,
    len: usize,
}

impl WritableCode {
    /// Maps fresh memory and copies `text` into it.
    pub fn new(text: &[u8]) -> Result<Self, LoadError> {
        let mapping = Mapping::new(text.len())?;
        let mut code = WritableCode { mapping, len: text.len() };
        code.bytes_mut().copy_from_slice(text);
        Ok(code)
    }

    /// Address the code will run at.
    pub fn base(&self) -> usize {
        self.mapping.ptr.as_ptr() as usize
    }

    /// The code bytes, for patching.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: the mapping is readable and writable for `mapped_len >=
        // len` bytes and is exclusively owned through `&mut self`.
        unsafe { std::slice::from_raw_parts_mut(self.mapping.ptr.as_ptr(), self.len) }
    }

    /// Makes the memory read + execute; it is never writable again.
    pub fn into_executable(self) -> Result<CodeMemory, LoadError> {
        let WritableCode { mapping, len } = self;
        // SAFETY: the range is exactly the mapping we own; after this no
        // `&mut` to it exists (`bytes_mut` needed a `WritableCode`).
        let rc = unsafe {
            libc::mprotect(mapping.ptr.as_ptr().cast(), mapping.mapped_len, libc::PROT_READ | libc::PROT_EXEC)
        };
        if rc != 0 {
            return Err(LoadError::new(format!("cannot make code executable: {}", std::io::Error::last_os_error())));
        }
        Ok(CodeMemory { mapping, len })
    }
}

/// Read + execute code memory, unmapped on drop.
pub(crate) struct CodeMemory {
    mapping: Mapping,
    len: usize,
}

// SAFETY: the memory is immutable once executable; sharing addresses of
// immutable memory between threads is sound.
unsafe impl Send for CodeMemory {}
// SAFETY: as above, nothing mutates it through `&CodeMemory`.
unsafe impl Sync for CodeMemory {}

impl CodeMemory {
    /// Start of the code.
    pub fn base(&self) -> *const u8 {
        self.mapping.ptr.as_ptr()
    }

    /// Length of `.text` in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Length of the mapping (whole pages); addresses past `len` but inside
    /// it are still owned by this module.
    pub fn mapped_len(&self) -> usize {
        self.mapping.mapped_len
    }
}
