//! kiln: loads kiln objects, applies their relocations, instantiates and runs them.
//!
//! An artifact made by `kilnc` is loaded into a [`Module`], instantiated in
//! a [`Store`] with a [`Linker`] that provides its imports, and called:
//!
//! ```no_run
//! use kiln_loader::{FuncType, Linker, Module, Store, Val, ValType};
//!
//! # fn main() -> Result<(), kiln_loader::Error> {
//! let store = Store::new();
//! let module = Module::from_file("add.o")?;
//! let mut linker = Linker::new();
//! let print = FuncType { params: vec![ValType::I32], results: vec![] };
//! linker.func_new(&store, "env", "print", print, |args: &[Val], _results: &mut [Val]| {
//!     println!("{:?}", args[0]);
//!     Ok(())
//! })?;
//! let instance = linker.instantiate(&store, &module)?;
//! let add = instance.typed_func::<(i32, i32), i32>("add")?;
//! assert_eq!(add.call((2, 3))?, 5);
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
//! - A [`Store`] owns everything created in it (instances, host functions,
//!   memories, tables, globals) until its last handle is dropped; handles
//!   keep their store alive. Instances of different modules in one store
//!   share its `VMRuntimeLimits`, its canonical function-type ids and its
//!   externref activations table.
//! - Calls into Wasm go through the entry trampoline of the callee's type.
//!   The outermost call of a store sets the stack limit to
//!   [`Store::max_wasm_stack`] below the current stack pointer (never within
//!   64 KiB of the thread's stack bottom); nested calls keep it. A trap, a
//!   stack overflow included, becomes [`Error::Trap`] and the host goes on.
//! - Host functions are called by Wasm through the importing module's
//!   Wasm-to-host trampoline. A host error or panic is carried to the
//!   entry and comes back unchanged (a trap of a nested call keeps its code).
//! - externref uses deferred reference counting (SPEC 3.8): host code
//!   counts every [`ExternRef`]; compiled code counts only stores into
//!   tables and globals. References held by Wasm frames are kept alive by
//!   the store's activations table, which a GC (when its chunk fills, or
//!   [`Store::gc`]) makes precise by walking the Wasm stack with the stack
//!   maps of the object. Tables and globals own one count per stored
//!   reference and release them when the store drops.
#![deny(missing_docs)]
#![deny(unsafe_code)]

mod activations;
pub mod code;
pub mod traps;

mod builtins;
mod error;
mod externals;
mod externref;
mod func;
mod global;
mod instance;
mod linker;
pub mod matching;
mod memory;
mod module;
mod stack;
mod store;
mod table;
mod typed_func;
mod values;
mod vm;
#[cfg(feature = "wasi")]
pub mod wasi;

pub use activations::{GcStats, ACTIVATIONS_CHUNK_CAPACITY};
pub use builtins::builtin_address;
pub use error::Error;
pub use externals::Extern;
pub use externref::ExternRef;
pub use func::{Func, HostFn};
pub use global::Global;
pub use instance::Instance;
pub use kiln_format::{
    Export, ExternKind, FuncType, GlobalType, Import, ImportKind, MemoryType, ModuleInfo, RefType, TableType, TrapCode,
    ValType,
};
pub use linker::Linker;
pub use memory::{Memory, MAX_WASM_PAGES, WASM_PAGE_SIZE};
pub use module::Module;
pub use store::{Store, WeakStore, DEFAULT_MAX_WASM_STACK};
pub use table::{Table, MAX_TABLE_ELEMENTS};
pub use traps::{FrameInfo, Trap};
pub use typed_func::{TypedFunc, WasmParams, WasmResults, WasmTy};
pub use values::Val;
