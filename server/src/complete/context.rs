//! What a suggestion is asked with: the text before and after the cursor cut to a token
//! budget, and a header of the workspace signatures named near the cursor and the team's rules.

use ropey::Rope;

use super::shape::Cursor;
use crate::syntax::Language;

/// Tokens of text before the cursor, and after it, sent with a request.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    pub prefix_tokens: usize,
    pub suffix_tokens: usize,
}

/// Enough for the function being written and what precedes it; FIM models are small and fast
/// with short prompts.
pub const BUDGET: Budget = Budget {
    prefix_tokens: 1536,
    suffix_tokens: 512,
};

/// Characters per token that the first cut assumes (code runs 3–4); the count then decides.
const CHARS_PER_TOKEN: usize = 4;

/// The tokens of `text` as a request counts them on the typing path: its bytes over
/// [`CHARS_PER_TOKEN`]. Counting with the model's vocabulary took a millisecond and more for a
/// window of a few kilobytes, most of the time between a request and the model's; the windows
/// are a budget, not a limit the endpoint enforces.
pub fn estimate_tokens(text: &str) -> usize {
    text.len().div_ceil(CHARS_PER_TOKEN)
}
/// Names near the cursor looked up in the workspace index, at most.
const MAX_NAMES: usize = 8;
/// Lines above the cursor's line whose names count as near.
const NAME_LINES: usize = 3;
/// Keywords of the languages that look like names: never looked up.
const KEYWORDS: &[&str] = &[
    "let", "fn", "pub", "use", "mut", "impl", "mod", "def", "return", "if", "else", "elif", "for",
    "while", "in", "const", "var", "func", "function", "class", "self", "this", "import", "from",
    "match", "struct", "enum", "type", "async", "await", "package",
];

/// The text around the cursor, cut to the budget.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Around {
    pub prefix: String,
    pub suffix: String,
    /// The cursor's line and the next non-blank one (`block` is left false: the syntax says).
    pub cursor: Cursor,
}

/// The text around the char offset `cursor` of `rope`: whole lines before it back to the
/// budget (and the cursor's line up to it), the rest of its line and whole lines after it up
/// to the budget. `count` counts tokens.
pub fn around(rope: &Rope, cursor: usize, budget: Budget, count: impl Fn(&str) -> usize) -> Around {
    let cursor = cursor.min(rope.len_chars());
    let line = rope.char_to_line(cursor);
    let line_start = rope.line_to_char(line);
    let line_end = line_start + rope.line(line).len_chars();
    let line_before = rope.slice(line_start..cursor).to_string();
    let line_after = rope.slice(cursor..line_end).to_string();
    let line_after = line_after.trim_end_matches(['\n', '\r']).to_owned();
    let next_line = (line + 1..rope.len_lines().min(line + 50))
        .map(|l| rope.line(l).to_string())
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim_end_matches(['\n', '\r']).to_owned())
        .unwrap_or_default();

    let prefix = fit(budget.prefix_tokens, &count, |chars| {
        let start = cursor.saturating_sub(chars);
        // Whole lines: start at the line after the cut, unless the cut is the file's start.
        let start = if start == 0 {
            0
        } else {
            let l = rope.char_to_line(start);
            rope.line_to_char((l + 1).min(line))
        };
        rope.slice(start.min(cursor)..cursor).to_string()
    });
    let suffix = fit(budget.suffix_tokens, &count, |chars| {
        let end = (cursor + chars).min(rope.len_chars());
        let end = if end == rope.len_chars() {
            end
        } else {
            rope.line_to_char(rope.char_to_line(end)).max(line_end)
        };
        rope.slice(cursor..end.max(cursor)).to_string()
    });
    Around {
        prefix,
        suffix,
        cursor: Cursor {
            line_before,
            line_after,
            next_line,
            block: false,
        },
    }
}

/// The text `cut(chars)` gives for the most chars whose tokens fit `tokens`: a first cut at
/// [`CHARS_PER_TOKEN`], then smaller ones in proportion while the count is over.
fn fit(tokens: usize, count: &impl Fn(&str) -> usize, cut: impl Fn(usize) -> String) -> String {
    let mut chars = tokens * CHARS_PER_TOKEN;
    let mut text = cut(chars);
    for _ in 0..4 {
        let counted = count(&text);
        if counted <= tokens || text.is_empty() {
            return text;
        }
        chars = (text.chars().count() * tokens / counted).saturating_sub(1);
        text = cut(chars);
    }
    text
}

