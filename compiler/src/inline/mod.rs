//! Inlining of direct calls between a module's own functions.
//!
//! Every defined function is first translated to CLIF; then each caller
//! gets the CLIF of the callees that [`policy`] picks inlined into it by
//! Cranelift's inliner (`Context::inline`), and is compiled. The code that
//! came from each inlined call is marked ([`sites`]) so that the artifact
//! can tell the backtrace which Wasm frames a PC stands for (SPEC 2.2.3).

mod policy;
mod sites;

pub(crate) use policy::*;
pub(crate) use sites::*;
