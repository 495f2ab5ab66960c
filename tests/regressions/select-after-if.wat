;; wasmi 2.0.0 gives 0 for this `select` (and then traps dividing by it):
;; the reason the reference is wasmi 1.0. The specification, kiln and wasmi
;; 1.0 give 1, and `f` returns 1.
(module
  (global (mut i32) (i32.const 1000))
  (func (export "f") (result i32)
    (local i32)
    (if (global.get 0) (then nop))
    (local.set 0 (select (i32.const 1) (local.get 0) (i32.eqz (local.get 0))))
    (i32.div_s (local.get 0) (local.get 0))))
