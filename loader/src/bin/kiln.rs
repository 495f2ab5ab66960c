//! `kiln`: runs and inspects kiln artifacts.
//!
//! ```text
//! kiln run app.o --invoke add 1 2     # prints each result on its own line
//! kiln run app.o                      # instantiates (runs start), calls `_start` if exported
//! kiln inspect app.o [--json]         # header, imports, exports, functions
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Parser, Subcommand};
use kiln_loader::{Error, ExternKind, ImportKind, Linker, Module, Store, Val, ValType};
use serde_json::json;

#[derive(Parser)]
#[command(name = "kiln", version, about = "Runs and inspects kiln artifacts (precompiled WebAssembly)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Instantiate an artifact and call a function.
    Run {
        /// The artifact (`kilnc` output).
        file: PathBuf,
        /// Export to call; without it, `_start` is called if exported.
        #[arg(long)]
        invoke: Option<String>,
        /// Native stack that Wasm may use, in bytes.
        #[arg(long)]
        max_wasm_stack: Option<usize>,
        /// Arguments, parsed by the export's parameter types.
        #[arg(allow_hyphen_values = true, trailing_var_arg = true)]
        args: Vec<String>,
    },
    /// Describe an artifact.
    Inspect {
        /// The artifact.
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let outcome = match cli.command {
        Command::Run { file, invoke, max_wasm_stack, args } => run(&file, invoke.as_deref(), max_wasm_stack, &args),
        Command::Inspect { file, json } => inspect(&file, json),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&e);
            ExitCode::from(1)
        }
    }
}

fn report(error: &anyhow::Error) {
    eprintln!("error: {error:#}");
    if let Some(Error::Trap(trap)) = error.downcast_ref::<Error>() {
        if !trap.backtrace.is_empty() {
            eprintln!("wasm backtrace:");
            // A runaway recursion would print the same frame a hundred times.
            let frames: Vec<String> = trap.backtrace.iter().map(ToString::to_string).collect();
            let mut i = 0;
            while i < frames.len() {
                let run = frames[i..].iter().take_while(|f| **f == frames[i]).count();
                if run > 2 {
                    eprintln!("  {i}: {} (and {} more times)", frames[i], run - 1);
                } else {
                    for (j, frame) in frames.iter().enumerate().skip(i).take(run) {
                        eprintln!("  {j}: {frame}");
                    }
                }
                i += run;
            }
        }
    }
}

fn run(file: &PathBuf, invoke: Option<&str>, max_wasm_stack: Option<usize>, args: &[String]) -> Result<()> {
    let module = Module::from_file(file)?;
    let store = Store::new();
    if let Some(bytes) = max_wasm_stack {
        store.set_max_wasm_stack(bytes);
    }
    let instance = Linker::new().instantiate(&store, &module)?;
    let name = match invoke {
        Some(name) => name,
        None if instance.get_func("_start").is_some() => "_start",
        None => {
            if !args.is_empty() {
                bail!("arguments given but no function to call (use --invoke)");
            }
            return Ok(());
        }
    };
    let func = instance.get_func(name).ok_or_else(|| anyhow!("no exported function `{name}`"))?;
    let ty = func.ty();
    if args.len() != ty.params.len() {
        bail!("`{name}` takes {} arguments ({:?}), {} given", ty.params.len(), ty.params, args.len());
    }
    let params = ty
        .params
        .iter()
        .zip(args)
        .enumerate()
        .map(|(i, (&t, arg))| parse_arg(t, arg).with_context(|| format!("argument {i} `{arg}`")))
        .collect::<Result<Vec<_>>>()?;
    for result in func.call(&params)? {
        println!("{}", format_val(&result));
    }
    Ok(())
}

fn parse_int(text: &str, bits: u32) -> Result<u64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let digits = digits.replace('_', "");
    let magnitude = if let Some(hex) = digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16)?
    } else {
        digits.parse::<u64>()?
    };
    let mask = if bits == 64 { u64::MAX } else { (1u64 << bits) - 1 };
    let fits = if negative { magnitude <= 1u64 << (bits - 1) } else { magnitude <= mask };
    if !fits {
        bail!("out of range for i{bits}");
    }
    Ok(if negative { magnitude.wrapping_neg() & mask } else { magnitude })
}

fn parse_arg(ty: ValType, text: &str) -> Result<Val> {
    Ok(match ty {
        ValType::I32 => Val::I32(parse_int(text, 32)? as u32 as i32),
        ValType::I64 => Val::I64(parse_int(text, 64)? as i64),
        ValType::F32 => Val::F32(text.parse::<f32>()?.to_bits()),
        ValType::F64 => Val::F64(text.parse::<f64>()?.to_bits()),
        ValType::V128 => {
            let hex = text.strip_prefix("0x").ok_or_else(|| anyhow!("a v128 is written as 0x and 32 hex digits"))?;
            Val::V128(u128::from_str_radix(hex, 16)?)
        }
        ValType::FuncRef | ValType::ExternRef if text == "null" => Val::default_for(ty),
        ValType::FuncRef | ValType::ExternRef => bail!("only `null` can be passed as a reference"),
    })
}

fn format_val(v: &Val) -> String {
    match v {
        Val::I32(x) => x.to_string(),
        Val::I64(x) => x.to_string(),
        Val::F32(bits) => f32::from_bits(*bits).to_string(),
        Val::F64(bits) => f64::from_bits(*bits).to_string(),
        Val::V128(x) => format!("{x:#034x}"),
        Val::FuncRef(None) | Val::ExternRef(None) => "null".to_string(),
        Val::FuncRef(Some(_)) => "funcref".to_string(),
        Val::ExternRef(Some(_)) => "externref".to_string(),
    }
}

