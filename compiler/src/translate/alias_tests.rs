//! What the memory flags and alias regions let Cranelift do, checked on the
//! CLIF after its mid-end (alias analysis, GVN, LICM), and what they must
//! not let it do across a call.

use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::Function;
use cranelift_codegen::Context;

use super::tests::translate_wat;
use crate::options::{CompileOptions, Target};

/// The optimized CLIF of every function of `wat`.
fn optimized(wat: &str) -> Vec<String> {
    let target = Target::new(&CompileOptions::default()).expect("the default target");
    translate_wat(wat)
        .expect("translates")
        .into_iter()
        .map(|func: Function| {
            let mut context = Context::for_function(func);
            context.optimize(&*target.isa, &mut ControlPlane::default()).expect("optimizes");
            context.func.display().to_string()
        })
        .collect()
}

/// The lines of `clif` that load from the VMContext at `offset`.
fn vmctx_loads(clif: &str, offset: u32) -> Vec<&str> {
    let at = format!(" v0+{offset}");
    clif.lines().filter(|l| l.contains("= load") && l.trim_end().ends_with(&at)).collect()
}

/// The VMContext offset of memory 0's base in a module with one defined
/// memory and no imports, read off the unoptimized CLIF of an access.
fn memory_base_offset(clif: &str) -> u32 {
    let line = clif.lines().find(|l| l.contains("readonly can_move v0+")).expect("a memory base load");
    line.rsplit("v0+").next().and_then(|n| n.trim().parse().ok()).expect("an offset")
}

#[test]
fn a_memory_base_is_loaded_once_and_hoisted_out_of_a_loop() {
    let wat = r#"(module (memory 1)
        (func (param i32) (result i32) (local i32)
          loop
            local.get 1
            local.get 0
            i32.load
            i32.add
            local.set 1
            local.get 0
            local.get 1
            i32.store offset=4
            local.get 0
            i32.const 4
            i32.sub
            local.tee 0
            br_if 0
          end
          local.get 1))"#;
    let clif = &optimized(wat)[0];
    let base = memory_base_offset(clif);
    let loads = vmctx_loads(clif, base);
    assert_eq!(loads.len(), 1, "one base load for the load and the store: {clif}");
    // The load sits in the entry block, before the loop's header.
    let entry = clif.split("block1").next().expect("an entry block");
    assert!(entry.contains(loads[0]), "the base load is hoisted out of the loop: {clif}");
    assert!(loads[0].contains("readonly can_move"), "{clif}");
}

#[test]
fn a_global_survives_stores_to_linear_memory() {
    let wat = r#"(module (memory 1) (global $g (mut i32) (i32.const 0))
        (func (param i32) (result i32)
          local.get 0
          global.set $g
          local.get 0
          i32.const 7
          i32.store
          global.get $g))"#;
    let clif = &optimized(wat)[0];
    // The global's value is forwarded from its store: no load is left of it.
    let global_loads = clif.lines().filter(|l| l.contains("= load.i32 notrap aligned")).count();
    assert_eq!(global_loads, 0, "{clif}");
    assert!(clif.contains("return v1"), "global.get gives the stored parameter: {clif}");
}

#[test]
fn a_call_reloads_globals_and_memory_lengths() {
    // The callee may set the global and grow the memory: both are loaded
    // again after the call, however the regions stand.
    let wat = r#"(module (memory 1 2) (global $g (mut i32) (i32.const 0))
        (func $grow (drop (memory.grow (i32.const 1))) (global.set $g (i32.const 5)))
        (func (result i32)
          global.get $g
          memory.size
          call $grow
          global.get $g
          memory.size
          i32.add
          i32.add
          i32.add))"#;
    let clif = &optimized(wat)[1];
    let global_loads = clif.lines().filter(|l| l.contains("= load.i32 notrap aligned region")).count();
    let length_loads = clif.lines().filter(|l| l.contains("= load.i64 notrap aligned region")).count();
    assert_eq!(global_loads, 2, "{clif}");
    assert_eq!(length_loads, 2, "{clif}");
}

#[test]
fn a_memory_length_survives_stores_to_linear_memory_and_globals() {
    let wat = r#"(module (memory 1) (global $g (mut i32) (i32.const 0))
        (func (param i32) (result i32)
          memory.size
          local.get 0
          i32.const 1
          i32.store
          i32.const 2
          global.set $g
          memory.size
          i32.add))"#;
    let clif = &optimized(wat)[0];
    let length_loads = clif.lines().filter(|l| l.contains("= load.i64 notrap aligned region")).count();
    assert_eq!(length_loads, 1, "{clif}");
}

#[test]
fn imported_globals_share_one_region() {
    // Two imports may be one global: a store through the second must make
    // the first be read again.
    let wat = r#"(module
        (import "m" "a" (global $a (mut i32)))
        (import "m" "b" (global $b (mut i32)))
        (func (result i32)
          global.get $a
          i32.const 3
          global.set $b
          global.get $a
          i32.add))"#;
    let clif = &optimized(wat)[0];
    let loads = clif.lines().filter(|l| l.contains("= load.i32 notrap aligned region")).count();
    assert_eq!(loads, 2, "{clif}");
}

#[test]
fn a_table_that_cannot_grow_has_a_constant_bound_and_a_read_only_base() {
    let wat = r#"(module (type $t (func (param i32)))
        (table $fixed 4 4 funcref) (table $growable 4 8 funcref)
        (func (param i32) local.get 0 local.get 0 call_indirect $fixed (type $t))
        (func (param i32) local.get 0 local.get 0 call_indirect $growable (type $t))
        (func (result i32) table.size $fixed))"#;
    let fixed = &optimized(wat)[0];
    assert!(fixed.contains("iconst.i64 4"), "a constant bound: {fixed}");
    assert_eq!(fixed.matches("readonly can_move").count(), 2, "the table's base and the type id: {fixed}");
    assert!(!fixed.contains("memory and table definitions"), "nothing of the definition is mutable: {fixed}");
    let growable = &optimized(wat)[1];
    assert!(growable.contains("region0 = 805306368 \"memory and table definitions\""), "{growable}");
    assert_eq!(growable.matches("notrap aligned region0").count(), 2, "base and length loaded: {growable}");
    let size = &optimized(wat)[2];
    assert!(size.contains("iconst.i32 4"), "{size}");
    assert!(!size.lines().any(|l| l.contains("= load") && !l.contains("gv")), "{size}");
}
