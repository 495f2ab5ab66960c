;; The call micro-benchmarks' module, shared by kiln's and Wasmtime's side:
;; `add` (a typed host→Wasm call), `call_log` (one Wasm→host call) and
;; `call_log_loop1000` (1000 Wasm→host calls, so that one costs a thousandth).
(module
  (import "env" "log" (func $log (param i32)))
  (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
  (func (export "call_log") (param i32) (call $log (local.get 0)))
  (func (export "call_log_loop1000") (param $x i32) (local $i i32)
    (loop $more
      (call $log (local.get $x))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $more (i32.lt_u (local.get $i) (i32.const 1000))))))
