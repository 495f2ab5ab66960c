//! Translation of Wasm function bodies to Cranelift IR.

mod numeric;
