//! A valid artifact, damaged as the input says.

use std::sync::OnceLock;

use kiln_compiler::{compile, CompileOptions};
use kiln_format::{seal_file, MAGIC};
use kiln_loader::Engine;

/// A small module with a memory, data, a table, elements, globals and
/// exports, so that every kind of structure is there to damage.
const MODULE: &str = r#"
(module
  (type $binary (func (param i32 i32) (result i32)))
  (memory (export "memory") 1 2)
  (data (i32.const 16) "kiln fuzz data")
  (table (export "table") 4 funcref)
  (elem (i32.const 0) $add $sub)
  (global $counter (export "counter") (mut i64) (i64.const 7))
  (global $ref (mut externref) (ref.null extern))
  (func $add (export "add") (type $binary) (i32.add (local.get 0) (local.get 1)))
  (func $sub (type $binary) (i32.sub (local.get 0) (local.get 1)))
  (func (export "dispatch") (param i32 i32 i32) (result i32)
    (global.set $counter (i64.add (global.get $counter) (i64.const 1)))
    (call_indirect (type $binary) (local.get 1) (local.get 2) (local.get 0)))
  (func (export "load") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (func (export "keep") (param externref) (global.set $ref (local.get 0))))
"#;

struct Pristine {
    engine: Engine,
    artifact: Vec<u8>,
    meta_offset: usize,
}

/// The artifact, compiled once per process.
fn pristine() -> &'static Pristine {
    static PRISTINE: OnceLock<Pristine> = OnceLock::new();
    PRISTINE.get_or_init(|| {
        let artifact = compile(MODULE.as_bytes(), &CompileOptions::default()).expect("the module compiles");
        let meta_offset = artifact.windows(MAGIC.len()).position(|w| w == MAGIC).expect("the artifact has a header");
        let engine = Engine::default();
        crate::module_from_bytes(&engine, &artifact).expect("the pristine artifact loads");
        Pristine { engine, artifact, meta_offset }
    })
}

/// The loader refuses or loads the damaged artifact, and never crashes.
///
/// The input's first byte chooses the mode; the rest is a list of 5-byte
/// edits, each a little-endian position (modulo the length) and a byte to
/// xor there.
/// - bit 0: seal the damaged file again (the digest made right), so that
///   the checks behind the digest see the damage;
/// - bit 1: truncate the file at the first edit's position instead of
///   editing it.
pub fn load_mutated_artifact(data: &[u8]) {
    let pristine = pristine();
    let Some((&mode, edits)) = data.split_first() else { return };
    let mut file = pristine.artifact.clone();
    let len = file.len();
    let edits = edits.chunks_exact(5).map(|edit| {
        let position = u32::from_le_bytes([edit[0], edit[1], edit[2], edit[3]]) as usize % len;
        (position, edit[4])
    });
    if mode & 2 != 0 {
        if let Some((position, _)) = edits.clone().next() {
            file.truncate(position);
        }
    } else {
        for (position, xor) in edits {
            file[position] ^= xor;
        }
    }
    if mode & 1 != 0 {
        seal_file(&mut file, pristine.meta_offset);
    }
    let _ = crate::module_from_bytes(&pristine.engine, &file);
}
