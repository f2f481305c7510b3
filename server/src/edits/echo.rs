//! Finding the job's own edit in a `didChange`, by text rather than ranges.
//!
//! An editor applies a versioned edit only when its buffer is at exactly the version the
//! edit targets, which is the last version it reported. So if the edit landed, its echo
//! is the first change(s) of the next `didChange`, before anything the user typed after
//! it. The echo may be a smaller diff than the edit, split into several changes, or slid
//! along repeated text, so its ranges mean little; what is certain is the text after it.
//! We therefore look for the shortest head of the change list whose result equals the
//! document with the edit applied, comparing only the span the changes and the edit
//! touched.
//!
//! Two shapes that are not a clean head are also recognised, for clients whose changes
//! the LSP layer derives from a full-text update (a diff knows positions, not the order
//! of events): the echo may come after changes that lie entirely before it in the
//! document, and it may be merged into one change with the user's typing right next to
//! it, as long as what remains once the echo is taken out falls outside the region.

use ropey::Rope;

use super::anchor::{Rebased, Region, rebase_over};
use super::diff::{minimal_edits, to_sequential};
use super::{CharChange, apply_change};

/// The edit as sent, in char offsets of `before`.
pub(crate) struct SentEdit<'a> {
    pub start: usize,
    pub end: usize,
    pub text: &'a str,
}

/// If `changes` (a `didChange` over `before`) show `sent`, the changes that remain the
/// user's, in the order to apply them to the document with `sent` applied, where the
/// region is `landed`. `None` when the edit does not show.
pub(crate) fn find_echo(
    before: &Rope,
    changes: &[CharChange],
    sent: &SentEdit<'_>,
    landed: Region,
) -> Option<Vec<CharChange>> {
    // `shift`: how much the changes before `i` lengthened the text.
    let mut shift: isize = 0;
    for i in 0..changes.len() {
        if i > 0 {
            let prev = &changes[i - 1];
            shift += prev.new_len() as isize - (prev.old_end.max(prev.start) - prev.start) as isize;
            // Changes listed before the echo must lie before it (a diff lists them in
            // document order), so that they commute with it.
            if changes[i].start < prev.start + prev.new_len() {
                return None;
            }
        }
        let back = |c: &CharChange| {
            CharChange::new(
                c.start.saturating_add_signed(-shift),
                c.old_end.saturating_add_signed(-shift),
                c.text.clone(),
            )
        };
        let shifted: Vec<CharChange> = changes[i..].iter().map(back).collect();
        if let Some(n) = echo_len(before, &shifted, sent) {
            return Some(
                changes[..i]
                    .iter()
                    .chain(&changes[i + n..])
                    .cloned()
                    .collect(),
            );
        }
        if let Some(rest) = merged_with_typing(before, &shifted[0], sent)
            && rest
                .iter()
                .try_fold(landed, |r, c| match rebase_over(r, c) {
                    Rebased::Moved(moved) => Some(moved),
                    Rebased::Inside => None,
                })
                .is_some()
        {
            // `rest` applies to the text with the echo, at or after the changes before
            // `i`, which are unaffected by it.
            let mut user = rest;
            user.extend(changes[..i].iter().cloned());
            user.extend(changes[i + 1..].iter().cloned());
            return Some(user);
        }
    }
    None
}

/// If `change` (over `before`) covers the span `sent` replaced, the changes that turn
/// `before` with `sent` applied into `before` with `change` applied (a minimal diff,
/// each applying to the result of the previous); `None` if it does not cover it or the
/// two agree.
fn merged_with_typing(
    before: &Rope,
    change: &CharChange,
    sent: &SentEdit<'_>,
) -> Option<Vec<CharChange>> {
    let len = before.len_chars();
    let cs = change.start.min(len);
    let ce = change.old_end.clamp(cs, len);
    let se = sent.end.min(len);
    let ss = sent.start.min(se);
    // The change must replace at least what the edit replaced: a change beside the
    // edit's span could otherwise "contain" the echo by putting back what it removed.
    if cs > ss || ce < se {
        return None;
    }
    let with_sent: String = before
        .slice(cs..ss)
        .chars()
        .chain(sent.text.chars())
        .chain(before.slice(se..ce).chars())
        .collect();
    let rest = minimal_edits(&with_sent, &change.text);
    if rest.is_empty() {
        return None;
    }
    Some(
        to_sequential(&rest)
            .into_iter()
            .map(|c| CharChange::new(cs + c.start, cs + c.old_end, c.text))
            .collect(),
    )
}

/// How many leading `changes` make up the echo of `sent` over `before`, if any do.
pub(crate) fn echo_len(
    before: &Rope,
    changes: &[CharChange],
    sent: &SentEdit<'_>,
) -> Option<usize> {
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
        let cur_hi = if lo == usize::MAX {
            0
        } else {
            hi.saturating_add_signed(delta)
        };
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
        if delta == sent_delta
            && matches_sent(
                before,
                &scratch,
                lo.min(sent_start),
                hi.max(sent_end),
                delta,
                sent,
            )
        {
            return Some(k + 1);
        }
    }
    None
}

