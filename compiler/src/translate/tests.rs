//! Translator tests: golden CLIF for tiny functions, and the verifier over
//! snippets that cover every operator family.

use cranelift_codegen::ir::{Function, UserFuncName};
use cranelift_codegen::isa::CallConv;
use cranelift_codegen::settings;
use kiln_format::{
    CompositeType, ConstExpr, FuncType, FunctionInfo, GlobalDef, GlobalType, Instrumentation, MemoryType, ModuleInfo,
    RefType, TableType, ValType,
};
use wasmparser::{Parser, Payload, TypeRef, ValidPayload, Validator};

use super::{FuncEnvironment, FuncTranslator};
use crate::{abi, CompileErrorKind, Result};

fn val_type(ty: wasmparser::ValType) -> ValType {
    match ty {
        wasmparser::ValType::I32 => ValType::I32,
        wasmparser::ValType::I64 => ValType::I64,
        wasmparser::ValType::F32 => ValType::F32,
        wasmparser::ValType::F64 => ValType::F64,
        wasmparser::ValType::V128 => ValType::V128,
        wasmparser::ValType::Ref(r) if r.is_extern_ref() => ValType::EXTERNREF,
        wasmparser::ValType::Ref(r) if r == wasmparser::RefType::EXNREF => ValType::EXNREF,
        wasmparser::ValType::Ref(_) => ValType::FUNCREF,
    }
}

fn ref_type(ty: wasmparser::RefType) -> RefType {
    if ty.is_extern_ref() {
        RefType::EXTERNREF
    } else {
        RefType::FUNCREF
    }
}

fn table_type(ty: wasmparser::TableType) -> TableType {
    TableType { element: ref_type(ty.element_type), minimum: ty.initial, maximum: ty.maximum, table64: ty.table64 }
}

fn memory_type(ty: wasmparser::MemoryType) -> MemoryType {
    MemoryType { minimum: ty.initial, maximum: ty.maximum, shared: ty.shared, memory64: ty.memory64 }
}

fn global_type(ty: wasmparser::GlobalType) -> GlobalType {
    GlobalType { content: val_type(ty.content_type), mutable: ty.mutable }
}

/// Just enough of the module info for translation.
fn module_info(wasm: &[u8]) -> ModuleInfo {
    let mut info = ModuleInfo::default();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.unwrap() {
            Payload::TypeSection(reader) => {
                for ty in reader.into_iter_err_on_gc_types() {
                    let ty = ty.unwrap();
                    info.types.push(CompositeType::Func(FuncType {
                        params: ty.params().iter().map(|&t| val_type(t)).collect(),
                        results: ty.results().iter().map(|&t| val_type(t)).collect(),
                    }));
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    match import.unwrap().ty {
                        TypeRef::Func(t) | TypeRef::FuncExact(t) => {
                            info.functions.push(FunctionInfo {
                                type_index: t,
                                name: None,
                                code: None,
                                inlined: Default::default(),
                            });
                            info.num_imported_funcs += 1;
                        }
                        TypeRef::Table(t) => {
                            info.tables.push(table_type(t));
                            info.num_imported_tables += 1;
                        }
                        TypeRef::Memory(m) => {
                            info.memories.push(memory_type(m));
                            info.num_imported_memories += 1;
                        }
                        TypeRef::Global(g) => {
                            info.global_types.push(global_type(g));
                            info.num_imported_globals += 1;
                        }
                        TypeRef::Tag(t) => {
                            info.tags.push(t.func_type_idx);
                            info.num_imported_tags += 1;
                        }
                    }
                }
            }
            Payload::TagSection(reader) => {
                for t in reader {
                    info.tags.push(t.unwrap().func_type_idx);
                }
            }
            Payload::FunctionSection(reader) => {
                for t in reader {
                    info.functions.push(FunctionInfo {
                        type_index: t.unwrap(),
                        name: None,
                        code: None,
                        inlined: Default::default(),
                    });
                }
            }
            Payload::TableSection(reader) => {
                for t in reader {
                    info.tables.push(table_type(t.unwrap().ty));
                }
            }
            Payload::MemorySection(reader) => {
                for m in reader {
                    info.memories.push(memory_type(m.unwrap()));
                }
            }
            Payload::GlobalSection(reader) => {
                for g in reader {
                    let ty = global_type(g.unwrap().ty);
                    info.global_types.push(ty);
                    info.globals.push(GlobalDef { ty, init: ConstExpr::I32(0) });
                }
            }
            _ => {}
        }
    }
    info
}

