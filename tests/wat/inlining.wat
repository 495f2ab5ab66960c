;; Calls that kilnc inlines (small callees, called directly), with traps,
;; calls, references and handlers inside the inlined bodies. Each export's
;; comment names the frames a backtrace from it must show.
(module $inlining
  (import "host" "gc" (func $gc))
  (memory 1)
  (table 1 funcref)
  (elem (i32.const 0) $deep)
  (tag $oops (param i32))

  ;; trap_in_callee: load, middle, trap_in_callee.
  (func $load (param $at i32) (result i32)
    (i32.load (local.get $at)))
  (func $middle (param $at i32) (result i32)
    (i32.add (call $load (local.get $at)) (i32.const 1)))
  (func (export "trap_in_callee") (param $at i32) (result i32)
    (call $middle (local.get $at)))

  ;; trap_below: deep, inner, outer, trap_below. $deep is only called
  ;; indirectly, so it keeps its frame; $inner and $outer are inlined.
  (func $deep (param $x i32) (result i32)
    (if (i32.eqz (local.get $x)) (then (unreachable)))
    (i32.div_u (i32.const 100) (local.get $x)))
  (func $inner (param $x i32) (result i32)
    (call_indirect (param i32) (result i32) (local.get $x) (i32.const 0)))
  (func $outer (param $x i32) (result i32)
    (i32.mul (call $inner (local.get $x)) (i32.const 2)))
  (func (export "trap_below") (param $x i32) (result i32)
    (call $outer (local.get $x)))

  ;; A reference that only the inlined $hold keeps across two GCs: the
  ;; caller no longer needs it once it has passed it on.
  (func $hold (param $r externref) (result externref)
    (call $gc)
    (call $gc)
    (local.get $r))
  (func (export "hold_across_gc") (param $r externref) (result externref)
    (call $hold (local.get $r)))

  ;; An inlined callee's own handler catches a throw from below it.
  (func $throw (param $x i32) (result i32)
    (if (local.get $x) (then (throw $oops (local.get $x))))
    (i32.const 0))
  (func $catching (param $x i32) (result i32)
    (block $caught (result i32)
      (try_table (result i32) (catch $oops $caught)
        (call $throw (local.get $x)))
      (return))
    (i32.add (i32.const 1000)))
  (func (export "catch_in_callee") (param $x i32) (result i32)
    (call $catching (local.get $x)))

  ;; A throw from inlined code reaches the caller's caller's handler.
  (func $throws_inlined (param $x i32) (result i32)
    (i32.add (call $throw (local.get $x)) (i32.const 1)))
  (func (export "catch_above") (param $x i32) (result i32)
    (block $caught (result i32)
      (try_table (result i32) (catch $oops $caught)
        (call $throws_inlined (local.get $x)))
      (return))
    (i32.add (i32.const 2000)))

  ;; Fuel: the inlined $add3 costs what it costs as a call.
  (func $add3 (param $x i32) (result i32)
    (i32.add (local.get $x) (i32.const 3)))
  (func (export "sum") (param $n i32) (result i32)
    (local $acc i32)
    (loop $again
      (local.set $acc (call $add3 (local.get $acc)))
      (br_if $again (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (local.get $acc))

  ;; Epochs: the loop header check of the inlined $spin stops it, and the
  ;; backtrace shows spin_loop, spin.
  (func $spin_loop (param $x i32) (result i32)
    (loop $again (br_if $again (i32.ne (local.get $x) (i32.const 1))))
    (local.get $x))
  (func (export "spin") (param $x i32) (result i32)
    (call $spin_loop (local.get $x)))
)
