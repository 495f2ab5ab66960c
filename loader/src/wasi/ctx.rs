//! What a WASI program sees of the world: its arguments, environment,
//! standard streams and preopened directories.

use std::ffi::OsStr;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::kernel_fs::{self, KernelFsAccess, PreopenRefusal, UnsafeDir};
use super::streams::WasiStream;
use super::table::{Descriptor, FdTable, OpenDir, OpenFile, Rights, Stdio};
use super::types::{filetype, rights};

/// Why a WASI context could not be set up.
///
/// A variant caused by a host error leaves it out of its message and gives
/// it as its [`source`](std::error::Error::source), so that a report of the
/// whole chain (`{:#}` of an `anyhow::Error`) says it once.
#[derive(Debug, thiserror::Error)]
pub enum WasiError {
    /// A directory to preopen could not be opened.
    #[error("cannot preopen directory `{}`", path.display())]
    Preopen {
        /// The host path.
        path: PathBuf,
        /// What the host said.
        source: std::io::Error,
    },
    /// A directory whose preopening would let the guest reach the host
    /// process or kernel, refused because
    /// [`WasiCtxBuilder::allow_unsafe_preopens`] was not given.
    #[error(
        "refusing to preopen `{}`: {reason}; `WasiCtxBuilder::allow_unsafe_preopens` allows it (the guest still \
         cannot change anything on kernel filesystems, nor open memory files such as /proc/self/mem)",
        path.display()
    )]
    UnsafePreopen {
        /// The host path.
        path: PathBuf,
        /// What it is.
        reason: UnsafeDir,
    },
    /// A directory on a filesystem that no guest may reach, not even with
    /// [`WasiCtxBuilder::allow_unsafe_preopens`].
    #[error(
        "refusing to preopen `{}`: it is on {filesystem}, the kernel's debugging interface, which no guest may reach \
         (reading some of its files acts on hardware or consumes trace events)",
        path.display()
    )]
    ForbiddenPreopen {
        /// The host path.
        path: PathBuf,
        /// `debugfs` or `tracefs`.
        filesystem: &'static str,
    },
    /// A standard stream could not be set up.
    #[error("cannot open the guest's {stream}")]
    Stream {
        /// `stdin`, `stdout` or `stderr`.
        stream: &'static str,
        /// What the host said.
        source: std::io::Error,
    },
}

/// The state of one WASI program, shared by its instances.
pub struct WasiCtx {
    pub(crate) args: Vec<Vec<u8>>,
    pub(crate) env: Vec<Vec<u8>>,
    pub(crate) fds: FdTable,
    /// What the guest may do on kernel filesystems (`kernel_fs.rs`).
    pub(crate) kernel_fs: KernelFsAccess,
}

impl WasiCtx {
    /// A builder, starting from no arguments, no environment, no stdio and
    /// no directories.
    pub fn builder() -> WasiCtxBuilder {
        WasiCtxBuilder::default()
    }
}

impl std::fmt::Debug for WasiCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasiCtx").field("args", &self.args.len()).field("env", &self.env.len()).finish()
    }
}

/// Builds a [`WasiCtx`].
pub struct WasiCtxBuilder {
    args: Vec<Vec<u8>>,
    env: Vec<Vec<u8>>,
    /// stdin, stdout, stderr.
    streams: [WasiStream; 3],
    preopens: Vec<PendingPreopen>,
    kernel_fs: KernelFsAccess,
}

/// A directory given to [`WasiCtxBuilder::preopened_dir`].
struct PendingPreopen {
    dir: cap_std::fs::Dir,
    host: PathBuf,
    guest: Vec<u8>,
}

impl Default for WasiCtxBuilder {
    fn default() -> Self {
        WasiCtxBuilder {
            args: Vec::new(),
            env: Vec::new(),
            streams: [WasiStream::Closed, WasiStream::Closed, WasiStream::Closed],
            preopens: Vec::new(),
            kernel_fs: KernelFsAccess::Refused,
        }
    }
}

