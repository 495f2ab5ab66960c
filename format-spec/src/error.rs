//! Errors raised while decoding format records.

/// An error decoding an artifact's kiln records, with where it happened.
#[derive(Debug, thiserror::Error)]
#[error("{message} (in {section} at offset {offset:#x})")]
pub struct FormatError {
    /// The section being decoded.
    pub section: &'static str,
    /// Byte offset inside that section.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

impl FormatError {
    /// Builds an error at `offset` of `section`.
    #[cold]
    pub fn new(section: &'static str, offset: usize, message: impl Into<String>) -> Self {
        FormatError { section, offset, message: message.into() }
    }
}

/// Result of decoding format records.
pub type Result<T, E = FormatError> = std::result::Result<T, E>;
