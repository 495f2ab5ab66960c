//! `poll_oneoff` (clocks and descriptors) and `sched_yield`.

use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};
use rustix::time::Timespec;

use super::clock;
use super::ctx::WasiCtx;
use super::errno::Errno;
use super::host::Params;
use super::memory::GuestMemory;
use super::table::Descriptor;
use super::types::{eventtype, EVENT_FD_READWRITE_HANGUP, EVENT_SIZE, SUBSCRIPTION_CLOCK_ABSTIME, SUBSCRIPTION_SIZE};

/// One `event` record to hand back.
struct Event {
    userdata: u64,
    error: Errno,
    kind: u8,
    nbytes: u64,
    flags: u16,
}

impl Event {
    fn to_bytes(&self) -> [u8; EVENT_SIZE as usize] {
        let mut b = [0u8; EVENT_SIZE as usize];
        b[0..8].copy_from_slice(&self.userdata.to_le_bytes());
        b[8..10].copy_from_slice(&self.error.0.to_le_bytes());
        b[10] = self.kind;
        b[16..24].copy_from_slice(&self.nbytes.to_le_bytes());
        b[24..26].copy_from_slice(&self.flags.to_le_bytes());
        b
    }
}

/// A clock subscription: due this long after the call started.
struct Timer {
    userdata: u64,
    after: Duration,
}

/// A descriptor subscription that the host must wait on.
struct Waiter {
    userdata: u64,
    fd: u32,
    kind: u8,
}

pub(crate) fn poll_oneoff(ctx: &mut WasiCtx, memory: &GuestMemory<'_>, p: &Params<'_>) -> Result<(), Errno> {
    let (input, output, count, nevents) = (p.u32(0), p.u32(1), p.u32(2), p.u32(3));
    if count == 0 {
        return Err(Errno::INVAL);
    }
    memory.check(input, u64::from(count) * u64::from(SUBSCRIPTION_SIZE))?;
    memory.check(output, u64::from(count) * u64::from(EVENT_SIZE))?;
    memory.check(nevents, 4)?;
    let start = Instant::now();

    let mut events = Vec::new();
    let mut timers = Vec::new();
    let mut waiters = Vec::new();
    for i in 0..count {
        let at = input + i * SUBSCRIPTION_SIZE;
        let userdata = memory.read_u64(at)?;
        let kind = memory.read_u8(at + 8)?;
        match kind {
            eventtype::CLOCK => {
                let (id, timeout, flags) =
                    (memory.read_u32(at + 16)?, memory.read_u64(at + 24)?, memory.read_u16(at + 40)?);
                let after = if flags & SUBSCRIPTION_CLOCK_ABSTIME != 0 {
                    match clock::now(id) {
                        Ok(now) => timeout.saturating_sub(now),
                        Err(error) => {
                            events.push(Event { userdata, error, kind, nbytes: 0, flags: 0 });
                            continue;
                        }
                    }
                } else if clock::clock_id(id).is_err() {
                    events.push(Event { userdata, error: Errno::INVAL, kind, nbytes: 0, flags: 0 });
                    continue;
                } else {
                    timeout
                };
                timers.push(Timer { userdata, after: Duration::from_nanos(after) });
            }
            eventtype::FD_READ | eventtype::FD_WRITE => {
                let fd = memory.read_u32(at + 16)?;
                match ctx.fds.get(fd) {
                    Err(error) => events.push(Event { userdata, error, kind, nbytes: 0, flags: 0 }),
                    // Files and directories never block: ready now, with what
                    // is left to read as POSIX poll would report it.
                    Ok(descriptor @ (Descriptor::File(_) | Descriptor::Dir(_))) => {
                        let nbytes = if kind == eventtype::FD_READ { bytes_left(descriptor) } else { 0 };
                        events.push(Event { userdata, error: Errno::SUCCESS, kind, nbytes, flags: 0 });
                    }
                    Ok(Descriptor::Stdio(..)) => waiters.push(Waiter { userdata, fd, kind }),
                }
            }
            _ => events.push(Event { userdata, error: Errno::INVAL, kind, nbytes: 0, flags: 0 }),
        }
    }

    if events.is_empty() {
        wait(ctx, &timers, &waiters, start, &mut events)?;
    }
    for (i, event) in events.iter().enumerate() {
        memory.write(output + i as u32 * EVENT_SIZE, &event.to_bytes())?;
    }
    memory.write_u32(nevents, events.len() as u32)
}

fn bytes_left(descriptor: &Descriptor) -> u64 {
    let fd = descriptor.fd();
    let size = rustix::fs::fstat(fd).map_or(0, |st| st.st_size as u64);
    let position = rustix::fs::seek(fd, rustix::fs::SeekFrom::Current(0)).unwrap_or(size);
    size.saturating_sub(position)
}

/// Blocks until a descriptor is ready or the first timer is due.
fn wait(
    ctx: &WasiCtx,
    timers: &[Timer],
    waiters: &[Waiter],
    start: Instant,
    events: &mut Vec<Event>,
) -> Result<(), Errno> {
    let first_due = timers.iter().map(|t| t.after).min();
    loop {
        let mut fds = Vec::with_capacity(waiters.len());
        for waiter in waiters {
            let flags = if waiter.kind == eventtype::FD_READ { PollFlags::IN } else { PollFlags::OUT };
            fds.push(PollFd::from_borrowed_fd(ctx.fds.get(waiter.fd)?.fd(), flags));
        }
        let remaining = first_due.map(|due| {
            let left = due.saturating_sub(start.elapsed());
            Timespec { tv_sec: left.as_secs() as i64, tv_nsec: i64::from(left.subsec_nanos()) }
        });
        match rustix::event::poll(&mut fds, remaining.as_ref()) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(error) => return Err(error.into()),
        }
        for (waiter, polled) in waiters.iter().zip(&fds) {
            let ready = polled.revents();
            if ready.is_empty() {
                continue;
            }
            let hangup = ready.contains(PollFlags::HUP);
            let error = if ready.intersects(PollFlags::ERR | PollFlags::NVAL) { Errno::IO } else { Errno::SUCCESS };
            events.push(Event {
                userdata: waiter.userdata,
                error,
                kind: waiter.kind,
                // The host does not say how much; one byte at least is there.
                nbytes: u64::from(!hangup && waiter.kind == eventtype::FD_READ),
                flags: if hangup { EVENT_FD_READWRITE_HANGUP } else { 0 },
            });
        }
        if !events.is_empty() {
            return Ok(());
        }
        let elapsed = start.elapsed();
        for timer in timers.iter().filter(|t| t.after <= elapsed) {
            events.push(Event {
                userdata: timer.userdata,
                error: Errno::SUCCESS,
                kind: eventtype::CLOCK,
                nbytes: 0,
                flags: 0,
            });
        }
        if !events.is_empty() || (first_due.is_none() && waiters.is_empty()) {
            return Ok(());
        }
    }
}

pub(crate) fn sched_yield(_: &mut WasiCtx, _: &GuestMemory<'_>, _: &Params<'_>) -> Result<(), Errno> {
    std::thread::yield_now();
    Ok(())
}
