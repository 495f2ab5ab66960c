//! Compile options and the Cranelift target they select: the ISA, its
//! flags, the CPU features the code will need and a hash of the flags.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use cranelift_codegen::isa::{self, OwnedTargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use kiln_format::{CpuFeatures, Instrumentation, RunPolicy, CPU_FEATURE_NAMES};

use crate::{CompileError, Features, Result};

/// The one target triple kiln generates code for today, recorded in the
/// artifact header for every accepted spelling of it.
pub const DEFAULT_TARGET: &str = "x86_64-unknown-linux-gnu";

/// How hard Cranelift optimizes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum OptLevel {
    /// No optimizations.
    None,
    /// Optimize for speed.
    #[default]
    Speed,
    /// Optimize for speed and size.
    SpeedAndSize,
}

impl OptLevel {
    /// The value of Cranelift's `opt_level` setting.
    pub fn as_str(self) -> &'static str {
        match self {
            OptLevel::None => "none",
            OptLevel::Speed => "speed",
            OptLevel::SpeedAndSize => "speed_and_size",
        }
    }
}

impl fmt::Display for OptLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OptLevel {
    type Err = CompileError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "none" | "0" => Ok(OptLevel::None),
            "speed" | "2" => Ok(OptLevel::Speed),
            "speed_and_size" | "s" => Ok(OptLevel::SpeedAndSize),
            other => Err(CompileError::options(format!(
                "unknown optimization level `{other}` (expected none, speed or speed_and_size)"
            ))),
        }
    }
}

/// Which CPU the code may assume: a fixed profile, whose artifacts run on
/// every machine of a deployment target whatever machine compiled them,
/// or the compiling machine itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum CpuChoice {
    /// [`CpuFeatures::BASELINE_X86_64`]: runs on any x86-64-v2 machine.
    #[default]
    Baseline,
    /// [`CpuFeatures::X86_64_V3`]: runs on any x86-64-v3 machine.
    X86_64V3,
    /// Every feature of the compiling machine that kiln can record.
    Native,
}

impl CpuChoice {
    /// The features of a fixed profile; `None` for [`CpuChoice::Native`].
    pub fn profile_features(self) -> Option<CpuFeatures> {
        match self {
            CpuChoice::Baseline => Some(CpuFeatures::BASELINE_X86_64),
            CpuChoice::X86_64V3 => Some(CpuFeatures::X86_64_V3),
            CpuChoice::Native => None,
        }
    }
}

impl fmt::Display for CpuChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CpuChoice::Baseline => "baseline",
            CpuChoice::X86_64V3 => "x86-64-v3",
            CpuChoice::Native => "native",
        })
    }
}

impl FromStr for CpuChoice {
    type Err = CompileError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "baseline" | "x86-64-v2" => Ok(CpuChoice::Baseline),
            "x86-64-v3" => Ok(CpuChoice::X86_64V3),
            "native" => Ok(CpuChoice::Native),
            other => Err(CompileError::options(format!(
                "unknown CPU `{other}` (expected baseline, x86-64-v2, x86-64-v3 or native)"
            ))),
        }
    }
}

/// What [`crate::compile_file`] writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Emit {
    /// The relocatable object (`ET_REL`) that the loader relocates itself.
    #[default]
    Object,
    /// That object linked by the system linker into a shared object
    /// (`ET_DYN`), opened by the loader with `dlopen` (SPEC.md 1.3). The
    /// code is the same: every call between functions is PC-relative, so
    /// non-PIC code is already position-independent and the flags hash does
    /// not change.
    SharedObject,
    /// A standalone executable: the object embedded in an executable
    /// linked with the kiln runtime library by the system `cc`, which runs
    /// it as a WASI command under the run policy of
    /// [`CompileOptions::executable`] (SPEC.md 1.4).
    Executable,
}

impl Emit {
    /// The file name of the artifact of `input` when no output is named:
    /// the input's file name with its last extension replaced by `o` or
    /// `so`, or without it for an executable (as `cc` names one); `None`
    /// when `input` names no file (`..`, `/`). `kilnc` writes it in the
    /// working directory, as `wasmtime compile` writes its `.cwasm`.
    pub fn artifact_file_name(self, input: &Path) -> Option<PathBuf> {
        let mut name = input.file_stem().filter(|stem| !stem.is_empty())?.to_os_string();
        match self {
            Emit::Object => name.push(".o"),
            Emit::SharedObject => name.push(".so"),
            Emit::Executable => {}
        }
        Some(PathBuf::from(name))
    }
}

