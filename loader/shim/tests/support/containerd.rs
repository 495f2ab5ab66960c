//! A containerd of a test's or benchmark's own, and what they run in it.
#![allow(dead_code)] // each user takes what it needs

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const RUNTIME: &str = "io.containerd.kiln.v1";
/// The containerd namespace of this process's containers: the shim keeps
/// their state under /run/containerd/kiln/NAMESPACE, which another test
/// process's containerd may be using at the same time.
fn namespace() -> String {
    format!("kiln-test-{}", std::process::id())
}

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

pub fn release_binary(name: &str) -> PathBuf {
    let path = workspace().join("target/release").join(name);
    assert!(path.exists(), "{} is missing: run `make build` (or `make test`, which builds it)", path.display());
    path
}

/// containerd's binaries: `KILN_CONTAINERD_BIN`, else those that
/// `tests/install-deps.sh` unpacks.
pub fn containerd_bin_dir() -> PathBuf {
    let dir = std::env::var_os("KILN_CONTAINERD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/tools/containerd/usr/bin"));
    assert!(
        dir.join("containerd").exists() && dir.join("ctr").exists(),
        "containerd and ctr are not in {}: run `bash tests/install-deps.sh` (`make test` does)",
        dir.display()
    );
    dir
}

/// A containerd of the test's own, killed when dropped.
pub struct Containerd {
    dir: tempfile::TempDir,
    bin: PathBuf,
    process: Child,
}

impl Containerd {
    /// Starts containerd with the shim on its PATH and `keys_dir` as the
    /// node's trusted keys, and waits until it answers.
    pub fn start(keys_dir: &Path) -> Containerd {
        let bin = containerd_bin_dir();
        let dir = tempfile::Builder::new().prefix("kiln-containerd-").tempdir().unwrap();
        let d = dir.path().display();
        let config = format!(
            "version = 2\nroot = \"{d}/root\"\nstate = \"{d}/state\"\n\
             disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
             [grpc]\n  address = \"{d}/containerd.sock\"\n\
             [ttrpc]\n  address = \"{d}/containerd.sock.ttrpc\"\n\
             [debug]\n  level = \"info\"\n"
        );
        std::fs::write(dir.path().join("config.toml"), config).unwrap();
        let log = std::fs::File::create(dir.path().join("containerd.log")).unwrap();
        let path = format!(
            "{}:{}:{}",
            release_binary("containerd-shim-kiln-v1").parent().unwrap().display(),
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let process = Command::new(bin.join("containerd"))
            .arg("--config")
            .arg(dir.path().join("config.toml"))
            .env("PATH", path)
            .env("KILN_TRUSTED_KEYS_DIR", keys_dir)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("cannot start containerd");
        let mut containerd = Containerd { dir, bin, process };
        containerd.wait_until_ready();
        containerd
    }

    pub fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.process.try_wait().unwrap() {
                panic!("containerd could not start on this machine ({status}); it said:\n{}", self.log());
            }
            if self.ctr(&["version"]).status.success() {
                return;
            }
            assert!(Instant::now() < deadline, "containerd did not answer within 60 s; it said:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default()
    }

    pub fn ctr_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(self.bin.join("ctr"));
        command.arg("--address").arg(self.dir.path().join("containerd.sock")).arg("--namespace").arg(namespace());
        command.args(args);
        command
    }

    pub fn ctr(&self, args: &[&str]) -> Output {
        self.ctr_command(args).stdin(Stdio::null()).output().expect("cannot run ctr")
    }

    pub fn import(&self, archive: &Path) {
        let out = self.ctr(&["image", "import", "--all-platforms", archive.to_str().unwrap()]);
        assert!(out.status.success(), "ctr image import {}: {}", archive.display(), text(&out.stderr));
    }

    /// `ctr run --rm` of `image` with `args` as the process's arguments.
    pub fn run(&self, image: &str, id: &str, extra: &[&str], args: &[&str]) -> Output {
        let mut all = vec!["run", "--rm", "--runtime", RUNTIME];
        all.extend_from_slice(extra);
        all.extend_from_slice(&[image, id]);
        all.extend_from_slice(args);
        self.ctr(&all)
    }

    /// How many times the shim compiled a layer, from containerd's log.
    pub fn compilations(&self) -> usize {
        self.log().matches("kiln: compiled layer").count()
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // Containers left by a failed assertion go first, so that no shim
        // outlives the test.
        for line in text(&self.ctr(&["task", "ls", "-q"]).stdout).lines() {
            let _ = self.ctr(&["task", "kill", "-s", "SIGKILL", line.trim()]);
        }
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn status_of(out: &Output) -> Option<i32> {
    out.status.code()
}

/// The guest, built for WASI with clang (from `tests/install-deps.sh`).
pub fn build_guest(dir: &Path) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/guest/greeter.c");
    let wasm = dir.join("greeter.wasm");
    let out = Command::new("clang")
        .args(["--target=wasm32-wasi", "--sysroot=/usr", "-O2"])
        .arg(&source)
        .arg("-o")
        .arg(&wasm)
        .output()
        .expect("cannot run clang: install the WASI toolchain with `bash tests/install-deps.sh`");
    assert!(out.status.success(), "clang could not build {}: {}", source.display(), text(&out.stderr));
    wasm
}

pub fn kiln(args: &[&str]) {
    let out = Command::new(release_binary("kiln")).args(args).output().unwrap();
    assert!(out.status.success(), "kiln {args:?}: {}", text(&out.stderr));
}

pub fn kilnc(args: &[&str]) {
    let out = Command::new(release_binary("kilnc")).args(args).output().unwrap();
    assert!(out.status.success(), "kilnc {args:?}: {}", text(&out.stderr));
}
