;; Threads on one shared memory, imported by every instance.
;;
;; Layout of the memory: the counter at 0, the turn word at 8, the log
;; cursor at 12, the log from 16 (one i32 per move), the waiting room at
;; 32768 (`arrived` at 32768, `woken` at 32772, waiters at 32776).
(module
  (import "env" "memory" (memory 1 4 shared))

  ;; Adds 1 to the counter `n` times.
  (func (export "increment") (param $n i32)
    (block $done
      (loop $again
        (br_if $done (i32.eqz (local.get $n)))
        (drop (i32.atomic.rmw.add (i32.const 0) (i32.const 1)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $again))))

  (func (export "load") (param $address i32) (result i32)
    (i32.atomic.load (local.get $address)))

  ;; Plays `rounds` moves as player `me` (0 or 1): waits for its turn,
  ;; appends `1000 * me + k` to the log, hands the turn over and wakes the
  ;; other player. Player 0 moves first.
  (func (export "play") (param $me i32) (param $rounds i32)
    (local $k i32)
    (local $other i32)
    (local.set $other (i32.sub (i32.const 1) (local.get $me)))
    (block $done
      (loop $round
        (br_if $done (i32.ge_u (local.get $k) (local.get $rounds)))
        (block $my_turn
          (loop $wait
            (br_if $my_turn (i32.eq (i32.atomic.load (i32.const 8)) (local.get $me)))
            ;; Sleeps while the other player has the turn.
            (drop (memory.atomic.wait32 (i32.const 8) (local.get $other) (i64.const -1)))
            (br $wait)))
        (i32.atomic.store
          (i32.add (i32.const 16) (i32.shl (i32.atomic.rmw.add (i32.const 12) (i32.const 1)) (i32.const 2)))
          (i32.add (i32.mul (local.get $me) (i32.const 1000)) (local.get $k)))
        (i32.atomic.store (i32.const 8) (local.get $other))
        (drop (memory.atomic.notify (i32.const 8) (i32.const 1)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $round))))

  ;; Announces itself in `arrived`, waits at 32776 while it holds 0, then
  ;; counts itself in `woken` if a notify woke it; the wait's result.
  (func (export "wait_in_room") (result i32)
    (local $result i32)
    (drop (i32.atomic.rmw.add (i32.const 32768) (i32.const 1)))
    (local.set $result (memory.atomic.wait32 (i32.const 32776) (i32.const 0) (i64.const -1)))
    (if (i32.eqz (local.get $result))
      (then (drop (i32.atomic.rmw.add (i32.const 32772) (i32.const 1)))))
    (local.get $result))

  (func (export "wait32") (param $address i32) (param $expected i32) (param $timeout i64) (result i32)
    (memory.atomic.wait32 (local.get $address) (local.get $expected) (local.get $timeout)))
  (func (export "wait64") (param $address i32) (param $expected i64) (param $timeout i64) (result i32)
    (memory.atomic.wait64 (local.get $address) (local.get $expected) (local.get $timeout)))
  (func (export "notify") (param $address i32) (param $count i32) (result i32)
    (memory.atomic.notify (local.get $address) (local.get $count)))

  (func (export "size") (result i32) (memory.size))
  (func (export "grow") (param $pages i32) (result i32) (memory.grow (local.get $pages))))
