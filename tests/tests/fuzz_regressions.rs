//! Every input that once crashed a fuzz target, run through that target's
//! body again (`kiln_tests::fuzzing`): `tests/regressions/fuzz/TARGET/*`.
//! A crash here is the old bug back; a panic names the input.

use std::path::{Path, PathBuf};

use kiln_tests::fuzzing::TARGETS;

fn inputs(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions/fuzz").join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries.map(|e| e.expect("directory entry").path()).filter(|p| p.is_file()).collect();
    files.sort();
    files
}

#[test]
fn saved_fuzz_inputs_pass_their_targets() {
    let mut replayed = 0;
    for &(target, body) in TARGETS {
        for input in inputs(target) {
            let data = std::fs::read(&input).unwrap_or_else(|e| panic!("{}: {e}", input.display()));
            let outcome = std::panic::catch_unwind(|| body(&data));
            assert!(outcome.is_ok(), "{target}: {} fails again", input.display());
            replayed += 1;
        }
    }
    println!("{replayed} saved inputs replayed");
    // The load_mutated inputs of the bincode length-prefix bug (86c74ce) are kept.
    assert!(replayed >= inputs("load_mutated").len() && !inputs("load_mutated").is_empty());
}