/// Validates and translates every defined function of a module, checking
/// each result with the Cranelift verifier.
pub(crate) fn translate_wasm(wasm: &[u8]) -> Result<Vec<Function>> {
    translate_wasm_with(wasm, Instrumentation::NONE)
}

/// [`translate_wasm`], compiling in the checks of `instrumentation`.
pub(crate) fn translate_wasm_with(wasm: &[u8], instrumentation: Instrumentation) -> Result<Vec<Function>> {
    let info = module_info(wasm);
    let env = FuncEnvironment {
        info: &info,
        offsets: info.vmoffsets(),
        call_conv: CallConv::SystemV,
        instrumentation,
        type_kinds: super::TypeKind::of_all(&info.types),
    };
    let mut validator = Validator::new();
    let mut translator = FuncTranslator::new();
    let mut functions = Vec::new();
    let mut func_index = info.num_imported_funcs;
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload?;
        if let ValidPayload::Func(to_validate, body) = validator.payload(&payload)? {
            let mut func_validator = to_validate.into_validator(Default::default());
            let ty = info.func_type(func_index).expect("a defined function has a function type");
            let mut func = Function::with_name_signature(UserFuncName::user(0, func_index), abi::wasm_signature(ty));
            translator.translate(&env, func_index, &body, &mut func_validator, &mut func)?;
            let flags = settings::Flags::new(settings::builder());
            if let Err(errors) = cranelift_codegen::verifier::verify_function(&func, &flags) {
                panic!("verifier errors in function {func_index}:\n{errors}\n{}", func.display());
            }
            functions.push(func);
            func_index += 1;
        }
    }
    Ok(functions)
}

pub(crate) fn translate_wat(wat: &str) -> Result<Vec<Function>> {
    translate_wasm(&wat::parse_str(wat).expect("test input is valid text format"))
}

pub(crate) fn clif(wat: &str) -> String {
    translate_wat(wat).unwrap().iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join("\n")
}

#[test]
fn golden_local_get() {
    let text = clif("(module (func (param i32) (result i32) local.get 0))");
    assert_eq!(
        text,
        "function u0:0(i64 vmctx, i32) -> i32 tail {
    gv0 = vmctx
    gv1 = load.i64 notrap aligned gv0
    gv2 = load.i64 notrap aligned gv1
    stack_limit = gv2

                                block0(v0: i64, v1: i32):
@001b                               jump block1(v1)

                                block1(v2: i32):
@001b                               return v2
}
"
    );
}

#[test]
fn golden_call_indirect_follows_spec_3_4() {
    let text =
        clif("(module (table 1 funcref) (type $t (func)) (func (param i32) local.get 0 call_indirect (type $t)))");
    assert_eq!(
        text,
        "function u0:0(i64 vmctx, i32) tail {
    gv0 = vmctx
    gv1 = load.i64 notrap aligned gv0
    gv2 = load.i64 notrap aligned gv1
    sig0 = (i64 vmctx) tail
    stack_limit = gv2

                                block0(v0: i64, v1: i32):
@0023                               v2 = load.i64 notrap aligned v0+48
@0023                               v3 = load.i64 notrap aligned v0+40
@0023                               v4 = uextend.i64 v1
@0023                               v5 = icmp uge v4, v2
@0023                               trapnz v5, user6
@0023                               v6 = iconst.i64 3
@0023                               v7 = ishl v4, v6  ; v6 = 3
@0023                               v8 = iadd v3, v7
@0023                               v9 = load.i64 notrap aligned v8
@0023                               trapz v9, user4
@0023                               v10 = load.i32 notrap aligned v9+16
@0023                               v11 = load.i32 notrap aligned readonly v0+32
@0023                               v12 = icmp ne v10, v11
@0023                               trapnz v12, user5
@0023                               v13 = load.i64 notrap aligned v9
@0023                               v14 = load.i64 notrap aligned v9+8
@0023                               call_indirect sig0, v13(v14)
@0026                               jump block1

                                block1:
@0026                               return
}
"
    );
}

