//! Inlined frames of one function's code (SPEC 2.2.3).
//!
//! When kilnc inlines a callee into a caller, the callee's instructions run
//! in the caller's machine frame, but a backtrace must still show the
//! callee's Wasm frame. Each defined function with inlined callees
//! therefore has a table ([`FunctionInlining`], in the module info) of its
//! inline sites (which function was inlined where) and of the code
//! ranges that came from them. A PC in such a range stands for the chain of
//! inlined frames from that site up to the function itself.

use serde::{Deserialize, Serialize};

/// One inlined call: `callee`'s body placed at a call in its parent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InlineSite {
    /// The inlined function, an index in the module's function space.
    pub callee: u32,
    /// The site whose inlined body held the call, or `None` when the call
    /// was in the function's own body. Always an earlier site.
    pub parent: Option<u32>,
    /// Module offset of the Wasm `call` that was inlined (SPEC 2.9), or
    /// [`crate::NO_WASM_OFFSET`] when unknown: where its caller's frame
    /// is while the callee runs.
    pub call_offset: u32,
}

/// Code that came from one inline site.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InlineRange {
    /// Start, relative to the function's first byte.
    pub start: u32,
    /// End (exclusive), relative to the function's first byte.
    pub end: u32,
    /// Index in [`InlinedFrames::sites`] of the innermost site.
    pub site: u32,
}

/// The inlined frames of one defined function, [`crate::ModuleInfo::inlined`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionInlining {
    /// The function, an index in the module's function space.
    pub func_index: u32,
    /// What was inlined into it, and where.
    pub frames: InlinedFrames,
}

/// The inlined frames of one function: empty when nothing was inlined.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InlinedFrames {
    /// Every inline site, parents before children.
    pub sites: Vec<InlineSite>,
    /// Code ranges, sorted by start and disjoint. Code in no range is the
    /// function's own.
    pub ranges: Vec<InlineRange>,
}

impl InlinedFrames {
    /// Whether nothing was inlined.
    pub fn is_empty(&self) -> bool {
        self.sites.is_empty() && self.ranges.is_empty()
    }

    /// The functions inlined at code offset `offset` (relative to the
    /// function), innermost first; empty for the function's own code. The
    /// function itself is not included.
    ///
    /// Never loops or panics, even on an unchecked table: a walk stops at a
    /// missing site or at a parent that does not come earlier.
    pub fn frames_at(&self, offset: u32) -> impl Iterator<Item = u32> + '_ {
        self.sites_at(offset).map(|site| site.callee)
    }

    /// The inline sites whose bodies hold code offset `offset`, innermost
    /// first: [`frames_at`](Self::frames_at) with each frame's site.
    pub fn sites_at(&self, offset: u32) -> impl Iterator<Item = InlineSite> + '_ {
        let i = self.ranges.partition_point(|r| r.start <= offset);
        let mut site = i.checked_sub(1).and_then(|i| self.ranges.get(i)).filter(|r| offset < r.end).map(|r| r.site);
        std::iter::from_fn(move || {
            let current = site?;
            let record = *self.sites.get(current as usize)?;
            site = record.parent.filter(|&p| p < current);
            Some(record)
        })
    }

    /// Checks the table of a function with `code_len` bytes of code in a
    /// module of `num_functions` functions: ranges sorted, disjoint and
    /// inside the code, sites existing, parents earlier, callees existing.
    pub fn check(&self, code_len: u32, num_functions: usize) -> Result<(), String> {
        for (i, site) in self.sites.iter().enumerate() {
            if site.callee as usize >= num_functions {
                return Err(format!("inline site {i} names function {}, of {num_functions}", site.callee));
            }
            if site.parent.is_some_and(|p| p as usize >= i) {
                return Err(format!("inline site {i} has a parent that does not come before it"));
            }
        }
        let mut previous_end = 0;
        for range in &self.ranges {
            if range.start < previous_end || range.end <= range.start || range.end > code_len {
                return Err(format!(
                    "inline range {:#x}..{:#x} is empty, unsorted, overlapping or outside {code_len:#x} bytes of code",
                    range.start, range.end
                ));
            }
            if range.site as usize >= self.sites.len() {
                return Err(format!("inline range {:#x}..{:#x} names a missing site", range.start, range.end));
            }
            previous_end = range.end;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> InlinedFrames {
        InlinedFrames {
            sites: vec![
                InlineSite { callee: 3, parent: None, call_offset: 0x40 },
                InlineSite { callee: 5, parent: Some(0), call_offset: 0x50 },
            ],
            ranges: vec![
                InlineRange { start: 0x10, end: 0x20, site: 0 },
                InlineRange { start: 0x20, end: 0x28, site: 1 },
                InlineRange { start: 0x30, end: 0x34, site: 0 },
            ],
        }
    }

    #[test]
    fn frames_follow_parents_innermost_first() {
        let t = table();
        assert_eq!(t.frames_at(0x0f).collect::<Vec<_>>(), Vec::<u32>::new());
        assert_eq!(t.frames_at(0x10).collect::<Vec<_>>(), [3]);
        assert_eq!(t.frames_at(0x24).collect::<Vec<_>>(), [5, 3]);
        assert_eq!(t.frames_at(0x28).collect::<Vec<_>>(), Vec::<u32>::new());
        assert_eq!(t.frames_at(0x33).collect::<Vec<_>>(), [3]);
        assert_eq!(t.frames_at(0x34).collect::<Vec<_>>(), Vec::<u32>::new());
        t.check(0x40, 6).unwrap();
    }

    #[test]
    fn check_refuses_bad_tables() {
        let mut t = table();
        t.sites[0].parent = Some(1);
        assert!(t.check(0x40, 6).unwrap_err().contains("parent"));
        // Even unchecked, the walk ends.
        assert_eq!(t.frames_at(0x24).collect::<Vec<_>>(), [5, 3]);

        let t = table();
        assert!(t.check(0x33, 6).unwrap_err().contains("outside"));
        assert!(t.check(0x40, 5).unwrap_err().contains("names function 5"));

        let mut t = table();
        t.ranges.swap(0, 1);
        assert!(t.check(0x40, 6).unwrap_err().contains("unsorted"));

        let mut t = table();
        t.ranges[2].site = 2;
        assert!(t.check(0x40, 6).unwrap_err().contains("missing site"));
    }
}
