//! Fixed-width SIMD: the 128-bit vector instructions of WebAssembly 2.0 and
//! the relaxed-SIMD ones of 3.0.
//!
//! A `v128` is carried everywhere (operand stack, locals, block parameters,
//! calls, globals) as a Cranelift `i8x16`, the type `abi::clif_type` gives
//! it. Each operator bitcasts its operands to the lane type it works on and
//! its vector result back to `i8x16`; these bitcasts cost nothing in the
//! generated code, and keeping one representation means control flow,
//! `select` and calls never see two types for one Wasm type.
//!
//! - `vector`: the bitcasts and constants every other module uses.
//! - `lowering`: the table from operator to lowering, for every operator
//!   that does not touch memory.
//! - `relaxed`: the relaxed-SIMD part of that table, and the deterministic
//!   semantics kiln gives it.
//! - `lanes`: the lowerings themselves.
//! - `memory`: loads and stores, through the scalar addressing code.
//! - `dispatch`: the entry point the translator calls.

mod dispatch;
mod lanes;
mod lowering;
mod memory;
mod relaxed;
mod vector;

#[cfg(test)]
mod tests;

pub(crate) use dispatch::translate_simd;
pub(crate) use relaxed::RELAXED_SIMD;
