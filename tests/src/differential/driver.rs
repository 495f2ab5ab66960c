//! Running one module in both engines in lockstep and comparing every step.

use std::fmt;

use super::fuel_export::FUEL_EXPORT;
use super::generate::{subject_from_seed, Subject, FUEL};
use super::interface::{interface, Interface};
use super::kiln_side::{KilnInstance, KilnModule, KilnRefusal};
use super::outcome::{calls_agree, describe_call, failures_agree, Failure};
use super::reference_side::{reference_engine, ReferenceInstance, ReferenceModule};
use super::rng::SplitMix64;
use super::value::{arguments, describe_values, ValType, Value};

/// The two engines, reused from module to module.
pub struct Differential {
    kiln: kiln_loader::Engine,
    reference: wasmi::Engine,
}

impl Default for Differential {
    fn default() -> Self {
        Differential::new()
    }
}

/// Where the two engines parted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// The step: `compile`, `instantiate`, `call "f" (i32 1)`, `memory "m" after call "f"`, ...
    pub step: String,
    /// What kiln did.
    pub kiln: String,
    /// What wasmi did.
    pub reference: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: kiln {}; wasmi {}", self.step, self.kiln, self.reference)
    }
}

/// What running one module in both engines did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ModuleStats {
    /// Exported functions called.
    pub calls: usize,
    /// Calls that trapped (the same way in both engines).
    pub traps: usize,
    /// Instantiation failed (the same way in both engines), so nothing was called.
    pub instantiation_failed: bool,
}

/// The verdict on one module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Both engines did the same at every step.
    Agreed(ModuleStats),
    /// The module could not be compared: the generator made none (its
    /// input was too short) or wasmi refused it. Says why.
    Skipped(String),
    /// The engines disagreed.
    Mismatch(Mismatch),
}

/// Generates the module of `seed` and checks it.
pub fn check_seed(differential: &Differential, seed: u64) -> Verdict {
    match subject_from_seed(seed) {
        Ok(subject) => differential.check(&subject),
        Err(why) => Verdict::Skipped(why),
    }
}

impl Differential {
    /// A kiln engine with default settings and a wasmi engine for WebAssembly 2.0.
    pub fn new() -> Differential {
        Differential { kiln: kiln_loader::Engine::default(), reference: reference_engine() }
    }

    /// Runs `subject` in both engines and compares every step.
    pub fn check(&self, subject: &Subject) -> Verdict {
        match self.run(subject) {
            Ok(verdict) => verdict,
            Err(mismatch) => Verdict::Mismatch(mismatch),
        }
    }

    fn run(&self, subject: &Subject) -> Result<Verdict, Mismatch> {
        let interface = match interface(&subject.wasm) {
            Ok(interface) => interface,
            Err(why) => return Ok(Verdict::Skipped(format!("not a WebAssembly 2.0 module: {why}"))),
        };
        let reference = match ReferenceModule::new(&self.reference, &subject.wasm) {
            Ok(module) => module,
            Err(why) => return Ok(Verdict::Skipped(format!("wasmi refuses the module: {why}"))),
        };
        let kiln = KilnModule::new(&self.kiln, &subject.wasm).map_err(|refusal| {
            let (step, kiln) = match refusal {
                KilnRefusal::Compile(e) => ("compile", format!("refused a valid module: {e}")),
                KilnRefusal::Load(e) => ("load", format!("refused its own artifact: {e}")),
            };
            Mismatch { step: step.into(), kiln, reference: "translated it".into() }
        })?;

        let mut stats = ModuleStats::default();
        let (mut kiln, mut reference) = match (kiln.instantiate(), reference.instantiate()) {
            (Ok(kiln), Ok(reference)) => (kiln, reference),
            (Err(a), Err(b)) if failures_agree(&a, &b) => {
                stats.instantiation_failed = true;
                return Ok(Verdict::Agreed(stats));
            }
            (a, b) => {
                return Err(Mismatch {
                    step: "instantiate".into(),
                    kiln: describe_instantiation(a.err()),
                    reference: describe_instantiation(b.err()),
                })
            }
        };
        let mut pair = Pair { kiln: &mut kiln, reference: &mut reference, interface: &interface };
        pair.compare_state("after instantiation")?;

        let mut rng = SplitMix64::new(subject.argument_seed);
        for func in &interface.funcs {
            pair.refill_fuel();
            let args = arguments(&func.params, &mut rng);
            let kiln = pair.kiln.call(&func.name, &args, &func.results);
            let reference = pair.reference.call(&func.name, &args, &func.results);
            stats.calls += 1;
            let call = format!("call {:?} {}", func.name, describe_values(&args));
            if !calls_agree(&kiln, &reference) {
                return Err(Mismatch { step: call, kiln: describe_call(&kiln), reference: describe_call(&reference) });
            }
            if kiln.is_err() {
                stats.traps += 1;
            }
            pair.compare_state(&format!("after {call}"))?;
        }
        Ok(Verdict::Agreed(stats))
    }
}

