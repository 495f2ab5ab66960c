//! kiln: loads kiln objects, applies their relocations, instantiates and runs them.
#![deny(missing_docs)]
#![deny(unsafe_code)]

pub mod code;
pub mod traps;
