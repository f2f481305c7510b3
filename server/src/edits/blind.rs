//! Edits sent blind. Emacs' eglot refuses an edit whose version is not its buffer's, saying which
//! version it has ("… require version 7, you have 12"), and holds its reports while the user
//! types. Rather than wait for the report, the job sends its next edit at the version the editor
//! named, computed against the text last reported, and once it is applied the next at the version
//! after it, against the text with it (a chain): eglot applies each at its lines and columns to
//! the text it holds, the user's unreported typing included. Its next report lists every change
//! in order, one version each, so each edit is the change at its version. Read there, it landed
//! where it was meant (the typing was elsewhere, or on other lines), or where the typing moved
//! its lines or columns: then the changes around it say exactly what it and the edits after it
//! put in and took out (see the `tagged` module), and that is put back first.

use std::collections::VecDeque;

use ropey::Rope;

use super::anchor::{Rebased, rebase_over};
use super::diff::common_affixes;
use super::misapplied::clamped;
use super::stream::InFlight;
use super::tagged::Tagged;
use super::{ChangeOutcome, CharChange, OutgoingEdit, Region, StreamSession, apply_change};

/// What blind edits misplaced, to put back: `span` of the text as last reported holds the job's
/// misplaced text, and `text` is due there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Undo {
    pub span: Region,
    pub text: String,
    /// Inside the region, which then holds what it puts back.
    pub inside: bool,
}

/// How many edits go out blind, at most, before a report: each refused one was refused because
/// the user typed on meanwhile, and the next report explains them all.
const MAX_BLIND: u32 = 20;

impl StreamSession {
    /// The editor refused an edit saying its text is at `version`, newer than its last report:
    /// that report is on its way, and meanwhile the next edit may go out blind, at `version`.
    pub fn editor_has(&mut self, version: i32) {
        self.editor_ahead = true;
        self.editor_at = Some(version);
    }

    /// The version for an edit sent blind, if one may go: the editor named a version newer than
    /// the last report and than the last edit it refused; no edit is taken as landed, and no
    /// repair waits (a repair needs the text it repairs). Unless the last report showed the user
    /// typing below the region (that moves no line or column the edit names, and the user likely
    /// types on where they were), the edit is an [`insertion`]: typing above may have moved the
    /// region's lines.
    pub(super) fn blind_version(&self) -> Option<i32> {
        let at = self.editor_at?;
        let newer = at > self.version && self.refused_at.is_none_or(|refused| at > refused);
        let waits = self.assumed.is_some() || self.repair.is_some() || !self.undos.is_empty();
        (newer && !waits && self.blind_sent < MAX_BLIND).then_some(at)
    }

    /// The editor applied the blind edit in flight (it answered `applied: true`): until a report
    /// shows it, the next edit goes against the text with it where it was meant, at the
    /// version after it.
    pub(super) fn chain_blind(&mut self) {
        let Some(mut flight) = self.in_flight.take() else {
            return;
        };
        flight.answered = true;
        if self.blind_base.is_none() {
            self.blind_base = Some((self.doc.clone(), self.region));
        }
        let edit = &flight.edit;
        apply_change(
            &mut self.doc,
            &CharChange::new(edit.start, edit.end, edit.text.clone()),
        );
        self.region = flight.landed_region();
        self.editor_at = Some(edit.version + 1);
        self.chain.push(flight);
    }

