//! Compile errors: one boxed error with a kind, a message and a location.

use std::fmt;
use std::path::{Path, PathBuf};

/// What went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompileErrorKind {
    /// The input is not valid WebAssembly (or not valid text format).
    Invalid,
    /// Valid WebAssembly that kiln does not support.
    Unsupported,
    /// Cranelift failed to compile a function.
    Codegen,
    /// Writing the object or the output file failed, or the output is
    /// something kilnc must not replace.
    Output,
    /// Reading the input failed, or the input is not something kilnc reads
    /// (a device, a FIFO, a directory, more than 4 GiB).
    Input,
    /// Bad options (unknown target, CPU feature, ...).
    Options,
}

#[derive(Debug)]
struct Inner {
    kind: CompileErrorKind,
    message: String,
    offset: Option<usize>,
    func_index: Option<u32>,
    text: Option<TextPosition>,
    /// The input file, once the caller names it.
    file: Option<PathBuf>,
    /// Whether `offset` is in the binary kilnc encoded from the text the
    /// user gave, rather than in the user's input.
    offset_in_encoding: bool,
    /// Whether the artifact could not be written because standard output
    /// is a pipe no one reads any more.
    stdout_closed: bool,
}

/// Where in a text-format module an error is, with the text around it.
#[derive(Debug)]
struct TextPosition {
    /// What is at the position.
    mark: TextMark,
    /// 1-based.
    line: usize,
    /// 1-based, in characters.
    column: usize,
    /// At most [`SNIPPET_CHARS`] characters of the line around the error,
    /// printable, with `…` where the line goes on.
    snippet: String,
    /// How many characters of `snippet` come before the error.
    caret: usize,
}

/// What a text position marks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TextMark {
    /// Where the text parser found the error.
    Error,
    /// The start of the function the error is in (found in the binary).
    Function,
}

/// The most characters of the offending line an error shows, and how many
/// of them precede the error.
const SNIPPET_CHARS: usize = 80;
const SNIPPET_CHARS_BEFORE: usize = 40;

/// The most characters of the text parser's message an error keeps.
const MESSAGE_CHARS: usize = 160;

/// A compile error. Its Display reads like
/// `type mismatch: ... (at m.wasm, offset 0x1f3, in function 5)`; a
/// text-format error gives its file, line and column and shows a short
/// snippet:
///
/// ```text
/// invalid text format: unknown operator or unexpected token (at m.wat:2:10, offset 0x11)
///   |
/// 2 |   (func (i32.bogus)))
///   |          ^
/// ```
///
/// and an error found in the binary of a text-format module shows the
/// function it is in:
///
/// ```text
/// type mismatch: expected i32, found i64 (in function 0, at m.wat:2:3)
///   |
/// 2 |  (func (export "f") (result i32)
///   |   ^
/// ```
#[derive(Debug)]
pub struct CompileError {
    inner: Box<Inner>,
}

