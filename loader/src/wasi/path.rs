//! `path_*`: everything that names a file by a path relative to an open
//! directory.
//!
//! Each path is resolved by cap-std relative to its directory handle, one
//! component at a time with `openat` and never through the host's root or
//! working directory. A `..` above the handle, an absolute path, or a
//! symlink whose target leads out is refused before anything is touched,
//! and reported as `ENOTCAPABLE` (see `errno.rs`). What lands on a kernel
//! filesystem (procfs, sysfs, ...) is judged by `kernel_fs.rs`: every open
//! is checked on the descriptor it gives, every change on the directory it
//! changes.

use std::ffi::OsString;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, UNIX_EPOCH};

use cap_fs_ext::{
    DirExt, FollowSymlinks, MetadataExt, OpenOptionsFollowExt, OpenOptionsMaybeDirExt, OpenOptionsSyncExt,
    OsMetadataExt, SystemTimeSpec,
};
use rustix::fs::FileType;

use super::ctx::WasiCtx;
use super::errno::Errno;
use super::fd::filetype_from_mode;
use super::host::Params;
use super::kernel_fs;
use super::memory::GuestMemory;
use super::table::{Descriptor, OpenDir, OpenFile, Rights};
use super::types::{fdflags, fstflags, lookupflags, oflags, rights, Filestat};

fn nanos(sec: i64, nsec: i64) -> u64 {
    super::clock::nanos(rustix::time::Timespec { tv_sec: sec, tv_nsec: nsec })
}

/// The directory `fd` and the path at (`p[ptr]`, `p[ptr + 1]`).
fn dir_and_path<'c>(
    ctx: &'c WasiCtx,
    memory: &GuestMemory<'_>,
    p: &Params<'_>,
    fd: usize,
    ptr: usize,
) -> Result<(&'c OpenDir, OsString), Errno> {
    let dir = ctx.fds.dir(p.u32(fd))?;
    Ok((dir, memory.path(p.u32(ptr), p.u32(ptr + 1))?))
}

/// [`dir_and_path`], for a call that changes the file system there:
/// refused on a kernel filesystem.
fn dir_and_path_to_change<'c>(
    ctx: &'c WasiCtx,
    memory: &GuestMemory<'_>,
    p: &Params<'_>,
    fd: usize,
    ptr: usize,
) -> Result<(&'c OpenDir, OsString), Errno> {
    let (dir, path) = dir_and_path(ctx, memory, p, fd, ptr)?;
    kernel_fs::admit_path(&dir.dir, &path, true, ctx.kernel_fs)?;
    Ok((dir, path))
}

