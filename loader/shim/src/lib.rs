//! `containerd-shim-kiln-v1`: the containerd runtime shim of kiln (runtime
//! type `io.containerd.kiln.v1`), on runwasi's `containerd-shim-wasm`.
//!
//! containerd starts one shim process per container. For an image whose
//! layers are modules (format-spec/SPEC.md 4), the shim reads them from
//! containerd's content store and the container's process runs one with
//! kiln's loader, as a WASI command: the image's arguments and environment,
//! its directory mounts as preopens, containerd's standard streams, and the
//! program's exit status as the container's.
//!
//! kiln runs only code compiled ahead of time, so a Wasm layer is compiled
//! once per node, by runwasi's precompile hook ([`Precompiler`]), and the
//! artifact kept in the content store for every later container of the
//! image. An image may instead ship its artifact, which runs as it is when
//! it is signed by a key the node trusts ([`node_trust`]).
//!
//! This crate is the only part of kiln that depends on runwasi, tokio and
//! containerd's client; `kiln` and `kilnc` build without it.

#![deny(unsafe_code)]

pub mod node_trust;
mod precompiler;
mod preopens;
mod sandbox;
mod signals;
mod workload;

pub use precompiler::Precompiler;
pub use sandbox::KilnSandbox;

use containerd_shim_wasm::shim::{Shim, Version};

/// The shim's name: containerd derives the binary's name,
/// `containerd-shim-kiln-v1`, from the runtime type `io.containerd.kiln.v1`,
/// and runwasi labels the precompiled content with it.
pub const SHIM_NAME: &str = "kiln";

/// kiln's shim, for runwasi.
pub struct KilnShim;

impl Shim for KilnShim {
    type Sandbox = KilnSandbox;

    fn name() -> &'static str {
        SHIM_NAME
    }

    fn version() -> Version {
        containerd_shim_wasm::shim::version!()
    }

    async fn compiler() -> Option<impl containerd_shim_wasm::shim::Compiler> {
        Some(Precompiler::for_this_node())
    }

    fn supported_layers_types() -> &'static [&'static str] {
        &[kiln_format::OCI_WASM_LAYER_MEDIA_TYPE, kiln_format::OCI_ARTIFACT_LAYER_MEDIA_TYPE]
    }
}
