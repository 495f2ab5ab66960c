//! Telling the caller how far a compilation has got, so that a command
//! line can draw a progress bar (`kilnc` on a terminal).

use std::fmt;
use std::sync::{Arc, Mutex};

/// A callback told of a compilation's progress as `(done, total)`: how
/// many of the module's defined functions are compiled, of how many.
///
/// It is called once with `(0, total)` before the first function is
/// compiled, then once after each function, from the compile threads but
/// one call at a time, with `done` going up by one each call up to
/// `(total, total)`. Trampolines are not counted, nor the phases before
/// and after the functions (parsing, emitting, linking). A module without
/// functions gets the one call `(0, 0)`.
///
/// Cheap to clone. It changes nothing in the artifact, so any two compare
/// equal: two [`crate::CompileOptions`] that differ only in their
/// callbacks compile the same bytes.
#[derive(Clone)]
pub struct Progress(Arc<dyn Fn(usize, usize) + Send + Sync>);

impl Progress {
    /// The callback `report`.
    pub fn new(report: impl Fn(usize, usize) + Send + Sync + 'static) -> Progress {
        Progress(Arc::new(report))
    }
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Progress(..)")
    }
}

impl PartialEq for Progress {
    fn eq(&self, _other: &Progress) -> bool {
        true
    }
}

impl Eq for Progress {}

// Options stay unwind safe with a callback in them, as they were before
// it: kilnc holds no state of the callback's that a panic of it could
// leave half changed, and the count it keeps survives one (it ignores
// the lock's poisoning).
impl std::panic::UnwindSafe for Progress {}
impl std::panic::RefUnwindSafe for Progress {}

/// Counts the functions compiled by the threads, and calls the callback
/// under a lock so that its calls come in order and never overlap.
pub(crate) struct ProgressCounter {
    callback: Option<Progress>,
    total: usize,
    done: Mutex<usize>,
}

impl ProgressCounter {
    /// Starts counting `total` functions: tells the callback `(0, total)`.
    pub fn start(callback: Option<&Progress>, total: usize) -> ProgressCounter {
        if let Some(Progress(report)) = callback {
            report(0, total);
        }
        ProgressCounter { callback: callback.cloned(), total, done: Mutex::new(0) }
    }

    /// One more function is compiled.
    pub fn function_done(&self) {
        let Some(Progress(report)) = &self.callback else { return };
        // A callback that panicked poisons the lock; the count in it is
        // still right.
        let mut done = self.done.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *done = (*done + 1).min(self.total);
        report(*done, self.total);
    }
}

// The counter lives inside one compilation, which a panic of the callback
// ends; nothing reads it after.
impl std::panic::RefUnwindSafe for ProgressCounter {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_count_up_by_one_from_zero_to_total() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&calls);
        let progress = Progress::new(move |done, total| seen.lock().unwrap().push((done, total)));
        let counter = ProgressCounter::start(Some(&progress), 3);
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| counter.function_done());
            }
        });
        assert_eq!(*calls.lock().unwrap(), [(0, 3), (1, 3), (2, 3), (3, 3)]);
    }

    #[test]
    fn progress_callbacks_compare_equal() {
        assert_eq!(Progress::new(|_, _| {}), Progress::new(|_, _| panic!("never called")));
        assert_eq!(format!("{:?}", Progress::new(|_, _| {})), "Progress(..)");
    }
}
