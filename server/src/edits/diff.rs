//! Minimal char-level diffs between two texts, as [`CharChange`]s.

use similar::{Algorithm, DiffTag, capture_diff_slices};

use super::CharChange;

/// Past this many chars in the differing middle, Myers' cost is not worth it: one
/// replacement of the middle is still correct, only less small.
const MAX_DIFF_CHARS: usize = 20_000;

/// The changes that turn `old` into `new`: non-overlapping, ascending, and ALL relative
/// to `old` (the convention of the text edits in one LSP `WorkspaceEdit`). Use
/// [`to_sequential`] for the `didChange` convention, where each change applies to the
/// result of the previous one. Empty when the texts are equal.
///
/// The common prefix and suffix are trimmed first; Myers' diff runs on the middle. Like
/// any minimal diff, it may "slide" an insertion within repeated text (inserting `a`
/// into `aaa` can come out at either end): that is exactly what editors do when they
/// echo an edit, so the streaming applier never trusts the ranges of an echo.
pub fn minimal_edits(old: &str, new: &str) -> Vec<CharChange> {
    let old: Vec<char> = old.chars().collect();
    let new: Vec<char> = new.chars().collect();
    let (prefix, suffix) = common_affixes(&old, &new);
    let old_mid = &old[prefix..old.len() - suffix];
    let new_mid = &new[prefix..new.len() - suffix];
    if old_mid.is_empty() && new_mid.is_empty() {
        return Vec::new();
    }
    if old_mid.len() + new_mid.len() > MAX_DIFF_CHARS {
        return vec![CharChange::new(
            prefix,
            prefix + old_mid.len(),
            new_mid.iter().collect::<String>(),
        )];
    }
    let mut changes: Vec<CharChange> = Vec::new();
    // Positions come from running cursors over the ops' lengths, not from the ops'
    // ranges: `similar` can report an insertion's old index before an equal run it
    // follows (seen with "😀b" -> "bba"), which would misplace the insertion.
    let (mut old_pos, mut new_pos) = (0usize, 0usize);
    for op in capture_diff_slices(Algorithm::Myers, old_mid, new_mid) {
        let (tag, old_range, new_range) = op.as_tag_tuple();
        let (old_len, new_len) = (old_range.len(), new_range.len());
        let (old_at, new_at) = (old_pos, new_pos);
        old_pos += old_len;
        new_pos += new_len;
        if tag == DiffTag::Equal {
            continue;
        }
        let start = prefix + old_at;
        let end = start + old_len;
        let text: String = new_mid[new_at..new_at + new_len].iter().collect();
        // Adjacent delete + insert come out as two ops; one replacement is smaller to send.
        match changes.last_mut() {
            Some(last) if last.old_end == start => {
                last.old_end = end;
                last.text.push_str(&text);
            }
            _ => changes.push(CharChange::new(start, end, text)),
        }
    }
    changes
}

/// Rewrites changes that are all relative to one text (ascending, non-overlapping) so
/// each applies to the result of the previous one, as a `didChange` lists them.
pub fn to_sequential(changes: &[CharChange]) -> Vec<CharChange> {
    let mut shift: isize = 0;
    changes
        .iter()
        .map(|c| {
            let moved = |p: usize| p.saturating_add_signed(shift);
            let out = CharChange::new(moved(c.start), moved(c.old_end), c.text.clone());
            shift += c.new_len() as isize - (c.old_end - c.start) as isize;
            out
        })
        .collect()
}

/// Lengths (in chars) of the longest common prefix and of the longest common suffix
/// that does not overlap it.
pub fn common_affixes<T: PartialEq>(a: &[T], b: &[T]) -> (usize, usize) {
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let room = a.len().min(b.len()) - prefix;
    let suffix = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take(room)
        .take_while(|(x, y)| x == y)
        .count();
    (prefix, suffix)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edits::apply_change;
    use proptest::prelude::*;
    use ropey::Rope;

    fn apply_all(old: &str, changes: &[CharChange]) -> String {
        let mut rope = Rope::from_str(old);
        for c in to_sequential(changes) {
            apply_change(&mut rope, &c);
        }
        rope.to_string()
    }

    /// `expected` lists the changes as `start..end=>text`, separated by spaces.
    fn check(old: &str, new: &str, expected: &str) {
        let changes = minimal_edits(old, new);
        let got: Vec<String> = changes
            .iter()
            .map(|c| format!("{}..{}=>{}", c.start, c.old_end, c.text))
            .collect();
        assert_eq!(got.join(" "), expected, "{old:?} -> {new:?}");
        assert_eq!(apply_all(old, &changes), new);
    }

    #[test]
    fn minimal_cases() {
        check("abc", "abc", "");
        check("", "xy", "0..0=>xy");
        check("xy", "", "0..2=>");
        check("abc", "aXc", "1..2=>X");
        check("aaa", "aaaa", "3..3=>a"); // slides to the end, as editors report it
        check("a\r\nb", "a\nb", "1..2=>");
        check("😀b😀", "😀c😀", "1..2=>c");
        check("hello world", "help world!", "3..5=>p 11..11=>!");
        check("one two three", "one three", "5..9=>"); // prefix first: "one t" is common
        check("😀b", "bba", "0..1=> 2..2=>ba"); // similar's own op ranges misplace this one
    }

    proptest! {
        #[test]
        fn diff_reproduces_new(old in "[ab\n😀]{0,20}", new in "[ab\n😀]{0,20}") {
            let changes = minimal_edits(&old, &new);
            for pair in changes.windows(2) {
                prop_assert!(pair[0].old_end < pair[1].start, "overlapping or unordered: {changes:?}");
            }
            prop_assert_eq!(apply_all(&old, &changes), new);
        }
    }
}
