//! A WASI preview1 host: `wasi_snapshot_preview1` for commands built with
//! wasi-libc, sandboxed to the directories it is given.
//!
//! ```no_run
//! use kiln_loader::wasi::{Wasi, WasiCtx};
//! use kiln_loader::{Error, Linker, Module, Store};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = Store::new();
//! let module = Module::from_file("app.o")?;
//! let ctx = WasiCtx::builder().args(["app", "--help"]).inherit_stdio().preopened_dir("data", ".")?.build();
//! let instance = Wasi::new(ctx).instantiate(&Linker::new(), &store, &module)?;
//! let code = match instance.typed_func::<(), ()>("_start")?.call(()) {
//!     Ok(()) => 0,
//!     Err(Error::Exit(code)) => code,
//!     Err(other) => return Err(other.into()),
//! };
//! # let _ = code;
//! # Ok(())
//! # }
//! ```
//!
//! The filesystem sandbox is cap-std's: each preopened directory is a
//! `cap_std::fs::Dir` handle and every path is resolved beneath one, with
//! `..`, absolute paths and symlinks leading out refused (`ENOTCAPABLE`).
//! `proc_exit` ends the run with [`crate::Error::Exit`]. Sockets and
//! `proc_raise` answer `ENOTSUP`.

mod args;
mod clock;
mod ctx;
mod errno;
mod fd;
mod host;
mod memory;
mod path;
mod poll;
mod random;
mod readdir;
mod table;
mod types;

pub use ctx::{WasiCtx, WasiCtxBuilder, WasiError};
pub use errno::Errno;
pub use host::{Wasi, WASI_MODULE};
