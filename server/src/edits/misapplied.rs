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
            version: self.version,
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
#[path = "misapplied_tests.rs"]
mod tests_of;