#[test]
fn golden_memory_load() {
    let text = clif("(module (memory 1) (func (param i32) (result i32) local.get 0 i32.load offset=4))");
    assert!(text.contains("uextend.i64 v1"), "{text}");
    assert!(text.contains("load.i32 little v5+4"), "{text}");
    assert!(text.contains("+4"), "{text}");
}

#[test]
fn covers_control_flow() {
    clif(
        r#"(module
          (type $t (func (param i32 i64) (result i32 i64)))
          (func (param i32) (result i32)
            block (result i32)
              i32.const 1
              local.get 0
              br_if 0
              drop
              i32.const 2
            end
            loop (result i32)
              local.get 0
              i32.const 1
              i32.sub
              local.tee 0
              br_if 0
              i32.const 3
            end
            i32.add
            local.get 0
            if (result i32) i32.const 4 else i32.const 5 end
            i32.add)
          (func (param i32 i64) (result i32 i64)
            local.get 0 local.get 1
            block (type $t)
              local.get 0 i32.eqz
              br_if 0
              drop drop
              i32.const 8 i64.const 7
            end
            drop drop
            local.get 0 local.get 1
            local.get 0 if (type $t) else end
            drop drop
            local.get 0 local.get 1
            loop (type $t)
              drop drop local.get 0 local.get 1
            end)
          (func (param i32) (result i32)
            block block block
              local.get 0
              br_table 0 1 2 0
            end i32.const 10 return
            end i32.const 11 return
            end i32.const 12)
          (func (param i32) (result i32)
            block (result i32)
              block (result i32)
                i32.const 7 local.get 0 br_table 0 1 1
              end
              i32.const 1 i32.add
            end)
          (func (result i32)
            unreachable
            block (result f64) unreachable end drop
            if nop else nop end
            br 0)
          (func (param i32) (result i32)
            local.get 0
            if (result i32) i32.const 1 return else i32.const 2 end)
          (func (param i32)
            local.get 0 if return end)
          (func (result i32)
            block (result i32) i32.const 1 br 0 i32.const 2 end)
          (func (result i32) i32.const 1 return)
          (func (result i32 i64) i32.const 1 i64.const 2)
          (func
            loop br 0 end)
          (func (param i32) (result i32)
            block (result i32)
              i32.const 1
              local.get 0
              br_if 0
              unreachable
            end)
          (func (param i32) (local f32 f64 i64 externref funcref)
            local.get 0 i32.eqz if unreachable end)
        )"#,
    );
}

#[test]
fn covers_memory() {
    clif(
        r#"(module
          (memory 1)
          (data $d "hello")
          (func (param i32) (result i64)
            local.get 0 i32.load drop
            local.get 0 i64.load drop
            local.get 0 f32.load drop
            local.get 0 f64.load offset=4294967295 drop
            local.get 0 i32.load8_s drop
            local.get 0 i32.load8_u drop
            local.get 0 i32.load16_s drop
            local.get 0 i32.load16_u drop
            local.get 0 i64.load8_s drop
            local.get 0 i64.load8_u drop
            local.get 0 i64.load16_s drop
            local.get 0 i64.load16_u drop
            local.get 0 i64.load32_s drop
            local.get 0 local.get 0 i32.store
            local.get 0 i64.const 1 i64.store
            local.get 0 f32.const 1 f32.store
            local.get 0 f64.const 1 f64.store
            local.get 0 i32.const 1 i32.store8
            local.get 0 i32.const 1 i32.store16
            local.get 0 i64.const 1 i64.store8
            local.get 0 i64.const 1 i64.store16
            local.get 0 i64.const 1 i64.store32
            memory.size drop
            i32.const 1 memory.grow drop
            i32.const 0 i32.const 0 i32.const 0 memory.fill
            i32.const 0 i32.const 0 i32.const 0 memory.copy
            i32.const 0 i32.const 0 i32.const 0 memory.init $d
            data.drop $d
            local.get 0 i64.load32_u)
        )"#,
    );
}

