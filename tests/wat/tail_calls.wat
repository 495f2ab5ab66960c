;; Tail calls for tests/tests/tail_calls.rs: mutual recursion far deeper
;; than any stack, directly and through a table, tail calls to the host,
;; and externrefs handed along tail calls while the host collects garbage.
(module
  (import "host" "collect" (func $collect (param externref) (result externref)))
  (import "host" "fail" (func $fail (param i32) (result i32)))

  (type $step (func (param i64) (result i32)))
  (table $steps 2 funcref)
  (elem (table $steps) (i32.const 0) func $even_indirect $odd_indirect)

  ;; 1 when n is even, by n tail calls.
  (func $even (export "even") (param $n i64) (result i32)
    (if (result i32) (i64.eqz (local.get $n))
      (then (i32.const 1))
      (else (return_call $odd (i64.sub (local.get $n) (i64.const 1))))))
  (func $odd (export "odd") (param $n i64) (result i32)
    (if (result i32) (i64.eqz (local.get $n))
      (then (i32.const 0))
      (else (return_call $even (i64.sub (local.get $n) (i64.const 1))))))

  ;; The same through return_call_indirect.
  (func $even_indirect (export "even_indirect") (type $step)
    (if (result i32) (i64.eqz (local.get 0))
      (then (i32.const 1))
      (else (return_call_indirect $steps (type $step) (i64.sub (local.get 0) (i64.const 1)) (i32.const 1)))))
  (func $odd_indirect (type $step)
    (if (result i32) (i64.eqz (local.get 0))
      (then (i32.const 0))
      (else (return_call_indirect $steps (type $step) (i64.sub (local.get 0) (i64.const 1)) (i32.const 0)))))

  ;; Many arguments, some on the stack: the callee pops them.
  (func $sum8 (export "sum8") (param $n i64) (param i64 i64 i64 i64 i64 i64 i64 i64) (result i64)
    (if (result i64) (i64.eqz (local.get $n))
      (then (i64.add (local.get 1) (i64.add (local.get 2) (i64.add (local.get 3) (i64.add (local.get 4)
              (i64.add (local.get 5) (i64.add (local.get 6) (i64.add (local.get 7) (local.get 8)))))))))
      (else (return_call $sum8 (i64.sub (local.get $n) (i64.const 1))
              (local.get 2) (local.get 3) (local.get 4) (local.get 5)
              (local.get 6) (local.get 7) (local.get 8) (local.get 1)))))

  ;; The exported function's frame is gone when the host runs: a GC in
  ;; the host walks zero Wasm frames of this activation.
  (func (export "collect_now") (param externref) (result externref)
    (return_call $collect (local.get 0)))
  ;; And from under n frames that are themselves replaced.
  (func $collect_after (export "collect_after") (param $n i32) (param $r externref) (result externref)
    (if (result externref) (i32.eqz (local.get $n))
      (then (return_call $collect (local.get $r)))
      (else (return_call $collect_after (i32.sub (local.get $n) (i32.const 1)) (local.get $r)))))
  ;; Under ordinary frames, which keep the reference live across the call.
  (func $collect_deep (export "collect_deep") (param $n i32) (param $r externref) (result externref)
    (local $kept externref)
    (local.set $kept (local.get $r))
    (if (i32.eqz (local.get $n))
      (then (return (call $collect (local.get $r)))))
    (drop (call $collect_deep (i32.sub (local.get $n) (i32.const 1)) (local.get $r)))
    (local.get $kept))

  ;; A host error from a tail-called host function, and a trap in a
  ;; tail-called Wasm function: backtraces show the frames that remain.
  (func (export "fail_tail") (param i32) (result i32) (return_call $fail (local.get 0)))
  (func $trap (param i32) (result i32) (unreachable))
  (func $trap_caller (export "trap_after_tail") (param i32) (result i32)
    (i32.add (i32.const 1) (call $trap_tail (local.get 0))))
  (func $trap_tail (param i32) (result i32) (return_call $trap (local.get 0)))

  ;; Forever, with neither a loop nor a returning call: epoch checks and
  ;; fuel must still stop it.
  (func $ping (export "ping") (param i64) (result i64) (return_call $pong (i64.add (local.get 0) (i64.const 1))))
  (func $pong (param i64) (result i64) (return_call $ping (local.get 0))))
