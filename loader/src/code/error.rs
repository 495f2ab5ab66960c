//! The error of loading an artifact.

use std::fmt;

use kiln_format::FormatError;

use super::wasm_source::WasmFormat;

/// Why an artifact was refused, with where in it the problem is.
///
/// Displays as `message (in .kiln.meta at offset 0x10)`; the location part
/// is left out when it is not known.
#[derive(Debug, thiserror::Error)]
#[error("{inner}")]
pub struct LoadError {
    inner: Box<Inner>,
}

#[derive(Debug)]
struct Inner {
    section: Option<&'static str>,
    offset: Option<u64>,
    message: String,
    /// Set when the bytes are a WebAssembly module, not an artifact.
    wasm_module: Option<WasmFormat>,
}

impl fmt::Display for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        match (self.section, self.offset) {
            (Some(section), Some(offset)) => write!(f, " (in {section} at offset {offset:#x})"),
            (Some(section), None) => write!(f, " (in {section})"),
            (None, Some(offset)) => write!(f, " (at file offset {offset:#x})"),
            (None, None) => Ok(()),
        }
    }
}

impl LoadError {
    /// An error about the artifact as a whole.
    #[cold]
    pub fn new(message: impl Into<String>) -> Self {
        Self::build(None, None, message.into())
    }

    /// An error at `offset` bytes into `section`.
    #[cold]
    pub fn at(section: &'static str, offset: u64, message: impl Into<String>) -> Self {
        Self::build(Some(section), Some(offset), message.into())
    }

    /// An error about `section` as a whole.
    #[cold]
    pub fn in_section(section: &'static str, message: impl Into<String>) -> Self {
        Self::build(Some(section), None, message.into())
    }

    /// An error about a malformed ELF container.
    #[cold]
    pub fn elf(error: object::read::Error) -> Self {
        Self::build(None, None, format!("malformed ELF object: {error}"))
    }

    fn build(section: Option<&'static str>, offset: Option<u64>, message: String) -> Self {
        LoadError { inner: Box::new(Inner { section, offset, message, wasm_module: None }) }
    }

    /// The bytes are a WebAssembly module of `format`, which kilnc must
    /// compile before kiln can load it.
    #[cold]
    pub(crate) fn wasm_module(format: WasmFormat, message: String) -> Self {
        let mut error = Self::build(None, None, message);
        error.inner.wasm_module = Some(format);
        error
    }

    /// The format of the WebAssembly module the bytes are, if they are one
    /// rather than an artifact (see [`wasm_source`](super::wasm_source)).
    pub fn wasm_module_format(&self) -> Option<WasmFormat> {
        self.inner.wasm_module
    }

    /// The section the problem is in, if known.
    pub fn section(&self) -> Option<&'static str> {
        self.inner.section
    }

    /// The byte offset of the problem inside [`LoadError::section`] (or the
    /// file, when there is no section), if known.
    pub fn offset(&self) -> Option<u64> {
        self.inner.offset
    }

    /// What is wrong, without the location.
    pub fn message(&self) -> &str {
        &self.inner.message
    }
}

impl From<FormatError> for LoadError {
    #[cold]
    fn from(e: FormatError) -> Self {
        LoadError::at(e.section, e.offset as u64, e.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_location() {
        assert_eq!(LoadError::at(".kiln.meta", 16, "bad").to_string(), "bad (in .kiln.meta at offset 0x10)");
        assert_eq!(LoadError::in_section(".text", "bad").to_string(), "bad (in .text)");
        assert_eq!(LoadError::new("bad").to_string(), "bad");
    }
}
