//! `kiln oci build` as a user runs it: the image archive it writes, read
//! back entry by entry, and the inputs it refuses without leaving a file.
//! Artifacts are built by the `kilnc` binary (from `$KILNC` or the
//! workspace's target directory; the tests fail when it is not built).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use sha2::{Digest, Sha256};

/// A WASI command: what the image runs.
const APP_WAT: &str = r#"
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start") (call $exit (i32.const 7))))
"#;

fn kilnc() -> PathBuf {
    if let Some(path) = std::env::var_os("KILNC") {
        return PathBuf::from(path);
    }
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target");
    ["release", "debug"]
        .iter()
        .map(|p| target.join(p).join("kilnc"))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("kilnc is not built: run `make test`, or `cargo build --release -p kilnc` first"))
}

fn kiln(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kiln")).current_dir(dir).args(args).output().expect("run kiln")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `dir/app.wasm`, and with `artifact` also `dir/app.o` compiled from it.
fn app(dir: &Path, artifact: bool) {
    std::fs::write(dir.join("app.wat"), APP_WAT).unwrap();
    std::fs::write(dir.join("app.wasm"), wat::parse_str(APP_WAT).unwrap()).unwrap();
    if artifact {
        let status = Command::new(kilnc()).current_dir(dir).args(["app.wasm", "-o", "app.o"]).status().unwrap();
        assert!(status.success(), "kilnc app.wasm failed");
    }
}

/// `kiln oci build ARGS`, which must succeed.
fn build(dir: &Path, args: &[&str]) {
    let out = kiln(dir, &[&["oci", "build"], args].concat());
    assert!(out.status.success(), "kiln oci build {args:?}: {}", text(&out.stderr));
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// An unpacked image archive.
struct Image {
    /// Paths in archive order.
    order: Vec<String>,
    files: BTreeMap<String, Vec<u8>>,
}

impl Image {
    fn read(path: &Path) -> Image {
        let bytes = std::fs::read(path).unwrap();
        let mut archive = tar::Archive::new(&bytes[..]);
        let (mut order, mut files) = (Vec::new(), BTreeMap::new());
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let header = entry.header();
            assert_eq!((header.uid().unwrap(), header.gid().unwrap(), header.mtime().unwrap()), (0, 0, 0));
            let path = entry.path().unwrap().to_string_lossy().into_owned();
            let mut contents = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut contents).unwrap();
            order.push(path.clone());
            files.insert(path, contents);
        }
        Image { order, files }
    }

    fn json(&self, path: &str) -> Value {
        serde_json::from_slice(self.files.get(path).unwrap_or_else(|| panic!("no {path} in {:?}", self.order))).unwrap()
    }

    /// The blob a descriptor names, checked against its digest and size.
    fn blob(&self, descriptor: &Value) -> &[u8] {
        let digest = descriptor["digest"].as_str().unwrap();
        let path = format!("blobs/sha256/{}", digest.strip_prefix("sha256:").unwrap());
        let bytes = self.files.get(&path).unwrap_or_else(|| panic!("no {path} in {:?}", self.order));
        assert_eq!(sha256(bytes), digest, "{path}'s contents");
        assert_eq!(descriptor["size"].as_u64(), Some(bytes.len() as u64), "{path}'s size");
        bytes
    }

    /// The index's one manifest descriptor, checked; the manifest; and the
    /// image configuration.
    fn manifest_and_config(&self) -> (Value, Value, Value) {
        assert_eq!(self.order[..4], ["oci-layout", "index.json", "blobs/", "blobs/sha256/"]);
        assert_eq!(self.json("oci-layout"), serde_json::json!({"imageLayoutVersion": "1.0.0"}));
        let index = self.json("index.json");
        assert_eq!(index["schemaVersion"], 2);
        assert_eq!(index["mediaType"], "application/vnd.oci.image.index.v1+json");
        let manifests = index["manifests"].as_array().unwrap();
        assert_eq!(manifests.len(), 1);
        let descriptor = manifests[0].clone();
        assert_eq!(descriptor["mediaType"], "application/vnd.oci.image.manifest.v1+json");
        assert_eq!(descriptor["platform"], serde_json::json!({"architecture": "wasm", "os": "wasip1"}));
        let manifest: Value = serde_json::from_slice(self.blob(&descriptor)).unwrap();
        assert_eq!(manifest["schemaVersion"], 2);
        assert_eq!(manifest["mediaType"], "application/vnd.oci.image.manifest.v1+json");
        assert_eq!(manifest["config"]["mediaType"], "application/vnd.oci.image.config.v1+json");
        let config: Value = serde_json::from_slice(self.blob(&manifest["config"])).unwrap();
        assert_eq!(config["architecture"], "wasm");
        assert_eq!(config["os"], "wasip1");
        assert_eq!(config["rootfs"], serde_json::json!({"type": "layers", "diff_ids": []}));
        // Every blob is named by the manifest or the index: nothing else.
        let layers = manifest["layers"].as_array().unwrap().len();
        assert_eq!(self.files.len(), 4 + 2 + layers, "{:?}", self.order);
        (descriptor, manifest, config)
    }
}