    /// A ranged report (`changes` over `before`, now `after` at `version`) while edits sent
    /// blind are applied or in flight: `None` when there are none. Each that the report holds,
    /// at its version, is read in turn (the user's changes before it, then it: landed where
    /// meant, or put back); then the changes after the last; the ones it does not hold yet wait
    /// for the next report.
    pub(super) fn read_blind(
        &mut self,
        before: &Rope,
        changes: &[CharChange],
        after: &Rope,
        version: i32,
    ) -> Option<ChangeOutcome> {
        let in_flight_blind = self
            .in_flight
            .as_ref()
            .is_some_and(|f| f.blind && !f.landed);
        if self.chain.is_empty() && self.doomed.is_empty() && !in_flight_blind {
            return None;
        }
        // Back to the text as reported: the edits are read from the report.
        if let Some((text, region)) = self.blind_base.take() {
            self.doc = text;
            self.region = region;
        }
        let mut all: Vec<InFlight> = self.doomed.drain(..).chain(self.chain.drain(..)).collect();
        if in_flight_blind {
            all.extend(self.in_flight.take());
        }
        all.sort_by_key(|f| f.edit.version);
        let mut pending: VecDeque<InFlight> = all.into();
        let mut text = before.clone();
        let mut rest = changes;
        let mut outcome = ChangeOutcome::Unchanged;
        while let Some(flight) = pending.front() {
            let at = usize::try_from(flight.edit.version - self.version)
                .ok()
                .filter(|&at| at < rest.len());
            let Some(at) = at else { break };
            let flight = pending.pop_front()?;
            match self.read_one(flight, &text, &rest[..=at]) {
                Read::Landed(read, with) => {
                    outcome = most(outcome, read);
                    text = with;
                    rest = &rest[at + 1..];
                }
                Read::Elsewhere(typed, before_ours, from) => {
                    let read =
                        self.put_back(&before_ours, &rest[at..], from, pending, after, version);
                    return Some(most(outcome, most(typed, read)));
                }
                // Not the edit: lost, and the ones after it, computed with it, too.
                Read::NotIt => {
                    self.failed_attempts += 1;
                    pending.clear();
                }
            }
            if self.held || self.repair.is_some() {
                pending.clear();
            }
        }
        let then = self.report(&text, rest, after, version, None);
        outcome = most(outcome, then);
        self.wait_for(pending);
        Some(outcome)
    }

    /// Blind edits the report did not hold yet: applied where meant again (the region moved),
    /// the last one back in flight if it was not answered.
    fn wait_for(&mut self, pending: VecDeque<InFlight>) {
        for mut flight in pending {
            if flight.doomed {
                self.doomed.push(flight);
                continue;
            }
            flight.move_to(self.region.start);
            let at = flight.edit.version;
            if flight.answered {
                self.in_flight = Some(flight);
                self.chain_blind();
            } else {
                self.in_flight = Some(flight);
            }
            self.editor_at = self.editor_at.max(Some(at));
        }
    }

    /// One blind edit read from `changes` over `text`, the last of which may be it.
    fn read_one(&mut self, mut flight: InFlight, text: &Rope, changes: &[CharChange]) -> Read {
        let Some((ours, typed)) = changes.split_last() else {
            return Read::NotIt;
        };
        let Some(wire) = flight.wire else {
            return Read::NotIt;
        };
        let mut before_ours = text.clone();
        for change in typed {
            apply_change(&mut before_ours, change);
        }
        let place = |pos| clamped(&before_ours, pos).unwrap_or(before_ours.len_chars());
        let (start, end) = (place(wire.0), place(wire.1).max(place(wire.0)));
        if (ours.start, ours.old_end, ours.text.as_str()) != (start, end, flight.edit.text.as_str())
        {
            return Read::NotIt;
        }
        let version = flight.edit.version;
        // The user's changes before it, read with it aside (they are not its echo).
        let typed = self.report(text, typed, &before_ours, version, None);
        // Where it was meant now: at its place in the region.
        flight.move_to(self.region.start);
        if typed == ChangeOutcome::UserEditedInside
            || flight.doomed
            || (flight.edit.start, flight.edit.end) != (start, end)
        {
            return Read::Elsewhere(typed, before_ours, version);
        }
        // Where it was meant: its echo, as any report shows it.
        let mut with = before_ours.clone();
        apply_change(&mut with, ours);
        self.in_flight = Some(flight);
        let landed = self.report(
            &before_ours,
            std::slice::from_ref(ours),
            &with,
            version + 1,
            None,
        );
        Read::Landed(most(typed, landed), with)
    }

