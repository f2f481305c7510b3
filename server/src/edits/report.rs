//! Reading one report of the editor's text against the job's edit in flight: did the edit land
//! (its echo among the changes), was it lost, where is the region now, and did the user type
//! inside it.

use ropey::Rope;

use super::anchor::{clamp, rebase_all};
use super::echo::{SentEdit, find_echo};
use super::{ChangeOutcome, CharChange, StreamSession, apply_change};

impl StreamSession {
    /// [`Self::on_did_change`], where `echo`, when given, is the user's changes once the
    /// in-flight edit landed (read some other way than from `changes`, which are then the
    /// reading where it did not).
    pub(crate) fn report(
        &mut self,
        before: &Rope,
        changes: &[CharChange],
        after: &Rope,
        version: i32,
        mut echo: Option<Vec<CharChange>>,
    ) -> ChangeOutcome {
        // Newer text: whatever was refused before is explained by it.
        self.unexplained_refusals = 0;
        self.editor_ahead = false;
        let mut region = self.region;
        // Once the echo is found, the changes left to the user (reordered if need be).
        let mut user_changes: Vec<CharChange> = Vec::new();
        let mut echo_found = false;
        // The text the user's changes apply to: `before`, or `before` with the edit.
        let mut user_text = before.clone();
        let mut fate = None;
        if let Some(mut flight) = self.in_flight.take() {
            if flight.landed {
                // Waiting for the answer: follow the other reading too.
                flight.if_refused = flight
                    .if_refused
                    .map(|(r, inside)| rebase_all(r, inside, changes, before));
                self.in_flight = Some(flight);
            } else {
                let sent = SentEdit {
                    start: flight.edit.start,
                    end: flight.edit.end,
                    text: &flight.edit.text,
                };
                let landed = flight.landed_region();
                match echo
                    .take()
                    .or_else(|| find_echo(before, changes, &sent, landed))
                {
                    Some(user) => {
                        region = landed;
                        user_changes = user;
                        apply_change(
                            &mut user_text,
                            &CharChange::new(sent.start, sent.end, sent.text),
                        );
                        echo_found = true;
                        self.failed_attempts = 0;
                        // A repair of a misplaced repair landed: that one goes out again.
                        self.repair = flight.repair.as_ref().and_then(|r| r.then());
                        self.lands_unanswered |= !flight.answered && !self.client_answers;
                        fate = Some(ChangeOutcome::Landed);
                        if !flight.answered && self.client_answers {
                            flight.landed = true;
                            flight.if_refused =
                                Some(rebase_all(self.region, self.held, changes, before));
                            self.in_flight = Some(flight);
                        }
                    }
                    None if version > flight.edit.version => {
                        // Id 0: the edits taken as landed (see `assumed`), which did not.
                        self.taken_as_landed &= flight.edit.id != 0;
                        self.repair = flight.repair.take();
                        self.failed_attempts += 1;
                        fate = Some(ChangeOutcome::Lost);
                    }
                    // A version that does not grow is out of sync; the LSP layer never
                    // passes one here, but keep the edit in flight rather than guess.
                    None => self.in_flight = Some(flight),
                }
            }
        }
        let user_changes = if echo_found { &user_changes } else { changes };
        let (region, mut inside) = rebase_all(region, false, user_changes, &user_text);
        let moved = region != self.region;
        self.region = clamp(region, after);
        self.doc = after.clone();
        self.version = version;
        if let Some(flight) = self.in_flight.as_mut().filter(|f| f.landed) {
            // Which reading holds is known only with the answer (see `on_apply_answer`).
            flight.inside_if_applied |= inside;
            inside = false;
        }
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
