//! A text replayed change by change with the job's misplaced edits kept apart, so that what the
//! user wrote and what the job meant can be had back exactly: each char is the user's or the
//! document's (live), the job's text put in the wrong place (junk), or text the job's misplaced
//! edit removed (a ghost, gone from the editor but due back). Used for edits sent blind (see the
//! `blind` module), which an editor applies among typing the job never saw.

use ropey::Rope;

use super::{CharChange, Region};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    Live,
    Junk,
    Ghost,
}

#[derive(Debug, Clone, Copy)]
struct Char {
    c: char,
    tag: Tag,
    /// Inside the job's region.
    region: bool,
}

/// The replay. The editor's text is the live and junk chars; the text due is the live chars and
/// the ghosts.
pub(super) struct Tagged {
    chars: Vec<Char>,
    /// Where an empty region is: the number of chars before it, counted in `chars`.
    empty_region_at: Option<usize>,
}

impl Tagged {
    /// `text` as the editor holds it, with the job's `region`.
    pub fn new(text: &Rope, region: Region) -> Self {
        let chars = text
            .chars()
            .enumerate()
            .map(|(i, c)| Char {
                c,
                tag: Tag::Live,
                region: (region.start..region.end).contains(&i),
            })
            .collect();
        Self {
            chars,
            empty_region_at: region.is_empty().then_some(region.start),
        }
    }

    /// Misplaced text found before, still to put back: `span` of the editor's text is the job's,
    /// and `text` is due there (inside the region or not).
    pub fn misplaced(&mut self, span: Region, text: &str, inside: bool) {
        let (from, to) = (self.index(span.start), self.index(span.end));
        for ch in &mut self.chars[from..to] {
            ch.tag = Tag::Junk;
        }
        let ghosts = text.chars().map(|c| Char {
            c,
            tag: Tag::Ghost,
            region: inside,
        });
        self.chars.splice(from..from, ghosts);
    }

    /// The index in `chars` of the editor's position `pos` (ghosts are not in the editor's
    /// text): right after the char before it, so before the ghosts there (the user who types
    /// where the job's misplaced text is types before what it removed).
    fn index(&self, pos: usize) -> usize {
        if pos == 0 {
            return 0;
        }
        let mut seen = 0;
        for (i, ch) in self.chars.iter().enumerate() {
            if ch.tag != Tag::Ghost {
                seen += 1;
                if seen == pos {
                    return i + 1;
                }
            }
        }
        self.chars.len()
    }

    /// A change in the editor's text: the user's (`junk` false) or the job's misplaced edit.
    /// `false` when it cannot be followed: the user changed the job's misplaced text.
    pub fn apply(&mut self, change: &CharChange, junk: bool) -> bool {
        let from = self.index(change.start);
        let to = self.index(change.old_end.max(change.start));
        let mut kept = Vec::with_capacity(to - from);
        for ch in &self.chars[from..to] {
            match (ch.tag, junk) {
                (Tag::Ghost, _) => kept.push(*ch),
                (Tag::Junk, false) => return false,
                (Tag::Junk, true) => {}
                (Tag::Live, true) => kept.push(Char {
                    tag: Tag::Ghost,
                    ..*ch
                }),
                (Tag::Live, false) => {}
            }
        }
        // New text is in the region where it replaces some of it, or between two chars of it.
        let region = self.chars[from..to].iter().any(|ch| ch.region)
            || (from > 0
                && to < self.chars.len()
                && self.chars[from - 1].region
                && self.chars[to].region);
        let inserted = change.text.chars().map(|c| Char {
            c,
            tag: if junk { Tag::Junk } else { Tag::Live },
            region,
        });
        // What it removed first: where the region begins or ends among it, the text put back
        // splits there.
        let new: Vec<Char> = kept.into_iter().chain(inserted).collect();
        let grew = new.len() as isize - (to - from) as isize;
        if let Some(at) = self.empty_region_at.as_mut()
            && *at >= to
        {
            // Typing at an empty region's place is before it.
            *at = at.saturating_add_signed(grew);
        } else if let Some(at) = self.empty_region_at.as_mut()
            && *at > from
        {
            *at = from;
        }
        self.chars.splice(from..to, new);
        true
    }

