//! An edit that landed against newer text. Vim's ALE and kak-lsp apply an edit at the lines and
//! columns it names whatever version it targets: if the user added lines above the region after
//! the editor's last report, the edit lands that many lines too high, overwriting text before
//! the place it was meant for and leaving some of the old text it was to replace. The next
//! whole-text report then shows the edit's text at its old lines and the region's text broken. Here that is recognised, and the repair is
//! found: the edit that puts back what the misplaced one overwrote, after which the region holds
//! its old text again, next to the user's typing, and the job's next edit is computed as usual.

use ropey::Rope;

use super::anchor::rebase_all;
use super::echo::{SentEdit, find_echo};
use super::stream::InFlight;
use super::whole_text::around;
use super::{ChangeOutcome, CharChange, OutgoingEdit, Region, StreamSession};

/// Past this many char comparisons the search gives up (the job then reads the report as
/// typing inside its region).
const MAX_COMPARISONS: usize = 4_000_000;
/// How many line shifts are tried besides the one the texts' line counts suggest.
const MAX_SHIFTS: isize = 16;
/// How many of the lines the user added may have come after the editor applied the edit.
const MAX_LATER: isize = 8;
/// How many repairs one job makes at most: past them, a report that shows a misplaced edit is
/// read as any other (typing inside the region, most likely), rather than repair forever an
/// editor whose behaviour the repair misreads.
const MAX_REPAIRS: u32 = 8;

/// The edit that undoes a misplaced one, and what it leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Repair {
    /// Replace `start..end` of the reported text with `text`...
    pub start: usize,
    pub end: usize,
    pub text: String,
    /// ...and the region is here, holding the text it held before the misplaced edit.
    pub region: Region,
    /// The span of the reported text that the region and the damage cover.
    pub cover: Region,
    /// How many chars the user's typing covers in this reading (see `whole_text`).
    pub cost: usize,
}

/// A repair not sent yet, relative to the start of the span it covers, which the session keeps
/// as its region meanwhile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PendingRepair {
    start: usize,
    end: usize,
    text: String,
    /// Where the region starts once the repair landed.
    region_start: usize,
    /// The region's text once the repair landed.
    region_text: String,
    cover_len: usize,
    /// The repair this one makes good again, when it repairs a misplaced repair: it goes out
    /// once this one landed (the region is then its span again).
    then: Option<Box<PendingRepair>>,
}

impl PendingRepair {
    /// What goes out once this repair landed.
    pub(super) fn then(&self) -> Option<PendingRepair> {
        self.then.as_deref().cloned()
    }
}

impl StreamSession {
    /// A whole-text report (`after`, at `version`) showed the in-flight edit landed against newer
    /// text (over `before`, as last reported): the edit is lost, and the repair goes out next.
    /// `region_text`: what the region holds once the repair landed; `chained`: a repair in flight
    /// goes out again after this one (it restores the text before the misplaced edit, not what
    /// the edit meant).
    pub(super) fn start_repair(
        &mut self,
        repair: Repair,
        region_text: String,
        chained: bool,
        after: &Rope,
        version: i32,
    ) -> ChangeOutcome {
        self.repairs += 1;
        let cover = repair.cover;
        self.repair = Some(PendingRepair {
            start: repair.start - cover.start,
            end: repair.end - cover.start,
            text: repair.text,
            region_start: repair.region.start - cover.start,
            region_text,
            cover_len: cover.end - cover.start,
            then: self
                .in_flight
                .as_mut()
                .filter(|_| chained)
                .and_then(|flight| flight.repair.take())
                .map(Box::new),
        });
        self.in_flight = None;
        self.failed_attempts += 1;
        self.doc = after.clone();
        self.version = version;
        self.region = cover;
        ChangeOutcome::Lost
    }

    /// A ranged report that neither shows the in-flight edit nor leaves the region alone: the
    /// edit may have landed against newer text all the same (Neovim's stock handler applies an
    /// edit at version 0 without checking it). The outcome when a repair explains the report.
    pub(super) fn repair_ranged(
        &mut self,
        before: &Rope,
        changes: &[CharChange],
        after: &Rope,
        version: i32,
    ) -> Option<ChangeOutcome> {
        // Only an edit at version 0: that is what Neovim's stock handler applies unchecked. An
        // editor that reports ranges checks any other version, so a ranged report that looks
        // like a misplaced edit is the user's typing (reading it as a repair once broke VS Code's
        // buffer under load).
        let flight = self
            .in_flight
            .as_ref()
            .filter(|f| !f.landed && f.edit.version == 0 && self.may_repair(f))?;
        let sent = flight.sent_edit();
        if find_echo(before, changes, &sent, flight.landed_region()).is_some() {
            return None;
        }
        let (_, inside) = rebase_all(self.region, false, changes, before);
        if !inside {
            return None;
        }
        let repair = misapplied(before, &Placed::of(before, &sent), after, self.region, true)?;
        let region_text = before.slice(self.region.start..self.region.end).to_string();
        Some(self.start_repair(repair, region_text, true, after, version))
    }

