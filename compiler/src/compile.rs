//! Parallel compilation of function bodies and trampolines to machine code.
//!
//! Every job is independent; rayon runs them with one translator and one
//! Cranelift context per worker thread, and results are collected in job
//! order, so the output does not depend on the number of threads.
//!
//! With inlining ([`crate::inline`]) there are two phases: every function
//! is translated to CLIF in parallel, then the inlining policy is decided
//! from all of them, then every function has its callees inlined and is
//! compiled, in parallel again. Without it, one job translates and compiles
//! a function.

use std::fmt;
use std::path::Path;
use std::time::{Duration, Instant};

use cranelift_codegen::binemit::Reloc;
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::{self, ExternalName, UserFuncName};
use cranelift_codegen::{Context, ExceptionContextLoc, FinalizedMachExceptionHandler, FinalizedRelocTarget};
use cranelift_frontend::FunctionBuilderContext;
use cranelift_module::{FuncId, ModuleReloc, ModuleRelocTarget};
use kiln_format::{
    BuiltinIndex, CompositeType, FuncType, FunctionInlining, Handler, HandlerRecord, HandlerTag, InlinedFrames,
    Instrumentation, ModuleInfo, StackMapRecord, TrapRecord, WasmOffsetEntry, NO_WASM_OFFSET, NUM_BUILTINS,
};
use rayon::prelude::*;
use wasmparser::FuncValidatorAllocations;

use crate::abi::{self, kiln_trap_code};
use crate::environ::{FunctionBodyData, ModuleTranslation};
use crate::inline::{CallerInliner, FunctionSummary, InlinePolicy, MarkedSites};
use crate::memory_image::DataSections;
use crate::options::{CompileOptions, Inlining, Target};
use crate::progress::ProgressCounter;
use crate::trampolines::{builtin_trampoline, entry_trampoline, host_trampoline, BUILTIN_NAMESPACE};
use crate::translate::{FuncEnvironment, FuncTranslator};
use crate::{prescan, CompileError, Result};

/// One unit of parallel work.
pub(crate) enum Job<'data> {
    /// A defined Wasm function, to translate and compile.
    Function(FunctionBodyData<'data>),
    /// A defined Wasm function already translated, to inline into and compile.
    Translated(Box<Translated>),
    /// A trampoline.
    Trampoline(Trampoline),
}

/// A defined function translated to CLIF (the first phase with inlining).
pub(crate) struct Translated {
    /// Index in the function space.
    func_index: u32,
    /// Its CLIF, or `None` when it is a candidate callee, whose CLIF the
    /// shared callee table holds.
    func: Option<ir::Function>,
    /// What the inlining policy needs to know of it.
    summary: FunctionSummary,
    /// How long translating it took.
    translate_time: Duration,
}

/// What the second phase shares between its jobs.
struct InlineContext<'a> {
    policy: &'a InlinePolicy,
    /// The CLIF of each candidate callee, by defined index.
    callees: &'a [Option<ir::Function>],
}

/// A trampoline to compile.
#[derive(Clone, Copy)]
pub(crate) enum Trampoline {
    /// The entry trampoline of a type index.
    Entry(u32),
    /// The host trampoline of a type index.
    Host(u32),
    /// The exit trampoline of a builtin.
    Builtin(BuiltinIndex),
}

impl fmt::Display for Trampoline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trampoline::Entry(t) => write!(f, "entry trampoline of type {t}"),
            Trampoline::Host(t) => write!(f, "host trampoline of type {t}"),
            Trampoline::Builtin(b) => write!(f, "exit trampoline of builtin {b}"),
        }
    }
}

/// How long one job took on its thread.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct JobTime {
    /// Translating a function to CLIF (none for a trampoline, whose CLIF
    /// building counts as compiling).
    pub translate: Duration,
    /// Compiling the CLIF to machine code.
    pub compile: Duration,
}

/// Every function and trampoline of a module compiled, with the times
/// their jobs took.
pub(crate) struct CompiledModule {
    /// The module info, with the inlined frames of each function.
    pub info: ModuleInfo,
    /// The data segments and memory images.
    pub data: DataSections,
    /// The code, in symbol order ([`SymbolLayout`]).
    pub code: Vec<CompiledCode>,
    /// The time of each defined function, by function index.
    pub function_times: Vec<JobTime>,
    /// The time of all trampolines together.
    pub trampoline_time: Duration,
    /// How many threads compiled.
    pub threads: usize,
    /// Wall time from the first job started to the last one finished.
    pub wall: Duration,
}

