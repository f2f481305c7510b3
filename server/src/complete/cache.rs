//! Suggestions kept by the text around the cursor they were made for, so that typing the first
//! characters of a suggestion is answered with the rest of it, without asking the model.

use std::collections::VecDeque;

use crate::workspace::DocUri;

/// Suggestions kept, the most recent first.
const KEEP: usize = 32;
/// Characters of the text before the cursor that key a suggestion...
const PREFIX_KEY: usize = 512;
/// ...and of the text after it.
const SUFFIX_KEY: usize = 128;

struct Entry {
    doc: DocUri,
    prefix_tail: String,
    suffix_head: String,
    text: String,
    /// The suggestion shown first with this text.
    id: u64,
}

/// A hit: the rest of a kept suggestion, and the suggestion it continues.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    pub text: String,
    pub continues: u64,
}

#[derive(Default)]
pub struct Cache {
    entries: VecDeque<Entry>,
}

fn tail(text: &str, chars: usize) -> &str {
    let skip = text.chars().count().saturating_sub(chars);
    text.char_indices()
        .nth(skip)
        .map_or("", |(i, _)| &text[i..])
}

fn head(text: &str, chars: usize) -> &str {
    text.char_indices()
        .nth(chars)
        .map_or(text, |(i, _)| &text[..i])
}

impl Cache {
    /// Keeps `text`, suggested (as `id`) at the cursor between `prefix` and `suffix` in `doc`.
    pub fn put(&mut self, doc: &DocUri, prefix: &str, suffix: &str, text: &str, id: u64) {
        let prefix_tail = tail(prefix, PREFIX_KEY);
        let suffix_head = head(suffix, SUFFIX_KEY);
        self.entries.retain(|e| {
            !(e.doc == *doc && e.prefix_tail == prefix_tail && e.suffix_head == suffix_head)
        });
        self.entries.push_front(Entry {
            doc: doc.clone(),
            prefix_tail: prefix_tail.to_owned(),
            suffix_head: suffix_head.to_owned(),
            text: text.to_owned(),
            id,
        });
        self.entries.truncate(KEEP);
    }

    /// The rest of a kept suggestion for the cursor between `prefix` and `suffix`: one made
    /// here, or one made where the user then typed its first characters. Never empty nor only
    /// whitespace.
    pub fn get(&self, doc: &DocUri, prefix: &str, suffix: &str) -> Option<Hit> {
        let suffix_head = head(suffix, SUFFIX_KEY);
        self.entries.iter().find_map(|entry| {
            if entry.doc != *doc || entry.suffix_head != suffix_head {
                return None;
            }
            // The typed part is a start of the suggestion that the prefix ends with, after the
            // prefix the suggestion was made for.
            let typed = entry
                .text
                .char_indices()
                .map(|(i, _)| i)
                .chain([entry.text.len()])
                .rev()
                .find(|&end| {
                    let typed = &entry.text[..end];
                    prefix
                        .strip_suffix(typed)
                        .is_some_and(|before| before.ends_with(&entry.prefix_tail))
                })?;
            let rest = &entry.text[typed..];
            (!rest.trim().is_empty()).then(|| Hit {
                text: rest.to_owned(),
                continues: entry.id,
            })
        })
    }

    /// Forgets every suggestion for `doc` (it closed).
    pub fn forget(&mut self, doc: &DocUri) {
        self.entries.retain(|e| e.doc != *doc);
    }
}

#[cfg(test)]
mod tests {
    use super::{Cache, Hit};
    use crate::workspace::DocUri;

    #[test]
    fn typing_into_a_suggestion_is_answered_with_its_rest() {
        let doc = DocUri::from("file:///a.rs");
        let other = DocUri::from("file:///b.rs");
        let mut cache = Cache::default();
        cache.put(
            &doc,
            "fn main() {\n    let x = ",
            "\n}\n",
            "compute(1, 2);",
            7,
        );
        let hit = |text: &str| {
            Some(Hit {
                text: text.into(),
                continues: 7,
            })
        };
        // (prefix, suffix, doc, expected)
        let cases = [
            (
                "fn main() {\n    let x = ",
                "\n}\n",
                &doc,
                hit("compute(1, 2);"),
            ),
            (
                "fn main() {\n    let x = comp",
                "\n}\n",
                &doc,
                hit("ute(1, 2);"),
            ),
            (
                "fn main() {\n    let x = compute(1, ",
                "\n}\n",
                &doc,
                hit("2);"),
            ),
            // All of it typed: nothing left.
            (
                "fn main() {\n    let x = compute(1, 2);",
                "\n}\n",
                &doc,
                None,
            ),
            // Typed something else.
            ("fn main() {\n    let x = compi", "\n}\n", &doc, None),
            // Elsewhere, or with other text after the cursor, or in another file.
            ("fn other() {\n    let x = comp", "\n}\n", &doc, None),
            (
                "fn main() {\n    let x = comp",
                "\n}\nfn more() {}\n",
                &doc,
                None,
            ),
            ("fn main() {\n    let x = comp", "\n}\n", &other, None),
        ];
        for (prefix, suffix, which, expected) in cases {
            assert_eq!(
                cache.get(which, prefix, suffix),
                expected,
                "{prefix:?} {suffix:?}"
            );
        }
        cache.forget(&doc);
        assert_eq!(cache.get(&doc, "fn main() {\n    let x = ", "\n}\n"), None);
    }

    #[test]
    fn it_keeps_the_most_recent_ones() {
        let doc = DocUri::from("file:///a.rs");
        let mut cache = Cache::default();
        for i in 0..40 {
            cache.put(&doc, &format!("let v{i} = "), "", "1;", i);
        }
        assert_eq!(cache.get(&doc, "let v0 = ", ""), None);
        assert_eq!(
            cache.get(&doc, "let v39 = ", "").map(|h| h.continues),
            Some(39)
        );
    }
}
