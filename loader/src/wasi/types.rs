//! The `wasi_snapshot_preview1` ABI: flag bits, enum values and record
//! layouts, as the witx definition gives them.

/// `filetype`.
pub(crate) mod filetype {
    pub(crate) const UNKNOWN: u8 = 0;
    pub(crate) const BLOCK_DEVICE: u8 = 1;
    pub(crate) const CHARACTER_DEVICE: u8 = 2;
    pub(crate) const DIRECTORY: u8 = 3;
    pub(crate) const REGULAR_FILE: u8 = 4;
    pub(crate) const SOCKET_STREAM: u8 = 6;
    pub(crate) const SYMBOLIC_LINK: u8 = 7;
}

/// `fdflags`.
pub(crate) mod fdflags {
    pub(crate) const APPEND: u16 = 1 << 0;
    pub(crate) const DSYNC: u16 = 1 << 1;
    pub(crate) const NONBLOCK: u16 = 1 << 2;
    pub(crate) const RSYNC: u16 = 1 << 3;
    pub(crate) const SYNC: u16 = 1 << 4;
}

/// `oflags`.
pub(crate) mod oflags {
    pub(crate) const CREAT: u16 = 1 << 0;
    pub(crate) const DIRECTORY: u16 = 1 << 1;
    pub(crate) const EXCL: u16 = 1 << 2;
    pub(crate) const TRUNC: u16 = 1 << 3;
}

/// `lookupflags`.
pub(crate) mod lookupflags {
    pub(crate) const SYMLINK_FOLLOW: u32 = 1 << 0;
}

/// `fstflags`.
pub(crate) mod fstflags {
    pub(crate) const ATIM: u16 = 1 << 0;
    pub(crate) const ATIM_NOW: u16 = 1 << 1;
    pub(crate) const MTIM: u16 = 1 << 2;
    pub(crate) const MTIM_NOW: u16 = 1 << 3;
}

/// `rights`: the bits that matter to the host.
pub(crate) mod rights {
    pub(crate) const FD_READ: u64 = 1 << 1;
    pub(crate) const FD_SEEK: u64 = 1 << 2;
    pub(crate) const FD_TELL: u64 = 1 << 5;
    pub(crate) const FD_WRITE: u64 = 1 << 6;
    pub(crate) const FD_ALLOCATE: u64 = 1 << 8;
    pub(crate) const FD_READDIR: u64 = 1 << 14;
    pub(crate) const FD_FILESTAT_SET_SIZE: u64 = 1 << 22;
    /// Every right preview1 defines (bits 0 to 29).
    pub(crate) const ALL: u64 = (1 << 30) - 1;
}

/// `whence`.
pub(crate) mod whence {
    pub(crate) const SET: u8 = 0;
    pub(crate) const CUR: u8 = 1;
    pub(crate) const END: u8 = 2;
}

/// `clockid`.
pub(crate) mod clockid {
    pub(crate) const REALTIME: u32 = 0;
    pub(crate) const MONOTONIC: u32 = 1;
    pub(crate) const PROCESS_CPUTIME_ID: u32 = 2;
    pub(crate) const THREAD_CPUTIME_ID: u32 = 3;
}

/// `eventtype`.
pub(crate) mod eventtype {
    pub(crate) const CLOCK: u8 = 0;
    pub(crate) const FD_READ: u8 = 1;
    pub(crate) const FD_WRITE: u8 = 2;
}

/// `subclockflags`.
pub(crate) const SUBSCRIPTION_CLOCK_ABSTIME: u16 = 1;
/// `eventrwflags`.
pub(crate) const EVENT_FD_READWRITE_HANGUP: u16 = 1;

/// `advice`.
pub(crate) mod advice {
    pub(crate) const NORMAL: u8 = 0;
    pub(crate) const SEQUENTIAL: u8 = 1;
    pub(crate) const RANDOM: u8 = 2;
    pub(crate) const WILLNEED: u8 = 3;
    pub(crate) const DONTNEED: u8 = 4;
    pub(crate) const NOREUSE: u8 = 5;
}

/// Sizes of the records that system calls write.
pub(crate) const FDSTAT_SIZE: usize = 24;
pub(crate) const FILESTAT_SIZE: usize = 64;
pub(crate) const DIRENT_HEADER_SIZE: usize = 24;
pub(crate) const SUBSCRIPTION_SIZE: u32 = 48;
pub(crate) const EVENT_SIZE: u32 = 32;

/// A `filestat` record.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Filestat {
    pub(crate) dev: u64,
    pub(crate) ino: u64,
    pub(crate) filetype: u8,
    pub(crate) nlink: u64,
    pub(crate) size: u64,
    pub(crate) atim: u64,
    pub(crate) mtim: u64,
    pub(crate) ctim: u64,
}

impl Filestat {
    pub(crate) fn to_bytes(self) -> [u8; FILESTAT_SIZE] {
        let mut b = [0u8; FILESTAT_SIZE];
        b[0..8].copy_from_slice(&self.dev.to_le_bytes());
        b[8..16].copy_from_slice(&self.ino.to_le_bytes());
        b[16] = self.filetype;
        b[24..32].copy_from_slice(&self.nlink.to_le_bytes());
        b[32..40].copy_from_slice(&self.size.to_le_bytes());
        b[40..48].copy_from_slice(&self.atim.to_le_bytes());
        b[48..56].copy_from_slice(&self.mtim.to_le_bytes());
        b[56..64].copy_from_slice(&self.ctim.to_le_bytes());
        b
    }
}

/// An `fdstat` record.
pub(crate) fn fdstat_bytes(filetype: u8, flags: u16, base: u64, inheriting: u64) -> [u8; FDSTAT_SIZE] {
    let mut b = [0u8; FDSTAT_SIZE];
    b[0] = filetype;
    b[2..4].copy_from_slice(&flags.to_le_bytes());
    b[8..16].copy_from_slice(&base.to_le_bytes());
    b[16..24].copy_from_slice(&inheriting.to_le_bytes());
    b
}

/// A `dirent` header, followed in memory by `namlen` bytes of name.
pub(crate) fn dirent_bytes(next: u64, ino: u64, namlen: u32, filetype: u8) -> [u8; DIRENT_HEADER_SIZE] {
    let mut b = [0u8; DIRENT_HEADER_SIZE];
    b[0..8].copy_from_slice(&next.to_le_bytes());
    b[8..16].copy_from_slice(&ino.to_le_bytes());
    b[16..20].copy_from_slice(&namlen.to_le_bytes());
    b[20] = filetype;
    b
}