/// Machine code of one function or trampoline, with everything recorded
/// relative to its own start.
pub(crate) struct CompiledCode {
    /// The code bytes.
    pub bytes: Vec<u8>,
    /// Required alignment of the code.
    pub alignment: u32,
    /// PC-relative references to other symbols of `.text`, their targets
    /// already mapped to [`FuncId`]s; resolved when `.text` is laid out.
    pub relocs: Vec<ModuleReloc>,
    /// Trap sites.
    pub traps: Vec<TrapRecord>,
    /// Stack maps of safepoints.
    pub stack_maps: Vec<StackMapRecord>,
    /// Exception handlers of call sites inside `try_table`s and `try`s.
    pub handlers: Vec<HandlerRecord>,
    /// The functions inlined into it, and where their code is.
    pub inlined: InlinedFrames,
    /// Where the Wasm offset of its code changes (SPEC 2.9), relative to
    /// its start; empty for trampolines.
    pub wasm_offsets: Vec<WasmOffsetEntry>,
}

/// The [`FuncId`] of each symbol, in declaration order: defined functions,
/// then entry trampolines, then host trampolines, then one exit trampoline
/// per builtin.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SymbolLayout {
    /// Number of imported functions (they have no symbol).
    pub num_imported_funcs: u32,
    /// Number of defined functions.
    pub num_defined_funcs: u32,
    /// Number of types (one entry and one host trampoline each).
    pub num_types: u32,
}

impl SymbolLayout {
    /// The layout of `info`.
    pub fn new(info: &ModuleInfo) -> Self {
        let num_functions = u32::try_from(info.functions.len()).unwrap_or(u32::MAX);
        SymbolLayout {
            num_imported_funcs: info.num_imported_funcs,
            num_defined_funcs: num_functions.saturating_sub(info.num_imported_funcs),
            num_types: u32::try_from(info.types.len()).unwrap_or(u32::MAX),
        }
    }

    /// The symbol of function `func_index` of the function space, if it is defined.
    pub fn defined_function(&self, func_index: u32) -> Option<FuncId> {
        let defined = func_index.checked_sub(self.num_imported_funcs)?;
        (defined < self.num_defined_funcs).then(|| FuncId::from_u32(defined))
    }

    /// The symbol of the entry trampoline of type `type_index`.
    pub fn entry_trampoline(&self, type_index: u32) -> FuncId {
        FuncId::from_u32(self.num_defined_funcs + type_index)
    }

    /// The symbol of the host trampoline of type `type_index`.
    pub fn host_trampoline(&self, type_index: u32) -> FuncId {
        FuncId::from_u32(self.num_defined_funcs + self.num_types + type_index)
    }

    /// The symbol of the exit trampoline of builtin `index`.
    pub fn builtin_trampoline(&self, index: u32) -> Option<FuncId> {
        (index < NUM_BUILTINS).then(|| FuncId::from_u32(self.num_defined_funcs + 2 * self.num_types + index))
    }
}

/// Per-thread state, reused from one job to the next.
struct Worker {
    translator: FuncTranslator,
    context: Context,
    builder_context: FunctionBuilderContext,
    validator_allocations: FuncValidatorAllocations,
}

impl Worker {
    fn new() -> Self {
        Worker {
            translator: FuncTranslator::new(),
            context: Context::new(),
            builder_context: FunctionBuilderContext::new(),
            validator_allocations: FuncValidatorAllocations::default(),
        }
    }

    /// Compiles one job, timing it; its error names the function, or the
    /// trampoline, it came from.
    fn run(
        &mut self,
        target: &Target,
        env: &FuncEnvironment<'_>,
        layout: &SymbolLayout,
        inlining: Option<&InlineContext<'_>>,
        job: Job<'_>,
    ) -> Result<(CompiledCode, JobTime)> {
        let start = Instant::now();
        match job {
            Job::Function(data) => {
                let func_index = data.func_index;
                let compiled = || {
                    let func_id = defined_symbol(layout, func_index)?;
                    let func = self.translate(env, data)?;
                    let translated = Instant::now();
                    let code = self.compile_clif(target, layout, func, func_id, None)?;
                    Ok((code, JobTime { translate: translated - start, compile: translated.elapsed() }))
                };
                compiled().map_err(|e: CompileError| e.in_function(func_index))
            }
            Job::Translated(translated) => {
                let func_index = translated.func_index;
                let translate = translated.translate_time;
                let code = self
                    .inline_and_compile(target, layout, inlining, translated)
                    .map_err(|e| e.in_function(func_index))?;
                Ok((code, JobTime { translate, compile: start.elapsed() }))
            }
            Job::Trampoline(trampoline) => self
                .trampoline(target, &env.info.types, layout, trampoline)
                .map(|code| (code, JobTime { translate: Duration::ZERO, compile: start.elapsed() }))
                .map_err(|e| CompileError::codegen(format!("{} (in {trampoline})", e.message()))),
        }
    }