#[test]
fn covers_imported_memory_tables_globals_and_calls() {
    clif(
        r#"(module
          (import "m" "f" (func $imp (param i32) (result i32)))
          (import "m" "mem" (memory 1))
          (import "m" "t" (table 1 funcref))
          (import "m" "g" (global $ig (mut i32)))
          (import "m" "r" (global $ir (mut externref)))
          (table $ft 2 funcref)
          (table $et 2 externref)
          (global $g (mut i64) (i64.const 0))
          (global $c f64 (f64.const 1))
          (global $fr (mut funcref) (ref.null func))
          (global $er (mut externref) (ref.null extern))
          (type $sig (func (param i32) (result i32)))
          (elem $e func $f)
          (elem declare func $imp)
          (func $f (param i32) (result i32)
            local.get 0 call $imp drop
            local.get 0 call $f drop
            local.get 0 i32.const 0 call_indirect (type $sig)
            drop
            local.get 0 i32.const 0 call_indirect $ft (type $sig)
            drop
            i32.const 0 i32.load drop
            global.get $ig i32.const 1 i32.add global.set $ig
            global.get $g global.set $g
            global.get $c drop
            global.get $fr global.set $fr
            global.get $er global.set $er
            global.get $ir global.set $ir
            i32.const 0 table.get $ft drop
            i32.const 0 ref.func $f table.set $ft
            i32.const 0 table.get $et drop
            i32.const 0 ref.null extern table.set $et
            table.size $ft drop
            table.size 0 drop
            ref.null func i32.const 1 table.grow $ft drop
            i32.const 0 ref.null extern i32.const 1 table.fill $et
            i32.const 0 i32.const 0 i32.const 0 table.copy $ft 0
            i32.const 0 i32.const 0 i32.const 0 table.init $ft $e
            elem.drop $e
            ref.func $imp ref.is_null drop
            ref.null extern ref.is_null drop
            i32.const 1 i32.const 2 local.get 0 select drop
            ref.null extern ref.null extern local.get 0 select (result externref) drop
            local.get 0)
          (func (param externref) (result externref)
            (local externref)
            local.get 0 local.set 1
            i32.const 0 call $imp drop
            local.get 1)
        )"#,
    );
}

#[test]
fn v128_travels_through_locals_blocks_calls_and_globals() {
    // Every path a value takes outside SIMD operators: parameters, locals,
    // block parameters and results, `select`, direct and imported calls,
    // defined and imported globals.
    clif(
        r#"(module
          (import "m" "g" (global $ig (mut v128)))
          (import "m" "f" (func $imp (param v128) (result v128)))
          (global $g (mut v128) (v128.const i32x4 1 2 3 4))
          (type $vv (func (param v128) (result v128)))
          (func $id (param v128) (result v128) local.get 0)
          (func (param v128 i32) (result v128 v128)
            (local v128)
            local.get 0 local.set 2
            global.get $g global.set $ig
            global.get $ig global.set $g
            local.get 0
            block (param v128) (result v128) call $id end
            local.get 2
            local.get 1
            select
            loop (param v128) (result v128) call $imp end
            local.get 0
            local.get 1
            if (param v128) (result v128) else drop v128.const i64x2 0 0 end))"#,
    );
}

#[test]
fn invalid_bodies_are_refused_with_location() {
    let wasm = wat::parse_str("(module (func (result i32) i64.const 0))").unwrap();
    // Validation happens while translating, so the module-level validator
    // is given the code entry; the error names the function and offset.
    let err = translate_wasm(&wasm).unwrap_err();
    assert_eq!(err.kind(), CompileErrorKind::Invalid, "{err}");
    assert_eq!(err.func_index(), Some(0));
    assert!(err.offset().is_some());
}