/// Whether `scratch` equals `before` with `sent` applied, knowing both agree with
/// `before` outside `from..to` (in `before`'s offsets).
fn matches_sent(
    before: &Rope,
    scratch: &Rope,
    from: usize,
    to: usize,
    delta: isize,
    sent: &SentEdit<'_>,
) -> bool {
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

    /// The document, the changes and the sent edit, from their test shorthand.
    fn inputs<'a>(
        before: &str,
        sent: (usize, usize, &'a str),
        changes: &[(usize, usize, &str)],
    ) -> (Rope, Vec<CharChange>, SentEdit<'a>) {
        let rope = Rope::from_str(before);
        let changes: Vec<CharChange> = changes
            .iter()
            .map(|c| CharChange::new(c.0, c.1, c.2))
            .collect();
        let sent = SentEdit {
            start: sent.0,
            end: sent.1,
            text: sent.2,
        };
        (rope, changes, sent)
    }

    fn check(
        before: &str,
        sent: (usize, usize, &str),
        changes: &[(usize, usize, &str)],
        expected: Option<usize>,
    ) {
        let (rope, changes, sent) = inputs(before, sent, changes);
        assert_eq!(
            echo_len(&rope, &changes, &sent),
            expected,
            "{before:?} {changes:?}"
        );
    }

    /// `expected` lists the user's changes left once the echo is found, as
    /// `start..end=>text`, or is `None` when the edit does not show.
    fn check_find(
        before: &str,
        sent: (usize, usize, &str),
        landed: (usize, usize),
        changes: &[(usize, usize, &str)],
        expected: Option<&str>,
    ) {
        let (rope, changes, sent) = inputs(before, sent, changes);
        let got = find_echo(&rope, &changes, &sent, Region::new(landed.0, landed.1)).map(|user| {
            user.iter()
                .map(|c| format!("{}..{}=>{}", c.start, c.old_end, c.text))
                .collect::<Vec<_>>()
                .join(" ")
        });
        assert_eq!(got.as_deref(), expected, "{before:?} {changes:?}");
    }

    #[test]
    fn find_cases() {
        // Region "cd" of "abcdef" becomes "cdXY" (landed: 2..6).
        let (sent, landed) = ((4, 4, "XY"), (2, 6));
        check_find(
            "abcdef",
            sent,
            landed,
            &[(4, 4, "XY"), (0, 0, "u")],
            Some("0..0=>u"),
        ); // head
        check_find(
            "abcdef",
            sent,
            landed,
            &[(0, 0, "u"), (5, 5, "XY")],
            Some("0..0=>u"),
        ); // after a change above
        check_find(
            "abcdef",
            sent,
            landed,
            &[(0, 0, "u"), (5, 5, "XY"), (9, 10, "")],
            Some("0..0=>u 9..10=>"),
        );
        check_find("abcdef", sent, landed, &[(4, 4, "XYu")], Some("6..6=>u")); // merged with typing after
        check_find(
            "abcdef",
            sent,
            landed,
            &[(1, 2, "v"), (4, 4, "XYu")],
            Some("6..6=>u 1..2=>v"),
        );
        // Merged with typing on both sides: "cd" -> "m" (landed 2..3), the user typed
        // around it.
        check_find(
            "abcdef",
            (2, 4, "m"),
            (2, 3),
            &[(1, 5, "bumue")],
            Some("2..2=>u 4..4=>u"),
        );
        check_find("abcdef", sent, landed, &[(4, 4, "uXY")], None); // typing inside
        check_find("abcdef", sent, landed, &[(4, 4, "u")], None); // the user's, the edit lost
        check_find("abcdef", sent, landed, &[(5, 6, "")], None);
        check_find("abcdef", sent, landed, &[(5, 5, "u"), (0, 0, "XY")], None); // not in document order
        // An edit at the region's start merged with typing before it (landed 0..3).
        check_find("ab", (0, 0, "X"), (0, 3), &[(0, 0, "uX")], Some("0..0=>u"));
        // A deletion of the region's text, and the user typing right after it: lost, not
        // "deleted, then typed back".
        check_find("m", (0, 1, ""), (0, 0), &[(1, 1, "u")], None);
    }

    #[test]
    fn echo_cases() {
        check("abcdef", (2, 4, "XY"), &[(2, 4, "XY")], Some(1)); // exact
        check("abcdef", (2, 4, "cX"), &[(3, 4, "X")], Some(1)); // smaller diff
        check("a aaa", (0, 1, "aa"), &[(5, 5, "a")], None); // not the same text
        check("aaaa", (0, 1, "aa"), &[(4, 4, "a")], Some(1)); // slid to the end
        check(
            "abcdef",
            (1, 5, "xcdy"),
            &[(1, 2, "x"), (4, 5, "y")],
            Some(2),
        ); // split
        check(
            "abcdef",
            (2, 4, "XY"),
            &[(2, 4, "XY"), (0, 0, "u")],
            Some(1),
        ); // user after
        check("abcdef", (2, 4, "XY"), &[(0, 0, "u"), (3, 5, "XY")], None); // user first: not an echo
        check("abcdef", (2, 4, "XY"), &[(6, 6, "z")], None); // lost
        check("abcdef", (2, 4, "XY"), &[], None);
    }
}
