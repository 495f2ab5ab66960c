;; Memories and tables of both index types, for `kiln inspect`.
(module
  (import "env" "memory" (memory i64 1 2))
  (memory 1)
  (memory i64 3 70000)
  (table i64 2 10 funcref)
  (table 1 externref))
