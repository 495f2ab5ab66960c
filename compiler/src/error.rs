//! Compile errors: one boxed error with a kind, a message and a location.

use std::fmt::{self, Write as _};
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
}

/// Where in a text-format module an error is, with the text around it.
#[derive(Debug)]
struct TextPosition {
    /// The file the line and column refer to, once the caller names it.
    file: Option<PathBuf>,
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

/// The most characters of the offending line an error shows, and how many
/// of them precede the error.
const SNIPPET_CHARS: usize = 80;
const SNIPPET_CHARS_BEFORE: usize = 40;

/// The characters that the text parser leaves out of its rendering of a
/// line, so that they count no width in its column.
const RENDERING_LEAVES_OUT: [char; 9] =
    ['\u{202a}', '\u{202b}', '\u{202d}', '\u{202e}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{206c}', '\u{2069}'];

/// The most characters of the text parser's message an error keeps.
const MESSAGE_CHARS: usize = 160;

/// How much of the text parser's own rendering is looked at: the message
/// and the location come first, the offending line after them.
const WAT_RENDERING_BYTES: usize = 4096;

/// A compile error. Its Display reads like
/// `type mismatch: ... (at offset 0x1f3, in function 5)`; a text-format
/// error gives its file, line and column and shows a short snippet:
///
/// ```text
/// invalid text format: unknown operator or unexpected token (at m.wat:2:10, offset 0x11)
///   |
/// 2 |   (func (i32.bogus)))
///   |          ^
/// ```
#[derive(Debug)]
pub struct CompileError {
    inner: Box<Inner>,
}

impl CompileError {
    #[cold]
    fn new(kind: CompileErrorKind, message: impl Into<String>, offset: Option<usize>) -> Self {
        CompileError { inner: Box::new(Inner { kind, message: message.into(), offset, func_index: None, text: None }) }
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

    /// An error of the text parser on `text`, located by line, column and
    /// byte offset, with a snippet of at most [`SNIPPET_CHARS`] characters.
    ///
    /// `wat::Error` offers only its rendering, which repeats the whole
    /// offending line: for a large file with no newline, the whole file.
    /// So only the head of that rendering is read (the message, then
    /// `--> <anon>:LINE:COLUMN`, or `MESSAGE at <anon>:LINE:COLUMN` for a
    /// column past 500) and the snippet is cut from `text` here.
    #[cold]
    pub(crate) fn from_wat(error: &wat::Error, text: &str) -> Self {
        let mut head = Head { text: String::new(), room: WAT_RENDERING_BYTES };
        // An error here only means that the rendering was cut off.
        let _ = write!(head, "{error}");
        let head = head.text;
        let (message, location) = if let Some(at) = head.find("\n     --> <anon>:") {
            (&head[..at], head[at..].split_once("<anon>:").map(|(_, rest)| rest.lines().next().unwrap_or("")))
        } else if let Some(at) = head.rfind(" at <anon>:") {
            (&head[..at], Some(&head[at + " at <anon>:".len()..]))
        } else {
            (head.lines().next().unwrap_or(""), None)
        };
        let message = format!("invalid text format: {}", printable(message, MESSAGE_CHARS));
        let line_column = location.and_then(|l| l.split_once(':')).and_then(|(line, column)| {
            Some((line.trim().parse::<usize>().ok()?, column.trim().parse::<usize>().ok()?))
        });
        match line_column.and_then(|(line, column)| TextPosition::find(text, line, column)) {
            Some((offset, position)) => {
                let mut error = Self::new(CompileErrorKind::Invalid, message, Some(offset));
                error.inner.text = Some(position);
                error
            }
            None => Self::new(CompileErrorKind::Invalid, message, None),
        }
    }

    /// Invalid text, at the byte `offset` of `text` (on a character
    /// boundary).
    #[cold]
    pub(crate) fn invalid_text(message: impl Into<String>, text: &str, offset: usize) -> Self {
        let mut error = Self::new(CompileErrorKind::Invalid, message, Some(offset));
        error.inner.text = Some(TextPosition::at(text, offset));
        error
    }

    /// Names the file that a text-format error's line and column refer to.
    pub(crate) fn in_file(mut self, file: &Path) -> Self {
        if let Some(text) = &mut self.inner.text {
            text.file = Some(file.to_owned());
        }
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
    /// text-format error in the text.
    pub fn offset(&self) -> Option<usize> {
        self.inner.offset
    }

    /// Line and column (both 1-based, the column in characters) of a
    /// text-format error.
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
        f.write_str(&self.inner.message)?;
        if let Some(text) = &self.inner.text {
            let file = text.file.as_deref().unwrap_or(Path::new("<input>")).display();
            write!(f, " (at {file}:{}:{}", text.line, text.column)?;
            if let Some(offset) = self.inner.offset {
                write!(f, ", offset {offset:#x}")?;
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
        match (self.inner.offset, self.inner.func_index) {
            (Some(o), Some(i)) => write!(f, " (at offset {o:#x}, in function {i})"),
            (Some(o), None) => write!(f, " (at offset {o:#x})"),
            (None, Some(i)) => write!(f, " (in function {i})"),
            (None, None) => Ok(()),
        }
    }
}

impl std::error::Error for CompileError {}

impl TextPosition {
    /// Finds the parser's `line` and `column` in `text`: the byte offset
    /// of the error, and its position.
    ///
    /// The parser counts the column as the display width of the first
    /// `byte column` bytes of the line with each tab widened to four
    /// spaces; counting one column per character, this finds the byte
    /// column back. It is exact for lines whose characters are each one
    /// column wide (all of ASCII, tabs included).
    fn find(text: &str, line: usize, column: usize) -> Option<(usize, TextPosition)> {
        let line_start = match line {
            0 => return None,
            1 => 0,
            _ => text.match_indices('\n').nth(line - 2)?.0 + 1,
        };
        let rest = &text[line_start..];
        let line_text = &rest[..rest.find('\n').unwrap_or(rest.len())];

        let wanted = column.saturating_sub(1);
        let (mut width, mut byte_column) = (0, 0);
        for c in line_text.chars() {
            let (c_width, c_bytes) = match c {
                '\t' => (4, 4),
                c if RENDERING_LEAVES_OUT.contains(&c) => (0, 0),
                c => (1, c.len_utf8()),
            };
            if width + c_width > wanted {
                // Within a widened tab, each of its spaces is a byte.
                byte_column += if c == '\t' { wanted - width } else { 0 };
                break;
            }
            width += c_width;
            byte_column += c_bytes;
        }
        let mut byte_column = byte_column.min(line_text.len());
        while !line_text.is_char_boundary(byte_column) {
            byte_column -= 1;
        }
        Some((line_start + byte_column, TextPosition::new(line, line_text, byte_column)))
    }

    /// The position of the byte `offset` of `text`, which is on a
    /// character boundary.
    fn at(text: &str, offset: usize) -> TextPosition {
        let before = &text[..offset];
        let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let rest = &text[line_start..];
        let line_text = &rest[..rest.find('\n').unwrap_or(rest.len())];
        TextPosition::new(line, line_text, offset - line_start)
    }

    /// The position of `byte_column` in `line_text`, the `line`th line.
    fn new(line: usize, line_text: &str, byte_column: usize) -> TextPosition {
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

        TextPosition { file: None, line, column: before.chars().count() + 1, snippet, caret }
    }
}

/// Collects a rendering up to a size, then stops it.
struct Head {
    text: String,
    room: usize,
}

impl fmt::Write for Head {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if s.len() <= self.room {
            self.text.push_str(s);
            self.room -= s.len();
            return Ok(());
        }
        let mut end = self.room;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.text.push_str(&s[..end]);
        self.room = 0;
        Err(fmt::Error)
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
