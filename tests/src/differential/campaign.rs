//! A range of seeds, checked on worker threads with large stacks.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::driver::{Differential, Mismatch, Verdict};
use super::generate::subject_from_seed;
use super::regressions::save_seed_regression;

/// The stack of each worker thread. Only the pages that calls touch are
/// ever committed; the size leaves kiln's budget
/// ([`KILN_MAX_WASM_STACK`](super::KILN_MAX_WASM_STACK)) and the host's
/// reserve below it room to spare.
pub const WORKER_STACK: usize = 256 << 20;

/// Which seeds to check, and what to do with mismatches.
#[derive(Clone, Debug)]
pub struct Campaign {
    /// The seeds.
    pub seeds: Range<u64>,
    /// Seeds not to check (those of open regressions, reported elsewhere).
    pub skip: BTreeSet<u64>,
    /// Worker threads.
    pub threads: usize,
    /// Where to save each mismatching module (`None`: nowhere).
    pub save_to: Option<PathBuf>,
    /// Print a progress line to stderr every this many seeds (0: never).
    pub progress_every: u64,
}

/// One seed whose module the engines disagree on.
#[derive(Clone, Debug)]
pub struct SeedMismatch {
    /// The seed.
    pub seed: u64,
    /// Where they parted.
    pub mismatch: Mismatch,
    /// Where the module was saved, if it was.
    pub saved: Option<PathBuf>,
}

impl fmt::Display for SeedMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "seed {}: {}", self.seed, self.mismatch)?;
        if let Some(path) = &self.saved {
            write!(f, " (saved as {})", path.display())?;
        }
        Ok(())
    }
}

/// What a campaign found.
#[derive(Clone, Debug, Default)]
pub struct CampaignReport {
    /// Modules run in both engines (agreeing or not).
    pub modules: u64,
    /// Exported functions called.
    pub calls: u64,
    /// Calls that trapped alike.
    pub traps: u64,
    /// Modules whose instantiation failed alike.
    pub failed_instantiations: u64,
    /// Seeds skipped, by reason.
    pub skipped: BTreeMap<String, u64>,
    /// Every disagreement, by seed.
    pub mismatches: Vec<SeedMismatch>,
    /// Wall time.
    pub elapsed: Duration,
}

impl CampaignReport {
    /// The one-line summary.
    pub fn summary(&self) -> String {
        let skipped: u64 = self.skipped.values().sum();
        format!(
            "{} modules, {} exports called ({} trapped), {} instantiations failed alike, {} skipped, {} mismatches in {:.1} s",
            self.modules,
            self.calls,
            self.traps,
            self.failed_instantiations,
            skipped,
            self.mismatches.len(),
            self.elapsed.as_secs_f64()
        )
    }

    fn add(&mut self, seed: u64, verdict: Verdict, campaign: &Campaign) {
        match verdict {
            Verdict::Agreed(stats) => {
                self.modules += 1;
                self.calls += stats.calls as u64;
                self.traps += stats.traps as u64;
                self.failed_instantiations += u64::from(stats.instantiation_failed);
            }
            Verdict::Skipped(why) => *self.skipped.entry(skip_reason(&why)).or_default() += 1,
            Verdict::Mismatch(mismatch) => {
                self.modules += 1;
                let saved = campaign.save_to.as_ref().and_then(|dir| {
                    let wasm = subject_from_seed(seed).ok()?.wasm;
                    match save_seed_regression(dir, seed, &wasm, &mismatch.to_string()) {
                        Ok(path) => Some(path),
                        Err(e) => {
                            eprintln!("seed {seed}: cannot save the module in {}: {e}", dir.display());
                            None
                        }
                    }
                });
                self.mismatches.push(SeedMismatch { seed, mismatch, saved });
            }
        }
    }
}

/// Skip reasons grouped by their first words, so that the report stays short.
fn skip_reason(why: &str) -> String {
    why.split(':').next().unwrap_or(why).to_string()
}

impl Campaign {
    /// The seeds `seeds`, on one thread, saving nothing.
    pub fn new(seeds: Range<u64>) -> Campaign {
        Campaign { seeds, skip: BTreeSet::new(), threads: 1, save_to: None, progress_every: 0 }
    }

    /// Checks every seed; the mismatches come sorted by seed.
    pub fn run(&self) -> CampaignReport {
        let start = Instant::now();
        let next = AtomicU64::new(self.seeds.start);
        let report = Mutex::new(CampaignReport::default());
        std::thread::scope(|scope| {
            for _ in 0..self.threads.max(1) {
                std::thread::Builder::new()
                    .name("differential".into())
                    .stack_size(WORKER_STACK)
                    .spawn_scoped(scope, || self.work(&next, &report, start))
                    .expect("a worker thread starts");
            }
        });
        let mut report = report.into_inner().expect("no worker panicked while holding the report");
        report.mismatches.sort_by_key(|m| m.seed);
        report.elapsed = start.elapsed();
        report
    }

    fn work(&self, next: &AtomicU64, report: &Mutex<CampaignReport>, start: Instant) {
        let differential = Differential::new();
        loop {
            let seed = next.fetch_add(1, Ordering::Relaxed);
            if seed >= self.seeds.end {
                return;
            }
            if self.skip.contains(&seed) {
                continue;
            }
            let verdict = match subject_from_seed(seed) {
                Ok(subject) => differential.check(&subject),
                Err(why) => Verdict::Skipped(why),
            };
            if let Verdict::Mismatch(mismatch) = &verdict {
                eprintln!("seed {seed}: {mismatch}");
            }
            let mut report = report.lock().expect("no worker panicked while holding the report");
            report.add(seed, verdict, self);
            let done = seed - self.seeds.start + 1;
            if self.progress_every > 0 && done.is_multiple_of(self.progress_every) {
                eprintln!("{done} seeds: {}", CampaignReport { elapsed: start.elapsed(), ..report.clone() }.summary());
            }
        }
    }
}
