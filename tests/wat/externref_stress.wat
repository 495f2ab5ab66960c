;; The operations of the randomized externref stress test. The host model
;; mirrors the table and the global and checks every id that comes back.
(module $externref_stress
  (import "host" "id" (func $id (param externref) (result i32)))
  (import "host" "identity" (func $identity (param externref) (result externref)))

  (table $t (export "t") 64 externref)
  (global $g (export "g") (mut externref) (ref.null extern))

  (func (export "set") (param $i i32) (param $r externref)
    (table.set $t (local.get $i) (local.get $r)))

  (func $keep (param $r externref) (result externref)
    (local $l externref)
    (local.set $l (local.get $r))
    (local.get $l))

  (func (export "get_id") (param $i i32) (result i32)
    (call $id (call $keep (table.get $t (local.get $i)))))

  (func (export "get") (param $i i32) (result externref)
    (table.get $t (local.get $i)))

  ;; Both references are held across a host call.
  (func (export "swap") (param $i i32) (param $j i32)
    (local $a externref) (local $b externref)
    (local.set $a (table.get $t (local.get $i)))
    (local.set $b (call $identity (table.get $t (local.get $j))))
    (table.set $t (local.get $i) (local.get $b))
    (table.set $t (local.get $j) (local.get $a)))

  (func (export "swap_global") (param $i i32)
    (local $a externref)
    (local.set $a (global.get $g))
    (global.set $g (table.get $t (local.get $i)))
    (table.set $t (local.get $i) (local.get $a)))

  (func (export "set_global") (param $r externref)
    (global.set $g (local.get $r)))

  (func (export "global_id") (result i32)
    (call $id (global.get $g)))

  ;; The sum of the ids of t[0..n) (-1 for null): many reads, so chunk fills.
  (func (export "sum") (param $n i32) (result i32)
    (local $i i32) (local $s i32)
    (block $done
      (loop $more
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $s (i32.add (local.get $s) (call $id (table.get $t (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $more)))
    (local.get $s))

  ;; Carries t[i] down `d` calls, through the host at every level, and
  ;; stores it into t[j] at the bottom.
  (func $carry (param $d i32) (param $j i32) (param $r externref)
    (if (local.get $d)
      (then
        (call $carry
          (i32.sub (local.get $d) (i32.const 1))
          (local.get $j)
          (call $identity (local.get $r))))
      (else (table.set $t (local.get $j) (local.get $r)))))

  (func (export "copy_deep") (param $i i32) (param $j i32) (param $d i32)
    (call $carry (local.get $d) (local.get $j) (table.get $t (local.get $i))))
)
