//! The streaming applier: one job's region in one document, converging the editor's
//! text to what the job wants there, one versioned edit at a time.
//!
//! # Call protocol
//!
//! Everything here is synchronous and cheap; the async LSP layer owns the timing. For
//! each job region it keeps one [`StreamSession`] next to the document (the document
//! store hands it the ropes) and calls it like this, always from the task that applies
//! the document's `didChange`s, in the order the messages arrived:
//!
//! 1. [`StreamSession::new`] with the document as last reported, its version and the
//!    region (char offsets). The region's text is kept as the original. Tell it
//!    [`StreamSession::set_client_answers`] if the connection's client has answered an
//!    `applyEdit` before.
//! 2. [`StreamSession::set_desired`] whenever the job knows more: the whole text the
//!    region should hold now (not a delta), already in the document's line ending, and
//!    as coalesced as the job likes (a complete line at a time, say): whatever changed
//!    since the last edit goes out as one edit. [`StreamSession::rollback`] on a fault
//!    or cancel; [`StreamSession::reject`] on `tandem.reject`.
//! 3. On every `didChange` of the document: [`StreamSession::on_did_change`] with the
//!    document before, the changes (each applying to the result of the previous one, as
//!    LSP lists them; for a full-text change, `to_sequential(&minimal_edits(old, new))`),
//!    the document after and the new version.
//! 4. On every `workspace/applyEdit` answer: [`StreamSession::on_apply_answer`]. It is a
//!    hint: `applied: false` frees the slot for an edit recomputed once the editor
//!    reports newer text; `applied: true` changes nothing until a `didChange` shows the
//!    edit, and then releases the next edit (with a client that answers).
//! 5. When 3 or 4 answers [`ChangeOutcome::UserEditedInside`], the job stops
//!    (`cancelled`) and the session sends nothing until [`StreamSession::reject`].
//! 6. After each of 1-4: [`StreamSession::next_edit`] with the document as last
//!    reported and its version; send what it returns as a versioned `applyEdit`
//!    (`documentChanges`, that version). It returns nothing while an edit is in flight,
//!    so an edit is only computed once the previous one landed or is known lost, and a
//!    lost edit is never replayed: the next one says what the region should hold now.
//! 7. The job reports `done` (and a cancel or reject is complete) only when
//!    [`StreamSession::is_settled`]; its `{range}` is [`StreamSession::region`].
//!    Timing out an edit is the caller's job: when the contract's 10 s pass with
//!    [`StreamSession::in_flight`] still showing it, call
//!    [`StreamSession::on_answer_timeout`], which says whether the job goes on (the
//!    edit landed, the answer alone is missing; handle its outcome as in 5) or fails. The same deadline applies
//!    while [`StreamSession::awaiting_change`] (after a refusal, until the editor
//!    reports its newer text); [`StreamSession::failed_attempts`] counts losses.
//!
//! One edit in flight per *document*: when several jobs share a document, keep their
//! sessions in a [`DocumentEdits`](super::DocumentEdits), which asks one session at a
//! time for its next edit and tells every session of every change. The echo of an edit
//! is looked for at the head of the next `didChange` (see the `echo` module), which
//! holds only if no other edit of the server could have landed in between.

use ropey::Rope;

use super::CharChange;
use super::anchor::{Region, clamp};
use super::diff::common_affixes;
pub use super::flight::{InFlight, OutgoingEdit};

/// What a `didChange` (or an answer) did to the session. When several things happened,
/// the first that applies in this order is reported: `UserEditedInside`, `Landed`,
/// `Lost`, `Moved`, `Unchanged`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeOutcome {
    /// Nothing touched the region nor moved it, and no edit was resolved.
    Unchanged,
    /// The user's edits outside the region moved it.
    Moved,
    /// The in-flight edit showed up in the editor's text (the region may also have
    /// moved).
    Landed,
    /// The in-flight edit is known lost: the editor refused it, or moved past the
    /// version it targeted without it. The next edit supersedes it.
    Lost,
    /// The user changed text strictly inside the region. The session sends nothing more
    /// until [`StreamSession::reject`]; the region grows to cover the user's text there.
    UserEditedInside,
}

