//! The error for an export that is not there: it names what was asked
//! for, and, to help with a typo, the nearest name of the right kind or the
//! names there are.

use kiln_format::{Export, ExternKind};

use crate::error::Error;

/// Most export names an error lists; beyond them it counts the rest.
const LISTED_EXPORTS: usize = 8;

/// Why the module has no `wanted` export called `name`: none of that name
/// (then the nearest name, or the list, of exports of that kind), or one
/// of another kind.
#[cold]
pub(crate) fn missing_export(exports: &[Export], name: &str, wanted: ExternKind) -> Error {
    if let Some(other) = exports.iter().find(|e| e.name == name) {
        return Error::UnknownExport(format!("export `{name}` is a {}, not a {}", noun(other.kind), noun(wanted)));
    }
    let candidates: Vec<&str> = exports.iter().filter(|e| e.kind == wanted).map(|e| e.name.as_str()).collect();
    let mut message = format!("the module has no export named `{name}`");
    if let Some(nearest) = nearest(&candidates, name) {
        message += &format!("; did you mean `{nearest}`?");
    } else if candidates.is_empty() {
        message += &format!(" (it exports no {})", plural_noun(wanted));
    } else {
        let listed: Vec<String> = candidates.iter().take(LISTED_EXPORTS).map(|n| format!("`{n}`")).collect();
        message += &format!(" (its {} exports: {}", noun(wanted), listed.join(", "));
        if candidates.len() > LISTED_EXPORTS {
            message += &format!(" and {} more", candidates.len() - LISTED_EXPORTS);
        }
        message += ")";
    }
    Error::UnknownExport(message)
}

fn noun(kind: ExternKind) -> &'static str {
    match kind {
        ExternKind::Func => "function",
        ExternKind::Table => "table",
        ExternKind::Memory => "memory",
        ExternKind::Global => "global",
        ExternKind::Tag => "tag",
    }
}

fn plural_noun(kind: ExternKind) -> &'static str {
    match kind {
        ExternKind::Func => "functions",
        ExternKind::Table => "tables",
        ExternKind::Memory => "memories",
        ExternKind::Global => "globals",
        ExternKind::Tag => "tags",
    }
}

/// The candidate closest to `name` by edit distance, if it is close enough
/// to be a typo: at most a third of the name's characters apart (so never
/// for a name shorter than three, which any short name is near).
fn nearest<'a>(candidates: &[&'a str], name: &str) -> Option<&'a str> {
    let limit = name.chars().count() / 3;
    candidates
        .iter()
        .map(|c| (edit_distance(c, name), *c))
        .filter(|&(d, _)| d > 0 && d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// Levenshtein distance in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substituted = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substituted.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn export(name: &str, kind: ExternKind) -> Export {
        Export { name: name.into(), kind, index: 0 }
    }

    #[test]
    fn distance() {
        assert_eq!(edit_distance("add", "add"), 0);
        assert_eq!(edit_distance("add", "ad"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn names_the_nearest_the_list_or_the_kind() {
        let exports =
            [export("add", ExternKind::Func), export("mul", ExternKind::Func), export("memory", ExternKind::Memory)];
        let message = |name, kind| missing_export(&exports, name, kind).to_string();
        assert_eq!(message("mull", ExternKind::Func), "the module has no export named `mull`; did you mean `mul`?");
        assert_eq!(
            message("ad", ExternKind::Func),
            "the module has no export named `ad` (its function exports: `add`, `mul`)"
        );
        assert_eq!(
            message("square", ExternKind::Func),
            "the module has no export named `square` (its function exports: `add`, `mul`)"
        );
        assert_eq!(message("memory", ExternKind::Func), "export `memory` is a memory, not a function");
        assert_eq!(message("t", ExternKind::Table), "the module has no export named `t` (it exports no tables)");
        let many: Vec<Export> = (0..10).map(|i| export(&format!("function_{i}"), ExternKind::Func)).collect();
        let message = missing_export(&many, "main", ExternKind::Func).to_string();
        assert!(message.ends_with("`function_7` and 2 more)"), "{message}");
    }
}
