;; Function 2 (the second defined one, after one import) adds an i64 to an i32.
(module
  (import "env" "f" (func))
  (func (result i32) (i32.const 1))
  (func (result i32) (i32.add (i32.const 1) (i64.const 2))))
