//! Differential execution: wasm-smith modules from a fixed range of seeds,
//! run by kiln and by wasmi, must agree on every result, trap, memory,
//! global and table (see `kiln_tests::differential`). The modules saved
//! under `tests/regressions/` must agree too, except those marked open.
//!
//! `make fuzz-diff N=...` runs the ignored `campaign` test below on more
//! seeds and saves every mismatching module there.

use std::collections::BTreeSet;
use std::ops::Range;

use kiln_tests::differential::{regression_files, regressions_dir, seed_of, Campaign, Differential, Verdict};

/// The seeds `make test` checks: about 50 s in release mode on two cores
/// (6 ms a module, Cranelift compiling each), up to twice that with other
/// builds running.
const TEST_SEEDS: Range<u64> = 0..8000;

/// Seeds of the saved modules that show an open bug: the range skips them
/// and `saved_regressions_agree_unless_open` reports them.
fn open_seeds() -> BTreeSet<u64> {
    let files = regression_files(&regressions_dir()).expect("tests/regressions is readable");
    files.iter().filter(|f| f.open.is_some()).filter_map(|f| seed_of(&f.path)).collect()
}

#[test]
fn kiln_and_wasmi_agree_on_a_fixed_range_of_seeds() {
    let campaign = Campaign { skip: open_seeds(), threads: 1, ..Campaign::new(TEST_SEEDS) };
    let report = campaign.run();
    println!("seeds {TEST_SEEDS:?}: {}", report.summary());
    for (reason, count) in &report.skipped {
        println!("  skipped {count}: {reason}");
    }
    for seed in &campaign.skip {
        println!("  not checked: seed {seed} (an open regression)");
    }
    let listed: Vec<String> = report.mismatches.iter().map(|m| m.to_string()).collect();
    assert!(listed.is_empty(), "{} mismatches:\n{}", listed.len(), listed.join("\n"));
    assert!(report.modules >= (TEST_SEEDS.end - TEST_SEEDS.start) * 9 / 10, "too many seeds skipped");
    assert!(report.calls > report.modules, "too few exports called");
}

#[test]
fn saved_regressions_agree_unless_open() {
    let files = regression_files(&regressions_dir()).expect("tests/regressions is readable");
    let worker = std::thread::Builder::new().stack_size(kiln_tests::differential::WORKER_STACK);
    let failures = worker
        .spawn(move || {
            let differential = Differential::new();
            let mut failures = Vec::new();
            for file in &files {
                let name = file.path.display();
                let verdict = differential.check(&file.subject);
                match (&verdict, &file.open) {
                    (Verdict::Mismatch(mismatch), Some(bug)) => {
                        println!("open: {name}: {mismatch}\n  known bug: {bug}");
                    }
                    (Verdict::Mismatch(mismatch), None) => failures.push(format!("{name}: {mismatch}")),
                    (Verdict::Agreed(_), Some(_)) => failures.push(format!(
                        "{name}: the engines agree now: remove its marker {}",
                        file.path.with_extension("open").display()
                    )),
                    (Verdict::Agreed(stats), None) => {
                        println!("agreed: {name}: {} exports called, {} trapped", stats.calls, stats.traps)
                    }
                    (Verdict::Skipped(why), _) => failures.push(format!("{name}: cannot be compared: {why}")),
                }
            }
            println!("{} saved modules", files.len());
            failures
        })
        .expect("a worker thread starts")
        .join()
        .expect("the worker does not panic");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A longer campaign, for `make fuzz-diff`: seeds `KILN_DIFF_SEEDS`
/// (`start..end`, default `0..100000`) on `KILN_DIFF_THREADS` threads
/// (default: every core), each mismatching module saved under
/// `tests/regressions/` with an `.open` marker.
#[test]
#[ignore = "a long campaign: make fuzz-diff N=..."]
fn campaign() {
    let seeds = std::env::var("KILN_DIFF_SEEDS").unwrap_or_else(|_| "0..100000".into());
    let (start, end) = seeds.split_once("..").expect("KILN_DIFF_SEEDS is start..end");
    let seeds = start.parse().expect("a seed")..end.parse().expect("a seed");
    let threads = match std::env::var("KILN_DIFF_THREADS") {
        Ok(n) => n.parse().expect("KILN_DIFF_THREADS is a number"),
        Err(_) => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let campaign = Campaign {
        skip: open_seeds(),
        threads,
        save_to: Some(regressions_dir()),
        progress_every: 1000,
        ..Campaign::new(seeds.clone())
    };
    let report = campaign.run();
    println!("seeds {seeds:?}: {}", report.summary());
    for (reason, count) in &report.skipped {
        println!("  skipped {count}: {reason}");
    }
    for mismatch in &report.mismatches {
        println!("  {mismatch}");
    }
    assert!(report.mismatches.is_empty(), "{} mismatches, saved under tests/regressions/", report.mismatches.len());
}
