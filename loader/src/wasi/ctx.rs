//! What a WASI program sees of the world: its arguments, environment,
//! standard streams and preopened directories.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::streams::WasiStream;
use super::table::{Descriptor, FdTable, OpenDir, OpenFile, Rights, Stdio};
use super::types::{filetype, rights};

/// Why a WASI context could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum WasiError {
    /// A directory to preopen could not be opened.
    #[error("cannot preopen directory `{}`: {source}", path.display())]
    Preopen {
        /// The host path.
        path: PathBuf,
        /// What the host said.
        source: std::io::Error,
    },
    /// A standard stream could not be set up.
    #[error("cannot open the guest's {stream}: {source}")]
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
    preopens: Vec<(cap_std::fs::Dir, Vec<u8>)>,
}

impl Default for WasiCtxBuilder {
    fn default() -> Self {
        WasiCtxBuilder {
            args: Vec::new(),
            env: Vec::new(),
            streams: [WasiStream::Closed, WasiStream::Closed, WasiStream::Closed],
            preopens: Vec::new(),
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
    pub fn preopened_dir(&mut self, host: impl AsRef<Path>, guest: impl AsRef<OsStr>) -> Result<&mut Self, WasiError> {
        let host = host.as_ref();
        let dir = cap_std::fs::Dir::open_ambient_dir(host, cap_std::ambient_authority())
            .map_err(|source| WasiError::Preopen { path: host.to_path_buf(), source })?;
        self.preopens.push((dir, guest.as_ref().as_bytes().to_vec()));
        Ok(self)
    }

    /// The context. Descriptors 0 to 2 are the standard streams (closed
    /// unless given); preopened directories follow from 3 in the order
    /// they were given, where wasi-libc looks for them.
    pub fn build(&mut self) -> Result<WasiCtx, WasiError> {
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
        for (index, (dir, name)) in std::mem::take(&mut self.preopens).into_iter().enumerate() {
            let all = Rights { base: rights::ALL, inheriting: rights::ALL };
            let open = OpenDir { dir, preopen: Some(name), rights: all, listing: None };
            fds.insert_at(3 + index as u32, Descriptor::Dir(open));
        }
        Ok(WasiCtx { args: std::mem::take(&mut self.args), env: std::mem::take(&mut self.env), fds })
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
