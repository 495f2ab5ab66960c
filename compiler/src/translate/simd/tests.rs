//! SIMD translation tests: golden CLIF for a few operators, and every
//! vector operator of WebAssembly 2.0 and of relaxed SIMD verified and
//! compiled for kilnc's baseline CPU at both optimisation levels.

use std::collections::BTreeSet;

use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::Function;
use cranelift_codegen::Context;
use wasmparser::{Parser, Payload};

use crate::options::{OptLevel, Target};
use crate::translate::operators::operator_name;
use crate::translate::tests::{clif, translate_wat};
use crate::CompileOptions;

/// Operand shapes, as the `local.get`s that supply them from the test
/// function's parameters `(v128 v128 v128 i32 i64 f32 f64)`.
const SHAPES: &[(&str, &str)] = &[
    ("", ""),
    ("v", "local.get 0"),
    ("vv", "local.get 0 local.get 1"),
    ("vvv", "local.get 0 local.get 1 local.get 2"),
    ("vi", "local.get 0 local.get 3"),
    ("vl", "local.get 0 local.get 4"),
    ("vf", "local.get 0 local.get 5"),
    ("vd", "local.get 0 local.get 6"),
    ("i", "local.get 3"),
    ("l", "local.get 4"),
    ("f", "local.get 5"),
    ("d", "local.get 6"),
    ("iv", "local.get 3 local.get 0"),
];

