//! Translation of one validated Wasm function body into Cranelift IR.
//!
//! [`FuncTranslator::translate`] validates every operator with the
//! module's [`wasmparser::FuncValidator`] and, when it is reachable, lowers it
//! following kiln's ABI (`format-spec/SPEC.md`, section 3). Each concern has
//! its own module: the control stack (`control`), memories, tables, globals,
//! calls and references; numeric operators live in `numeric`, vector
//! operators in `simd`, those of the threads proposal in `atomic`.

mod alias;
mod atomic;
mod barriers;
mod bulk;
mod call;
mod control;
mod env;
mod epoch;
mod exceptions;
mod fuel;
mod gc_array;
mod gc_cast;
mod gc_field;
mod gc_ops;
mod gc_struct;
mod global;
mod i31;
mod legacy;
mod locals;
mod memory;
mod numeric;
mod operators;
mod reference;
mod simd;
mod state;
mod table;
mod translator;
mod types;

#[cfg(test)]
mod alias_tests;
#[cfg(test)]
mod gc_tests;
#[cfg(test)]
mod tests;

pub use env::FuncEnvironment;
pub(crate) use simd::RELAXED_SIMD;
pub(crate) use translator::stack_limit;
pub use translator::FuncTranslator;
pub(crate) use types::{heap_type, ref_type, val_type, TypeKind};
