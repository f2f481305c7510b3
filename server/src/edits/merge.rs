//! Three-way merge by lines: what an agent wrote over the text it had read, onto what the user
//! has made of that text since, so that the agent's whole-file write keeps the user's typing.

use std::ops::Range;

use similar::{Algorithm, DiffTag, capture_diff_slices};

/// One changed run of lines: `base[lines]` becomes `text`.
#[derive(Debug, PartialEq, Eq)]
struct Hunk {
    lines: Range<usize>,
    text: String,
}

/// The line-level changes that turn `base` into `new`, ascending.
fn hunks(base: &[&str], new: &str) -> Vec<Hunk> {
    let new: Vec<&str> = new.split_inclusive('\n').collect();
    capture_diff_slices(Algorithm::Myers, base, &new)
        .into_iter()
        .filter(|op| op.tag() != DiffTag::Equal)
        .map(|op| Hunk {
            lines: op.old_range(),
            text: new[op.new_range()].concat(),
        })
        .collect()
}

/// Whether two changes of the same text cannot both be made: they replace common lines, or
/// insert at the same place (unless they are the same change).
fn clash(a: &Hunk, b: &Hunk) -> bool {
    if a == b {
        return false;
    }
    let overlap = a.lines.start < b.lines.end && b.lines.start < a.lines.end;
    let same_place = a.lines.start == b.lines.start && (a.lines.is_empty() || b.lines.is_empty());
    overlap || same_place
}

/// `base` with both `theirs`'s and `ours`'s changes, or `Err(line)`: the first line (1-based,
/// in `base`) that both changed differently.
pub fn merge3(base: &str, theirs: &str, ours: &str) -> Result<String, usize> {
    if ours == base {
        return Ok(theirs.to_owned());
    }
    if theirs == base || theirs == ours {
        return Ok(ours.to_owned());
    }
    let lines: Vec<&str> = base.split_inclusive('\n').collect();
    let theirs = hunks(&lines, theirs);
    let ours = hunks(&lines, ours);
    for a in &theirs {
        if let Some(b) = ours.iter().find(|b| clash(a, b)) {
            return Err(a.lines.start.min(b.lines.start) + 1);
        }
    }
    let mut all: Vec<&Hunk> = theirs.iter().chain(&ours).collect();
    // Insertions before replacements at the same line; the same change once.
    all.sort_by_key(|h| (h.lines.start, h.lines.end));
    all.dedup_by(|a, b| a == b);
    let mut merged = String::with_capacity(base.len());
    let mut at = 0;
    for hunk in all {
        merged.extend(lines[at..hunk.lines.start].iter().copied());
        merged.push_str(&hunk.text);
        at = hunk.lines.end;
    }
    merged.extend(lines[at..].iter().copied());
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::merge3;

    #[test]
    fn both_sides_are_kept_unless_they_change_the_same_lines() {
        let base = "a\nb\nc\nd\ne\n";
        let cases: [(&str, &str, Result<&str, usize>); 9] = [
            // The user did nothing: the agent's text.
            ("a\nB\nc\nd\ne\n", base, Ok("a\nB\nc\nd\ne\n")),
            // The agent changed nothing: the user's.
            (base, "a\nb\nc\nD\ne\n", Ok("a\nb\nc\nD\ne\n")),
            // Apart: both.
            ("a\nB\nc\nd\ne\n", "a\nb\nc\nd\nE\n", Ok("a\nB\nc\nd\nE\n")),
            // Next to each other: both.
            ("a\nB\nc\nd\ne\n", "a\nb\nC\nd\ne\n", Ok("a\nB\nC\nd\ne\n")),
            // An insertion by each, at different places.
            (
                "a\nnew\nb\nc\nd\ne\n",
                "a\nb\nc\nd\nmine\ne\n",
                Ok("a\nnew\nb\nc\nd\nmine\ne\n"),
            ),
            // The same change on both sides.
            ("a\nX\nc\nd\ne\n", "a\nX\nc\nd\ne\n", Ok("a\nX\nc\nd\ne\n")),
            // The same line, changed differently.
            ("a\nb\nTHEIRS\nd\ne\n", "a\nb\nours\nd\ne\n", Err(3)),
            // Insertions at the same place.
            ("a\nb\nt\nc\nd\ne\n", "a\nb\no\nc\nd\ne\n", Err(3)),
            // A deletion against a change inside it.
            ("a\ne\n", "a\nb\nC\nd\ne\n", Err(2)),
        ];
        for (theirs, ours, expected) in cases {
            let expected = expected.map(str::to_owned);
            assert_eq!(
                merge3(base, theirs, ours),
                expected,
                "{theirs:?} / {ours:?}"
            );
        }
    }

    #[test]
    fn texts_without_a_last_newline_merge_too() {
        assert_eq!(
            merge3(
                "fn a() {}\nfn b() {}",
                "fn a() { 1 }\nfn b() {}",
                "fn a() {}\nfn b() { 2 }"
            ),
            Ok("fn a() { 1 }\nfn b() { 2 }".to_owned())
        );
    }
}
