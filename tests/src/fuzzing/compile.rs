//! wasm-smith modules through kilnc.

use std::sync::OnceLock;

use arbitrary::Unstructured;
use kiln_compiler::{compile, CompileOptions};
use kiln_loader::Engine;
use wasmparser::Validator;

use crate::differential::{compile_config, compile_features, features};

/// What the compile target adds to the differential features: wasmi has
/// no GC, typed function references or exceptions, but kilnc must
/// compile them all the same.
fn gc_config(u: &mut Unstructured<'_>) -> arbitrary::Result<wasm_smith::Config> {
    let mut config = compile_config(u)?;
    config.gc_enabled = u.ratio(3, 4)?;
    config.exceptions_enabled = u.ratio(1, 2)?;
    Ok(config)
}

fn gc_features() -> wasmparser::WasmFeatures {
    use wasmparser::WasmFeatures as F;
    features() | F::GC | F::FUNCTION_REFERENCES | F::EXCEPTIONS | F::GC_TYPES
}

fn gc_compile_features() -> kiln_compiler::Features {
    use kiln_compiler::WasmFeature;
    let mut features = compile_features();
    for feature in [WasmFeature::FunctionReferences, WasmFeature::Gc, WasmFeature::Exceptions] {
        features.set(feature, true);
    }
    features
}

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(Engine::default)
}

/// A wasm-smith module made from `data` (any mix of kiln's features, GC
/// and exceptions included, imports too, now and then with function
/// bodies of raw bytes):
/// kilnc never panics, compiles it exactly when it is valid, and the loader
/// loads what kilnc made.
pub fn compile_module(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(config) = gc_config(&mut u) else { return };
    let Ok(module) = wasm_smith::Module::new(config, &mut u) else { return };
    let wasm = module.to_bytes();
    let valid = Validator::new_with_features(gc_features()).validate_all(&wasm);
    let options = CompileOptions { features: gc_compile_features(), ..CompileOptions::default() };
    match (compile(&wasm, &options), valid) {
        (Ok(artifact), Ok(_)) => {
            if let Err(e) = crate::module_from_bytes(engine(), &artifact) {
                panic!("the loader refused kilnc's artifact: {e}");
            }
        }
        (Err(_), Err(_)) => {}
        (Err(e), Ok(_)) => panic!("kilnc refused a valid module: {e}"),
        (Ok(_), Err(e)) => panic!("kilnc compiled an invalid module: {e}"),
    }
}
