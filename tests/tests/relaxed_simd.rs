//! Relaxed SIMD is deterministic: every relaxed operator of
//! `tests/wat/relaxed_simd.wat`, compiled for `--cpu baseline` (x86-64-v2,
//! no FMA, no AVX) and for `--cpu native` (FMA and AVX where this host has
//! them), gives the same result, the one SPEC.md 3.11 defines, on inputs
//! where the CPUs' own instructions disagree: NaNs, signed zeros,
//! out-of-range lanes, swizzle indices of 16 and more, mask lanes with mixed
//! bits, products that a fused multiply-add would keep, and bytes with the
//! top bit set where `pmaddubsw` reads them unsigned.

mod common;

use std::collections::BTreeSet;

use kiln_compiler::{compile, CompileOptions, CpuChoice};
use kiln_format::{ArtifactHeader, CpuFeatures, RelaxedSimd};
use kiln_loader::{Engine, Instance, Linker, Store, Val};

/// One artifact, instantiated.
struct Compiled {
    header: ArtifactHeader,
    store: Store<()>,
    instance: Instance,
}

fn instantiate(cpu: CpuChoice) -> Compiled {
    let source = std::fs::read(common::tests_path("wat/relaxed_simd.wat")).expect("relaxed_simd.wat");
    let options = CompileOptions { cpu, ..CompileOptions::default() };
    let artifact = compile(&source, &options).unwrap_or_else(|e| panic!("compile for {cpu:?} failed: {e}"));
    let engine = Engine::default();
    let module = kiln_tests::module_from_bytes(&engine, &artifact).expect("the artifact loads");
    let header = module.code().header().clone();
    let mut store = Store::new(&engine, ());
    let instance = Linker::new(&engine).instantiate(&mut store, &module).expect("instantiate");
    Compiled { header, store, instance }
}

impl Compiled {
    fn call(&mut self, name: &str, args: &[u128]) -> u128 {
        let func = self.instance.get_func(&self.store, name).unwrap_or_else(|| panic!("no export {name}"));
        let args: Vec<Val> = args.iter().map(|&v| Val::V128(v)).collect();
        let mut results = [Val::V128(0)];
        func.call(&mut self.store, &args, &mut results).unwrap_or_else(|e| panic!("{name}: {e}"));
        match results[0] {
            Val::V128(v) => v,
            ref other => panic!("{name} returned {other:?}"),
        }
    }
}

/// Lanes of `N` bytes each, lane 0 first, packed into and out of a v128.
fn pack<const N: usize>(lanes: impl IntoIterator<Item = [u8; N]>) -> u128 {
    let bytes: Vec<u8> = lanes.into_iter().flatten().collect();
    u128::from_le_bytes(bytes.try_into().expect("16 bytes"))
}

fn unpack<const N: usize>(v: u128) -> Vec<[u8; N]> {
    v.to_le_bytes().chunks(N).map(|c| c.try_into().unwrap()).collect()
}

fn f32x4(lanes: [f32; 4]) -> u128 {
    pack(lanes.map(f32::to_le_bytes))
}
fn f64x2(lanes: [f64; 2]) -> u128 {
    pack(lanes.map(f64::to_le_bytes))
}
fn i8x16(lanes: [i8; 16]) -> u128 {
    pack(lanes.map(i8::to_le_bytes))
}
fn i16x8(lanes: [i16; 8]) -> u128 {
    pack(lanes.map(i16::to_le_bytes))
}
fn i32x4(lanes: [i32; 4]) -> u128 {
    pack(lanes.map(i32::to_le_bytes))
}

fn f32s(v: u128) -> Vec<f32> {
    unpack::<4>(v).into_iter().map(f32::from_le_bytes).collect()
}
fn f64s(v: u128) -> Vec<f64> {
    unpack::<8>(v).into_iter().map(f64::from_le_bytes).collect()
}
fn i8s(v: u128) -> Vec<i8> {
    unpack::<1>(v).into_iter().map(i8::from_le_bytes).collect()
}
fn i16s(v: u128) -> Vec<i16> {
    unpack::<2>(v).into_iter().map(i16::from_le_bytes).collect()
}
fn i32s(v: u128) -> Vec<i32> {
    unpack::<4>(v).into_iter().map(i32::from_le_bytes).collect()
}

