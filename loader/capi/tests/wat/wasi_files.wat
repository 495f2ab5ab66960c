;; A WASI command that writes its first argument and its one environment
;; variable, a line each, to `out.txt` in the directory preopened as fd 3,
;; then exits with 0. A failing call exits with 100 + its errno; a wrong
;; count of arguments (2 wanted) with 90, of variables (1 wanted) with 91.
(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $environ_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $fd_close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  ;; Layout: 0 the file name, 8 a newline; 16 argc, 20 argv bytes, 24
  ;; environ count, 28 environ bytes, 32 the opened fd, 36 bytes written;
  ;; 64 four iovecs; 128 argv pointers; 192 environ pointers; 1024 argv
  ;; strings; 4096 environ strings.
  (data (i32.const 0) "out.txt")
  (data (i32.const 8) "\n")

  (func $strlen (param $p i32) (result i32) (local $n i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (i32.load8_u (i32.add (local.get $p) (local.get $n)))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $next)))
    (local.get $n))

  (func $check (param $errno i32)
    (if (local.get $errno)
      (then (call $proc_exit (i32.add (i32.const 100) (local.get $errno))))))

  (func (export "_start")
    (call $check (call $args_sizes_get (i32.const 16) (i32.const 20)))
    (if (i32.ne (i32.load (i32.const 16)) (i32.const 2))
      (then (call $proc_exit (i32.const 90))))
    (call $check (call $args_get (i32.const 128) (i32.const 1024)))
    (call $check (call $environ_sizes_get (i32.const 24) (i32.const 28)))
    (if (i32.ne (i32.load (i32.const 24)) (i32.const 1))
      (then (call $proc_exit (i32.const 91))))
    (call $check (call $environ_get (i32.const 192) (i32.const 4096)))
    ;; out.txt beneath fd 3: oflags CREAT | TRUNC, rights FD_WRITE.
    (call $check (call $path_open (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 7)
      (i32.const 9) (i64.const 64) (i64.const 0) (i32.const 0) (i32.const 32)))
    ;; argv[1], newline, environ[0], newline.
    (i32.store (i32.const 64) (i32.load (i32.const 132)))
    (i32.store (i32.const 68) (call $strlen (i32.load (i32.const 132))))
    (i32.store (i32.const 72) (i32.const 8))
    (i32.store (i32.const 76) (i32.const 1))
    (i32.store (i32.const 80) (i32.load (i32.const 192)))
    (i32.store (i32.const 84) (call $strlen (i32.load (i32.const 192))))
    (i32.store (i32.const 88) (i32.const 8))
    (i32.store (i32.const 92) (i32.const 1))
    (call $check (call $fd_write (i32.load (i32.const 32)) (i32.const 64) (i32.const 4) (i32.const 36)))
    (call $check (call $fd_close (i32.load (i32.const 32))))
    (call $proc_exit (i32.const 0))))
