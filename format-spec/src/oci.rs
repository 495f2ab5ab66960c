//! How kiln workloads are packaged as OCI images (SPEC.md 4): the media
//! types of their layers and the platform of their image configuration.
//! `kiln oci build` writes such images; the containerd shim
//! (`containerd-shim-kiln-v1`) reads them.
//!
//! The Wasm layer's media type is the one runwasi's shims and the CNCF Wasm
//! OCI artifact already use, so a kiln image also runs under any other
//! runwasi shim. The artifact layer's is kiln's own: a precompiled kiln
//! artifact (an ELF relocatable object, SPEC.md 1), which only a kiln
//! loader of the same format version can run.

/// Media type of a layer holding a WebAssembly module in the binary format.
pub const OCI_WASM_LAYER_MEDIA_TYPE: &str = "application/wasm";

/// Media type of a layer holding a kiln artifact: the bytes of a `.o` that
/// `kilnc` wrote, signed or not. The `v1` names this packaging, not the
/// artifact's `FORMAT_VERSION`, which the loader checks in the artifact's
/// own header.
pub const OCI_ARTIFACT_LAYER_MEDIA_TYPE: &str = "application/vnd.kiln.artifact.layer.v1+elf";

/// The image configuration's `architecture`: runwasi treats an image as a
/// Wasm image, and reads its layers rather than a root filesystem, only when
/// it says `wasm`.
pub const OCI_ARCHITECTURE: &str = "wasm";

/// The image configuration's `os`: the system interface the module imports.
pub const OCI_OS: &str = "wasip1";

/// Annotation on an artifact layer: the digest (`sha256:<hex>`) of the Wasm
/// layer of the same image that it was compiled from, so that a runtime
/// that cannot use the artifact knows which module to compile instead.
pub const OCI_ARTIFACT_SOURCE_ANNOTATION: &str = "dev.kiln.artifact.source";