/// WebAssembly's `fmin`/`fmax`: NaN if either lane is, `-0 < +0`.
fn f32_min(a: f32, b: f32) -> f32 {
    if a.is_nan() || b.is_nan() {
        f32::NAN
    } else if a == b {
        f32::from_bits(a.to_bits() | b.to_bits())
    } else {
        a.min(b)
    }
}
fn f32_max(a: f32, b: f32) -> f32 {
    if a.is_nan() || b.is_nan() {
        f32::NAN
    } else if a == b {
        f32::from_bits(a.to_bits() & b.to_bits())
    } else {
        a.max(b)
    }
}
fn f64_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == b {
        f64::from_bits(a.to_bits() | b.to_bits())
    } else {
        a.min(b)
    }
}
fn f64_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == b {
        f64::from_bits(a.to_bits() & b.to_bits())
    } else {
        a.max(b)
    }
}

/// The 16-bit sums of `i16x8.relaxed_dot_i8x16_i7x16_s`: both operands
/// signed, each pair of products added with wrap-around.
fn dot16(a: u128, b: u128) -> Vec<i16> {
    let (a, b) = (i8s(a), i8s(b));
    (0..8)
        .map(|i| {
            let product = |j: usize| i32::from(a[j]) * i32::from(b[j]);
            (product(2 * i) + product(2 * i + 1)) as i16
        })
        .collect()
}

/// The result SPEC.md 3.11 gives `name` on `args`, written independently of
/// the compiler: Rust's `as` casts saturate and map NaN to 0, and Rust never
/// fuses a multiplication with an addition.
fn reference(name: &str, args: &[u128]) -> u128 {
    let f32_lanes = |f: &dyn Fn(usize) -> f32| f32x4(std::array::from_fn(f));
    let f64_lanes = |f: &dyn Fn(usize) -> f64| f64x2(std::array::from_fn(f));
    match name {
        "i8x16.relaxed_swizzle" => {
            let (v, idx) = (args[0].to_le_bytes(), args[1].to_le_bytes());
            u128::from_le_bytes(idx.map(|i| if i < 16 { v[usize::from(i)] } else { 0 }))
        }
        "i32x4.relaxed_trunc_f32x4_s" => i32x4(std::array::from_fn(|i| f32s(args[0])[i] as i32)),
        "i32x4.relaxed_trunc_f32x4_u" => i32x4(std::array::from_fn(|i| f32s(args[0])[i] as u32 as i32)),
        "i32x4.relaxed_trunc_f64x2_s_zero" => {
            let x = f64s(args[0]);
            i32x4([x[0] as i32, x[1] as i32, 0, 0])
        }
        "i32x4.relaxed_trunc_f64x2_u_zero" => {
            let x = f64s(args[0]);
            i32x4([x[0] as u32 as i32, x[1] as u32 as i32, 0, 0])
        }
        "f32x4.relaxed_madd" | "f32x4.relaxed_nmadd" => {
            let (a, b, c) = (f32s(args[0]), f32s(args[1]), f32s(args[2]));
            let sign = if name.ends_with("nmadd") { -1.0 } else { 1.0 };
            f32_lanes(&|i| sign * a[i] * b[i] + c[i])
        }
        "f64x2.relaxed_madd" | "f64x2.relaxed_nmadd" => {
            let (a, b, c) = (f64s(args[0]), f64s(args[1]), f64s(args[2]));
            let sign = if name.ends_with("nmadd") { -1.0 } else { 1.0 };
            f64_lanes(&|i| sign * a[i] * b[i] + c[i])
        }
        "i8x16.relaxed_laneselect"
        | "i16x8.relaxed_laneselect"
        | "i32x4.relaxed_laneselect"
        | "i64x2.relaxed_laneselect" => (args[0] & args[2]) | (args[1] & !args[2]),
        "f32x4.relaxed_min" => f32_lanes(&|i| f32_min(f32s(args[0])[i], f32s(args[1])[i])),
        "f32x4.relaxed_max" => f32_lanes(&|i| f32_max(f32s(args[0])[i], f32s(args[1])[i])),
        "f64x2.relaxed_min" => f64_lanes(&|i| f64_min(f64s(args[0])[i], f64s(args[1])[i])),
        "f64x2.relaxed_max" => f64_lanes(&|i| f64_max(f64s(args[0])[i], f64s(args[1])[i])),
        "i16x8.relaxed_q15mulr_s" => {
            let (a, b) = (i16s(args[0]), i16s(args[1]));
            i16x8(std::array::from_fn(|i| {
                let rounded = (i32::from(a[i]) * i32::from(b[i]) + 0x4000) >> 15;
                rounded.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
            }))
        }
        "i16x8.relaxed_dot_i8x16_i7x16_s" => {
            let sums = dot16(args[0], args[1]);
            i16x8(std::array::from_fn(|i| sums[i]))
        }
        "i32x4.relaxed_dot_i8x16_i7x16_add_s" => {
            let (sums, c) = (dot16(args[0], args[1]), i32s(args[2]));
            i32x4(std::array::from_fn(|i| (i32::from(sums[2 * i]) + i32::from(sums[2 * i + 1])).wrapping_add(c[i])))
        }
        other => panic!("no reference for {other}"),
    }
}

