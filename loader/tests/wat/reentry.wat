(module
  (import "host" "callback" (func $callback (param i32) (result i32)))
  (func (export "down") (param i32) (result i32) local.get 0 call $callback)
  (func (export "div") (param i32 i32) (result i32) local.get 0 local.get 1 i32.div_s)
  (func (export "second") (param externref externref) (result externref) local.get 1)
  (func $deep (export "deep") (param i32) (result i32)
    local.get 0 i32.eqz if (result i32) i32.const 0 else local.get 0 i32.const 1 i32.sub call $deep i32.const 1 i32.add end)
)
