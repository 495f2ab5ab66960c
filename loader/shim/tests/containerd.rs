//! containerd runs kiln images through `containerd-shim-kiln-v1`: a real
//! containerd (Debian's, from `tests/install-deps.sh`), started here with
//! its own root, state directory and socket in a temporary directory, and
//! stopped at the end. Images are made with `kiln oci build` and imported
//! with `ctr image import`; containers run with
//! `ctr run --rm --runtime io.containerd.kiln.v1`.
//!
//! If containerd cannot start on this machine, the test fails with
//! containerd's own words for why: it never passes without running.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::containerd::*;

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

    // Standard input is containerd's too.
    let mut reader = containerd
        .ctr_command(&["run", "--rm", "--runtime", RUNTIME, wasm_image, "stdin", "greeter.wasm", "stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = reader.stdin.take().unwrap();
    input.write_all(b"a line of input\n").unwrap();
    let echoed = reader.wait_with_output().unwrap();
    drop(input);
    assert_eq!(
        (status_of(&echoed), text(&echoed.stdout)),
        (Some(0), "a line of input\n".into()),
        "{}",
        text(&echoed.stderr)
    );

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
    assert_eq!(
        (status_of(&signed), text(&signed.stdout)),
        (Some(3), "exiting with 3\n".into()),
        "{}",
        text(&signed.stderr)
    );
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
    assert!(
        text(&refused.stderr).contains("not trusted") || containerd.log().contains("not trusted"),
        "{}\n{}",
        text(&refused.stderr),
        containerd.log()
    );

    let both_image = "kiln.local/greeter:both";
    let wasm_path = wasm.to_str().unwrap();
    kiln(&["oci", "build", wasm_path, "--artifact", &w("stranger.o"), "--name", both_image, "-o", &w("both.tar")]);
    containerd.import(&work.path().join("both.tar"));
    let fallback = containerd.run(both_image, "both", &[], &[]);
    assert_eq!(
        (status_of(&fallback), text(&fallback.stdout)),
        (Some(0), "hello from kiln\n".into()),
        "{}",
        text(&fallback.stderr)
    );
    assert!(containerd.log().contains("not running the image's artifact layer"), "{}", containerd.log());
    // The Wasm layer is the first image's, whose artifact the node has.
    assert_eq!(containerd.compilations(), 1, "a layer compiled for one image is not compiled again for another");
}
