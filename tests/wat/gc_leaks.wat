;; GC objects for the leak-freedom tests (tests/tests/gc_leaks.rs): a
;; table and two globals of nodes that the host drives at random, and
;; builders of cycles, rings and long lists.
(module
  (type $node (struct (field $a (mut (ref null $node))) (field $b (mut (ref null $node))) (field $id i32)))
  (import "host" "gc" (func $host_gc))
  (table $t 64 (ref null $node))
  (global $g0 (mut (ref null $node)) (ref.null $node))
  (global $g1 (mut (ref null $node)) (ref.null $node))

  (func (export "alloc") (param $slot i32) (param $id i32)
    (table.set $t (local.get $slot) (struct.new $node (ref.null $node) (ref.null $node) (local.get $id))))

  (func (export "clear") (param $slot i32)
    (table.set $t (local.get $slot) (ref.null $node)))

  ;; table[src].field := table[dst], if table[src] is not null.
  (func (export "link") (param $src i32) (param $field i32) (param $dst i32)
    (local $s (ref null $node))
    (local.set $s (table.get $t (local.get $src)))
    (if (ref.is_null (local.get $s)) (then (return)))
    (if (local.get $field)
      (then (struct.set $node $b (local.get $s) (table.get $t (local.get $dst))))
      (else (struct.set $node $a (local.get $s) (table.get $t (local.get $dst))))))

  ;; table[dst] := table[src].field, if table[src] is not null.
  (func (export "follow") (param $src i32) (param $field i32) (param $dst i32)
    (local $s (ref null $node))
    (local.set $s (table.get $t (local.get $src)))
    (if (ref.is_null (local.get $s)) (then (return)))
    (table.set $t (local.get $dst)
      (if (result (ref null $node)) (local.get $field)
        (then (struct.get $node $b (local.get $s)))
        (else (struct.get $node $a (local.get $s))))))

  ;; global g := table[slot]
  (func (export "global_set") (param $g i32) (param $slot i32)
    (if (local.get $g)
      (then (global.set $g1 (table.get $t (local.get $slot))))
      (else (global.set $g0 (table.get $t (local.get $slot))))))

  ;; table[slot] := global g
  (func (export "global_get") (param $g i32) (param $slot i32)
    (table.set $t (local.get $slot)
      (if (result (ref null $node)) (local.get $g) (then (global.get $g1)) (else (global.get $g0)))))

  ;; Takes table[slot] out of every storage, collects while only this
  ;; frame holds it, puts it back, and returns its id (-1 for null).
  (func (export "hold_across_gc") (param $slot i32) (result i32)
    (local $x (ref null $node))
    (local.set $x (table.get $t (local.get $slot)))
    (table.set $t (local.get $slot) (ref.null $node))
    (call $host_gc)
    (table.set $t (local.get $slot) (local.get $x))
    (call $id (local.get $slot)))

  (func $id (export "id") (param $slot i32) (result i32)
    (local $s (ref null $node))
    (local.set $s (table.get $t (local.get $slot)))
    (if (result i32) (ref.is_null (local.get $s))
      (then (i32.const -1))
      (else (struct.get $node $id (local.get $s)))))

  ;; $n garbage cycles of two nodes each.
  (func (export "make_pairs") (param $n i32)
    (local $x (ref null $node)) (local $y (ref null $node))
    (block $done
      (loop $more
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $x (struct.new $node (ref.null $node) (ref.null $node) (local.get $n)))
        (local.set $y (struct.new $node (local.get $x) (ref.null $node) (local.get $n)))
        (struct.set $node $a (local.get $x) (local.get $y))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $more))))

  ;; A ring of $n nodes, held by global 0.
  (func (export "make_ring") (param $n i32)
    (local $first (ref null $node)) (local $last (ref null $node))
    (local.set $first (struct.new $node (ref.null $node) (ref.null $node) (i32.const 0)))
    (local.set $last (local.get $first))
    (block $done
      (loop $more
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br_if $done (i32.le_s (local.get $n) (i32.const 0)))
        (local.set $last (struct.new $node (local.get $last) (ref.null $node) (local.get $n)))
        (br $more)))
    (struct.set $node $a (local.get $first) (local.get $last))
    (global.set $g0 (local.get $first)))

  ;; A list of $n nodes, held by global 0.
  (func (export "make_list") (param $n i32)
    (local $head (ref null $node))
    (block $done
      (loop $more
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $head (struct.new $node (local.get $head) (ref.null $node) (local.get $n)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $more)))
    (global.set $g0 (local.get $head)))

  (func (export "drop_globals")
    (global.set $g0 (ref.null $node))
    (global.set $g1 (ref.null $node))))
