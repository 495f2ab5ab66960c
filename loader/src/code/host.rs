//! What this host offers: its target triple and CPU features.

use kiln_format::CpuFeatures;

/// The target triple this loader runs code for.
pub fn host_target() -> &'static str {
    "x86_64-unknown-linux-gnu"
}

/// The CPU features of this host, as cpuid reports them.
#[cfg(target_arch = "x86_64")]
pub fn host_cpu_features() -> CpuFeatures {
    let detected = [
        (CpuFeatures::SSE3, std::arch::is_x86_feature_detected!("sse3")),
        (CpuFeatures::SSSE3, std::arch::is_x86_feature_detected!("ssse3")),
        (CpuFeatures::SSE41, std::arch::is_x86_feature_detected!("sse4.1")),
        (CpuFeatures::SSE42, std::arch::is_x86_feature_detected!("sse4.2")),
        (CpuFeatures::POPCNT, std::arch::is_x86_feature_detected!("popcnt")),
        (CpuFeatures::AVX, std::arch::is_x86_feature_detected!("avx")),
        (CpuFeatures::AVX2, std::arch::is_x86_feature_detected!("avx2")),
        (CpuFeatures::BMI1, std::arch::is_x86_feature_detected!("bmi1")),
        (CpuFeatures::BMI2, std::arch::is_x86_feature_detected!("bmi2")),
        (CpuFeatures::LZCNT, std::arch::is_x86_feature_detected!("lzcnt")),
        (CpuFeatures::FMA, std::arch::is_x86_feature_detected!("fma")),
    ];
    detected.iter().filter(|(_, present)| *present).fold(CpuFeatures::NONE, |set, (f, _)| set.union(*f))
}

/// The CPU features of this host: none that x86-64 code could use.
#[cfg(not(target_arch = "x86_64"))]
pub fn host_cpu_features() -> CpuFeatures {
    CpuFeatures::NONE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_feature_is_probed() {
        // A feature added to the format but not probed here would make every
        // artifact needing it unloadable; catch that by counting.
        assert_eq!(kiln_format::CPU_FEATURE_NAMES.len(), 11);
        #[cfg(target_arch = "x86_64")]
        assert!(host_cpu_features().contains(CpuFeatures::NONE));
    }
}
