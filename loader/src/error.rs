//! The runtime's error type.

use crate::code::LoadError;
use crate::traps::Trap;

/// Why loading, linking, instantiating or calling failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The artifact could not be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// An import could not be resolved ("unknown import") or did not match
    /// ("incompatible import type").
    #[error("{0}")]
    Link(String),
    /// Instantiation failed for a reason other than a trap.
    #[error("instantiation failed: {0}")]
    Instantiation(String),
    /// Wasm code trapped (also while running segment initialisers or the start function).
    #[error("wasm trap: {}", .0.message)]
    Trap(Box<Trap>),
    /// A host function returned an error or panicked.
    #[error("host error: {0}")]
    Host(String),
    /// A value or signature had the wrong type.
    #[error("type mismatch: {0}")]
    Type(String),
    /// The program asked to end with this exit code (WASI `proc_exit`). It
    /// unwinds out of Wasm like a host error, so the embedder decides what
    /// ending means.
    #[error("program exited with code {0}")]
    Exit(i32),
}

impl Error {
    /// The trap, if this is one.
    pub fn trap(&self) -> Option<&Trap> {
        match self {
            Error::Trap(t) => Some(t),
            _ => None,
        }
    }

    /// A trap raised by the runtime itself (segment initialisation), with no backtrace.
    #[cold]
    pub(crate) fn trap_code(code: kiln_format::TrapCode) -> Error {
        Error::Trap(Box::new(Trap::from_code(code)))
    }

    #[cold]
    pub(crate) fn ty(message: impl Into<String>) -> Error {
        Error::Type(message.into())
    }
}