/// Whether `actual` is `expected`: bit for bit, except that a NaN float lane
/// matches any NaN (WebAssembly leaves NaN payloads open everywhere, relaxed
/// or not).
fn same(name: &str, actual: u128, expected: u128) -> bool {
    if name.starts_with("f32x4.") {
        f32s(actual).iter().zip(f32s(expected)).all(|(a, e)| a.to_bits() == e.to_bits() || a.is_nan() && e.is_nan())
    } else if name.starts_with("f64x2.") {
        f64s(actual).iter().zip(f64s(expected)).all(|(a, e)| a.to_bits() == e.to_bits() || a.is_nan() && e.is_nan())
    } else {
        actual == expected
    }
}

/// Every export with inputs on which the CPU instructions disagree.
fn cases() -> Vec<(&'static str, Vec<u128>)> {
    let nan32 = f32::NAN;
    let nan64 = f64::NAN;
    // Indices 16..=127 are where `pshufb` alone would pick a byte.
    let indices = [0u8, 15, 16, 17, 31, 32, 0x70, 0x7f, 0x80, 0x8f, 0xff, 1, 2, 0x10, 0x60, 3];
    let swizzle_input = u128::from_le_bytes(std::array::from_fn(|i| 0xa0 + i as u8));
    // (1 + 2^-22) * (1 + 2^-15) - (1 + 2^-15 + 2^-22) is 2^-37 fused, 0 unfused;
    // MAX * 2 - MAX is MAX fused, infinity unfused.
    let a32 = [1.0 + 2f32.powi(-22), f32::MAX, -1.5, nan32];
    let b32 = [1.0 + 2f32.powi(-15), 2.0, 3.0, 1.0];
    let c32 = [-(1.0 + 2f32.powi(-15) + 2f32.powi(-22)), -f32::MAX, 0.25, 1.0];
    let a64 = [1.0 + 2f64.powi(-30), f64::MAX];
    let b64 = [1.0 + 2f64.powi(-23), 2.0];
    let c64 = [-(1.0 + 2f64.powi(-23) + 2f64.powi(-30)), -f64::MAX];
    let negated32 = a32.map(|x| -x);
    let negated64 = a64.map(|x| -x);
    // Mask lanes whose bits are mixed, so that a per-lane blend on the top
    // bit would differ from a bitwise select.
    let (sel_a, sel_b) = (0x0123_4567_89ab_cdef_fedc_ba98_7654_3210u128, 0x5555_aaaa_3333_cccc_0f0f_f0f0_9696_6969u128);
    let mask = 0x00ff_0f0f_8000_0001_7fff_ffff_0000_8080u128;
    // Bytes of `b` with the top bit set, where `pmaddubsw` differs.
    let dot_a = i8x16([-128, -128, -1, -1, 127, 127, -128, 127, 1, 2, 3, 4, -5, 6, -7, 8]);
    let dot_b = i8x16([-128, -128, -128, -128, -128, 127, 127, -128, 100, -100, 50, -50, 127, 127, -1, -1]);
    vec![
        ("i8x16.relaxed_swizzle", vec![swizzle_input, u128::from_le_bytes(indices)]),
        ("i32x4.relaxed_trunc_f32x4_s", vec![f32x4([nan32, f32::NEG_INFINITY, 3e9, -1.5])]),
        ("i32x4.relaxed_trunc_f32x4_s", vec![f32x4([f32::INFINITY, 2147483520.0, -2147483904.0, 2f32.powi(31)])]),
        ("i32x4.relaxed_trunc_f32x4_u", vec![f32x4([nan32, -1.0, 4294967040.0, 5e9])]),
        ("i32x4.relaxed_trunc_f32x4_u", vec![f32x4([-0.5, 4294967296.0, f32::INFINITY, 2147483648.0])]),
        ("i32x4.relaxed_trunc_f64x2_s_zero", vec![f64x2([nan64, 1e10])]),
        ("i32x4.relaxed_trunc_f64x2_s_zero", vec![f64x2([-1e10, -2147483648.5])]),
        ("i32x4.relaxed_trunc_f64x2_u_zero", vec![f64x2([nan64, -1.0])]),
        ("i32x4.relaxed_trunc_f64x2_u_zero", vec![f64x2([4294967295.9, 5e9])]),
        ("f32x4.relaxed_madd", vec![f32x4(a32), f32x4(b32), f32x4(c32)]),
        ("f32x4.relaxed_nmadd", vec![f32x4(negated32), f32x4(b32), f32x4(c32)]),
        ("f64x2.relaxed_madd", vec![f64x2(a64), f64x2(b64), f64x2(c64)]),
        ("f64x2.relaxed_nmadd", vec![f64x2(negated64), f64x2(b64), f64x2(c64)]),
        ("i8x16.relaxed_laneselect", vec![sel_a, sel_b, mask]),
        ("i16x8.relaxed_laneselect", vec![sel_a, sel_b, mask]),
        ("i32x4.relaxed_laneselect", vec![sel_a, sel_b, mask]),
        ("i64x2.relaxed_laneselect", vec![sel_a, sel_b, mask]),
        ("f32x4.relaxed_min", vec![f32x4([nan32, -0.0, 0.0, 1.0]), f32x4([1.0, 0.0, -0.0, nan32])]),
        ("f32x4.relaxed_max", vec![f32x4([nan32, -0.0, 0.0, 1.0]), f32x4([1.0, 0.0, -0.0, nan32])]),
        ("f64x2.relaxed_min", vec![f64x2([nan64, -0.0]), f64x2([1.0, 0.0])]),
        ("f64x2.relaxed_min", vec![f64x2([0.0, 1.0]), f64x2([-0.0, nan64])]),
        ("f64x2.relaxed_max", vec![f64x2([nan64, -0.0]), f64x2([1.0, 0.0])]),
        ("f64x2.relaxed_max", vec![f64x2([0.0, 1.0]), f64x2([-0.0, nan64])]),
        (
            "i16x8.relaxed_q15mulr_s",
            vec![
                i16x8([-32768, -32768, 32767, 16384, -1, 1, 12345, -32768]),
                i16x8([-32768, 32767, 32767, 16384, 1, -1, -6789, 1]),
            ],
        ),
        ("i16x8.relaxed_dot_i8x16_i7x16_s", vec![dot_a, dot_b]),
        ("i32x4.relaxed_dot_i8x16_i7x16_add_s", vec![dot_a, dot_b, i32x4([1, -1, i32::MAX, i32::MIN])]),
    ]
}

