//! Translator tests of the GC operators (SPEC 3.14): golden fragments of
//! the CLIF of each family, and the verifier over every operator. Modules
//! go through the real module walk (`environ`), so struct and array types
//! and the any hierarchy are as kilnc sees them.

use cranelift_codegen::ir::{Function, UserFuncName};
use cranelift_codegen::isa::CallConv;
use cranelift_codegen::settings;
use kiln_format::{ConstExpr, ConstOp, HeapType, Instrumentation, TrapCode};

use super::{FuncEnvironment, FuncTranslator, TypeKind};
use crate::environ::translate_module;
use crate::{abi, Features, Result};

/// Translates every defined function of `wat`, checked by the verifier.
fn translate(wat: &str) -> Result<Vec<Function>> {
    let wasm = wat::parse_str(wat).expect("test input is valid text format");
    let translation = translate_module(&wasm, &Features::default())?;
    let info = &translation.info;
    let env = FuncEnvironment {
        info,
        offsets: info.vmoffsets(),
        call_conv: CallConv::SystemV,
        instrumentation: Instrumentation::NONE,
        type_kinds: TypeKind::of_all(&info.types),
    };
    let mut translator = FuncTranslator::new();
    let mut functions = Vec::new();
    for body in translation.bodies {
        let ty = info.func_type(body.func_index).expect("a defined function has a function type");
        let mut func = Function::with_name_signature(UserFuncName::user(0, body.func_index), abi::wasm_signature(ty));
        let mut validator = body.validator.into_validator(Default::default());
        translator.translate(&env, body.func_index, &body.body, &mut validator, &mut func)?;
        let flags = settings::Flags::new(settings::builder());
        if let Err(errors) = cranelift_codegen::verifier::verify_function(&func, &flags) {
            panic!("verifier errors in function {}:\n{errors}\n{}", body.func_index, func.display());
        }
        functions.push(func);
    }
    Ok(functions)
}

fn clif(wat: &str) -> String {
    translate(wat).unwrap().iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join("\n")
}

/// How a trap code appears in CLIF.
fn trap(code: TrapCode) -> String {
    abi::clif_trap_code(code).to_string()
}

/// How a builtin's exit trampoline is named in CLIF.
fn builtin(index: kiln_format::BuiltinIndex) -> String {
    format!("u{}:{}", crate::trampolines::BUILTIN_NAMESPACE, index as u32)
}

#[test]
fn struct_fields_are_read_and_written_inline_at_their_layout_offsets() {
    let text = clif(
        r#"(module
            (type $s (struct (field (mut i8)) (field (mut i64)) (field (mut i16))))
            (func (param (ref null $s)) (result i32)
                local.get 0 i32.const -1 struct.set $s 0
                local.get 0 i64.const 7 struct.set $s 1
                local.get 0 struct.get_s $s 0
                local.get 0 struct.get_u $s 2
                i32.add))"#,
    );
    let null = trap(TrapCode::NULL_STRUCT_REFERENCE);
    assert!(text.contains(&format!("trapz v1, {null}")), "{text}");
    assert!(text.contains("istore8 notrap aligned"), "{text}");
    assert!(text.contains("store notrap aligned") && text.contains("+24"), "{text}");
    assert!(text.contains("sload8.i32 notrap aligned v1+16"), "{text}");
    assert!(text.contains("uload16.i32 notrap aligned v1+32"), "{text}");
}

#[test]
fn struct_new_passes_value_slots_and_new_default_passes_null() {
    let text = clif(
        r#"(module
            (type $s (struct (field i32) (field f64) (field anyref)))
            (func (result (ref $s)) i32.const 1 f64.const 2 ref.null any struct.new $s)
            (func (result (ref $s)) struct.new_default $s))"#,
    );
    let new = builtin(kiln_format::BuiltinIndex::StructNew);
    assert!(text.contains(&new), "{text}");
    assert!(text.contains("stack_addr.i64 ss0+16") && text.contains("stack_addr.i64 ss0+32"), "{text}");
    assert!(text.contains("explicit_slot 48, align = 16"), "{text}");
    let default = text.split("function u0:1").nth(1).expect("the second function");
    assert!(default.contains("iconst.i64 0") && !default.contains("stack_store"), "{default}");
}

