//! kiln: loads kiln objects, applies their relocations, instantiates and runs them.
//!
//! An artifact made by `kilnc` is loaded into a [`Module`] of an
//! [`Engine`], instantiated in a [`Store`] with a [`Linker`] that provides
//! its imports, and called. The API follows Wasmtime's, which its users know:
//!
//! ```no_run
//! use kiln_loader::{Caller, Engine, Linker, Module, Store};
//!
//! # fn main() -> Result<(), kiln_loader::Error> {
//! let engine = Engine::default();
//! // SAFETY: add.o is this program's own build output; an
//! // artifact from elsewhere is loaded with `Module::from_file_verified`.
//! let module = unsafe { Module::from_file(&engine, "add.o") }?;
//! let mut linker = Linker::<u32>::new(&engine);
//! linker.func_wrap("env", "log", |mut caller: Caller<'_, u32>, value: i32| {
//!     *caller.data_mut() += 1;
//!     println!("log {value}");
//! })?;
//! // Resolve and check the imports once; instantiate many times.
//! let pre = linker.instantiate_pre(&module)?;
//! let mut store = Store::new(&engine, 0u32);
//! let instance = pre.instantiate(&mut store)?;
//! let add = instance.get_typed_func::<(i32, i32), i32>(&store, "add")?;
//! assert_eq!(add.call(&mut store, (2, 3))?, 5);
//! # Ok(())
//! # }
//! ```
//!
//! With the default cargo feature `wasi`, the [`wasi`] module provides
//! `wasi_snapshot_preview1` for commands built with wasi-libc, sandboxed to
//! preopened directories by cap-std.
//!
//! The ABI between the runtime and compiled code (the VMContext, the
//! trampolines, the builtins, externref) is described in `format-spec/SPEC.md`.
//!
//! # Runtime model
//!
//! - A [`Store<T>`](Store) owns everything created in it (instances, host
//!   function contexts, memories, tables, globals) in arenas, with the
//!   host state `T`, and frees all of it when dropped. Handles ([`Func`],
//!   [`Memory`], [`Table`], [`Global`], [`Instance`]) are `Copy` indices
//!   tagged with their store's id and are used with a store context
//!   ([`AsContext`], [`AsContextMut`]), so no handle keeps a store alive
//!   and no cycle through the API can leak one. A handle used with another
//!   store is an error (a panic for the accessors that cannot fail
//!   otherwise), never undefined behaviour. `Store<T>` is `Send` when `T`
//!   is; [`Module`], [`Engine`], [`Linker`] and [`InstancePre`] are `Send +
//!   Sync` and shared by stores on any thread.
//! - Host functions receive a [`Caller`]: the store's data, the exports of
//!   the instance that imported them, and its memory. They return errors
//!   (which keep their type, see [`Error::downcast_ref`]); a panic becomes
//!   an error too. The runtime unwinds the Wasm frames for them: no safe
//!   function of this crate jumps over frames it does not own.
//! - Calls into Wasm go through the entry trampoline of the callee's type.
//!   The outermost call of a store sets the stack limit to
//!   [`Store::max_wasm_stack`] below the current stack pointer (never within
//!   64 KiB of the thread's stack bottom); nested calls keep it. A trap, a
//!   stack overflow included, becomes [`Error::Trap`] and the host goes on.
//!   [`TypedFunc::call`] and [`Linker::func_wrap`] functions pass values
//!   through slots with no conversion and no allocation.
//! - externref uses deferred reference counting (SPEC 3.8): an
//!   [`ExternRef`] is a counted host value that the host clones and drops
//!   freely; compiled code counts only stores into tables and globals.
//!   References held by Wasm frames are kept alive by the store's
//!   activations table, which a GC (when its chunk fills, or
//!   [`Store::gc`]) makes precise by walking the Wasm stack with the stack
//!   maps of the object. Every table write takes its new counts before it
//!   drops the old ones, and a host destructor that panics becomes an error
//!   of the call, never an abort.
#![deny(missing_docs)]
#![deny(unsafe_code)]

// The artifact builder that the crate's trap tests share with the
// integration tests names the crate `kiln_loader`.
#[cfg(test)]
extern crate self as kiln_loader;

#[doc(hidden)]
pub mod code;
mod include_artifact;
mod vm;

mod caller;
pub mod command_exit;
mod config;
mod engine;
mod error;
mod exn;
mod externals;
mod func;
mod gc_ref;
mod global;
mod instance;
mod instance_pre;
mod into_func;
mod limits;
mod linker;
#[doc(hidden)]
pub mod matching;
mod memory;
mod missing_export;
mod module;
mod profiling;
mod rooted;
mod shared_memory;
mod store;
mod table;
mod tag;
mod typed_func;
mod values;
#[cfg(feature = "wasi")]
pub mod wasi;
pub mod wording;

/// Trap machinery that the loader's own tests drive directly.
#[doc(hidden)]
pub mod traps {
    pub use crate::vm::traps::{
        catch_traps, catch_traps_with_limits, init_signal_handlers, walk_wasm_frames, WasmFrame,
    };
}

pub use caller::Caller;
pub use config::{Config, InstanceAllocationStrategy, PoolingAllocationConfig};
pub use engine::Engine;
pub use error::Error;
pub use exn::Exn;
pub use externals::Extern;
pub use func::{Func, HostFn};
pub use gc_ref::{AnyRef, ArrayRef, StructRef, I31};
pub use global::Global;
pub use instance::Instance;
pub use instance_pre::InstancePre;
pub use into_func::{IntoFunc, WasmRet};
/// The public keys whose signatures [`Module::from_file_verified`] accepts.
#[cfg(feature = "verify")]
pub use kiln_format::signature::TrustedKeys;
#[cfg(feature = "verify")]
pub use kiln_format::signature::{KeyError, SignatureError};
pub use kiln_format::{
    ArrayType, CompositeType, Export, ExternKind, FieldType, FuncType, GlobalType, HeapType, Import, ImportKind,
    MemoryType, ModuleInfo, RefType, StorageType, StructType, TableType, TrapCode, ValType,
};
pub use limits::{
    ResourceLimiter, StoreLimits, StoreLimitsBuilder, DEFAULT_GC_HEAP_LIMIT, DEFAULT_INSTANCE_LIMIT,
    DEFAULT_MEMORY_LIMIT, DEFAULT_TABLE_LIMIT,
};
pub use linker::Linker;
pub use memory::{LeBytes, Memory, MAX_MEMORY64_PAGES, MAX_WASM_PAGES, WASM_PAGE_SIZE};
pub use module::Module;
pub use profiling::{perf_map_path, ProfilingStrategy};
pub use rooted::{OwnedAnyRef, RootScope};
pub use shared_memory::{SharedMemory, WaitResult};
pub use store::{AsContext, AsContextMut, Store, StoreContext, StoreContextMut, DEFAULT_MAX_WASM_STACK};
pub use table::{Table, MAX_TABLE_ELEMENTS};
pub use tag::{Tag, TagType};
pub use typed_func::{TypedFunc, WasmParams, WasmResults, WasmTy, WasmValues};
pub use values::Val;
pub use vm::traps::{ElidedFrames, FrameInfo, FrameSymbol, Trap};
pub use vm::{ExternRef, GcHeapStats, GcStats, UpdateDeadline, ACTIVATIONS_CHUNK_CAPACITY, HOST_STACK_RESERVE};
