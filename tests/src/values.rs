//! Script values: turning `.wast` arguments into [`Val`]s and matching results
//! against expectations. `ref.extern N` is the host value `N as u32`, and
//! `ref.host N` the same host value seen as `anyref` (`any.convert_extern`).

use kiln_loader::{AnyRef, AsContext, ExternRef, Val};
use wast::core::{AbstractHeapType, HeapType, NanPattern, V128Pattern, WastArgCore, WastRetCore};
use wast::token::{F32, F64};
use wast::{WastArg, WastRet};

/// Converts a script argument into a value of `store`.
pub fn arg_to_val(store: impl AsContext, arg: &WastArg<'_>) -> Result<Val, String> {
    let WastArg::Core(core) = arg else {
        return Err("component-model argument in a core script".to_string());
    };
    Ok(match core {
        WastArgCore::I32(v) => Val::I32(*v),
        WastArgCore::I64(v) => Val::I64(*v),
        WastArgCore::F32(v) => Val::F32(v.bits),
        WastArgCore::F64(v) => Val::F64(v.bits),
        WastArgCore::V128(v) => Val::V128(u128::from_le_bytes(v.to_le_bytes())),
        WastArgCore::RefNull(heap) => match null_kind(heap)? {
            RefKind::Func => Val::FuncRef(None),
            RefKind::Extern => Val::ExternRef(None),
            RefKind::Exn => Val::ExnRef(None),
            RefKind::Any => Val::AnyRef(None),
            // A script cannot say which hierarchy a type index is in.
            RefKind::Concrete => return Err("`ref.null` of a concrete type as an argument".to_string()),
        },
        WastArgCore::RefExtern(n) => Val::ExternRef(Some(ExternRef::new(*n))),
        WastArgCore::RefHost(n) => Val::AnyRef(Some(
            AnyRef::from_extern(store, &ExternRef::new(*n)).map_err(|e| format!("`ref.host {n}`: {e}"))?,
        )),
    })
}

/// The hierarchy of a null reference.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum RefKind {
    Func,
    Extern,
    Exn,
    Any,
    /// A concrete type, of the func or the any hierarchy.
    Concrete,
}

fn null_kind(heap: &HeapType<'_>) -> Result<RefKind, String> {
    use AbstractHeapType as A;
    match heap {
        HeapType::Abstract { shared: false, ty: A::Func | A::NoFunc } => Ok(RefKind::Func),
        HeapType::Abstract { shared: false, ty: A::Extern | A::NoExtern } => Ok(RefKind::Extern),
        HeapType::Abstract { shared: false, ty: A::Exn | A::NoExn } => Ok(RefKind::Exn),
        HeapType::Abstract { shared: false, ty: A::Any | A::Eq | A::I31 | A::Struct | A::Array | A::None } => {
            Ok(RefKind::Any)
        }
        HeapType::Concrete(_) => Ok(RefKind::Concrete),
        other => Err(format!("reference type {other:?} is not supported")),
    }
}

/// The number of a script's host value, if `r` is one.
fn host_number(r: &ExternRef) -> Option<u32> {
    r.downcast_ref::<u32>().copied()
}

/// The number of a script's host value seen as `anyref`, if `a` is one.
fn any_host_number(store: impl AsContext, a: &AnyRef) -> Option<u32> {
    host_number(&ExternRef::from_any(store, a).ok()?)
}

/// What an internal reference is, the way a script would write it.
fn describe_any(store: impl AsContext, a: &AnyRef) -> String {
    let store = store.as_context();
    if let Some(i) = a.as_i31() {
        return format!("(ref.i31 {})", i.get_u32());
    }
    match (a.is_struct(&store), a.is_array(&store)) {
        (Ok(true), _) => "(ref.struct)".to_string(),
        (_, Ok(true)) => "(ref.array)".to_string(),
        (Err(e), _) | (_, Err(e)) => format!("(ref.any <{e}>)"),
        _ => match any_host_number(&store, a) {
            Some(n) => format!("(ref.host {n})"),
            None => "(ref.host <foreign host value>)".to_string(),
        },
    }
}

