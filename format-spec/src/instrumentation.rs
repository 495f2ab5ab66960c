//! The run-time checks that the compiler can build into an artifact's code,
//! recorded in the header so that the loader can refuse a store setting
//! that the code would silently ignore.

use std::fmt;

/// A bit set of compiled-in checks: the `u32` at
/// [`header_offsets::INSTRUMENTATION_OFFSET`](crate::header_offsets::INSTRUMENTATION_OFFSET).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Instrumentation(u32);

impl Instrumentation {
    /// No checks.
    pub const NONE: Instrumentation = Instrumentation(0);
    /// Bit 0: an epoch check at every function entry and every loop header
    /// (`kilnc --epoch-interruption`). It loads the engine's epoch through
    /// [`store_context::EPOCH_COUNTER`](crate::store_context::EPOCH_COUNTER)
    /// and calls the `epoch_deadline` builtin when the epoch is at or past
    /// the `u64` at [`store_context::EPOCH_DEADLINE`](crate::store_context::EPOCH_DEADLINE).
    pub const EPOCH: Instrumentation = Instrumentation(1 << 0);
    /// Bit 1: fuel metering (`kilnc --fuel`). Code adds the cost of what it
    /// runs to the `i64` at
    /// [`store_context::FUEL_CONSUMED`](crate::store_context::FUEL_CONSUMED),
    /// and at every function entry and loop header calls the `out_of_fuel`
    /// builtin when the counter is at or above zero. The cost model is
    /// Wasmtime's: see SPEC.md, "Fuel".
    pub const FUEL: Instrumentation = Instrumentation(1 << 1);
    /// Every bit this format version defines.
    pub const KNOWN: Instrumentation = Instrumentation::EPOCH.union(Instrumentation::FUEL);

    /// The set with these bits, known or not.
    pub const fn from_bits(bits: u32) -> Instrumentation {
        Instrumentation(bits)
    }

    /// Its bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether every check of `other` is in `self`.
    pub const fn contains(self, other: Instrumentation) -> bool {
        self.0 & other.0 == other.0
    }

    /// Both sets of checks.
    pub const fn union(self, other: Instrumentation) -> Instrumentation {
        Instrumentation(self.0 | other.0)
    }

    /// The bits this format version does not define.
    pub const fn unknown(self) -> Instrumentation {
        Instrumentation(self.0 & !Instrumentation::KNOWN.0)
    }

    /// Whether no bit is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for Instrumentation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        let mut names = Vec::new();
        if self.contains(Instrumentation::EPOCH) {
            names.push("epoch".to_string());
        }
        if self.contains(Instrumentation::FUEL) {
            names.push("fuel".to_string());
        }
        if !self.unknown().is_empty() {
            names.push(format!("unknown bits {:#x}", self.unknown().0));
        }
        f.write_str(&names.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_and_names() {
        assert!(Instrumentation::EPOCH.contains(Instrumentation::NONE));
        assert!(!Instrumentation::NONE.contains(Instrumentation::EPOCH));
        assert_eq!(Instrumentation::NONE.union(Instrumentation::EPOCH), Instrumentation::EPOCH);
        assert!(Instrumentation::KNOWN.unknown().is_empty());
        assert_eq!(Instrumentation::EPOCH.to_string(), "epoch");
        assert_eq!(Instrumentation::from_bits(0b11).to_string(), "epoch, fuel");
        assert_eq!(Instrumentation::from_bits(0b101).to_string(), "epoch, unknown bits 0x4");
        assert_eq!(Instrumentation::NONE.to_string(), "none");
    }
}
