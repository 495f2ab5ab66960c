;; Calls that kilnc's inlining policy keeps as calls, each a small callee
;; that would otherwise qualify.
(module $excluded
  (tag $oops (param i32))

  ;; Recursive: $count calls itself, its only call site.
  (func $count (export "recursive") (param $n i32) (result i32)
    (if (result i32) (local.get $n)
      (then (i32.add (call $count (i32.sub (local.get $n) (i32.const 1))) (i32.const 1)))
      (else (i32.const 0))))

  ;; A tail call in the callee: inlined, it would become a plain call.
  (func $leaf (param $x i32) (result i32)
    (if (i32.eqz (local.get $x)) (then (unreachable)))
    (local.get $x))
  (func $tail (param $x i32) (result i32)
    (return_call $leaf (local.get $x)))
  (func (export "callee_tail_calls") (param $x i32) (result i32)
    (call $tail (local.get $x)))

  ;; A tail call at the site: the caller's frame is gone.
  (func $small (param $x i32) (result i32)
    (if (i32.eqz (local.get $x)) (then (unreachable)))
    (i32.add (local.get $x) (i32.const 1)))
  (func (export "tail_site") (param $x i32) (result i32)
    (return_call $small (local.get $x)))

  ;; A callee that never returns.
  (func $fail (param $x i32) (result i32)
    (unreachable))
  (func (export "never_returns") (param $x i32) (result i32)
    (if (result i32) (local.get $x) (then (call $fail (local.get $x))) (else (i32.const 0))))

  ;; A call with handlers (`try_call`).
  (func $thrower (param $x i32) (result i32)
    (if (local.get $x) (then (throw $oops (local.get $x))))
    (i32.const 5))
  (func (export "with_handler") (param $x i32) (result i32)
    (block $caught (result i32)
      (try_table (result i32) (catch $oops $caught)
        (call $thrower (local.get $x)))
      (return)))

  ;; A small wrapper that calls on, with two call sites.
  (func $wrapper (param $x i32) (result i32)
    (call $small (local.get $x)))
  (func (export "wrapped") (param $x i32) (result i32)
    (i32.add (call $wrapper (local.get $x)) (call $wrapper (i32.const 1))))
)
