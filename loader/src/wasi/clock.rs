//! `clock_*`: the four preview1 clocks, in nanoseconds.

use rustix::time::{ClockId, Timespec};

use super::ctx::WasiCtx;
use super::errno::Errno;
use super::host::Params;
use super::memory::GuestMemory;
use super::types::clockid;

pub(crate) fn clock_id(id: u32) -> Result<ClockId, Errno> {
    Ok(match id {
        clockid::REALTIME => ClockId::Realtime,
        clockid::MONOTONIC => ClockId::Monotonic,
        clockid::PROCESS_CPUTIME_ID => ClockId::ProcessCPUTime,
        clockid::THREAD_CPUTIME_ID => ClockId::ThreadCPUTime,
        _ => return Err(Errno::INVAL),
    })
}

/// A timestamp in nanoseconds; times before 1970 (which a realtime clock
/// would not give) read as 0.
pub(crate) fn nanos(t: Timespec) -> u64 {
    let ns = i128::from(t.tv_sec) * 1_000_000_000 + i128::from(t.tv_nsec);
    ns.clamp(0, i128::from(u64::MAX)) as u64
}

/// The current time of clock `id`.
pub(crate) fn now(id: u32) -> Result<u64, Errno> {
    Ok(nanos(rustix::time::clock_gettime(clock_id(id)?)))
}

pub(crate) fn clock_res_get(_: &mut WasiCtx, memory: &GuestMemory<'_>, p: &Params<'_>) -> Result<(), Errno> {
    let resolution = nanos(rustix::time::clock_getres(clock_id(p.u32(0))?));
    memory.write_u64(p.u32(1), resolution.max(1))
}

pub(crate) fn clock_time_get(_: &mut WasiCtx, memory: &GuestMemory<'_>, p: &Params<'_>) -> Result<(), Errno> {
    // The precision argument (p.u64(1)) is a hint that the host may ignore.
    memory.write_u64(p.u32(2), now(p.u32(0))?)
}
