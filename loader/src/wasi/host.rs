//! The `wasi_snapshot_preview1` import module: every system call, reaching
//! the program's [`WasiCtx`] and the calling instance's memory through its
//! [`Caller`].

use std::sync::Arc;

use kiln_format::{FuncType, ValType};

use super::ctx::WasiCtx;
use super::errno::Errno;
use super::memory::GuestMemory;
use super::{args, clock, fd, path, poll, random, readdir};
use crate::caller::Caller;
use crate::error::Error;
use crate::externals::Extern;
use crate::linker::Linker;
use crate::vm::host_func::HostFunc;
use crate::vm::ValueSlot;

/// The import module name of WASI preview1.
pub const WASI_MODULE: &str = "wasi_snapshot_preview1";

/// The arguments of one system call, all integers, in their value slots.
pub(crate) struct Params<'a>(&'a [ValueSlot]);

impl Params<'_> {
    /// Argument `i` as the unsigned 32-bit value the ABI means. The runtime
    /// type-checks imports against the signatures below, so a slot holds
    /// the type its signature says; a missing one reads as 0 rather than a
    /// panic.
    pub(crate) fn u32(&self, i: usize) -> u32 {
        self.0.get(i).map_or(0, |slot| slot.to_u128() as u32)
    }

    pub(crate) fn u64(&self, i: usize) -> u64 {
        self.0.get(i).map_or(0, |slot| slot.to_u128() as u64)
    }

    /// Argument `i`, an `i32` carrying a u8 or u16 enum or flag set, which
    /// the ABI passes zero-extended.
    pub(crate) fn u16(&self, i: usize) -> Result<u16, Errno> {
        u16::try_from(self.u32(i)).map_err(|_| Errno::INVAL)
    }

    pub(crate) fn u8(&self, i: usize) -> Result<u8, Errno> {
        u8::try_from(self.u32(i)).map_err(|_| Errno::INVAL)
    }
}

/// A system call: `Ok` is `errno::SUCCESS`.
pub(crate) type Syscall = fn(&mut WasiCtx, &GuestMemory<'_>, &Params<'_>) -> Result<(), Errno>;

const I: ValType = ValType::I32;
const L: ValType = ValType::I64;

/// Every preview1 function that returns an errno, with its parameter types.
const SYSCALLS: &[(&str, &[ValType], Syscall)] = &[
    ("args_get", &[I, I], args::args_get),
    ("args_sizes_get", &[I, I], args::args_sizes_get),
    ("environ_get", &[I, I], args::environ_get),
    ("environ_sizes_get", &[I, I], args::environ_sizes_get),
    ("clock_res_get", &[I, I], clock::clock_res_get),
    ("clock_time_get", &[I, L, I], clock::clock_time_get),
    ("fd_advise", &[I, L, L, I], fd::fd_advise),
    ("fd_allocate", &[I, L, L], fd::fd_allocate),
    ("fd_close", &[I], fd::fd_close),
    ("fd_datasync", &[I], fd::fd_datasync),
    ("fd_fdstat_get", &[I, I], fd::fd_fdstat_get),
    ("fd_fdstat_set_flags", &[I, I], fd::fd_fdstat_set_flags),
    ("fd_fdstat_set_rights", &[I, L, L], fd::fd_fdstat_set_rights),
    ("fd_filestat_get", &[I, I], fd::fd_filestat_get),
    ("fd_filestat_set_size", &[I, L], fd::fd_filestat_set_size),
    ("fd_filestat_set_times", &[I, L, L, I], fd::fd_filestat_set_times),
    ("fd_pread", &[I, I, I, L, I], fd::fd_pread),
    ("fd_prestat_get", &[I, I], fd::fd_prestat_get),
    ("fd_prestat_dir_name", &[I, I, I], fd::fd_prestat_dir_name),
    ("fd_pwrite", &[I, I, I, L, I], fd::fd_pwrite),
    ("fd_read", &[I, I, I, I], fd::fd_read),
    ("fd_readdir", &[I, I, I, L, I], readdir::fd_readdir),
    ("fd_renumber", &[I, I], fd::fd_renumber),
    ("fd_seek", &[I, L, I, I], fd::fd_seek),
    ("fd_sync", &[I], fd::fd_sync),
    ("fd_tell", &[I, I], fd::fd_tell),
    ("fd_write", &[I, I, I, I], fd::fd_write),
    ("path_create_directory", &[I, I, I], path::path_create_directory),
    ("path_filestat_get", &[I, I, I, I, I], path::path_filestat_get),
    ("path_filestat_set_times", &[I, I, I, I, L, L, I], path::path_filestat_set_times),
    ("path_link", &[I, I, I, I, I, I, I], path::path_link),
    ("path_open", &[I, I, I, I, I, L, L, I, I], path::path_open),
    ("path_readlink", &[I, I, I, I, I, I], path::path_readlink),
    ("path_remove_directory", &[I, I, I], path::path_remove_directory),
    ("path_rename", &[I, I, I, I, I, I], path::path_rename),
    ("path_symlink", &[I, I, I, I, I], path::path_symlink),
    ("path_unlink_file", &[I, I, I], path::path_unlink_file),
    ("poll_oneoff", &[I, I, I, I], poll::poll_oneoff),
    ("sched_yield", &[], poll::sched_yield),
    ("random_get", &[I, I], random::random_get),
    // Signals and sockets are outside what a preview1 command can rely on.
    ("proc_raise", &[I], not_supported),
    ("sock_accept", &[I, I, I], not_supported),
    ("sock_recv", &[I, I, I, I, I, I], not_supported),
    ("sock_send", &[I, I, I, I, I], not_supported),
    ("sock_shutdown", &[I, I], not_supported),
];

