//! A WASI preview1 host: `wasi_snapshot_preview1` for commands built with
//! wasi-libc, sandboxed to the directories it is given.
//!
//! ```no_run
//! use kiln_loader::wasi::{self, MemoryOutputPipe, WasiCtx};
//! use kiln_loader::{Engine, Error, Linker, Module, Store};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let engine = Engine::default();
//! // SAFETY: app.o is this program's own build output; an
//! // artifact from elsewhere is loaded with `Module::from_file_verified`.
//! let module = unsafe { Module::from_file(&engine, "app.o") }?;
//! let mut linker = Linker::<WasiCtx>::new(&engine);
//! wasi::add_to_linker(&mut linker, |ctx| ctx)?;
//! let pre = linker.instantiate_pre(&module)?;
//!
//! let stdout = MemoryOutputPipe::new()?;
//! let ctx = WasiCtx::builder().args(["app", "--help"]).stdout(stdout.clone()).preopened_dir("data", ".")?.build()?;
//! let mut store = Store::new(&engine, ctx);
//! let instance = pre.instantiate(&mut store)?;
//! let code = match instance.get_typed_func::<(), ()>(&store, "_start")?.call(&mut store, ()) {
//!     Ok(()) => 0,
//!     Err(Error::Exit(code)) => code,
//!     Err(other) => return Err(other.into()),
//! };
//! println!("exit {code}: {}", String::from_utf8_lossy(&stdout.contents()?));
//! # Ok(())
//! # }
//! ```
//!
//! The filesystem sandbox is cap-std's: each preopened directory is a
//! `cap_std::fs::Dir` handle and every path is resolved beneath one, with
//! `..`, absolute paths and symlinks leading out refused (`ENOTCAPABLE`).
//! Kernel filesystems are fenced off besides: preopening procfs, sysfs and
//! the like, or the host's root, needs
//! [`WasiCtxBuilder::allow_unsafe_preopens`], and even then a guest only
//! reads there, and never opens the memory files such as `/proc/self/mem`
//! (the rules are in `kernel_fs.rs`).
//! `proc_exit` ends the run with [`crate::Error::Exit`]. Sockets and
//! `proc_raise` answer `ENOTSUP`.

mod args;
mod clock;
mod ctx;
mod errno;
mod fd;
mod host;
mod kernel_fs;
mod memory;
mod path;
mod poll;
mod random;
mod readdir;
mod streams;
mod table;
mod types;

pub use ctx::{WasiCtx, WasiCtxBuilder, WasiError};
pub use errno::Errno;
pub use host::{add_to_linker, WASI_MODULE};
pub use kernel_fs::UnsafeDir;
pub use streams::{MemoryInputPipe, MemoryOutputPipe, WasiStream};