#[test]
fn reference_fields_go_through_the_count_barriers() {
    let text = clif(
        r#"(module
            (type $s (struct (field (mut anyref))))
            (func (param (ref $s) anyref) local.get 0 local.get 1 struct.set $s 0)
            (func (param (ref $s)) (result anyref) local.get 0 struct.get $s 0))"#,
    );
    let (set, get) = text.split_once("function u0:1").expect("two functions");
    // The write skips null and i31 words, increments before it decrements,
    // and buffers a possible cycle root.
    assert!(set.contains("band_imm") || set.contains("band "), "{set}");
    assert!(set.contains("atomic_rmw.i64 add"), "{set}");
    assert!(set.contains(&builtin(kiln_format::BuiltinIndex::DropRef)), "{set}");
    assert!(set.contains(&builtin(kiln_format::BuiltinIndex::GcPossibleRoot)), "{set}");
    assert!(set.contains("load.i32 notrap aligned") && set.contains("+8"), "the header word is read: {set}");
    // The read clones into the activations table.
    assert!(get.contains(&builtin(kiln_format::BuiltinIndex::ActivationsInsertSlow)), "{get}");
}

#[test]
fn exnref_writes_never_look_for_cycle_roots() {
    let text = clif(
        r#"(module (global $g (mut exnref) (ref.null exn))
            (func (param exnref) local.get 0 global.set $g))"#,
    );
    assert!(text.contains(&builtin(kiln_format::BuiltinIndex::DropRef)), "{text}");
    assert!(!text.contains(&builtin(kiln_format::BuiltinIndex::GcPossibleRoot)), "{text}");
}

#[test]
fn anyref_tables_and_globals_use_the_barriers_and_stack_maps() {
    let text = clif(
        r#"(module
            (import "m" "f" (func $f))
            (table $t 1 anyref)
            (global $g (mut eqref) (ref.null eq))
            (func (param i32 anyref) (result anyref)
                local.get 0 local.get 1 table.set $t
                global.get $g drop
                local.get 0 table.get $t
                call $f))"#,
    );
    assert!(text.contains(&builtin(kiln_format::BuiltinIndex::GcPossibleRoot)), "{text}");
    assert!(text.contains(&builtin(kiln_format::BuiltinIndex::ActivationsInsertSlow)), "{text}");
    assert!(text.contains("stack_map=["), "an anyref live across a call is in the stack map: {text}");
}

#[test]
fn arrays_check_null_and_bounds_inline() {
    let text = clif(
        r#"(module
            (type $a (array (mut i16)))
            (func (param (ref null $a) i32) (result i32)
                local.get 0 local.get 1 i32.const 5 array.set $a
                local.get 0 local.get 1 array.get_s $a
                local.get 0 array.len
                i32.add))"#,
    );
    assert!(text.contains(&trap(TrapCode::NULL_ARRAY_REFERENCE)), "{text}");
    assert!(text.contains(&trap(TrapCode::ARRAY_OUT_OF_BOUNDS)), "{text}");
    assert!(text.contains("load.i32 notrap aligned v1+16"), "the length: {text}");
    assert!(text.contains("icmp uge"), "{text}");
    assert!(text.contains("istore16") && text.contains("sload16.i32"), "{text}");
    assert!(text.contains("iconst.i64 20") || text.contains("+20"), "elements start at 20: {text}");
}

