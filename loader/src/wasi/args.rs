//! `args_*` and `environ_*`: NUL-terminated strings and a pointer array.

use super::ctx::WasiCtx;
use super::errno::Errno;
use super::host::Params;
use super::memory::GuestMemory;

/// Writes the pointers at `argv` and the strings, NUL-terminated, at `buf`.
fn put_strings(memory: &GuestMemory<'_>, strings: &[Vec<u8>], argv: u32, buf: u32) -> Result<(), Errno> {
    let mut at = buf;
    for (i, s) in strings.iter().enumerate() {
        memory.write_u32(argv.checked_add(4 * i as u32).ok_or(Errno::FAULT)?, at)?;
        memory.write(at, s)?;
        memory.write(at.checked_add(s.len() as u32).ok_or(Errno::FAULT)?, &[0])?;
        at = at.checked_add(s.len() as u32 + 1).ok_or(Errno::FAULT)?;
    }
    Ok(())
}

fn put_sizes(memory: &GuestMemory<'_>, strings: &[Vec<u8>], count: u32, size: u32) -> Result<(), Errno> {
    let bytes: usize = strings.iter().map(|s| s.len() + 1).sum();
    memory.write_u32(count, strings.len() as u32)?;
    memory.write_u32(size, u32::try_from(bytes).map_err(|_| Errno::OVERFLOW)?)
}

pub(crate) fn args_get(ctx: &mut WasiCtx, memory: &GuestMemory<'_>, p: &Params<'_>) -> Result<(), Errno> {
    put_strings(memory, &ctx.args, p.u32(0), p.u32(1))
}

pub(crate) fn args_sizes_get(ctx: &mut WasiCtx, memory: &GuestMemory<'_>, p: &Params<'_>) -> Result<(), Errno> {
    put_sizes(memory, &ctx.args, p.u32(0), p.u32(1))
}

pub(crate) fn environ_get(ctx: &mut WasiCtx, memory: &GuestMemory<'_>, p: &Params<'_>) -> Result<(), Errno> {
    put_strings(memory, &ctx.env, p.u32(0), p.u32(1))
}

pub(crate) fn environ_sizes_get(ctx: &mut WasiCtx, memory: &GuestMemory<'_>, p: &Params<'_>) -> Result<(), Errno> {
    put_sizes(memory, &ctx.env, p.u32(0), p.u32(1))
}