/// What [`Emit::Executable`] needs besides the artifact.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecutableOptions {
    /// The kiln runtime library, `libkiln_runtime.a` (crate kiln-runtime),
    /// that the executable is linked with.
    pub runtime_lib: PathBuf,
    /// What the program sees at run time besides its arguments and
    /// standard streams: exactly these preopens and this environment.
    pub policy: RunPolicy,
}

impl fmt::Display for Emit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Emit::Object => "obj",
            Emit::SharedObject => "so",
            Emit::Executable => "exe",
        })
    }
}

impl FromStr for Emit {
    type Err = CompileError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "obj" => Ok(Emit::Object),
            "so" => Ok(Emit::SharedObject),
            "exe" => Ok(Emit::Executable),
            other => Err(CompileError::options(format!("unknown output kind `{other}` (expected obj, so or exe)"))),
        }
    }
}

/// Whether kilnc inlines small and single-call-site callees into their
/// callers (the heuristic is in `compiler/src/inline/policy.rs`). Inlining
/// keeps traps, backtraces, stack maps, fuel and epochs exact.
///
/// Off by default: on the real programs of `tests/programs/` (C built by
/// clang -O2, which has inlined within each source file already) it
/// changed run time by no more than the noise of the measurement, in both
/// directions, while it costs some compile time and, since every
/// function's CLIF is kept between the two phases, memory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Inlining {
    /// Inline.
    On,
    /// Compile every function on its own (the default).
    #[default]
    Off,
}

impl fmt::Display for Inlining {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Inlining::On => "y",
            Inlining::Off => "n",
        })
    }
}

impl FromStr for Inlining {
    type Err = CompileError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "y" | "yes" | "on" => Ok(Inlining::On),
            "n" | "no" | "off" => Ok(Inlining::Off),
            other => Err(CompileError::options(format!("unknown inlining setting `{other}` (expected y or n)"))),
        }
    }
}

/// Options of one compilation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompileOptions {
    /// Optimization level.
    pub opt_level: OptLevel,
    /// Target triple; `None` means [`DEFAULT_TARGET`].
    pub target: Option<String>,
    /// CPU features the code may use.
    pub cpu: CpuChoice,
    /// Number of compile threads; `None` uses rayon's global pool.
    pub threads: Option<usize>,
    /// What [`crate::compile_file`] writes; [`crate::compile`] always
    /// returns the object.
    pub emit: Emit,
    /// Compile an epoch check into every function entry and loop header,
    /// so that the store's epoch deadline can interrupt the code. The
    /// artifact header records it.
    pub epoch_interruption: bool,
    /// Meter the code with fuel, Wasmtime's cost model: the store's fuel
    /// goes down as the code runs, and a check at every function entry and
    /// loop header traps when it is used up. The artifact header records it.
    pub fuel: bool,
    /// The WebAssembly features accepted: by default every one kilnc
    /// supports (all of 3.0 but GC, threads, legacy exceptions).
    pub features: Features,
    /// A directory to write the optimized CLIF of every function and
    /// trampoline to, one `NAMESPACE-INDEX.clif` file each (a defined
    /// function is `0-FUNC_INDEX`), for reading the code kilnc produces
    /// next to another compiler's. It changes nothing in the artifact.
    pub clif_dir: Option<PathBuf>,
    /// Whether calls between the module's functions may be inlined.
    pub inlining: Inlining,
    /// The key that signs the artifact once it is sealed; `None` leaves it
    /// unsigned (SPEC.md 2.1.1).
    pub signer: Option<crate::Signer>,
    /// The runtime library and run policy of [`Emit::Executable`]; unused
    /// for the other outputs.
    pub executable: ExecutableOptions,
    /// Told of each function compiled, for a progress bar; it changes
    /// nothing in the artifact.
    pub progress: Option<crate::Progress>,
}

impl CompileOptions {
    /// The run-time checks these options compile in.
    pub fn instrumentation(&self) -> Instrumentation {
        let mut checks = Instrumentation::NONE;
        if self.epoch_interruption {
            checks = checks.union(Instrumentation::EPOCH);
        }
        if self.fuel {
            checks = checks.union(Instrumentation::FUEL);
        }
        checks
    }
}

