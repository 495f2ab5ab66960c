//! Which module of an image a container runs, and how it is loaded.
//!
//! An image has a Wasm layer, an artifact layer, or both (SPEC.md 4). By
//! the time the container's process runs, runwasi has replaced a Wasm
//! layer by the artifact the node compiled from it, when it has one
//! ([`WasmLayer::precompiled`]). The choice, in order:
//! 1. the image's artifact layer, if it is signed by a key the node trusts
//!    and this loader accepts it (format version, target, CPU features);
//! 2. the node's artifact, compiled from the Wasm layer;
//! 3. the Wasm layer, compiled here and now (when precompiling failed, or
//!    for a module given as a file of the container's root file system).
//!
//! An artifact layer that cannot run is passed over, with a warning, only
//! for a Wasm layer of the same image; with none, the container fails
//! with the reason.

use anyhow::{anyhow, bail, Context, Result};
use containerd_shim_wasm::sandbox::context::WasmLayer;
use kiln_format::{OCI_ARTIFACT_LAYER_MEDIA_TYPE, OCI_WASM_LAYER_MEDIA_TYPE};
use kiln_loader::{Engine, Module};

use crate::node_trust::NodeKeys;

/// An image's modules, by kind.
#[derive(Default)]
pub struct ImageModules<'a> {
    /// The Wasm layer, or the node's artifact compiled from it.
    pub wasm: Option<&'a WasmLayer>,
    /// The artifact the image ships.
    pub artifact: Option<&'a WasmLayer>,
}

impl<'a> ImageModules<'a> {
    /// Sorts `layers` by media type; refuses an image with two of a kind,
    /// as the container would otherwise run one of them by chance.
    pub fn of(layers: &'a [WasmLayer]) -> Result<ImageModules<'a>> {
        let mut modules = ImageModules::default();
        for layer in layers {
            let media_type = layer.config.media_type().to_string();
            let slot = match media_type.as_str() {
                OCI_WASM_LAYER_MEDIA_TYPE => &mut modules.wasm,
                OCI_ARTIFACT_LAYER_MEDIA_TYPE => &mut modules.artifact,
                other => bail!("layer {} has media type `{other}`, which kiln does not run", layer.config.digest()),
            };
            if let Some(first) = slot.replace(layer) {
                bail!(
                    "the image has two layers of media type `{media_type}` ({} and {}): a kiln image has one module \
                     of each kind",
                    first.config.digest(),
                    layer.config.digest()
                );
            }
        }
        if modules.wasm.is_none() && modules.artifact.is_none() {
            bail!("the image has no Wasm or kiln artifact layer");
        }
        Ok(modules)
    }
}

/// How the chosen module came to be loaded, for the shim's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The image's own artifact layer, signed by a trusted key.
    ImageArtifact,
    /// The artifact this node compiled from the Wasm layer, from
    /// containerd's content store.
    NodeArtifact,
    /// The Wasm layer, compiled in the container's process.
    CompiledNow,
}

/// Loads the module the container runs (the choice of the module docs).
pub fn load(engine: &Engine, modules: &ImageModules<'_>, node_keys: &NodeKeys) -> Result<(Module, Origin)> {
    if let Some(artifact) = modules.artifact {
        match load_image_artifact(engine, artifact, node_keys) {
            Ok(module) => return Ok((module, Origin::ImageArtifact)),
            Err(error) if modules.wasm.is_some() => {
                log::warn!("not running the image's artifact layer, but its Wasm layer: {error:#}");
            }
            Err(error) => return Err(error),
        }
    }
    let wasm = modules.wasm.expect("ImageModules::of refuses an image with neither kind of layer");
    if wasm.precompiled {
        // SAFETY: runwasi read these bytes from containerd's content store,
        // by the digest this node's shim recorded when it compiled them
        // from the image's Wasm layer: they are this node's own output, as
        // trusted as the node's containerd, which only root can write to.
        #[allow(unsafe_code)]
        let module = unsafe { Module::from_bytes(engine, &wasm.layer) }.with_context(|| {
            format!(
                "cannot load the artifact this node compiled from layer {}; removing and re-importing the image \
                 compiles it again",
                wasm.config.digest()
            )
        })?;
        return Ok((module, Origin::NodeArtifact));
    }
    let artifact = compile_here(&wasm.layer).with_context(|| format!("layer {}", wasm.config.digest()))?;
    Ok((load_compiled_here(engine, &artifact)?, Origin::CompiledNow))
}

/// Loads the image's artifact layer if a key the node trusts signed it.
pub fn load_image_artifact(engine: &Engine, artifact: &WasmLayer, node_keys: &NodeKeys) -> Result<Module> {
    load_signed_artifact(engine, &artifact.layer, &format!("artifact layer {}", artifact.config.digest()), node_keys)
}

/// Loads `bytes`, an artifact that `what` names, if a key the node trusts
/// signed it and this loader accepts it.
pub fn load_signed_artifact(engine: &Engine, bytes: &[u8], what: &str, node_keys: &NodeKeys) -> Result<Module> {
    let keys = node_keys.keys.as_ref().map_err(|e| anyhow!("{what}: {e}"))?;
    if keys.is_empty() {
        bail!(
            "{what} runs only if signed by a key this node trusts, and it trusts none: put the signer's public key \
             (`kiln keygen`'s NAME.pub) in {}",
            node_keys.dir.display()
        );
    }
    Module::from_bytes_verified(engine, bytes, keys)
        .with_context(|| format!("{what} (trusted keys from {})", node_keys.dir.display()))
}

/// Compiles a Wasm module for this machine, as the precompile hook does.
pub fn compile_here(wasm: &[u8]) -> Result<Vec<u8>> {
    if !wasm.starts_with(b"\0asm") {
        bail!("not a WebAssembly module in the binary format (it does not start with `\\0asm`)");
    }
    Ok(kiln_compiler::compile(wasm, &crate::precompiler::node_compile_options())?)
}

/// Loads an artifact that this process compiled.
pub fn load_compiled_here(engine: &Engine, artifact: &[u8]) -> Result<Module> {
    // SAFETY: kilnc's compiler, in this very process, wrote these bytes
    // from the module a moment ago; nobody else had them.
    #[allow(unsafe_code)]
    let module = unsafe { Module::from_bytes(engine, artifact) };
    module.context("cannot load the artifact compiled from the image's Wasm layer")
}