#[test]
fn array_allocation_and_bulk_operators_call_their_builtins() {
    use kiln_format::BuiltinIndex as B;
    let text = clif(
        r#"(module
            (type $a (array (mut i8)))
            (type $r (array (mut funcref)))
            (data $d "abc")
            (elem $e func $f)
            (func $f
                (local $x (ref null $a)) (local $y (ref null $r))
                i32.const 1 i32.const 2 array.new $a local.set $x
                i32.const 2 array.new_default $a local.set $x
                i32.const 1 i32.const 2 i32.const 3 array.new_fixed $a 3 local.set $x
                array.new_fixed $a 0 local.set $x
                i32.const 0 i32.const 3 array.new_data $a $d local.set $x
                i32.const 0 i32.const 1 array.new_elem $r $e local.set $y
                local.get $x i32.const 0 i32.const 7 i32.const 1 array.fill $a
                local.get $x i32.const 0 local.get $x i32.const 1 i32.const 1 array.copy $a $a
                local.get $x i32.const 0 i32.const 0 i32.const 1 array.init_data $a $d
                local.get $y i32.const 0 i32.const 0 i32.const 1 array.init_elem $r $e))"#,
    );
    for b in [
        B::ArrayNew,
        B::ArrayNewFixed,
        B::ArrayNewData,
        B::ArrayNewElem,
        B::ArrayFill,
        B::ArrayCopy,
        B::ArrayInitData,
        B::ArrayInitElem,
    ] {
        assert!(text.contains(&builtin(b)), "{b}: {text}");
    }
}

#[test]
fn i31_packs_into_the_reference_word() {
    let text = clif(
        r#"(module
            (func (param i32) (result i32 i32)
                local.get 0 ref.i31 i31.get_s
                local.get 0 ref.i31 i31.get_u))"#,
    );
    assert!(text.contains("ishl") && text.contains("uextend.i64") && text.contains("bor"), "{text}");
    assert!(text.contains("sshr") && text.contains("ushr"), "{text}");
    assert!(text.contains(&trap(TrapCode::NULL_I31_REFERENCE)), "{text}");
}

#[test]
fn ref_eq_and_conversions_compare_and_keep_words() {
    let text = clif(
        r#"(module
            (func (param eqref eqref externref) (result i32 anyref)
                local.get 0 local.get 1 ref.eq
                local.get 2 any.convert_extern extern.convert_any any.convert_extern))"#,
    );
    assert!(text.contains("icmp eq v1, v2"), "{text}");
    assert!(text.contains("jump block1(v") && text.contains(", v3)"), "the externref itself is returned: {text}");
}

#[test]
fn casts_cover_every_hierarchy() {
    let text = clif(
        r#"(module
            (type $f (func))
            (type $s (sub (struct)))
            (type $t (sub final $s (struct)))
            (type $a (array i8))
            (func (param anyref funcref externref exnref) (result i32)
                local.get 0 ref.test (ref any)
                local.get 0 ref.test (ref null eq) i32.add
                local.get 0 ref.test (ref i31) i32.add
                local.get 0 ref.test (ref struct) i32.add
                local.get 0 ref.test (ref array) i32.add
                local.get 0 ref.test (ref none) i32.add
                local.get 0 ref.test (ref $s) i32.add
                local.get 0 ref.test (ref $t) i32.add
                local.get 0 ref.test (ref null $a) i32.add
                local.get 1 ref.test (ref $f) i32.add
                local.get 1 ref.test (ref nofunc) i32.add
                local.get 2 ref.test (ref extern) i32.add
                local.get 2 ref.test (ref null noextern) i32.add
                local.get 3 ref.test (ref exn) i32.add
                local.get 0 ref.cast (ref null $s) drop))"#,
    );
    assert!(text.contains(&builtin(kiln_format::BuiltinIndex::IsSubtype)), "$s is not final: {text}");
    assert!(text.contains(&trap(TrapCode::CAST_FAILURE)), "{text}");
    assert!(text.contains("+12"), "the engine type id of an object: {text}");
}

#[test]
fn casts_to_final_types_compare_ids_only() {
    let text = clif(
        r#"(module
            (type $t (struct))
            (func (param anyref) (result i32) local.get 0 ref.test (ref $t)))"#,
    );
    assert!(!text.contains(&builtin(kiln_format::BuiltinIndex::IsSubtype)), "{text}");
    assert!(text.contains("load.i32 notrap aligned readonly can_move v0+32"), "the VMContext's type id: {text}");
}