    /// Translates a defined function to CLIF.
    fn translate(&mut self, env: &FuncEnvironment<'_>, data: FunctionBodyData<'_>) -> Result<ir::Function> {
        let FunctionBodyData { func_index, body, validator } = data;
        prescan::check_body(&body)?;
        let ty = env.info.func_type(func_index).ok_or_else(|| CompileError::codegen("function without a type"))?;
        let mut func = ir::Function::with_name_signature(UserFuncName::user(0, func_index), abi::wasm_signature(ty));
        let mut validator = validator.into_validator(std::mem::take(&mut self.validator_allocations));
        let translated = self.translator.translate(env, func_index, &body, &mut validator, &mut func);
        self.validator_allocations = validator.into_allocations();
        translated?;
        Ok(func)
    }

    /// The first phase with inlining: translates and summarizes.
    fn translate_only(&mut self, env: &FuncEnvironment<'_>, data: FunctionBodyData<'_>) -> Result<Translated> {
        let start = Instant::now();
        let func_index = data.func_index;
        let func = self.translate(env, data).map_err(|e| e.in_function(func_index))?;
        let summary = FunctionSummary::of(&func);
        Ok(Translated { func_index, func: Some(func), summary, translate_time: start.elapsed() })
    }

    /// The second phase with inlining.
    fn inline_and_compile(
        &mut self,
        target: &Target,
        layout: &SymbolLayout,
        inlining: Option<&InlineContext<'_>>,
        translated: Box<Translated>,
    ) -> Result<CompiledCode> {
        let Translated { func_index, func, summary, .. } = *translated;
        let func_id = defined_symbol(layout, func_index)?;
        let inlining = inlining.ok_or_else(|| CompileError::codegen("a translated function without inlining"))?;
        let defined = (func_index - layout.num_imported_funcs) as usize;
        let func = match func {
            Some(func) => func,
            None => inlining
                .callees
                .get(defined)
                .cloned()
                .flatten()
                .ok_or_else(|| CompileError::codegen("the CLIF of a candidate callee is missing"))?,
        };
        let inliner =
            CallerInliner::new(inlining.policy, inlining.callees, layout.num_imported_funcs, func_index, summary.size);
        self.compile_clif(target, layout, func, func_id, Some(inliner))
    }

    fn trampoline(
        &mut self,
        target: &Target,
        types: &[CompositeType],
        layout: &SymbolLayout,
        trampoline: Trampoline,
    ) -> Result<CompiledCode> {
        let config = target.isa.frontend_config();
        let ty = |t: u32| {
            types.get(t as usize).map(trampoline_type).ok_or_else(|| CompileError::codegen(format!("unknown type {t}")))
        };
        let (func, func_id) = match trampoline {
            Trampoline::Entry(t) => {
                (entry_trampoline(t, ty(t)?, config, &mut self.builder_context)?, layout.entry_trampoline(t))
            }
            Trampoline::Host(t) => {
                (host_trampoline(t, ty(t)?, config, &mut self.builder_context)?, layout.host_trampoline(t))
            }
            Trampoline::Builtin(b) => (
                builtin_trampoline(b, config, &mut self.builder_context),
                layout
                    .builtin_trampoline(b as u32)
                    .ok_or_else(|| CompileError::codegen(format!("unknown builtin {b}")))?,
            ),
        };
        self.compile_clif(target, layout, func, func_id, None)
    }

