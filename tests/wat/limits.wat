;; Growth that a store's resource limiter decides.
(module
  (memory (export "memory") 1)
  (table $t (export "t") 1 funcref)
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  ;; A guest that goes on when it cannot grow.
  (func (export "grow_or_fall_back") (param i32) (result i32)
    (if (i32.ne (memory.grow (local.get 0)) (i32.const -1))
      (then (return (i32.const 1))))
    (i32.const 42))
  (func (export "table_grow") (param i32) (result i32)
    (table.grow $t (ref.null func) (local.get 0))))
