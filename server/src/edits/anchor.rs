//! Regions in char offsets, and how one user change moves them (or falls inside them).

use super::CharChange;

/// A span of the document in char offsets, `start..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Region {
    pub start: usize,
    pub end: usize,
}

impl Region {
    pub fn new(start: usize, end: usize) -> Self {
        Self { start, end: end.max(start) }
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

/// The region after a change that fell inside it: the smallest span covering both the
/// old region and the change's new text, so that a later reject still covers
/// everything that replaced the job's text.
pub fn absorb(region: Region, change: &CharChange) -> Region {
    let old_end = change.old_end.max(change.start);
    let start = region.start.min(change.start);
    // Computed as `max + added - removed` so the subtraction cannot underflow.
    let end = region.end.max(old_end) + change.new_len() - (old_end - change.start);
    Region::new(start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `fixture` is the document with the region in `[...]`; `change` is
    /// `(start, old_end, text)`; `expected` is the new document with the region in
    /// `[...]`, or `"inside"`.
    fn check(fixture: &str, change: (usize, usize, &str), expected: &str) {
        let start = fixture.chars().position(|c| c == '[').expect("fixture has [");
        let end = fixture.chars().position(|c| c == ']').expect("fixture has ]") - 1;
        let plain: String = fixture.chars().filter(|c| *c != '[' && *c != ']').collect();
        let change = CharChange::new(change.0, change.1, change.2);
        let got = match rebase_over(Region::new(start, end), &change) {
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

    #[test]
    fn overlap_cases() {
        let r = |a, b| Region::new(a, b);
        assert!(r(2, 5).overlaps(r(4, 8)));
        assert!(r(2, 5).overlaps(r(0, 9)));
        assert!(!r(2, 5).overlaps(r(5, 8)), "touching at the end");
        assert!(!r(2, 5).overlaps(r(0, 2)), "touching at the start");
        assert!(r(2, 5).overlaps(r(3, 3)), "empty, strictly inside");
        assert!(!r(2, 5).overlaps(r(5, 5)) && !r(5, 5).overlaps(r(2, 5)), "empty, at the end");
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