/// Identifiers on the cursor's line and the few lines above it, nearest first, each once:
/// the names whose signatures are worth sending.
pub fn names_near(prefix: &str, line_after: &str) -> Vec<String> {
    let lines: Vec<&str> = prefix.lines().rev().take(NAME_LINES + 1).collect();
    let mut names: Vec<String> = Vec::new();
    let mut add = |text: &str| {
        let words = text
            .split(|c: char| !c.is_alphanumeric() && c != '_')
            .filter(|w| {
                w.chars()
                    .next()
                    .is_some_and(|c| c.is_alphabetic() || c == '_')
            })
            .filter(|w| !KEYWORDS.contains(w));
        for word in words.rev() {
            if names.len() < MAX_NAMES && !names.iter().any(|n| n == word) {
                names.push(word.to_owned());
            }
        }
    };
    add(line_after);
    for line in lines {
        add(line);
    }
    names
}

/// The comment that carries the signatures and rules at the top of the prefix, in the
/// language's line comments; empty when there is nothing to say (or no known comment syntax).
pub fn header(
    language: Option<Language>,
    path: Option<&str>,
    signatures: &[String],
    rules: &[String],
) -> String {
    let Some(language) = language else {
        return String::new();
    };
    if signatures.is_empty() && rules.is_empty() {
        return String::new();
    }
    let comment = match language {
        Language::Python => "#",
        Language::Rust
        | Language::JavaScript
        | Language::TypeScript
        | Language::Tsx
        | Language::Go => "//",
    };
    let mut out = String::new();
    if let Some(path) = path {
        out.push_str(&format!("{comment} {path}\n"));
    }
    if !signatures.is_empty() {
        out.push_str(&format!("{comment} Signatures in this workspace:\n"));
        for signature in signatures {
            for line in signature.lines() {
                out.push_str(&format!("{comment} {line}\n"));
            }
        }
    }
    if !rules.is_empty() {
        out.push_str(&format!("{comment} The team's rules:\n"));
        for rule in rules {
            out.push_str(&format!("{comment} - {}\n", rule.replace('\n', " ")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use ropey::Rope;

    use super::{Budget, around, header, names_near};
    use crate::syntax::Language;

    /// One token per word, as a rough counter the tests can reason about.
    fn words(text: &str) -> usize {
        text.split_whitespace().count()
    }

    #[test]
    fn the_text_around_the_cursor_is_whole_lines_within_the_budget() {
        let text: String = (0..100).map(|i| format!("line {i} here\n")).collect();
        let rope = Rope::from_str(&text);
        // The cursor after "line 50 " (character 6 of line 50).
        let cursor = rope.line_to_char(50) + 8;
        let budget = Budget {
            prefix_tokens: 10,
            suffix_tokens: 7,
        };
        let got = around(&rope, cursor, budget, words);
        assert!(words(&got.prefix) <= 10, "{:?}", got.prefix);
        assert!(
            got.prefix.ends_with("line 49 here\nline 50 "),
            "{:?}",
            got.prefix
        );
        assert!(
            got.prefix.starts_with("line "),
            "whole lines: {:?}",
            got.prefix
        );
        assert!(words(&got.suffix) <= 7, "{:?}", got.suffix);
        assert!(
            got.suffix.starts_with("here\nline 51 here\n"),
            "{:?}",
            got.suffix
        );
        assert_eq!(got.cursor.line_before, "line 50 ");
        assert_eq!(got.cursor.line_after, "here");
        assert_eq!(got.cursor.next_line, "line 51 here");

        // A small file fits whole.
        let rope = Rope::from_str("fn main() {\n    \n}\n");
        let got = around(&rope, 16, super::BUDGET, words);
        assert_eq!(
            (got.prefix.as_str(), got.suffix.as_str()),
            ("fn main() {\n    ", "\n}\n")
        );
        assert_eq!(got.cursor.next_line, "}");
    }

    #[test]
    fn names_near_the_cursor_come_nearest_first() {
        let prefix =
            "use geo::Point;\nfn far() {}\nlet a = Point::new(1, 2);\nlet d = distance(&a, ";
        assert_eq!(
            names_near(prefix, "origin);"),
            ["origin", "a", "distance", "d", "new", "Point", "far", "geo"]
        );
    }

    #[test]
    fn the_header_is_a_comment_in_the_language() {
        let signatures =
            vec!["src/geo.rs: pub fn distance(a: &Point, b: &Point) -> f64".to_owned()];
        let rules = vec!["Use anyhow for errors.".to_owned()];
        assert_eq!(
            header(Some(Language::Python), Some("app.py"), &signatures, &rules),
            "# app.py\n# Signatures in this workspace:\n# src/geo.rs: pub fn distance(a: &Point, b: &Point) -> f64\n# The team's rules:\n# - Use anyhow for errors.\n"
        );
        assert_eq!(header(Some(Language::Rust), Some("a.rs"), &[], &[]), "");
        assert_eq!(header(None, None, &signatures, &rules), "");
    }
}
