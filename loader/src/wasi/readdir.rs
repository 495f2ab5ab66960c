//! `fd_readdir`: a directory's entries, handed out in pieces by cookie.

use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;

use super::ctx::WasiCtx;
use super::errno::Errno;
use super::host::Params;
use super::memory::GuestMemory;
use super::table::{Descriptor, Dirent};
use super::types::{dirent_bytes, filetype};

/// A snapshot of `dir`'s entries, `.` and `..` first as a POSIX listing has
/// them. `..` carries the directory's own inode number: the real parent may
/// lie outside the sandbox, and even its inode number stays hidden.
fn list(dir: &cap_std::fs::Dir) -> Result<Vec<Dirent>, Errno> {
    use cap_std::fs::FileTypeExt;
    use rustix::fs::DirEntryExt;
    let own = rustix::fs::fstat(dir.as_fd())?.st_ino as u64;
    let mut entries = vec![
        Dirent { name: b".".to_vec(), ino: own, filetype: filetype::DIRECTORY },
        Dirent { name: b"..".to_vec(), ino: own, filetype: filetype::DIRECTORY },
    ];
    for entry in dir.entries()? {
        let entry = entry?;
        let ty = entry.file_type()?;
        let filetype = if ty.is_dir() {
            filetype::DIRECTORY
        } else if ty.is_file() {
            filetype::REGULAR_FILE
        } else if ty.is_symlink() {
            filetype::SYMBOLIC_LINK
        } else if ty.is_char_device() {
            filetype::CHARACTER_DEVICE
        } else if ty.is_block_device() {
            filetype::BLOCK_DEVICE
        } else if ty.is_socket() {
            filetype::SOCKET_STREAM
        } else {
            filetype::UNKNOWN
        };
        entries.push(Dirent { name: entry.file_name().as_bytes().to_vec(), ino: entry.ino(), filetype });
    }
    Ok(entries)
}

pub(crate) fn fd_readdir(ctx: &mut WasiCtx, memory: &GuestMemory<'_>, p: &Params<'_>) -> Result<(), Errno> {
    let Descriptor::Dir(dir) = ctx.fds.get_mut(p.u32(0))? else { return Err(Errno::NOTDIR) };
    let (buf, buf_len, cookie) = (p.u32(1), p.u32(2) as usize, p.u64(3));
    memory.check(buf, buf_len as u64)?;
    if cookie == 0 || dir.listing.is_none() {
        dir.listing = Some(list(&dir.dir)?);
    }
    let listing = dir.listing.as_deref().unwrap_or_default();
    let mut out = Vec::new();
    let start = usize::try_from(cookie).unwrap_or(usize::MAX);
    for (index, entry) in listing.iter().enumerate().skip(start) {
        if out.len() >= buf_len {
            break;
        }
        out.extend_from_slice(&dirent_bytes(index as u64 + 1, entry.ino, entry.name.len() as u32, entry.filetype));
        out.extend_from_slice(&entry.name);
    }
    // A full buffer tells the caller to come back with the last cookie it saw.
    out.truncate(buf_len);
    memory.write(buf, &out)?;
    memory.write_u32(p.u32(4), out.len() as u32)
}
