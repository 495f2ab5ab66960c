;; SIMD of WebAssembly 2.0 compiles.
(module
  (func (export "splat") (param i32) (result i32)
    (i32x4.extract_lane 1 (i32x4.splat (local.get 0)))))