impl WasiCtxBuilder {
    /// Appends one argument; the first is the program's name.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Self {
        self.args.push(arg.as_ref().as_bytes().to_vec());
        self
    }

    /// Appends arguments.
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(&mut self, args: I) -> &mut Self {
        for arg in args {
            self.arg(arg);
        }
        self
    }

    /// Adds `key=value` to the environment.
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Self {
        let mut entry = key.as_ref().as_bytes().to_vec();
        entry.push(b'=');
        entry.extend_from_slice(value.as_ref().as_bytes());
        self.env.push(entry);
        self
    }

    /// Passes on this process's arguments (its own name first).
    pub fn inherit_args(&mut self) -> &mut Self {
        self.args(std::env::args_os())
    }

    /// Passes on this process's whole environment.
    pub fn inherit_env(&mut self) -> &mut Self {
        for (key, value) in std::env::vars_os() {
            self.env(key, value);
        }
        self
    }

    /// Shares the host's stdin, stdout and stderr as descriptors 0, 1 and 2.
    pub fn inherit_stdio(&mut self) -> &mut Self {
        self.streams = [WasiStream::Inherit, WasiStream::Inherit, WasiStream::Inherit];
        self
    }

    /// Where the guest's stdin (descriptor 0) reads from.
    pub fn stdin(&mut self, stream: impl Into<WasiStream>) -> &mut Self {
        self.streams[0] = stream.into();
        self
    }

    /// Where the guest's stdout (descriptor 1) goes.
    pub fn stdout(&mut self, stream: impl Into<WasiStream>) -> &mut Self {
        self.streams[1] = stream.into();
        self
    }

    /// Where the guest's stderr (descriptor 2) goes.
    pub fn stderr(&mut self, stream: impl Into<WasiStream>) -> &mut Self {
        self.streams[2] = stream.into();
        self
    }

    /// Lets the guest reach the host directory `host` (and only what lies
    /// beneath it) under the name `guest`. This is the only place that uses
    /// the host's ambient authority: everything the guest opens afterwards is
    /// resolved by cap-std relative to such a handle.
    ///
    /// A directory on procfs, sysfs or another kernel filesystem, or the
    /// host's root, is refused by [`build`](Self::build) unless
    /// [`allow_unsafe_preopens`](Self::allow_unsafe_preopens) is given.
    pub fn preopened_dir(&mut self, host: impl AsRef<Path>, guest: impl AsRef<OsStr>) -> Result<&mut Self, WasiError> {
        let host = host.as_ref();
        let dir = cap_std::fs::Dir::open_ambient_dir(host, cap_std::ambient_authority())
            .map_err(|source| WasiError::Preopen { path: host.to_path_buf(), source })?;
        self.preopens.push(PendingPreopen { dir, host: host.to_path_buf(), guest: guest.as_ref().as_bytes().to_vec() });
        Ok(self)
    }

    /// Lets directories on procfs, sysfs and the other kernel filesystems
    /// (but not debugfs or tracefs), and the host's root, be preopened;
    /// off by default. Through them the guest reaches the host kernel and
    /// this process, so on kernel filesystems it still only reads: it opens
    /// read-only the files that everyone may read (never `/proc/self/mem`,
    /// `pagemap` or `environ`, which the kernel keeps owner-only) and
    /// changes nothing. The same holds for a kernel filesystem mounted
    /// beneath an ordinary preopened directory, where without this option
    /// the guest opens nothing at all. It may be given before or after the
    /// directories.
    pub fn allow_unsafe_preopens(&mut self, allow: bool) -> &mut Self {
        self.kernel_fs = if allow { KernelFsAccess::ReadOnly } else { KernelFsAccess::Refused };
        self
    }

    /// The context. Descriptors 0 to 2 are the standard streams (closed
    /// unless given); preopened directories follow from 3 in the order
    /// they were given, where wasi-libc looks for them.
    pub fn build(&mut self) -> Result<WasiCtx, WasiError> {
        for preopen in &self.preopens {
            check_preopen(preopen, self.kernel_fs)?;
        }
        let mut fds = FdTable::default();
        let names = ["stdin", "stdout", "stderr"];
        for (fd, (stream, host)) in self.streams.iter().zip([Stdio::Stdin, Stdio::Stdout, Stdio::Stderr]).enumerate() {
            let file = stream.file().map_err(|source| WasiError::Stream { stream: names[fd], source })?;
            match (stream, file) {
                (WasiStream::Inherit, _) => fds.insert_at(fd as u32, Descriptor::Stdio(host, stdio_rights(host))),
                (_, Some(file)) => {
                    let rights = Rights { base: rights::ALL & !(rights::FD_SEEK | rights::FD_TELL), inheriting: 0 };
                    fds.insert_at(
                        fd as u32,
                        Descriptor::File(OpenFile { file: cap_std::fs::File::from_std(file), rights }),
                    )
                }
                _ => {}
            }
        }
        for (index, PendingPreopen { dir, guest, .. }) in std::mem::take(&mut self.preopens).into_iter().enumerate() {
            let all = Rights { base: rights::ALL, inheriting: rights::ALL };
            let open = OpenDir { dir, preopen: Some(guest), rights: all, listing: None };
            fds.insert_at(3 + index as u32, Descriptor::Dir(open));
        }
        Ok(WasiCtx {
            args: std::mem::take(&mut self.args),
            env: std::mem::take(&mut self.env),
            fds,
            kernel_fs: self.kernel_fs,
        })
    }
}

/// Refuses a preopen that `access` does not cover (see `kernel_fs.rs`).
fn check_preopen(preopen: &PendingPreopen, access: KernelFsAccess) -> Result<(), WasiError> {
    let path = preopen.host.clone();
    match kernel_fs::preopen_refusal(preopen.dir.as_fd(), access) {
        Ok(None) => Ok(()),
        Ok(Some(PreopenRefusal::NeedsOptIn(reason))) => Err(WasiError::UnsafePreopen { path, reason }),
        Ok(Some(PreopenRefusal::Never(filesystem))) => Err(WasiError::ForbiddenPreopen { path, filesystem }),
        Err(e) => Err(WasiError::Preopen { path, source: e.into() }),
    }
}

/// The rights of a standard stream. wasi-libc's `isatty` asks whether a
/// descriptor is a character device without seek or tell rights; that
/// decides line buffering, so a terminal must look like one.
fn stdio_rights(stream: Stdio) -> Rights {
    let fd = match stream {
        Stdio::Stdin => rustix::stdio::stdin(),
        Stdio::Stdout => rustix::stdio::stdout(),
        Stdio::Stderr => rustix::stdio::stderr(),
    };
    let mut base = rights::ALL;
    if super::fd::filetype_of(fd) == filetype::CHARACTER_DEVICE {
        base &= !(rights::FD_SEEK | rights::FD_TELL);
    }
    Rights { base, inheriting: 0 }
}
