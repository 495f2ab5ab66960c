//! Store settings that need compiled-in checks: an epoch deadline needs
//! epoch checks, fuel needs fuel metering. Code without them would ignore
//! the setting silently, so a store refuses the setting while it holds such
//! code, and refuses such code once the setting is made.

use kiln_format::Instrumentation;

use super::store::StoreOpaque;
use crate::error::Error;
use crate::module::Module;

/// A compiled-in check, as errors name it.
struct Check {
    bit: Instrumentation,
    /// The store setting that needs it.
    setting: &'static str,
    /// The kilnc flag that compiles it in.
    flag: &'static str,
    /// What code without it escapes.
    escape: &'static str,
}

const CHECKS: [Check; 2] = [
    Check {
        bit: Instrumentation::EPOCH,
        setting: "an epoch deadline",
        flag: "--epoch-interruption",
        escape: "no epoch deadline can interrupt it",
    },
    Check { bit: Instrumentation::FUEL, setting: "fuel", flag: "--fuel", escape: "no fuel limit can stop it" },
];

/// The checks of `module`'s code.
pub(crate) fn instrumentation_of(module: &Module) -> Instrumentation {
    module.code().header().instrumentation
}

/// Why `module`, lacking the checks of `missing`, cannot run under a store
/// setting that needs them.
#[cold]
fn uninstrumented(module: &Module, missing: Instrumentation) -> (&'static str, String) {
    let check = CHECKS.iter().find(|check| missing.contains(check.bit)).unwrap_or(&CHECKS[0]);
    let name = module.name().map_or_else(String::new, |name| format!(" `{name}`"));
    let reason = format!(
        "module{name} was compiled without {flag}, so {escape} (compile it with `kilnc {flag}`)",
        flag = check.flag,
        escape = check.escape,
    );
    (check.setting, reason)
}

impl StoreOpaque {
    /// Makes a setting that needs the checks `needed` in every instance of
    /// the store: refused if an instance lacks them; otherwise the store
    /// refuses, from now on, to instantiate code that lacks them.
    pub(crate) fn require_instrumentation(&mut self, needed: Instrumentation) -> Result<(), Error> {
        self.check_instrumentation(needed)?;
        self.required_instrumentation = self.required_instrumentation.union(needed);
        Ok(())
    }

    /// Whether every instance of the store has the checks `needed`: the
    /// error if one has not.
    pub(crate) fn check_instrumentation(&self, needed: Instrumentation) -> Result<(), Error> {
        for instance in &self.instances {
            let have = instrumentation_of(&instance.module);
            if !have.contains(needed) {
                let (setting, reason) = uninstrumented(&instance.module, missing(needed, have));
                return Err(Error::Instrumentation(format!(
                    "cannot set {setting}: the store holds an instance whose {reason}"
                )));
            }
        }
        Ok(())
    }

    /// Whether `module` may be instantiated in the store: it needs the
    /// checks of every setting made so far.
    pub(crate) fn check_instantiable(&self, module: &Module) -> Result<(), Error> {
        let have = instrumentation_of(module);
        if have.contains(self.required_instrumentation) {
            return Ok(());
        }
        let (setting, reason) = uninstrumented(module, missing(self.required_instrumentation, have));
        Err(Error::Instantiation(format!("the store has {setting}, but {reason}")))
    }
}

/// The checks of `needed` not in `have`.
fn missing(needed: Instrumentation, have: Instrumentation) -> Instrumentation {
    Instrumentation::from_bits(needed.bits() & !have.bits())
}