    /// Compiles `func`, after inlining into it what `inliner` picks.
    fn compile_clif(
        &mut self,
        target: &Target,
        layout: &SymbolLayout,
        func: ir::Function,
        func_id: FuncId,
        inliner: Option<CallerInliner<'_>>,
    ) -> Result<CompiledCode> {
        self.context.clear();
        self.context.func = func;
        let mut sites = MarkedSites::default();
        if let Some(mut inliner) = inliner {
            let inlined = self
                .context
                .inline(&mut inliner)
                .map_err(|e| CompileError::codegen(format!("cranelift inliner: {e}")))?;
            if inlined {
                sites = inliner.mark(&mut self.context.func);
            }
        }
        let compiled = self
            .context
            .compile(&*target.isa, &mut ControlPlane::default())
            .map(|_| ())
            .map_err(|e| CompileError::codegen(format!("cranelift: {}", e.inner)));
        if let Some(dir) = &target.clif_dir {
            // Written before a codegen error propagates, so that the CLIF
            // of a function Cranelift rejects can be read too.
            write_clif(dir, &self.context.func)?;
        }
        compiled?;
        let func = &self.context.func;
        let code = self.context.compiled_code().ok_or_else(|| CompileError::codegen("cranelift produced no code"))?;
        let buffer = &code.buffer;

        let mut relocs = Vec::with_capacity(buffer.relocs().len());
        for reloc in buffer.relocs() {
            let callee = match reloc.target {
                FinalizedRelocTarget::ExternalName(ExternalName::User(r)) => {
                    let name = &func.params.user_named_funcs()[r];
                    match name.namespace {
                        0 => layout.defined_function(name.index),
                        BUILTIN_NAMESPACE => layout.builtin_trampoline(name.index),
                        _ => None,
                    }
                }
                _ => None,
            };
            let callee = callee.ok_or_else(|| {
                CompileError::codegen(format!("relocation against an unsupported target {:?}", reloc.target))
            })?;
            // Only PC-relative references, which kilnc resolves itself when
            // it lays out `.text` (an artifact's code is fully linked, SPEC
            // 2.2); an absolute address would need the loader to patch code.
            if !matches!(reloc.kind, Reloc::X86CallPCRel4 | Reloc::X86CallPLTRel4 | Reloc::X86PCRel4) {
                return Err(CompileError::codegen(format!(
                    "relocation kind {} is not PC-relative, and .text must need no relocation",
                    reloc.kind
                )));
            }
            let mut reloc = ModuleReloc::from_mach_reloc(reloc, func, func_id);
            reloc.name = ModuleRelocTarget::from(callee);
            relocs.push(reloc);
        }

        let traps = buffer
            .traps()
            .iter()
            .map(|t| {
                let code = kiln_trap_code(t.code)
                    .ok_or_else(|| CompileError::codegen(format!("trap code {} has no kiln equivalent", t.code)))?;
                Ok(TrapRecord { text_offset: t.offset, code })
            })
            .collect::<Result<Vec<_>>>()?;

        let stack_maps = buffer
            .user_stack_maps()
            .iter()
            .map(|(return_offset, span, map)| {
                let mut slots: Vec<u32> =
                    map.entries().filter(|(ty, _)| *ty == abi::POINTER_TYPE).map(|(_, offset)| offset).collect();
                slots.sort_unstable();
                StackMapRecord { return_offset: *return_offset, frame_size: *span, slots }
            })
            .collect();

        let handlers = handler_records(buffer.call_sites())?;
        // The translator made the body's module offset the base: code that
        // comes from no operator (the prologue, the stack check's trap that
        // an overflow hits) is at the body, as Wasmtime shows it.
        // Trampolines have no base, and no offsets.
        let body = Some(func.params.base_srcloc()).filter(|b| !b.is_default()).map(|b| b.bits());
        let unlocated = body.unwrap_or(NO_WASM_OFFSET);
        let (inlined, mut wasm_offsets) = if sites.is_empty() {
            (InlinedFrames::default(), wasm_offsets(buffer.get_srclocs_sorted(), unlocated))
        } else {
            // The source locations name (inline site, Wasm offset) pairs.
            sites.into_frames(buffer.get_srclocs_sorted(), unlocated)
        };
        if let Some(body) = body.filter(|_| wasm_offsets.first().is_none_or(|e| e.text_offset > 0)) {
            wasm_offsets.insert(0, WasmOffsetEntry { text_offset: 0, wasm_offset: body });
        }

        Ok(CompiledCode {
            bytes: buffer.data().to_vec(),
            alignment: buffer.alignment,
            relocs,
            traps,
            stack_maps,
            handlers,
            inlined,
            wasm_offsets,
        })
    }
}