/// Every SIMD and relaxed-SIMD operator in text form, by operand shape.
fn operators() -> Vec<(&'static str, String)> {
    let mut ops: Vec<(&'static str, String)> = Vec::new();
    let mut add = |shape: &'static str, list: &str| {
        ops.extend(list.split(',').map(|op| op.trim()).filter(|op| !op.is_empty()).map(|op| (shape, op.to_string())));
    };
    add("", "v128.const i32x4 1 -2 0x7fffffff 0x80000000");
    add("vv", "i8x16.shuffle 0 17 2 19 4 21 6 23 8 25 10 27 12 29 14 31, i8x16.swizzle");
    add("i", "i8x16.splat, i16x8.splat, i32x4.splat");
    add("l", "i64x2.splat");
    add("f", "f32x4.splat");
    add("d", "f64x2.splat");
    add(
        "v",
        "i8x16.extract_lane_s 15, i8x16.extract_lane_u 15, i16x8.extract_lane_s 7, i16x8.extract_lane_u 7,
         i32x4.extract_lane 3, i64x2.extract_lane 1, f32x4.extract_lane 3, f64x2.extract_lane 1",
    );
    add("vi", "i8x16.replace_lane 15, i16x8.replace_lane 7, i32x4.replace_lane 3");
    add("vl", "i64x2.replace_lane 1");
    add("vf", "f32x4.replace_lane 3");
    add("vd", "f64x2.replace_lane 1");
    for lanes in ["i8x16", "i16x8", "i32x4"] {
        for cmp in ["eq", "ne", "lt_s", "lt_u", "gt_s", "gt_u", "le_s", "le_u", "ge_s", "ge_u"] {
            add("vv", &format!("{lanes}.{cmp}"));
        }
    }
    add("vv", "i64x2.eq, i64x2.ne, i64x2.lt_s, i64x2.gt_s, i64x2.le_s, i64x2.ge_s");
    for lanes in ["f32x4", "f64x2"] {
        for op in ["eq", "ne", "lt", "gt", "le", "ge", "add", "sub", "mul", "div", "min", "max", "pmin", "pmax"] {
            add("vv", &format!("{lanes}.{op}"));
        }
        for op in ["ceil", "floor", "trunc", "nearest", "abs", "neg", "sqrt"] {
            add("v", &format!("{lanes}.{op}"));
        }
    }
    add("v", "v128.not, v128.any_true");
    add("vv", "v128.and, v128.andnot, v128.or, v128.xor");
    add("vvv", "v128.bitselect");
    for lanes in ["i8x16", "i16x8", "i32x4", "i64x2"] {
        for op in ["abs", "neg", "all_true", "bitmask"] {
            add("v", &format!("{lanes}.{op}"));
        }
        for op in ["shl", "shr_s", "shr_u"] {
            add("vi", &format!("{lanes}.{op}"));
        }
        for op in ["add", "sub"] {
            add("vv", &format!("{lanes}.{op}"));
        }
    }
    for lanes in ["i8x16", "i16x8"] {
        for op in ["add_sat_s", "add_sat_u", "sub_sat_s", "sub_sat_u", "avgr_u"] {
            add("vv", &format!("{lanes}.{op}"));
        }
    }
    for lanes in ["i8x16", "i16x8", "i32x4"] {
        for op in ["min_s", "min_u", "max_s", "max_u"] {
            add("vv", &format!("{lanes}.{op}"));
        }
    }
    add("v", "i8x16.popcnt");
    add(
        "vv",
        "i8x16.narrow_i16x8_s, i8x16.narrow_i16x8_u, i16x8.narrow_i32x4_s, i16x8.narrow_i32x4_u,
         i16x8.mul, i32x4.mul, i64x2.mul, i16x8.q15mulr_sat_s, i32x4.dot_i16x8_s",
    );
    for (wide, narrow) in [("i16x8", "i8x16"), ("i32x4", "i16x8"), ("i64x2", "i32x4")] {
        for half in ["low", "high"] {
            for sign in ["s", "u"] {
                add("v", &format!("{wide}.extend_{half}_{narrow}_{sign}"));
                add("vv", &format!("{wide}.extmul_{half}_{narrow}_{sign}"));
            }
        }
    }
    add(
        "v",
        "i16x8.extadd_pairwise_i8x16_s, i16x8.extadd_pairwise_i8x16_u,
         i32x4.extadd_pairwise_i16x8_s, i32x4.extadd_pairwise_i16x8_u,
         i32x4.trunc_sat_f32x4_s, i32x4.trunc_sat_f32x4_u, f32x4.convert_i32x4_s, f32x4.convert_i32x4_u,
         i32x4.trunc_sat_f64x2_s_zero, i32x4.trunc_sat_f64x2_u_zero,
         f64x2.convert_low_i32x4_s, f64x2.convert_low_i32x4_u,
         f32x4.demote_f64x2_zero, f64x2.promote_low_f32x4",
    );
    add(
        "vv",
        "i8x16.relaxed_swizzle, f32x4.relaxed_min, f32x4.relaxed_max, f64x2.relaxed_min, f64x2.relaxed_max,
         i16x8.relaxed_q15mulr_s, i16x8.relaxed_dot_i8x16_i7x16_s",
    );
    add(
        "v",
        "i32x4.relaxed_trunc_f32x4_s, i32x4.relaxed_trunc_f32x4_u,
         i32x4.relaxed_trunc_f64x2_s_zero, i32x4.relaxed_trunc_f64x2_u_zero",
    );
    add(
        "vvv",
        "f32x4.relaxed_madd, f32x4.relaxed_nmadd, f64x2.relaxed_madd, f64x2.relaxed_nmadd,
         i8x16.relaxed_laneselect, i16x8.relaxed_laneselect, i32x4.relaxed_laneselect, i64x2.relaxed_laneselect,
         i32x4.relaxed_dot_i8x16_i7x16_add_s",
    );
    add(
        "i",
        "v128.load offset=3 align=1, v128.load8x8_s, v128.load8x8_u, v128.load16x4_s, v128.load16x4_u,
         v128.load32x2_s, v128.load32x2_u offset=0x80000000,
         v128.load8_splat, v128.load16_splat, v128.load32_splat, v128.load64_splat,
         v128.load32_zero, v128.load64_zero offset=65535",
    );
    add(
        "iv",
        "v128.store offset=16, v128.load8_lane 15, v128.load16_lane 7, v128.load32_lane 3, v128.load64_lane 1,
         v128.store8_lane 15, v128.store16_lane 7, v128.store32_lane 3, v128.store64_lane offset=7 1",
    );
    ops
}

/// One module with a function per operator; each drops its result.
fn module_text() -> String {
    let mut text = String::from("(module (memory 1)\n");
    for (shape, op) in operators() {
        let operands = SHAPES.iter().find(|(s, _)| *s == shape).map(|(_, o)| *o).unwrap_or_default();
        let stores = op.starts_with("v128.store");
        let drop = if stores { "" } else { "drop" };
        text.push_str(&format!("  (func (param v128 v128 v128 i32 i64 f32 f64) {operands} {op} {drop})\n"));
    }
    text.push(')');
    text
}

