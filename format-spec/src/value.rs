//! The value slot shared by host-to-Wasm entry and Wasm-to-host trampolines.

/// Size in bytes of one value slot in the argument/result array that
/// trampolines read and write. Each value is stored little-endian at the start
/// of its slot: i32/f32 in 4 bytes, i64/f64/references in 8, v128 in 16.
pub const VALUE_SLOT_SIZE: u32 = 16;
