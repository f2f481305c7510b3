//! What one streaming session sends and has in flight: the versioned edit, and what the
//! session knows of it until a report settles it.

use ropey::Rope;

use super::anchor::Region;
use super::echo::SentEdit;
use super::misapplied::Placed;

/// An edit to send as a versioned `workspace/applyEdit`: replace `start..end` (chars,
/// in the document at `version`) with `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEdit {
    /// Identifies the edit in [`StreamSession::on_apply_answer`]; unique per session.
    pub id: u64,
    pub version: i32,
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// The edit that was sent and is not settled yet: not known landed or lost, or landed
/// but (with a client that answers) not answered yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFlight {
    pub edit: OutgoingEdit,
    /// The editor answered `applied: true`. Only a hint: Neovim says so for edits it
    /// dropped.
    pub answered: bool,
    /// A `didChange` showed the edit; the session waits for the answer before the next
    /// edit, because an `applied: false` would mean that what looked like the echo was
    /// the user typing the same text (see [`StreamSession::set_client_answers`]).
    pub landed: bool,
    /// The region's start when the edit was computed; once the edit lands, the region
    /// is `region_start..region_start + sent_len`.
    pub(super) region_start: usize,
    /// The desired text the edit puts in the region.
    pub(super) sent: String,
    /// Once landed but unanswered: where the region would be, and whether the user would
    /// have typed inside it, had every change since been the user's.
    pub(super) if_refused: Option<(Region, bool)>,
    /// Once landed but unanswered: whether the user typed inside the region, reading the
    /// changes as the echo and typing after it. Reported only once the answer confirms
    /// that reading.
    pub(super) inside_if_applied: bool,
    /// The edit repairs a misplaced one (see the `misapplied` module): if it is lost, the
    /// repair goes out again.
    pub(super) repair: Option<super::misapplied::PendingRepair>,
    /// The lines and columns the edit named when it went out, once a report that did not
    /// show it was read (see [`StreamSession::lands_late`]): its offsets then follow the
    /// region, but an editor that ignores versions applies it at these.
    pub(super) wire: Option<((usize, usize), (usize, usize))>,
    /// Sent blind: at the version the editor said it has, against the text last reported (see
    /// the `blind` module).
    pub(super) blind: bool,
    /// Sent blind, and known to land wrong (see the `blind` module).
    pub(super) doomed: bool,
    /// The edit puts back what a blind edit misplaced.
    pub(super) undo: Option<super::blind::Undo>,
}

impl InFlight {
    /// `edit` just sent, the region starting at `region_start` and holding `sent` once it
    /// landed: nothing known of it yet.
    pub(crate) fn new(edit: OutgoingEdit, region_start: usize, sent: String) -> Self {
        Self {
            edit,
            answered: false,
            landed: false,
            region_start,
            sent,
            if_refused: None,
            inside_if_applied: false,
            repair: None,
            wire: None,
            blind: false,
            doomed: false,
            undo: None,
        }
    }

    /// Fixes where the editor applies the edit, whatever the typing does to the text from now
    /// on: its lines and columns as [`Self::placed`] in `text` says.
    pub(crate) fn pin_wire(&mut self, text: &Rope) {
        let placed = self.placed(text);
        self.wire = Some((placed.start, placed.end));
    }

    /// The edit at its place in the region, now that the region starts at `region_start`.
    pub(crate) fn move_to(&mut self, region_start: usize) {
        let into = self.edit.start - self.region_start;
        let span = self.edit.end - self.edit.start;
        self.region_start = region_start;
        self.edit.start = region_start + into;
        self.edit.end = self.edit.start + span;
    }

    /// Where the region is once the edit landed, in the text with the edit applied (its
    /// offsets are those of the text the edit was computed against).
    pub(crate) fn landed_region(&self) -> Region {
        Region::new(
            self.region_start,
            self.region_start + self.sent.chars().count(),
        )
    }

    /// The edit as sent, in char offsets.
    pub(crate) fn sent_edit(&self) -> SentEdit<'_> {
        SentEdit {
            start: self.edit.start,
            end: self.edit.end,
            text: &self.edit.text,
        }
    }

    /// The edit as the editor applies it, in lines and columns of `text` (the text as last
    /// reported): where it was sent, once it was carried over a report that did not show it
    /// (see [`StreamSession::lands_late`]); where it is meant otherwise.
    pub(crate) fn placed(&self, text: &Rope) -> Placed<'_> {
        let meant = Placed::of(text, &self.sent_edit());
        match self.wire {
            Some((start, end)) => Placed {
                start,
                end,
                ..meant
            },
            None => meant,
        }
    }

    /// Whether the editor, applying the edit as [`Self::placed`] in `reported` says, changes
    /// `text` at all: one carried astray may fall on a line too short for it, which the editor
    /// clamps to nothing, and no report will ever show it.
    pub(crate) fn changes(&self, reported: &Rope, text: &Rope) -> bool {
        let placed = self.placed(reported);
        let at = |pos| super::misapplied::clamped(text, pos).unwrap_or(text.len_chars());
        let (start, end) = (at(placed.start), at(placed.end));
        !text
            .slice(start..end.max(start))
            .chars()
            .eq(placed.text.chars())
    }

    /// Whether the editor, applying the edit where it was sent, puts it elsewhere than meant in
    /// `text` (the user's typing reported since moved the region's lines).
    pub(crate) fn goes_astray(&self, text: &Rope) -> bool {
        let meant = Placed::of(text, &self.sent_edit());
        self.wire
            .is_some_and(|wire| wire != (meant.start, meant.end))
    }
}
