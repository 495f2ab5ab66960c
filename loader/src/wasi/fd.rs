//! `fd_*`: reading, writing and describing open descriptors.

use std::mem::MaybeUninit;
use std::num::NonZeroU64;
use std::os::fd::{AsFd, BorrowedFd};

use rustix::fs::{Advice, FallocateFlags, OFlags, SeekFrom, Timestamps};
use rustix::time::Timespec;

use super::ctx::WasiCtx;
use super::errno::Errno;
use super::host::Params;
use super::memory::{transfer_len, GuestMemory, IoVec};
use super::table::Descriptor;
use super::types::{advice, fdflags, fdstat_bytes, filetype, fstflags, whence, Filestat};

/// The WASI file type of a host file mode.
pub(crate) fn filetype_from_mode(mode: u32) -> u8 {
    use rustix::fs::FileType;
    match FileType::from_raw_mode(mode) {
        FileType::RegularFile => filetype::REGULAR_FILE,
        FileType::Directory => filetype::DIRECTORY,
        FileType::Symlink => filetype::SYMBOLIC_LINK,
        FileType::CharacterDevice => filetype::CHARACTER_DEVICE,
        FileType::BlockDevice => filetype::BLOCK_DEVICE,
        FileType::Socket => filetype::SOCKET_STREAM,
        _ => filetype::UNKNOWN,
    }
}

/// The WASI file type of an open host descriptor.
pub(crate) fn filetype_of(fd: BorrowedFd<'_>) -> u8 {
    rustix::fs::fstat(fd).map_or(filetype::UNKNOWN, |st| filetype_from_mode(st.st_mode))
}

fn nanos(sec: i64, nsec: i64) -> u64 {
    super::clock::nanos(Timespec { tv_sec: sec, tv_nsec: nsec })
}

/// The `filestat` of an open host descriptor.
pub(crate) fn filestat_of(fd: BorrowedFd<'_>) -> Result<Filestat, Errno> {
    let st = rustix::fs::fstat(fd)?;
    Ok(Filestat {
        dev: st.st_dev as u64,
        ino: st.st_ino as u64,
        filetype: filetype_from_mode(st.st_mode),
        nlink: st.st_nlink as u64,
        size: st.st_size as u64,
        atim: nanos(st.st_atime as i64, st.st_atime_nsec as i64),
        mtim: nanos(st.st_mtime as i64, st.st_mtime_nsec as i64),
        ctim: nanos(st.st_ctime as i64, st.st_ctime_nsec as i64),
    })
}

/// One side of a `set_times` call: a time, now, or unchanged.
pub(crate) fn time_spec(time: u64, set: bool, now: bool) -> Result<Timespec, Errno> {
    Ok(match (set, now) {
        (true, true) => return Err(Errno::INVAL),
        (false, true) => Timespec { tv_sec: 0, tv_nsec: rustix::fs::UTIME_NOW },
        (true, false) => Timespec { tv_sec: (time / 1_000_000_000) as i64, tv_nsec: (time % 1_000_000_000) as i64 },
        (false, false) => Timespec { tv_sec: 0, tv_nsec: rustix::fs::UTIME_OMIT },
    })
}

/// The access and modification times that `fst_flags` ask for.
pub(crate) fn timestamps(atim: u64, mtim: u64, flags: u16) -> Result<Timestamps, Errno> {
    Ok(Timestamps {
        last_access: time_spec(atim, flags & fstflags::ATIM != 0, flags & fstflags::ATIM_NOW != 0)?,
        last_modification: time_spec(mtim, flags & fstflags::MTIM != 0, flags & fstflags::MTIM_NOW != 0)?,
    })
}

