;; Exports for the embedding tests: a function that traps on demand, one that
;; calls the host, and a start function that calls the host too.
(module
  (import "env" "record" (func $record (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "\01\02\03\04")
  (global $started (export "started") (mut i32) (i32.const 0))
  (func $start (global.set $started (call $record (i32.const 7))))
  (start $start)
  (func (export "div") (param i32 i32) (result i32)
    (i32.div_s (local.get 0) (local.get 1)))
  (func (export "call_record") (param i32) (result i32)
    (call $record (local.get 0))))
