;; The module most of the C API test runs: exports of every value kind,
;; host imports that use the caller's memory, traps and memory growth.
(module
  ;; Upper-cases `len` bytes at `ptr` of the caller's memory; returns how
  ;; many it changed.
  (import "host" "shout" (func $shout (param i32 i32) (result i32)))
  ;; Does what the test's callback is told by its argument (fail, answer
  ;; with a result of the wrong kind, ...); otherwise doubles it.
  (import "host" "misbehave" (func $misbehave (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello, kiln")

  (func (export "add") (param i32 i32) (result i32)
    (i32.add (local.get 0) (local.get 1)))

  ;; Every kind the API passes, both ways: (a + 1, b * 2, c + 0.5, a).
  (func (export "kinds") (param i64 f32 f64) (result i64 f32 f64 i64)
    (i64.add (local.get 0) (i64.const 1))
    (f32.mul (local.get 1) (f32.const 2))
    (f64.add (local.get 2) (f64.const 0.5))
    (local.get 0))

  ;; Has the host upper-case "hello, kiln" in place.
  (func (export "shout_greeting") (result i32)
    (call $shout (i32.const 16) (i32.const 11)))

  (func (export "misbehave") (param i32) (result i32)
    (call $misbehave (local.get 0)))

  (func (export "unreachable")
    unreachable)

  (func (export "div") (param i32 i32) (result i32)
    (i32.div_s (local.get 0) (local.get 1)))

  ;; memory.grow's answer: the old size in pages, or -1 if refused.
  (func (export "grow") (param i32) (result i32)
    (memory.grow (local.get 0)))

  (func $recurse (export "recurse") (param i32) (result i32)
    (i32.add (call $recurse (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))

  ;; A signature the C API cannot pass.
  (func (export "identity_externref") (param externref) (result externref)
    (local.get 0)))