/// Reads with `read` into a fresh, uninitialized buffer the size of
/// `iovecs` and spreads what came over them; the count read. Not zeroing the
/// buffer matters: a program reading a small file in 16 MiB requests would
/// otherwise pay for clearing 16 MiB on every call.
fn read_into_guest(
    memory: &GuestMemory<'_>,
    iovecs: &[IoVec],
    read: impl for<'a> FnOnce(&'a mut [MaybeUninit<u8>]) -> ReadResult<'a>,
) -> Result<usize, Errno> {
    let mut buf = Box::<[u8]>::new_uninit_slice(transfer_len(iovecs));
    let (filled, _) = read(&mut buf)?;
    memory.scatter(iovecs, filled)?;
    Ok(filled.len())
}

type ReadResult<'a> = rustix::io::Result<(&'a mut [u8], &'a mut [MaybeUninit<u8>])>;

pub(crate) fn fd_read(ctx: &mut WasiCtx, memory: &GuestMemory<'_>, p: &Params<'_>) -> Result<(), Errno> {
    // Result pointers are checked before the call has any effect, so a
    // fault never loses data that was read or written.
    memory.check(p.u32(3), 4)?;
    let descriptor = ctx.fds.get(p.u32(0))?;
    let iovecs = memory.iovecs(p.u32(1), p.u32(2))?;
    let n = read_into_guest(memory, &iovecs, |buf| rustix::io::read(descriptor.fd(), buf))?;
    memory.write_u32(p.u32(3), n as u32)
}

pub(crate) fn fd_pread(ctx: &mut WasiCtx, memory: &GuestMemory<'_>, p: &Params<'_>) -> Result<(), Errno> {
    memory.check(p.u32(4), 4)?;
    let descriptor = ctx.fds.get(p.u32(0))?;
    let iovecs = memory.iovecs(p.u32(1), p.u32(2))?;
    let n = read_into_guest(memory, &iovecs, |buf| rustix::io::pread(descriptor.fd(), buf, p.u64(3)))?;
    memory.write_u32(p.u32(4), n as u32)
}

pub(crate) fn fd_write(ctx: &mut WasiCtx, memory: &GuestMemory<'_>, p: &Params<'_>) -> Result<(), Errno> {
    memory.check(p.u32(3), 4)?;
    let descriptor = ctx.fds.get(p.u32(0))?;
    let data = memory.gather(&memory.iovecs(p.u32(1), p.u32(2))?)?;
    let n = if data.is_empty() { 0 } else { rustix::io::write(descriptor.fd(), &data)? };
    memory.write_u32(p.u32(3), n as u32)
}

pub(crate) fn fd_pwrite(ctx: &mut WasiCtx, memory: &GuestMemory<'_>, p: &Params<'_>) -> Result<(), Errno> {
    memory.check(p.u32(4), 4)?;
    let descriptor = ctx.fds.get(p.u32(0))?;
    let data = memory.gather(&memory.iovecs(p.u32(1), p.u32(2))?)?;
    let n = rustix::io::pwrite(descriptor.fd(), &data, p.u64(3))?;
    memory.write_u32(p.u32(4), n as u32)
}

pub(crate) fn fd_seek(ctx: &mut WasiCtx, memory: &GuestMemory<'_>, p: &Params<'_>) -> Result<(), Errno> {
    memory.check(p.u32(3), 8)?;
    let descriptor = ctx.fds.get(p.u32(0))?;
    let offset = p.u64(1) as i64;
    let position = match p.u8(2)? {
        whence::SET => SeekFrom::Start(u64::try_from(offset).map_err(|_| Errno::INVAL)?),
        whence::CUR => SeekFrom::Current(offset),
        whence::END => SeekFrom::End(offset),
        _ => return Err(Errno::INVAL),
    };
    if matches!(descriptor, Descriptor::Dir(_)) {
        return Err(Errno::BADF);
    }
    let new = rustix::fs::seek(descriptor.fd(), position)?;
    memory.write_u64(p.u32(3), new)
}

pub(crate) fn fd_tell(ctx: &mut WasiCtx, memory: &GuestMemory<'_>, p: &Params<'_>) -> Result<(), Errno> {
    let descriptor = ctx.fds.get(p.u32(0))?;
    if matches!(descriptor, Descriptor::Dir(_)) {
        return Err(Errno::BADF);
    }
    let position = rustix::fs::seek(descriptor.fd(), SeekFrom::Current(0))?;
    memory.write_u64(p.u32(1), position)
}

