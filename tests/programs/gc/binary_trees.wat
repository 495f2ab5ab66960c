;; The binary-trees benchmark (the Computer Language Benchmarks Game's
;; allocation test) in Wasm GC: build and walk perfect binary trees of
;; structs. `run n` returns the sum of every tree's node count, as the
;; classic program prints them: a stretch tree of depth n+1, a long-lived
;; tree of depth n, and 2^(n-d+4) trees of each depth d = 4, 6, ..., n.
(module
  (type $tree (struct (field (ref null $tree)) (field (ref null $tree))))

  (func $bottom_up (param $depth i32) (result (ref $tree))
    (if (result (ref $tree)) (i32.eqz (local.get $depth))
      (then (struct.new $tree (ref.null $tree) (ref.null $tree)))
      (else
        (struct.new $tree
          (call $bottom_up (i32.sub (local.get $depth) (i32.const 1)))
          (call $bottom_up (i32.sub (local.get $depth) (i32.const 1)))))))

  (func $check (param $t (ref $tree)) (result i32)
    (local $left (ref null $tree))
    (local.set $left (struct.get $tree 0 (local.get $t)))
    (if (result i32) (ref.is_null (local.get $left))
      (then (i32.const 1))
      (else
        (i32.add (i32.const 1)
          (i32.add
            (call $check (ref.as_non_null (local.get $left)))
            (call $check (ref.as_non_null (struct.get $tree 1 (local.get $t)))))))))

  (func (export "run") (param $n i32) (result i32)
    (local $max i32) (local $long_lived (ref null $tree)) (local $depth i32)
    (local $iterations i32) (local $i i32) (local $sum i32)
    (local.set $max (select (local.get $n) (i32.const 6) (i32.gt_s (local.get $n) (i32.const 6))))
    ;; The stretch tree.
    (local.set $sum (call $check (call $bottom_up (i32.add (local.get $max) (i32.const 1)))))
    (local.set $long_lived (call $bottom_up (local.get $max)))
    (local.set $depth (i32.const 4))
    (block $done
      (loop $depths
        (br_if $done (i32.gt_s (local.get $depth) (local.get $max)))
        (local.set $iterations
          (i32.shl (i32.const 1) (i32.add (i32.sub (local.get $max) (local.get $depth)) (i32.const 4))))
        (local.set $i (i32.const 0))
        (loop $trees
          (local.set $sum (i32.add (local.get $sum) (call $check (call $bottom_up (local.get $depth)))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $trees (i32.lt_s (local.get $i) (local.get $iterations))))
        (local.set $depth (i32.add (local.get $depth) (i32.const 2)))
        (br $depths)))
    (i32.add (local.get $sum) (call $check (ref.as_non_null (local.get $long_lived))))))
