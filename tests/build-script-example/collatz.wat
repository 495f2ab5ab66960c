;; The longest Collatz chain: for every start below a limit, count the steps
;; of n -> n/2 (n even) or 3n+1 (n odd) down to 1. Each start whose chain is
;; longer than every earlier one is reported to the host (the import); the
;; last one reported is the answer.
(module
  (import "host" "record" (func $record (param $start i32) (param $steps i32)))

  ;; Steps from `n` down to 1; the values of a chain outgrow 32 bits long
  ;; before their starts do, so they are counted in 64.
  (func $steps (param $n i64) (result i32)
    (local $count i32)
    (block $done
      (loop $next
        (br_if $done (i64.le_u (local.get $n) (i64.const 1)))
        (local.set $n
          (if (result i64) (i64.eqz (i64.and (local.get $n) (i64.const 1)))
            (then (i64.shr_u (local.get $n) (i64.const 1)))
            (else (i64.add (i64.mul (local.get $n) (i64.const 3)) (i64.const 1)))))
        (local.set $count (i32.add (local.get $count) (i32.const 1)))
        (br $next)))
    (local.get $count))

  ;; The start below `limit` with the longest chain (the first of equals).
  (func (export "longest_chain") (param $limit i32) (result i32)
    (local $start i32) (local $steps i32) (local $best_start i32) (local $best_steps i32)
    (local.set $start (i32.const 1))
    (local.set $best_steps (i32.const -1))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $start) (local.get $limit)))
        (local.set $steps (call $steps (i64.extend_i32_u (local.get $start))))
        (if (i32.gt_s (local.get $steps) (local.get $best_steps))
          (then
            (local.set $best_start (local.get $start))
            (local.set $best_steps (local.get $steps))
            (call $record (local.get $start) (local.get $steps))))
        (local.set $start (i32.add (local.get $start) (i32.const 1)))
        (br $next)))
    (local.get $best_start)))
