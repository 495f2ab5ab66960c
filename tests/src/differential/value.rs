//! Values as both engines see them, and the arguments the driver passes.

use std::fmt;

use super::rng::SplitMix64;

/// The value types the driver passes and compares: the loader's own.
pub use kiln_loader::ValType;

/// A value of either engine. References are compared by null-ness only:
/// the two engines' function handles cannot be related to each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    /// `i32`.
    I32(i32),
    /// `i64`.
    I64(i64),
    /// `f32`, as its bits.
    F32(u32),
    /// `f64`, as its bits.
    F64(u64),
    /// `v128`, lane 0 in the lowest bits.
    V128(u128),
    /// `funcref`: whether it is null.
    FuncRef {
        /// `ref.null func`.
        null: bool,
    },
    /// `externref`: whether it is null.
    ExternRef {
        /// `ref.null extern`.
        null: bool,
    },
}

impl Value {
    /// Whether the two engines agree on this value: the same bits, except
    /// that any NaN agrees with any NaN (the specification lets NaN
    /// results carry any payload, so engines may differ there).
    pub fn agrees_with(&self, other: &Value) -> bool {
        match (*self, *other) {
            (Value::F32(a), Value::F32(b)) => a == b || (f32::from_bits(a).is_nan() && f32::from_bits(b).is_nan()),
            (Value::F64(a), Value::F64(b)) => a == b || (f64::from_bits(a).is_nan() && f64::from_bits(b).is_nan()),
            (a, b) => a == b,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Value::I32(v) => write!(f, "i32 {v}"),
            Value::I64(v) => write!(f, "i64 {v}"),
            Value::F32(bits) => write!(f, "f32 {} ({bits:#010x})", f32::from_bits(bits)),
            Value::F64(bits) => write!(f, "f64 {} ({bits:#018x})", f64::from_bits(bits)),
            Value::V128(bits) => write!(f, "v128 {bits:#034x}"),
            Value::FuncRef { null: true } => f.write_str("ref.null func"),
            Value::FuncRef { null: false } => f.write_str("a funcref"),
            Value::ExternRef { null: true } => f.write_str("ref.null extern"),
            Value::ExternRef { null: false } => f.write_str("an externref"),
        }
    }
}

/// Values written as a list for a report: `(i32 1, f64 2 (0x...))`.
pub fn describe_values(values: &[Value]) -> String {
    let parts: Vec<String> = values.iter().map(Value::to_string).collect();
    format!("({})", parts.join(", "))
}

/// Deterministic arguments for a call: edge values (zero, one, minus one,
/// the extremes, signed zeros, infinities) half of the time, random bits
/// otherwise (never a NaN, whose payload the engines may treat
/// differently), and null references.
pub fn arguments(params: &[ValType], rng: &mut SplitMix64) -> Vec<Value> {
    params.iter().map(|&ty| argument(ty, rng)).collect()
}

fn argument(ty: ValType, rng: &mut SplitMix64) -> Value {
    let edge = rng.below(2) == 0;
    match ty {
        ValType::I32 => {
            const EDGES: [i32; 6] = [0, 1, -1, i32::MIN, i32::MAX, 0x10];
            Value::I32(if edge { EDGES[rng.below(EDGES.len() as u64) as usize] } else { rng.next_u64() as i32 })
        }
        ValType::I64 => {
            const EDGES: [i64; 6] = [0, 1, -1, i64::MIN, i64::MAX, 0x10];
            Value::I64(if edge { EDGES[rng.below(EDGES.len() as u64) as usize] } else { rng.next_u64() as i64 })
        }
        ValType::F32 => {
            const EDGES: [f32; 6] = [0.0, -0.0, 1.0, -1.5, f32::INFINITY, f32::MIN_POSITIVE];
            let value = if edge { EDGES[rng.below(EDGES.len() as u64) as usize] } else { random_f32(rng) };
            Value::F32(value.to_bits())
        }
        ValType::F64 => {
            const EDGES: [f64; 6] = [0.0, -0.0, 1.0, -1.5, f64::NEG_INFINITY, f64::MAX];
            let value = if edge { EDGES[rng.below(EDGES.len() as u64) as usize] } else { random_f64(rng) };
            Value::F64(value.to_bits())
        }
        ValType::V128 => {
            Value::V128(if edge { 0 } else { u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64()) })
        }
        // The driver's modules have only nullable funcref and externref
        // parameters and results (see `interface`).
        ValType::Ref(r) if r.is_func_ref() => Value::FuncRef { null: true },
        ValType::Ref(_) => Value::ExternRef { null: true },
    }
}

fn random_f32(rng: &mut SplitMix64) -> f32 {
    let value = f32::from_bits(rng.next_u64() as u32);
    if value.is_nan() {
        0.5
    } else {
        value
    }
}

fn random_f64(rng: &mut SplitMix64) -> f64 {
    let value = f64::from_bits(rng.next_u64());
    if value.is_nan() {
        0.5
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nans_agree_whatever_their_payload_and_nothing_else_is_loose() {
        assert!(Value::F32(0x7fc0_0000).agrees_with(&Value::F32(0xffc0_0001)));
        assert!(Value::F64(0x7ff8_0000_0000_0000).agrees_with(&Value::F64(0x7ff0_0000_0000_0001)));
        assert!(!Value::F32(0.0f32.to_bits()).agrees_with(&Value::F32((-0.0f32).to_bits())));
        assert!(!Value::F32(0x7fc0_0000).agrees_with(&Value::F32(0x7f80_0000)));
        assert!(!Value::I32(1).agrees_with(&Value::I64(1)));
        assert!(!Value::FuncRef { null: true }.agrees_with(&Value::FuncRef { null: false }));
    }

    #[test]
    fn arguments_are_deterministic_and_never_nan() {
        let params = [ValType::F32, ValType::F64, ValType::I32, ValType::V128, ValType::EXTERNREF];
        let first = arguments(&params, &mut SplitMix64::new(9));
        assert_eq!(first, arguments(&params, &mut SplitMix64::new(9)));
        let mut rng = SplitMix64::new(1);
        for _ in 0..1000 {
            for value in arguments(&params, &mut rng) {
                match value {
                    Value::F32(bits) => assert!(!f32::from_bits(bits).is_nan()),
                    Value::F64(bits) => assert!(!f64::from_bits(bits).is_nan()),
                    _ => {}
                }
            }
        }
    }
}
