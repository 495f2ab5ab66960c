//! The calling instance's linear memory, as system calls read and write it.
//!
//! Every access is bounds-checked and copies: a guest passing garbage
//! pointers gets `EFAULT`, never a host crash. The view borrows the
//! memory's bytes from the store for one system call (as cells, so that the
//! calls read and write through a shared view); no Wasm runs meanwhile.

use std::cell::Cell;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use super::errno::Errno;

/// The largest buffer that one read or write moves through the host, so a
/// huge iovec cannot make the host allocate gigabytes; callers see a short
/// read or write, which POSIX allows and libc loops over.
pub(crate) const MAX_TRANSFER: usize = 16 << 20;

/// A bounds-checked view of a guest memory.
pub(crate) struct GuestMemory<'a> {
    memory: &'a [Cell<u8>],
}

/// One `iovec`/`ciovec`: a guest buffer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct IoVec {
    pub(crate) ptr: u32,
    pub(crate) len: u32,
}

impl<'a> GuestMemory<'a> {
    /// A view of a memory's bytes (empty for an instance without memory,
    /// where every pointer is a fault).
    pub(crate) fn new(memory: &'a mut [u8]) -> GuestMemory<'a> {
        GuestMemory { memory: Cell::from_mut(memory).as_slice_of_cells() }
    }

    /// Checks that `[ptr, ptr + len)` lies in memory; the offset as usize.
    pub(crate) fn check(&self, ptr: u32, len: u64) -> Result<usize, Errno> {
        let end = u64::from(ptr).checked_add(len).ok_or(Errno::FAULT)?;
        if end > self.memory.len() as u64 {
            return Err(Errno::FAULT);
        }
        Ok(ptr as usize)
    }

    /// The cells of `[ptr, ptr + len)`, checked.
    fn range(&self, ptr: u32, len: usize) -> Result<&'a [Cell<u8>], Errno> {
        let start = self.check(ptr, len as u64)?;
        Ok(&self.memory[start..start + len])
    }

    /// Copies `out.len()` bytes from `ptr`, after checking the range.
    pub(crate) fn read_into(&self, ptr: u32, out: &mut [u8]) -> Result<(), Errno> {
        let cells = self.range(ptr, out.len())?;
        for (byte, cell) in out.iter_mut().zip(cells) {
            *byte = cell.get();
        }
        Ok(())
    }

    /// The `len` bytes at `ptr`.
    pub(crate) fn bytes(&self, ptr: u32, len: u32) -> Result<Vec<u8>, Errno> {
        self.check(ptr, u64::from(len))?;
        let mut out = vec![0; len as usize];
        self.read_into(ptr, &mut out)?;
        Ok(out)
    }

    /// Copies `bytes` to `ptr`, after checking the range.
    pub(crate) fn write(&self, ptr: u32, bytes: &[u8]) -> Result<(), Errno> {
        for (cell, &byte) in self.range(ptr, bytes.len())?.iter().zip(bytes) {
            cell.set(byte);
        }
        Ok(())
    }

    pub(crate) fn read_u32(&self, ptr: u32) -> Result<u32, Errno> {
        let mut b = [0; 4];
        self.read_into(ptr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    pub(crate) fn read_u64(&self, ptr: u32) -> Result<u64, Errno> {
        let mut b = [0; 8];
        self.read_into(ptr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    pub(crate) fn read_u16(&self, ptr: u32) -> Result<u16, Errno> {
        let mut b = [0; 2];
        self.read_into(ptr, &mut b)?;
        Ok(u16::from_le_bytes(b))
    }

    pub(crate) fn read_u8(&self, ptr: u32) -> Result<u8, Errno> {
        let mut b = [0; 1];
        self.read_into(ptr, &mut b)?;
        Ok(b[0])
    }

    pub(crate) fn write_u32(&self, ptr: u32, value: u32) -> Result<(), Errno> {
        self.write(ptr, &value.to_le_bytes())
    }

    pub(crate) fn write_u64(&self, ptr: u32, value: u64) -> Result<(), Errno> {
        self.write(ptr, &value.to_le_bytes())
    }

    /// A path argument. WASI paths are byte strings; the host passes them on
    /// unchanged, so no UTF-8 check is made here.
    pub(crate) fn path(&self, ptr: u32, len: u32) -> Result<OsString, Errno> {
        let bytes = self.bytes(ptr, len)?;
        if bytes.contains(&0) {
            return Err(Errno::INVAL);
        }
        Ok(OsString::from_vec(bytes))
    }

    /// The `count` iovecs at `ptr`, each checked to lie in memory.
    pub(crate) fn iovecs(&self, ptr: u32, count: u32) -> Result<Vec<IoVec>, Errno> {
        self.check(ptr, u64::from(count) * 8)?;
        (0..count)
            .map(|i| {
                let at = ptr + i * 8;
                let iov = IoVec { ptr: self.read_u32(at)?, len: self.read_u32(at + 4)? };
                self.check(iov.ptr, u64::from(iov.len))?;
                Ok(iov)
            })
            .collect()
    }

    /// The bytes of `iovecs`, concatenated, up to [`MAX_TRANSFER`].
    pub(crate) fn gather(&self, iovecs: &[IoVec]) -> Result<Vec<u8>, Errno> {
        let mut out = Vec::new();
        for iov in iovecs {
            let room = MAX_TRANSFER - out.len();
            let take = (iov.len as usize).min(room);
            let start = out.len();
            out.resize(start + take, 0);
            self.read_into(iov.ptr, &mut out[start..])?;
            if out.len() == MAX_TRANSFER {
                break;
            }
        }
        Ok(out)
    }

    /// Spreads `data` over `iovecs`, in order.
    pub(crate) fn scatter(&self, iovecs: &[IoVec], mut data: &[u8]) -> Result<(), Errno> {
        for iov in iovecs {
            if data.is_empty() {
                break;
            }
            let take = (iov.len as usize).min(data.len());
            self.write(iov.ptr, &data[..take])?;
            data = &data[take..];
        }
        Ok(())
    }
}

/// The total length of `iovecs`, capped at [`MAX_TRANSFER`].
pub(crate) fn transfer_len(iovecs: &[IoVec]) -> usize {
    iovecs.iter().map(|iov| iov.len as usize).sum::<usize>().min(MAX_TRANSFER)
}