    /// Whether a report may show `flight` landed against newer text: the editor answered it
    /// (kak-lsp and Neovim answer before they report), or never answers any edit (ALE); never
    /// an editor that refused an edit (it checks versions); and not past [`MAX_REPAIRS`].
    pub(super) fn may_repair(&self, flight: &InFlight) -> bool {
        (flight.answered || !self.client_answers) && self.may_repair_more()
    }

    /// Whether the editor may apply edits against newer text at all, and repairs are left.
    pub(super) fn may_repair_more(&self) -> bool {
        !self.checks_versions && self.repairs < MAX_REPAIRS
    }

    /// The repair as the next edit, if one waits and the span it covers is as it was (the
    /// user's typing since only moved it).
    pub(super) fn send_repair(&mut self) -> Option<OutgoingEdit> {
        let repair = self.repair.take()?;
        let at = self.region.start;
        if self.region.end - at != repair.cover_len {
            return None;
        }
        let again = repair.clone();
        let edit = OutgoingEdit {
            id: self.next_id,
            version: self.version + self.assumed_edits,
            start: at + repair.start,
            end: at + repair.end,
            text: repair.text,
        };
        self.next_id += 1;
        self.in_flight = Some(InFlight {
            repair: Some(again),
            ..InFlight::new(edit.clone(), at + repair.region_start, repair.region_text)
        });
        Some(edit)
    }
}

/// An edit as the editor applies it: at lines and char columns, into whatever text it holds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Placed<'a> {
    pub start: (usize, usize),
    pub end: (usize, usize),
    pub text: &'a str,
}

impl<'a> Placed<'a> {
    /// `sent` (char offsets of `text`) as lines and columns.
    pub fn of(text: &Rope, sent: &SentEdit<'a>) -> Self {
        let at = |offset: usize| {
            let offset = offset.min(text.len_chars());
            let line = text.char_to_line(offset);
            (line, offset - text.line_to_char(line))
        };
        Self {
            start: at(sent.start),
            end: at(sent.end.max(sent.start)),
            text: sent.text,
        }
    }
}

/// How many chars `line` of `text` holds before its line break.
fn content_len(text: &Rope, line: usize) -> usize {
    let chars = text.line(line);
    let mut len = chars.len_chars();
    while len > 0 && matches!(chars.char(len - 1), '\n' | '\r') {
        len -= 1;
    }
    len
}

/// The char offset of `line`:`column` in `text`, the column clamped to the line's end (before
/// its line break), as an editor applies it; `None` past the last line.
pub(super) fn clamped(text: &Rope, (line, column): (usize, usize)) -> Option<usize> {
    (line < text.len_lines()).then(|| text.line_to_char(line) + column.min(content_len(text, line)))
}

/// The char offset of `line`:`column` in `text`, if the line has that column (before its line
/// break): where the tests' editor applies an edit at all.
#[cfg(test)]
fn offset(text: &Rope, (line, column): (usize, usize)) -> Option<usize> {
    (line < text.len_lines() && column <= content_len(text, line))
        .then(|| text.line_to_char(line) + column)
}

