//! Counts in messages, their nouns agreeing with them: "1 argument",
//! "2 arguments", "0 arguments". The loader's errors and its tools (the
//! `kiln` CLI, the C API) build their counted phrases with it, so that no
//! message says "takes 1 arguments".

/// `n` and `noun`, plural unless `n` is one. The plural adds "s", which is
/// right for every noun the messages count (argument, result, value,
/// field, type, tag, page, byte, lane).
pub fn count(n: impl Into<u128>, noun: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// [`count`] of a `usize`, the type of most lengths.
pub fn count_of(n: usize, noun: &str) -> String {
    count(n as u128, noun)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_is_singular_and_the_rest_plural() {
        assert_eq!(count_of(0, "argument"), "0 arguments");
        assert_eq!(count_of(1, "argument"), "1 argument");
        assert_eq!(count_of(2, "result"), "2 results");
        assert_eq!(count(1u64, "page"), "1 page");
    }
}