#[test]
fn externrefs_live_across_calls_get_stack_maps() {
    let text = clif(
        r#"(module (import "m" "f" (func $f))
            (func (param externref) (result externref) call $f local.get 0))"#,
    );
    assert!(text.contains("stack_map=[i64 @ ss0+0]"), "{text}");
}

#[test]
fn translation_is_deterministic() {
    let wat = r#"(module (table 1 funcref) (type $t (func (param i32) (result i32)))
        (func (param i32) (result i32)
          block block block local.get 0 br_table 2 1 0 2 1 end end end
          local.get 0 i32.const 0 call_indirect (type $t)))"#;
    assert_eq!(clif(wat), clif(wat));
}

#[test]
fn golden_epoch_checks_at_entry_and_loop_header() {
    let wasm = wat::parse_str("(module (func (loop br 0)))").unwrap();
    let text = translate_wasm_with(&wasm, Instrumentation::EPOCH).unwrap()[0].display().to_string();
    // The entry caches the epoch pointer (`v1+40`) and the deadline (`+32`)
    // and checks; the loop header's check (`@0017`), where the back edge
    // (`@0019`) returns, is one load of the epoch and a compare. The builtin
    // `u3:13` is `epoch_deadline`; the epoch pointer and the deadline are
    // both read again after it, so no cached value is live across the call.
    assert_eq!(
        text,
        "function u0:0(i64 vmctx) tail {
    gv0 = vmctx
    gv1 = load.i64 notrap aligned gv0
    gv2 = load.i64 notrap aligned gv1
    sig0 = (i64) preserve_all
    fn0 = colocated u3:13 sig0
    stack_limit = gv2

                                block0(v0: i64):
                                    v1 = load.i64 notrap aligned readonly v0
                                    v2 = load.i64 notrap aligned readonly v1+40
                                    v3 = load.i64 notrap aligned v1+32
                                    v4 = load.i64 notrap aligned v2
                                    v5 = icmp uge v4, v3
                                    brif v5, block1, block2(v2, v3)

                                block1 cold:
                                    call fn0(v0)
                                    v6 = load.i64 notrap aligned readonly v0
                                    v7 = load.i64 notrap aligned readonly v6+40
                                    v8 = load.i64 notrap aligned v6+32
                                    jump block2(v7, v8)

                                block2(v16: i64, v18: i64):
@0017                               jump block4(v16, v18)

                                block4(v9: i64, v11: i64):
@0017                               v10 = load.i64 notrap aligned v9
@0017                               v12 = icmp uge v10, v11
@0017                               brif v12, block6, block7(v9, v11)

                                block6 cold:
@0017                               call fn0(v0)
@0017                               v13 = load.i64 notrap aligned readonly v0
@0017                               v14 = load.i64 notrap aligned readonly v13+40
@0017                               v15 = load.i64 notrap aligned v13+32
@0017                               jump block7(v14, v15)

                                block7(v17: i64, v19: i64):
@0019                               jump block4(v17, v19)
}
"
    );
}

