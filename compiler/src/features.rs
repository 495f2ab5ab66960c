//! The WebAssembly features kilnc accepts, each of which can be turned off
//! (`kilnc -W tail-call=n`, Wasmtime's spelling).
//!
//! By default kilnc accepts all of WebAssembly 3.0, plus threads and legacy
//! exceptions. A module that uses a feature that is off is
//! refused by validation, and the error names the flag that turns it on.

use std::fmt;
use std::str::FromStr;

use wasmparser::WasmFeatures;

use crate::{CompileError, Result};

/// A feature that [`Features`] can turn on or off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WasmFeature {
    /// 128-bit SIMD (`v128`).
    Simd,
    /// Relaxed SIMD, with one deterministic lowering (SPEC.md).
    RelaxedSimd,
    /// Shared memories and atomic operators.
    Threads,
    /// `return_call`, `return_call_indirect`, `return_call_ref`.
    TailCall,
    /// Several memories in one module.
    MultiMemory,
    /// Memories and tables indexed by `i64`.
    Memory64,
    /// `i32`/`i64` `add`, `sub`, `mul` and `global.get` of any immutable
    /// global in constant expressions.
    ExtendedConst,
    /// Typed function references: `(ref $t)`, `call_ref`, `br_on_null`.
    FunctionReferences,
    /// Exception handling: tags, `throw`, `throw_ref`, `try_table`, `exnref`.
    Exceptions,
    /// The legacy exception operators `try`, `catch`, `delegate`, `rethrow`.
    LegacyExceptions,
    /// Garbage-collected structs, arrays and `i31`s, and casts (SPEC 3.14).
    Gc,
}

impl WasmFeature {
    /// Every feature, in the order `kilnc --help` lists them.
    pub const ALL: &'static [WasmFeature] = &[
        WasmFeature::Simd,
        WasmFeature::RelaxedSimd,
        WasmFeature::Threads,
        WasmFeature::TailCall,
        WasmFeature::MultiMemory,
        WasmFeature::Memory64,
        WasmFeature::ExtendedConst,
        WasmFeature::FunctionReferences,
        WasmFeature::Exceptions,
        WasmFeature::LegacyExceptions,
        WasmFeature::Gc,
    ];

    /// The name of the feature on the command line.
    pub fn name(self) -> &'static str {
        match self {
            WasmFeature::Simd => "simd",
            WasmFeature::RelaxedSimd => "relaxed-simd",
            WasmFeature::Threads => "threads",
            WasmFeature::TailCall => "tail-call",
            WasmFeature::MultiMemory => "multi-memory",
            WasmFeature::Memory64 => "memory64",
            WasmFeature::ExtendedConst => "extended-const",
            WasmFeature::FunctionReferences => "function-references",
            WasmFeature::Exceptions => "exceptions",
            WasmFeature::LegacyExceptions => "legacy-exceptions",
            WasmFeature::Gc => "gc",
        }
    }

    /// The validator's bits for this feature.
    fn bits(self) -> WasmFeatures {
        match self {
            WasmFeature::Simd => WasmFeatures::SIMD,
            WasmFeature::RelaxedSimd => WasmFeatures::RELAXED_SIMD,
            WasmFeature::Threads => WasmFeatures::THREADS,
            WasmFeature::TailCall => WasmFeatures::TAIL_CALL,
            WasmFeature::MultiMemory => WasmFeatures::MULTI_MEMORY,
            WasmFeature::Memory64 => WasmFeatures::MEMORY64,
            WasmFeature::ExtendedConst => WasmFeatures::EXTENDED_CONST,
            WasmFeature::FunctionReferences => WasmFeatures::FUNCTION_REFERENCES,
            WasmFeature::Exceptions => WasmFeatures::EXCEPTIONS,
            WasmFeature::LegacyExceptions => WasmFeatures::LEGACY_EXCEPTIONS,
            WasmFeature::Gc => WasmFeatures::GC,
        }
    }

    /// Whether kilnc can compile modules that use the feature.
    pub fn is_supported(self) -> bool {
        true
    }
}

impl fmt::Display for WasmFeature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for WasmFeature {
    type Err = CompileError;
    fn from_str(name: &str) -> Result<Self> {
        WasmFeature::ALL.iter().copied().find(|f| f.name() == name).ok_or_else(|| {
            let known: Vec<&str> = WasmFeature::ALL.iter().map(|f| f.name()).collect();
            CompileError::options(format!("unknown WebAssembly feature `{name}` (known: {})", known.join(", ")))
        })
    }
}

/// The set of features a compilation accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Features {
    enabled: WasmFeatures,
}

impl Default for Features {
    /// Every supported feature.
    fn default() -> Self {
        let mut features = Features { enabled: WasmFeatures::WASM2 };
        for &feature in WasmFeature::ALL {
            features.set(feature, feature.is_supported());
        }
        features
    }
}

impl Features {
    /// WebAssembly 2.0 and nothing later: what the 2.0 specification's
    /// scripts expect, some of whose invalid modules are valid in 3.0.
    pub fn wasm2() -> Self {
        let mut features = Features { enabled: WasmFeatures::WASM2 };
        for &feature in WasmFeature::ALL {
            features.set(feature, feature == WasmFeature::Simd);
        }
        features
    }

    /// WebAssembly 1.0 with threads: what the threads proposal's scripts
    /// expect. The proposal was written on top of 1.0, and some of its
    /// invalid modules are valid in 2.0 (two tables, say).
    pub fn wasm1_threads() -> Self {
        Features { enabled: WasmFeatures::WASM1 | WasmFeatures::THREADS }
    }

