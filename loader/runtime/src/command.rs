//! Running the embedded artifact as a WASI command, with the process's
//! arguments and standard streams and the policy's preopens and
//! environment.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use anyhow::{Context, Result};
use kiln_format::RunPolicy;
use kiln_loader::wasi::{self, WasiCtx, WasiError};
use kiln_loader::{Engine, Linker, Module, Store};

use crate::embedded;

/// Loads, links and instantiates the embedded artifact, then runs its
/// `_start` as `kiln run` would; a module without `_start` only
/// instantiates (its start function runs).
pub(crate) fn run() -> Result<()> {
    let policy = RunPolicy::decode(embedded::policy()).context("this executable's run policy is damaged")?;
    let engine = Engine::default();
    let module = load_module(&engine, embedded::artifact())?;
    let ctx = wasi_context(&policy)?;
    let mut linker = Linker::new(&engine);
    wasi::add_to_linker(&mut linker, |ctx: &mut WasiCtx| ctx)?;
    let mut store = Store::new(&engine, ctx);
    let instance = linker.instantiate(&mut store, &module)?;
    if instance.get_func(&store, "_start").is_none() {
        return Ok(());
    }
    instance.get_typed_func::<(), ()>(&store, "_start")?.call(&mut store, ())?;
    Ok(())
}

/// Loads the artifact linked into this executable, running its code where
/// it lies in the executable's own pages (kilnc aligns it to a page).
fn load_module(engine: &Engine, artifact: &'static [u8]) -> Result<Module> {
    // SAFETY: the artifact was compiled by the kilnc that linked this
    // executable and is part of it: running it is running the executable,
    // which whoever started this process already trusts.
    #[allow(unsafe_code)]
    let module = unsafe { Module::from_static(engine, artifact) };
    module.context("cannot load the artifact embedded in this executable")
}

/// The program's WASI context: this process's arguments (its own name
/// first) and standard streams, and exactly the preopens and environment
/// of `policy`.
fn wasi_context(policy: &RunPolicy) -> Result<WasiCtx> {
    let mut ctx = WasiCtx::builder();
    ctx.args(std::env::args_os()).inherit_stdio();
    for (name, value) in environment(policy) {
        ctx.env(name, value);
    }
    for preopen in &policy.preopens {
        ctx.preopened_dir(OsStr::from_bytes(&preopen.host), OsStr::from_bytes(&preopen.guest))?;
    }
    ctx.build().map_err(|e| match e {
        WasiError::UnsafePreopen { path, reason } => anyhow::anyhow!(
            "refusing to preopen `{}`: {reason}; a standalone executable never preopens kernel filesystems or `/`",
            path.display()
        ),
        other => other.into(),
    })
}

/// The policy's variables, after those of this process when the policy
/// inherits them (a policy variable replaces the host's of the same name).
fn environment(policy: &RunPolicy) -> Vec<(OsString, OsString)> {
    let given: Vec<(OsString, OsString)> = policy
        .env
        .iter()
        .map(|(name, value)| (OsString::from_vec(name.clone()), OsString::from_vec(value.clone())))
        .collect();
    if !policy.inherit_env {
        return given;
    }
    let mut all: Vec<(OsString, OsString)> =
        std::env::vars_os().filter(|(name, _)| !given.iter().any(|(given, _)| given == name)).collect();
    all.extend(given);
    all
}