/// Describes a value of `store` the way a script would write it.
pub fn describe(store: impl AsContext, val: &Val) -> String {
    match val {
        Val::I32(v) => format!("(i32.const {v})"),
        Val::I64(v) => format!("(i64.const {v})"),
        Val::F32(b) => format!("(f32.const {} (0x{b:08x}))", f32::from_bits(*b)),
        Val::F64(b) => format!("(f64.const {} (0x{b:016x}))", f64::from_bits(*b)),
        Val::V128(b) => format!("(v128.const i64x2 0x{:016x} 0x{:016x})", *b as u64, (*b >> 64) as u64),
        Val::FuncRef(None) => "(ref.null func)".to_string(),
        Val::FuncRef(Some(_)) => "(ref.func)".to_string(),
        Val::ExternRef(None) => "(ref.null extern)".to_string(),
        Val::ExnRef(None) => "(ref.null exn)".to_string(),
        Val::ExnRef(Some(_)) => "(ref.exn)".to_string(),
        Val::ExternRef(Some(r)) => match host_number(r) {
            Some(n) => format!("(ref.extern {n})"),
            None => match AnyRef::from_extern(&store, r) {
                Ok(a) if !a.is_host(&store).unwrap_or(true) => {
                    format!("(extern.convert_any {})", describe_any(&store, &a))
                }
                _ => "(ref.extern <foreign host value>)".to_string(),
            },
        },
        Val::AnyRef(None) => "(ref.null any)".to_string(),
        Val::AnyRef(Some(a)) => describe_any(&store, a),
    }
}