    /// Whether `feature` is on.
    pub fn contains(&self, feature: WasmFeature) -> bool {
        self.enabled.contains(feature.bits())
    }

    /// Turns `feature` on or off.
    pub fn set(&mut self, feature: WasmFeature, on: bool) -> &mut Self {
        self.enabled.set(feature.bits(), on);
        self
    }

    /// Applies one setting in Wasmtime's `-W` spelling: `NAME`, `NAME=y`
    /// or `NAME=n` (also `yes`/`no`, `true`/`false`), or several separated
    /// by commas. Turning on a feature kilnc cannot compile is an error.
    pub fn apply(&mut self, settings: &str) -> Result<&mut Self> {
        for setting in settings.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, value) = setting.split_once('=').unwrap_or((setting, "y"));
            let feature: WasmFeature = name.trim().parse()?;
            let on = match value.trim() {
                "y" | "yes" | "true" => true,
                "n" | "no" | "false" => false,
                other => {
                    return Err(CompileError::options(format!(
                        "bad value `{other}` for WebAssembly feature `{name}` (expected y or n)"
                    )))
                }
            };
            if on && !feature.is_supported() {
                return Err(CompileError::options(format!("WebAssembly feature `{feature}` is not supported yet")));
            }
            self.set(feature, on);
        }
        Ok(self)
    }

    /// The validator's feature set: exactly the features that are on, so
    /// that `-W gc=n` refuses GC types and operators as Wasmtime does (and
    /// with them the 3.0 rules that wasmparser keeps behind its GC bit,
    /// such as `global.get` of a defined immutable global in a constant
    /// expression).
    pub(crate) fn validator_features(&self) -> WasmFeatures {
        self.enabled
    }

    /// The feature whose absence made the validator say `message`, if the
    /// message is one of those wasmparser gives for a disabled proposal.
    pub(crate) fn disabled_feature_named_in(&self, message: &str) -> Option<WasmFeature> {
        // wasmparser says "<proposal> support is not enabled" or "<proposal>
        // required for ...", naming proposals in words of its own.
        const WORDS: &[(&str, WasmFeature)] = &[
            ("relaxed SIMD", WasmFeature::RelaxedSimd),
            ("SIMD", WasmFeature::Simd),
            ("threads", WasmFeature::Threads),
            ("shared memor", WasmFeature::Threads),
            ("tail calls", WasmFeature::TailCall),
            ("multiple memories", WasmFeature::MultiMemory),
            ("memory64", WasmFeature::Memory64),
            ("64-bit", WasmFeature::Memory64),
            ("extended const", WasmFeature::ExtendedConst),
            ("constant expression required", WasmFeature::ExtendedConst),
            ("function references", WasmFeature::FunctionReferences),
            ("legacy exceptions", WasmFeature::LegacyExceptions),
            ("exceptions", WasmFeature::Exceptions),
            ("gc proposal", WasmFeature::Gc),
            ("gc feature", WasmFeature::Gc),
            ("gc support", WasmFeature::Gc),
            ("heap types", WasmFeature::Gc),
        ];
        WORDS.iter().find(|(words, feature)| message.contains(words) && !self.contains(*feature)).map(|&(_, f)| f)
    }
}

impl fmt::Display for Features {
    /// Every feature with its setting, in the spelling [`Features::apply`]
    /// reads: `simd=y,relaxed-simd=y,...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, &feature) in WasmFeature::ALL.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            write!(f, "{sep}{feature}={}", if self.contains(feature) { "y" } else { "n" })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_supported_feature_is_on_by_default() {
        let features = Features::default();
        for &feature in WasmFeature::ALL {
            assert_eq!(features.contains(feature), feature.is_supported(), "{feature}");
        }
        assert!(features.validator_features().contains(WasmFeatures::WASM2));
    }

    #[test]
    fn settings_in_wasmtime_spelling() {
        let mut features = Features::default();
        features.apply("tail-call=n, threads=no").unwrap();
        assert!(!features.contains(WasmFeature::TailCall));
        assert!(!features.contains(WasmFeature::Threads));
        features.apply("tail-call").unwrap();
        assert!(features.contains(WasmFeature::TailCall));
        assert!(features.apply("tail-calls=n").unwrap_err().to_string().contains("unknown WebAssembly feature"));
        assert!(features.apply("simd=maybe").unwrap_err().to_string().contains("expected y or n"));
        features.apply("gc=n").unwrap();
        assert!(!features.contains(WasmFeature::Gc));
        features.apply("gc=y").unwrap();
        assert!(features.contains(WasmFeature::Gc));
    }

    #[test]
    fn display_round_trips_through_apply() {
        let mut features = Features::wasm2();
        features.set(WasmFeature::Threads, true);
        let mut again = Features::default();
        again.apply(&features.to_string()).unwrap();
        assert_eq!(again, features);
    }

    #[test]
    fn wasm2_has_simd_and_nothing_later() {
        let features = Features::wasm2();
        for &feature in WasmFeature::ALL {
            assert_eq!(features.contains(feature), feature == WasmFeature::Simd, "{feature}");
        }
        assert_eq!(features.validator_features(), WasmFeatures::WASM2);
    }

    #[test]
    fn validator_messages_name_the_disabled_feature() {
        let mut features = Features::default();
        features.set(WasmFeature::TailCall, false);
        assert_eq!(
            features.disabled_feature_named_in("tail calls support is not enabled"),
            Some(WasmFeature::TailCall)
        );
        assert_eq!(Features::default().disabled_feature_named_in("tail calls support is not enabled"), None);
    }
}
