//! The harness of the simulated sessions: a [`StreamSession`] against a [`SimEditor`], the
//! user's typing replayed on the side of the region, and time stepped by the test.

use ropey::Rope;

use super::*;
use crate::edits::blind::{bracket, starts_line};
use crate::edits::{ChangeOutcome, CharChange, OutgoingEdit, Region, StreamSession, apply_change};

/// Which side of the job's region a user edit falls on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Before,
    After,
}

/// A user edit outside the region: at char `at` of the text on `side` (clamped),
/// delete up to `delete` chars of that side's text and insert `insert`. `at` equal to
/// the length of the `Before` text, or 0 on the `After` side, is the region's boundary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserEdit {
    pub side: Side,
    pub at: usize,
    pub delete: usize,
    pub insert: String,
}

/// A server with one [`StreamSession`], a simulated editor, and the replay: the text the
/// user has on each side of the region, which the editor must always show intact.
#[derive(Debug, Clone)]
pub(crate) struct Harness {
    pub editor: SimEditor,
    pub doc: Rope,
    pub version: i32,
    pub session: StreamSession,
    /// The replay of the user's edits on the text before and after the region.
    pub before: String,
    pub after: String,
    /// Every text the session asked the region to hold (and the original).
    pub region_texts: Vec<String>,
    pub sent: Vec<OutgoingEdit>,
    /// Of those, how many went out blind, and how many put back what one misplaced (see the
    /// session's `blind` module).
    pub blind: usize,
    pub undone: usize,
    /// Of the blind ones, those sent while the user may be typing above the region, and of
    /// those, any that was not an insertion of whole lines with balanced brackets at a line
    /// start (see the session's `blind::insertion`).
    pub blind_above: usize,
    pub blind_above_unsafe: Option<OutgoingEdit>,
    /// What each `didChange` did, and each answer that did something.
    pub outcomes: Vec<ChangeOutcome>,
    /// Set by [`Self::chunk`]: the text the model has streamed so far, if any.
    pub streamed: Option<String>,
    /// Refusals [`Self::wait`] retried.
    pub retried: u32,
}

/// Keeps a test from spinning forever if the session never settles.
const MAX_STEPS: usize = 10_000;

impl Harness {
    /// The document is `before + region + after`; the job rewrites `region`.
    pub fn new(flavor: Flavor, before: &str, region: &str, after: &str) -> Self {
        let text = format!("{before}{region}{after}");
        // Neovim's versions are changedticks, which start well above 1.
        let version = if matches!(flavor, Flavor::Neovim(_)) {
            4
        } else {
            1
        };
        let doc = Rope::from_str(&text);
        let start = before.chars().count();
        let session = StreamSession::new(
            &doc,
            version,
            Region::new(start, start + region.chars().count()),
        );
        Self {
            editor: SimEditor::new(flavor, &text, version),
            doc,
            version,
            session,
            before: before.to_string(),
            after: after.to_string(),
            region_texts: vec![region.to_string()],
            sent: Vec::new(),
            blind: 0,
            blind_above: 0,
            blind_above_unsafe: None,
            undone: 0,
            outcomes: Vec::new(),
            streamed: None,
            retried: 0,
        }
    }

    /// Sends the session's next edit, if one is due.
    pub fn pump(&mut self) {
        if self.editor.flavor.ignores_versions() && self.editor.has_unread() {
            // An edit that crosses the editor's report on the wire, before any answer, is left
            // out of the soak (see `SimEditor::flush`): the server reads what the editor sent
            // first.
            return;
        }
        if let Some(edit) = self.session.next_edit(&self.doc, self.version) {
            self.region_texts.push(self.session.desired().to_string());
            if let Some(flight) = self.session.in_flight() {
                // An insertion sent blind leaves text of its own there (see `blind::insertion`).
                self.region_texts.push(flight.sent.clone());
                self.blind += usize::from(flight.blind);
                if flight.blind && self.session.typing_above {
                    self.blind_above += 1;
                    if !inserts_whole_lines(&self.session.doc, &edit) {
                        self.blind_above_unsafe.get_or_insert(edit.clone());
                    }
                }
                self.undone += usize::from(flight.undo.is_some());
            }
            self.editor.send(edit.clone(), &self.session.view().0);
            self.sent.push(edit);
        }
    }

    /// The model streams `text`.
    pub fn chunk(&mut self, text: &str) {
        let streamed = self.streamed.get_or_insert_with(String::new);
        streamed.push_str(text);
        let desired = streamed.clone();
        self.session.set_desired(&desired);
        self.pump();
    }

