;; Sieve of Eratosthenes over linear memory.
;;
;;   kilnc tests/examples/sieve.wat -o sieve.o
;;   kiln run sieve.o --invoke main               ;; 78498 primes below 1,000,000
;;   kiln run sieve.o --invoke count_primes 100   ;; 25
(module $sieve
  (memory (export "memory") 1)

  ;; Number of primes below $n. Byte i of memory is 1 when i is composite.
  (func $count_primes (export "count_primes") (param $n i32) (result i32)
    (local $i i32) (local $j i32) (local $count i32) (local $pages i32)
    (if (i32.lt_u (local.get $n) (i32.const 3)) (then (return (i32.const 0))))
    ;; One byte per number: grow to ceil(n / 64 KiB) pages.
    (local.set $pages (i32.shr_u (i32.add (local.get $n) (i32.const 0xffff)) (i32.const 16)))
    (if (i32.gt_u (local.get $pages) (memory.size))
      (then (drop (memory.grow (i32.sub (local.get $pages) (memory.size))))))
    (memory.fill (i32.const 0) (i32.const 0) (local.get $n))

    (local.set $i (i32.const 2))
    (block $done
      (loop $outer
        (br_if $done (i32.gt_u (i32.mul (local.get $i) (local.get $i)) (local.get $n)))
        (if (i32.eqz (i32.load8_u (local.get $i)))
          (then
            (local.set $j (i32.mul (local.get $i) (local.get $i)))
            (block $marked
              (loop $mark
                (br_if $marked (i32.ge_u (local.get $j) (local.get $n)))
                (i32.store8 (local.get $j) (i32.const 1))
                (local.set $j (i32.add (local.get $j) (local.get $i)))
                (br $mark)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $outer)))

    (local.set $i (i32.const 2))
    (block $counted
      (loop $count
        (br_if $counted (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $count (i32.add (local.get $count) (i32.eqz (i32.load8_u (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $count)))
    (local.get $count))

  (func (export "main") (result i32)
    (call $count_primes (i32.const 1000000)))
)
