//! Regions in char offsets, and how one user change moves them (or falls inside them).

use ropey::Rope;

use super::{CharChange, apply_change};

/// A span of the document in char offsets, `start..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Region {
    pub start: usize,
    pub end: usize,
}

impl Region {
    pub fn new(start: usize, end: usize) -> Self {
        Self {
            start,
            end: end.max(start),
        }
    }

    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Whether two jobs on these regions would fight over text: they share a char, an
    /// empty one lies strictly inside the other, or both are empty at the same place
    /// (their insertions would have no order). Regions that only touch do not: each
    /// one's edits at the shared boundary count as outside the other.
    pub fn overlaps(&self, other: Region) -> bool {
        match (self.is_empty(), other.is_empty()) {
            (true, true) => self.start == other.start,
            (true, false) => other.start < self.start && self.start < other.end,
            (false, true) => self.start < other.start && other.start < self.end,
            (false, false) => self.start < other.end && other.start < self.end,
        }
    }
}

/// Where a region stands after a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rebased {
    /// The change was outside the region: here is the region in the new text (possibly
    /// unchanged).
    Moved(Region),
    /// The change touched the region's interior.
    Inside,
}

/// Moves `region` over one change, with the contract's rules: a change that ends at or
/// before the region's start shifts it (so an insertion exactly at the start counts as
/// outside, before it); a change that starts at or after its end leaves it alone (an
/// insertion exactly at the end is outside, after it); anything else overlaps the
/// interior. An empty region takes an insertion at its position as before it, so the
/// user's text is never mistaken for the job's.
pub fn rebase_over(region: Region, change: &CharChange) -> Rebased {
    let old_end = change.old_end.max(change.start);
    if old_end <= region.start {
        let removed = old_end - change.start;
        let added = change.new_len();
        let shift = |p: usize| p + added - removed;
        Rebased::Moved(Region::new(shift(region.start), shift(region.end)))
    } else if change.start >= region.end {
        Rebased::Moved(region)
    } else {
        Rebased::Inside
    }
}

/// A pure insertion or deletion that falls inside `region` but leaves the same text as
/// one at the region's edge, moved out to that edge; `None` if it has no such twin.
/// `text` is the document just before the change. A diff slides a change along
/// repeated text (Neovim reports every change as a diff), so deleting the newline just
/// above a region that starts with a newline can arrive as deleting the region's first
/// newline; the text cannot tell them apart, and the reading that keeps the job going
/// loses nothing: the user's text is the same either way.
pub fn slide_out(region: Region, change: &CharChange, text: &Rope) -> Option<CharChange> {
    let len = text.len_chars();
    let start = change.start.min(len);
    let end = change.old_end.clamp(start, len);
    if start == end && !change.text.is_empty() {
        // Inserting `t` at `p` is inserting `t` rotated by one at `p - 1` when `t` ends
        // with the char before `p`, and at `p + 1` when it starts with the char at `p`.
        let inserted: Vec<char> = change.text.chars().collect();
        let (mut t, mut p) = (inserted.clone(), start);
        while p > region.start && t.last() == Some(&text.char(p - 1)) {
            t.rotate_right(1);
            p -= 1;
        }
        if p <= region.start {
            return Some(CharChange::new(p, p, t.into_iter().collect::<String>()));
        }
        let (mut t, mut p) = (inserted, start);
        while p < region.end && t.first() == Some(&text.char(p)) {
            t.rotate_left(1);
            p += 1;
        }
        if p >= region.end {
            return Some(CharChange::new(p, p, t.into_iter().collect::<String>()));
        }
    } else if start < end && change.text.is_empty() {
        // Deleting `a..b` is deleting `a - 1..b - 1` when the chars before `a` and `b`
        // agree, and `a + 1..b + 1` when the chars at `a` and `b` do.
        let (mut a, mut b) = (start, end);
        while b > region.start && a > 0 && text.char(a - 1) == text.char(b - 1) {
            a -= 1;
            b -= 1;
        }
        if b <= region.start {
            return Some(CharChange::new(a, b, ""));
        }
        let (mut a, mut b) = (start, end);
        while a < region.end && b < len && text.char(a) == text.char(b) {
            a += 1;
            b += 1;
        }
        if a >= region.end {
            return Some(CharChange::new(a, b, ""));
        }
    }
    None
}

