//! Which results an artifact's code gives the relaxed-SIMD operators,
//! recorded in the header so that the choice is explicit: `kiln inspect`
//! shows it, and a loader refuses a choice it cannot name.

use std::fmt;

/// The relaxed-SIMD semantics of the code: the `u32` at
/// [`header_offsets::RELAXED_SIMD_OFFSET`](crate::header_offsets::RELAXED_SIMD_OFFSET).
///
/// The relaxed-SIMD proposal lets each of its operators return one of a few
/// results. A value of this type names one fixed choice for all of them;
/// SPEC.md 3.11 gives each operator's result under each value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RelaxedSimd(u32);

impl RelaxedSimd {
    /// 1, "deterministic (kiln 1)": every relaxed operator gives the same
    /// result whatever CPU features the code was compiled for and whatever
    /// host runs it (SPEC.md 3.11). The only value this format version
    /// defines, and the one kilnc records in every artifact.
    pub const DETERMINISTIC_KILN_1: RelaxedSimd = RelaxedSimd(1);

    /// The value with this number, known or not.
    pub const fn from_raw(raw: u32) -> RelaxedSimd {
        RelaxedSimd(raw)
    }

    /// Its number.
    pub const fn raw(self) -> u32 {
        self.0
    }

    /// Whether this format version defines it.
    pub const fn is_known(self) -> bool {
        self.0 == RelaxedSimd::DETERMINISTIC_KILN_1.0
    }
}

impl fmt::Display for RelaxedSimd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RelaxedSimd::DETERMINISTIC_KILN_1 => f.write_str("deterministic (kiln 1)"),
            RelaxedSimd(raw) => write!(f, "unknown ({raw})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_deterministic_kiln_1_is_known() {
        assert!(RelaxedSimd::DETERMINISTIC_KILN_1.is_known());
        assert_eq!(RelaxedSimd::DETERMINISTIC_KILN_1.to_string(), "deterministic (kiln 1)");
        for raw in [0, 2, u32::MAX] {
            assert!(!RelaxedSimd::from_raw(raw).is_known());
            assert_eq!(RelaxedSimd::from_raw(raw).to_string(), format!("unknown ({raw})"));
        }
    }
}
