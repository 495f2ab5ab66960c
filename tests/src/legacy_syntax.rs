//! The folded syntax of legacy exceptions, which the `wast` crate no longer
//! parses: `(try $l? bt (do instr*) (catch $t instr*)* (catch_all instr*)?)`
//! and `(try $l? bt (do instr*) (delegate $d))`. The scripts of
//! `legacy-exceptions/` use it; [`unfold_legacy_try`] rewrites it into the
//! flat form (`try $l? bt instr* catch $t instr* ... end`, or
//! `... delegate $d`), which `wast` parses. Everything else, comments,
//! strings and line breaks included, is kept byte for byte, so line
//! numbers stay those of the script.

/// One piece of the script: a parenthesised list, or anything between
/// parentheses (atoms, strings, whitespace and comments, kept verbatim).
enum Node<'a> {
    List(Vec<Node<'a>>),
    Text(&'a str),
}

impl Node<'_> {
    /// The word this node is, if it is a bare atom.
    fn word(&self) -> Option<&str> {
        match self {
            Node::Text(t) => {
                let t = t.trim();
                (!t.is_empty() && !t.starts_with(";;") && !t.starts_with("(;")).then_some(t)
            }
            Node::List(_) => None,
        }
    }

    /// The first word of a list.
    fn head(&self) -> Option<&str> {
        match self {
            Node::List(items) => items.iter().find_map(Node::word),
            Node::Text(_) => None,
        }
    }
}

/// Rewrites every folded legacy `try` of `text`; a text that does not
/// tokenize (an unbalanced parenthesis, an unterminated string) is
/// returned as it is, for the parser to report.
pub fn unfold_legacy_try(text: &str) -> String {
    if !text.contains("(do") {
        return text.to_string();
    }
    let Some(nodes) = parse(text) else { return text.to_string() };
    let mut out = String::with_capacity(text.len());
    for node in &nodes {
        write_node(node, &mut out);
    }
    out
}

/// Splits `text` into nodes: each atom, string, comment and run of
/// whitespace its own text node, lists nested.
fn parse(text: &str) -> Option<Vec<Node<'_>>> {
    let bytes = text.as_bytes();
    let mut stack: Vec<Vec<Node<'_>>> = vec![Vec::new()];
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        match bytes[i] {
            b'(' if bytes.get(i + 1) == Some(&b';') => i = skip_block_comment(bytes, i)?,
            b'(' => {
                stack.push(Vec::new());
                i += 1;
                continue;
            }
            b')' => {
                let items = stack.pop()?;
                stack.last_mut()?.push(Node::List(items));
                i += 1;
                continue;
            }
            b';' if bytes.get(i + 1) == Some(&b';') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i = (i + 1).min(bytes.len());
            }
            b if b.is_ascii_whitespace() => {
                while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
            }
            _ => {
                while i < bytes.len() && !bytes[i].is_ascii_whitespace() && !matches!(bytes[i], b'(' | b')' | b'"') {
                    i += 1;
                }
            }
        }
        stack.last_mut()?.push(Node::Text(text.get(start..i)?));
    }
    (stack.len() == 1).then(|| stack.pop()).flatten()
}

fn skip_block_comment(bytes: &[u8], mut i: usize) -> Option<usize> {
    let mut depth = 0;
    while i < bytes.len() {
        if bytes[i] == b'(' && bytes.get(i + 1) == Some(&b';') {
            depth += 1;
            i += 2;
        } else if bytes[i] == b';' && bytes.get(i + 1) == Some(&b')') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return Some(i);
            }
        } else {
            i += 1;
        }
    }
    None
}

fn write_node(node: &Node<'_>, out: &mut String) {
    match node {
        Node::Text(t) => out.push_str(t),
        Node::List(items) if is_folded_try(items) => write_try(items, out),
        Node::List(items) => {
            out.push('(');
            items.iter().for_each(|n| write_node(n, out));
            out.push(')');
        }
    }
}

fn is_folded_try(items: &[Node<'_>]) -> bool {
    items.iter().find_map(Node::word) == Some("try") && items.iter().any(|n| n.head() == Some("do"))
}

/// Writes the contents of a clause list (`(do ...)`, `(catch $t ...)`):
/// its first `words` words (the keyword and its operand), unless `drop`,
/// then the rest as it is.
fn write_clause_body(items: &[Node<'_>], words: usize, drop: bool, out: &mut String) {
    let mut seen = 0;
    for node in items {
        if seen < words {
            if let Some(word) = node.word() {
                seen += 1;
                if !drop {
                    out.push(' ');
                    out.push_str(word);
                    out.push(' ');
                }
                continue;
            }
        }
        write_node(node, out);
    }
}

fn write_try(items: &[Node<'_>], out: &mut String) {
    let mut delegated = false;
    for node in items {
        match (node, node.head()) {
            (Node::List(body), Some("do")) => write_clause_body(body, 1, true, out),
            (Node::List(body), Some("catch")) => write_clause_body(body, 2, false, out),
            (Node::List(body), Some("catch_all")) => write_clause_body(body, 1, false, out),
            (Node::List(body), Some("delegate")) => {
                delegated = true;
                write_clause_body(body, 2, false, out);
            }
            _ => write_node(node, out),
        }
    }
    if !delegated {
        out.push_str(" end ");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_try_becomes_flat() {
        let text = "(func (try $t (result i32) (do (i32.const 1)) (catch $e (i32.const 2)) (catch_all (i32.const 3))))";
        let flat = unfold_legacy_try(text);
        let words: Vec<&str> = flat.split_whitespace().collect();
        assert_eq!(
            words.join(" "),
            "(func try $t (result i32) (i32.const 1) catch $e (i32.const 2) catch_all (i32.const 3) end )"
        );
        let delegate = unfold_legacy_try("(try (do (nop)) (delegate 0)) ;; (do\n\"(do\"");
        assert_eq!(delegate.split_whitespace().collect::<Vec<_>>().join(" "), "try (nop) delegate 0 ;; (do \"(do\"");
    }
}
