//! Compile errors: one boxed error with a kind, a message and a location.

use std::fmt;

/// What went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompileErrorKind {
    /// The input is not valid WebAssembly (or not valid text format).
    Invalid,
    /// Valid WebAssembly that kiln does not support.
    Unsupported,
    /// Cranelift failed to compile a function.
    Codegen,
    /// Writing the object or the output file failed.
    Output,
    /// Bad options (unknown target, CPU feature, ...).
    Options,
}

#[derive(Debug)]
struct Inner {
    kind: CompileErrorKind,
    message: String,
    offset: Option<usize>,
    func_index: Option<u32>,
}

/// A compile error. Its Display reads like
/// `type mismatch: ... (at offset 0x1f3, in function 5)`.
#[derive(Debug)]
pub struct CompileError {
    inner: Box<Inner>,
}

impl CompileError {
    #[cold]
    fn new(kind: CompileErrorKind, message: impl Into<String>, offset: Option<usize>) -> Self {
        CompileError { inner: Box::new(Inner { kind, message: message.into(), offset, func_index: None }) }
    }

    /// Invalid input at a byte offset of the Wasm binary.
    #[cold]
    pub fn invalid(message: impl Into<String>, offset: usize) -> Self {
        Self::new(CompileErrorKind::Invalid, message, Some(offset))
    }

    /// An unsupported feature at a byte offset of the Wasm binary.
    #[cold]
    pub fn unsupported(message: impl Into<String>, offset: usize) -> Self {
        Self::new(CompileErrorKind::Unsupported, message, Some(offset))
    }

    /// A Cranelift failure.
    #[cold]
    pub fn codegen(message: impl Into<String>) -> Self {
        Self::new(CompileErrorKind::Codegen, message, None)
    }

    /// An output failure.
    #[cold]
    pub fn output(message: impl Into<String>) -> Self {
        Self::new(CompileErrorKind::Output, message, None)
    }

    /// Bad options.
    #[cold]
    pub fn options(message: impl Into<String>) -> Self {
        Self::new(CompileErrorKind::Options, message, None)
    }

    /// Attaches the function index the error happened in.
    pub fn in_function(mut self, func_index: u32) -> Self {
        self.inner.func_index = Some(func_index);
        self
    }

    /// The kind.
    pub fn kind(&self) -> CompileErrorKind {
        self.inner.kind
    }

    /// The message, without the location.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// Byte offset in the Wasm binary, when known.
    pub fn offset(&self) -> Option<usize> {
        self.inner.offset
    }

    /// Index of the function (in the function space), when known.
    pub fn func_index(&self) -> Option<u32> {
        self.inner.func_index
    }
}

impl From<wasmparser::BinaryReaderError> for CompileError {
    #[cold]
    fn from(e: wasmparser::BinaryReaderError) -> Self {
        CompileError::invalid(e.message().to_string(), e.offset() as usize)
    }
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.message)?;
        match (self.inner.offset, self.inner.func_index) {
            (Some(o), Some(i)) => write!(f, " (at offset {o:#x}, in function {i})"),
            (Some(o), None) => write!(f, " (at offset {o:#x})"),
            (None, Some(i)) => write!(f, " (in function {i})"),
            (None, None) => Ok(()),
        }
    }
}

impl std::error::Error for CompileError {}

/// Result of compiling.
pub type Result<T, E = CompileError> = std::result::Result<T, E>;
