(module
  (import "host" "table" (table 3 funcref))
  (import "host" "mem" (memory 1))
  (func $f (result i32) i32.const 1)
  (elem (i32.const 0) $f)
  (elem (i32.const 2) $f $f)
  (data (i32.const 0) "ab")
  (data (i32.const 65535) "cd")
)
