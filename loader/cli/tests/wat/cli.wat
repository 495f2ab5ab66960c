(module
  (func $inner (param i32) (result i32) local.get 0 i32.const 0 i32.div_u)
  (func (export "boom") (param i32) (result i32) local.get 0 call $inner)
  (func (export "pair") (param i64 f32) (result i64 f32) local.get 0 local.get 1)
  (func $r (export "rec") (param i32) (result i32) local.get 0 call $r i32.const 1 i32.add)
  (func (export "_start") unreachable)
)