#[test]
fn golden_fuel_checks_at_entry_and_loop_header() {
    let wasm = wat::parse_str("(module (func (loop i32.const 1 drop br 0)))").unwrap();
    let text = translate_wasm_with(&wasm, Instrumentation::FUEL).unwrap()[0].display().to_string();
    // The entry check reads the counter (`v1+48`) into a variable, the
    // loop header checks it, and the back edge adds the body's cost, 2
    // (`i32.const` and `br`; `drop` is free): memory is written only on the
    // cold path, around the builtin `u3:14`, `out_of_fuel`.
    assert_eq!(
        text,
        "function u0:0(i64 vmctx) tail {
    gv0 = vmctx
    gv1 = load.i64 notrap aligned gv0
    gv2 = load.i64 notrap aligned gv1
    sig0 = (i64) preserve_all
    fn0 = colocated u3:14 sig0
    stack_limit = gv2

                                block0(v0: i64):
                                    v1 = load.i64 notrap aligned readonly v0
                                    v2 = load.i64 notrap aligned v1+48
                                    v3 = iconst.i64 0
                                    v4 = icmp sge v2, v3  ; v3 = 0
                                    brif v4, block1, block2(v2)

                                block1 cold:
                                    v5 = load.i64 notrap aligned readonly v0
                                    store.i64 notrap aligned v2, v5+48
                                    call fn0(v0)
                                    v6 = load.i64 notrap aligned readonly v0
                                    v7 = load.i64 notrap aligned v6+48
                                    jump block2(v7)

                                block2(v18: i64):
@0017                               jump block4(v18)

                                block4(v8: i64):
@0017                               v9 = iconst.i64 0
@0017                               v10 = icmp sge v8, v9  ; v9 = 0
@0017                               brif v10, block6, block7(v8)

                                block6 cold:
@0017                               v11 = load.i64 notrap aligned readonly v0
@0017                               store.i64 notrap aligned v8, v11+48
@0017                               call fn0(v0)
@0017                               v12 = load.i64 notrap aligned readonly v0
@0017                               v13 = load.i64 notrap aligned v12+48
@0017                               jump block7(v13)

                                block7(v15: i64):
@0019                               v14 = iconst.i32 1
@001c                               v16 = iconst.i64 2
@001c                               v17 = iadd v15, v16  ; v16 = 2
@001c                               jump block4(v17)
}
"
    );
}

#[test]
fn epoch_checks_skip_functions_without_loops_or_calls() {
    let wasm = wat::parse_str(
        "(module
           (func $leaf (param i32) (result i32) (if (result i32) (local.get 0) (then (i32.const 1)) (else (i32.const 2))))
           (func (result i32) (call $leaf (i32.const 0))))",
    )
    .unwrap();
    let functions = translate_wasm_with(&wasm, Instrumentation::EPOCH).unwrap();
    let [leaf, caller] = [0, 1].map(|i| functions[i].display().to_string());
    assert!(!leaf.contains("u3:13"), "a leaf without loops needs no check:\n{leaf}");
    assert!(caller.contains("u3:13"), "a caller checks at entry:\n{caller}");
}

/// The blocks and instructions of `clif`'s functions, without their
/// signatures and preambles, whose calling convention is another matter.
fn bodies(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|line| line.starts_with('@') || line.starts_with("block"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A 64-bit memory's access whose offset fits the guard compares the
/// address alone with the length (and faults in the guard past it); one
/// with a larger offset checks its end, trapping if that overflows.
#[test]
fn golden_memory64_accesses_are_checked() {
    let text = clif(
        r#"(module (memory i64 1)
            (func (param i64) (result i32) local.get 0 i32.load offset=16)
            (func (param i64) (result i32) local.get 0 i32.load offset=0x1_0000_0000))"#,
    );
    let expected = "\
block0(v0: i64, v1: i64):
@0021                               v3 = load.i64 notrap aligned v0+48
@0021                               v4 = icmp ugt v1, v3
@0021                               trapnz v4, heap_oob
@0021                               v5 = load.i64 notrap aligned readonly v0+40
@0021                               v6 = iadd v5, v1
@0021                               v7 = load.i32 little v6+16
@0024                               jump block1(v7)
block1(v2: i32):
@0024                               return v2
block0(v0: i64, v1: i64):
@0029                               v3 = load.i64 notrap aligned v0+48
@0029                               v4 = iconst.i64 0x0001_0000_0004
@0029                               v5 = uadd_overflow_trap v1, v4, heap_oob  ; v4 = 0x0001_0000_0004
@0029                               v6 = icmp ugt v5, v3
@0029                               trapnz v6, heap_oob
@0029                               v7 = load.i64 notrap aligned readonly v0+40
@0029                               v8 = iadd v7, v1
@0029                               v9 = iconst.i64 0x0001_0000_0000
@0029                               v10 = iadd v8, v9  ; v9 = 0x0001_0000_0000
@0029                               v11 = load.i32 little v10
@0030                               jump block1(v11)
block1(v2: i32):
@0030                               return v2";
    assert_eq!(bodies(&text), expected, "{text}");
}

#[test]
fn memory64_sizes_and_mixed_copies_use_each_memorys_index_type() {
    let text = clif(
        r#"(module (memory $a 1) (memory $b i64 1)
            (func (result i32) memory.size $a)
            (func (result i64) memory.size $b)
            (func (param i64) (result i64) local.get 0 memory.grow $b)
            (func (param i64 i32 i32) local.get 0 local.get 1 local.get 2 memory.copy $b $a))"#,
    );
    // The 32-bit operands of the mixed copy (source and length) are
    // zero-extended for the builtin; the 64-bit ones go as they are.
    assert!(text.contains("v4 = uextend.i64 v2\n"), "{text}");
    assert!(text.contains("v5 = uextend.i64 v3\n"), "{text}");
    assert!(text.contains("call fn0(v0, v6, v1, v7, v4, v5)  ; v6 = 1, v7 = 0"), "{text}");
    assert!(!text.contains("uextend.i64 v1\n"), "{text}");
    assert_eq!(text.matches("ireduce.i32").count(), 1, "only the 32-bit memory.size narrows: {text}");
}