/// Checks results of `store` against a script's expectations; the error
/// says which result differs and how.
pub fn match_results(store: impl AsContext, actual: &[Val], expected: &[WastRet<'_>]) -> Result<(), String> {
    let store = store.as_context();
    if actual.len() != expected.len() {
        return Err(format!(
            "expected {} results, got {}: [{}]",
            expected.len(),
            actual.len(),
            actual.iter().map(|v| describe(&store, v)).collect::<Vec<_>>().join(" ")
        ));
    }
    for (i, (val, ret)) in actual.iter().zip(expected).enumerate() {
        let WastRet::Core(ret) = ret else {
            return Err("component-model result in a core script".to_string());
        };
        match matches(&store, val, ret) {
            Ok(true) => {}
            Ok(false) => {
                let actual = match (ret, val) {
                    // Shown in the expected shape, so the differing lane stands out.
                    (WastRetCore::V128(pattern), Val::V128(bits)) => describe_v128_as(*bits, pattern),
                    _ => describe(&store, val),
                };
                return Err(format!("result {i}: expected {}, got {actual}", describe_ret(ret)));
            }
            Err(e) => return Err(format!("result {i}: {e}")),
        }
    }
    Ok(())
}

fn describe_ret(ret: &WastRetCore<'_>) -> String {
    match ret {
        WastRetCore::I32(v) => format!("(i32.const {v})"),
        WastRetCore::I64(v) => format!("(i64.const {v})"),
        WastRetCore::F32(NanPattern::Value(v)) => format!("(f32.const {} (0x{:08x}))", f32::from_bits(v.bits), v.bits),
        WastRetCore::F64(NanPattern::Value(v)) => {
            format!("(f64.const {} (0x{:016x}))", f64::from_bits(v.bits), v.bits)
        }
        WastRetCore::F32(NanPattern::CanonicalNan) => "(f32.const nan:canonical)".to_string(),
        WastRetCore::F32(NanPattern::ArithmeticNan) => "(f32.const nan:arithmetic)".to_string(),
        WastRetCore::F64(NanPattern::CanonicalNan) => "(f64.const nan:canonical)".to_string(),
        WastRetCore::F64(NanPattern::ArithmeticNan) => "(f64.const nan:arithmetic)".to_string(),
        WastRetCore::RefExtern(Some(n)) => format!("(ref.extern {n})"),
        WastRetCore::RefHost(n) => format!("(ref.host {n})"),
        WastRetCore::RefAny => "(ref.any)".to_string(),
        WastRetCore::RefEq => "(ref.eq)".to_string(),
        WastRetCore::RefI31 => "(ref.i31)".to_string(),
        WastRetCore::RefStruct => "(ref.struct)".to_string(),
        WastRetCore::RefArray => "(ref.array)".to_string(),
        WastRetCore::RefExtern(None) => "(ref.extern)".to_string(),
        WastRetCore::RefFunc(_) => "(ref.func)".to_string(),
        WastRetCore::RefNull(_) => "(ref.null)".to_string(),
        WastRetCore::V128(pattern) => describe_v128_pattern(pattern),
        WastRetCore::Either(alts) => {
            format!("(either {})", alts.iter().map(describe_ret).collect::<Vec<_>>().join(" "))
        }
        other => format!("{other:?}"),
    }
}

fn describe_nan_pattern<T>(pattern: &NanPattern<T>, value: impl Fn(&T) -> String) -> String {
    match pattern {
        NanPattern::CanonicalNan => "nan:canonical".to_string(),
        NanPattern::ArithmeticNan => "nan:arithmetic".to_string(),
        NanPattern::Value(v) => value(v),
    }
}

fn describe_v128_pattern(pattern: &V128Pattern) -> String {
    fn join<T: ToString>(lanes: impl IntoIterator<Item = T>) -> String {
        lanes.into_iter().map(|l| l.to_string()).collect::<Vec<_>>().join(" ")
    }
    let (shape, lanes) = match pattern {
        V128Pattern::I8x16(l) => ("i8x16", join(l.iter())),
        V128Pattern::I16x8(l) => ("i16x8", join(l.iter())),
        V128Pattern::I32x4(l) => ("i32x4", join(l.iter())),
        V128Pattern::I64x2(l) => ("i64x2", join(l.iter())),
        V128Pattern::F32x4(l) => {
            ("f32x4", join(l.iter().map(|p| describe_nan_pattern(p, |v| format!("{:#010x}", v.bits)))))
        }
        V128Pattern::F64x2(l) => {
            ("f64x2", join(l.iter().map(|p| describe_nan_pattern(p, |v| format!("{:#018x}", v.bits)))))
        }
    };
    format!("(v128.const {shape} {lanes})")
}

/// `bits` written in the shape of `pattern` (floats as their bits).
fn describe_v128_as(bits: u128, pattern: &V128Pattern) -> String {
    let bytes = bits.to_le_bytes();
    let lanes = |width: usize| -> Vec<u64> {
        bytes.chunks(width).map(|c| c.iter().rev().fold(0u64, |v, &b| v << 8 | u64::from(b))).collect()
    };
    let (shape, lanes) = match pattern {
        V128Pattern::I8x16(_) => ("i8x16", lanes(1).iter().map(|&l| (l as u8 as i8).to_string()).collect::<Vec<_>>()),
        V128Pattern::I16x8(_) => ("i16x8", lanes(2).iter().map(|&l| (l as u16 as i16).to_string()).collect()),
        V128Pattern::I32x4(_) => ("i32x4", lanes(4).iter().map(|&l| (l as u32 as i32).to_string()).collect()),
        V128Pattern::I64x2(_) => ("i64x2", lanes(8).iter().map(|&l| (l as i64).to_string()).collect()),
        V128Pattern::F32x4(_) => ("f32x4", lanes(4).iter().map(|&l| format!("{l:#010x}")).collect()),
        V128Pattern::F64x2(_) => ("f64x2", lanes(8).iter().map(|&l| format!("{l:#018x}")).collect()),
    };
    format!("(v128.const {shape} {})", lanes.join(" "))
}

const F32_QUIET_NAN: u32 = 0x7fc0_0000;
const F64_QUIET_NAN: u64 = 0x7ff8_0000_0000_0000;

fn f32_matches(bits: u32, pattern: &NanPattern<F32>) -> bool {
    match pattern {
        NanPattern::Value(v) => bits == v.bits,
        // The spec's canonical NaN has only the quiet bit set in its payload,
        // with either sign.
        NanPattern::CanonicalNan => bits & 0x7fff_ffff == F32_QUIET_NAN,
        NanPattern::ArithmeticNan => bits & F32_QUIET_NAN == F32_QUIET_NAN,
    }
}

fn f64_matches(bits: u64, pattern: &NanPattern<F64>) -> bool {
    match pattern {
        NanPattern::Value(v) => bits == v.bits,
        NanPattern::CanonicalNan => bits & 0x7fff_ffff_ffff_ffff == F64_QUIET_NAN,
        NanPattern::ArithmeticNan => bits & F64_QUIET_NAN == F64_QUIET_NAN,
    }
}

fn v128_matches(bits: u128, pattern: &V128Pattern) -> bool {
    let bytes = bits.to_le_bytes();
    let lane = |i: usize, n: usize| -> u128 {
        let mut v = [0u8; 16];
        v[..n].copy_from_slice(&bytes[i * n..i * n + n]);
        u128::from_le_bytes(v)
    };
    match pattern {
        V128Pattern::I8x16(l) => l.iter().enumerate().all(|(i, &x)| lane(i, 1) == x as u8 as u128),
        V128Pattern::I16x8(l) => l.iter().enumerate().all(|(i, &x)| lane(i, 2) == x as u16 as u128),
        V128Pattern::I32x4(l) => l.iter().enumerate().all(|(i, &x)| lane(i, 4) == x as u32 as u128),
        V128Pattern::I64x2(l) => l.iter().enumerate().all(|(i, &x)| lane(i, 8) == x as u64 as u128),
        V128Pattern::F32x4(l) => l.iter().enumerate().all(|(i, p)| f32_matches(lane(i, 4) as u32, p)),
        V128Pattern::F64x2(l) => l.iter().enumerate().all(|(i, p)| f64_matches(lane(i, 8) as u64, p)),
    }
}

fn matches(store: &impl AsContext, val: &Val, ret: &WastRetCore<'_>) -> Result<bool, String> {
    let gc_error = |e: kiln_loader::Error| format!("{e}");
    Ok(match (ret, val) {
        (WastRetCore::I32(e), Val::I32(a)) => e == a,
        (WastRetCore::I64(e), Val::I64(a)) => e == a,
        (WastRetCore::F32(p), Val::F32(a)) => f32_matches(*a, p),
        (WastRetCore::F64(p), Val::F64(a)) => f64_matches(*a, p),
        (WastRetCore::V128(p), Val::V128(a)) => v128_matches(*a, p),
        (WastRetCore::RefNull(heap), Val::FuncRef(None)) => match heap {
            None => true,
            Some(h) => matches!(null_kind(h)?, RefKind::Func | RefKind::Concrete),
        },
        (WastRetCore::RefNull(heap), Val::ExternRef(None)) => match heap {
            None => true,
            Some(h) => null_kind(h)? == RefKind::Extern,
        },
        (WastRetCore::RefNull(heap), Val::ExnRef(None)) => match heap {
            None => true,
            Some(h) => null_kind(h)? == RefKind::Exn,
        },
        (WastRetCore::RefNull(heap), Val::AnyRef(None)) => match heap {
            None => true,
            Some(h) => matches!(null_kind(h)?, RefKind::Any | RefKind::Concrete),
        },
        // Any non-null externref: a host value, or an internal reference
        // made external.
        (WastRetCore::RefExtern(None), Val::ExternRef(Some(_))) => true,
        (WastRetCore::RefExtern(Some(n)), Val::ExternRef(Some(r))) => host_number(r) == Some(*n),
        (WastRetCore::RefHost(n), Val::ExternRef(Some(r))) => host_number(r) == Some(*n),
        (WastRetCore::RefHost(n), Val::AnyRef(Some(a))) => any_host_number(store, a) == Some(*n),
        (WastRetCore::RefAny, Val::AnyRef(Some(_))) => true,
        // `eq` holds i31s, structs and arrays, not host values.
        (WastRetCore::RefEq, Val::AnyRef(Some(a))) => !a.is_host(store).map_err(gc_error)?,
        (WastRetCore::RefI31, Val::AnyRef(Some(a))) => a.is_i31(),
        (WastRetCore::RefStruct, Val::AnyRef(Some(a))) => a.is_struct(store).map_err(gc_error)?,
        (WastRetCore::RefArray, Val::AnyRef(Some(a))) => a.is_array(store).map_err(gc_error)?,
        // Function identity is not observable from a script beyond non-nullness.
        (WastRetCore::RefFunc(_), Val::FuncRef(Some(_))) => true,
        (WastRetCore::Either(alternatives), _) => {
            for alt in alternatives {
                if matches(store, val, alt)? {
                    return Ok(true);
                }
            }
            false
        }
        (WastRetCore::RefI31Shared, _) => return Err("shared i31 references are not supported".to_string()),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_nan_accepts_both_signs_and_nothing_else() {
        assert!(f32_matches(0x7fc0_0000, &NanPattern::CanonicalNan));
        assert!(f32_matches(0xffc0_0000, &NanPattern::CanonicalNan));
        assert!(!f32_matches(0x7fc0_0001, &NanPattern::CanonicalNan));
        assert!(!f32_matches(0x7f80_0000, &NanPattern::CanonicalNan));
        assert!(f64_matches(0xfff8_0000_0000_0000, &NanPattern::CanonicalNan));
        assert!(!f64_matches(0x7ff8_0000_0000_0001, &NanPattern::CanonicalNan));
    }

    #[test]
    fn arithmetic_nan_needs_the_quiet_bit() {
        assert!(f32_matches(0x7fc0_0001, &NanPattern::ArithmeticNan));
        assert!(!f32_matches(0x7f80_0001, &NanPattern::ArithmeticNan));
        assert!(f64_matches(0x7ff8_0000_0000_0001, &NanPattern::ArithmeticNan));
        assert!(!f64_matches(0x7ff0_0000_0000_0001, &NanPattern::ArithmeticNan));
        assert!(!f64_matches(0x3ff0_0000_0000_0000, &NanPattern::ArithmeticNan));
    }

    #[test]
    fn v128_float_lanes_each_have_their_own_nan_pattern() {
        let bits = |lanes: [u32; 4]| lanes.iter().enumerate().fold(0u128, |v, (i, &l)| v | u128::from(l) << (32 * i));
        let one = F32 { bits: 0x3f80_0000 };
        let pattern = V128Pattern::F32x4([
            NanPattern::CanonicalNan,
            NanPattern::ArithmeticNan,
            NanPattern::Value(one),
            NanPattern::CanonicalNan,
        ]);
        assert!(v128_matches(bits([0x7fc0_0000, 0x7fc0_0001, 0x3f80_0000, 0xffc0_0000]), &pattern));
        // An arithmetic NaN is not canonical; a signalling NaN is neither.
        assert!(!v128_matches(bits([0x7fc0_0001, 0x7fc0_0001, 0x3f80_0000, 0x7fc0_0000]), &pattern));
        assert!(!v128_matches(bits([0x7fc0_0000, 0x7f80_0001, 0x3f80_0000, 0x7fc0_0000]), &pattern));
        assert!(!v128_matches(bits([0x7fc0_0000, 0x7fc0_0000, 0x3f80_0001, 0x7fc0_0000]), &pattern));

        let pattern = V128Pattern::F64x2([NanPattern::ArithmeticNan, NanPattern::Value(F64 { bits: 0 })]);
        assert!(v128_matches(u128::from(0xfff8_0000_0000_0001u64), &pattern));
        assert!(!v128_matches(u128::from(0xfff0_0000_0000_0001u64), &pattern));
        assert!(!v128_matches(u128::from(0xfff8_0000_0000_0001u64) | 1 << 127, &pattern));
    }

    #[test]
    fn v128_mismatches_are_shown_in_the_expected_shape() {
        let expected = WastRetCore::V128(V128Pattern::I16x8([1, -1, 0, 0, 0, 0, 0, 0]));
        let actual = Val::V128(u128::from_le_bytes([1, 0, 0xfe, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
        let store = kiln_loader::Store::<()>::default();
        let err = match_results(&store, &[actual], &[WastRet::Core(expected)]).unwrap_err();
        assert!(err.contains("expected (v128.const i16x8 1 -1 0 0 0 0 0 0)"), "{err}");
        assert!(err.contains("got (v128.const i16x8 1 -2 0 0 0 0 0 0)"), "{err}");
    }

    fn check(store: &kiln_loader::Store<()>, val: &Val, text: &str) -> bool {
        let buf = wast::parser::ParseBuffer::new(text).unwrap();
        matches(store, val, &wast::parser::parse::<WastRetCore<'_>>(&buf).unwrap()).unwrap()
    }

    #[test]
    fn gc_results_match_their_script_forms() {
        use kiln_loader::{StructRef, StructType, I31};
        let mut store = kiln_loader::Store::<()>::default();
        let i31 = Val::AnyRef(Some(AnyRef::from_i31(I31::wrapping_u32(3))));
        let host = AnyRef::from_extern(&store, &ExternRef::new(4u32)).unwrap();
        let s = StructRef::new(&mut store, &StructType { fields: vec![] }, &[]).unwrap().to_anyref();
        let (host, s) = (Val::AnyRef(Some(host)), Val::AnyRef(Some(s)));
        let internal = Val::ExternRef(Some(ExternRef::from_any(&store, s.anyref().unwrap()).unwrap()));
        for (val, yes, no) in [
            (&i31, &["ref.i31", "ref.eq", "ref.any"][..], &["ref.struct", "ref.array", "ref.null", "ref.host 3"][..]),
            (&s, &["ref.struct", "ref.eq", "ref.any"], &["ref.i31", "ref.array", "ref.extern"]),
            (&host, &["ref.host 4", "ref.any"], &["ref.host 5", "ref.eq", "ref.struct"]),
            (&internal, &["ref.extern"], &["ref.extern 4", "ref.host 4", "ref.null"]),
            (
                &Val::AnyRef(None),
                &["ref.null", "ref.null any", "ref.null none", "ref.null struct"],
                &["ref.null func", "ref.any"],
            ),
            (
                &Val::ExternRef(Some(ExternRef::new(4u32))),
                &["ref.extern 4", "ref.host 4", "ref.extern"],
                &["ref.extern 5"],
            ),
        ] {
            for text in yes {
                assert!(check(&store, val, text), "{} should match ({text})", describe(&store, val));
            }
            for text in no {
                assert!(!check(&store, val, text), "{} should not match ({text})", describe(&store, val));
            }
        }
        assert!(check(&store, &s, "either (ref.i31) (ref.struct)"));
        assert_eq!(describe(&store, &i31), "(ref.i31 3)");
        assert_eq!(describe(&store, &host), "(ref.host 4)");
        assert_eq!(describe(&store, &internal), "(extern.convert_any (ref.struct))");
    }

    #[test]
    fn gc_arguments_become_values_of_the_store() {
        let store = kiln_loader::Store::<()>::default();
        let buf = wast::parser::ParseBuffer::new("ref.host 9").unwrap();
        let arg = WastArg::Core(wast::parser::parse::<WastArgCore<'_>>(&buf).unwrap());
        let val = arg_to_val(&store, &arg).unwrap();
        assert!(val.anyref().unwrap().is_host(&store).unwrap());
        assert_eq!(describe(&store, &val), "(ref.host 9)");
        let buf = wast::parser::ParseBuffer::new("ref.null eq").unwrap();
        let arg = WastArg::Core(wast::parser::parse::<WastArgCore<'_>>(&buf).unwrap());
        assert!(matches!(arg_to_val(&store, &arg).unwrap(), Val::AnyRef(None)));
    }

    #[test]
    fn v128_lanes_are_little_endian() {
        let bits = u128::from_le_bytes([1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
        assert!(v128_matches(bits, &V128Pattern::I32x4([1, 2, 3, -1])));
        assert!(!v128_matches(bits, &V128Pattern::I32x4([1, 2, 3, 4])));
    }
}
