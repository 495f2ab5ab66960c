;; Two functions, each with one call inside a try_table: the artifact has
;; two handler records, one in each function, both catching tag $a.
(module
  (tag $a (param i32))
  (tag $b)
  (func $thrower (param i32)
    (throw $a (local.get 0)))
  (func (export "first") (param i32) (result i32)
    (block $h (result i32)
      (try_table (catch $a $h)
        (call $thrower (local.get 0)))
      (i32.const -1)))
  (func (export "second") (param i32) (result i32)
    (block $none
      (block $h (result i32)
        (try_table (catch $a $h) (catch $b $none)
          (call $thrower (i32.add (local.get 0) (i32.const 1))))
        (i32.const -1))
      (return))
    (i32.const -2)))