#[test]
fn br_on_cast_skips_the_i31_test_of_a_source_without_i31s() {
    let text = clif(
        r#"(module
            (type $s (sub (struct)))
            (type $t (sub $s (struct)))
            (func (param (ref null $s)) (result (ref null $t))
                (block $l (result (ref null $t))
                    local.get 0 br_on_cast $l (ref null $s) (ref null $t)
                    drop ref.null $t))
            (func (param (ref null $s)) (result (ref null $s))
                (block $l (result (ref null $s))
                    local.get 0 br_on_cast_fail $l (ref null $s) (ref $t))))"#,
    );
    assert!(!text.contains("band_imm"), "{text}");
    assert!(text.contains(&builtin(kiln_format::BuiltinIndex::IsSubtype)), "{text}");
}

#[test]
fn call_indirect_through_a_non_final_type_asks_is_subtype() {
    let text = clif(
        r#"(module
            (type $t (sub (func)))
            (table 1 funcref)
            (func (param i32) local.get 0 call_indirect (type $t)))"#,
    );
    assert!(text.contains(&builtin(kiln_format::BuiltinIndex::IsSubtype)), "{text}");
    assert!(text.contains(&trap(TrapCode::BAD_SIGNATURE)), "{text}");
}

#[test]
fn gc_constant_expressions_are_kept_as_operators() {
    let wasm = wat::parse_str(
        r#"(module
            (type $s (struct (field i32) (field f32)))
            (type $a (array i64))
            (global (ref $s) (struct.new $s (i32.const 1) (f32.const 2)))
            (global (ref $a) (array.new_fixed $a 2 (i64.const 1) (i64.const 2)))
            (global (ref i31) (ref.i31 (i32.const 3)))
            (global externref (extern.convert_any (ref.null any)))
            (global i32 (i32.add (i32.const 1) (i32.const 2)))
            (global f64 (f64.const 1))
            (elem $e anyref (item (ref.i31 (i32.const 4))) (item (ref.null none))))"#,
    )
    .unwrap();
    let translation = translate_module(&wasm, &Features::default()).unwrap();
    let inits: Vec<&ConstExpr> = translation.info.globals.iter().map(|g| &g.init).collect();
    assert_eq!(
        inits[0],
        &ConstExpr::Ops(vec![ConstOp::I32Const(1), ConstOp::F32Const(2f32.to_bits()), ConstOp::StructNew(0)])
    );
    assert_eq!(
        inits[1],
        &ConstExpr::Ops(vec![
            ConstOp::I64Const(1),
            ConstOp::I64Const(2),
            ConstOp::ArrayNewFixed { type_index: 1, len: 2 }
        ])
    );
    assert_eq!(inits[2], &ConstExpr::Ops(vec![ConstOp::I32Const(3), ConstOp::RefI31]));
    assert_eq!(inits[3], &ConstExpr::Ops(vec![ConstOp::RefNull(HeapType::Any), ConstOp::ExternConvertAny]));
    assert_eq!(inits[4], &ConstExpr::I32(3), "integer expressions are still folded");
    assert_eq!(inits[5], &ConstExpr::F64(1f64.to_bits()));
    let items = &translation.info.elements[0].items;
    assert_eq!(items[0], ConstExpr::Ops(vec![ConstOp::I32Const(4), ConstOp::RefI31]));
    assert_eq!(items[1], ConstExpr::RefNull(HeapType::None));
}

#[test]
fn new_objects_live_across_calls_get_stack_maps() {
    let text = clif(
        r#"(module
            (type $s (struct))
            (import "m" "f" (func $f))
            (func (result (ref $s)) struct.new_default $s call $f))"#,
    );
    assert!(text.contains("stack_map=[i64 @ ss0+0]"), "{text}");
}

#[test]
fn without_the_gc_feature_the_any_hierarchy_is_invalid() {
    let mut options = crate::CompileOptions::default();
    options.features.set(crate::WasmFeature::Gc, false);
    for wat in [
        "(module (type (struct)))",
        "(module (func (param anyref)))",
        "(module (func (result i32) i32.const 1 ref.i31 i31.get_u))",
    ] {
        let err = crate::compile(wat.as_bytes(), &options).expect_err("refused");
        assert!(err.to_string().contains("-W gc"), "the error names the flag: {wat}: {err}");
    }
    assert!(crate::compile(b"(module (func (param anyref)))", &crate::CompileOptions::default()).is_ok());
}
