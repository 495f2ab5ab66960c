//! The bodies of the fuzz targets under `fuzz/`, here so that the inputs
//! that once crashed one of them run again as ordinary tests
//! (`tests/tests/fuzz_regressions.rs` replays `tests/regressions/fuzz/TARGET/`).
//!
//! Each function takes the fuzzer's bytes and panics, or aborts, exactly
//! when the property the target stands for is broken.

mod compile;
mod load;
mod load_mutated;

pub use compile::compile_module;
pub use load::load_bytes;
pub use load_mutated::load_mutated_artifact;

/// A fuzz target's body: it panics or aborts on input that breaks its property.
pub type TargetBody = fn(&[u8]);

/// The fuzz targets with a body here, by the names of their `fuzz/` binaries.
pub const TARGETS: &[(&str, TargetBody)] =
    &[("load", load_bytes), ("load_mutated", load_mutated_artifact), ("compile", compile_module)];
