;; Compiled twice: with `kilnc --fuel` for the fuel tests, and with
;; `kilnc --epoch-interruption` for the deadline tests.
(module
  ;; Counts `n` down to zero; returns how many rounds it made.
  (func (export "count") (param $n i32) (result i32) (local $rounds i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (local.set $rounds (i32.add (local.get $rounds) (i32.const 1)))
        (br $next)))
    (local.get $rounds))

  (func (export "forever")
    (loop $again (br $again))))
