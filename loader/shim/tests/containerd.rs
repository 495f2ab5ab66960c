//! containerd runs kiln images through `containerd-shim-kiln-v1`: a real
//! containerd (Debian's, from `tests/install-deps.sh`), started here with
//! its own root, state directory and socket in a temporary directory, and
//! stopped at the end. Images are made with `kiln oci build` and imported
//! with `ctr image import`; containers run with
//! `ctr run --rm --runtime io.containerd.kiln.v1`.
//!
//! If containerd cannot start on this machine, the test fails with
//! containerd's own words for why: it never passes without running.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const RUNTIME: &str = "io.containerd.kiln.v1";
const NAMESPACE: &str = "kiln-test";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn release_binary(name: &str) -> PathBuf {
    let path = workspace().join("target/release").join(name);
    assert!(path.exists(), "{} is missing: run `make build` (or `make test`, which builds it)", path.display());
    path
}

/// containerd's binaries: `KILN_CONTAINERD_BIN`, else those that
/// `tests/install-deps.sh` unpacks.
fn containerd_bin_dir() -> PathBuf {
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
struct Containerd {
    dir: tempfile::TempDir,
    bin: PathBuf,
    process: Child,
}

impl Containerd {
    /// Starts containerd with the shim on its PATH and `keys_dir` as the
    /// node's trusted keys, and waits until it answers.
    fn start(keys_dir: &Path) -> Containerd {
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

    fn wait_until_ready(&mut self) {
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

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default()
    }

    fn ctr_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(self.bin.join("ctr"));
        command.arg("--address").arg(self.dir.path().join("containerd.sock")).args(["--namespace", NAMESPACE]);
        command.args(args);
        command
    }

    fn ctr(&self, args: &[&str]) -> Output {
        self.ctr_command(args).stdin(Stdio::null()).output().expect("cannot run ctr")
    }

    fn import(&self, archive: &Path) {
        let out = self.ctr(&["image", "import", "--all-platforms", archive.to_str().unwrap()]);
        assert!(out.status.success(), "ctr image import {}: {}", archive.display(), text(&out.stderr));
    }

    /// `ctr run --rm` of `image` with `args` as the process's arguments.
    fn run(&self, image: &str, id: &str, extra: &[&str], args: &[&str]) -> Output {
        let mut all = vec!["run", "--rm", "--runtime", RUNTIME];
        all.extend_from_slice(extra);
        all.extend_from_slice(&[image, id]);
        all.extend_from_slice(args);
        self.ctr(&all)
    }

    /// How many times the shim compiled a layer, from containerd's log.
    fn compilations(&self) -> usize {
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

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn status_of(out: &Output) -> Option<i32> {
    out.status.code()
}

/// The guest, built for WASI with clang (from `tests/install-deps.sh`).
fn build_guest(dir: &Path) -> PathBuf {
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

fn kiln(args: &[&str]) {
    let out = Command::new(release_binary("kiln")).args(args).output().unwrap();
    assert!(out.status.success(), "kiln {args:?}: {}", text(&out.stderr));
}

fn kilnc(args: &[&str]) {
    let out = Command::new(release_binary("kilnc")).args(args).output().unwrap();
    assert!(out.status.success(), "kilnc {args:?}: {}", text(&out.stderr));
}

#[test]
fn containerd_runs_kiln_images() {
    let work = tempfile::tempdir().unwrap();
    let w = |name: &str| work.path().join(name).to_str().unwrap().to_string();
    let wasm = build_guest(work.path());
    let keys = work.path().join("trusted-keys");
    std::fs::create_dir(&keys).unwrap();
    kiln(&["keygen", &w("ops")]);
    std::fs::rename(work.path().join("ops.pub"), keys.join("ops.pub")).unwrap();
    kiln(&["keygen", &w("stranger")]);

    let containerd = Containerd::start(&keys);

    // A Wasm image: compiled by the first container, not by the next.
    let wasm_image = "kiln.local/greeter:wasm";
    kiln(&["oci", "build", wasm.to_str().unwrap(), "--name", wasm_image, "-o", &w("wasm.tar")]);
    containerd.import(&work.path().join("wasm.tar"));
    let first = containerd.run(wasm_image, "first", &[], &[]);
    assert_eq!(status_of(&first), Some(0), "{}", text(&first.stderr));
    assert_eq!(text(&first.stdout), "hello from kiln\n");
    assert_eq!(containerd.compilations(), 1, "the first run compiles the layer:\n{}", containerd.log());
    let content = text(&containerd.ctr(&["content", "ls"]).stdout);
    assert!(content.contains("runwasi.io/precompiled/kiln/"), "no precompiled content labelled:\n{content}");

    let second = containerd.run(wasm_image, "second", &["--env", "GREETING=hi"], &[]);
    assert_eq!(status_of(&second), Some(0), "{}", text(&second.stderr));
    assert_eq!(text(&second.stdout), "hello from kiln\nGREETING=hi\n");
    assert_eq!(containerd.compilations(), 1, "the second run uses the cached artifact:\n{}", containerd.log());
    assert!(containerd.log().contains("kiln: running NodeArtifact"), "{}", containerd.log());

    // Arguments, exit status, traps.
    let args = containerd.run(wasm_image, "args", &[], &["greeter.wasm", "args", "one", "two words"]);
    assert_eq!(text(&args.stdout), "greeter.wasm\nargs\none\ntwo words\n");
    let exit = containerd.run(wasm_image, "exit", &[], &["greeter.wasm", "exit", "42"]);
    assert_eq!(status_of(&exit), Some(42), "{}", text(&exit.stderr));
    assert_eq!(text(&exit.stdout), "exiting with 42\n");
    let trap = containerd.run(wasm_image, "trap", &[], &["greeter.wasm", "trap"]);
    assert_eq!(status_of(&trap), Some(134));
    assert!(text(&trap.stderr).contains("wasm trap: unreachable"), "{}", text(&trap.stderr));

    // A mounted directory is preopened at its path; a read-only one stays so.
    let volume = work.path().join("volume");
    std::fs::create_dir(&volume).unwrap();
    std::fs::write(volume.join("in.txt"), "from the volume\n").unwrap();
    let rw = format!("type=bind,src={},dst=/data,options=rbind:rw", volume.display());
    let ro = format!("type=bind,src={},dst=/data,options=rbind:ro", volume.display());
    let cat = containerd.run(wasm_image, "cat", &["--mount", &ro], &["greeter.wasm", "cat", "/data/in.txt"]);
    assert_eq!((status_of(&cat), text(&cat.stdout)), (Some(0), "from the volume\n".into()), "{}", text(&cat.stderr));
    let write = containerd.run(wasm_image, "write", &["--mount", &rw], &["greeter.wasm", "write", "/data/out", "42"]);
    assert_eq!(status_of(&write), Some(0), "{}", text(&write.stderr));
    assert_eq!(std::fs::read_to_string(volume.join("out")).unwrap(), "42");
    let denied = containerd.run(wasm_image, "ro", &["--mount", &ro], &["greeter.wasm", "write", "/data/no", "x"]);
    assert_eq!(status_of(&denied), Some(1));
    assert!(!volume.join("no").exists());
    let unmounted = containerd.run(wasm_image, "unmounted", &[], &["greeter.wasm", "cat", "/etc/passwd"]);
    assert_eq!(status_of(&unmounted), Some(1), "the container's root is not preopened");

    // Killing a long-running container stops it, as SIGTERM ends a process.
    let mut sleeper = containerd
        .ctr_command(&["run", "--rm", "--runtime", RUNTIME, wasm_image, "sleeper", "greeter.wasm", "sleep"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(sleeper.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line, "sleeping\n");
    let kill = containerd.ctr(&["task", "kill", "sleeper"]);
    assert!(kill.status.success(), "ctr task kill: {}", text(&kill.stderr));
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = sleeper.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the container did not stop within 30 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    sleeper.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert_eq!(status.code(), Some(143), "{stderr}");

    // An image that ships its artifact, signed by a trusted key: it runs as
    // it is, and nothing is compiled.
    kilnc(&[wasm.to_str().unwrap(), "--sign", &w("ops.key"), "-o", &w("signed.o")]);
    let signed_image = "kiln.local/greeter:signed";
    kiln(&["oci", "build", &w("signed.o"), "--name", signed_image, "-o", &w("signed.tar")]);
    containerd.import(&work.path().join("signed.tar"));
    let signed = containerd.run(signed_image, "signed", &[], &["greeter.wasm", "exit", "3"]);
    assert_eq!((status_of(&signed), text(&signed.stdout)), (Some(3), "exiting with 3\n".into()), "{}", text(&signed.stderr));
    assert_eq!(containerd.compilations(), 1, "a trusted artifact is not compiled again");
    assert!(containerd.log().contains("kiln: running ImageArtifact"), "{}", containerd.log());

    // One signed by a key the node does not trust never runs, nor does an
    // unsigned one; with the Wasm layer beside it, the Wasm runs instead.
    kilnc(&[wasm.to_str().unwrap(), "--sign", &w("stranger.key"), "-o", &w("stranger.o")]);
    let stranger_image = "kiln.local/greeter:stranger";
    kiln(&["oci", "build", &w("stranger.o"), "--name", stranger_image, "-o", &w("stranger.tar")]);
    containerd.import(&work.path().join("stranger.tar"));
    let refused = containerd.run(stranger_image, "stranger", &[], &[]);
    assert_ne!(status_of(&refused), Some(0));
    assert_eq!(text(&refused.stdout), "");
    assert!(text(&refused.stderr).contains("not trusted") || containerd.log().contains("not trusted"), "{}\n{}", text(&refused.stderr), containerd.log());

    let both_image = "kiln.local/greeter:both";
    let wasm_path = wasm.to_str().unwrap();
    kiln(&["oci", "build", wasm_path, "--artifact", &w("stranger.o"), "--name", both_image, "-o", &w("both.tar")]);
    containerd.import(&work.path().join("both.tar"));
    let fallback = containerd.run(both_image, "both", &[], &[]);
    assert_eq!((status_of(&fallback), text(&fallback.stdout)), (Some(0), "hello from kiln\n".into()), "{}", text(&fallback.stderr));
    assert_eq!(containerd.compilations(), 2, "the untrusted artifact's Wasm layer is compiled");
}