    /// A blind edit landed elsewhere than meant: the typing before it moved its lines or
    /// columns. `changes` (over `text`) start with it, at version `from`; the blind edits still
    /// `pending` were computed with it where it was meant, so they landed wrong too. What they
    /// put in and took out is known exactly: the edits that put it all back go first (see
    /// [`Self::send_undo`]). The outcome for the report.
    fn put_back(
        &mut self,
        text: &Rope,
        changes: &[CharChange],
        from: i32,
        mut pending: VecDeque<InFlight>,
        after: &Rope,
        version: i32,
    ) -> ChangeOutcome {
        let mut tagged = Tagged::new(text, self.region);
        for undo in &self.undos {
            tagged.misplaced(undo.span, &undo.text, undo.inside);
        }
        let mut followed = true;
        for (i, change) in changes.iter().enumerate() {
            let at = from + i as i32;
            let junk = i == 0
                || pending
                    .front()
                    .is_some_and(|f| f.edit.version == at && f.edit.text == change.text);
            if junk && i > 0 {
                pending.pop_front();
            }
            followed &= tagged.apply(change, junk);
        }
        if !followed || *after != tagged.editor().as_str() {
            // Past following: read as any report (the job stops if that is typing inside).
            return self.report(text, changes, after, version, None);
        }
        self.doc = after.clone();
        self.version = version;
        self.region = tagged.editor_region();
        self.failed_attempts += 1;
        self.editor_ahead = false;
        self.editor_at = None;
        self.blind_sent = 0;
        self.undos.clear();
        for (span, text, inside) in tagged.put_back() {
            self.undos.push_back(Undo { span, text, inside });
        }
        // The ones still on their way land wrong as well: the next report puts them back.
        for mut flight in pending {
            flight.doomed = true;
            self.doomed.push(flight);
        }
        ChangeOutcome::Lost
    }

    /// The edit that puts back what a blind edit misplaced, if one waits: it goes before any
    /// other, at the version last reported. Not while blind edits known to land wrong are still
    /// on their way: the editor gives them the versions from the one last reported on, so an
    /// undo there would be refused, and the next report, which puts them back too, would find
    /// the misplaced text elsewhere than the undo's span says.
    pub(super) fn send_undo(&mut self) -> Option<OutgoingEdit> {
        if !self.doomed.is_empty() {
            return None;
        }
        let undo = self.undos.pop_front()?;
        let edit = OutgoingEdit {
            id: self.next_id,
            version: self.version,
            start: undo.span.start,
            end: undo.span.end,
            text: undo.text.clone(),
        };
        self.next_id += 1;
        let region_text = self
            .doc
            .slice(self.region.start..self.region.end)
            .to_string();
        self.in_flight = Some(InFlight {
            undo: Some(undo),
            ..InFlight::new(edit.clone(), self.region.start, region_text)
        });
        Some(edit)
    }
}

/// Whether the user's `changes` (each applying to the result of the previous) around `region`
/// were above it, last: `None` when there are none. A change that ends at the region's start
/// is above it; one inside it is neither.
pub(super) fn typed_above(mut region: Region, changes: &[CharChange]) -> Option<bool> {
    let mut above = None;
    for change in changes {
        if change.old_end.max(change.start) <= region.start {
            above = Some(true);
        } else if change.start >= region.end {
            above = Some(false);
        }
        if let Rebased::Moved(moved) = rebase_over(region, change) {
            region = moved;
        }
    }
    above
}

/// What one blind edit turned out to be.
enum Read {
    /// Where it was meant: the outcome, and the text after it.
    Landed(ChangeOutcome, Rope),
    /// Elsewhere: the outcome of the user's changes before it, the text they left, and its
    /// version.
    Elsewhere(ChangeOutcome, Rope, i32),
    /// The change at its version is not it.
    NotIt,
}

/// The outcome that says the most of two readings (see [`ChangeOutcome`]).
fn most(a: ChangeOutcome, b: ChangeOutcome) -> ChangeOutcome {
    let rank = |o: ChangeOutcome| match o {
        ChangeOutcome::Unchanged => 0,
        ChangeOutcome::Moved => 1,
        ChangeOutcome::Lost => 2,
        ChangeOutcome::Landed => 3,
        ChangeOutcome::UserEditedInside => 4,
    };
    if rank(b) > rank(a) { b } else { a }
}

