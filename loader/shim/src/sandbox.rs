//! The container's process: it runs the image's module as a WASI command,
//! and its exit status is the container's.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};
use containerd_shim_wasm::sandbox::context::{RuntimeContext, Source};
use containerd_shim_wasm::sandbox::Sandbox;
use kiln_loader::command_exit::{self, CommandEnd, EXIT_FAILURE};
use kiln_loader::wasi::{self, WasiCtx, WasiError};
use kiln_loader::{Engine, Linker, Module, Store};

use crate::node_trust;
use crate::preopens;
use crate::signals;
use crate::workload::{self, ImageModules, Origin};

/// The function a command runs unless the entrypoint names another
/// (`app.wasm#serve`).
const COMMAND_ENTRY: &str = "_start";

/// Runs one container's module with kiln's loader.
#[derive(Default)]
pub struct KilnSandbox;

impl Sandbox for KilnSandbox {
    async fn run_wasi(&self, ctx: &impl RuntimeContext) -> Result<i32> {
        Ok(i32::from(run_to_status(ctx)))
    }

    async fn can_handle(&self, ctx: &impl RuntimeContext) -> Result<()> {
        match ctx.entrypoint().source {
            Source::Oci(layers) => ImageModules::of(layers).map(|_| ()),
            Source::File(path) => module_file_kind(&path).map(|_| ()),
        }
    }
}

/// Runs the command and ends as `kiln run` does: the program's exit code,
/// or a report on the container's stderr and kiln's status for a trap or
/// a failure.
fn run_to_status(ctx: &impl RuntimeContext) -> u8 {
    let status = match signals::end_process_on_stop_signals().and_then(|()| run(ctx)) {
        Ok(()) => 0,
        Err(error) => {
            let end = CommandEnd::of(&error);
            if !matches!(end, CommandEnd::Exited(_)) {
                command_exit::report(&error);
            }
            end.status()
        }
    };
    // runwasi ends the process with `std::process::exit`, which does not
    // flush what the program left in the buffer.
    if std::io::stdout().flush().is_err() && status == 0 {
        return EXIT_FAILURE;
    }
    status
}

fn run(ctx: &impl RuntimeContext) -> Result<()> {
    let entrypoint = ctx.entrypoint();
    let engine = Engine::default();
    let (module, origin) = match &entrypoint.source {
        Source::Oci(layers) => workload::load(&engine, &ImageModules::of(layers)?, node_trust::read_node_keys())?,
        Source::File(path) => load_module_file(&engine, path)?,
    };
    log::info!("kiln: running {origin:?}");
    let mut linker = Linker::new(&engine);
    wasi::add_to_linker(&mut linker, |ctx: &mut WasiCtx| ctx)?;
    let mut store = Store::new(&engine, wasi_context(ctx)?);
    let instance = linker.instantiate(&mut store, &module)?;
    let func = entrypoint.func.as_str();
    if func != COMMAND_ENTRY {
        // A reactor's other exports run after its initializer, as under
        // `kiln run --invoke`.
        if let Some(init) = instance.get_func(&store, "_initialize") {
            init.typed::<(), ()>(&store)?.call(&mut store, ())?;
        }
    } else if instance.get_func(&store, func).is_none() {
        // Like `kiln run`: a module without `_start` only instantiates,
        // which runs its start function.
        return Ok(());
    }
    let entry = instance.require_func(&store, func)?;
    entry.typed::<(), ()>(&store).with_context(|| format!("the entrypoint `{func}`"))?.call(&mut store, ())?;
    Ok(())
}

/// The program's WASI context: the process's arguments (its name first,
/// without the `#function` of the entrypoint) and environment from the
/// container's spec, containerd's standard streams, and the container's
/// volumes preopened.
fn wasi_context(ctx: &impl RuntimeContext) -> Result<WasiCtx> {
    let mut wasi = WasiCtx::builder();
    let args = ctx.args();
    if let Some(name) = args.first() {
        wasi.arg(name.split_once('#').map_or(name.as_str(), |(path, _)| path));
    }
    wasi.args(args.iter().skip(1)).inherit_stdio();
    for variable in ctx.envs() {
        match variable.split_once('=') {
            Some((name, value)) => wasi.env(name, value),
            None => bail!("the container's environment variable `{variable}` is not NAME=VALUE"),
        };
    }
    for directory in preopens::mounted_directories()? {
        wasi.preopened_dir(&directory, directory.as_os_str())
            .with_context(|| format!("cannot preopen the volume {}", directory.display()))?;
    }
    wasi.build().map_err(|error| match error {
        WasiError::UnsafePreopen { path, reason } => anyhow::anyhow!(
            "refusing to preopen the volume `{}`: {reason}; mount a directory of files there instead",
            path.display()
        ),
        other => other.into(),
    })
}

/// A module named by the entrypoint as a file of the container's root
/// file system (an image that is not a kiln image, SPEC.md 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ModuleFileKind {
    Wasm,
    Artifact,
}

fn module_file_kind(path: &Path) -> Result<ModuleFileKind> {
    let mut magic = [0u8; 4];
    let mut file = std::fs::File::open(path).with_context(|| format!("the entrypoint {}", path.display()))?;
    std::io::Read::read_exact(&mut file, &mut magic)
        .with_context(|| format!("the entrypoint {} is not a module (too short)", path.display()))?;
    match &magic {
        b"\0asm" => Ok(ModuleFileKind::Wasm),
        b"\x7fELF" => Ok(ModuleFileKind::Artifact),
        _ => bail!("the entrypoint {} is neither a WebAssembly module nor a kiln artifact", path.display()),
    }
}

/// Loads a module file: compiled here if it is Wasm (nothing caches it:
/// only images' layers are precompiled); if it is an artifact, only signed
/// by a key the node trusts, as an artifact layer.
fn load_module_file(engine: &Engine, path: &Path) -> Result<(Module, Origin)> {
    let kind = module_file_kind(path)?;
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let what = format!("the entrypoint {}", path.display());
    match kind {
        ModuleFileKind::Wasm => {
            let artifact = workload::compile_here(&bytes).with_context(|| what.clone())?;
            Ok((workload::load_compiled_here(engine, &artifact)?, Origin::CompiledNow))
        }
        ModuleFileKind::Artifact => Ok((
            workload::load_signed_artifact(engine, &bytes, &what, node_trust::read_node_keys())?,
            Origin::ImageArtifact,
        )),
    }
}