pub(crate) fn fd_close(ctx: &mut WasiCtx, _: &GuestMemory<'_>, p: &Params<'_>) -> Result<(), Errno> {
    // Dropping the descriptor closes its host handle; the host's own
    // standard streams are only borrowed and stay open.
    ctx.fds.remove(p.u32(0)).map(drop)
}

pub(crate) fn fd_renumber(ctx: &mut WasiCtx, _: &GuestMemory<'_>, p: &Params<'_>) -> Result<(), Errno> {
    ctx.fds.renumber(p.u32(0), p.u32(1))
}

pub(crate) fn fd_sync(ctx: &mut WasiCtx, _: &GuestMemory<'_>, p: &Params<'_>) -> Result<(), Errno> {
    Ok(rustix::fs::fsync(ctx.fds.get(p.u32(0))?.fd())?)
}

pub(crate) fn fd_datasync(ctx: &mut WasiCtx, _: &GuestMemory<'_>, p: &Params<'_>) -> Result<(), Errno> {
    Ok(rustix::fs::fdatasync(ctx.fds.get(p.u32(0))?.fd())?)
}

pub(crate) fn fd_advise(ctx: &mut WasiCtx, _: &GuestMemory<'_>, p: &Params<'_>) -> Result<(), Errno> {
    let descriptor = ctx.fds.get(p.u32(0))?;
    let advice = match p.u8(3)? {
        advice::NORMAL => Advice::Normal,
        advice::SEQUENTIAL => Advice::Sequential,
        advice::RANDOM => Advice::Random,
        advice::WILLNEED => Advice::WillNeed,
        advice::DONTNEED => Advice::DontNeed,
        advice::NOREUSE => Advice::NoReuse,
        _ => return Err(Errno::INVAL),
    };
    if !matches!(descriptor, Descriptor::File(_)) {
        return Err(Errno::BADF);
    }
    Ok(rustix::fs::fadvise(descriptor.fd(), p.u64(1), NonZeroU64::new(p.u64(2)), advice)?)
}

