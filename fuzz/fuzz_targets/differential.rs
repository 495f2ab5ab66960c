//! Differential execution of a wasm-smith module made from the fuzzer's
//! bytes (see `kiln_tests::differential`): kiln and wasmi must agree on
//! every call, trap, memory, global and table. A mismatching module is
//! saved under `tests/regressions/` (with an `.open` marker) before the
//! target panics.

#![no_main]

use std::sync::OnceLock;

use kiln_tests::differential::{
    regressions_dir, save_unseeded_regression, subject_from_bytes, Differential, Verdict, WORKER_STACK,
};
use libfuzzer_sys::fuzz_target;

fn differential() -> &'static Differential {
    static DIFFERENTIAL: OnceLock<Differential> = OnceLock::new();
    DIFFERENTIAL.get_or_init(Differential::new)
}

fuzz_target!(|data: &[u8]| {
    let Ok(subject) = subject_from_bytes(data) else { return };
    // The driver's stack budget needs a thread with a stack that large.
    let verdict = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(WORKER_STACK)
            .spawn_scoped(scope, || differential().check(&subject))
            .expect("a worker thread starts")
            .join()
            .expect("the driver does not panic")
    });
    if let Verdict::Mismatch(mismatch) = verdict {
        let saved = save_unseeded_regression(&regressions_dir(), &subject.wasm, &mismatch.to_string());
        match saved {
            Ok(path) => panic!("{mismatch} (saved as {})", path.display()),
            Err(e) => panic!("{mismatch} (not saved: {e})"),
        }
    }
});