/// The Cranelift target selected by [`CompileOptions`].
pub(crate) struct Target {
    /// The ISA with its shared and ISA-specific flags.
    pub isa: OwnedTargetIsa,
    /// The canonical triple recorded in the header.
    pub triple: &'static str,
    /// The CPU features the code needs.
    pub cpu_features: CpuFeatures,
    /// Stable hash of every setting that influences code generation.
    pub flags_hash: u64,
    /// Where to write each function's optimized CLIF, if anywhere.
    pub clif_dir: Option<PathBuf>,
}

/// Checks that `triple` names x86-64 Linux (the only supported target).
fn check_triple(triple: &str) -> Result<()> {
    let mut parts = triple.split('-');
    let arch = parts.next().unwrap_or("");
    let rest: Vec<&str> = parts.collect();
    let is_x86_64 = matches!(arch, "x86_64" | "amd64" | "x86_64h");
    let is_linux = rest.contains(&"linux");
    let env_ok = rest.iter().all(|p| matches!(*p, "unknown" | "pc" | "linux" | "gnu"));
    if is_x86_64 && is_linux && env_ok {
        Ok(())
    } else {
        Err(CompileError::options(format!(
            "unsupported target `{triple}`: kiln generates code only for {DEFAULT_TARGET}"
        )))
    }
}

fn shared_flags(opt_level: OptLevel) -> Result<settings::Flags> {
    let mut b = settings::builder();
    let verifier = if cfg!(debug_assertions) { "true" } else { "false" };
    let settings: [(&str, &str); 8] = [
        ("opt_level", opt_level.as_str()),
        ("preserve_frame_pointers", "true"),
        ("enable_multi_ret_implicit_sret", "true"),
        ("enable_probestack", "true"),
        ("probestack_strategy", "inline"),
        ("is_pic", "false"),
        ("unwind_info", "false"),
        ("enable_verifier", verifier),
    ];
    for (name, value) in settings {
        b.set(name, value).map_err(|e| CompileError::options(format!("cranelift setting {name}={value}: {e}")))?;
    }
    Ok(settings::Flags::new(b))
}

/// Name of the Cranelift x86-64 flag for a kiln CPU feature name.
fn cranelift_feature_flag(kiln_name: &str) -> String {
    format!("has_{}", kiln_name.replace('.', ""))
}

impl Target {
    /// Builds the ISA for `options`.
    pub fn new(options: &CompileOptions) -> Result<Target> {
        if let Some(triple) = &options.target {
            check_triple(triple)?;
        }
        let profile = options.cpu.profile_features();
        let mut builder = match profile {
            Some(_) => isa::lookup_by_name(DEFAULT_TARGET)
                .map_err(|e| CompileError::options(format!("target {DEFAULT_TARGET}: {e}")))?,
            None => cranelift_native::builder()
                .map_err(|e| CompileError::options(format!("cannot detect the native CPU: {e}")))?,
        };
        if builder.triple().architecture.to_string() != "x86_64" {
            return Err(CompileError::options(format!(
                "native CPU is {}, but kiln generates code only for {DEFAULT_TARGET}",
                builder.triple()
            )));
        }
        match profile {
            Some(features) => {
                for (feature, name) in CPU_FEATURE_NAMES {
                    let on = features.contains(feature);
                    set_isa_flag(&mut builder, &cranelift_feature_flag(name), on)?;
                }
            }
            None => {
                // The header can only promise what it can name; anything
                // else the host has stays unused so a loader's cpuid check
                // against the recorded features is sufficient.
                let known: Vec<String> = CPU_FEATURE_NAMES.iter().map(|(_, n)| cranelift_feature_flag(n)).collect();
                let unknown: Vec<&'static str> = builder
                    .iter()
                    .filter(|s| s.name.starts_with("has_") && !known.iter().any(|k| k == s.name))
                    .map(|s| s.name)
                    .collect();
                for name in unknown {
                    set_isa_flag(&mut builder, name, false)?;
                }
            }
        }
        let flags = shared_flags(options.opt_level)?;
        let isa = builder.finish(flags).map_err(|e| CompileError::options(format!("cannot build the ISA: {e}")))?;

        let mut cpu_features = CpuFeatures::NONE;
        for value in isa.isa_flags() {
            if value.as_bool() != Some(true) {
                continue;
            }
            if let Some((feature, _)) = CPU_FEATURE_NAMES.iter().find(|(_, n)| cranelift_feature_flag(n) == value.name)
            {
                cpu_features = cpu_features.union(*feature);
            }
        }
        let flags_hash = flags_hash(&*isa);
        Ok(Target { isa, triple: DEFAULT_TARGET, cpu_features, flags_hash, clif_dir: options.clif_dir.clone() })
    }
}