/// One job's region in one document. See the module docs for the protocol.
#[derive(Debug, Clone)]
pub struct StreamSession {
    /// The document as last reported (a rope clone is cheap and shares its nodes), and
    /// its version as far as the session knows.
    pub(super) doc: Rope,
    pub(super) version: i32,
    pub(super) region: Region,
    original: String,
    desired: String,
    pub(super) in_flight: Option<InFlight>,
    /// Edits taken as landed though no `didChange` showed them (see the `assumed` module):
    /// the document as the editor last reported it, before them; `doc` holds them.
    pub(super) assumed: Option<Rope>,
    /// Those edits as they were in flight, in order, each against the text with the ones before.
    pub(super) assumed_flights: Vec<InFlight>,
    /// An edit was taken as landed, and no report since showed otherwise.
    pub(super) taken_as_landed: bool,
    /// The editor said it is past the version of an edit it refused (see
    /// [`Self::expect_newer_text`]); cleared by its next report.
    pub(super) editor_ahead: bool,
    /// The version the editor said it has, past the last report (see the `blind` module).
    pub(super) editor_at: Option<i32>,
    /// Edits sent blind since the last report.
    pub(super) blind_sent: u32,
    /// The user's last reported typing was above the region, or none was reported yet (see the
    /// `blind` module).
    pub(super) typing_above: bool,
    /// What blind edits misplaced, to put back (in order) before the next edit.
    pub(super) undos: std::collections::VecDeque<super::blind::Undo>,
    /// Edits sent blind that the editor applied and no report showed yet, in order; `doc` holds
    /// them where they were meant (see the `blind` module).
    pub(super) chain: Vec<InFlight>,
    /// While `chain` is not empty: the text as last reported, and the region in it.
    pub(super) blind_base: Option<(Rope, Region)>,
    /// Blind edits sent that will land wrong (computed with one that did), not in the view.
    pub(super) doomed: Vec<InFlight>,
    /// An edit landed that the editor never answered, on a connection with no answer yet:
    /// the editor applies edits without answering (Vim's ALE).
    pub(super) lands_unanswered: bool,
    /// An edit landed against newer text: the edit that repairs it goes first (see the
    /// `misapplied` module).
    pub(super) repair: Option<super::misapplied::PendingRepair>,
    /// Repairs started so far (see the `misapplied` module, which bounds them).
    pub(super) repairs: u32,
    /// The editor refused an edit: it checks versions, so no edit of it lands against newer
    /// text, and a report that looks like one is the user's typing.
    pub(super) checks_versions: bool,
    pub(super) client_answers: bool,
    /// The editor reports its whole text (kak-lsp, Vim's ALE).
    pub(super) reports_whole_text: bool,
    /// The version of the last edit the editor refused: no point sending another
    /// computed against it, the editor is past it and its `didChange` is on the way.
    pub(super) refused_at: Option<i32>,
    pub(super) next_id: u64,
    pub(super) failed_attempts: u32,
    /// Refusals in a row that no newer text explained (see [`Self::retry_refused`]).
    pub(super) unexplained_refusals: u32,
    /// Set once the user edited inside the region: the job must not overwrite them.
    pub(super) held: bool,
}

impl StreamSession {
    /// A session for `region` of `rope` (the document as last reported, at `version`).
    /// The region's current text is kept as the original (for rollback and reject) and
    /// is also the initial desired text, so nothing is sent until [`Self::set_desired`].
    pub fn new(rope: &Rope, version: i32, region: Region) -> Self {
        let region = clamp(region, rope);
        let original = rope.slice(region.start..region.end).to_string();
        Self {
            doc: rope.clone(),
            version,
            region,
            desired: original.clone(),
            original,
            in_flight: None,
            client_answers: false,
            reports_whole_text: false,
            refused_at: None,
            next_id: 1,
            failed_attempts: 0,
            unexplained_refusals: 0,
            held: false,
            assumed: None,
            assumed_flights: Vec::new(),
            taken_as_landed: false,
            editor_ahead: false,
            editor_at: None,
            blind_sent: 0,
            // Until a report says otherwise: no edit goes out blind before the user's typing was
            // seen below the region.
            typing_above: true,
            undos: std::collections::VecDeque::new(),
            chain: Vec::new(),
            blind_base: None,
            doomed: Vec::new(),
            lands_unanswered: false,
            repair: None,
            repairs: 0,
            checks_versions: false,
        }
    }

    /// The session, with `original` as the text the region held before the job (what rollback
    /// and reject put back) instead of its text now: a task's later edit of a document whose
    /// earlier edit landed next to it.
    pub fn with_original(mut self, original: String) -> Self {
        self.original = original;
        self
    }

    /// Tells the session whether the client answers `workspace/applyEdit` (the LSP
    /// layer knows once any edit on the connection was answered; the session also
    /// learns it from its own answers). With a client that answers, a landed edit
    /// stays in flight until its answer, so that an `applied: false` can undo a
    /// misreading: the user typing exactly the edit's text at its place while the edit
    /// was on its way looks, in the `didChange`, just like the edit's echo. A client
    /// that never answers (ALE) must not be waited for.
    pub fn set_client_answers(&mut self, answers: bool) {
        self.client_answers = answers;
    }

    /// The region in the document as last reported to [`Self::on_did_change`]. While
    /// the job streams this is the span its text occupies; once it settled, it is the
    /// `{range}` of the job's result.
    pub fn region(&self) -> Region {
        self.region
    }

