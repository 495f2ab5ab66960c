//! Modules in the text format: their binary, and where in the text each
//! function is, so that an error found in the binary (a function that
//! fails to validate or to compile) is shown where the text defines it.

use wast::core::{ImportItems, ItemKind, ModuleField, ModuleKind};
use wast::parser::{self, ParseBuffer};
use wast::Wat;

use crate::{CompileError, Result};

/// The text of a module, and the byte offsets in it of its functions, in
/// the order of the function index space (imported ones first, as the
/// text format requires them to come first).
pub(crate) struct TextModule<'a> {
    text: &'a str,
    functions: Vec<usize>,
}

impl<'a> TextModule<'a> {
    /// The binary of the module `input` is the text of.
    pub(crate) fn parse(input: &'a [u8]) -> Result<(Vec<u8>, TextModule<'a>)> {
        let text = std::str::from_utf8(input).map_err(|e| neither_binary_nor_text(e.valid_up_to()))?;
        refuse_text_not_opening_with_a_paren(text)?;
        let buffer = ParseBuffer::new(text).map_err(|e| CompileError::from_wast(&e, text))?;
        let mut wat: Wat<'_> = parser::parse(&buffer).map_err(|e| CompileError::from_wast(&e, text))?;
        let functions = function_offsets(&wat);
        let binary = wat.encode().map_err(|e| CompileError::from_wast(&e, text))?;
        Ok((binary, TextModule { text, functions }))
    }

    /// `error`, found in the binary, located in the text: at the function
    /// it names, if any. An error already located in the text is returned
    /// as it is.
    pub(crate) fn locate(&self, error: CompileError) -> CompileError {
        match error.func_index().and_then(|i| self.functions.get(i as usize)) {
            Some(&offset) => error.at_function_in_text(self.text, offset),
            None => error.encoded_from_text(),
        }
    }
}

/// Where each function of `wat` is defined, imports included; nothing for
/// a module given as `(module binary ...)` or a component.
fn function_offsets(wat: &Wat<'_>) -> Vec<usize> {
    let Wat::Module(module) = wat else { return Vec::new() };
    let ModuleKind::Text(fields) = &module.kind else { return Vec::new() };
    let mut offsets = Vec::new();
    for field in fields {
        match field {
            ModuleField::Func(func) => offsets.push(func.span.offset()),
            ModuleField::Import(imports) => match &imports.items {
                ImportItems::Single { sig, .. } => {
                    if matches!(sig.kind, ItemKind::Func(_)) {
                        offsets.push(imports.span.offset());
                    }
                }
                ImportItems::Group1 { items, .. } => offsets.extend(
                    items
                        .iter()
                        .filter(|item| matches!(item.sig.kind, ItemKind::Func(_)))
                        .map(|item| item.span.offset()),
                ),
                ImportItems::Group2 { sig, items, .. } => {
                    if matches!(sig.kind, ItemKind::Func(_)) {
                        offsets.extend(items.iter().map(|item| item.span.offset()));
                    }
                }
            },
            _ => {}
        }
    }
    offsets
}

/// Refuses a text whose first token, after whitespace and comments, is not
/// `(`, which every module and module field opens with.
///
/// The text parser would refuse it too, but its error copies the whole
/// offending line, in time and memory, and a file of zeros is one line.
/// Whitespace and comments are skipped as the parser's lexer does; a text
/// that ends (or is cut off) within them passes, for the parser to judge.
pub(crate) fn refuse_text_not_opening_with_a_paren(text: &str) -> Result<()> {
    let bytes = text.as_bytes();
    let mut at = 0;
    loop {
        match &bytes[at..] {
            [b' ' | b'\n' | b'\r' | b'\t', ..] => at += 1,
            [b';', b';', rest @ ..] => match rest.iter().position(|&b| b == b'\n' || b == b'\r') {
                Some(end) => at += 2 + end,
                None => return Ok(()),
            },
            [b'(', b';', rest @ ..] => match block_comment_len(rest) {
                Some(len) => at += 2 + len,
                None => return Ok(()),
            },
            [b'(', ..] | [] => return Ok(()),
            _ => {
                let found = text[at..].chars().next().unwrap_or_default();
                let message = format!("invalid text format: expected `(` to open a module, found {found:?}");
                return Err(CompileError::invalid_text(message, text, at));
            }
        }
    }
}

/// The length of a block comment's body and its closing `;)`, given what
/// follows its opening `(;`, with nested comments; `None` if it does not
/// close.
fn block_comment_len(body: &[u8]) -> Option<usize> {
    let mut depth = 1;
    let mut at = 0;
    while at < body.len() {
        match &body[at..] {
            [b'(', b';', ..] => (depth, at) = (depth + 1, at + 2),
            [b';', b')', ..] => {
                (depth, at) = (depth - 1, at + 2);
                if depth == 0 {
                    return Some(at);
                }
            }
            _ => at += 1,
        }
    }
    None
}

#[cold]
pub(crate) fn neither_binary_nor_text(invalid_utf8_at: usize) -> CompileError {
    CompileError::invalid(
        "not a WebAssembly binary (no \\0asm magic) and not WebAssembly text: invalid UTF-8",
        invalid_utf8_at,
    )
}
