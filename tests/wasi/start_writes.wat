;; A start function that calls WASI: it writes before the instance exists
;; for the host, so its memory is found through the caller.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "written by the start function\n")
  (func $start
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 30))
    (if (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))
      (then unreachable)))
  (start $start)
  ;; Copies stdin to stdout, 64 bytes at a time, through a buffer at 256.
  (func (export "echo")
    (loop $more
      (i32.store (i32.const 0) (i32.const 256))
      (i32.store (i32.const 4) (i32.const 64))
      (if (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8))
        (then unreachable))
      (if (i32.load (i32.const 8))
        (then
          (i32.store (i32.const 4) (i32.load (i32.const 8)))
          (if (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 12))
            (then unreachable))
          (br $more))))))