pub(crate) fn path_open(ctx: &mut WasiCtx, memory: &GuestMemory<'_>, p: &Params<'_>) -> Result<(), Errno> {
    let (lookup, open_flags, base, inheriting, fd_flags, out) =
        (p.u32(1), p.u16(4)?, p.u64(5), p.u64(6), p.u16(7)?, p.u32(8));
    memory.check(out, 4)?;
    let (parent, path) = dir_and_path(ctx, memory, p, 0, 2)?;
    let follow = if lookup & lookupflags::SYMLINK_FOLLOW != 0 { FollowSymlinks::Yes } else { FollowSymlinks::No };
    let rights = Rights { base, inheriting };
    let descriptor = if open_flags & oflags::DIRECTORY != 0 {
        if open_flags & (oflags::CREAT | oflags::EXCL | oflags::TRUNC) != 0 {
            return Err(Errno::INVAL);
        }
        let dir = match follow {
            FollowSymlinks::Yes => parent.dir.open_dir(&path)?,
            FollowSymlinks::No => parent.dir.open_dir_nofollow(&path)?,
        };
        kernel_fs::admit_open(dir.as_fd(), false, ctx.kernel_fs)?;
        Descriptor::Dir(OpenDir { dir, preopen: None, rights, listing: None })
    } else {
        let append = fd_flags & fdflags::APPEND != 0;
        let creates = open_flags & (oflags::CREAT | oflags::TRUNC) != 0;
        let write =
            append || creates || base & (rights::FD_WRITE | rights::FD_ALLOCATE | rights::FD_FILESTAT_SET_SIZE) != 0;
        let read = !write || base & (rights::FD_READ | rights::FD_READDIR) != 0;
        let create_new = open_flags & oflags::CREAT != 0 && open_flags & oflags::EXCL != 0;
        // `O_TRUNC` waits until the new descriptor has been admitted, so
        // that a refused open truncates nothing. A new file is empty anyway.
        let truncate = open_flags & oflags::TRUNC != 0 && !create_new;
        if truncate && append {
            // What open(2) through cap-std says to `O_APPEND | O_TRUNC`.
            return Err(Errno::INVAL);
        }
        let mut options = cap_std::fs::OpenOptions::new();
        options
            .read(read)
            .write(write && !append)
            .append(append)
            .create(open_flags & oflags::CREAT != 0)
            .create_new(create_new)
            .follow(follow)
            // A directory opened without O_DIRECTORY (`open(dir, O_RDONLY)`)
            // is still a directory handle; it is recognized below.
            .maybe_dir(!write)
            .dsync(fd_flags & fdflags::DSYNC != 0)
            .sync(fd_flags & fdflags::SYNC != 0)
            .rsync(fd_flags & fdflags::RSYNC != 0)
            .nonblock(fd_flags & fdflags::NONBLOCK != 0);
        let file = parent.dir.open_with(&path, &options)?;
        let stat = kernel_fs::admit_open(file.as_fd(), write, ctx.kernel_fs)?;
        match FileType::from_raw_mode(stat.st_mode) {
            FileType::Directory => {
                let dir = cap_std::fs::Dir::from_std_file(file.into_std());
                Descriptor::Dir(OpenDir { dir, preopen: None, rights, listing: None })
            }
            file_type => {
                // open(2) ignores `O_TRUNC` on FIFOs and devices.
                if truncate && file_type == FileType::RegularFile {
                    rustix::fs::ftruncate(&file, 0)?;
                }
                Descriptor::File(OpenFile { file, rights })
            }
        }
    };
    let fd = ctx.fds.insert(descriptor)?;
    memory.write_u32(out, fd)
}

pub(crate) fn path_create_directory(ctx: &mut WasiCtx, memory: &GuestMemory<'_>, p: &Params<'_>) -> Result<(), Errno> {
    let (dir, path) = dir_and_path_to_change(ctx, memory, p, 0, 1)?;
    Ok(dir.dir.create_dir(path)?)
}

pub(crate) fn path_remove_directory(ctx: &mut WasiCtx, memory: &GuestMemory<'_>, p: &Params<'_>) -> Result<(), Errno> {
    let (dir, path) = dir_and_path_to_change(ctx, memory, p, 0, 1)?;
    Ok(dir.dir.remove_dir(path)?)
}

pub(crate) fn path_unlink_file(ctx: &mut WasiCtx, memory: &GuestMemory<'_>, p: &Params<'_>) -> Result<(), Errno> {
    let (dir, path) = dir_and_path_to_change(ctx, memory, p, 0, 1)?;
    // A trailing slash names a directory, which unlink never removes.
    if path.as_bytes().ends_with(b"/") {
        return Err(Errno::NOTDIR);
    }
    Ok(dir.dir.remove_file(path)?)
}

pub(crate) fn path_rename(ctx: &mut WasiCtx, memory: &GuestMemory<'_>, p: &Params<'_>) -> Result<(), Errno> {
    let (from_dir, from) = dir_and_path_to_change(ctx, memory, p, 0, 1)?;
    let (to_dir, to) = dir_and_path_to_change(ctx, memory, p, 3, 4)?;
    Ok(from_dir.dir.rename(from, &to_dir.dir, to)?)
}

pub(crate) fn path_link(ctx: &mut WasiCtx, memory: &GuestMemory<'_>, p: &Params<'_>) -> Result<(), Errno> {
    // Linking through a symlink would need `linkat(AT_SYMLINK_FOLLOW)`
    // outside cap-std's checked resolution.
    if p.u32(1) & lookupflags::SYMLINK_FOLLOW != 0 {
        return Err(Errno::INVAL);
    }
    let (from_dir, from) = dir_and_path_to_change(ctx, memory, p, 0, 2)?;
    let (to_dir, to) = dir_and_path_to_change(ctx, memory, p, 4, 5)?;
    Ok(from_dir.dir.hard_link(from, &to_dir.dir, to)?)
}