macro_rules! collect_simd_operator_names {
    ($( @$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*) )*) => {
        /// Names of the operators of wasmparser's `proposal` (`simd` or
        /// `relaxed_simd`).
        fn operator_names(proposal: &str) -> BTreeSet<&'static str> {
            let mut names = BTreeSet::new();
            $( if stringify!($proposal) == proposal { names.insert(stringify!($op)); } )*
            names
        }
    };
}
wasmparser::for_each_visit_simd_operator!(collect_simd_operator_names);

#[test]
fn simd_cases_cover_every_simd_and_relaxed_simd_operator() {
    let wasm = wat::parse_str(module_text()).unwrap();
    let mut seen = BTreeSet::new();
    for payload in Parser::new(0).parse_all(&wasm) {
        if let Payload::CodeSectionEntry(body) = payload.unwrap() {
            let mut ops = body.get_operators_reader().unwrap();
            while !ops.eof() {
                seen.insert(operator_name(&ops.read().unwrap()));
            }
        }
    }
    let simd = operator_names("simd");
    assert_eq!(simd.len(), 236, "the SIMD proposal has 236 operators");
    let relaxed = operator_names("relaxed_simd");
    assert_eq!(relaxed.len(), 20, "the relaxed-SIMD proposal has 20 operators");
    let missing: Vec<_> = simd.union(&relaxed).filter(|name| !seen.contains(*name)).collect();
    assert!(missing.is_empty(), "operators without a test case: {missing:?}");
}

/// Compiles `func` for kilnc's default target at `opt_level`: any operator
/// whose lowering needs more than the baseline CPU fails here, and a
/// libcall would show up as a relocation.
fn compile_for_baseline(func: &Function, opt_level: OptLevel) {
    let target = Target::new(&CompileOptions { opt_level, ..CompileOptions::default() }).unwrap();
    let mut ctx = Context::for_function(func.clone());
    let code = match ctx.compile(&*target.isa, &mut ControlPlane::default()) {
        Ok(code) => code,
        Err(error) => panic!("compilation failed at {opt_level}: {:?}\nin\n{}", error.inner, func.display()),
    };
    assert!(code.buffer.relocs().is_empty(), "relocations {:?} in\n{}", code.buffer.relocs(), func.display());
}

#[test]
fn every_simd_operator_verifies_and_compiles_for_the_baseline_cpu() {
    let functions = translate_wat(&module_text()).unwrap();
    assert_eq!(functions.len(), operators().len());
    for func in &functions {
        for opt_level in [OptLevel::None, OptLevel::Speed] {
            compile_for_baseline(func, opt_level);
        }
    }
}

#[test]
fn golden_i32x4_add_bitcasts_to_its_lanes_and_back() {
    let text = clif("(module (func (param v128 v128) (result v128) local.get 0 local.get 1 i32x4.add))");
    assert_eq!(
        text,
        "function u0:0(i64 vmctx, i8x16, i8x16) -> i8x16 tail {
    gv0 = vmctx
    gv1 = load.i64 notrap aligned gv0
    gv2 = load.i64 notrap aligned gv1
    stack_limit = gv2

                                block0(v0: i64, v1: i8x16, v2: i8x16):
@001e                               v4 = bitcast.i32x4 little v1
@001e                               v5 = bitcast.i32x4 little v2
@001e                               v6 = iadd v4, v5
@001e                               v7 = bitcast.i8x16 little v6
@0021                               jump block1(v7)

                                block1(v3: i8x16):
@0021                               return v3
}
"
    );
}

#[test]
fn golden_extract_lane_s_extends_to_i32() {
    let text = clif("(module (func (param v128) (result i32) local.get 0 i8x16.extract_lane_s 5))");
    assert_eq!(
        text,
        "function u0:0(i64 vmctx, i8x16) -> i32 tail {
    gv0 = vmctx
    gv1 = load.i64 notrap aligned gv0
    gv2 = load.i64 notrap aligned gv1
    stack_limit = gv2

                                block0(v0: i64, v1: i8x16):
@001b                               v3 = extractlane v1, 5
@001b                               v4 = sextend.i32 v3
@001e                               jump block1(v4)

                                block1(v2: i32):
@001e                               return v2
}
"
    );
}