#[test]
fn baseline_and_native_give_the_deterministic_results() {
    let mut baseline = instantiate(CpuChoice::Baseline);
    let mut native = instantiate(CpuChoice::Native);
    let host_has_fma = kiln_loader::code::host_cpu_features().contains(CpuFeatures::FMA);
    if host_has_fma {
        // The native code may use FMA, so an unfused result below is a choice
        // of the lowering, not the lack of the instruction.
        assert!(native.header.cpu_features.contains(CpuFeatures::FMA), "{}", native.header.cpu_features);
    }
    assert!(!baseline.header.cpu_features.contains(CpuFeatures::FMA));
    // The x86-64-v3 profile (FMA and AVX2 whatever the compiling host),
    // where this host can run it.
    let host_is_v3 = kiln_loader::code::host_cpu_features().contains(CpuFeatures::X86_64_V3);
    let mut v3 = host_is_v3.then(|| instantiate(CpuChoice::X86_64V3));
    let mut failures = Vec::new();
    let mut covered = BTreeSet::new();
    for (name, args) in cases() {
        covered.insert(name);
        let expected = reference(name, &args);
        let mut artifacts = vec![("baseline", &mut baseline), ("native", &mut native)];
        if let Some(v3) = v3.as_mut() {
            artifacts.push(("x86-64-v3", v3));
        }
        for (cpu, compiled) in artifacts {
            let actual = compiled.call(name, &args);
            if !same(name, actual, expected) {
                failures.push(format!("{name} for {cpu}: {actual:#034x}, expected {expected:#034x}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(covered.len(), 20, "every relaxed-SIMD operator has a case");
}

/// The cases really are ones where the CPUs disagree: each differs from
/// what the fast x86 instruction would give.
#[test]
fn the_cases_are_where_cpu_instructions_differ() {
    let cases = cases();
    let expected = |name: &str, index: usize| {
        let args = &cases.iter().filter(|(n, _)| *n == name).nth(index).unwrap().1;
        (args.clone(), reference(name, args))
    };
    // `pshufb` reads only the low four bits of indices below 128.
    let (args, swizzled) = expected("i8x16.relaxed_swizzle", 0);
    assert_eq!(swizzled.to_le_bytes()[2], 0, "index 16 gives 0, not byte {:#x}", args[0].to_le_bytes()[0]);
    // `cvttps2dq` gives i32::MIN for NaN.
    assert_eq!(i32s(expected("i32x4.relaxed_trunc_f32x4_s", 0).1)[0], 0);
    // A fused multiply-add keeps the product's low bits and does not overflow.
    let madd = f32s(expected("f32x4.relaxed_madd", 0).1);
    assert_eq!((madd[0], madd[1]), (0.0, f32::INFINITY));
    assert_eq!(f64s(expected("f64x2.relaxed_madd", 0).1), vec![0.0, f64::INFINITY]);
    // `minps` returns its second operand for a NaN or two zeros.
    let min = f32s(expected("f32x4.relaxed_min", 0).1);
    assert!(min[0].is_nan() && min[1].to_bits() == (-0.0f32).to_bits() && min[3].is_nan(), "{min:?}");
    // `pmulhrsw` gives -32768 for -32768 * -32768.
    assert_eq!(i16s(expected("i16x8.relaxed_q15mulr_s", 0).1)[0], i16::MAX);
    // `pmaddubsw` reads `a` unsigned and saturates: (-1 * -128) * 2 is 256
    // signed, -65280 saturated to -32768 unsigned.
    let dot = i16s(expected("i16x8.relaxed_dot_i8x16_i7x16_s", 0).1);
    assert_eq!((dot[0], dot[1]), (i16::MIN, 256));
    // A per-lane blend on the top bit of each mask byte would differ.
    let (args, selected) = expected("i8x16.relaxed_laneselect", 0);
    let blend = u128::from_le_bytes(std::array::from_fn(|i| {
        let byte = |v: u128| v.to_le_bytes()[i];
        if byte(args[2]) & 0x80 != 0 {
            byte(args[0])
        } else {
            byte(args[1])
        }
    }));
    assert_ne!(selected, blend);
}

#[test]
fn every_artifact_records_deterministic_relaxed_simd() {
    for cpu in [CpuChoice::Baseline, CpuChoice::Native] {
        assert_eq!(instantiate(cpu).header.relaxed_simd, RelaxedSimd::DETERMINISTIC_KILN_1, "{cpu:?}");
    }
}
