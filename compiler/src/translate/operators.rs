//! Facts about operators, generated from wasmparser's operator table so
//! that no operator can be forgotten.

use wasmparser::Operator;

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

        /// The proposal that introduced the operator (`mvp`, `simd`, ...).
        pub(crate) fn operator_proposal(op: &Operator<'_>) -> &'static str {
            match op {
                $( Operator::$op { .. } => stringify!($proposal), )*
                #[allow(unreachable_patterns)]
                _ => "unknown",
            }
        }
    };
}

wasmparser::for_each_operator!(define_operator_facts);

/// Whether the operator belongs to the SIMD or relaxed-SIMD proposals.
pub(crate) fn is_simd_operator(op: &Operator<'_>) -> bool {
    matches!(operator_proposal(op), "simd" | "relaxed_simd")
}