    /// The region's text in the document as last reported.
    pub fn current(&self) -> String {
        self.doc
            .slice(self.region.start..self.region.end)
            .to_string()
    }

    /// The region's text before the job touched it.
    pub fn original(&self) -> &str {
        &self.original
    }

    /// What the region should contain (see [`Self::set_desired`]).
    pub fn desired(&self) -> &str {
        &self.desired
    }

    pub fn in_flight(&self) -> Option<&InFlight> {
        self.in_flight.as_ref()
    }

    /// The editor refused an edit computed against the version last reported, so the
    /// next one waits for a `didChange` (a debounced client reports its newer text
    /// late). The caller times this out like an edit in flight.
    pub fn awaiting_change(&self) -> bool {
        self.in_flight.is_none() && self.refused_at.is_some_and(|v| v >= self.version)
    }

    /// Edits refused (`applied: false`) or lost (the editor moved on without them) since
    /// the last one that landed. The user typing steadily while the job streams loses
    /// edits routinely, each loss arriving with their `didChange`; a limit on this count
    /// is for an editor that refuses or drops every edit, so it should be generous.
    pub fn failed_attempts(&self) -> u32 {
        self.failed_attempts
    }

    /// The editor refused an edit and has reported no newer text since, for as long as the
    /// caller cares to wait (a debounced client reports late): it declined for reasons of its
    /// own. The refusal counts as unexplained and the next edit goes against the text as it
    /// is. Returns how many unexplained refusals came in a row; newer text from the editor, or
    /// an edit that lands, starts the count again (a refusal that typing explains never counts).
    pub fn retry_refused(&mut self) -> u32 {
        if self.awaiting_change() {
            self.refused_at = None;
            self.unexplained_refusals += 1;
        }
        self.unexplained_refusals
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
    /// any other edit, and the user's typing outside it stays. Used after a fault or a
    /// cancel. After the user edited inside the region nothing is sent (the buffer stays
    /// as they left it); [`Self::reject`] still restores it.
    pub fn rollback(&mut self) {
        self.desired.clone_from(&self.original);
    }

    /// Puts the original text back (`tandem.reject`), in one edit computed against the
    /// region as it now stands, even after the user edited inside it: the whole region,
    /// their text inside it included, is replaced.
    pub fn reject(&mut self) {
        self.held = false;
        self.rollback();
    }

    /// No edit in flight and the editor's text, as last reported, shows the desired
    /// text in the region.
    pub fn is_settled(&self) -> bool {
        self.in_flight.is_none()
            && self.chain.is_empty()
            && self.doomed.is_empty()
            && !self.held
            && self
                .doc
                .slice(self.region.start..self.region.end)
                .chars()
                .eq(self.desired.chars())
    }

    /// The next edit to send, if one is due: none while one is in flight, after the user
    /// edited inside the region, or when the region already holds the desired text.
    /// `rope` is the document as last reported, at `version`; a text older than the last
    /// report the session read is ignored (the caller read it before that report reached the
    /// session). The edit replaces the region's current text with the desired text, trimmed
    /// to the part that differs (common prefix and suffix), so it is one edit however much
    /// changed.
    pub fn next_edit(&mut self, rope: &Rope, version: i32) -> Option<OutgoingEdit> {
        let plain = self.assumed.is_none() && self.blind_base.is_none();
        if version > self.version || (version == self.version && plain) {
            self.doc = rope.clone();
            self.version = version;
        }
        let rope = &self.doc.clone();
        self.region = clamp(self.region, rope);
        if self.in_flight.is_some() || self.held {
            return None;
        }
        let blind = if self.awaiting_change() {
            Some(self.blind_version()?)
        } else {
            None
        };
        if !self.undos.is_empty() {
            return self.send_undo();
        }
        if let Some(edit) = self.send_repair() {
            return Some(edit);
        }
        let current: Vec<char> = rope
            .slice(self.region.start..self.region.end)
            .chars()
            .collect();
        let desired: Vec<char> = self.desired.chars().collect();
        if current == desired {
            return None;
        }
        // The edit's span in the region, its text, and the region's text once it landed.
        let (start, end, text, sent) = if blind.is_some() && self.typing_above {
            let starts_line = super::blind::starts_line(rope, self.region.start);
            let (at, text) = super::blind::insertion(&current, &desired, starts_line)?;
            let mut sent: String = current[..at].iter().collect();
            sent.push_str(&text);
            sent.extend(&current[at..]);
            (at, at, text, sent)
        } else {
            let (prefix, suffix) = common_affixes(&current, &desired);
            let text = desired[prefix..desired.len() - suffix].iter().collect();
            (prefix, current.len() - suffix, text, self.desired.clone())
        };
        let edit = OutgoingEdit {
            id: self.next_id,
            version: blind.unwrap_or(self.version),
            start: self.region.start + start,
            end: self.region.start + end,
            text,
        };
        self.next_id += 1;
        let mut flight = InFlight::new(edit.clone(), self.region.start, sent);
        if blind.is_some() {
            flight.blind = true;
            flight.pin_wire(rope);
        }
        self.in_flight = Some(flight);
        if blind.is_some() {
            self.blind_sent += 1;
        }
        Some(edit)
    }

    /// The editor's answer to the edit `id`. `applied: false` means lost: the next call
    /// to [`Self::next_edit`] recomputes, and if a `didChange` had seemed to show the
    /// edit, those changes were the user's after all and the region is put where they
    /// leave it. `applied: true` confirms an edit a `didChange` showed, and is only
    /// noted otherwise: the edit counts as landed once a `didChange` shows it. Answers
    /// to edits already resolved are ignored. The outcome is `Lost` for a refusal,
    /// `UserEditedInside` when the answer settles that the user typed inside the region
    /// (stop the job, as for a `didChange`), `Unchanged` otherwise.
    pub fn on_apply_answer(&mut self, id: u64, applied: bool) -> ChangeOutcome {
        self.client_answers = true;
        if !applied {
            // A doomed edit refused: it will not land.
            self.doomed.retain(|f| f.edit.id != id);
        }
        let Some(flight) = self.in_flight.as_mut().filter(|f| f.edit.id == id) else {
            return ChangeOutcome::Unchanged;
        };
        if applied && flight.blind && !flight.landed {
            self.chain_blind();
            return ChangeOutcome::Unchanged;
        }
        if applied {
            flight.answered = true;
            if flight.landed {
                let inside = flight.inside_if_applied;
                self.in_flight = None;
                if inside {
                    self.held = true;
                    return ChangeOutcome::UserEditedInside;
                }
            }
            return ChangeOutcome::Unchanged;
        }
        let if_refused = flight.if_refused;
        self.checks_versions = true;
        self.repair = flight.repair.take();
        if let Some(undo) = flight.undo.take() {
            self.undos.push_front(undo);
        }
        self.refused_at = Some(flight.edit.version);
        self.in_flight = None;
        self.failed_attempts += 1;
        match if_refused {
            Some((region, inside)) => {
                self.region = clamp(region, &self.doc);
                if inside {
                    self.held = true;
                    return ChangeOutcome::UserEditedInside;
                }
                ChangeOutcome::Lost
            }
            None => ChangeOutcome::Lost,
        }
    }

    /// No answer to the edit `id` came in time. If a `didChange` showed the edit, it
    /// counts as landed and the job goes on: `Some` of what that reading implies
    /// (`UserEditedInside` if the user typed inside the region since, else
    /// `Unchanged`). `None` if the edit neither landed nor was answered: the job fails
    /// ("the editor did not answer the edit"). Edits already resolved give
    /// `Some(Unchanged)`.
    pub fn on_answer_timeout(&mut self, id: u64) -> Option<ChangeOutcome> {
        match &self.in_flight {
            Some(flight) if flight.edit.id == id && flight.landed => {
                let inside = flight.inside_if_applied;
                self.in_flight = None;
                if inside {
                    self.held = true;
                    return Some(ChangeOutcome::UserEditedInside);
                }
                Some(ChangeOutcome::Unchanged)
            }
            Some(flight) if flight.edit.id == id => None,
            _ => Some(ChangeOutcome::Unchanged),
        }
    }

    /// A `didChange`: `before` is the document as last reported, `changes` turn it into
    /// `after` (each applying to the result of the previous), now at `version`.
    ///
    /// The in-flight edit is recognised by text, not ranges (see the `echo` module): if
    /// the head of the changes turns `before` into `before` with the edit applied, the
    /// edit landed, the region is exactly the text it sent, and the rest of the changes
    /// are the user's (a diff-ordered list, or the echo merged with typing next to it,
    /// is recognised too). Otherwise the edit is lost: an editor applies a versioned edit
    /// only at the version it targets, and its echo is then the first thing it reports,
    /// so once it reports a later version without the echo it will never apply it.
    pub fn on_did_change(
        &mut self,
        before: &Rope,
        changes: &[CharChange],
        after: &Rope,
        version: i32,
    ) -> ChangeOutcome {
        let partial = self.resolve_assumed();
        if let Some(outcome) = self.read_blind(before, changes, after, version) {
            return outcome;
        }
        if let Some(outcome) = self.repair_ranged(before, changes, after, version) {
            return outcome;
        }
        let echo = self.partial_echo(before, changes, partial);
        self.report(before, changes, after, version, echo)
    }
}
