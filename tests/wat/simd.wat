;; v128 at every boundary between Wasm and the host: parameters and
;; results (several, through the implicit struct return), host functions,
;; imported and exported globals, and memory.
(module
  (import "host" "swap_halves" (func $swap_halves (param v128) (result v128)))
  (import "host" "mix" (func $mix (param i32 v128 f64 v128) (result v128 i64)))
  (import "host" "base" (global $base v128))
  (import "host" "total" (global $total (mut v128)))
  (global $last (export "last") (mut v128) (v128.const i64x2 0 0))
  (global (export "ones") v128 (v128.const i8x16 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1))
  (memory (export "memory") 1)

  (func (export "add") (param v128 v128) (result v128)
    (i32x4.add (local.get 0) (local.get 1)))

  ;; Calls the host with a v128 and returns what it gives back.
  (func (export "through_host") (param v128) (result v128)
    (call $swap_halves (local.get 0)))

  ;; v128 arguments in between scalars, to the host and back.
  (func (export "through_mix") (param i32 v128 f64 v128) (result v128 i64)
    (call $mix (local.get 0) (local.get 1) (local.get 2) (local.get 3)))

  ;; Adds to the imported mutable global; remembers the argument in an
  ;; exported one.
  (func (export "accumulate") (param v128) (result v128)
    (global.set $total (i32x4.add (global.get $total) (local.get 0)))
    (global.set $last (local.get 0))
    (global.get $total))

  (func (export "plus_base") (param v128) (result v128)
    (i64x2.add (global.get $base) (local.get 0)))

  ;; Four results, three of them vectors.
  (func (export "split") (param v128) (result v128 v128 i32 v128)
    (i16x8.extend_low_i8x16_s (local.get 0))
    (i16x8.extend_high_i8x16_s (local.get 0))
    (i8x16.bitmask (local.get 0))
    (local.get 0))

  ;; Stores at an unaligned address, reads back lane by lane.
  (func (export "store_then_load") (param i32 v128) (result v128 i64)
    (v128.store offset=3 align=1 (local.get 0) (local.get 1))
    (v128.load offset=3 (local.get 0))
    (i64.load offset=11 (local.get 0)))
)