impl CompileError {
    #[cold]
    fn new(kind: CompileErrorKind, message: impl Into<String>, offset: Option<usize>) -> Self {
        CompileError {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                offset,
                func_index: None,
                text: None,
                file: None,
                offset_in_encoding: false,
                stdout_closed: false,
            }),
        }
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

    /// An input failure.
    #[cold]
    pub fn input(message: impl Into<String>) -> Self {
        Self::new(CompileErrorKind::Input, message, None)
    }

    /// An error of the text parser on `text`, at the byte offset of its
    /// span, with a snippet of at most [`SNIPPET_CHARS`] characters (the
    /// parser's own rendering would repeat the whole offending line: for a
    /// large file with no newline, the whole file).
    #[cold]
    pub(crate) fn from_wast(error: &wast::Error, text: &str) -> Self {
        let message = format!("invalid text format: {}", printable(&error.message(), MESSAGE_CHARS));
        let mut offset = error.span().offset().min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        Self::invalid_text(message, text, offset)
    }

    /// The artifact could not be written to standard output.
    #[cold]
    pub(crate) fn stdout_write(error: &std::io::Error) -> Self {
        let mut this = Self::output(format!("cannot write standard output: {error}"));
        this.inner.stdout_closed = error.kind() == std::io::ErrorKind::BrokenPipe;
        this
    }

    /// Whether the artifact could not be written because standard output
    /// is a closed pipe (`kilnc app.wasm -o - | head -c 4`): the reader
    /// stopped reading, which a tool ends on quietly.
    pub fn is_stdout_closed(&self) -> bool {
        self.inner.stdout_closed
    }

    /// Invalid text, at the byte `offset` of `text` (on a character
    /// boundary).
    #[cold]
    pub(crate) fn invalid_text(message: impl Into<String>, text: &str, offset: usize) -> Self {
        let mut error = Self::new(CompileErrorKind::Invalid, message, Some(offset));
        error.inner.text = Some(TextPosition::at(text, offset, TextMark::Error));
        error
    }

    /// An error found in the binary encoded from `text`, shown at the
    /// function it is in, which starts at the byte `function_offset` of
    /// `text` (on a character boundary).
    #[cold]
    pub(crate) fn at_function_in_text(mut self, text: &str, function_offset: usize) -> Self {
        if self.inner.text.is_none() {
            self.inner.text = Some(TextPosition::at(text, function_offset, TextMark::Function));
            self.inner.offset_in_encoding = true;
        }
        self
    }

    /// Marks the offset of an error found in the binary encoded from a
    /// text-format module as an offset in that encoding, not in the input.
    #[cold]
    pub(crate) fn encoded_from_text(mut self) -> Self {
        if self.inner.text.is_none() {
            self.inner.offset_in_encoding = true;
        }
        self
    }

    /// Names the input file, which the error's location refers to.
    pub(crate) fn in_file(mut self, file: &Path) -> Self {
        self.inner.file = Some(file.to_owned());
        self
    }

    /// Appends `note` to the message, after a space.
    pub(crate) fn with_note(mut self, note: &str) -> Self {
        self.inner.message.push(' ');
        self.inner.message.push_str(note);
        self
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

    /// Byte offset in the input, when known: in the Wasm binary, or for a
    /// text-format error in the text. For an error found in the binary of
    /// a text-format module (a validation error), it is in that binary.
    pub fn offset(&self) -> Option<usize> {
        self.inner.offset
    }

    /// Line and column (both 1-based, the column in characters) of a
    /// text-format error: where the parser stopped, or the start of the
    /// function an error found in the binary is in.
    pub fn line_column(&self) -> Option<(usize, usize)> {
        self.inner.text.as_ref().map(|t| (t.line, t.column))
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
        let inner = &*self.inner;
        f.write_str(&inner.message)?;
        let file = inner.file.as_deref().map(Path::display);
        if let Some(text) = &inner.text {
            let file = file.map_or_else(|| "<input>".to_string(), |f| f.to_string());
            match (text.mark, inner.func_index) {
                (TextMark::Function, Some(i)) => {
                    write!(f, " (in function {i}, at {file}:{}:{}", text.line, text.column)?
                }
                _ => {
                    write!(f, " (at {file}:{}:{}", text.line, text.column)?;
                    if let (Some(offset), false) = (inner.offset, inner.offset_in_encoding) {
                        write!(f, ", offset {offset:#x}")?;
                    }
                }
            }
            let width = text.line.to_string().len();
            let blank = "";
            return write!(
                f,
                ")\n{blank:width$} |\n{} | {}\n{blank:width$} | {blank:caret$}^",
                text.line,
                text.snippet,
                caret = text.caret
            );
        }
        let mut parts = Vec::new();
        match (inner.offset, file, inner.offset_in_encoding) {
            (Some(o), Some(file), true) => parts.push(format!("at offset {o:#x} of the binary encoding of {file}")),
            (Some(o), None, true) => parts.push(format!("at offset {o:#x} of the binary encoding of the text")),
            (Some(o), Some(file), false) => parts.push(format!("at {file}, offset {o:#x}")),
            (Some(o), None, false) => parts.push(format!("at offset {o:#x}")),
            (None, _, _) => {}
        }
        if let Some(i) = inner.func_index {
            parts.push(format!("in function {i}"));
        }
        if parts.is_empty() {
            return Ok(());
        }
        write!(f, " ({})", parts.join(", "))
    }
}

impl std::error::Error for CompileError {}

impl TextPosition {
    /// The position of the byte `offset` of `text`, which is on a
    /// character boundary.
    fn at(text: &str, offset: usize, mark: TextMark) -> TextPosition {
        let before = &text[..offset];
        let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let rest = &text[line_start..];
        let line_text = &rest[..rest.find('\n').unwrap_or(rest.len())];
        TextPosition::new(line, line_text, offset - line_start, mark)
    }

    /// The position of `byte_column` in `line_text`, the `line`th line.
    fn new(line: usize, line_text: &str, byte_column: usize, mark: TextMark) -> TextPosition {
        let (before, after) = line_text.split_at(byte_column);
        let mut shown_before: Vec<char> = before.chars().rev().take(SNIPPET_CHARS_BEFORE + 1).collect();
        let cut_before = shown_before.len() > SNIPPET_CHARS_BEFORE;
        shown_before.truncate(SNIPPET_CHARS_BEFORE);
        let room_after = SNIPPET_CHARS - shown_before.len();
        let mut shown_after: Vec<char> = after.trim_end_matches('\r').chars().take(room_after + 1).collect();
        let cut_after = shown_after.len() > room_after;
        shown_after.truncate(room_after);

        let mut snippet = String::new();
        if cut_before {
            snippet.push('…');
        }
        snippet.extend(shown_before.iter().rev().map(|&c| printable_char(c)));
        let caret = snippet.chars().count();
        snippet.extend(shown_after.iter().map(|&c| printable_char(c)));
        if cut_after {
            snippet.push('…');
        }

        TextPosition { mark, line, column: before.chars().count() + 1, snippet, caret }
    }
}

/// At most `max` characters of `s`, each printable, with `…` if cut.
fn printable(s: &str, max: usize) -> String {
    let mut out: String = s.chars().take(max).map(printable_char).collect();
    if s.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

/// A character as an error shows it: one column wide, so that the caret
/// under a snippet stays aligned, and never one that moves the cursor or
/// reorders the text.
fn printable_char(c: char) -> char {
    match c {
        '\t' => ' ',
        c if c.is_control() || is_invisible_format(c) => '\u{fffd}',
        c => c,
    }
}

/// The invisible formatting characters: zero-width ones, which would move
/// the caret off its character, and bidirectional ones, which could make a
/// snippet read differently from the text.
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{00ad}' | '\u{061c}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

/// Result of compiling.
pub type Result<T, E = CompileError> = std::result::Result<T, E>;
