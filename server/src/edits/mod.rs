//! Edits that converge: anchors that follow the user's typing, minimal diffs, and the
//! streaming applier that turns "what the job wants the region to contain" into one
//! versioned edit at a time. Pure and synchronous: no LSP types, no async, no I/O.
//!
//! All offsets are `char` offsets into a [`ropey::Rope`] (ropey is built with
//! `cr_lines`, so line ends agree with LSP's). The LSP layer converts positions.
//!
//! - `anchor`: regions and how a change moves them or falls inside them.
//! - `diff`: minimal char diffs between two texts.
//! - `echo`: finding the job's own edit in a `didChange`, by text.
//! - `assumed`: edits taken as landed though no `didChange` showed them (kak-lsp).
//! - `stream`: [`StreamSession`], one job's region; its module docs give the call
//!   protocol for the LSP layer.
//! - `document`: [`DocumentEdits`], the sessions of one document, one edit in flight.
//! - `streaming_diff`: [`StreamingDiff`], what a region shows while the model rewrites it.
//! - `merge`: three-way merge by lines (an agent's whole-file write over the user's typing).
//! - `report`: reading one `didChange` against the edit in flight (landed, lost, typing inside).
//! - `whole_text`: reading a whole-text `didChange` around a region.
//! - `misapplied`, `misplaced`: edits an editor applied at lines the user's unreported typing had
//!   moved (one, or several at once), and the edit that repairs them.
//!
//! Tests: `sim` (simulated editors), `stream_tests` (scripted cases per editor),
//! `prop_tests` and `document_prop_tests` (random interleavings against a replay).

pub mod anchor;
pub mod assumed;
mod blind;
pub mod diff;
pub mod document;
mod echo;
mod flight;
mod merge;
mod misapplied;
mod misplaced;
mod report;
pub mod stream;
pub mod streaming_diff;
mod tagged;
mod whole_text;

pub use anchor::{Rebased, Region, rebase_over, slide_out};
pub use diff::{minimal_edits, to_sequential};
pub use document::DocumentEdits;
pub use merge::merge3;
pub use stream::{ChangeOutcome, InFlight, OutgoingEdit, StreamSession};
pub use streaming_diff::StreamingDiff;

#[cfg(test)]
mod document_prop_tests;
#[cfg(test)]
mod prop_tests;
#[cfg(test)]
mod sim;
#[cfg(test)]
mod soak_tests;
#[cfg(test)]
mod stream_tests;

use ropey::Rope;

/// One text change in char offsets: replace `start..old_end` (in the text as it was just
/// before this change) with `text`. A `didChange` is a list of these, each applying to
/// the result of the previous one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CharChange {
    pub start: usize,
    pub old_end: usize,
    pub text: String,
}

impl CharChange {
    pub fn new(start: usize, old_end: usize, text: impl Into<String>) -> Self {
        Self {
            start,
            old_end,
            text: text.into(),
        }
    }

    /// Number of chars the change inserts.
    pub fn new_len(&self) -> usize {
        self.text.chars().count()
    }
}

/// Applies `change` to `rope`, clamping its range to the text. The LSP layer rejects
/// changes that do not fit before they reach this module (they mark the document out
/// of sync), so clamping only keeps a caller's bug from becoming a panic here.
pub fn apply_change(rope: &mut Rope, change: &CharChange) {
    let len = rope.len_chars();
    let start = change.start.min(len);
    let end = change.old_end.clamp(start, len);
    rope.remove(start..end);
    rope.insert(start, &change.text);
}
