//! CPU features that compiled code may require.

use std::fmt;

/// A set of x86-64 CPU features, as a bit mask stored in the artifact header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CpuFeatures(pub u64);

/// Every feature kiln knows, with its bit and its name (as cpuid / Cranelift spell it).
pub const CPU_FEATURE_NAMES: [(CpuFeatures, &str); 11] = [
    (CpuFeatures::SSE3, "sse3"),
    (CpuFeatures::SSSE3, "ssse3"),
    (CpuFeatures::SSE41, "sse4.1"),
    (CpuFeatures::SSE42, "sse4.2"),
    (CpuFeatures::POPCNT, "popcnt"),
    (CpuFeatures::AVX, "avx"),
    (CpuFeatures::AVX2, "avx2"),
    (CpuFeatures::BMI1, "bmi1"),
    (CpuFeatures::BMI2, "bmi2"),
    (CpuFeatures::LZCNT, "lzcnt"),
    (CpuFeatures::FMA, "fma"),
];

impl CpuFeatures {
    /// No features.
    pub const NONE: CpuFeatures = CpuFeatures(0);
    /// SSE3.
    pub const SSE3: CpuFeatures = CpuFeatures(1 << 0);
    /// SSSE3.
    pub const SSSE3: CpuFeatures = CpuFeatures(1 << 1);
    /// SSE4.1 (needed for the rounding instructions behind `f32.ceil` and friends).
    pub const SSE41: CpuFeatures = CpuFeatures(1 << 2);
    /// SSE4.2.
    pub const SSE42: CpuFeatures = CpuFeatures(1 << 3);
    /// POPCNT.
    pub const POPCNT: CpuFeatures = CpuFeatures(1 << 4);
    /// AVX.
    pub const AVX: CpuFeatures = CpuFeatures(1 << 5);
    /// AVX2.
    pub const AVX2: CpuFeatures = CpuFeatures(1 << 6);
    /// BMI1.
    pub const BMI1: CpuFeatures = CpuFeatures(1 << 7);
    /// BMI2.
    pub const BMI2: CpuFeatures = CpuFeatures(1 << 8);
    /// LZCNT.
    pub const LZCNT: CpuFeatures = CpuFeatures(1 << 9);
    /// FMA.
    pub const FMA: CpuFeatures = CpuFeatures(1 << 10);

    /// The default target of `kilnc`: x86-64-v2 (SSE3, SSSE3, SSE4.1, SSE4.2, POPCNT).
    /// With SSE4.1 the float rounding operators need no runtime library calls.
    pub const BASELINE_X86_64: CpuFeatures =
        CpuFeatures(Self::SSE3.0 | Self::SSSE3.0 | Self::SSE41.0 | Self::SSE42.0 | Self::POPCNT.0);

    /// `kilnc --cpu x86-64-v3`: the baseline plus what x86-64-v3 adds of
    /// the features kiln names (AVX, AVX2, BMI1, BMI2, LZCNT, FMA), which
    /// every x86-64 server CPU since Haswell (2013) and Zen (2017) has.
    pub const X86_64_V3: CpuFeatures = CpuFeatures(
        Self::BASELINE_X86_64.0
            | Self::AVX.0
            | Self::AVX2.0
            | Self::BMI1.0
            | Self::BMI2.0
            | Self::LZCNT.0
            | Self::FMA.0,
    );

    /// Whether every feature of `other` is in `self`.
    pub fn contains(self, other: CpuFeatures) -> bool {
        self.0 & other.0 == other.0
    }

    /// The features of `self` that `available` lacks.
    pub fn missing_from(self, available: CpuFeatures) -> CpuFeatures {
        CpuFeatures(self.0 & !available.0)
    }

    /// Union of two sets.
    pub fn union(self, other: CpuFeatures) -> CpuFeatures {
        CpuFeatures(self.0 | other.0)
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Names of the features in the set; unknown bits are shown as `bitN`.
    pub fn names(self) -> Vec<String> {
        let mut out = Vec::new();
        for bit in 0..64 {
            let f = CpuFeatures(1 << bit);
            if self.contains(f) {
                match CPU_FEATURE_NAMES.iter().find(|(k, _)| *k == f) {
                    Some((_, name)) => out.push(name.to_string()),
                    None => out.push(format!("bit{bit}")),
                }
            }
        }
        out
    }
}

impl fmt::Display for CpuFeatures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        f.write_str(&self.names().join(","))
    }
}
