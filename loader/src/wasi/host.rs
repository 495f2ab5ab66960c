//! The `wasi_snapshot_preview1` import module: every system call, bound to
//! a program's [`WasiCtx`] and to the memory of the instance that calls it.

use std::cell::RefCell;
use std::rc::Rc;

use kiln_format::{FuncType, ValType};

use super::ctx::WasiCtx;
use super::errno::Errno;
use super::memory::{GuestMemory, MemorySlot};
use super::{args, clock, fd, path, poll, random, readdir};
use crate::error::Error;
use crate::instance::Instance;
use crate::linker::Linker;
use crate::module::Module;
use crate::store::Store;
use crate::values::Val;

/// The import module name of WASI preview1.
pub const WASI_MODULE: &str = "wasi_snapshot_preview1";

/// The arguments of one system call, all integers.
pub(crate) struct Params<'a>(&'a [Val]);

impl Params<'_> {
    /// Argument `i` as the unsigned 32-bit value the ABI means. The runtime
    /// type-checks calls against the signatures below, so another type
    /// cannot arrive; 0 stands in rather than a panic.
    pub(crate) fn u32(&self, i: usize) -> u32 {
        match self.0.get(i) {
            Some(Val::I32(v)) => *v as u32,
            _ => 0,
        }
    }

    pub(crate) fn u64(&self, i: usize) -> u64 {
        match self.0.get(i) {
            Some(Val::I64(v)) => *v as u64,
            _ => 0,
        }
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

/// A WASI program's host: one [`WasiCtx`], shared by every instance
/// instantiated through it (a command and the modules preloaded for it).
#[derive(Clone)]
pub struct Wasi {
    ctx: Rc<RefCell<WasiCtx>>,
}

impl Wasi {
    /// A host for `ctx`.
    pub fn new(ctx: WasiCtx) -> Wasi {
        Wasi { ctx: Rc::new(RefCell::new(ctx)) }
    }

    /// Instantiates `module` with `linker`'s definitions plus the
    /// `wasi_snapshot_preview1` functions, which then read and write the new
    /// instance's exported `memory`. (A start function that calls WASI runs
    /// before that memory is known and gets `EFAULT` for any pointer.)
    pub fn instantiate(&self, linker: &Linker, store: &Store, module: &Module) -> Result<Instance, Error> {
        let mut linker = linker.clone();
        let slot: MemorySlot = Rc::new(RefCell::new(None));
        self.define(&mut linker, store, &slot)?;
        let instance = linker.instantiate(store, module)?;
        *slot.borrow_mut() = instance.get_memory("memory");
        Ok(instance)
    }

    fn define(&self, linker: &mut Linker, store: &Store, slot: &MemorySlot) -> Result<(), Error> {
        for &(name, params, syscall) in SYSCALLS {
            let ty = FuncType { params: params.to_vec(), results: vec![I] };
            let (ctx, slot) = (self.ctx.clone(), slot.clone());
            linker.func_new(store, WASI_MODULE, name, ty, move |args, results| {
                let errno = match dispatch(&ctx, &slot, syscall, args) {
                    Ok(()) => Errno::SUCCESS,
                    Err(errno) => errno,
                };
                if let Some(result) = results.first_mut() {
                    *result = Val::I32(i32::from(errno.0));
                }
                Ok(())
            })?;
        }
        let exit = FuncType { params: vec![I], results: vec![] };
        linker
            .func_new(store, WASI_MODULE, "proc_exit", exit, |args, _| Err(Error::Exit(Params(args).u32(0) as i32)))?;
        Ok(())
    }
}

fn dispatch(ctx: &RefCell<WasiCtx>, slot: &MemorySlot, syscall: Syscall, args: &[Val]) -> Result<(), Errno> {
    // Cloned out so that no borrow of the slot is held during the call.
    let memory = slot.borrow().clone().ok_or(Errno::FAULT)?;
    // Host functions never re-enter Wasm, so the context is never borrowed
    // twice; an error stands in for the impossible case.
    let mut ctx = ctx.try_borrow_mut().map_err(|_| Errno::BUSY)?;
    syscall(&mut ctx, &GuestMemory::new(&memory), &Params(args))
}

impl std::fmt::Debug for Wasi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wasi").finish_non_exhaustive()
    }
}