struct FunctionSummary {
    index: u32,
    name: Option<String>,
    type_index: u32,
    imported: bool,
    code_offset: u32,
    code_size: u32,
    traps: usize,
    stack_maps: usize,
}

fn inspect(file: &PathBuf, as_json: bool) -> Result<()> {
    let module = Module::from_file(file)?;
    let code = module.code();
    let header = code.header();
    let info = module.info();
    let functions: Vec<FunctionSummary> = info
        .functions
        .iter()
        .enumerate()
        .map(|(index, f)| {
            let range = f.code.map(|r| (r.offset, r.offset.saturating_add(r.len)));
            let within = |offset: u32| range.is_some_and(|(start, end)| offset >= start && offset < end);
            FunctionSummary {
                index: index as u32,
                name: f.name.clone(),
                type_index: f.type_index,
                imported: f.code.is_none(),
                code_offset: f.code.map_or(0, |r| r.offset),
                code_size: f.code.map_or(0, |r| r.len),
                traps: code.trap_records().iter().filter(|t| within(t.text_offset)).count(),
                stack_maps: code.stack_maps().iter().filter(|s| within(s.return_offset.saturating_sub(1))).count(),
            }
        })
        .collect();
    let import_kind = |k: &ImportKind| match k {
        ImportKind::Func(t) => format!("func (type {t})"),
        ImportKind::Table(t) => format!("table {t:?}"),
        ImportKind::Memory(m) => format!("memory {m:?}"),
        ImportKind::Global(g) => format!("global {g:?}"),
    };
    let export_kind = |k: ExternKind| match k {
        ExternKind::Func => "func",
        ExternKind::Table => "table",
        ExternKind::Memory => "memory",
        ExternKind::Global => "global",
    };
    if as_json {
        let out = json!({
            "file": file.display().to_string(),
            "header": {
                "format_version": header.format_version,
                "producer": header.producer(),
                "target": header.target(),
                "cpu_features": header.cpu_features.names(),
                "flags_hash": format!("{:#018x}", header.flags_hash),
                "checksum": format!("{:#010x}", header.checksum),
            },
            "name": module.name(),
            "types": info.types.iter().map(|t| json!({
                "params": t.params.iter().map(|p| format!("{p:?}").to_lowercase()).collect::<Vec<_>>(),
                "results": t.results.iter().map(|p| format!("{p:?}").to_lowercase()).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "imports": info.imports.iter().map(|i| json!({
                "module": i.module, "name": i.name, "kind": import_kind(&i.kind),
            })).collect::<Vec<_>>(),
            "exports": info.exports.iter().map(|e| json!({
                "name": e.name, "kind": export_kind(e.kind), "index": e.index,
            })).collect::<Vec<_>>(),
            "functions": functions.iter().map(|f| json!({
                "index": f.index,
                "name": f.name,
                "type": f.type_index,
                "imported": f.imported,
                "code_offset": f.code_offset,
                "code_size": f.code_size,
                "traps": f.traps,
                "stack_maps": f.stack_maps,
            })).collect::<Vec<_>>(),
            "memories": info.memories.len(),
            "tables": info.tables.len(),
            "globals": info.global_types.len(),
            "data_segments": info.data.len(),
            "element_segments": info.elements.len(),
            "start": info.start,
            "text_size": code.text_len(),
            "trap_records": code.trap_records().len(),
            "stack_maps": code.stack_maps().len(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!("file:            {}", file.display());
    println!("format version:  {}", header.format_version);
    println!("producer:        {}", header.producer());
    println!("target:          {}", header.target());
    println!("cpu features:    {}", header.cpu_features);
    println!("flags hash:      {:#018x}", header.flags_hash);
    println!("checksum:        {:#010x}", header.checksum);
    if let Some(name) = module.name() {
        println!("module name:     {name}");
    }
    println!("text size:       {} bytes", code.text_len());
    println!("trap records:    {}", code.trap_records().len());
    println!("stack maps:      {}", code.stack_maps().len());
    println!("imports ({}):", info.imports.len());
    for i in &info.imports {
        println!("  {}.{}: {}", i.module, i.name, import_kind(&i.kind));
    }
    println!("exports ({}):", info.exports.len());
    for e in &info.exports {
        println!("  {}: {} {}", e.name, export_kind(e.kind), e.index);
    }
    println!("functions ({}):", functions.len());
    for f in &functions {
        let name = f.name.as_deref().unwrap_or("-");
        if f.imported {
            println!("  {:>4} {name} (type {}, imported)", f.index, f.type_index);
        } else {
            println!(
                "  {:>4} {name} (type {}) offset {:#x} size {} traps {} stack maps {}",
                f.index, f.type_index, f.code_offset, f.code_size, f.traps, f.stack_maps
            );
        }
    }
    if let Some(start) = info.start {
        println!("start:           function {start}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_parse_decimal_hex_and_negative() {
        assert_eq!(parse_int("42", 32).unwrap(), 42);
        assert_eq!(parse_int("-1", 32).unwrap(), 0xffff_ffff);
        assert_eq!(parse_int("0xffffffff", 32).unwrap(), 0xffff_ffff);
        assert_eq!(parse_int("-2147483648", 32).unwrap(), 0x8000_0000);
        assert!(parse_int("4294967296", 32).is_err());
        assert!(parse_int("-2147483649", 32).is_err());
        assert!(parse_int("x", 32).is_err());
        assert_eq!(parse_int("-1", 64).unwrap(), u64::MAX);
        assert!(matches!(parse_arg(ValType::F32, "1.5").unwrap(), Val::F32(b) if b == 1.5f32.to_bits()));
        assert!(parse_arg(ValType::ExternRef, "1").is_err());
    }
}
