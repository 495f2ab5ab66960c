//! Loading the artifacts the tests make.
//!
//! Loading an artifact runs its code, so the loader's loading functions are
//! `unsafe`: their caller vouches for what it loads. The tests vouch here,
//! once, for what they load: artifacts that the workspace's kilnc compiled
//! from the tests' own modules, or damaged and mutated copies of those (and
//! fuzzers' bytes) whose refusal by the loader's checks is what the test is
//! about.
#![allow(unsafe_code)]

use std::path::Path;

use kiln_loader::{Engine, Error, Module};

/// [`Module::from_file`] of a test artifact.
pub fn module_from_file(engine: &Engine, path: impl AsRef<Path>) -> Result<Module, Error> {
    // SAFETY: a test's own artifact (see the module documentation).
    unsafe { Module::from_file(engine, path) }
}

/// [`Module::from_bytes`] of a test artifact.
pub fn module_from_bytes(engine: &Engine, bytes: &[u8]) -> Result<Module, Error> {
    // SAFETY: a test's own artifact (see the module documentation).
    unsafe { Module::from_bytes(engine, bytes) }
}
