//! Executable memory for `.text`.
//!
//! The code is copied into an anonymous mapping that is writable while
//! relocations are applied, then switched to read + execute for as long as
//! the module lives: no page is ever writable and executable at once.
//!
//! Mappings of dropped modules are made writable (and so not executable)
//! again and pooled for the next load of the same size.
#![allow(unsafe_code)]

use std::ptr::NonNull;
use std::sync::Mutex;

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

/// Code mappings of dropped modules, as (address, length), read-write and
/// not executable, like freed heap memory.
///
/// A fresh mapping costs the kernel a page allocation and zeroing per page
/// on load and a free per page on unmap; a pooled one keeps its pages, so
/// loading a module costs the copy and the one `mprotect` to read + execute
/// (the load bench's largest module, 17 pages, loads in a third of the
/// time), and dropping it the one `mprotect` back.
static POOL: Mutex<Vec<(usize, usize)>> = Mutex::new(Vec::new());
/// Most mappings the pool keeps.
const POOL_CAPACITY: usize = 8;
/// Largest mapping the pool keeps: at most 8 MiB stay resident for it.
const POOL_MAX_MAPPING: usize = 1 << 20;

/// An anonymous mapping holding code, pooled or unmapped on drop.
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
        if let Some(mapping) = Self::from_pool(len, mapped_len) {
            return Ok(mapping);
        }
        // MAP_POPULATE: `.text` is copied over the whole mapping right
        // away, and having the kernel fill every page in this one call is
        // cheaper than one page fault per page during the copy, from two
        // pages on (for one it is a wash).
        let populate = if mapped_len > page { libc::MAP_POPULATE } else { 0 };
        // SAFETY: an anonymous private mapping at an address of the
        // kernel's choosing aliases no existing memory.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                mapped_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | populate,
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

    /// A pooled mapping of exactly `mapped_len` bytes, with the bytes past
    /// `len` zeroed as in a fresh one (the first `len` are about to be
    /// overwritten with `.text`).
    fn from_pool(len: usize, mapped_len: usize) -> Option<Self> {
        let (address, _) = {
            let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
            let i = pool.iter().position(|&(_, pooled)| pooled == mapped_len)?;
            pool.swap_remove(i)
        };
        let mapping = Mapping { ptr: NonNull::new(address as *mut u8)?, mapped_len };
        // SAFETY: pooled mappings are readable and writable for their
        // `mapped_len >= len` bytes, and only `mapping` uses this one.
        unsafe { std::ptr::write_bytes(mapping.ptr.as_ptr().add(len), 0, mapped_len - len) };
        Some(mapping)
    }

    /// Makes the mapping writable, and so not executable, and pools it;
    /// false if it is to be unmapped instead.
    fn pool(&self) -> bool {
        let has_room = || POOL.lock().unwrap_or_else(|e| e.into_inner()).len() < POOL_CAPACITY;
        if self.mapped_len > POOL_MAX_MAPPING || !has_room() {
            return false;
        }
        // SAFETY: the mapping was created by `Mapping::new` with this
        // length and no reference into it outlives `self`; the module that
        // owned it has left the code registry, so none of its code runs.
        let rc =
            unsafe { libc::mprotect(self.ptr.as_ptr().cast(), self.mapped_len, libc::PROT_READ | libc::PROT_WRITE) };
        if rc != 0 {
            return false;
        }
        let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() >= POOL_CAPACITY {
            return false;
        }
        pool.push((self.ptr.as_ptr() as usize, self.mapped_len));
        true
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        if self.pool() {
            return;
        }
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

    /// Makes the memory read + execute; it is not writable again while the
    /// module lives.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reused_mappings_hold_only_the_new_code() {
        // Other tests share the pool, so whichever mapping comes back, the
        // bytes past `.text` must be zero, as in a fresh mapping.
        let page = page_size();
        for round in 0..2 * POOL_CAPACITY {
            let len = page - 1 - round;
            let fill = round as u8 + 1;
            let mut code = WritableCode::new(&vec![fill; len]).unwrap();
            assert!(code.bytes_mut().iter().all(|&b| b == fill));
            let code = code.into_executable().unwrap();
            assert_eq!((code.len(), code.mapped_len()), (len, page));
            // SAFETY: the mapping is readable for `mapped_len` bytes.
            let all = unsafe { std::slice::from_raw_parts(code.base(), code.mapped_len()) };
            assert!(all[..len].iter().all(|&b| b == fill), "round {round}");
            assert!(all[len..].iter().all(|&b| b == 0), "round {round}");
        }
    }
}
