//! `kiln oci build`: an OCI image of a kiln workload (format-spec SPEC.md
//! 4), as an image layout in a tar archive that `ctr image import` reads
//! and `containerd-shim-kiln-v1` runs. Its layers are a Wasm module, a
//! kiln artifact, or both; nothing in it is a file system.

mod archive;
mod reference;

use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{anyhow, bail, Context, Result};
use kiln_format::{
    ArtifactHeader, OCI_ARCHITECTURE, OCI_ARTIFACT_LAYER_MEDIA_TYPE, OCI_ARTIFACT_SOURCE_ANNOTATION, OCI_OS,
    OCI_WASM_LAYER_MEDIA_TYPE,
};
use kiln_loader::code::wasm_source::{self, WasmFormat};
use oci_spec::image::{
    Arch, ConfigBuilder, Descriptor, DescriptorBuilder, ImageConfigurationBuilder, ImageIndexBuilder,
    ImageManifestBuilder, MediaType, OciLayoutBuilder, Os, PlatformBuilder, RootFs, Sha256Digest, ANNOTATION_REF_NAME,
};
use sha2::{Digest as _, Sha256};

use self::reference::ImageReference;
use crate::UsageError;

/// The annotation by which `ctr image import` names the image it imports.
const CONTAINERD_IMAGE_NAME_ANNOTATION: &str = "io.containerd.image.name";

/// The version of the image layout (`oci-layout`) that the archive holds.
const IMAGE_LAYOUT_VERSION: &str = "1.0.0";

/// The subcommands of `kiln oci`.
#[derive(clap::Subcommand)]
pub enum OciCommand {
    /// Write an OCI image archive (an image layout in a tar file) of a
    /// WebAssembly module, its kiln artifact, or both, for
    /// containerd-shim-kiln-v1: `ctr image import --all-platforms
    /// --no-unpack APP.tar` (no layer is a file system to unpack). The
    /// same inputs always give the same bytes.
    Build(BuildArgs),
}

/// The arguments of `kiln oci build`.
#[derive(clap::Args)]
pub struct BuildArgs {
    /// The module: a WebAssembly module in the binary format (`.wasm`), or
    /// a kiln artifact (`kilnc` output) for an image of that artifact
    /// alone.
    input: PathBuf,
    /// Also ship this artifact, compiled by kilnc from INPUT, as a layer
    /// beside the Wasm one: a node whose loader accepts it runs it without
    /// compiling, the others compile INPUT.
    #[arg(long, value_name = "APP.o")]
    artifact: Option<PathBuf>,
    /// The image reference, `[REGISTRY/]PATH[:TAG]` (`:latest` if no tag);
    /// default `kiln.local/STEM:latest` after INPUT's file name. Kubernetes
    /// reads a name without a registry as one on docker.io.
    #[arg(long, value_name = "REF")]
    name: Option<String>,
    /// Argument 0 of the process, which names the module (default: INPUT's
    /// file name); `NAME#EXPORT` runs EXPORT instead of `_start`.
    #[arg(long, value_name = "ARG0")]
    entrypoint: Option<String>,
    /// An environment variable of the process; repeatable.
    #[arg(long = "env", value_name = "KEY=VALUE")]
    envs: Vec<String>,
    /// The process's working directory: an absolute path.
    #[arg(long, value_name = "DIR")]
    workdir: Option<String>,
    /// The archive to write.
    #[arg(short, long, value_name = "APP.tar")]
    output: PathBuf,
    /// Replace the archive if it exists.
    #[arg(long)]
    force: bool,
    /// The process's arguments after argument 0 (the image's `Cmd`).
    #[arg(last = true, value_name = "CMD")]
    cmd: Vec<String>,
}

/// A file of the image: a layer, the configuration or the manifest, stored
/// under its digest.
struct Blob {
    media_type: MediaType,
    /// The 64 hex digits of its sha256.
    sha256: String,
    bytes: Vec<u8>,
}

impl Blob {
    fn new(media_type: MediaType, bytes: Vec<u8>) -> Self {
        let sha256 = format!("{:x}", Sha256::digest(&bytes));
        Blob { media_type, sha256, bytes }
    }

    /// `sha256:<hex>`.
    fn digest(&self) -> String {
        format!("sha256:{}", self.sha256)
    }

    /// The descriptor that names it, with `annotations`.
    fn descriptor(&self, annotations: &[(&str, String)]) -> Result<Descriptor> {
        let digest = Sha256Digest::from_str(&self.sha256)?;
        let mut builder = DescriptorBuilder::default()
            .media_type(self.media_type.clone())
            .digest(digest)
            .size(self.bytes.len() as u64);
        if !annotations.is_empty() {
            builder = builder.annotations(
                annotations
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect::<std::collections::HashMap<_, _>>(),
            );
        }
        Ok(builder.build()?)
    }

    /// Where the archive holds it.
    fn path(&self) -> String {
        format!("blobs/sha256/{}", self.sha256)
    }
}

