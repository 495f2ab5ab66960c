//! Inlining one caller, and recording which code came from which call.
//!
//! Cranelift's inliner copies a callee's instructions into the caller,
//! appending each to the caller's instruction arena, and asks the
//! [`Inline`] hook before every call it meets, inlined bodies included.
//! So the instructions created between two decisions are exactly those of
//! the earlier inlined call: [`CallerInliner`] notes the arena's length at
//! each decision, and [`CallerInliner::mark`] then gives every inlined
//! instruction a source location that names its site. Source locations
//! survive optimization and lowering on every instruction that can trap or
//! call, down to the machine buffer's ranges, which
//! [`MarkedSites::into_frames`] turns into the artifact's tables.
//!
//! A location must also carry the Wasm offset of the instruction (SPEC
//! 2.9), which for inlined code is the offset in the callee's body. The
//! inliner copies no source locations, but it copies a callee's
//! instructions in a known order (its blocks in depth-first pre-order, each
//! block's instructions in layout order), so [`CallerInliner::mark`] pairs
//! each copy with its original, checking that their opcodes agree, and
//! takes the original's location. A location then stands for an entry of a
//! table of (site, Wasm offset) pairs.

use std::borrow::Cow;
use std::collections::HashMap;

use cranelift_codegen::inline::{Inline, InlineCommand};
use cranelift_codegen::ir::{self, RelSourceLoc, SourceLoc};
use cranelift_codegen::traversals::Dfs;
use cranelift_codegen::{Final, MachSrcLoc};
use kiln_format::{InlineRange, InlineSite, InlinedFrames, WasmOffsetEntry, NO_WASM_OFFSET};

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
    /// For each site, the inlined body and the call it replaced.
    inlined: Vec<(&'a ir::Function, ir::Inst)>,
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
            inlined: Vec::new(),
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

    /// Gives every instruction of `func` the source location of its
    /// (site, Wasm offset) pair, and returns the sites and the pairs. Call
    /// after `Context::inline`.
    pub(crate) fn mark(mut self, func: &mut ir::Function) -> MarkedSites {
        let num_insts = u32::try_from(func.dfg.num_insts()).unwrap_or(u32::MAX);
        // The translator's locations are the Wasm offsets of the caller's
        // own instructions; copies take their originals'.
        let mut offsets: Vec<Option<u32>> = (0..num_insts)
            .map(|i| Some(func.srcloc(ir::Inst::from_u32(i))).filter(|l| !l.is_default()).map(SourceLoc::bits))
            .collect();
        for (i, &(start, site)) in self.starts.iter().enumerate() {
            let next = self.starts.get(i + 1).map_or(num_insts, |&(next, _)| next);
            let (body, _) = self.inlined[site as usize];
            pair_copies(func, body, start..next, &mut offsets);
        }
        // A site's call lies in the caller's own code or in its parent's
        // copy, whose offsets are known now.
        for (site, &(_, call)) in self.sites.iter_mut().zip(&self.inlined) {
            site.call_offset = offsets.get(call.as_u32() as usize).copied().flatten().unwrap_or(NO_WASM_OFFSET);
        }

        func.stencil.srclocs.clear();
        // Locations are stored relative to the function's base; a pair is
        // stored as its index, which comes out of the machine buffer as
        // `base + index`.
        let base = func.params.ensure_base_srcloc(SourceLoc::new(0));
        let mut pairs: Vec<(Option<u32>, u32)> = Vec::new();
        let mut index_of: HashMap<(Option<u32>, u32), u32> = HashMap::new();
        for inst in 0..num_insts {
            let site = self.site_of(ir::Inst::from_u32(inst));
            let offset = offsets[inst as usize];
            if site.is_none() && offset.is_none() {
                continue;
            }
            let pair = (site, offset.unwrap_or(NO_WASM_OFFSET));
            let index = *index_of.entry(pair).or_insert_with(|| {
                pairs.push(pair);
                (pairs.len() - 1) as u32
            });
            func.stencil.srclocs[ir::Inst::from_u32(inst)] = RelSourceLoc::new(index);
        }
        MarkedSites { sites: self.sites, pairs, base }
    }
}

