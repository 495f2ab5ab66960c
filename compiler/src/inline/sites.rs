//! Inlining one caller, and recording which code came from which call.
//!
//! Cranelift's inliner copies a callee's instructions into the caller,
//! appending each to the caller's instruction arena, and asks the
//! [`Inline`] hook before every call it meets, inlined bodies included.
//! So the instructions created between two decisions are exactly those of
//! the earlier inlined call: [`CallerInliner`] notes the arena's length at
//! each decision, and [`CallerInliner::mark`] then gives every inlined
//! instruction the source location "site N". Source locations survive
//! optimization and lowering on every instruction that can trap or call,
//! down to the machine buffer's ranges, which [`MarkedSites::into_frames`] turns into
//! the artifact's table. The translator's source locations (Wasm offsets,
//! shown in CLIF text) are dropped first from a function with inlined code.

use std::borrow::Cow;

use cranelift_codegen::inline::{Inline, InlineCommand};
use cranelift_codegen::ir::{self, RelSourceLoc, SourceLoc};
use cranelift_codegen::{Final, MachSrcLoc};
use kiln_format::{InlineRange, InlineSite, InlinedFrames};

use super::policy::{module_function, InlinePolicy, MAX_DEPTH};

/// The inlining hook for one caller.
pub(crate) struct CallerInliner<'a> {
    policy: &'a InlinePolicy,
    /// Translated CLIF of every candidate callee, by defined index.
    callees: &'a [Option<ir::Function>],
    /// Function index of the first defined function.
    first_defined: u32,
    /// Function index of the caller.
    caller: u32,
    /// The caller's size before inlining.
    original: u32,
    /// Instructions inlined so far.
    grown: u32,
    /// Length of the caller's instruction arena when each site was inlined,
    /// ascending, with the site's index.
    starts: Vec<(u32, u32)>,
    /// The inline sites so far.
    sites: Vec<InlineSite>,
}

impl<'a> CallerInliner<'a> {
    /// The hook for caller `caller` (a function index) of `original`
    /// instructions.
    pub(crate) fn new(
        policy: &'a InlinePolicy,
        callees: &'a [Option<ir::Function>],
        first_defined: u32,
        caller: u32,
        original: u32,
    ) -> Self {
        CallerInliner {
            policy,
            callees,
            first_defined,
            caller,
            original,
            grown: 0,
            starts: Vec::new(),
            sites: Vec::new(),
        }
    }

    /// The site whose inlined body holds `inst`, if any.
    fn site_of(&self, inst: ir::Inst) -> Option<u32> {
        let index = inst.as_u32();
        let i = self.starts.partition_point(|&(start, _)| start <= index);
        Some(self.starts.get(i.checked_sub(1)?)?.1)
    }

    /// Whether `callee` is the caller or a function inlined on the way to
    /// `parent`, and how deep `parent` is.
    fn chain(&self, parent: Option<u32>, callee: u32) -> (bool, usize) {
        let (mut recursive, mut depth) = (callee == self.caller, 0);
        let mut site = parent;
        while let Some(s) = site {
            let record = self.sites[s as usize];
            recursive |= record.callee == callee;
            depth += 1;
            site = record.parent;
        }
        (recursive, depth)
    }

    /// Gives every inlined instruction of `func` the source location of its
    /// site, and returns the sites. Call after `Context::inline`.
    pub(crate) fn mark(self, func: &mut ir::Function) -> MarkedSites {
        func.stencil.srclocs.clear();
        // Locations are stored relative to the function's base; a site is
        // stored as its own index, which can never be the "no location"
        // value, and comes out of the machine buffer as `base + site`.
        let base = func.params.ensure_base_srcloc(SourceLoc::new(0));
        let end = u32::try_from(func.dfg.num_insts()).unwrap_or(u32::MAX);
        for (i, &(start, site)) in self.starts.iter().enumerate() {
            let next = self.starts.get(i + 1).map_or(end, |&(next, _)| next);
            for inst in start..next {
                func.stencil.srclocs[ir::Inst::from_u32(inst)] = RelSourceLoc::new(site);
            }
        }
        MarkedSites { sites: self.sites, base }
    }
}

/// The inline sites of one compiled function, and how its source
/// locations name them.
#[derive(Debug, Default)]
pub(crate) struct MarkedSites {
    sites: Vec<InlineSite>,
    base: SourceLoc,
}

impl MarkedSites {
    /// Whether nothing was inlined.
    pub(crate) fn is_empty(&self) -> bool {
        self.sites.is_empty()
    }

    /// The artifact's table, from the machine buffer's source ranges.
    pub(crate) fn into_frames(self, srclocs: &[MachSrcLoc<Final>]) -> InlinedFrames {
        let mut ranges: Vec<InlineRange> = Vec::new();
        for loc in srclocs {
            if loc.loc.is_default() || loc.end <= loc.start {
                continue;
            }
            let site = loc.loc.bits().wrapping_sub(self.base.bits());
            if site as usize >= self.sites.len() {
                continue;
            }
            match ranges.last_mut() {
                Some(last) if last.site == site && last.end == loc.start => last.end = loc.end,
                _ => ranges.push(InlineRange { start: loc.start, end: loc.end, site }),
            }
        }
        InlinedFrames { sites: self.sites, ranges }
    }
}

impl Inline for CallerInliner<'_> {
    fn inline(
        &mut self,
        caller: &ir::Function,
        call_inst: ir::Inst,
        call_opcode: ir::Opcode,
        callee: ir::FuncRef,
        _call_args: &[ir::Value],
    ) -> InlineCommand<'_> {
        // Tail calls and calls with handlers stay calls (see `policy`).
        if call_opcode != ir::Opcode::Call {
            return InlineCommand::KeepCall;
        }
        let Some(callee_index) = module_function(caller, callee) else { return InlineCommand::KeepCall };
        let Some(defined) = callee_index.checked_sub(self.first_defined).map(|d| d as usize) else {
            return InlineCommand::KeepCall;
        };
        let (Some(size), Some(Some(body))) = (self.policy.candidate(defined), self.callees.get(defined)) else {
            return InlineCommand::KeepCall;
        };
        let parent = self.site_of(call_inst);
        let (recursive, depth) = self.chain(parent, callee_index);
        if recursive || depth >= MAX_DEPTH || !InlinePolicy::allows_growth(self.original, self.grown, size) {
            return InlineCommand::KeepCall;
        }
        // Same function index, same type: the signatures agree, but
        // Cranelift asserts it, so a mismatch must keep the call instead.
        if caller.dfg.signatures[caller.dfg.ext_funcs[callee].signature] != body.signature {
            return InlineCommand::KeepCall;
        }
        let (Ok(start), Ok(site)) = (u32::try_from(caller.dfg.num_insts()), u32::try_from(self.sites.len())) else {
            return InlineCommand::KeepCall;
        };
        self.grown += size;
        self.starts.push((start, site));
        self.sites.push(InlineSite { callee: callee_index, parent });
        InlineCommand::Inline { callee: Cow::Borrowed(body), visit_callee: true }
    }
}