#[test]
fn golden_narrow_atomic_rmw_checks_alignment_then_accesses_atomically() {
    let text = clif(
        "(module (memory 1 1 shared)
           (func (param i32 i32) (result i32) local.get 0 local.get 1 i32.atomic.rmw16.add_u offset=6))",
    );
    // The shared memory's definition is reached through the pointer in
    // its slot (SPEC 3.12), then the address is checked, then accessed.
    // (Cranelift prints no memory flags for atomic read-modify-writes; the
    // probe's `little` load keeps the default `heap_oob` trap code.)
    let expected_body = "
                                block0(v0: i64, v1: i32, v2: i32):
@0024                               v4 = load.i64 notrap aligned readonly v0+40
@0024                               v5 = load.i64 notrap aligned readonly v4
@0024                               v6 = uextend.i64 v1
@0024                               v7 = iadd v5, v6
@0024                               v8 = iconst.i64 6
@0024                               v9 = iadd v7, v8  ; v8 = 6
@0024                               v10 = iconst.i64 1
@0024                               v11 = band v9, v10  ; v10 = 1
@0024                               brif v11, block2, block3

                                block2 cold:
@0024                               v12 = load.i8 little v9+1
@0024                               trap user15

                                block3:
@0024                               v13 = ireduce.i16 v2
@0024                               v14 = atomic_rmw.i16 add v9, v13
@0024                               v15 = uextend.i32 v14
@0028                               jump block1(v15)
";
    assert!(text.contains(expected_body), "{text}");
}

#[test]
fn shared_memory_size_is_an_atomic_load() {
    let text = clif("(module (memory 1 2 shared) (func (result i32) memory.size))");
    assert!(text.contains("atomic_load.i64 notrap aligned"), "{text}");
    let unshared = clif("(module (memory 1 2) (func (result i32) memory.size))");
    assert!(!unshared.contains("atomic_load"), "{unshared}");
}

