;; Fuel: small functions whose cost, in Wasmtime's cost model (one unit per
;; operator; nop, drop, block, loop, unreachable, return, else and end
;; free), tests/tests/fuel.rs counts by hand.
(module $fuel
  ;; 3: local.get, local.get, i32.add.
  (func $add (export "add") (param i32 i32) (result i32)
    local.get 0
    local.get 1
    i32.add)

  ;; 6: i32.const, i32.const, call, then add's 3.
  (func (export "call_add") (result i32)
    i32.const 1
    i32.const 2
    call $add)

  ;; 1: only i32.const costs anything.
  (func (export "free")
    nop
    (block (nop))
    i32.const 7
    drop)

  ;; 5 per iteration: local.get, i32.const, i32.sub, local.tee, br_if.
  ;; The check at the loop header before iteration k (from 0) sees 5k
  ;; consumed, so count(n) needs more than 5(n-1) fuel and consumes 5n.
  (func (export "count") (param $n i32)
    (loop $again
      local.get $n
      i32.const 1
      i32.sub
      local.tee $n
      br_if $again))

  ;; 1 per iteration (br), forever.
  (func (export "spin")
    (loop br 0)))