/// Pairs the instructions `copies` of `func`, made by the inliner from
/// `body`, with their originals, and sets their Wasm offsets to the
/// originals' locations. The inliner makes one copy per instruction of
/// `body` in its traversal order; a returning instruction becomes a jump
/// (a `return_call` a call and a jump right after it), and a copied call
/// inlined in turn a jump. Where the opcodes disagree, the copies keep no
/// offset rather than a wrong one.
fn pair_copies(func: &ir::Function, body: &ir::Function, copies: std::ops::Range<u32>, offsets: &mut [Option<u32>]) {
    use ir::Opcode::{Call, CallIndirect, Jump, ReturnCall, ReturnCallIndirect};
    let mut paired = Vec::with_capacity((copies.end - copies.start) as usize);
    let mut next = copies.start;
    let mut dfs = Dfs::new();
    for block in dfs.pre_order_iter(body) {
        for original in body.layout.block_insts(block) {
            let opcode = |f: &ir::Function, inst: u32| f.dfg.insts[ir::Inst::from_u32(inst)].opcode();
            if next >= copies.end {
                return;
            }
            let (from, to) = (body.dfg.insts[original].opcode(), opcode(func, next));
            let agrees = from == to
                || to == Jump && (from.is_call() || from.is_return())
                || (from, to) == (ReturnCall, Call)
                || (from, to) == (ReturnCallIndirect, CallIndirect);
            if !agrees {
                return;
            }
            let location = Some(body.srcloc(original)).filter(|l| !l.is_default()).map(SourceLoc::bits);
            paired.push((next, location));
            next += 1;
            if matches!(from, ReturnCall | ReturnCallIndirect) && next < copies.end && opcode(func, next) == Jump {
                paired.push((next, location));
                next += 1;
            }
        }
    }
    for (inst, location) in paired {
        offsets[inst as usize] = location;
    }
}

/// The inline sites of one compiled function, and the (site, Wasm offset)
/// pairs that its source locations name.
#[derive(Debug, Default)]
pub(crate) struct MarkedSites {
    sites: Vec<InlineSite>,
    pairs: Vec<(Option<u32>, u32)>,
    base: SourceLoc,
}

impl MarkedSites {
    /// Whether nothing was inlined.
    pub(crate) fn is_empty(&self) -> bool {
        self.sites.is_empty()
    }

    /// The artifact's tables (the inlined frames, and the Wasm offsets
    /// relative to the function's start) from the machine buffer's source
    /// ranges; code with no location gets Wasm offset `unlocated`.
    pub(crate) fn into_frames(
        self,
        srclocs: &[MachSrcLoc<Final>],
        unlocated: u32,
    ) -> (InlinedFrames, Vec<WasmOffsetEntry>) {
        let mut ranges: Vec<InlineRange> = Vec::new();
        let mut offsets: Vec<WasmOffsetEntry> = Vec::new();
        let mut gap_at = None;
        for loc in srclocs {
            if loc.loc.is_default() || loc.end <= loc.start {
                continue;
            }
            let Some(&(site, wasm_offset)) = self.pairs.get(loc.loc.bits().wrapping_sub(self.base.bits()) as usize)
            else {
                continue;
            };
            match offsets.last_mut() {
                Some(gap) if gap_at == Some(loc.start) => gap.wasm_offset = wasm_offset,
                _ => offsets.push(WasmOffsetEntry { text_offset: loc.start, wasm_offset }),
            }
            offsets.push(WasmOffsetEntry { text_offset: loc.end, wasm_offset: unlocated });
            gap_at = Some(loc.end);
            let Some(site) = site.filter(|&s| (s as usize) < self.sites.len()) else { continue };
            match ranges.last_mut() {
                Some(last) if last.site == site && last.end == loc.start => last.end = loc.end,
                _ => ranges.push(InlineRange { start: loc.start, end: loc.end, site }),
            }
        }
        (InlinedFrames { sites: self.sites, ranges }, offsets)
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
        self.sites.push(InlineSite { callee: callee_index, parent, call_offset: NO_WASM_OFFSET });
        self.inlined.push((body, call_inst));
        InlineCommand::Inline { callee: Cow::Borrowed(body), visit_callee: true }
    }
}