/// If `after` is `before` (as last reported) changed by the user outside `region`, then by
/// `edit` applied at its lines and columns to that newer text, the repair. `computed_here`: the
/// edit was computed against `before`, so at its own lines it landed where it was meant (not a
/// misplacement); otherwise it was computed against an older text and is judged against this
/// one. `None` if the edit's text is not at its place, or no shift of lines explains the rest.
pub(crate) fn misapplied(
    before: &Rope,
    edit: &Placed<'_>,
    after: &Rope,
    region: Region,
    computed_here: bool,
) -> Option<Repair> {
    let t: Vec<char> = edit.text.chars().collect();
    if edit.start.0 >= after.len_lines() {
        return None;
    }
    let after_chars: Vec<char> = after.chars().collect();
    let base: Vec<char> = before.chars().collect();
    // How many lines the user's typing added: the editor's lines from its typing on are
    // `before`'s lines that many further down.
    let edit_lines = t.iter().filter(|c| **c == '\n').count() as isize
        - (edit.end.0 as isize - edit.start.0 as isize);
    let net = after.len_lines() as isize - before.len_lines() as isize - edit_lines;
    let mut budget = MAX_COMPARISONS;
    let mut best = None;
    let shifts = (1..=MAX_SHIFTS).map(|i| net + if i % 2 == 1 { (i + 1) / 2 } else { -(i / 2) });
    // `shift`: all the lines the user added above since the report before; `earlier` of them
    // before the editor applied the edit (it landed that many lines too high), the rest after
    // (they moved it down again in this report).
    let splits = |shift: isize| {
        let later_max = shift.abs().min(MAX_LATER);
        (0..=later_max).map(move |later| {
            let later = later * shift.signum();
            (shift - later, later)
        })
    };
    for (earlier, later) in std::iter::once(net).chain(shifts).flat_map(splits) {
        if earlier == 0 && computed_here {
            // Where it was meant: the echo's reading.
            continue;
        }
        let line = |l: usize, by: isize| usize::try_from(l as isize + by).ok();
        let (Some(from_line), Some(to_line), Some(at_line)) = (
            line(edit.start.0, -earlier),
            line(edit.end.0, -earlier),
            line(edit.start.0, later).filter(|&l| l < after.len_lines()),
        ) else {
            continue;
        };
        // The editor clamps a column past the end of the line it lands on.
        let Some(from) = clamped(before, (from_line, edit.start.1)) else {
            continue;
        };
        let Some(to) = clamped(before, (to_line, edit.end.1)).filter(|&to| to >= from) else {
            continue;
        };
        let at = after.line_to_char(at_line) + (from - before.line_to_char(from_line));
        if at + t.len() > after_chars.len() || after_chars[at..at + t.len()] != t[..] {
            continue;
        }
        // What the edit overwrote, were the lines shifted so.
        let overwritten = &base[from..to];
        if budget < after_chars.len() {
            return best;
        }
        budget -= after_chars.len();
        let users: Vec<char> = after_chars[..at]
            .iter()
            .chain(overwritten)
            .chain(&after_chars[at + t.len()..])
            .copied()
            .collect();
        let Some(reading) = around(&base, &users, region) else {
            continue;
        };
        // The lines that moved the edit are lines the user added above the region: a reading
        // whose typing adds fewer there (or removes fewer) explains the edit's text by chance.
        let lines = |chars: &[char]| chars.iter().filter(|c| **c == '\n').count() as isize;
        let above = lines(&users[..reading.region.start.min(users.len())])
            - lines(&base[..region.start.min(base.len())]);
        let moved = earlier + later;
        if (moved >= 0 && above < moved) || (moved < 0 && above > moved) {
            continue;
        }
        let grew = t.len() as isize - overwritten.len() as isize;
        let to_after = |i: usize| {
            if i <= at {
                i
            } else if i >= at + overwritten.len() {
                i.saturating_add_signed(grew)
            } else {
                at + t.len()
            }
        };
        let repair = Repair {
            start: at,
            end: at + t.len(),
            text: overwritten.iter().collect(),
            region: reading.region,
            cover: Region::new(
                reading.region.start.min(at),
                to_after(reading.region.end).max(at + t.len()),
            ),
            cost: reading.cost,
        };
        // Repeated lines can make several shifts read well: the one that needs the fewest
        // changes wins (the likeliest, tried first, on a tie).
        if best.as_ref().is_none_or(|b: &Repair| repair.cost < b.cost) {
            best = Some(repair);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edits::{CharChange, apply_change};
    use proptest::prelude::*;

    /// As kak-lsp showed it: the user opened `// above 2` above the function while the edit that
    /// puts the closing brace in place was on its way (`}\n` over lines 5:0-6:1 of the text it
    /// last reported); the editor applied it to the lines of its newer text.
    const REPORTED: &str = "// top\n// above 1\nfn double(x: u32) -> u32 {\n    let y = x;\n    y * 2\n    todo!()\n}\n// bottom\n// below 1\n";
    const USERS: &str = "// top\n// above 1\n// above 2\nfn double(x: u32) -> u32 {\n    let y = x;\n    y * 2\n    todo!()\n}\n// bottom\n// below 1\n";
    const MISPLACED: &str = "// top\n// above 1\n// above 2\nfn double(x: u32) -> u32 {\n    let y = x;\n}\n   todo!()\n}\n// bottom\n// below 1\n";

    fn region_of(text: &str, region: &str) -> Region {
        let start = text[..text.find(region).expect("the region")]
            .chars()
            .count();
        Region::new(start, start + region.chars().count())
    }

    #[test]
    fn a_line_typed_above_moves_the_edit_a_line_up() {
        let region = region_of(REPORTED, "fn double");
        let region = Region::new(region.start, region_of(REPORTED, "// bottom").start);
        let edit = Placed {
            start: (5, 0),
            end: (6, 1),
            text: "}\n",
        };
        let before = Rope::from_str(REPORTED);
        let after = Rope::from_str(MISPLACED);
        let repair = misapplied(&before, &edit, &after, region, true).expect("a repair");
        let mut fixed = after.clone();
        apply_change(
            &mut fixed,
            &CharChange::new(repair.start, repair.end, repair.text.clone()),
        );
        assert_eq!(fixed.to_string(), USERS);
        assert_eq!(repair.text, "    y * 2\n ");
        assert_eq!(repair.region.start, region.start + "// above 2\n".len());
    }

    #[test]
    fn an_edit_that_landed_where_it_was_meant_is_no_repair() {
        let region = Region::new(0, 6);
        let edit = Placed {
            start: (1, 0),
            end: (1, 1),
            text: "X",
        };
        let before = Rope::from_str("{\na\n}\nend\n");
        // Typed below: the edit's lines did not move.
        let after = Rope::from_str("{\nX\n}\nend\nmore\n");
        assert_eq!(misapplied(&before, &edit, &after, region, true), None);
    }

    proptest! {
        #![proptest_config(crate::test_support::proptest_config(2000, u32::MAX))]
        /// The user types above the region (lines, or within a line; not ending on the line where
        /// the editor applies the edit), then the editor applies an edit of the region at its lines and columns to that
        /// newer text (when they exist there and it does not overwrite the typing): unless it
        /// still landed where it was meant, the session chooses the repair, and it puts back
        /// exactly the text the user had.
        #[test]
        fn the_repair_gives_back_the_users_text(
            above in "[0-9]{0,3}(\n[0-9]{0,3}){0,3}\n",
            region in "[a-e]{0,3}(\n[a-e]{0,3}){1,4}\n",
            below in "[0-9\n]{0,6}",
            typed in "[u-z]{0,3}(\n[u-z]{0,3}){0,2}",
            at in 0usize..12,
            cut in 0usize..12,
            len in 0usize..8,
            text in "[A-E]{1,3}(\n[A-E]{0,3}){0,2}",
        ) {
            let before = format!("{above}{region}{below}");
            let s = above.chars().count();
            let rl = region.chars().count();
            let a = s + cut.min(rl);
            let b = (a + len).min(s + rl);
            let at = at.min(s);
            let base = Rope::from_str(&before);
            let edit = Placed::of(&base, &SentEdit { start: a, end: b, text: &text });
            let mut users = base.clone();
            apply_change(&mut users, &CharChange::new(at, at, typed.clone()));
            if users.char_to_line(at + typed.chars().count()) == edit.start.0 {
                // Typing that ends on the line where the edit starts, before it, moves it
                // along the line: left out, the repair only knows lines moving.
                return Ok(());
            }
            // The editor applies the edit at its lines and columns, if they exist in its text.
            let (Some(from), Some(to)) = (offset(&users, edit.start), offset(&users, edit.end)) else {
                return Ok(());
            };
            if to < from || from < at + typed.chars().count() {
                // Overwriting the user's typing, which never reached the server: what it was, no
                // server can tell.
                return Ok(());
            }
            let mut after = users.clone();
            apply_change(&mut after, &CharChange::new(from, to, text.clone()));
            let mut with = base.clone();
            apply_change(&mut with, &CharChange::new(a, b, text.clone()));
            let landed = Region::new(s, s + rl + text.chars().count() - (b - a));
            let chars = |r: &Rope| r.chars().collect::<Vec<_>>();
            if around(&chars(&with), &chars(&after), landed).is_some() {
                return Ok(());
            }
            let region = Region::new(s, s + rl);
            let plain = around(&chars(&base), &chars(&after), region);
            let repair = misapplied(&base, &edit, &after, region, true)
                .filter(|r| plain.as_ref().is_none_or(|p| r.cost <= p.cost));
            let users = users.to_string();
            prop_assert!(repair.is_some(), "no repair: {after:?}, the user's {users:?}, plain reading {plain:?}");
            if let Some(repair) = repair {
                let mut fixed = after.clone();
                apply_change(&mut fixed, &CharChange::new(repair.start, repair.end, repair.text.clone()));
                prop_assert_eq!(fixed.to_string(), users);
            }
        }
    }
}

#[cfg(test)]
mod session_tests {
    use ropey::Rope;

    use crate::edits::{ChangeOutcome, CharChange, Region, StreamSession, apply_change};

    fn apply(text: &str, start: usize, end: usize, with: &str) -> String {
        let mut rope = Rope::from_str(text);
        apply_change(&mut rope, &CharChange::new(start, end, with));
        rope.to_string()
    }

    /// Applies an edit (char offsets of `meant`) at its lines and columns to `text`, as ALE and
    /// kak-lsp do whatever version it names.
    fn apply_at_lines(meant: &str, text: &str, start: usize, end: usize, with: &str) -> String {
        let (meant, rope) = (Rope::from_str(meant), Rope::from_str(text));
        let at = |offset: usize| {
            let line = meant.char_to_line(offset);
            rope.line_to_char(line) + offset - meant.line_to_char(line)
        };
        apply(text, at(start), at(end), with)
    }

    #[test]
    fn an_edit_that_landed_against_newer_text_is_repaired_then_redone() {
        let before = "top\n{\n    old();\n    two();\n}\nend\n";
        // The region is the block (4..30); the job wants "TWO" for "two".
        let rope = Rope::from_str(before);
        let mut s = StreamSession::new(&rope, 1, Region::new(4, 30));
        s.set_client_answers(false);
        s.set_desired("{\n    old();\n    TWO();\n}\n");
        let edit = s.next_edit(&rope, 1).expect("an edit");
        assert_eq!((edit.start, edit.end, edit.text.as_str()), (21, 24, "TWO"));
        // The user opened a line above before the edit arrived; the editor applied it anyway,
        // at its line and column: one line too high, over "old".
        let typed = apply(before, 3, 3, "\n// x");
        let reported = apply_at_lines(before, &typed, edit.start, edit.end, &edit.text);
        assert_eq!(reported, "top\n// x\n{\n    TWO();\n    two();\n}\nend\n");
        let after = Rope::from_str(&reported);
        assert_eq!(s.on_whole_text(&rope, &after, 2), ChangeOutcome::Lost);
        // First the repair, then the edit again where it belongs now.
        let repair = s.next_edit(&after, 2).expect("the repair");
        let repaired = apply(&reported, repair.start, repair.end, &repair.text);
        assert_eq!(repaired, typed);
        let rope2 = Rope::from_str(&repaired);
        assert_eq!(s.on_whole_text(&after, &rope2, 3), ChangeOutcome::Landed);
        let redo = s.next_edit(&rope2, 3).expect("the edit again");
        let done = apply(&repaired, redo.start, redo.end, &redo.text);
        assert_eq!(done, "top\n// x\n{\n    old();\n    TWO();\n}\nend\n");
        let rope3 = Rope::from_str(&done);
        assert_eq!(s.on_whole_text(&rope2, &rope3, 4), ChangeOutcome::Landed);
        assert!(s.is_settled());
    }

    #[test]
    fn a_ranged_report_of_an_edit_applied_against_newer_text_is_repaired() {
        // Neovim's stock handler applies an edit at version 0 without checking it.
        let before = "// top\nfn double(x: u32) -> u32 {\n    todo!()\n}\n";
        let rope = Rope::from_str(before);
        let mut s = StreamSession::new(&rope, 0, Region::new(7, 48));
        s.set_desired("fn double(x: u32) -> u32 {\n    let y = x;\n    todo!()\n}\n");
        let edit = s.next_edit(&rope, 0).expect("an edit");
        assert_eq!((edit.start, edit.end), (38, 38));
        let typed = apply(before, 7, 7, "// above 1\n");
        let reported = apply_at_lines(before, &typed, edit.start, edit.end, &edit.text);
        assert!(reported.contains("fn dlet y = x;\n    ouble"), "{reported}");
        let changes = [
            CharChange::new(7, 7, "// above 1\n"),
            CharChange::new(22, 22, edit.text.clone()),
        ];
        let after = Rope::from_str(&reported);
        assert_eq!(
            s.on_did_change(&rope, &changes, &after, 15),
            ChangeOutcome::Lost
        );
        let repair = s.next_edit(&after, 15).expect("the repair");
        let repaired = apply(&reported, repair.start, repair.end, &repair.text);
        assert_eq!(repaired, typed);
        let rope2 = Rope::from_str(&repaired);
        let echo = [CharChange::new(
            repair.start,
            repair.end,
            repair.text.clone(),
        )];
        assert_eq!(
            s.on_did_change(&after, &echo, &rope2, 16),
            ChangeOutcome::Landed
        );
        let redo = s.next_edit(&rope2, 16).expect("the edit again");
        let done = apply(&repaired, redo.start, redo.end, &redo.text);
        assert_eq!(
            done,
            "// top\n// above 1\nfn double(x: u32) -> u32 {\n    let y = x;\n    todo!()\n}\n"
        );
    }
}
