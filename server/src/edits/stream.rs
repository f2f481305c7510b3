//! The streaming applier: one job's region in one document, converging the editor's
//! text to what the job wants there, one versioned edit at a time.
//!
//! The editor's `didChange` is the only truth; an `applyEdit` answer is a hint. The
//! caller (the LSP layer) follows this protocol:
//!
//! 1. Create the session with [`StreamSession::new`] from the document as last reported.
//! 2. Whenever the job knows more, call [`StreamSession::set_desired`].
//! 3. On every `didChange` of the document, call [`StreamSession::on_did_change`] with
//!    the text before, the changes, the text after and the new version; stop the job
//!    when it answers [`ChangeOutcome::UserEditedInside`].
//! 4. On every `applyEdit` answer, call [`StreamSession::on_apply_answer`] with the
//!    edit's id.
//! 5. After each of 1-4, call [`StreamSession::next_edit`] with the latest document and
//!    version, and send what it returns as a versioned `workspace/applyEdit`. It never
//!    returns a second edit while one is in flight.
//! 6. The job may report `done` only when [`StreamSession::is_settled`]. Timing out an
//!    edit that neither an answer nor a `didChange` resolves is the caller's job, from
//!    [`StreamSession::in_flight`].

use ropey::Rope;

use super::anchor::{Rebased, Region, absorb, rebase_over};
use super::diff::common_affixes;
use super::echo::{SentEdit, echo_len};
use super::{CharChange, char_slice};

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

/// The edit that was sent and is not yet known landed or lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFlight {
    pub edit: OutgoingEdit,
    /// The editor answered `applied: true`. Only a hint: Neovim says so for edits it
    /// dropped.
    pub answered: bool,
    /// The region's start when the edit was computed; once the edit lands, the region
    /// is `region_start..region_start + desired_len`.
    region_start: usize,
    desired_len: usize,
}

/// What a `didChange` did to the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeOutcome {
    /// Nothing touched the region nor moved it, and no edit was resolved.
    Unchanged,
    /// The user's edits outside the region moved it.
    Moved,
    /// The in-flight edit showed up in the editor's text (the region may also have
    /// moved).
    Landed,
    /// The in-flight edit is known lost: the editor moved past the version it targeted
    /// without it. The next edit supersedes it.
    Lost,
    /// The user changed text strictly inside the region. The session sends nothing more
    /// until [`StreamSession::reject`]; the region keeps covering the user's text there.
    UserEditedInside,
}

/// One job's region in one document. See the module docs for the protocol.
#[derive(Debug, Clone)]
pub struct StreamSession {
    region: Region,
    original: String,
    desired: String,
    in_flight: Option<InFlight>,
    next_id: u64,
    failed_attempts: u32,
    /// Set once the user edited inside the region: the job must not overwrite them.
    held: bool,
}

impl StreamSession {
    /// A session for `region` of `rope` (the document as last reported). The region's
    /// current text is kept as the original (for rollback and reject) and is also the
    /// initial desired text, so nothing is sent until [`Self::set_desired`].
    pub fn new(rope: &Rope, region: Region) -> Self {
        let region = clamp(region, rope);
        let original = rope.slice(region.start..region.end).to_string();
        Self {
            region,
            desired: original.clone(),
            original,
            in_flight: None,
            next_id: 1,
            failed_attempts: 0,
            held: false,
        }
    }

    /// The region in the document as last reported to [`Self::on_did_change`].
    pub fn region(&self) -> Region {
        self.region
    }

    /// The region's text before the job touched it.
    pub fn original(&self) -> &str {
        &self.original
    }

    pub fn desired(&self) -> &str {
        &self.desired
    }

    pub fn in_flight(&self) -> Option<&InFlight> {
        self.in_flight.as_ref()
    }

    /// Edits refused (`applied: false`) or lost (the editor moved on without them) since
    /// the last one that landed. The job gives up after a few.
    pub fn failed_attempts(&self) -> u32 {
        self.failed_attempts
    }

    /// Whether the user edited inside the region (see [`ChangeOutcome::UserEditedInside`]).
    pub fn user_edited_inside(&self) -> bool {
        self.held
    }

    /// What the region should contain now: the text so far while the model streams, the
    /// final text at the end.
    pub fn set_desired(&mut self, text: &str) {
        text.clone_into(&mut self.desired);
    }

    /// Takes the job's text back out: the region converges to the original text, like
    /// any other edit. Used after a fault or a cancel.
    pub fn rollback(&mut self) {
        self.desired.clone_from(&self.original);
    }

    /// Puts the original text back even after the user edited inside the region
    /// (`tandem.reject`): the whole region as it now stands, the user's text inside it
    /// included, is replaced.
    pub fn reject(&mut self) {
        self.held = false;
        self.rollback();
    }

    /// No edit in flight and the editor's text shows the desired text in the region.
    pub fn is_settled(&self, rope: &Rope) -> bool {
        self.in_flight.is_none() && region_text_is(rope, self.region, &self.desired)
    }