    /// The editor's text.
    pub fn editor(&self) -> String {
        self.text(Tag::Junk)
    }

    /// The text due: the editor's without the job's misplaced text, with what it removed.
    #[cfg(test)]
    pub fn due(&self) -> String {
        self.text(Tag::Ghost)
    }

    fn text(&self, with: Tag) -> String {
        self.chars
            .iter()
            .filter(|ch| ch.tag == Tag::Live || ch.tag == with)
            .map(|ch| ch.c)
            .collect()
    }

    /// The region in the editor's text: from where its first char is (or was, if the job's
    /// misplaced edit removed it), over the chars of it the editor holds (the job's misplaced
    /// text inside it counts).
    pub fn editor_region(&self) -> Region {
        let (mut at, mut first, mut held) = (0, None, 0);
        for (i, ch) in self.chars.iter().enumerate() {
            if self.empty_region_at == Some(i) {
                first.get_or_insert(at);
            }
            if ch.region {
                first.get_or_insert(at);
                held += usize::from(ch.tag != Tag::Ghost);
            }
            at += usize::from(ch.tag != Tag::Ghost);
        }
        let start = first.unwrap_or(at);
        Region::new(start, start + held)
    }

    /// What puts the text due back, as edits of the editor's text: each run of the job's
    /// misplaced text and what it removed, split where the region begins or ends, last first
    /// (so that none moves another), and whether it lies inside the region.
    pub fn put_back(&self) -> Vec<(Region, String, bool)> {
        let mut runs = Vec::new();
        let mut at = 0;
        let mut i = 0;
        while i < self.chars.len() {
            let ch = self.chars[i];
            if ch.tag == Tag::Live {
                at += 1;
                i += 1;
                continue;
            }
            let (start, region) = (at, ch.region);
            let mut due = String::new();
            while i < self.chars.len()
                && self.chars[i].tag != Tag::Live
                && self.chars[i].region == region
            {
                match self.chars[i].tag {
                    Tag::Junk => at += 1,
                    _ => due.push(self.chars[i].c),
                }
                i += 1;
            }
            runs.push((Region::new(start, at), due, region));
        }
        runs.reverse();
        runs
    }
}

#[cfg(test)]
mod tests {
    use ropey::Rope;

    use super::Tagged;
    use crate::edits::{CharChange, Region};

    /// The user types above the region; the job's edit, at its old lines, replaces the user's
    /// line and the region's first; the user types again, inside the job's misplaced text's
    /// neighbourhood. What is due is the user's text with the region as it was, and the edits
    /// that put it back give exactly that.
    #[test]
    fn the_text_due_keeps_every_keystroke_and_the_region() {
        let text = "top\nfn a() {\n}\nend\n";
        let region = Region::new(4, 14);
        let mut tagged = Tagged::new(&Rope::from_str(text), region);
        // The user's new line above.
        assert!(tagged.apply(&CharChange::new(4, 4, "// x\n"), false));
        // The job's edit meant for `fn a() {` (line 1), applied at line 1: the user's line.
        assert!(tagged.apply(&CharChange::new(4, 9, "fn b() {\n"), true));
        // More typing at the top.
        assert!(tagged.apply(&CharChange::new(0, 0, "// y\n"), false));
        assert_eq!(tagged.editor(), "// y\ntop\nfn b() {\nfn a() {\n}\nend\n");
        assert_eq!(tagged.due(), "// y\ntop\n// x\nfn a() {\n}\nend\n");
        let mut editor = Rope::from_str(&tagged.editor());
        for (span, due, inside) in tagged.put_back() {
            assert!(!inside);
            editor.remove(span.start..span.end);
            editor.insert(span.start, &due);
        }
        assert_eq!(editor.to_string(), tagged.due());
        // The region, in the editor's text: after the misplaced line.
        assert_eq!(tagged.editor_region(), Region::new(18, 28));
        // The user cannot change the job's misplaced text and be followed.
        assert!(!tagged.apply(&CharChange::new(10, 11, ""), false));
    }
}
