//! runwasi's precompile hook: the Wasm layer of an image is compiled once
//! per node, when its first container starts, and runwasi keeps the
//! artifact in containerd's content store for every later container of
//! the image (labelled `runwasi.io/precompiled/kiln/<cache key>`).

use std::hash::Hash;

use anyhow::Result;
use containerd_shim_wasm::sandbox::context::WasmLayer;
use containerd_shim_wasm::shim::Compiler;
use kiln_compiler::{CompileOptions, CpuChoice};
use kiln_format::{CpuFeatures, FORMAT_VERSION};
use kiln_loader::Engine;

use crate::node_trust::{self, NodeKeys};
use crate::workload::{self, ImageModules};

/// The compile options of the node's artifacts: code for this machine's
/// own CPU, as the artifact never leaves it.
pub fn node_compile_options() -> CompileOptions {
    CompileOptions { cpu: CpuChoice::Native, ..CompileOptions::default() }
}

/// Compiles images' Wasm layers for this node.
pub struct Precompiler {
    node_keys: &'static NodeKeys,
}

impl Precompiler {
    /// The precompiler of this node, with the keys it trusts.
    pub fn for_this_node() -> Precompiler {
        Precompiler { node_keys: node_trust::read_node_keys() }
    }
}

/// What an artifact compiled here depends on: a node whose shim, artifact
/// format or CPU changes compiles its images again rather than loading an
/// artifact it would refuse.
#[derive(Hash)]
struct CacheKey {
    shim_version: &'static str,
    format_version: u32,
    cpu_features: CpuFeatures,
}

impl Compiler for Precompiler {
    fn cache_key(&self) -> impl Hash {
        CacheKey {
            shim_version: env!("CARGO_PKG_VERSION"),
            format_version: FORMAT_VERSION,
            cpu_features: kiln_loader::code::host_cpu_features(),
        }
    }

    async fn compile(&self, layers: &[WasmLayer]) -> Result<Vec<Option<Vec<u8>>>> {
        let modules = ImageModules::of(layers)?;
        // An image whose own artifact will run needs nothing compiled.
        if let Some(artifact) = modules.artifact {
            match workload::load_image_artifact(&Engine::default(), artifact, self.node_keys) {
                Ok(_) => {
                    log::info!(
                        "kiln: the image's artifact layer {} will run; nothing to compile",
                        artifact.config.digest()
                    );
                    return Ok(vec![None; layers.len()]);
                }
                Err(error) => log::warn!("kiln: {error:#}; compiling the image's Wasm layer instead"),
            }
        }
        let mut compiled = Vec::with_capacity(layers.len());
        for layer in layers {
            let is_wasm = modules.wasm.is_some_and(|wasm| std::ptr::eq(wasm, layer));
            if !is_wasm || layer.precompiled {
                compiled.push(None);
                continue;
            }
            let started = std::time::Instant::now();
            let artifact = workload::compile_here(&layer.layer)
                .map_err(|e| e.context(format!("cannot compile layer {}", layer.config.digest())))?;
            log::info!(
                "kiln: compiled layer {} ({} bytes of Wasm) in {:.1} ms",
                layer.config.digest(),
                layer.layer.len(),
                started.elapsed().as_secs_f64() * 1e3
            );
            compiled.push(Some(artifact));
        }
        Ok(compiled)
    }
}
