;; wasmi reports an out-of-bounds `table.copy`, `table.init` and an active
;; element segment that does not fit as errors of its own rather than as
;; traps; the driver maps them to `table_out_of_bounds`, the trap kiln
;; raises (seeds 305 and 922 of the first campaign).
(module
  (table $t 2 funcref)
  (elem $e func $f)
  (func $f)
  (func (export "copy") (table.copy (i32.const 1) (i32.const 0) (i32.const 2)))
  (func (export "init") (table.init $e (i32.const 2) (i32.const 0) (i32.const 1)))
  (func (export "fill") (table.fill (i32.const 1) (ref.null func) (i32.const 5))))
