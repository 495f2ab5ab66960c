//! Facts about operators, generated from wasmparser's operator table so
//! that no operator can be forgotten.

use wasmparser::Operator;

macro_rules! is_simd_proposal {
    (simd) => {
        true
    };
    (relaxed_simd) => {
        true
    };
    ($other:ident) => {
        false
    };
}

macro_rules! is_gc_proposal {
    (gc) => {
        true
    };
    ($other:ident) => {
        false
    };
}

macro_rules! define_operator_facts {
    ($( @$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*) )*) => {
        /// The operator's name, as wasmparser spells its variant.
        pub(crate) fn operator_name(op: &Operator<'_>) -> &'static str {
            match op {
                $( Operator::$op { .. } => stringify!($op), )*
                #[allow(unreachable_patterns)]
                _ => "unknown operator",
            }
        }

        /// Whether the operator belongs to the SIMD or relaxed-SIMD proposals.
        pub(crate) fn is_simd_operator(op: &Operator<'_>) -> bool {
            match op {
                $( Operator::$op { .. } => is_simd_proposal!($proposal), )*
                #[allow(unreachable_patterns)]
                _ => false,
            }
        }

        /// Whether the operator belongs to the GC proposal (structs, arrays,
        /// `i31`, `ref.eq`, casts, the extern/any conversions).
        pub(crate) fn is_gc_operator(op: &Operator<'_>) -> bool {
            match op {
                $( Operator::$op { .. } => is_gc_proposal!($proposal), )*
                #[allow(unreachable_patterns)]
                _ => false,
            }
        }
    };
}

wasmparser::for_each_operator!(define_operator_facts);

/// Whether the operator calls a function that returns to the code after
/// it (the callee may read and change the store's fuel and epoch state).
pub(crate) fn is_returning_call(op: &Operator<'_>) -> bool {
    matches!(op, Operator::Call { .. } | Operator::CallIndirect { .. } | Operator::CallRef { .. })
}

/// Whether the operator is a tail call: control leaves the function for
/// the callee and never comes back to it.
pub(crate) fn is_tail_call(op: &Operator<'_>) -> bool {
    matches!(op, Operator::ReturnCall { .. } | Operator::ReturnCallIndirect { .. } | Operator::ReturnCallRef { .. })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simd_operators_are_recognised() {
        assert!(is_simd_operator(&Operator::I8x16Splat));
        assert!(is_simd_operator(&Operator::I32x4RelaxedTruncF32x4S));
        assert!(!is_simd_operator(&Operator::I32Add));
        assert_eq!(operator_name(&Operator::I32Add), "I32Add");
        assert!(is_gc_operator(&Operator::ArrayLen));
        assert!(is_gc_operator(&Operator::RefI31));
        assert!(!is_gc_operator(&Operator::RefAsNonNull));
    }
}