pub(crate) fn path_symlink(ctx: &mut WasiCtx, memory: &GuestMemory<'_>, p: &Params<'_>) -> Result<(), Errno> {
    let target = memory.path(p.u32(0), p.u32(1))?;
    let (dir, link) = dir_and_path_to_change(ctx, memory, p, 2, 3)?;
    // cap-std refuses an absolute target; a relative one that climbs out is
    // stored as written and refused whenever it is followed.
    Ok(dir.dir.symlink(target, link)?)
}

pub(crate) fn path_readlink(ctx: &mut WasiCtx, memory: &GuestMemory<'_>, p: &Params<'_>) -> Result<(), Errno> {
    let (dir, path) = dir_and_path(ctx, memory, p, 0, 1)?;
    // A link on procfs (`/proc/self/exe`, `/proc/self/fd/3`) names host paths.
    kernel_fs::admit_path(&dir.dir, &path, false, ctx.kernel_fs)?;
    let (buf, buf_len, used) = (p.u32(3), p.u32(4) as usize, p.u32(5));
    let target = dir.dir.read_link(path)?;
    let bytes = target.as_os_str().as_bytes();
    // Like readlink(2): truncated to the buffer, no terminating NUL.
    let n = bytes.len().min(buf_len);
    memory.write(buf, &bytes[..n])?;
    memory.write_u32(used, n as u32)
}

pub(crate) fn path_filestat_get(ctx: &mut WasiCtx, memory: &GuestMemory<'_>, p: &Params<'_>) -> Result<(), Errno> {
    let (dir, path) = dir_and_path(ctx, memory, p, 0, 2)?;
    let metadata = if p.u32(1) & lookupflags::SYMLINK_FOLLOW != 0 {
        dir.dir.metadata(path)?
    } else {
        dir.dir.symlink_metadata(path)?
    };
    let stat = Filestat {
        dev: MetadataExt::dev(&metadata),
        ino: MetadataExt::ino(&metadata),
        filetype: filetype_from_mode(OsMetadataExt::mode(&metadata)),
        nlink: MetadataExt::nlink(&metadata),
        size: metadata.len(),
        atim: nanos(metadata.atime(), metadata.atime_nsec()),
        mtim: nanos(metadata.mtime(), metadata.mtime_nsec()),
        ctim: nanos(metadata.ctime(), metadata.ctime_nsec()),
    };
    memory.write(p.u32(4), &stat.to_bytes())
}

/// One side of a path `set_times`: a time, now, or unchanged.
fn system_time_spec(time: u64, set: bool, now: bool) -> Result<Option<SystemTimeSpec>, Errno> {
    Ok(match (set, now) {
        (true, true) => return Err(Errno::INVAL),
        (false, true) => Some(SystemTimeSpec::SymbolicNow),
        (true, false) => {
            let time = UNIX_EPOCH.checked_add(Duration::from_nanos(time)).ok_or(Errno::INVAL)?;
            Some(SystemTimeSpec::Absolute(cap_std::time::SystemTime::from_std(time)))
        }
        (false, false) => None,
    })
}

pub(crate) fn path_filestat_set_times(
    ctx: &mut WasiCtx,
    memory: &GuestMemory<'_>,
    p: &Params<'_>,
) -> Result<(), Errno> {
    let (dir, path) = dir_and_path_to_change(ctx, memory, p, 0, 2)?;
    let flags = p.u16(6)?;
    let atime = system_time_spec(p.u64(4), flags & fstflags::ATIM != 0, flags & fstflags::ATIM_NOW != 0)?;
    let mtime = system_time_spec(p.u64(5), flags & fstflags::MTIM != 0, flags & fstflags::MTIM_NOW != 0)?;
    if p.u32(1) & lookupflags::SYMLINK_FOLLOW != 0 {
        Ok(dir.dir.set_times(path, atime, mtime)?)
    } else {
        Ok(dir.dir.set_symlink_times(path, atime, mtime)?)
    }
}
