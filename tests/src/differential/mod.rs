//! Differential execution: kiln against an independent interpreter.
//!
//! A module comes from `wasm-smith`, either from a seed (the test's fixed
//! range and `make fuzz-diff` campaigns) or from a fuzzer's bytes. It is
//! generated with the features kiln supports (WebAssembly 2.0), with no
//! imports, every item exported, bounded memories and tables, NaNs
//! canonicalised and a fuel counter in every function, so that its
//! behaviour is deterministic and every call ends. kiln (Cranelift code,
//! compiled by the `kilnc` code path and loaded from the artifact's bytes)
//! and `wasmi` (an interpreter sharing no code with kiln or Cranelift) then
//! run it in lockstep: instantiation, then every exported function with
//! fixed arguments. After each step the two must agree on the results (NaN
//! as NaN), the trap's kind, and the contents of every exported memory,
//! global and table.
//!
//! ```no_run
//! use kiln_tests::differential::{check_seed, Differential, Verdict};
//!
//! let differential = Differential::new();
//! match check_seed(&differential, 7) {
//!     Verdict::Agreed(stats) => println!("{} exports called", stats.calls),
//!     Verdict::Skipped(why) => println!("skipped: {why}"),
//!     Verdict::Mismatch(mismatch) => panic!("{mismatch}"),
//! }
//! ```
//!
//! A [`Campaign`] runs a range of seeds on a thread with a large stack and
//! can save every mismatching module under `tests/regressions/`, where
//! [`regression_files`] finds them for the test to rerun.

mod campaign;
mod driver;
mod fuel_export;
mod generate;
mod interface;
mod kiln_side;
mod outcome;
mod reference_side;
mod regressions;
mod rng;
mod value;

pub use campaign::*;
pub use driver::*;
pub use fuel_export::*;
pub use generate::*;
pub use interface::*;
pub use outcome::*;
pub use regressions::*;
pub use rng::*;
pub use value::*;
