;; A module with a bit of everything that lands in an artifact: several
;; functions calling each other directly and through a table, a memory with
;; a data segment, globals, traps, and externrefs live across calls (so that
;; `.kiln.stackmaps` is not empty).
(module $multi
  (type $binop (func (param i32 i32) (result i32)))

  (memory (export "memory") 1 2)
  (data (i32.const 16) "kiln determinism check")

  (table $ops 4 funcref)
  (elem (table $ops) (i32.const 0) func $add $sub $mul $div)
  (table $refs (export "refs") 2 externref)

  (global $calls (mut i32) (i32.const 0))
  (global $seed i64 (i64.const 0x5eed))

  (func $add (type $binop) (i32.add (local.get 0) (local.get 1)))
  (func $sub (type $binop) (i32.sub (local.get 0) (local.get 1)))
  (func $mul (type $binop) (i32.mul (local.get 0) (local.get 1)))
  ;; Traps with "integer divide by zero" when the divisor is 0.
  (func $div (type $binop) (i32.div_s (local.get 0) (local.get 1)))

  (func (export "apply") (param $op i32) (param $a i32) (param $b i32) (result i32)
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (call_indirect $ops (type $binop) (local.get $a) (local.get $b) (local.get $op)))

  (func (export "add") (param i32 i32) (result i32) (call $add (local.get 0) (local.get 1)))
  (func (export "div") (param i32 i32) (result i32) (call $div (local.get 0) (local.get 1)))

  ;; Sum of the data segment's bytes, so that the memory image is read back.
  (func (export "checksum") (result i32)
    (local $i i32) (local $sum i32)
    (local.set $i (i32.const 16))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (i32.const 38)))
        (local.set $sum (i32.add (local.get $sum) (i32.load8_u (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $sum))

  (func $fib (export "fib") (param $n i64) (result i64)
    (if (result i64) (i64.lt_u (local.get $n) (i64.const 2))
      (then (local.get $n))
      (else (i64.add (call $fib (i64.sub (local.get $n) (i64.const 1)))
                     (call $fib (i64.sub (local.get $n) (i64.const 2)))))))

  (func (export "mix") (param f64 f32) (result f64)
    (f64.add (f64.sqrt (local.get 0)) (f64.promote_f32 (f32.nearest (local.get 1)))))

  ;; The externref stays live across the call to $log: a safepoint with a
  ;; stack map.
  (func (export "keep") (param $r externref) (result externref)
    (call $log (i32.const 1))
    (table.set $refs (i32.const 0) (local.get $r))
    (call $log (i32.const 2))
    (local.get $r))

  ;; Not inlined by Cranelift, so calls to it are real safepoints.
  (func $log (param $event i32)
    (i32.store (i32.const 0) (i32.add (i32.load (i32.const 0)) (local.get $event))))

  (func (export "calls") (result i32) (global.get $calls))
  (func (export "seed") (result i64) (global.get $seed))
)
