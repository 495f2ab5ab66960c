;; The externref GC scenarios of tests/tests/externref_gc.rs. The host
;; provides `gc` (collects the store), `make` (a new tracked reference with
;; the given id), `make3` (three at once), `id` (the id of a reference, -1
;; for null) and `identity`.
(module $externref_gc
  (import "host" "gc" (func $gc))
  (import "host" "make" (func $make (param i32) (result externref)))
  (import "host" "make3" (func $make3 (param i32) (result externref externref externref)))
  (import "host" "id" (func $id (param externref) (result i32)))
  (import "host" "identity" (func $identity (param externref) (result externref)))

  (table $t (export "t") 16 externref)
  (global $g (export "g") (mut externref) (ref.null extern))
  (elem $nulls externref (ref.null extern) (ref.null extern) (ref.null extern))

  ;; A reference live across a host call that collects.
  (func (export "id_after_gc") (param $r externref) (result i32)
    (call $gc)
    (call $id (local.get $r)))

  (func (export "hold_across_gc") (param $r externref) (result externref)
    (call $gc)
    (local.get $r))

  (func $through_locals (param $r externref) (result externref)
    (local $a externref) (local $b externref)
    (local.set $a (local.get $r))
    (local.set $b (call $identity (local.get $a)))
    (local.get $b))

  (func (export "pass") (param $r externref) (result i32)
    (call $id (call $through_locals (call $through_locals (local.get $r)))))

  ;; Each level makes a reference and holds it across the recursive call;
  ;; the bottom collects. Returns how many levels read theirs back intact.
  (func $deep (export "deep") (param $n i32) (result i32)
    (local $r externref)
    (if (i32.eqz (local.get $n)) (then (call $gc) (return (i32.const 0))))
    (local.set $r (call $make (local.get $n)))
    (i32.add
      (call $deep (i32.sub (local.get $n) (i32.const 1)))
      (i32.eq (call $id (local.get $r)) (local.get $n))))

  (func (export "table_set") (param $i i32) (param $r externref)
    (table.set $t (local.get $i) (local.get $r)))
  (func (export "table_get") (param $i i32) (result externref)
    (table.get $t (local.get $i)))
  (func (export "global_set") (param $r externref)
    (global.set $g (local.get $r)))
  (func (export "global_get") (result externref)
    (global.get $g))
  (func (export "fill") (param $i i32) (param $r externref) (param $n i32)
    (table.fill $t (local.get $i) (local.get $r) (local.get $n)))
  (func (export "copy") (param $d i32) (param $s i32) (param $n i32)
    (table.copy $t $t (local.get $d) (local.get $s) (local.get $n)))
  (func (export "grow") (param $r externref) (param $n i32) (result i32)
    (table.grow $t (local.get $r) (local.get $n)))
  (func (export "init") (param $d i32)
    (table.init $t $nulls (local.get $d) (i32.const 0) (i32.const 3)))
  (func (export "drop_elem")
    (elem.drop $nulls))

  (func (export "two") (param $a externref) (param $b externref) (result i32)
    (call $gc)
    (i32.add (call $id (local.get $a)) (call $id (local.get $b))))

  ;; `n` reads of t[0]: fills the activations chunk from compiled code.
  (func (export "read_t0") (param $n i32)
    (loop $more
      (if (local.get $n)
        (then
          (drop (table.get $t (i32.const 0)))
          (local.set $n (i32.sub (local.get $n) (i32.const 1)))
          (br $more)))))

  ;; Its first instruction collects when the chunk is full (the barrier's
  ;; slow path, in a cold block); the three arguments must survive it.
  (func $three (export "three") (param $a externref) (param $b externref) (param $c externref) (result i32)
    (drop (table.get $t (i32.const 0)))
    (i32.add
      (i32.add (call $id (local.get $a)) (i32.mul (call $id (local.get $b)) (i32.const 10)))
      (i32.mul (call $id (local.get $c)) (i32.const 100))))

  ;; Three fresh references come back from the host at once, owned only by
  ;; the activations table, and go straight into a call that collects.
  (func (export "made_three") (param $first i32) (result i32)
    (call $three (call $make3 (local.get $first))))

  ;; Overwriting t[i] frees its old value in compiled code; the host
  ;; destructor may re-enter Wasm while `k` must stay alive.
  (func (export "overwrite_holding") (param $i i32) (param $new externref) (result i32)
    (local $k externref)
    (local.set $k (call $make (i32.const 77)))
    (table.set $t (local.get $i) (local.get $new))
    (call $id (local.get $k)))

  (func (export "nested") (result i32)
    (call $gc)
    (call $id (table.get $t (i32.const 1))))

  ;; `neighbour` has a live reference at its host call; `plain`, laid out
  ;; right after it, has none and must not be given its neighbour's map.
  (func $neighbour (export "neighbour") (result i32)
    (local $r externref)
    (local.set $r (call $make (i32.const 5)))
    (call $gc)
    (call $id (local.get $r)))
  (func $plain (export "plain") (result i32)
    (call $gc)
    (i32.const 0))
  (func (export "neighbour_then_plain") (result i32)
    (i32.add (call $neighbour) (call $plain)))

  ;; Every level holds a reference when the bottom traps.
  (func $trap_deep (export "trap_deep") (param $n i32) (result i32)
    (local $r externref)
    (local.set $r (call $make (local.get $n)))
    (if (i32.eqz (local.get $n)) (then unreachable))
    (i32.add
      (call $trap_deep (i32.sub (local.get $n) (i32.const 1)))
      (call $id (local.get $r))))
)