#[test]
fn a_wasm_module_and_its_artifact_become_two_layers_with_the_process_in_the_config() {
    let dir = tempfile::tempdir().unwrap();
    app(dir.path(), true);
    let args = [
        "app.wasm",
        "--artifact",
        "app.o",
        "--name",
        "registry.example:5000/team/app:v1",
        "--env",
        "GREETING=hello=world",
        "--env",
        "EMPTY=",
        "--workdir",
        "/data",
        "-o",
        "app.tar",
        "--",
        "--flag",
        "input.txt",
    ];
    build(dir.path(), &args);
    let image = Image::read(&dir.path().join("app.tar"));
    let (descriptor, manifest, config) = image.manifest_and_config();
    assert_eq!(
        descriptor["annotations"],
        serde_json::json!({
            "io.containerd.image.name": "registry.example:5000/team/app:v1",
            "org.opencontainers.image.ref.name": "v1",
        })
    );
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2);
    assert_eq!(layers[0]["mediaType"], "application/wasm");
    assert_eq!(image.blob(&layers[0]), std::fs::read(dir.path().join("app.wasm")).unwrap());
    assert!(layers[0].get("annotations").is_none());
    assert_eq!(layers[1]["mediaType"], "application/vnd.kiln.artifact.layer.v1+elf");
    assert_eq!(image.blob(&layers[1]), std::fs::read(dir.path().join("app.o")).unwrap());
    assert_eq!(layers[1]["annotations"], serde_json::json!({"dev.kiln.artifact.source": layers[0]["digest"]}));
    assert_eq!(
        config["config"],
        serde_json::json!({
            "Entrypoint": ["app.wasm"],
            "Cmd": ["--flag", "input.txt"],
            "Env": ["GREETING=hello=world", "EMPTY="],
            "WorkingDir": "/data",
        })
    );
}

#[test]
fn a_wasm_module_alone_gets_the_default_name_and_entrypoint() {
    let dir = tempfile::tempdir().unwrap();
    app(dir.path(), false);
    build(dir.path(), &["app.wasm", "-o", "app.tar"]);
    let image = Image::read(&dir.path().join("app.tar"));
    let (descriptor, manifest, config) = image.manifest_and_config();
    assert_eq!(descriptor["annotations"]["io.containerd.image.name"], "kiln.local/app:latest");
    assert_eq!(descriptor["annotations"]["org.opencontainers.image.ref.name"], "latest");
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0]["mediaType"], "application/wasm");
    assert_eq!(config["config"], serde_json::json!({"Entrypoint": ["app.wasm"]}));

    build(dir.path(), &["app.wasm", "--name", "app", "--entrypoint", "app.wasm#main", "-o", "named.tar"]);
    let (descriptor, _, config) = Image::read(&dir.path().join("named.tar")).manifest_and_config();
    assert_eq!(descriptor["annotations"]["io.containerd.image.name"], "app:latest");
    assert_eq!(config["config"]["Entrypoint"], serde_json::json!(["app.wasm#main"]));
}

#[test]
fn an_artifact_alone_is_the_only_layer() {
    let dir = tempfile::tempdir().unwrap();
    app(dir.path(), true);
    build(dir.path(), &["app.o", "-o", "app.tar"]);
    let image = Image::read(&dir.path().join("app.tar"));
    let (descriptor, manifest, config) = image.manifest_and_config();
    assert_eq!(descriptor["annotations"]["io.containerd.image.name"], "kiln.local/app:latest");
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0]["mediaType"], "application/vnd.kiln.artifact.layer.v1+elf");
    assert!(layers[0].get("annotations").is_none(), "no Wasm layer to name as the source");
    assert_eq!(image.blob(&layers[0]), std::fs::read(dir.path().join("app.o")).unwrap());
    assert_eq!(config["config"]["Entrypoint"], serde_json::json!(["app.o"]));
}

