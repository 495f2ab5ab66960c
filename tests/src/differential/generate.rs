//! Modules from wasm-smith, restricted to what kiln and the reference run
//! the same way.

use arbitrary::{Arbitrary, Unstructured};
use wasm_smith::{Config, Module};

use super::fuel_export::add_fuel_export;
use super::rng::{fnv1a, SplitMix64};

/// Memories are capped at this many 64 KiB pages (declared maximum
/// included), so that comparing them after every call stays cheap.
pub const MAX_MEMORY_PAGES: u64 = 16;

/// Tables are capped at this many elements (declared maximum included).
pub const MAX_TABLE_ELEMENTS: u64 = 64;

/// The fuel each call starts with: wasm-smith's termination pass takes one
/// unit at every function entry and loop header and traps with
/// `unreachable` at zero. It also bounds recursion, so neither engine
/// exhausts its stack and the two never disagree on stack depth.
pub const FUEL: i32 = 1000;

/// How many bytes of a seed's stream feed wasm-smith.
pub const SEED_BYTES: usize = 16 << 10;

/// A module to run in both engines.
#[derive(Clone, Debug)]
pub struct Subject {
    /// The binary, with the fuel global exported as [`FUEL_EXPORT`](super::FUEL_EXPORT).
    pub wasm: Vec<u8>,
    /// Where the arguments of its calls come from.
    pub argument_seed: u64,
}

/// The module of a seed.
pub fn subject_from_seed(seed: u64) -> Result<Subject, String> {
    let bytes = SplitMix64::new(seed).bytes(SEED_BYTES);
    let wasm = generate(&mut Unstructured::new(&bytes))?;
    Ok(Subject { wasm, argument_seed: seed })
}

/// The module of a fuzzer's input.
pub fn subject_from_bytes(bytes: &[u8]) -> Result<Subject, String> {
    Ok(Subject::unseeded(generate(&mut Unstructured::new(bytes))?))
}

impl Subject {
    /// A module that comes from no seed: its arguments derive from its
    /// bytes, so that the module alone reproduces the run.
    pub fn unseeded(wasm: Vec<u8>) -> Subject {
        let argument_seed = fnv1a(&wasm);
        Subject { wasm, argument_seed }
    }
}

/// A module (configuration included, swarm-style) from `u`, with every
/// function metered and the fuel global exported.
pub fn generate(u: &mut Unstructured<'_>) -> Result<Vec<u8>, String> {
    let config = module_config(u).map_err(|e| format!("wasm-smith configuration: {e}"))?;
    let mut module = Module::new(config, u).map_err(|e| format!("wasm-smith module: {e}"))?;
    let fuel_global = module.ensure_termination(FUEL as u32).map_err(|e| format!("wasm-smith termination: {e}"))?;
    add_fuel_export(&module.to_bytes(), fuel_global)
}

/// A wasm-smith configuration drawn from `u` (each module its own mix of
/// features and sizes), then restricted by [`restrict_for_differential`].
pub fn module_config(u: &mut Unstructured<'_>) -> arbitrary::Result<Config> {
    let mut config = Config::arbitrary(u)?;
    restrict_for_differential(&mut config);
    Ok(config)
}

/// A wasm-smith configuration for compiling only: any mix of kiln's
/// features and sizes, imports included, and sometimes function bodies
/// of raw bytes (which kilnc must then refuse cleanly unless they happen
/// to be valid).
pub fn compile_config(u: &mut Unstructured<'_>) -> arbitrary::Result<Config> {
    let mut config = Config::arbitrary(u)?;
    restrict_to_kiln_features(&mut config);
    config.allow_invalid_funcs = u.ratio(1, 8)?;
    config.max_funcs = config.max_funcs.min(100);
    config.max_instructions = config.max_instructions.min(1000);
    config.max_types = config.max_types.min(100);
    Ok(config)
}

/// Restricts `config` to kiln's features: WebAssembly 2.0 (multi-value,
/// bulk memory, reference types, SIMD, sign extension, saturating
/// conversions, mutable globals), several memories, 64-bit memories and
/// tables, tail calls and extended constant expressions: the features of
/// kiln that the reference interpreter also has. (The compile fuzz target
/// uses the same set, so that the validator it checks kilnc against
/// agrees with the generator.)
pub fn restrict_to_kiln_features(config: &mut Config) {
    config.threads_enabled = false;
    config.shared_everything_threads_enabled = false;
    config.acquire_release_atomics_enabled = false;
    config.tail_call_enabled = true;
    config.exceptions_enabled = false;
    config.gc_enabled = false;
    config.custom_descriptors_enabled = false;
    config.multibyte_array_access_enabled = false;
    config.memory64_enabled = true;
    config.relaxed_simd_enabled = false;
    config.wide_arithmetic_enabled = false;
    config.extended_const_enabled = true;
    config.custom_page_sizes_enabled = false;
    config.compact_imports_enabled = false;
    config.max_memories = config.max_memories.min(4);
}

/// Restricts `config` to kiln's features, to self-contained modules that
/// export everything, and to sizes that keep one module to milliseconds.
pub fn restrict_for_differential(config: &mut Config) {
    restrict_to_kiln_features(config);

    // Self-contained and observable: no imports, every item exported, and
    // NaN bit patterns (which engines may choose freely) made canonical.
    config.max_imports = 0;
    config.min_imports = 0;
    config.available_imports = None;
    config.module_shape = None;
    config.export_everything = true;
    config.canonicalize_nans = true;
    // The termination pass only instruments bodies that wasm-smith built.
    config.allow_invalid_funcs = false;
    config.generate_custom_sections = false;

    // Bounded state.
    config.max_memory32_bytes = config.max_memory32_bytes.min(MAX_MEMORY_PAGES * 65536);
    config.max_memory64_bytes = config.max_memory64_bytes.min(u128::from(MAX_MEMORY_PAGES) * 65536);
    config.memory_max_size_required = true;
    config.max_table_elements = config.max_table_elements.min(MAX_TABLE_ELEMENTS);
    config.table_max_size_required = true;
    config.max_tables = config.max_tables.min(4);

    // Something to call, and bounded size: Cranelift compiles each module,
    // so a module stays small. (wasm-smith stops adding types and functions
    // with probability 1/2 at each, hence the minimums.)
    config.max_types = config.max_types.clamp(1, 40);
    config.min_types = 1;
    config.max_funcs = config.max_funcs.clamp(1, 24);
    config.min_funcs = config.max_funcs.min(4);
    config.max_instructions = config.max_instructions.min(200);
    config.max_globals = config.max_globals.min(24);
    config.max_data_segments = config.max_data_segments.min(16);
    config.max_element_segments = config.max_element_segments.min(16);
    config.max_elements = config.max_elements.min(MAX_TABLE_ELEMENTS as usize);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_the_same_module_every_time() {
        let first = subject_from_seed(3).expect("seed 3 generates");
        let second = subject_from_seed(3).expect("seed 3 generates");
        assert_eq!(first.wasm, second.wasm);
        assert_ne!(first.wasm, subject_from_seed(4).expect("seed 4 generates").wasm);
    }
}