/// A blind edit that is right wherever it lands: the user may be typing above the region, and
/// eglot has not reported it, so any edit may land some lines off. It inserts the whole lines of
/// `desired` that `current` (the region's text, each in chars) lacks before their first common
/// line, up to the last one after which brackets balance, at the start of the line where they
/// go: wherever it lands it splits, removes and unbalances nothing. The lines the new text
/// passed stay until a report shows where the region is. `None` when no such line is due, or
/// when it would go at the region's start and that does not start a line (`starts_line`).
/// The offset in `current` and the text.
pub(super) fn insertion(
    current: &[char],
    desired: &[char],
    starts_line: bool,
) -> Option<(usize, String)> {
    let (ours, theirs) = (lines(current), lines(desired));
    let (prefix, suffix) = common_affixes(&ours, &theirs);
    let new = &theirs[prefix..theirs.len() - suffix];
    let (mut depth, mut whole) = (0, 0);
    for (i, line) in new.iter().enumerate() {
        let ended = matches!(line.last(), Some('\n' | '\r'));
        let after = line
            .iter()
            .try_fold(depth, |d, &c| Some(d + bracket(c)).filter(|d| *d >= 0));
        let Some(after) = after.filter(|_| ended) else {
            break;
        };
        depth = after;
        if depth == 0 {
            whole = i + 1;
        }
    }
    let at = ours[..prefix].iter().map(|line| line.len()).sum();
    let text: String = new[..whole].iter().flat_map(|line| line.iter()).collect();
    (!text.is_empty() && (at > 0 || starts_line)).then_some((at, text))
}

/// What `c` does to the depth of brackets: opens one, closes one, or neither.
pub(super) fn bracket(c: char) -> i64 {
    match c {
        '(' | '[' | '{' => 1,
        ')' | ']' | '}' => -1,
        _ => 0,
    }
}

/// Whether `at` starts a line of `text`.
pub(super) fn starts_line(text: &Rope, at: usize) -> bool {
    at == 0
        || match text.get_char(at - 1) {
            Some('\n') => true,
            Some('\r') => text.get_char(at) != Some('\n'),
            _ => false,
        }
}

/// `text` in lines, each with its line break (`\n`, `\r\n` or `\r`), the last maybe without.
fn lines(text: &[char]) -> Vec<&[char]> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < text.len() {
        let end = match text[i] {
            '\r' if text.get(i + 1) == Some(&'\n') => i + 2,
            '\r' | '\n' => i + 1,
            _ => {
                i += 1;
                continue;
            }
        };
        lines.push(&text[start..end]);
        start = end;
        i = end;
    }
    if start < text.len() {
        lines.push(&text[start..]);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::insertion;

    #[test]
    fn a_blind_edit_the_user_maybe_typing_above_inserts_only_whole_balanced_lines_at_a_line_start()
    {
        let fn_d = "fn d() {\n    todo!()\n}\n";
        /// The region's text, the text wanted there, and the insertion (at, text).
        type Case = (&'static str, &'static str, Option<(usize, &'static str)>);
        let cases: &[Case] = &[
            (
                fn_d,
                "fn d() {\n    let y = 1;\n    todo!()\n}\n",
                Some((9, "    let y = 1;\n")),
            ),
            // The line the new text passed stays: a report shows where it is first.
            (
                fn_d,
                "fn d() {\n    let y = 1;\n    y\n}\n",
                Some((9, "    let y = 1;\n    y\n")),
            ),
            // A block goes in once it is closed, never a bracket alone.
            (fn_d, "fn d() {\n    if a {\n    todo!()\n}\n", None),
            (
                fn_d,
                "fn d() {\n    if a {\n        b()\n    }\n    c(\n}\n",
                Some((9, "    if a {\n        b()\n    }\n")),
            ),
            ("fn d() {\n    x\n", "fn d() {\n    x\n}\n", None),
            // A line not ended yet, or nothing new: nothing.
            ("a\n", "a\nb", None),
            ("a\nb\nc\n", "a\nc\n", None),
            // Every LSP line break.
            ("a\r\nc\r\n", "a\r\nb\r\nc\r\n", Some((3, "b\r\n"))),
            ("a\rc\r", "a\rb\rc\r", Some((2, "b\r"))),
            ("", "a\n", Some((0, "a\n"))),
        ];
        for (current, desired, want) in cases {
            let chars = |s: &str| s.chars().collect::<Vec<_>>();
            let got = insertion(&chars(current), &chars(desired), true);
            let want = want.map(|(at, text)| (at, text.to_string()));
            assert_eq!(got, want, "{current:?} to {desired:?}");
        }
    }
}
