;; Drops `n` garbage cycles of two structs each: the loop that shows
;; whether a collector frees cyclic garbage while the program runs
;; (`tests/programs/gc/bench.sh`). Returns `n`.
(module
  (type $node (struct (field $next (mut (ref null $node))) (field $id i32)))
  (func (export "run") (param $n i32) (result i32)
    (local $i i32) (local $x (ref null $node)) (local $y (ref null $node))
    (block $done
      (loop $more
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $x (struct.new $node (ref.null $node) (local.get $i)))
        (local.set $y (struct.new $node (local.get $x) (local.get $i)))
        (struct.set $node $next (local.get $x) (local.get $y))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $more)))
    (local.get $i)))
