;; An exception that nothing catches: `kiln run` exits 134, as for a trap,
;; and says what the exception carried.
(module
  (tag $oops (param i32 i64))
  (func (export "_start") (throw $oops (i32.const 42) (i64.const -7)))
  (func (export "caught") (result i32)
    (block $handler (result i32 i64)
      (try_table (catch $oops $handler) (throw $oops (i32.const 5) (i64.const 6)))
      (unreachable))
    (drop)))