/// The Wasm offsets of a function's code from the machine buffer's source
/// ranges, whose locations are the translator's (the module offset of the
/// Wasm operator each instruction came from): an entry where each range
/// starts, and one with `unlocated` where one ends, which the next range's
/// entry replaces when it starts there.
fn wasm_offsets(
    srclocs: &[cranelift_codegen::MachSrcLoc<cranelift_codegen::Final>],
    unlocated: u32,
) -> Vec<WasmOffsetEntry> {
    let mut entries: Vec<WasmOffsetEntry> = Vec::with_capacity(srclocs.len() * 2);
    let mut gap_at = None;
    for loc in srclocs.iter().filter(|loc| !loc.loc.is_default() && loc.start < loc.end) {
        let start = WasmOffsetEntry { text_offset: loc.start, wasm_offset: loc.loc.bits() };
        match entries.last_mut() {
            Some(gap) if gap_at == Some(loc.start) => *gap = start,
            _ => entries.push(start),
        }
        entries.push(WasmOffsetEntry { text_offset: loc.end, wasm_offset: unlocated });
        gap_at = Some(loc.end);
    }
    entries
}

/// Writes `func`'s CLIF to `DIR/NAMESPACE-INDEX.clif` (its user name).
fn write_clif(dir: &Path, func: &ir::Function) -> Result<()> {
    let name = match &func.name {
        UserFuncName::User(name) => format!("{}-{}", name.namespace, name.index),
        UserFuncName::Testcase(name) => name.to_string(),
    };
    let path = dir.join(format!("{name}.clif"));
    std::fs::write(&path, func.display().to_string())
        .map_err(|e| CompileError::options(format!("cannot write the CLIF to {}: {e}", path.display())))
}

/// The handler records of a function's call sites that have handlers
/// (SPEC 2.6). Translation puts the caller's VMContext first as the
/// dynamic context of each exception table; the unwinder needs it in the
/// frame, which the `tail` convention of `try_call` callees guarantees
/// (every register is clobbered across the call).
fn handler_records<'a>(
    call_sites: impl Iterator<Item = cranelift_codegen::FinalizedMachCallSite<'a>>,
) -> Result<Vec<HandlerRecord>> {
    let mut records = Vec::new();
    for site in call_sites {
        if site.exception_handlers.is_empty() {
            continue;
        }
        let at = site.ret_addr;
        let mut vmctx_slot = None;
        let mut handlers = Vec::with_capacity(site.exception_handlers.len());
        for handler in site.exception_handlers {
            match *handler {
                FinalizedMachExceptionHandler::Context(ExceptionContextLoc::SPOffset(offset)) => {
                    vmctx_slot = Some(offset)
                }
                FinalizedMachExceptionHandler::Context(ExceptionContextLoc::GPR(reg)) => {
                    return Err(CompileError::codegen(format!(
                        "the VMContext of the call returning at {at:#x} is in register {reg}, not in the frame"
                    )))
                }
                FinalizedMachExceptionHandler::Tag(tag, landing) => {
                    handlers.push(Handler { tag: HandlerTag::Tag(tag.as_u32()), landing_offset: landing })
                }
                FinalizedMachExceptionHandler::Default(landing) => {
                    handlers.push(Handler { tag: HandlerTag::All, landing_offset: landing })
                }
            }
        }
        let frame_size = site
            .frame_offset
            .ok_or_else(|| CompileError::codegen(format!("the call returning at {at:#x} has no frame offset")))?;
        let vmctx_slot = vmctx_slot.ok_or_else(|| {
            CompileError::codegen(format!("the call returning at {at:#x} has handlers but no VMContext"))
        })?;
        if !handlers.is_empty() {
            records.push(HandlerRecord { return_offset: at, frame_size, vmctx_slot, handlers });
        }
    }
    Ok(records)
}

/// The signature of the trampolines of a type.
///
/// Trampolines stay indexed by type index, so a struct or array type gets
/// the two trampolines of `[] -> []` (a few bytes each), which nothing
/// calls.
pub(crate) fn trampoline_type(ty: &CompositeType) -> &FuncType {
    static NO_SIGNATURE: FuncType = FuncType { params: Vec::new(), results: Vec::new() };
    ty.as_func().unwrap_or(&NO_SIGNATURE)
}

/// The symbol of defined function `func_index`.
fn defined_symbol(layout: &SymbolLayout, func_index: u32) -> Result<FuncId> {
    layout.defined_function(func_index).ok_or_else(|| CompileError::codegen("body of an imported function"))
}