/// What INPUT holds.
enum Module {
    Wasm(Vec<u8>),
    Artifact(Vec<u8>),
}

/// `kiln oci build`.
pub fn build(args: &BuildArgs) -> Result<()> {
    let reference = match &args.name {
        Some(text) => ImageReference::parse(text).map_err(|why| UsageError(format!("--name {why}")))?,
        None => {
            let stem = args.input.file_stem().map(|s| s.to_string_lossy()).unwrap_or_default();
            ImageReference::default_for(&stem).map_err(|why| {
                UsageError(format!("cannot name the image after {}: {why}; give --name", args.input.display()))
            })?
        }
    };
    let config = image_configuration(args)?;

    let mut layers: Vec<(Blob, Vec<(&str, String)>)> = Vec::new();
    match read_module(&args.input)? {
        Module::Wasm(bytes) => {
            let wasm = Blob::new(OCI_WASM_LAYER_MEDIA_TYPE.into(), bytes);
            let source = wasm.digest();
            layers.push((wasm, Vec::new()));
            if let Some(path) = &args.artifact {
                let artifact = read_artifact(path)?;
                layers.push((
                    Blob::new(OCI_ARTIFACT_LAYER_MEDIA_TYPE.into(), artifact),
                    vec![(OCI_ARTIFACT_SOURCE_ANNOTATION, source)],
                ));
            }
        }
        Module::Artifact(bytes) => {
            if let Some(path) = &args.artifact {
                return Err(UsageError(format!(
                    "{} is an artifact already; --artifact {} goes beside a WebAssembly module, the one it was \
                     compiled from",
                    args.input.display(),
                    path.display()
                ))
                .into());
            }
            layers.push((Blob::new(OCI_ARTIFACT_LAYER_MEDIA_TYPE.into(), bytes), Vec::new()));
        }
    }

    let config = Blob::new(MediaType::ImageConfig, canonical_json(serde_json::to_value(&config)?)?);
    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(config.descriptor(&[])?)
        .layers(layers.iter().map(|(layer, annotations)| layer.descriptor(annotations)).collect::<Result<Vec<_>>>()?)
        .build()?;
    let manifest = Blob::new(MediaType::ImageManifest, canonical_json(serde_json::to_value(&manifest)?)?);
    let platform =
        PlatformBuilder::default().architecture(Arch::from(OCI_ARCHITECTURE)).os(Os::from(OCI_OS)).build()?;
    let mut manifest_descriptor = manifest.descriptor(&[
        (CONTAINERD_IMAGE_NAME_ANNOTATION, reference.to_string()),
        (ANNOTATION_REF_NAME, reference.tag().to_string()),
    ])?;
    manifest_descriptor.set_platform(Some(platform));
    let index = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(vec![manifest_descriptor])
        .build()?;
    let layout = OciLayoutBuilder::default().image_layout_version(IMAGE_LAYOUT_VERSION).build()?;

    let (layout, index) =
        (canonical_json(serde_json::to_value(&layout)?)?, canonical_json(serde_json::to_value(&index)?)?);
    let mut files: Vec<(String, &[u8])> = vec![("oci-layout".to_string(), &layout), ("index.json".to_string(), &index)];
    for blob in std::iter::once(&config).chain(layers.iter().map(|(layer, _)| layer)).chain([&manifest]) {
        files.push((blob.path(), &blob.bytes));
    }
    let tar = archive::tar_archive(&files).with_context(|| format!("cannot write {}", args.output.display()))?;
    archive::write_output(&args.output, &tar, args.force)?;

    let kinds: Vec<String> =
        layers.iter().map(|(layer, _)| format!("{} ({} bytes)", layer.media_type, layer.bytes.len())).collect();
    outln!("{}: image {reference}, manifest {}", args.output.display(), manifest.digest());
    outln!("layers: {}", kinds.join(", "));
    Ok(())
}

/// The image configuration of `args`: platform, process and an empty
/// root file system.
fn image_configuration(args: &BuildArgs) -> Result<oci_spec::image::ImageConfiguration> {
    let arg0 = match &args.entrypoint {
        Some(arg0) => arg0.clone(),
        None => args
            .input
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .ok_or_else(|| UsageError(format!("{} names no file", args.input.display())))?,
    };
    if arg0.is_empty() {
        return Err(UsageError("--entrypoint is empty: it names the module".into()).into());
    }
    let mut keys: Vec<&str> = Vec::new();
    for env in &args.envs {
        let key = match env.split_once('=') {
            Some((key, _)) if !key.is_empty() => key,
            _ => return Err(UsageError(format!("--env {env}: write KEY=VALUE")).into()),
        };
        if keys.contains(&key) {
            return Err(UsageError(format!("--env {key} is given twice")).into());
        }
        keys.push(key);
    }
    let mut process = ConfigBuilder::default().entrypoint(vec![arg0]);
    if !args.cmd.is_empty() {
        process = process.cmd(args.cmd.clone());
    }
    if !args.envs.is_empty() {
        process = process.env(args.envs.clone());
    }
    if let Some(dir) = &args.workdir {
        if !dir.starts_with('/') {
            return Err(UsageError(format!("--workdir {dir}: the working directory must be an absolute path")).into());
        }
        process = process.working_dir(dir.clone());
    }
    Ok(ImageConfigurationBuilder::default()
        .architecture(Arch::from(OCI_ARCHITECTURE))
        .os(Os::from(OCI_OS))
        .config(process.build()?)
        .rootfs(RootFs::default())
        .build()?)
}