/// The region after a change that fell inside it: the smallest span covering both the
/// old region and the change's new text, so that a later reject still covers
/// everything that replaced the job's text.
pub(crate) fn absorb(region: Region, change: &CharChange) -> Region {
    let old_end = change.old_end.max(change.start);
    let start = region.start.min(change.start);
    // Computed as `max + added - removed` so the subtraction cannot underflow.
    let end = region.end.max(old_end) + change.new_len() - (old_end - change.start);
    Region::new(start, end)
}

/// Follows `region` over user changes applying to `text` one after the other; the flag
/// says whether one fell inside it (and starts as `inside`). A change inside that leaves
/// the same text as one at the region's edge counts as that one (see [`slide_out`]).
pub(super) fn rebase_all(
    mut region: Region,
    mut inside: bool,
    changes: &[CharChange],
    text: &Rope,
) -> (Region, bool) {
    let mut text = text.clone();
    for change in changes {
        region = match rebase_over(region, change) {
            Rebased::Moved(moved) => moved,
            Rebased::Inside => {
                match slide_out(region, change, &text).map(|twin| rebase_over(region, &twin)) {
                    Some(Rebased::Moved(moved)) => moved,
                    _ => {
                        inside = true;
                        absorb(region, change)
                    }
                }
            }
        };
        apply_change(&mut text, change);
    }
    (region, inside)
}

