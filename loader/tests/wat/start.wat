(module
  (import "host" "started" (func $started (param i32)))
  (func $start i32.const 99 call $started)
  (start $start)
)
