;; A WASI command that also calls a host function of the embedder, which
;; reads the guest's memory through its `Caller`.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "env" "sum_bytes" (func $sum_bytes (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello, store\n")
  (global $last (export "last") (mut i32) (i32.const 0))
  (func (export "_start")
    ;; iovec at 0: (16, 13); bytes written at 8.
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 13))
    (if (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))
      (then unreachable))
    (global.set $last (call $sum_bytes (i32.const 16) (i32.const 13)))))
