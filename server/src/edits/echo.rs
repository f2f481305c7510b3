//! Finding the job's own edit at the head of a `didChange`, by text rather than ranges.
//!
//! An editor applies a versioned edit only when its buffer is at exactly the version the
//! edit targets, which is the last version it reported. So if the edit landed, its echo
//! is the first change(s) of the next `didChange`, before anything the user typed after
//! it. The echo may be a smaller diff than the edit, split into several changes, or slid
//! along repeated text, so its ranges mean little; what is certain is the text after it.
//! We therefore look for the shortest head of the change list whose result equals the
//! document with the edit applied, comparing only the span the changes and the edit
//! touched.

use ropey::Rope;

use super::{CharChange, apply_change};

/// The edit as sent, in char offsets of `before`.
pub(crate) struct SentEdit<'a> {
    pub start: usize,
    pub end: usize,
    pub text: &'a str,
}

/// How many leading `changes` make up the echo of `sent` over `before`, if any do.
pub(crate) fn echo_len(before: &Rope, changes: &[CharChange], sent: &SentEdit<'_>) -> Option<usize> {
    let len = before.len_chars();
    let sent_end = sent.end.min(len);
    let sent_start = sent.start.min(sent_end);
    let sent_delta = sent.text.chars().count() as isize - (sent_end - sent_start) as isize;
    let mut scratch = before.clone();
    // The span of `before` that the changes so far touched, `lo..hi`, and how much longer
    // the scratch text is than `before`: outside the span, scratch and `before` agree.
    let mut lo = usize::MAX;
    let mut hi = 0usize;
    let mut delta: isize = 0;
    for (k, change) in changes.iter().enumerate() {
        let cur_len = scratch.len_chars();
        let cs = change.start.min(cur_len);
        let ce = change.old_end.clamp(cs, cur_len);
        // Positions before `lo` are the same in both texts; positions from the span's
        // end on are shifted by `delta`.
        let cur_hi = if lo == usize::MAX { 0 } else { hi.saturating_add_signed(delta) };
        if lo == usize::MAX {
            lo = cs;
            hi = ce;
        } else {
            lo = lo.min(cs);
            if ce > cur_hi {
                hi = ce.saturating_add_signed(-delta);
            }
        }
        apply_change(&mut scratch, change);
        delta += change.new_len() as isize - (ce - cs) as isize;
        if delta == sent_delta && matches_sent(before, &scratch, lo.min(sent_start), hi.max(sent_end), delta, sent) {
            return Some(k + 1);
        }
    }
    None
}

/// Whether `scratch` equals `before` with `sent` applied, knowing both agree with
/// `before` outside `from..to` (in `before`'s offsets).
fn matches_sent(before: &Rope, scratch: &Rope, from: usize, to: usize, delta: isize, sent: &SentEdit<'_>) -> bool {
    let len = before.len_chars();
    let to = to.min(len);
    let from = from.min(to);
    let sent_end = sent.end.min(len);
    let sent_start = sent.start.min(sent_end);
    let scratch_to = to.saturating_add_signed(delta);
    if scratch_to > scratch.len_chars() || scratch_to < from {
        return false;
    }
    let expected = before
        .slice(from..sent_start)
        .chars()
        .chain(sent.text.chars())
        .chain(before.slice(sent_end..to).chars());
    scratch.slice(from..scratch_to).chars().eq(expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(before: &str, sent: (usize, usize, &str), changes: &[(usize, usize, &str)], expected: Option<usize>) {
        let rope = Rope::from_str(before);
        let changes: Vec<CharChange> = changes.iter().map(|c| CharChange::new(c.0, c.1, c.2)).collect();
        let sent = SentEdit { start: sent.0, end: sent.1, text: sent.2 };
        assert_eq!(echo_len(&rope, &changes, &sent), expected, "{before:?} {changes:?}");
    }

    #[test]
    fn echo_cases() {
        check("abcdef", (2, 4, "XY"), &[(2, 4, "XY")], Some(1)); // exact
        check("abcdef", (2, 4, "cX"), &[(3, 4, "X")], Some(1)); // smaller diff
        check("a aaa", (0, 1, "aa"), &[(5, 5, "a")], None); // not the same text
        check("aaaa", (0, 1, "aa"), &[(4, 4, "a")], Some(1)); // slid to the end
        check("abcdef", (1, 5, "xcdy"), &[(1, 2, "x"), (4, 5, "y")], Some(2)); // split
        check("abcdef", (2, 4, "XY"), &[(2, 4, "XY"), (0, 0, "u")], Some(1)); // user after
        check("abcdef", (2, 4, "XY"), &[(0, 0, "u"), (3, 5, "XY")], None); // user first: not an echo
        check("abcdef", (2, 4, "XY"), &[(6, 6, "z")], None); // lost
        check("abcdef", (2, 4, "XY"), &[], None);
    }
}
