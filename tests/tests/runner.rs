//! The script runner itself: every directive kind passes when kiln does what
//! the script asserts, and fails when it does not, so that no kind of
//! directive can pass vacuously in the spec suite.

use std::path::Path;

use kiln_tests::{run_script_text, RunOptions, ScriptReport};

fn run(script: &str) -> ScriptReport {
    // The spec scripts run on a big-stack thread; so do these.
    let script = script.to_string();
    std::thread::Builder::new()
        .stack_size(kiln_tests::SCRIPT_STACK_SIZE)
        .spawn(move || {
            run_script_text(Path::new("inline.wast"), script.as_bytes(), &RunOptions::default(), &mut |_| {})
        })
        .expect("spawn")
        .join()
        .expect("runner does not panic")
}

const MODULE: &str = r#"
(module $m
  (import "spectest" "print_i32" (func $print (param i32)))
  (import "spectest" "global_i32" (global $g666 i32))
  (global (export "g") i32 (global.get $g666))
  (table (export "t") 2 externref)
  (func (export "id") (param i32) (result i32) (call $print (local.get 0)) (local.get 0))
  (func (export "nan") (result f32) (f32.div (f32.const 0) (f32.const 0)))
  (func (export "payload-nan") (result f32) (f32.const nan:0x600001))
  (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
  (func $deep (export "deep") (call $deep))
  (func (export "put") (param externref) (table.set (i32.const 0) (local.get 0)))
  (func (export "take") (result externref) (table.get (i32.const 0)))
  (func (export "null") (result funcref) (ref.null func))
)
(register "m" $m)
(invoke "put" (ref.extern 7))
"#;

#[test]
fn every_directive_kind_passes_when_kiln_agrees() {
    let script = format!(
        r#"{MODULE}
        (assert_return (invoke $m "id" (i32.const 5)) (i32.const 5))
        (assert_return (get $m "g") (i32.const 666))
        (assert_return (invoke "nan") (f32.const nan:canonical))
        (assert_return (invoke "payload-nan") (f32.const nan:arithmetic))
        (assert_return (invoke "take") (ref.extern 7))
        (assert_return (invoke "null") (ref.null func))
        (assert_trap (invoke "div" (i32.const 1) (i32.const 0)) "integer divide by zero")
        (assert_exhaustion (invoke "deep") "call stack exhausted")
        (assert_trap (module (func $s unreachable) (start $s)) "unreachable")
        (assert_invalid (module (func (result i32) (i64.const 0))) "type mismatch")
        (assert_malformed (module binary "\00asm\02\00\00\00") "unknown binary version")
        (assert_malformed (module quote "(func (i32.const))") "unexpected token")
        (assert_unlinkable (module (import "m" "missing" (func))) "unknown import")
        (module $user (import "m" "id" (func $id (param i32) (result i32)))
          (func (export "twice") (param i32) (result i32) (call $id (call $id (local.get 0)))))
        (assert_return (invoke $user "twice" (i32.const 3)) (i32.const 3))
        "#
    );
    let report = run(&script);
    assert!(report.failures.is_empty(), "{:#?}", report.failures);
    assert_eq!(report.passed, 18);
}

#[test]
fn every_directive_kind_fails_when_kiln_disagrees() {
    let wrong = [
        r#"(assert_return (invoke "id" (i32.const 5)) (i32.const 6))"#,
        r#"(assert_return (get "g") (i32.const 667))"#,
        r#"(assert_return (invoke "payload-nan") (f32.const nan:canonical))"#,
        r#"(assert_return (invoke "nan") (f32.const 0))"#,
        r#"(assert_return (invoke "take") (ref.extern 8))"#,
        r#"(assert_return (invoke "null") (ref.func))"#,
        r#"(assert_return (invoke "id" (i32.const 5)))"#,
        r#"(assert_trap (invoke "div" (i32.const 4) (i32.const 2)) "integer divide by zero")"#,
        r#"(assert_trap (invoke "div" (i32.const 1) (i32.const 0)) "integer overflow")"#,
        r#"(assert_exhaustion (invoke "id" (i32.const 1)) "call stack exhausted")"#,
        r#"(assert_trap (module (func $s nop) (start $s)) "unreachable")"#,
        r#"(assert_invalid (module (func (result i32) (i32.const 0))) "type mismatch")"#,
        r#"(assert_malformed (module binary "\00asm\01\00\00\00") "unexpected end")"#,
        r#"(assert_malformed (module quote "(func (nop))") "unexpected token")"#,
        r#"(assert_unlinkable (module (import "m" "id" (func (param i32) (result i32)))) "incompatible import type")"#,
        r#"(invoke "div" (i32.const 1) (i32.const 0))"#,
        r#"(invoke "no-such-export")"#,
        r#"(register "x" $no_such_module)"#,
        r#"(module (import "m" "missing" (func)))"#,
        r#"(module (func $s unreachable) (start $s))"#,
    ];
    for directive in wrong {
        let report = run(&format!("{MODULE}\n{directive}"));
        assert_eq!(report.passed, 3, "{directive}: the preamble passes: {:#?}", report.failures);
        assert_eq!(report.failed(), 1, "{directive} passed");
    }
}

#[test]
fn a_script_that_does_not_parse_is_one_failure() {
    let report = run("(module (func (export \"f\"))) (assert_return (invoke \"f\")");
    assert_eq!((report.passed, report.failed()), (0, 1));
}