fn not_supported(_: &mut WasiCtx, _: &GuestMemory<'_>, _: &Params<'_>) -> Result<(), Errno> {
    Err(Errno::NOTSUP)
}

/// Adds every `wasi_snapshot_preview1` function to `linker`. Each call
/// finds the program's [`WasiCtx`] in the store's data through `get`, and
/// the guest's memory in the exports of the instance that imported it: no
/// state is bound to one instance or store, so the linker serves any
/// number of stores, and a start function may call WASI.
///
/// ```no_run
/// use kiln_loader::wasi::{self, WasiCtx};
/// use kiln_loader::{Engine, Error, Linker, Module, Store};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let engine = Engine::default();
/// // SAFETY: app.o is this program's own build output; an
/// // artifact from elsewhere is loaded with `Module::from_file_verified`.
/// let module = unsafe { Module::from_file(&engine, "app.o") }?;
/// let mut linker = Linker::<WasiCtx>::new(&engine);
/// wasi::add_to_linker(&mut linker, |ctx| ctx)?;
/// let ctx = WasiCtx::builder().args(["app", "--help"]).inherit_stdio().preopened_dir("data", ".")?.build()?;
/// let mut store = Store::new(&engine, ctx);
/// let instance = linker.instantiate(&mut store, &module)?;
/// let code = match instance.get_typed_func::<(), ()>(&store, "_start")?.call(&mut store, ()) {
///     Ok(()) => 0,
///     Err(Error::Exit(code)) => code,
///     Err(other) => return Err(other.into()),
/// };
/// # let _ = code;
/// # Ok(())
/// # }
/// ```
pub fn add_to_linker<T: 'static>(
    linker: &mut Linker<T>,
    get: impl Fn(&mut T) -> &mut WasiCtx + Send + Sync + Copy + 'static,
) -> Result<(), Error> {
    let engine = linker.engine().clone();
    for &(name, params, syscall) in SYSCALLS {
        let ty = FuncType { params: params.to_vec(), results: vec![I] };
        let call = move |mut caller: Caller<'_, T>, slots: &mut [ValueSlot]| -> anyhow::Result<()> {
            let memory = caller.get_export("memory").and_then(Extern::into_memory);
            let (bytes, data): (&mut [u8], &mut T) = match memory {
                Some(memory) => memory.data_and_store_mut(&mut caller),
                None => (&mut [], caller.data_mut()),
            };
            let errno = match syscall(get(data), &GuestMemory::new(bytes), &Params(slots)) {
                Ok(()) => Errno::SUCCESS,
                Err(errno) => errno,
            };
            slots[0] = ValueSlot::from_u128(u128::from(errno.0));
            Ok(())
        };
        let type_id = engine.intern_type(&ty);
        linker.define_host(WASI_MODULE, name, Arc::new(HostFunc::new(&ty, Box::new(call))).into_ref(type_id))?;
    }
    linker.func_wrap(WASI_MODULE, "proc_exit", |code: i32| -> Result<(), Error> { Err(Error::Exit(code)) })?;
    Ok(())
}