#[test]
fn golden_pmin_selects_the_first_operand_unless_the_second_is_less() {
    let text = clif("(module (func (param v128 v128) (result v128) local.get 0 local.get 1 f32x4.pmin))");
    assert_eq!(
        text,
        "function u0:0(i64 vmctx, i8x16, i8x16) -> i8x16 tail {
    gv0 = vmctx
    gv1 = load.i64 notrap aligned gv0
    gv2 = load.i64 notrap aligned gv1
    stack_limit = gv2

                                block0(v0: i64, v1: i8x16, v2: i8x16):
@001e                               v4 = bitcast.f32x4 little v1
@001e                               v5 = bitcast.f32x4 little v2
@001e                               v6 = fcmp lt v5, v4
@001e                               v7 = bitcast.f32x4 little v6
@001e                               v8 = bitselect v7, v5, v4
@001e                               v9 = bitcast.i8x16 little v8
@0021                               jump block1(v9)

                                block1(v3: i8x16):
@0021                               return v3
}
"
    );
}

#[test]
fn golden_load_lane_uses_the_scalar_addressing() {
    let text = clif(
        "(module (memory 1) (func (param i32 v128) (result v128) local.get 0 local.get 1 v128.load16_lane offset=6 3))",
    );
    assert_eq!(
        text,
        "function u0:0(i64 vmctx, i32, i8x16) -> i8x16 tail {
    region0 = 0 \"linear memory\"
    gv0 = vmctx
    gv1 = load.i64 notrap aligned gv0
    gv2 = load.i64 notrap aligned gv1
    stack_limit = gv2

                                block0(v0: i64, v1: i32, v2: i8x16):
@0023                               v4 = load.i64 notrap aligned readonly can_move v0+40
@0023                               v5 = uextend.i64 v1
@0023                               v6 = iadd v4, v5
@0023                               v7 = load.i16 little region0 v6+6
@0023                               v8 = bitcast.i16x8 little v2
@0023                               v9 = insertlane v8, v7, 3
@0023                               v10 = bitcast.i8x16 little v9
@0028                               jump block1(v10)

                                block1(v3: i8x16):
@0028                               return v3
}
"
    );
}

#[test]
fn golden_trunc_sat_f64x2_zero_has_the_shape_the_backend_matches() {
    let text = clif("(module (func (param v128) (result v128) local.get 0 i32x4.trunc_sat_f64x2_s_zero))");
    assert_eq!(
        text,
        "function u0:0(i64 vmctx, i8x16) -> i8x16 tail {
    gv0 = vmctx
    gv1 = load.i64 notrap aligned gv0
    gv2 = load.i64 notrap aligned gv1
    const0 = 0x00000000000000000000000000000000
    stack_limit = gv2

                                block0(v0: i64, v1: i8x16):
@001b                               v3 = bitcast.f64x2 little v1
@001b                               v4 = vconst.i64x2 const0
@001b                               v5 = fcvt_to_sint_sat.i64x2 v3
@001b                               v6 = snarrow v5, v4  ; v4 = const0
@001b                               v7 = bitcast.i8x16 little v6
@001e                               jump block1(v7)

                                block1(v2: i8x16):
@001e                               return v2
}
"
    );
}

#[test]
fn golden_relaxed_madd_rounds_the_product_before_the_sum() {
    let text = clif(
        "(module (func (param v128 v128 v128) (result v128) local.get 0 local.get 1 local.get 2 f32x4.relaxed_nmadd))",
    );
    assert_eq!(
        text,
        "function u0:0(i64 vmctx, i8x16, i8x16, i8x16) -> i8x16 tail {
    gv0 = vmctx
    gv1 = load.i64 notrap aligned gv0
    gv2 = load.i64 notrap aligned gv1
    stack_limit = gv2

                                block0(v0: i64, v1: i8x16, v2: i8x16, v3: i8x16):
@0021                               v5 = bitcast.f32x4 little v3
@0021                               v6 = bitcast.f32x4 little v1
@0021                               v7 = bitcast.f32x4 little v2
@0021                               v8 = fneg v6
@0021                               v9 = fmul v8, v7
@0021                               v10 = fadd v9, v5
@0021                               v11 = bitcast.i8x16 little v10
@0024                               jump block1(v11)

                                block1(v4: i8x16):
@0024                               return v4
}
"
    );
}