    pub fn deliver(&mut self) -> bool {
        self.editor.deliver()
    }

    pub fn flush(&mut self) -> bool {
        self.editor.flush()
    }

    /// The server reads the editor's oldest message. Whether there was one.
    pub fn server_step(&mut self) -> bool {
        let Some(message) = self.editor.next_message() else {
            return false;
        };
        match message {
            ToServer::DidChange {
                changes,
                version,
                whole,
            } => {
                let before = self.doc.clone();
                for change in &changes {
                    apply_change(&mut self.doc, change);
                }
                let outcome = if whole {
                    self.session.on_whole_text(&before, &self.doc, version)
                } else {
                    self.session
                        .on_did_change(&before, &changes, &self.doc, version)
                };
                self.version = version;
                self.outcomes.push(outcome);
            }
            // An answer that changes something is worth recording with the didChanges'.
            ToServer::Stale { id, have } => {
                // As the job engine does: the version first, then the refusal.
                self.session.editor_has(have);
                match self.session.on_apply_answer(id, false) {
                    ChangeOutcome::Unchanged => {}
                    outcome => self.outcomes.push(outcome),
                }
            }
            ToServer::Answer { id, applied } => match self.session.on_apply_answer(id, applied) {
                ChangeOutcome::Unchanged => {}
                outcome => self.outcomes.push(outcome),
            },
        }
        self.pump();
        true
    }

    /// The job engine's grace runs out for the edit in flight, whatever the editor's messages
    /// still on the wire: it is taken as landed if the session lets it (answered, or from an
    /// editor known to apply edits without answering). The grace is long enough for the editor
    /// to have had the edit: nothing happens while it has not. Whether it was taken.
    pub fn grace(&mut self) -> bool {
        let Some(id) = self.session.in_flight().map(|f| f.edit.id) else {
            return false;
        };
        if self.editor.undelivered() > 0 {
            return false;
        }
        let taken = self.session.take_as_landed(id);
        if taken {
            self.pump();
        }
        taken
    }

    /// Runs every wire and timer until nothing moves. Whether it got there.
    pub fn settle(&mut self) -> bool {
        for _ in 0..MAX_STEPS {
            if !(self.deliver() || self.server_step() || self.flush()) {
                return true;
            }
        }
        false
    }

    /// Time passes with the editor quiet: every wire and timer runs until nothing moves,
    /// then the job engine's deadlines apply, as often as they let the job go on. A refusal
    /// still waiting for newer text is retried ([`StreamSession::retry_refused`]), and
    /// [`MAX_REFUSALS`] in a row fail the job; an edit still in flight has its answer timed
    /// out ([`StreamSession::on_answer_timeout`]), which fails the job unless the editor's
    /// text showed the edit. `Err` says why the job failed.
    pub fn wait(&mut self) -> Result<(), String> {
        for _ in 0..MAX_STEPS {
            if !self.settle() {
                return Err("the wires never went quiet".into());
            }
            if self.session.awaiting_change() {
                let refused = self.session.retry_refused();
                self.retried += 1;
                if refused >= MAX_REFUSALS {
                    return Err(format!(
                        "the editor refused the edit {refused} times while its text stayed the same"
                    ));
                }
            } else if let Some(id) = self.session.in_flight().map(|f| f.edit.id) {
                // The engine's grace: an edit answered (or from an editor known to apply
                // without answering) that no report showed is taken as landed.
                if self.session.take_as_landed(id) {
                    self.pump();
                    continue;
                }
                match self.session.on_answer_timeout(id) {
                    None => return Err("the editor did not answer the edit".into()),
                    Some(ChangeOutcome::Unchanged) => {}
                    Some(outcome) => self.outcomes.push(outcome),
                }
            } else {
                return Ok(());
            }
            self.pump();
        }
        Err("the engine's deadlines never let the job settle".into())
    }

    /// The region's span in the editor's buffer, from the replay.
    pub fn editor_region(&self) -> Region {
        let start = self.before.chars().count();
        let end = self
            .editor
            .text
            .len_chars()
            .saturating_sub(self.after.chars().count());
        Region::new(start, end)
    }

