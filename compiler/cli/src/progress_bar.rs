//! The progress bar of a long compile: drawn on stderr when it is a
//! terminal, once the functions have taken [`SHOW_AFTER`], counting them,
//! and cleared when the compile ends. Never drawn on a pipe or a file, so
//! scripts and logs get none of it.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressDrawTarget, ProgressStyle};
use kiln_compiler::Progress;

/// A compile quicker than this shows no bar at all, rather than one that
/// flashes.
const SHOW_AFTER: Duration = Duration::from_millis(500);

const TEMPLATE: &str = "{prefix} [{bar:40}] {pos}/{len} functions ({elapsed})";

/// The bar, shared with the callback the compile threads call.
pub struct ProgressBar {
    state: Arc<Mutex<State>>,
}

struct State {
    started: Instant,
    bar: Option<indicatif::ProgressBar>,
}

impl ProgressBar {
    /// A bar on stderr, or `None` when stderr is not a terminal.
    pub fn on_terminal() -> Option<ProgressBar> {
        std::io::stderr()
            .is_terminal()
            .then(|| ProgressBar { state: Arc::new(Mutex::new(State { started: Instant::now(), bar: None })) })
    }

    /// The callback that moves the bar.
    pub fn callback(&self) -> Progress {
        let state = Arc::clone(&self.state);
        Progress::new(move |done, total| {
            let mut state = state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if state.bar.is_none() && done < total && state.started.elapsed() >= SHOW_AFTER {
                state.bar = Some(new_bar(total));
            }
            if let Some(bar) = &state.bar {
                bar.set_position(done as u64);
            }
        })
    }

    /// Removes the bar from the terminal, if it was drawn.
    pub fn clear(&self) {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(bar) = state.bar.take() {
            bar.finish_and_clear();
        }
    }
}

fn new_bar(total: usize) -> indicatif::ProgressBar {
    let style = ProgressStyle::with_template(TEMPLATE).unwrap_or_else(|_| ProgressStyle::default_bar());
    let bar = indicatif::ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
    bar.set_style(style.progress_chars("=> "));
    bar.set_prefix("compiling");
    bar
}
