//! The time from starting a container to the guest's first output, side
//! by side with `kiln run` of the same program, alternating the three in
//! each round on one private containerd:
//!
//! - `kiln run greeter.o`: the loader alone, no container;
//! - `ctr run`, cached: an image whose artifact the node already compiled;
//! - `ctr run`, first: an image never run before, so the shim compiles its
//!   Wasm layer (each round's module differs by a custom section, and so
//!   by digest).
//!
//! `cargo bench -p kiln-shim --bench first_output` (ROUNDS=N, default 15).
//! Needs what the shim's containerd test needs (`make build`,
//! `tests/install-deps.sh`).

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::containerd::*;

/// Time from spawning `command` to the first byte on its stdout; the
/// command is then waited for (it must succeed).
fn first_output(mut command: Command) -> Duration {
    let started = Instant::now();
    let mut child = command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
    let mut byte = [0u8; 1];
    child.stdout.as_mut().unwrap().read_exact(&mut byte).expect("no output");
    let elapsed = started.elapsed();
    let mut rest = Vec::new();
    child.stdout.as_mut().unwrap().read_to_end(&mut rest).unwrap();
    assert!(child.wait().unwrap().success());
    elapsed
}

/// `wasm` with a custom section `round` holding `round`: another module,
/// which runs the same.
fn variant(wasm: &[u8], round: u32) -> Vec<u8> {
    let payload = round.to_le_bytes();
    let name = b"round";
    let mut out = wasm.to_vec();
    out.push(0); // custom section
    out.push((1 + name.len() + payload.len()) as u8);
    out.push(name.len() as u8);
    out.extend_from_slice(name);
    out.extend_from_slice(&payload);
    out
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let rounds: u32 = std::env::var("ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(15);
    let work = tempfile::tempdir().unwrap();
    let path = |name: &str| work.path().join(name).to_str().unwrap().to_string();
    let wasm = std::fs::read(build_guest(work.path())).unwrap();
    kilnc(&[&path("greeter.wasm"), "-o", &path("greeter.o")]);
    let containerd = Containerd::start(Path::new("/nonexistent"));
    kiln(&["oci", "build", &path("greeter.wasm"), "--name", "kiln.local/bench:cached", "-o", &path("cached.tar")]);
    containerd.import(&work.path().join("cached.tar"));
    let warm = containerd.run("kiln.local/bench:cached", "warm", &[], &[]);
    assert!(warm.status.success(), "{}", text(&warm.stderr));
    for round in 0..rounds {
        let file = path(&format!("r{round}.wasm"));
        std::fs::write(&file, variant(&wasm, round)).unwrap();
        let tar = path(&format!("r{round}.tar"));
        kiln(&["oci", "build", &file, "--name", &format!("kiln.local/bench:r{round}"), "-o", &tar]);
        containerd.import(Path::new(&tar));
    }

    let (mut loader, mut cached, mut first) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let mut kiln_run = Command::new(release_binary("kiln"));
        kiln_run.args(["run", &path("greeter.o")]);
        loader.push(first_output(kiln_run));
        let id = format!("cached{round}");
        cached.push(first_output(containerd.ctr_command(&[
            "run",
            "--rm",
            "--runtime",
            RUNTIME,
            "kiln.local/bench:cached",
            &id,
        ])));
        let (image, id) = (format!("kiln.local/bench:r{round}"), format!("first{round}"));
        first.push(first_output(containerd.ctr_command(&["run", "--rm", "--runtime", RUNTIME, &image, &id])));
    }
    assert_eq!(containerd.compilations(), 1 + rounds as usize, "each first run compiles, no cached run does");
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let (loader, cached, first) = (median(&mut loader), median(&mut cached), median(&mut first));
    println!("time to the guest's first output, median of {rounds} rounds (greeter.wasm, {} bytes)", wasm.len());
    println!("  kiln run greeter.o               {:8.2} ms", ms(loader));
    println!("  ctr run, cached artifact         {:8.2} ms  ({:.1}x kiln run)", ms(cached), ms(cached) / ms(loader));
    println!("  ctr run, first (compiles)        {:8.2} ms  ({:.1}x kiln run)", ms(first), ms(first) / ms(loader));
}
