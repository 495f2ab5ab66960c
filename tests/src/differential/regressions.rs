//! Saved mismatches: `tests/regressions/*.wasm`, rerun by the test.
//!
//! A campaign saves the module of seed `S` as `S.wasm`, and the fuzz
//! target saves its modules as `fuzz-H.wasm` (`H` the hash of the bytes).
//! A module written by hand (a reduced case) is a `.wat` file. The name
//! tells where the arguments come from: the seed for a decimal name, the
//! module's binary for any other. Beside a module, `S.open` says
//! that its mismatch is a known, open kiln bug and describes it: the test
//! then reports the module without failing, and fails once the two engines
//! agree on it, so that the marker goes when the bug does.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::generate::Subject;
use super::rng::fnv1a;

/// The directory of saved mismatches, `tests/regressions/`.
pub fn regressions_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions")
}

/// One saved module.
#[derive(Clone, Debug)]
pub struct RegressionFile {
    /// The `.wasm` or `.wat` file.
    pub path: PathBuf,
    /// The module, with the arguments it was found with.
    pub subject: Subject,
    /// The contents of its `.open` marker: the known bug it shows.
    pub open: Option<String>,
}

/// Every `.wasm` and `.wat` of `dir` in name order (none if `dir` does not exist).
pub fn regression_files(dir: &Path) -> io::Result<Vec<RegressionFile>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "wasm" || e == "wat") {
            paths.push(path);
        }
    }
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let wasm = if path.extension().is_some_and(|e| e == "wat") {
                wat::parse_file(&path).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?
            } else {
                fs::read(&path)?
            };
            let open = match fs::read_to_string(path.with_extension("open")) {
                Ok(text) => Some(text.trim().to_string()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => return Err(e),
            };
            let subject = match seed_of(&path) {
                Some(seed) => Subject { wasm, argument_seed: seed },
                None => Subject::unseeded(wasm),
            };
            Ok(RegressionFile { path, subject, open })
        })
        .collect()
}

/// The seed a regression file is named after, if it is.
pub fn seed_of(path: &Path) -> Option<u64> {
    path.file_stem()?.to_str()?.parse().ok()
}

/// Saves the module of `seed` as `dir/seed.wasm`, with an `.open` marker
/// holding `description`, and returns the module's path.
pub fn save_seed_regression(dir: &Path, seed: u64, wasm: &[u8], description: &str) -> io::Result<PathBuf> {
    save(dir, &seed.to_string(), wasm, description)
}

/// Saves a module that came from no seed as `dir/fuzz-H.wasm`, with an
/// `.open` marker holding `description`, and returns the module's path.
pub fn save_unseeded_regression(dir: &Path, wasm: &[u8], description: &str) -> io::Result<PathBuf> {
    save(dir, &format!("fuzz-{:016x}", fnv1a(wasm)), wasm, description)
}

fn save(dir: &Path, stem: &str, wasm: &[u8], description: &str) -> io::Result<PathBuf> {
    fs::create_dir_all(dir)?;
    let path = dir.join(format!("{stem}.wasm"));
    fs::write(&path, wasm)?;
    fs::write(path.with_extension("open"), format!("{description}\n"))?;
    Ok(path)
}
