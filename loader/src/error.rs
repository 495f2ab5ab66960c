//! The runtime's error type.

use crate::code::LoadError;
use crate::vm::traps::Trap;

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
    /// A host function returned an error or panicked, or a host value's
    /// destructor panicked. The error keeps its type: see
    /// [`Error::downcast_ref`].
    #[error("host error: {0:#}")]
    Host(anyhow::Error),
    /// The instance has no export of the name asked for, or it is of
    /// another kind.
    #[error("{0}")]
    UnknownExport(String),
    /// A value or signature had the wrong type.
    #[error("type mismatch: {0}")]
    Type(String),
    /// A store setting needs run-time checks that code in the store was
    /// compiled without (an epoch deadline, and no `--epoch-interruption`).
    #[error("{0}")]
    Instrumentation(String),
    /// A host function called into Wasm from another thread than the one
    /// running the store's outer call.
    #[error("a nested call into Wasm must come from the thread that runs the store's outer call")]
    WrongThread,
    /// Wasm threw an exception that no Wasm handler caught; the host can
    /// inspect its tag and values. A host function returns this error to
    /// throw the exception into Wasm.
    #[error("uncaught wasm exception")]
    Exception(crate::exn::Exn),
    /// A handle of one store was used with another.
    #[error("a {0} of another store was used with this store")]
    ForeignHandle(&'static str),
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

    /// The error a host function returned, as its own type `E`.
    pub fn downcast_ref<E: std::fmt::Display + std::fmt::Debug + Send + Sync + 'static>(&self) -> Option<&E> {
        match self {
            Error::Host(error) => error.downcast_ref::<E>(),
            _ => None,
        }
    }

    /// The error of a host function. A kiln error it passed on (the trap
    /// of a nested call, say, or an exit) comes back as itself.
    pub(crate) fn from_host(error: anyhow::Error) -> Error {
        match error.downcast::<Error>() {
            Ok(error) => error,
            Err(error) => Error::Host(error),
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

    #[cold]
    pub(crate) fn foreign_handle(what: &'static str) -> Error {
        Error::ForeignHandle(what)
    }
}