/// Compiles every defined function and every trampoline, inlining as
/// `inlining` says. The result holds the defined functions in index order,
/// then the entry trampolines, then the host trampolines, by type index,
/// then the builtin exit trampolines; the module info gets the inlined
/// frames of each function. `options.progress` is told of each defined
/// function compiled.
pub(crate) fn compile_module(
    translation: ModuleTranslation<'_>,
    target: &Target,
    options: &CompileOptions,
) -> Result<CompiledModule> {
    let instrumentation: Instrumentation = options.instrumentation();
    let ModuleTranslation { mut info, data, bodies } = translation;
    let layout = SymbolLayout::new(&info);
    let env = FuncEnvironment {
        info: &info,
        offsets: info.vmoffsets(),
        call_conv: target.isa.default_call_conv(),
        instrumentation,
        type_kinds: crate::translate::TypeKind::of_all(&info.types),
    };

    let trampolines = || {
        let entries = (0..layout.num_types).map(|t| Job::Trampoline(Trampoline::Entry(t)));
        let hosts = (0..layout.num_types).map(|t| Job::Trampoline(Trampoline::Host(t)));
        let builtins = BuiltinIndex::ALL.iter().map(|&b| Job::Trampoline(Trampoline::Builtin(b)));
        entries.chain(hosts).chain(builtins)
    };
    // The first failure in job order, so the reported error is the same
    // for every thread count.
    let run = || -> Result<(Vec<(CompiledCode, JobTime)>, usize)> {
        let progress = ProgressCounter::start(options.progress.as_ref(), layout.num_defined_funcs as usize);
        let compile_all = |jobs: Vec<Job<'_>>, inlining: Option<&InlineContext<'_>>| {
            jobs.into_par_iter()
                .map_init(Worker::new, |worker, job| {
                    let is_function = !matches!(job, Job::Trampoline(_));
                    let compiled = worker.run(target, &env, &layout, inlining, job);
                    if is_function && compiled.is_ok() {
                        progress.function_done();
                    }
                    compiled
                })
                .collect::<Vec<_>>()
                .into_iter()
                .collect::<Result<Vec<_>>>()
        };
        let compiled = match options.inlining {
            Inlining::Off => {
                let mut jobs: Vec<Job<'_>> = bodies.into_iter().map(Job::Function).collect();
                jobs.extend(trampolines());
                compile_all(jobs, None)
            }
            Inlining::On => {
                let mut translated = bodies
                    .into_par_iter()
                    .map_init(Worker::new, |worker, data| worker.translate_only(&env, data))
                    .collect::<Vec<_>>()
                    .into_iter()
                    .collect::<Result<Vec<_>>>()?;
                let summaries: Vec<FunctionSummary> =
                    translated.iter_mut().map(|t| std::mem::take(&mut t.summary)).collect();
                let policy = InlinePolicy::new(&summaries, layout.num_imported_funcs);
                // A candidate callee's CLIF moves to the shared table; its
                // own job clones it back.
                let callees: Vec<Option<ir::Function>> = translated
                    .iter_mut()
                    .enumerate()
                    .map(|(d, t)| policy.candidate(d).and_then(|_| t.func.take()))
                    .collect();
                let mut jobs: Vec<Job<'_>> = translated
                    .into_iter()
                    .zip(summaries)
                    .map(|(t, summary)| Job::Translated(Box::new(Translated { summary, ..t })))
                    .collect();
                jobs.extend(trampolines());
                compile_all(jobs, Some(&InlineContext { policy: &policy, callees: &callees }))
            }
        }?;
        Ok((compiled, rayon::current_num_threads()))
    };
    let start = Instant::now();
    let (compiled, threads) = match options.threads {
        None => run(),
        Some(0) => return Err(CompileError::options("the number of threads must be at least 1")),
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .map_err(|e| CompileError::options(format!("cannot start {n} compile threads: {e}")))?
            .install(run),
    }?;
    let wall = start.elapsed();
    let (mut code, times): (Vec<CompiledCode>, Vec<JobTime>) = compiled.into_iter().unzip();
    let (function_times, trampoline_times) = times.split_at((layout.num_defined_funcs as usize).min(times.len()));
    let trampoline_time = trampoline_times.iter().map(|t| t.compile).sum();
    let function_times = function_times.to_vec();
    // In function order, so the table is sorted by function index.
    for (func_index, compiled) in (layout.num_imported_funcs..).zip(&mut code[..layout.num_defined_funcs as usize]) {
        if !compiled.inlined.is_empty() {
            info.inlined.push(FunctionInlining { func_index, frames: std::mem::take(&mut compiled.inlined) });
        }
    }
    Ok(CompiledModule { info, data, code, function_times, trampoline_time, threads, wall })
}
