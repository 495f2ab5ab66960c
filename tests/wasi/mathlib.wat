;; A module preloaded under the name `mathlib` (see preload_main.c). Its
;; state lives in its own instance: the count of calls survives between them.
(module
  (global $calls (mut i32) (i32.const 0))
  (func (export "triple") (param i32) (result i32)
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (i32.mul (local.get 0) (i32.const 3)))
  (func (export "calls") (result i32) (global.get $calls)))