    /// The next edit to send, if one is due: none while one is in flight, after the user
    /// edited inside the region, or when the region already holds the desired text.
    /// `rope` must be the document at `version`, as last passed to
    /// [`Self::on_did_change`] (or to [`Self::new`]). The edit replaces only the part of
    /// the region's current text that differs from the desired text.
    pub fn next_edit(&mut self, rope: &Rope, version: i32) -> Option<OutgoingEdit> {
        if self.in_flight.is_some() || self.held {
            return None;
        }
        self.region = clamp(self.region, rope);
        let current: Vec<char> = rope.slice(self.region.start..self.region.end).chars().collect();
        let desired: Vec<char> = self.desired.chars().collect();
        if current == desired {
            return None;
        }
        let (prefix, suffix) = common_affixes(&current, &desired);
        let edit = OutgoingEdit {
            id: self.next_id,
            version,
            start: self.region.start + prefix,
            end: self.region.end - suffix,
            text: desired[prefix..desired.len() - suffix].iter().collect(),
        };
        self.next_id += 1;
        self.in_flight = Some(InFlight {
            edit: edit.clone(),
            answered: false,
            region_start: self.region.start,
            desired_len: desired.len(),
        });
        Some(edit)
    }

    /// The editor's answer to the edit `id`. `applied: false` means lost: the next call
    /// to [`Self::next_edit`] recomputes. `applied: true` is only noted; the edit counts
    /// as landed once a `didChange` shows it. Answers to edits already resolved are
    /// ignored.
    pub fn on_apply_answer(&mut self, id: u64, applied: bool) {
        let Some(flight) = self.in_flight.as_mut().filter(|f| f.edit.id == id) else {
            return;
        };
        if applied {
            flight.answered = true;
        } else {
            self.in_flight = None;
            self.failed_attempts += 1;
        }
    }

    /// A `didChange`: `before` is the document as last reported, `changes` turn it into
    /// `after` (each applying to the result of the previous), now at `version`.
    ///
    /// The in-flight edit is recognised by text, not ranges (see the `echo` module): if
    /// the head of the changes turns `before` into `before` with the edit applied, the
    /// edit landed and the rest are the user's. Otherwise the edit is lost: the editor
    /// is past the version it targeted (versions only grow), so it will never apply it.
    pub fn on_did_change(&mut self, before: &Rope, changes: &[CharChange], after: &Rope, version: i32) -> ChangeOutcome {
        let mut region = self.region;
        let mut user_changes = changes;
        let mut fate = None;
        if let Some(flight) = self.in_flight.take() {
            let sent = SentEdit { start: flight.edit.start, end: flight.edit.end, text: &flight.edit.text };
            match echo_len(before, changes, &sent) {
                Some(n) => {
                    region = Region::new(flight.region_start, flight.region_start + flight.desired_len);
                    user_changes = &changes[n..];
                    self.failed_attempts = 0;
                    fate = Some(ChangeOutcome::Landed);
                }
                None if version > flight.edit.version => {
                    self.failed_attempts += 1;
                    fate = Some(ChangeOutcome::Lost);
                }
                // A version that does not grow is out of sync; the LSP layer never sends
                // one here, but keep the edit in flight rather than guess.
                None => self.in_flight = Some(flight),
            }
        }
        let mut inside = false;
        for change in user_changes {
            region = match rebase_over(region, change) {
                Rebased::Moved(moved) => moved,
                Rebased::Inside => {
                    inside = true;
                    absorb(region, change)
                }
            };
        }
        let moved = region != self.region;
        self.region = clamp(region, after);
        if inside {
            self.held = true;
            ChangeOutcome::UserEditedInside
        } else if let Some(fate) = fate {
            fate
        } else if moved {
            ChangeOutcome::Moved
        } else {
            ChangeOutcome::Unchanged
        }
    }
}

fn clamp(region: Region, rope: &Rope) -> Region {
    let len = rope.len_chars();
    Region::new(region.start.min(len), region.end.min(len))
}

fn region_text_is(rope: &Rope, region: Region, text: &str) -> bool {
    let region = clamp(region, rope);
    rope.slice(region.start..region.end).chars().eq(text.chars())
}

/// The single edit that puts `original` back over `region` of `rope` (a finished job's
/// region as it now stands), trimmed to the part that differs; `None` if it is already
/// there. For a job whose session is gone; a live session uses [`StreamSession::reject`].
pub fn reject_edit(rope: &Rope, region: Region, original: &str, version: i32) -> Option<OutgoingEdit> {
    let region = clamp(region, rope);
    let current = rope.slice(region.start..region.end).to_string();
    let cur: Vec<char> = current.chars().collect();
    let orig: Vec<char> = original.chars().collect();
    if cur == orig {
        return None;
    }
    let (prefix, suffix) = common_affixes(&cur, &orig);
    Some(OutgoingEdit {
        id: 0,
        version,
        start: region.start + prefix,
        end: region.end - suffix,
        text: char_slice(original, prefix, orig.len() - suffix).to_string(),
    })
}