fn set_isa_flag(builder: &mut isa::Builder, name: &str, on: bool) -> Result<()> {
    builder
        .set(name, if on { "true" } else { "false" })
        .map_err(|e| CompileError::options(format!("cranelift ISA flag {name}: {e}")))
}

/// FNV-1a (64-bit): stable across Rust releases and platforms, unlike `std`'s hasher.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The flags text that the hash covers, one `name=value` a line.
///
/// `enable_verifier` is left out: it checks the IR but never changes the
/// code, and debug and release builds of `kilnc` must agree.
pub(crate) fn flags_text(isa: &dyn isa::TargetIsa) -> String {
    let mut text = format!("triple={}\n", isa.triple());
    for v in isa.flags().iter() {
        if v.name != "enable_verifier" {
            text.push_str(&format!("{}={}\n", v.name, v.value_string()));
        }
    }
    for v in isa.isa_flags() {
        text.push_str(&format!("{}={}\n", v.name, v.value_string()));
    }
    text
}

fn flags_hash(isa: &dyn isa::TargetIsa) -> u64 {
    fnv1a(flags_text(isa).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_reference_vectors() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn baseline_target_records_baseline_features() {
        let t = Target::new(&CompileOptions::default()).unwrap();
        assert_eq!(t.cpu_features, CpuFeatures::BASELINE_X86_64);
        assert_eq!(t.triple, DEFAULT_TARGET);
        let text = flags_text(&*t.isa);
        assert!(text.contains("preserve_frame_pointers=true"), "{text}");
        assert!(text.contains("enable_multi_ret_implicit_sret=true"), "{text}");
        assert!(text.contains("probestack_strategy=inline"), "{text}");
        assert!(text.contains("has_avx=false"), "{text}");
    }

    #[test]
    fn x86_64_v3_target_records_and_enables_the_profile() {
        let t = Target::new(&CompileOptions { cpu: CpuChoice::X86_64V3, ..Default::default() }).unwrap();
        assert_eq!(t.cpu_features, CpuFeatures::X86_64_V3);
        assert_eq!(
            t.cpu_features.names(),
            ["sse3", "ssse3", "sse4.1", "sse4.2", "popcnt", "avx", "avx2", "bmi1", "bmi2", "lzcnt", "fma"]
        );
        let text = flags_text(&*t.isa);
        for flag in
            ["has_avx=true", "has_avx2=true", "has_bmi1=true", "has_bmi2=true", "has_lzcnt=true", "has_fma=true"]
        {
            assert!(text.contains(flag), "{flag}: {text}");
        }
        // Nothing beyond what the header can name: AVX-512 stays off.
        assert!(text.contains("has_avx512f=false"), "{text}");
        let baseline = Target::new(&CompileOptions::default()).unwrap();
        assert_ne!(t.flags_hash, baseline.flags_hash);
    }

    #[test]
    fn cpu_names() {
        for (name, cpu) in [
            ("baseline", CpuChoice::Baseline),
            ("x86-64-v2", CpuChoice::Baseline),
            ("x86-64-v3", CpuChoice::X86_64V3),
            ("native", CpuChoice::Native),
        ] {
            assert_eq!(name.parse::<CpuChoice>().unwrap(), cpu);
        }
        for cpu in [CpuChoice::Baseline, CpuChoice::X86_64V3, CpuChoice::Native] {
            assert_eq!(cpu.to_string().parse::<CpuChoice>().unwrap(), cpu);
        }
        let err = "x86-64-v4".parse::<CpuChoice>().unwrap_err();
        assert!(err.to_string().contains("unknown CPU `x86-64-v4`"), "{err}");
    }

    #[test]
    fn flags_hash_depends_on_opt_level() {
        let a = Target::new(&CompileOptions::default()).unwrap();
        let b = Target::new(&CompileOptions { opt_level: OptLevel::None, ..Default::default() }).unwrap();
        assert_ne!(a.flags_hash, b.flags_hash);
    }

    #[test]
    fn triples() {
        for ok in ["x86_64-unknown-linux-gnu", "x86_64-linux", "x86_64-pc-linux-gnu"] {
            check_triple(ok).unwrap();
        }
        for bad in [
            "aarch64-unknown-linux-gnu",
            "x86_64-apple-darwin",
            "x86_64-pc-windows-msvc",
            "x86_64-unknown-linux-musl",
            "",
        ] {
            let err = check_triple(bad).unwrap_err();
            assert!(err.to_string().contains("unsupported target"), "{err}");
        }
    }
}
