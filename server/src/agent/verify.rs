//! Checking a job's result: did the new text add syntax errors that were not there before?

use std::ops::Range;

use ropey::Rope;

use crate::syntax::{Language, parse, syntax_errors};

/// At most this many errors are reported back to the model or the user.
const MAX_REPORTED: usize = 20;

/// Syntax errors inside `region` (bytes of `after`) when `after` has more errors than `before`,
/// as "line N: message" (1-based). Empty when the result added none, or the language has no
/// grammar.
pub fn added_errors(
    language: Option<Language>,
    before: &Rope,
    after: &Rope,
    region: &Range<usize>,
) -> Vec<String> {
    let Some(language) = language else {
        return Vec::new();
    };
    let (Some(old_tree), Some(new_tree)) =
        (parse(language, before, None), parse(language, after, None))
    else {
        return Vec::new();
    };
    let old_count = syntax_errors(&old_tree, before, usize::MAX).len();
    let new_errors = syntax_errors(&new_tree, after, usize::MAX);
    if new_errors.len() <= old_count {
        return Vec::new();
    }
    new_errors
        .iter()
        .filter(|e| e.byte_range.start >= region.start && e.byte_range.start <= region.end)
        .take(MAX_REPORTED)
        .map(|e| {
            format!(
                "line {}: {}",
                after.byte_to_line(e.byte_range.start.min(after.len_bytes())) + 1,
                e.message
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use ropey::Rope;

    use super::added_errors;
    use crate::syntax::Language;

    #[test]
    fn reports_only_errors_the_result_added_inside_its_region() {
        let before = Rope::from_str("fn a() { let x = 1 }\nfn b() {}\n");
        // The region (b's body) was rewritten with a missing semicolon; a's error was there before.
        let after_text = "fn a() { let x = 1 }\nfn b() { let y = 2 let z = 3; }\n";
        let after = Rope::from_str(after_text);
        let region = after_text.find("fn b").expect("marker")..after_text.len();
        let added = added_errors(Some(Language::Rust), &before, &after, &region);
        assert_eq!(added, ["line 2: expected `;`"]);
        let clean = Rope::from_str("fn a() { let x = 1 }\nfn b() { let y = 2; }\n");
        assert!(added_errors(Some(Language::Rust), &before, &clean, &region).is_empty());
        assert!(added_errors(None, &before, &after, &region).is_empty());
    }
}
