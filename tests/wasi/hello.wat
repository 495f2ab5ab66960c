;; A WASI command written by hand, so that `kiln run` is tested without a C
;; toolchain: it writes its greeting with fd_write and exits with 3.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello from a hand-written WASI command\n")
  (func (export "_start")
    ;; iovec at 0: (16, 39); bytes written at 8.
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 39))
    (if (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))
      (then unreachable))
    (call $proc_exit (i32.const 3))
    unreachable))
