;; A module with a little of everything, for artifact and determinism tests.
(module $several
  (type $binop (func (param i32 i32) (result i32)))
  (import "env" "log" (func $log (param i32)))
  (import "env" "limit" (global $limit i32))
  (memory (export "memory") 1 2)
  (table $funcs 4 funcref)
  (table $refs 2 externref)
  (global $counter (mut i32) (i32.const 0))
  (global $last (mut externref) (ref.null extern))

  (func $add (export "add") (type $binop) (i32.add (local.get 0) (local.get 1)))
  (func $sub (type $binop) (i32.sub (local.get 0) (local.get 1)))

  (func $fib (export "fib") (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1)))
                     (call $fib (i32.sub (local.get $n) (i32.const 2)))))))

  (func $sum (export "sum") (param $n i32) (result i64)
    (local $acc i64)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $acc (i64.add (local.get $acc) (i64.extend_i32_u (local.get $n))))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))
    (local.get $acc))

  (func $load_store (export "load_store") (param $addr i32) (result i32)
    (i32.store (local.get $addr) (i32.const 42))
    (i32.load offset=0 (local.get $addr)))

  (func $div (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))

  (func $apply (export "apply") (param $f i32) (param $a i32) (param $b i32) (result i32)
    (call_indirect $funcs (type $binop) (local.get $a) (local.get $b) (local.get $f)))

  (func $count (export "count") (result i32)
    (global.set $counter (i32.add (global.get $counter) (global.get $limit)))
    (call $log (global.get $counter))
    (global.get $counter))

  (func $keep (export "keep") (param $r externref) (result externref)
    (table.set $refs (i32.const 0) (local.get $r))
    (call $log (i32.const 1))
    (local.get $r))

  (func $pair (export "pair") (param i32 f64) (result f64 i32 i64)
    (local.get 1) (local.get 0) (i64.const 7))

  (func $grow (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))

  (elem (table $funcs) (i32.const 0) func $add $sub)
  (elem declare func $fib)
  (data (i32.const 16) "kiln")
  (data $passive "passive bytes"))