#[test]
fn covers_every_atomic_operator() {
    let mut body = String::new();
    for (ty, ops) in
        [("i32", &["load", "load8_u", "load16_u"][..]), ("i64", &["load", "load8_u", "load16_u", "load32_u"][..])]
    {
        for op in ops {
            body.push_str(&format!("(drop ({ty}.atomic.{op} (i32.const 0)))\n"));
        }
    }
    for (ty, widths) in [("i32", &["", "8", "16"][..]), ("i64", &["", "8", "16", "32"][..])] {
        for width in widths {
            let suffix = if width.is_empty() { "" } else { "_u" };
            body.push_str(&format!("({ty}.atomic.store{width} (i32.const 0) ({ty}.const 1))\n"));
            for rmw in ["add", "sub", "and", "or", "xor", "xchg"] {
                body.push_str(&format!("(drop ({ty}.atomic.rmw{width}.{rmw}{suffix} (i32.const 0) ({ty}.const 1)))\n"));
            }
            body.push_str(&format!(
                "(drop ({ty}.atomic.rmw{width}.cmpxchg{suffix} (i32.const 0) ({ty}.const 1) ({ty}.const 2)))\n"
            ));
        }
    }
    body.push_str("(atomic.fence)\n");
    body.push_str("(drop (memory.atomic.notify (i32.const 0) (i32.const 1)))\n");
    body.push_str("(drop (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const -1)))\n");
    body.push_str("(drop (memory.atomic.wait64 (i32.const 0) (i64.const 0) (i64.const -1)))\n");
    for memory in ["(memory 1 1 shared)", "(memory 1 1)", "(import \"m\" \"m\" (memory 1 1 shared))"] {
        clif(&format!("(module {memory} (func {body}))"));
    }
}

#[test]
fn golden_try_table_makes_its_calls_try_calls_with_a_landing_pad_per_clause() {
    // The call inside the try_table is a `try_call` whose exception table
    // holds the caller's VMContext, then `catch $e` (tag 0) and
    // `catch_all_ref`, in order; the call after it is a plain `call`. The
    // `catch $e` pad reads the value through `exn_values` (builtin 20) into
    // a stack slot; the `catch_all_ref` pad passes the exnref on.
    let functions = translate_wat(
        "(module
            (tag $e (param i32))
            (func $f)
            (func (result i32)
                (block $all (result exnref)
                    (block $caught (result i32)
                        (try_table (catch $e $caught) (catch_all_ref $all) (call $f))
                        (call $f)
                        (return (i32.const 0)))
                    (return))
                drop
                (i32.const 1)))",
    )
    .unwrap();
    assert_eq!(
        functions[1].display().to_string(),
        "function u0:1(i64 vmctx) -> i32 tail {
    ss0 = explicit_slot 16, align = 16
    gv0 = vmctx
    gv1 = load.i64 notrap aligned gv0
    gv2 = load.i64 notrap aligned gv1
    sig0 = (i64 vmctx) tail
    sig1 = (i64, i64, i64) system_v
    fn0 = colocated u0:0 sig0
    fn1 = colocated u3:20 sig1
    stack_limit = gv2

                                block0(v0: i64):
@0034                               try_call fn0(v0), sig0, block7, [ context v0, tag0: block5(exn0), default: block6(exn0) ]

                                block7:
@0036                               jump block4

                                block5(v4: i64):
@0036                               v6 = stack_addr.i64 ss0
@0036                               call fn1(v0, v4, v6)
@0036                               v7 = stack_addr.i64 ss0
@0036                               v8 = load.i32 notrap v7
@0036                               jump block3(v8)

                                block6(v5: i64):
@0036                               jump block2(v5)

                                block4:
@0037                               call fn0(v0)
@0039                               v9 = iconst.i32 0
@003b                               return v9  ; v9 = 0

                                block3(v3: i32):
@003d                               return v3

                                block2(v2: i64):
@0040                               v10 = iconst.i32 1
@0042                               jump block1(v10)  ; v10 = 1

                                block1(v1: i32):
@0042                               return v1
}
"
    );
}

#[test]
fn golden_return_call_inside_try_table_is_a_plain_tail_call() {
    // A tail call replaces the frame whose handlers would catch, so it is
    // not protected by them (the specification's rule): no `try_call`.
    let functions = translate_wat(
        "(module
            (tag $e)
            (func $f)
            (func
                (block $caught
                    (try_table (catch $e $caught) (return_call $f)))))",
    )
    .unwrap();
    let text = functions[1].display().to_string();
    assert!(text.contains("return_call fn0(v0)"), "{text}");
    assert!(!text.contains("try_call"), "{text}");
}