    /// The user edits outside the region, in the editor, and the replay follows.
    pub fn user(&mut self, edit: &UserEdit) {
        let region = self.editor_region();
        // In step: the user's text on both sides of a text the job asked the region to hold.
        // (Text of the job's misplaced at the start of the user's after may end like it.)
        let in_step = self.check_between_steps().is_ok();
        let mut edit = edit.clone();
        if !in_step && edit.side == Side::After && self.after.is_empty() {
            // Typing where an empty region may be, which would read as before it.
            edit.side = Side::Before;
        }
        let edit = &edit;
        let side_text = match edit.side {
            Side::Before => &mut self.before,
            Side::After => &mut self.after,
        };
        let side_len = side_text.chars().count();
        // While a misplaced edit shows among the user's text, the replay cannot say where in the
        // editor a place of theirs is: they type at the file's ends then.
        let (at, delete) = match edit.side {
            _ if in_step => (edit.at.min(side_len), edit.delete),
            Side::Before => (0, 0),
            Side::After => (side_len, 0),
        };
        let end = (at + delete).min(side_len);
        let base = match edit.side {
            Side::Before => 0,
            Side::After => region.end,
        };
        let byte = |s: &str, n: usize| s.char_indices().nth(n).map_or(s.len(), |(b, _)| b);
        if at == end && edit.insert.is_empty() {
            return; // Editors report no empty changes.
        }
        let (at_b, end_b) = (byte(side_text, at), byte(side_text, end));
        // A pure insertion at the boundary of an empty region counts as before it. (While a
        // misplaced edit has the editor's text out of step with the replay, the region's span
        // says nothing: it is then not empty.)
        if edit.side == Side::After && at == 0 && end == 0 && region.is_empty() && in_step {
            self.before.push_str(&edit.insert);
        } else {
            side_text.replace_range(at_b..end_b, &edit.insert);
        }
        self.editor
            .user_change(CharChange::new(base + at, base + end, edit.insert.clone()));
    }

    /// The user edits strictly inside the region (as the editor shows it): at char `at`
    /// of the region, delete `delete` chars, insert `insert`.
    pub fn user_inside(&mut self, at: usize, delete: usize, insert: &str) {
        let region = self.editor_region();
        let start = region.start + at;
        self.editor
            .user_change(CharChange::new(start, start + delete, insert));
    }

    /// The editor's text between the user's text on both sides, or why there is none:
    /// the invariant that nothing the user typed was lost or moved.
    pub fn editor_region_text(&self) -> Result<String, String> {
        let text = self.editor.text.to_string();
        if !text.starts_with(&self.before) || !text.ends_with(&self.after) {
            return Err(format!(
                "the user's text is not intact: editor {text:?}, user's text before {:?}, after {:?}",
                self.before, self.after
            ));
        }
        let end = text.len() - self.after.len();
        text.get(self.before.len()..end)
            .map(str::to_string)
            .ok_or_else(|| {
                format!(
                    "the user's text overlaps in {text:?}: {:?} / {:?}",
                    self.before, self.after
                )
            })
    }

    /// The editor's region holds one of the texts the job asked for (or the original),
    /// never a mix: the invariant between steps.
    pub fn check_between_steps(&self) -> Result<(), String> {
        let region = self.editor_region_text()?;
        if !self.region_texts.contains(&region) {
            return Err(format!(
                "the region holds {region:?}, which the job never asked for"
            ));
        }
        Ok(())
    }

    /// After [`Self::settle`]: the editor shows `before + expected + after`, the server
    /// agrees, and the session is settled with its region on the job's text.
    pub fn check_final(&self, expected: &str) -> Result<(), String> {
        let region = self.editor_region_text()?;
        if region != expected {
            return Err(format!(
                "region holds {region:?}, expected {expected:?}; editor {:?}",
                self.editor.text
            ));
        }
        if self.doc != self.editor.text {
            return Err(format!(
                "server's document {:?} differs from the editor's {:?}",
                self.doc, self.editor.text
            ));
        }
        if !self.session.is_settled() {
            return Err(format!("session not settled: {:?}", self.session));
        }
        let start = self.before.chars().count();
        let want = Region::new(start, start + expected.chars().count());
        if self.session.region() != want {
            return Err(format!(
                "session's region {:?}, expected {want:?}",
                self.session.region()
            ));
        }
        Ok(())
    }
}

/// Whether `edit` inserts whole lines with balanced brackets at a line start of `text`: wherever
/// lines typed above put it, it then splits, removes and unbalances nothing.
fn inserts_whole_lines(text: &Rope, edit: &OutgoingEdit) -> bool {
    let mut depth = 0;
    let balanced = edit.text.chars().all(|c| {
        depth += bracket(c);
        depth >= 0
    }) && depth == 0;
    edit.start == edit.end
        && starts_line(text, edit.start)
        && balanced
        && edit.text.ends_with(['\n', '\r'])
}