#[test]
fn the_same_inputs_give_the_same_archive_bytes() {
    let dir = tempfile::tempdir().unwrap();
    app(dir.path(), true);
    std::fs::create_dir(dir.path().join("elsewhere")).unwrap();
    let args = |output: &'static str| {
        ["app.wasm", "--artifact", "app.o", "--name", "kiln.local/app:1", "--env", "A=1", "--env", "B=2", "-o", output]
    };
    build(dir.path(), &args("first.tar"));
    // Another time, name and directory; the annotations (a map) have two
    // keys, so an order that varied would show within a few runs.
    for run in 0..4 {
        std::fs::set_permissions(dir.path().join("app.wasm"), std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        build(dir.path(), &args("elsewhere/second.tar"));
        let first = std::fs::read(dir.path().join("first.tar")).unwrap();
        let second = std::fs::read(dir.path().join("elsewhere/second.tar")).unwrap();
        assert!(first == second, "run {run}: the archives differ");
        std::fs::remove_file(dir.path().join("elsewhere/second.tar")).unwrap();
    }
    // And a different input gives a different image.
    build(dir.path(), &["app.wasm", "--artifact", "app.o", "--name", "kiln.local/app:2", "-o", "third.tar"]);
    assert_ne!(
        std::fs::read(dir.path().join("first.tar")).unwrap(),
        std::fs::read(dir.path().join("third.tar")).unwrap()
    );
}

/// The names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// `kiln oci build ARGS -o out.tar` fails with `status`, saying `expected`,
/// and leaves `dir` as it was.
fn refused(dir: &Path, args: &[&str], status: i32, expected: &str) {
    let before = listing(dir);
    let out = kiln(dir, &[&["oci", "build"], args, &["-o", "out.tar"]].concat());
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(status), "{args:?}: {stderr}");
    assert!(stderr.contains(expected), "{args:?}: expected {expected:?} in: {stderr}");
    assert_eq!(listing(dir), before, "{args:?} left files behind");
}

#[test]
fn bad_inputs_and_arguments_are_refused_and_leave_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    app(dir, true);
    std::fs::write(dir.join("garbage.bin"), b"not a module at all").unwrap();
    std::fs::write(dir.join("component.wasm"), b"\0asm\x0d\0\x01\0").unwrap();
    let mut damaged = std::fs::read(dir.join("app.o")).unwrap();
    let last = damaged.len() - 1;
    damaged[last] ^= 0xff;
    std::fs::write(dir.join("damaged.o"), damaged).unwrap();

    refused(dir, &["missing.wasm"], 1, "cannot read missing.wasm");
    refused(dir, &["app.wat"], 1, "app.wat is a WebAssembly module in the text format");
    refused(dir, &["garbage.bin"], 1, "garbage.bin is neither a WebAssembly module");
    refused(dir, &["component.wasm"], 1, "component.wasm is a WebAssembly component");
    refused(dir, &["damaged.o"], 1, "damaged.o: digest mismatch");
    refused(dir, &["app.wasm", "--artifact", "damaged.o"], 1, "damaged.o: digest mismatch");
    refused(dir, &["app.wasm", "--artifact", "app.wasm"], 1, "--artifact app.wasm is a WebAssembly module");
    refused(dir, &["app.wasm", "--artifact", "garbage.bin"], 1, "garbage.bin is not a kiln artifact");
    refused(dir, &["app.wasm", "--artifact", "missing.o"], 1, "cannot read --artifact missing.o");
    refused(dir, &["app.o", "--artifact", "app.o"], 2, "app.o is an artifact already");
    refused(dir, &["app.wasm", "--env", "NOVALUE"], 2, "--env NOVALUE: write KEY=VALUE");
    refused(dir, &["app.wasm", "--env", "=x"], 2, "--env =x");
    refused(dir, &["app.wasm", "--env", "A=1", "--env", "A=2"], 2, "--env A is given twice");
    refused(dir, &["app.wasm", "--workdir", "data"], 2, "must be an absolute path");
    refused(dir, &["app.wasm", "--name", "Kiln/App"], 2, "upper-case");
    refused(dir, &["app.wasm", "--name", "app:bad tag"], 2, "the tag `bad tag`");
    refused(dir, &["app.wasm", "--name", "app@sha256:00"], 2, "has a digest");
    refused(dir, &["app.wasm", "--entrypoint", ""], 2, "--entrypoint is empty");

    // An existing archive is kept unless --force is given.
    std::fs::write(dir.join("out.tar"), b"precious").unwrap();
    refused(dir, &["app.wasm"], 1, "out.tar exists; pass --force");
    assert_eq!(std::fs::read(dir.join("out.tar")).unwrap(), b"precious");
    let before = listing(dir);
    build(dir, &["app.wasm", "--force", "-o", "out.tar"]);
    assert_eq!(listing(dir), before);
    assert!(Image::read(&dir.join("out.tar")).files.contains_key("index.json"));

    // Nor does a directory in the way, or one that is not there, leave anything.
    std::fs::create_dir(dir.join("sub")).unwrap();
    let out = kiln(dir, &["oci", "build", "app.wasm", "-o", "sub", "--force"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("sub is a directory"), "{}", text(&out.stderr));
    assert!(listing(&dir.join("sub")).is_empty());
    let out = kiln(dir, &["oci", "build", "app.wasm", "-o", "nowhere/out.tar"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot write nowhere/out.tar"), "{}", text(&out.stderr));
}