pub(super) fn clamp(region: Region, rope: &Rope) -> Region {
    let len = rope.len_chars();
    Region::new(region.start.min(len), region.end.min(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The region marked `[...]` in `fixture` (in chars of the plain text), and the plain text.
    fn parse_fixture(fixture: &str) -> (Region, String) {
        let start = fixture
            .chars()
            .position(|c| c == '[')
            .expect("fixture has [");
        let end = fixture
            .chars()
            .position(|c| c == ']')
            .expect("fixture has ]")
            - 1;
        let plain: String = fixture.chars().filter(|c| *c != '[' && *c != ']').collect();
        (Region::new(start, end), plain)
    }

    /// `fixture` is the document with the region in `[...]`; `change` is
    /// `(start, old_end, text)`; `expected` is the new document with the region in
    /// `[...]`, or `"inside"`.
    fn check(fixture: &str, change: (usize, usize, &str), expected: &str) {
        let (region, plain) = parse_fixture(fixture);
        let change = CharChange::new(change.0, change.1, change.2);
        let got = match rebase_over(region, &change) {
            Rebased::Inside => "inside".to_string(),
            Rebased::Moved(r) => {
                let mut doc: String = plain.chars().take(change.start).collect();
                doc.push_str(&change.text);
                doc.extend(plain.chars().skip(change.old_end));
                let chars: Vec<char> = doc.chars().collect();
                let mut out: String = chars[..r.start].iter().collect();
                out.push('[');
                out.extend(&chars[r.start..r.end]);
                out.push(']');
                out.extend(&chars[r.end..]);
                out
            }
        };
        assert_eq!(got, expected, "fixture {fixture:?}, change {change:?}");
    }

    #[test]
    fn rebase_cases() {
        check("ab[cd]ef", (0, 0, "xx"), "xxab[cd]ef"); // insert before
        check("ab[cd]ef", (0, 1, ""), "b[cd]ef"); // delete before
        check("ab[cd]ef", (0, 2, "Z"), "Z[cd]ef"); // replace ending at start
        check("ab[cd]ef", (2, 2, "x"), "abx[cd]ef"); // insert at start: outside, shifts
        check("ab[cd]ef", (4, 4, "x"), "ab[cd]xef"); // insert at end: outside, stays
        check("ab[cd]ef", (5, 6, ""), "ab[cd]e"); // delete after
        check("ab[cd]ef", (4, 6, "Q"), "ab[cd]Q"); // replace starting at end
        check("ab[cd]ef", (3, 3, "x"), "inside"); // insert strictly inside
        check("ab[cd]ef", (2, 3, ""), "inside"); // delete first char of region
        check("ab[cd]ef", (1, 3, "y"), "inside"); // replace spanning the start
        check("ab[cd]ef", (3, 5, "y"), "inside"); // replace spanning the end
        check("ab[cd]ef", (0, 6, ""), "inside"); // delete everything
        check("ab[]ef", (2, 2, "x"), "abx[]ef"); // empty region: insertion goes before
        check("ab[]ef", (1, 3, ""), "inside"); // deletion across an empty region
        check("a😀[cd]ef", (0, 2, "\r\n"), "\r\n[cd]ef"); // chars, not bytes
    }

    /// `fixture` marks the region with `[...]`; the change is over the plain text;
    /// `expected` is the twin outside the region as `start..end=>text`, or `""`.
    fn check_slide(fixture: &str, change: (usize, usize, &str), expected: &str) {
        let (region, plain) = parse_fixture(fixture);
        let change = CharChange::new(change.0, change.1, change.2);
        let got = slide_out(region, &change, &Rope::from_str(&plain))
            .map(|c| format!("{}..{}=>{}", c.start, c.old_end, c.text))
            .unwrap_or_default();
        assert_eq!(got, expected, "{fixture:?} {change:?}");
        if let Some(twin) = slide_out(region, &change, &Rope::from_str(&plain)) {
            let apply = |c: &CharChange| {
                let mut rope = Rope::from_str(&plain);
                crate::edits::apply_change(&mut rope, c);
                rope.to_string()
            };
            assert_eq!(
                apply(&twin),
                apply(&change),
                "the twin must leave the same text"
            );
            assert!(matches!(rebase_over(region, &twin), Rebased::Moved(_)));
        }
    }

    #[test]
    fn slide_cases() {
        check_slide("a\n[\nb]c", (2, 3, ""), "1..2=>"); // the newline above, reported inside
        check_slide("a[bb]bc", (2, 3, ""), "3..4=>"); // slides right, past the end
        check_slide("xa[ab]c", (3, 3, "a"), "2..2=>a"); // an insertion slides left
        check_slide("x[ab]bc", (3, 3, "b"), "3..3=>b"); // and right
        check_slide("x[ab]c", (2, 2, "ba"), "1..1=>ab"); // rotated on the way
        check_slide("a[bc]d", (2, 2, "x"), ""); // genuinely inside
        check_slide("a[bc]d", (1, 2, ""), ""); // deleting the region's own first char
        check_slide("a[bc]d", (1, 2, "x"), ""); // a replacement does not slide
    }

    #[test]
    fn overlap_cases() {
        let r = |a, b| Region::new(a, b);
        assert!(r(2, 5).overlaps(r(4, 8)));
        assert!(r(2, 5).overlaps(r(0, 9)));
        assert!(!r(2, 5).overlaps(r(5, 8)), "touching at the end");
        assert!(!r(2, 5).overlaps(r(0, 2)), "touching at the start");
        assert!(r(2, 5).overlaps(r(3, 3)), "empty, strictly inside");
        assert!(
            !r(2, 5).overlaps(r(5, 5)) && !r(5, 5).overlaps(r(2, 5)),
            "empty, at the end"
        );
        assert!(r(4, 4).overlaps(r(4, 4)));
        assert!(!r(4, 4).overlaps(r(5, 5)));
    }

    #[test]
    fn absorb_covers_change() {
        let r = Region::new(2, 4);
        assert_eq!(absorb(r, &CharChange::new(3, 3, "xyz")), Region::new(2, 7));
        assert_eq!(absorb(r, &CharChange::new(1, 3, "")), Region::new(1, 2));
        assert_eq!(absorb(r, &CharChange::new(3, 6, "q")), Region::new(2, 4));
        assert_eq!(absorb(r, &CharChange::new(0, 9, "")), Region::new(0, 0));
    }
}
