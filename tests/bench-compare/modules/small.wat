;; The instantiate micro-benchmark's module, shared by both sides: one import,
;; one page of memory with a data segment, a table of 10 funcrefs filled by
;; an active element segment, one global, one export.
(module
  (import "env" "log" (func $log (param i32)))
  (memory 1)
  (global $counter (mut i32) (i32.const 0))
  (table 10 funcref)
  (elem (i32.const 0) func $add $log $add $log $add $log $add $log $add $log)
  (data (i32.const 16) "kiln and wasmtime")
  (func $add (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))