pub(crate) fn fd_allocate(ctx: &mut WasiCtx, _: &GuestMemory<'_>, p: &Params<'_>) -> Result<(), Errno> {
    let Descriptor::File(open) = ctx.fds.get(p.u32(0))? else { return Err(Errno::BADF) };
    let (offset, len) = (p.u64(1), p.u64(2));
    let end = offset.checked_add(len).filter(|&end| end <= i64::MAX as u64).ok_or(Errno::FBIG)?;
    match rustix::fs::fallocate(open.file.as_fd(), FallocateFlags::empty(), offset, len) {
        Ok(()) => Ok(()),
        // Some file systems (tmpfs of old kernels, overlays) have no
        // fallocate; growing the file gives the same guarantee of size.
        Err(rustix::io::Errno::OPNOTSUPP) => {
            let size = rustix::fs::fstat(open.file.as_fd())?.st_size as u64;
            if end > size {
                rustix::fs::ftruncate(open.file.as_fd(), end)?;
            }
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn fd_fdstat_get(ctx: &mut WasiCtx, memory: &GuestMemory<'_>, p: &Params<'_>) -> Result<(), Errno> {
    let descriptor = ctx.fds.get(p.u32(0))?;
    let fd = descriptor.fd();
    let host = rustix::fs::fcntl_getfl(fd)?;
    let mut flags = 0;
    for (wasi, os) in [
        (fdflags::APPEND, OFlags::APPEND),
        (fdflags::DSYNC, OFlags::DSYNC),
        (fdflags::NONBLOCK, OFlags::NONBLOCK),
        (fdflags::SYNC, OFlags::SYNC),
        (fdflags::RSYNC, OFlags::RSYNC),
    ] {
        if host.contains(os) {
            flags |= wasi;
        }
    }
    let rights = descriptor.rights();
    memory.write(p.u32(1), &fdstat_bytes(filetype_of(fd), flags, rights.base, rights.inheriting))
}

pub(crate) fn fd_fdstat_set_flags(ctx: &mut WasiCtx, _: &GuestMemory<'_>, p: &Params<'_>) -> Result<(), Errno> {
    let requested = p.u16(1)?;
    let Descriptor::File(open) = ctx.fds.get(p.u32(0))? else {
        // The standard streams are the host's own: changing their flags
        // would outlive the program, so they stay as they are.
        return Err(Errno::NOTSUP);
    };
    if requested & !(fdflags::APPEND | fdflags::NONBLOCK) != 0 {
        // Linux cannot switch synchronous I/O on or off after open.
        return Err(Errno::NOTSUP);
    }
    let mut host = rustix::fs::fcntl_getfl(open.file.as_fd())?;
    host.set(OFlags::APPEND, requested & fdflags::APPEND != 0);
    host.set(OFlags::NONBLOCK, requested & fdflags::NONBLOCK != 0);
    Ok(rustix::fs::fcntl_setfl(open.file.as_fd(), host)?)
}

pub(crate) fn fd_fdstat_set_rights(ctx: &mut WasiCtx, _: &GuestMemory<'_>, p: &Params<'_>) -> Result<(), Errno> {
    let rights = ctx.fds.get_mut(p.u32(0))?.rights_mut();
    let (base, inheriting) = (p.u64(1), p.u64(2));
    // Rights can only be dropped, never gained.
    if base & !rights.base != 0 || inheriting & !rights.inheriting != 0 {
        return Err(Errno::NOTCAPABLE);
    }
    rights.base = base;
    rights.inheriting = inheriting;
    Ok(())
}

pub(crate) fn fd_filestat_get(ctx: &mut WasiCtx, memory: &GuestMemory<'_>, p: &Params<'_>) -> Result<(), Errno> {
    let stat = filestat_of(ctx.fds.get(p.u32(0))?.fd())?;
    memory.write(p.u32(1), &stat.to_bytes())
}

pub(crate) fn fd_filestat_set_size(ctx: &mut WasiCtx, _: &GuestMemory<'_>, p: &Params<'_>) -> Result<(), Errno> {
    let Descriptor::File(open) = ctx.fds.get(p.u32(0))? else { return Err(Errno::BADF) };
    Ok(rustix::fs::ftruncate(open.file.as_fd(), p.u64(1))?)
}

pub(crate) fn fd_filestat_set_times(ctx: &mut WasiCtx, _: &GuestMemory<'_>, p: &Params<'_>) -> Result<(), Errno> {
    let descriptor = ctx.fds.get(p.u32(0))?;
    let times = timestamps(p.u64(1), p.u64(2), p.u16(3)?)?;
    Ok(rustix::fs::futimens(descriptor.fd(), &times)?)
}

pub(crate) fn fd_prestat_get(ctx: &mut WasiCtx, memory: &GuestMemory<'_>, p: &Params<'_>) -> Result<(), Errno> {
    let Descriptor::Dir(dir) = ctx.fds.get(p.u32(0))? else { return Err(Errno::BADF) };
    let name = dir.preopen.as_ref().ok_or(Errno::BADF)?;
    // prestat: tag 0 (a directory), then the name's length at offset 4.
    let mut record = [0u8; 8];
    record[4..].copy_from_slice(&(name.len() as u32).to_le_bytes());
    memory.write(p.u32(1), &record)
}

pub(crate) fn fd_prestat_dir_name(ctx: &mut WasiCtx, memory: &GuestMemory<'_>, p: &Params<'_>) -> Result<(), Errno> {
    let Descriptor::Dir(dir) = ctx.fds.get(p.u32(0))? else { return Err(Errno::BADF) };
    let name = dir.preopen.as_ref().ok_or(Errno::BADF)?;
    if (p.u32(2) as usize) < name.len() {
        return Err(Errno::NAMETOOLONG);
    }
    memory.write(p.u32(1), name)
}
