//! The trap error returned to the host, and its backtrace.

use std::fmt;

use kiln_format::TrapCode;

use crate::code::lookup_code;

/// Why a call into Wasm did not return normally.
#[derive(Debug)]
pub struct Trap {
    /// The Wasm trap, or `None` when a host function failed (or Wasm code
    /// faulted somewhere the compiler recorded no trap).
    pub code: Option<TrapCode>,
    /// The specification's message for `code`, or the host error's message.
    pub message: String,
    /// Wasm frames, innermost first. When the stack was deeper than a
    /// backtrace keeps, `elided` says where frames are missing.
    pub backtrace: Vec<FrameInfo>,
    /// Frames left out of `backtrace`, if any.
    pub elided: Option<ElidedFrames>,
}

/// Frames left out of the middle of a deep backtrace: its innermost and
/// outermost frames are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ElidedFrames {
    /// How many entries of [`Trap::backtrace`] come before the gap.
    pub after: usize,
    /// How many machine frames the gap stands for.
    pub count: usize,
}

/// One Wasm frame of a [`Trap`]'s backtrace.
///
/// Displays as Wasmtime shows a frame: `0x1a2 - module!function`, the
/// module offset of the frame's Wasm instruction, the module's name
/// (`<unknown>` without one) and the function's, then `at file:line:column`
/// on a line of its own when the module's DWARF knows the source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameInfo {
    /// Name of the module, from its name section.
    pub module_name: Option<String>,
    /// Index of the function in its module's function space.
    pub func_index: u32,
    /// Name of the function: the name section's, else the export's.
    pub func_name: Option<String>,
    /// Offset from the start of the Wasm module of the instruction the
    /// frame is at: the trapping one for the innermost frame, the call for
    /// every other. `None` when the compiler recorded none there.
    pub module_offset: Option<u32>,
    /// Offset in `.text` of the faulting instruction (innermost frame of a
    /// signal) or of the return address of the call (every other frame).
    pub text_offset: u32,
    /// Where `module_offset` is in the source, from the module's DWARF.
    pub symbol: Option<FrameSymbol>,
}

/// A source position of a frame, from the module's DWARF line table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameSymbol {
    /// The source file, as the DWARF names it.
    pub file: String,
    /// Line, from 1.
    pub line: Option<u32>,
    /// Column, from 1.
    pub column: Option<u32>,
}

impl Trap {
    /// A Wasm trap with the specification's message and no backtrace.
    pub fn from_code(code: TrapCode) -> Self {
        Trap { code: Some(code), message: code.message().to_string(), backtrace: Vec::new(), elided: None }
    }

    /// A failure that is not a Wasm trap (a host error, say).
    pub fn from_message(message: impl Into<String>) -> Self {
        Trap { code: None, message: message.into(), backtrace: Vec::new(), elided: None }
    }

    /// The number a frame of the backtrace shows: its depth on the stack,
    /// counting the frames left out before it.
    pub fn frame_number(&self, index: usize) -> usize {
        match self.elided {
            Some(gap) if index >= gap.after => index + gap.count,
            _ => index,
        }
    }
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.code.is_some() {
            write!(f, "wasm trap: {}", self.message)?;
        } else {
            f.write_str(&self.message)?;
        }
        for (i, frame) in self.backtrace.iter().enumerate() {
            if let Some(gap) = self.elided.filter(|gap| gap.after == i) {
                write!(f, "\n  ... {} frames elided", gap.count)?;
            }
            write!(f, "\n  {}: {frame}", self.frame_number(i))?;
        }
        Ok(())
    }
}

impl std::error::Error for Trap {}

impl fmt::Display for FrameInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(offset) = self.module_offset {
            write!(f, "{offset:#x} - ")?;
        }
        f.write_str(self.module_name.as_deref().unwrap_or("<unknown>"))?;
        match &self.func_name {
            Some(name) => write!(f, "!{name}")?,
            None => write!(f, "!<wasm function {}>", self.func_index)?,
        }
        if let Some(symbol) = &self.symbol {
            write!(f, "\n      at {symbol}")?;
        }
        Ok(())
    }
}

impl fmt::Display for FrameSymbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        Ok(())
    }
}

/// Turns raw PCs captured by the trap handler into frames. `pcs[0]` is a
/// faulting instruction when `first_is_fault`; every other PC is a return
/// address, looked up one byte back so that a call ending a function is
/// attributed to it and not to the next one (and a call from inlined code
/// to the inlined frames). A PC in inlined code gives one frame per
/// inlined function, then its machine frame's function, all with the same
/// `text_offset`, each with its own module offset where it is known. PCs
/// in trampolines are left out.
pub(crate) fn symbolize(pcs: &[usize], first_is_fault: bool) -> Vec<FrameInfo> {
    let mut frames = Vec::with_capacity(pcs.len());
    for (i, &pc) in pcs.iter().enumerate() {
        let lookup_pc = if i == 0 && first_is_fault { pc } else { pc.wrapping_sub(1) };
        let Some(code) = lookup_code(lookup_pc) else { continue };
        let text_offset = (pc.wrapping_sub(code.text() as usize)) as u32;
        let lines = code.source_lines();
        for (func_index, module_offset) in code.wasm_frames_at(lookup_pc) {
            let symbol = module_offset.and_then(|offset| lines.lookup(offset)).map(|at| FrameSymbol {
                file: at.file.to_string(),
                line: (at.line != 0).then_some(at.line),
                column: (at.column != 0).then_some(at.column),
            });
            frames.push(FrameInfo {
                module_name: code.module_name().map(str::to_string),
                func_index,
                func_name: code.func_name(func_index).map(str::to_string),
                module_offset,
                text_offset,
                symbol,
            });
        }
    }
    frames
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_shows_message_and_frames() {
        let mut trap = Trap::from_code(TrapCode::MEMORY_OUT_OF_BOUNDS);
        let symbol = FrameSymbol { file: "a.c".into(), line: Some(12), column: Some(5) };
        trap.backtrace = vec![
            FrameInfo {
                module_name: Some("m".into()),
                func_index: 3,
                func_name: Some("load".into()),
                module_offset: Some(0x1a2),
                text_offset: 9,
                symbol: Some(symbol),
            },
            FrameInfo {
                module_name: None,
                func_index: 1,
                func_name: None,
                module_offset: None,
                text_offset: 40,
                symbol: None,
            },
        ];
        assert_eq!(
            trap.to_string(),
            "wasm trap: out of bounds memory access\n  0: 0x1a2 - m!load\n      at a.c:12:5\n  1: <unknown>!<wasm function 1>"
        );
        trap.elided = Some(ElidedFrames { after: 1, count: 7 });
        assert!(trap.to_string().ends_with("at a.c:12:5\n  ... 7 frames elided\n  8: <unknown>!<wasm function 1>"));
        assert_eq!(Trap::from_message("host failed").to_string(), "host failed");
    }
}