/// JSON with every object's keys sorted, so that maps (annotations) come
/// out the same on every run.
fn canonical_json(value: serde_json::Value) -> Result<Vec<u8>> {
    fn sorted(value: serde_json::Value) -> serde_json::Value {
        match value {
            serde_json::Value::Object(map) => {
                let mut entries: Vec<(String, serde_json::Value)> = map.into_iter().collect();
                entries.sort_by(|(a, _), (b, _)| a.cmp(b));
                serde_json::Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
            }
            serde_json::Value::Array(items) => serde_json::Value::Array(items.into_iter().map(sorted).collect()),
            other => other,
        }
    }
    Ok(serde_json::to_vec(&sorted(value))?)
}

/// INPUT: a module in the binary format, or an artifact.
fn read_module(path: &Path) -> Result<Module> {
    let bytes = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    match wasm_source::sniff(&bytes) {
        Some(WasmFormat::Binary) => {
            check_module_version(&bytes, path)?;
            Ok(Module::Wasm(bytes))
        }
        Some(WasmFormat::Text) => Err(text_format_refusal(path)),
        None if kiln_loader::code::meta_offset(&bytes).is_ok() => {
            check_artifact(&bytes, path)?;
            Ok(Module::Artifact(bytes))
        }
        None => bail!(
            "{} is neither a WebAssembly module in the binary format (which starts with `\\0asm`) nor a kiln \
             artifact: pass the `.wasm` file, or the `.o` that kilnc made of it",
            path.display()
        ),
    }
}

/// The binary format's version that kiln compiles: 1 (a component has
/// another, and its own layer).
fn check_module_version(bytes: &[u8], path: &Path) -> Result<()> {
    match bytes.get(4..8) {
        Some([1, 0, 0, 0]) => Ok(()),
        Some([_, _, 1, 0]) => bail!("{} is a WebAssembly component, not a module: kiln runs modules", path.display()),
        Some(version) => bail!(
            "{}: WebAssembly binary format version {}, kiln reads version 1",
            path.display(),
            u32::from_le_bytes(version.try_into().expect("four bytes"))
        ),
        None => bail!("{}: truncated WebAssembly module ({} bytes)", path.display(), bytes.len()),
    }
}

/// The error for a module in the text format: an image holds the binary
/// one.
fn text_format_refusal(path: &Path) -> anyhow::Error {
    anyhow!(
        "{} is a WebAssembly module in the text format; an image holds the binary format: convert it first \
         (`wasm-tools parse {} -o {}`), or pass the artifact `{}` makes",
        path.display(),
        wasm_source::shell_word(path),
        wasm_source::shell_word(&path.with_extension("wasm")),
        wasm_source::kilnc_command(path)
    )
}

/// `--artifact`: a kiln artifact, checked as far as its header and digest.
fn read_artifact(path: &Path) -> Result<Vec<u8>> {
    let bytes = fs::read(path).with_context(|| format!("cannot read --artifact {}", path.display()))?;
    if wasm_source::sniff(&bytes).is_some() {
        bail!(
            "--artifact {} is a WebAssembly module, not a kiln artifact: pass the module as INPUT, and as \
             --artifact what `{}` makes of it",
            path.display(),
            wasm_source::kilnc_command(path)
        );
    }
    check_artifact(&bytes, path).with_context(|| format!("--artifact {}", path.display()))?;
    Ok(bytes)
}

/// That `bytes` are an undamaged kiln artifact: an ELF object whose header
/// reads, with the digest it records. Nothing is loaded: whether a node
/// can run it is the node's loader's to say.
fn check_artifact(bytes: &[u8], path: &Path) -> Result<()> {
    let not_an_artifact = |why: String| anyhow!("{} is not a kiln artifact: {why}", path.display());
    let meta = kiln_loader::code::meta_offset(bytes).map_err(|e| not_an_artifact(e.to_string()))?;
    let header = bytes.get(meta..).ok_or_else(|| not_an_artifact("its header lies outside the file".into()))?;
    ArtifactHeader::from_bytes(header).map_err(|e| not_an_artifact(e.to_string()))?;
    let recorded = kiln_format::recorded_digest(bytes, meta);
    if recorded.is_none() || kiln_format::file_digest(bytes, meta) != recorded {
        bail!("{}: digest mismatch: the artifact is damaged", path.display());
    }
    Ok(())
}
