;; Epoch interruption: code that only an epoch deadline can stop, and code
;; that runs to its end with epoch checks compiled in.
(module $epoch
  ;; An infinite loop with no call and no recursion: only the check at its
  ;; header can interrupt it.
  (func (export "spin")
    (loop br 0))

  ;; 1 + 2 + ... + n, in a loop.
  (func (export "sum") (param $n i32) (result i32)
    (local $total i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $total (i32.add (local.get $total) (local.get $n)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))
    (local.get $total))

  ;; Recursion: a check at every function entry.
  (func $fib (export "fib") (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else
        (i32.add
          (call $fib (i32.sub (local.get $n) (i32.const 1)))
          (call $fib (i32.sub (local.get $n) (i32.const 2))))))))
