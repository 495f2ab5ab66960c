;; The externref scenarios of tests/tests/externref_counts.rs: every path
;; that overwrites a table element or a global, and the GCs, each reached
;; from compiled code. The host provides `gc` (collects the store).
(module $externref_counts
  (import "host" "gc" (func $gc))

  (table $t (export "t") 8 externref)
  (global $g (export "g") (mut externref) (ref.null extern))
  (elem $nulls externref (ref.null extern) (ref.null extern) (ref.null extern))

  ;; Inline barriers: the old value's last count is dropped by compiled
  ;; code, which frees it through the `drop_externref` builtin.
  (func (export "set") (param $i i32) (param $r externref)
    (table.set $t (local.get $i) (local.get $r)))
  (func (export "get") (param $i i32) (result externref)
    (table.get $t (local.get $i)))
  (func (export "global_set") (param $r externref)
    (global.set $g (local.get $r)))
  (func (export "global_get") (result externref)
    (global.get $g))

  ;; Bulk operations, through the table builtins.
  (func (export "fill") (param $i i32) (param $r externref) (param $n i32)
    (table.fill $t (local.get $i) (local.get $r) (local.get $n)))
  (func (export "copy") (param $d i32) (param $s i32) (param $n i32)
    (table.copy $t $t (local.get $d) (local.get $s) (local.get $n)))
  (func (export "init") (param $d i32) (param $s i32) (param $n i32)
    (table.init $t $nulls (local.get $d) (local.get $s) (local.get $n)))

  ;; Leaves its argument to the activations table alone.
  (func (export "hold") (param externref))

  ;; `n` reads of t[i]: fills the activations chunk from compiled code, so
  ;; that a `table.get` collects in its slow path.
  (func (export "read") (param $i i32) (param $n i32)
    (loop $more
      (if (local.get $n)
        (then
          (drop (table.get $t (local.get $i)))
          (local.set $n (i32.sub (local.get $n) (i32.const 1)))
          (br $more)))))

  ;; A GC from a host function that Wasm called.
  (func (export "collect")
    (call $gc))
)