fn describe_instantiation(failure: Option<Failure>) -> String {
    match failure {
        None => "instantiated it".into(),
        Some(failure) => format!("failed to instantiate it: {failure}"),
    }
}

/// The two instances of one module.
struct Pair<'a> {
    kiln: &'a mut KilnInstance,
    reference: &'a mut ReferenceInstance,
    interface: &'a Interface,
}

impl Pair<'_> {
    /// Gives the next call the whole fuel budget, in both engines alike.
    fn refill_fuel(&mut self) {
        let fuel_global = self.interface.globals.iter().find(|g| g.name == FUEL_EXPORT);
        if fuel_global.is_some_and(|g| g.mutable && g.ty == ValType::I32) {
            self.kiln.set_global(FUEL_EXPORT, Value::I32(FUEL));
            self.reference.set_global(FUEL_EXPORT, Value::I32(FUEL));
        }
    }

    /// Compares every exported global, memory and table.
    fn compare_state(&self, when: &str) -> Result<(), Mismatch> {
        let mismatch = |item: String, kiln: String, reference: String| Mismatch {
            step: format!("{item} {when}"),
            kiln,
            reference,
        };
        for global in &self.interface.globals {
            let kiln = self.kiln.global(&global.name);
            let reference = self.reference.global(&global.name);
            let agree = match (&kiln, &reference) {
                (Some(a), Some(b)) => a.agrees_with(b),
                _ => false,
            };
            if !agree {
                return Err(mismatch(format!("global {:?}", global.name), describe(kiln), describe(reference)));
            }
        }
        for name in &self.interface.memories {
            let (Some(kiln), Some(reference)) = (self.kiln.memory(name), self.reference.memory(name)) else {
                return Err(mismatch(format!("memory {name:?}"), "exports it?".into(), "exports it?".into()));
            };
            if kiln.len() != reference.len() {
                let size = |bytes: &[u8]| format!("has {} pages", bytes.len() / 65536);
                return Err(mismatch(format!("memory {name:?}"), size(kiln), size(reference)));
            }
            if let Some(at) = kiln.iter().zip(reference).position(|(a, b)| a != b) {
                let byte = |bytes: &[u8]| format!("has {:#04x} at {at:#x}", bytes[at]);
                return Err(mismatch(format!("memory {name:?}"), byte(kiln), byte(reference)));
            }
        }
        for name in &self.interface.tables {
            let kiln = self.kiln.table(name).unwrap_or_default();
            let reference = self.reference.table(name).unwrap_or_default();
            if kiln.len() != reference.len() {
                let size = |nulls: &[bool]| format!("has {} elements", nulls.len());
                return Err(mismatch(format!("table {name:?}"), size(&kiln), size(&reference)));
            }
            if let Some(at) = kiln.iter().zip(&reference).position(|(a, b)| a != b) {
                let element =
                    |null: bool| format!("has {} at {at}", if null { "null" } else { "a non-null reference" });
                return Err(mismatch(format!("table {name:?}"), element(kiln[at]), element(reference[at])));
            }
        }
        Ok(())
    }
}

fn describe(value: Option<Value>) -> String {
    match value {
        Some(value) => format!("has {value}"),
        None => "has no such export".into(),
    }
}
