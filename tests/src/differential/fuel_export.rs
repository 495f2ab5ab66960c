//! Exporting wasm-smith's fuel global, so that the driver refills it
//! before each call (every call then gets the whole budget, however much
//! the calls before it used).

use wasmparser::{BinaryReader, ExportSectionReader, ExternalKind};

/// The export name of the fuel global.
pub const FUEL_EXPORT: &str = "fuel";

const EXPORT_SECTION: u8 = 7;

/// `wasm` with global `fuel_global` also exported as [`FUEL_EXPORT`]. A
/// module that already exports that name stays as it is: its fuel is then
/// shared by all its calls, which changes nothing in the comparison.
pub fn add_fuel_export(wasm: &[u8], fuel_global: u32) -> Result<Vec<u8>, String> {
    let sections = sections(wasm)?;
    let mut exports = Vec::new();
    if let Some(section) = sections.iter().find(|s| s.id == EXPORT_SECTION) {
        let reader = ExportSectionReader::new(BinaryReader::new(section.contents, 0))
            .map_err(|e| format!("export section: {e}"))?;
        for export in reader {
            let export = export.map_err(|e| format!("export section: {e}"))?;
            if export.name == FUEL_EXPORT {
                return Ok(wasm.to_vec());
            }
            let kind = kind_byte(export.kind)
                .ok_or_else(|| format!("export {:?}: a kind of a later proposal", export.name))?;
            exports.push((export.name.to_string(), kind, export.index));
        }
    }
    exports.push((FUEL_EXPORT.to_string(), GLOBAL_KIND, fuel_global));

    let mut out = wasm[..8].to_vec();
    let mut written = false;
    for section in &sections {
        let is_exports = section.id == EXPORT_SECTION;
        if !written && (is_exports || order(section.id) > order(EXPORT_SECTION)) {
            write_section(&mut out, EXPORT_SECTION, &encode_exports(&exports));
            written = true;
        }
        if !is_exports {
            write_section(&mut out, section.id, section.contents);
        }
    }
    if !written {
        write_section(&mut out, EXPORT_SECTION, &encode_exports(&exports));
    }
    Ok(out)
}

struct Section<'a> {
    id: u8,
    contents: &'a [u8],
}

fn sections(wasm: &[u8]) -> Result<Vec<Section<'_>>, String> {
    if wasm.len() < 8 {
        return Err("module shorter than its header".into());
    }
    let mut sections = Vec::new();
    let mut at = 8;
    while at < wasm.len() {
        let id = wasm[at];
        let (size, after_size) = read_leb_u32(wasm, at + 1)?;
        let end = after_size.checked_add(size as usize).filter(|&end| end <= wasm.len());
        let end = end.ok_or_else(|| format!("section at {at:#x} overruns the module"))?;
        sections.push(Section { id, contents: &wasm[after_size..end] });
        at = end;
    }
    Ok(sections)
}

/// The position of a section id in the order the binary format requires.
fn order(id: u8) -> u8 {
    match id {
        0 => 0,
        1..=5 => id,
        13 => 6,         // tags
        6..=9 => id + 1, // globals, exports, start, elements
        12 => 11,        // data count
        10 => 12,        // code
        11 => 13,        // data
        _ => u8::MAX,
    }
}

const GLOBAL_KIND: u8 = 3;

/// The binary encoding of the export kinds of WebAssembly 2.0.
fn kind_byte(kind: ExternalKind) -> Option<u8> {
    match kind {
        ExternalKind::Func => Some(0),
        ExternalKind::Table => Some(1),
        ExternalKind::Memory => Some(2),
        ExternalKind::Global => Some(GLOBAL_KIND),
        ExternalKind::Tag | ExternalKind::FuncExact => None,
    }
}

fn encode_exports(exports: &[(String, u8, u32)]) -> Vec<u8> {
    let mut out = Vec::new();
    write_leb_u32(&mut out, exports.len() as u32);
    for (name, kind, index) in exports {
        write_leb_u32(&mut out, name.len() as u32);
        out.extend_from_slice(name.as_bytes());
        out.push(*kind);
        write_leb_u32(&mut out, *index);
    }
    out
}

fn write_section(out: &mut Vec<u8>, id: u8, contents: &[u8]) {
    out.push(id);
    write_leb_u32(out, contents.len() as u32);
    out.extend_from_slice(contents);
}

fn write_leb_u32(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn read_leb_u32(bytes: &[u8], mut at: usize) -> Result<(u32, usize), String> {
    let mut value = 0u32;
    for shift in (0..35).step_by(7) {
        let byte = *bytes.get(at).ok_or("LEB128 runs past the module")?;
        at += 1;
        value |= u32::from(byte & 0x7f).checked_shl(shift).unwrap_or(0);
        if byte & 0x80 == 0 {
            return Ok((value, at));
        }
    }
    Err("LEB128 longer than 5 bytes".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exports_of(wasm: &[u8]) -> Vec<String> {
        wasmparser::Validator::new().validate_all(wasm).expect("still valid");
        let section = sections(wasm).unwrap().into_iter().find(|s| s.id == EXPORT_SECTION).expect("exports");
        let reader = ExportSectionReader::new(BinaryReader::new(section.contents, 0)).unwrap();
        reader.into_iter().map(|e| e.unwrap().name.to_string()).collect()
    }

    #[test]
    fn the_export_is_added_to_an_existing_section() {
        let wasm = wat::parse_str(r#"(module (global (mut i32) (i32.const 5)) (func (export "f")) (start 0))"#)
            .expect("valid text");
        assert_eq!(exports_of(&add_fuel_export(&wasm, 0).unwrap()), ["f", FUEL_EXPORT]);
    }

    #[test]
    fn a_section_is_made_in_its_place_when_there_is_none() {
        let wasm = wat::parse_str("(module (global (mut i32) (i32.const 5)) (func) (start 0))").expect("valid text");
        assert_eq!(exports_of(&add_fuel_export(&wasm, 0).unwrap()), [FUEL_EXPORT]);
    }

    #[test]
    fn a_module_that_has_the_name_already_is_left_alone() {
        let wasm =
            wat::parse_str(r#"(module (global (mut i32) (i32.const 5)) (func (export "fuel")))"#).expect("valid text");
        assert_eq!(add_fuel_export(&wasm, 0).unwrap(), wasm);
    }
}
