;; Exports for `kiln run --invoke` with v128 arguments and results.
(module
  (func (export "add") (param v128 v128) (result v128)
    (i32x4.add (local.get 0) (local.get 1)))
  (func (export "scale") (param v128 f64) (result v128 i32)
    (f64x2.mul (local.get 0) (f64x2.splat (local.get 1)))
    (i32.const 7))
)
