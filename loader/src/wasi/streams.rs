//! Where a guest's standard streams go: the host's own, an in-memory pipe
//! the host reads after the run (or fills before it), or a file.
//!
//! In-memory pipes are anonymous memory files (`memfd_create`), so the
//! guest sees an ordinary descriptor and every `fd_*` call works on it as on
//! any file, with no second implementation of reading and writing.

use std::fs::File;
use std::io::{self, Seek, Write};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

/// Bytes a guest reads from its standard input.
#[derive(Clone, Debug)]
pub struct MemoryInputPipe {
    file: Arc<File>,
}

impl MemoryInputPipe {
    /// A stream that yields `bytes`, then end of file.
    pub fn new(bytes: impl AsRef<[u8]>) -> io::Result<MemoryInputPipe> {
        let mut file = memory_file("kiln-stdin")?;
        file.write_all(bytes.as_ref())?;
        file.rewind()?;
        Ok(MemoryInputPipe { file: Arc::new(file) })
    }
}

/// A standard output or error stream that the host reads back.
#[derive(Clone, Debug)]
pub struct MemoryOutputPipe {
    file: Arc<File>,
}

impl MemoryOutputPipe {
    /// An empty stream.
    pub fn new() -> io::Result<MemoryOutputPipe> {
        Ok(MemoryOutputPipe { file: Arc::new(memory_file("kiln-output")?) })
    }

    /// Everything the guest wrote so far.
    pub fn contents(&self) -> io::Result<Vec<u8>> {
        let len = self.file.metadata()?.len();
        let mut out = vec![0; usize::try_from(len).map_err(io::Error::other)?];
        self.file.read_exact_at(&mut out, 0)?;
        Ok(out)
    }
}

fn memory_file(name: &str) -> io::Result<File> {
    let fd = rustix::fs::memfd_create(name, rustix::fs::MemfdFlags::CLOEXEC)?;
    Ok(File::from(fd))
}

/// One standard stream of a guest.
#[derive(Debug)]
pub enum WasiStream {
    /// The host process's own stream.
    Inherit,
    /// Closed: the guest gets `EBADF`.
    Closed,
    /// An in-memory input.
    MemoryInput(MemoryInputPipe),
    /// An in-memory output.
    MemoryOutput(MemoryOutputPipe),
    /// A host file.
    File(File),
}

impl WasiStream {
    /// The file the guest's descriptor opens, for the streams that are one.
    pub(crate) fn file(&self) -> io::Result<Option<File>> {
        Ok(match self {
            WasiStream::Inherit | WasiStream::Closed => None,
            WasiStream::MemoryInput(pipe) => Some(pipe.file.try_clone()?),
            WasiStream::MemoryOutput(pipe) => Some(pipe.file.try_clone()?),
            WasiStream::File(file) => Some(file.try_clone()?),
        })
    }
}

impl From<MemoryInputPipe> for WasiStream {
    fn from(pipe: MemoryInputPipe) -> Self {
        WasiStream::MemoryInput(pipe)
    }
}

impl From<MemoryOutputPipe> for WasiStream {
    fn from(pipe: MemoryOutputPipe) -> Self {
        WasiStream::MemoryOutput(pipe)
    }
}

impl From<File> for WasiStream {
    fn from(file: File) -> Self {
        WasiStream::File(file)
    }
}
