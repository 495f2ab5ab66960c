//! `random_get`: the host's cryptographic random source.

use super::ctx::WasiCtx;
use super::errno::Errno;
use super::host::Params;
use super::memory::{GuestMemory, MAX_TRANSFER};

pub(crate) fn random_get(_: &mut WasiCtx, memory: &GuestMemory<'_>, p: &Params<'_>) -> Result<(), Errno> {
    let (mut ptr, mut len) = (p.u32(0), p.u32(1) as usize);
    // Checked up front so that a bad buffer fails before any entropy is spent.
    memory.check(ptr, len as u64)?;
    let mut chunk = vec![0u8; len.min(MAX_TRANSFER)];
    while len > 0 {
        let want = len.min(chunk.len());
        let mut filled = 0;
        while filled < want {
            filled += rustix::rand::getrandom(&mut chunk[filled..want], rustix::rand::GetRandomFlags::empty())?;
        }
        memory.write(ptr, &chunk[..want])?;
        ptr += want as u32;
        len -= want;
    }
    Ok(())
}
