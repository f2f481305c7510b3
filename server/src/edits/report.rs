//! Reading one report of the editor's text against the job's edit in flight: did the edit land
//! (its echo among the changes), was it lost, where is the region now, and did the user type
//! inside it.

use ropey::Rope;

use super::anchor::{Rebased, rebase_over};
use super::anchor::{clamp, rebase_all};
use super::blind::{Undo, typed_above};
use super::echo::find_echo;
use super::stream::InFlight;
use super::{ChangeOutcome, CharChange, Region, StreamSession, apply_change};

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
        self.editor_at = None;
        self.blind_sent = 0;
        let mut region = self.region;
        // Once the echo is found, the changes left to the user (reordered if need be).
        let mut user_changes: Vec<CharChange> = Vec::new();
        let mut echo_found = false;
        // The text the user's changes apply to: `before`, or `before` with the edit.
        let mut user_text = before.clone();
        let mut fate = None;
        // An edit the report did not show that may still land, once the region's move is known.
        let mut carried = None;
        if let Some(mut flight) = self.in_flight.take() {
            if flight.landed {
                // Waiting for the answer: follow the other reading too.
                flight.if_refused = flight
                    .if_refused
                    .map(|(r, inside)| rebase_all(r, inside, changes, before));
                self.in_flight = Some(flight);
            } else {
                let sent = flight.sent_edit();
                let landed = flight.landed_region();
                match echo
                    .take()
                    .or_else(|| find_echo(before, changes, &sent, landed))
                {
                    Some(user) => {
                        region = match &flight.undo {
                            // An undo lies outside the region, which it moves.
                            Some(undo) => {
                                let echo = CharChange::new(sent.start, sent.end, sent.text);
                                match rebase_over(region, &echo) {
                                    Rebased::Moved(moved) if !undo.inside => moved,
                                    // What a blind edit misplaced inside the region.
                                    _ => Region::new(
                                        region.start,
                                        (region.end + echo.new_len())
                                            .saturating_sub(echo.old_end - echo.start),
                                    ),
                                }
                            }
                            None => landed,
                        };
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
                    None if version > flight.edit.version
                        && self.lands_late(&flight)
                        && flight.changes(before, after) =>
                    {
                        flight.pin_wire(before);
                        carried = Some(flight);
                    }
                    None if version > flight.edit.version => {
                        // Id 0: the edits taken as landed (see `assumed`), which did not.
                        self.taken_as_landed &= flight.edit.id != 0;
                        self.repair = flight.repair.take();
                        if let Some(undo) = flight.undo.take() {
                            self.undos.push_front(undo);
                        }
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
        if let Some(above) = typed_above(region, user_changes) {
            self.typing_above = above;
        }
        let (region, mut inside) = rebase_all(region, false, user_changes, &user_text);
        // Typing inside what a blind edit misplaced makes it the user's: it stays.
        self.undos = std::mem::take(&mut self.undos)
            .into_iter()
            .filter_map(|undo| {
                let (span, touched) = rebase_all(undo.span, false, user_changes, &user_text);
                (!touched).then_some(Undo { span, ..undo })
            })
            .collect();
        if let Some(mut flight) = carried.filter(|_| !inside) {
            // The changes lie outside the region, so everything in it moved alike.
            let by = region.start as isize - self.region.start as isize;
            flight.edit.start = flight.edit.start.saturating_add_signed(by);
            flight.edit.end = flight.edit.end.saturating_add_signed(by);
            flight.region_start = flight.region_start.saturating_add_signed(by);
            self.in_flight = Some(flight);
        }
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

    /// Whether an edit that a report did not show may still land, so that it stays in flight
    /// (carried: its offsets follow the region, and it keeps the lines and columns it went out
    /// with, where the editor applies it). An answered edit of an editor that reports its whole
    /// text and ignores versions may: kak-lsp answers an edit before Kakoune applies it, so the
    /// report of the user's typing meanwhile comes after the answer and without the edit. The
    /// engine's grace after the answer bounds the wait (see the `assumed` module); it may run
    /// out before that report comes, so the edits taken as landed (id 0) may land late too, if
    /// the editor answered them. (An edit that crossed a report on the wire may land late too,
    /// but nothing tells it from one that landed where it changed nothing, as ALE's can, which
    /// never answers: that one is lost.)
    pub(super) fn lands_late(&self, flight: &InFlight) -> bool {
        let answered = flight.answered && (flight.edit.id != 0 || self.client_answers);
        self.reports_whole_text && !self.checks_versions && answered
    }
}

#[cfg(test)]
mod tests {
    use ropey::Rope;

    use crate::edits::{ChangeOutcome, CharChange, Region, StreamSession, apply_change};

    const BEFORE: &str =
        "// top\nfn double(x: u32) -> u32 {\n    y * 2\n    todo!()\n}\n// bottom\n";
    const DONE: &str = "fn double(x: u32) -> u32 {\n    y * 2\n}\n";

    fn apply(text: &str, start: usize, end: usize, with: &str) -> String {
        let mut rope = Rope::from_str(text);
        apply_change(&mut rope, &CharChange::new(start, end, with));
        rope.to_string()
    }

    /// kak-lsp: the job's edit (deleting the `todo!()` line) answered, as kak-lsp answers it
    /// before Kakoune applies it.
    fn answered() -> (StreamSession, crate::edits::OutgoingEdit) {
        let rope = Rope::from_str(BEFORE);
        let mut s = StreamSession::new(&rope, 1, Region::new(7, 58));
        s.set_client_answers(true);
        assert_eq!(s.on_whole_text(&rope, &rope, 1), ChangeOutcome::Unchanged);
        s.set_desired(DONE);
        let edit = s.next_edit(&rope, 1).expect("an edit");
        assert_eq!(
            apply(BEFORE, edit.start, edit.end, &edit.text),
            format!("// top\n{DONE}// bottom\n")
        );
        assert_eq!(s.on_apply_answer(edit.id, true), ChangeOutcome::Unchanged);
        (s, edit)
    }

    /// The report of the user's typing comes after the answer, without the edit, which lands
    /// next: the edit stays in flight (nothing else goes out), then lands. Before, the report
    /// made it lost, it went out again, and both landed: the closing brace was deleted too.
    #[test]
    fn a_report_between_kak_lsps_answer_and_its_edit_keeps_the_edit_in_flight() {
        let (mut s, edit) = answered();
        let typed = format!("{BEFORE}// below\n");
        let (rope, after) = (Rope::from_str(BEFORE), Rope::from_str(&typed));
        assert_eq!(s.on_whole_text(&rope, &after, 5), ChangeOutcome::Unchanged);
        assert!(s.in_flight().is_some());
        assert_eq!(s.next_edit(&after, 5), None);
        let landed = Rope::from_str(&apply(&typed, edit.start, edit.end, &edit.text));
        assert_eq!(s.on_whole_text(&after, &landed, 6), ChangeOutcome::Landed);
        assert!(s.is_settled());
        assert_eq!(
            landed.to_string(),
            format!("// top\n{DONE}// bottom\n// below\n")
        );
    }

    /// The user's typing in that report added a line above: Kakoune applies the edit at the
    /// lines it names, one line too high, over `y * 2`. That is repaired, and the edit redone.
    #[test]
    fn an_edit_kak_lsp_applies_after_a_line_typed_above_is_repaired() {
        let (mut s, edit) = answered();
        let typed = format!("// above\n{BEFORE}");
        let (rope, after) = (Rope::from_str(BEFORE), Rope::from_str(&typed));
        assert_eq!(s.on_whole_text(&rope, &after, 5), ChangeOutcome::Moved);
        // At its lines and columns: the line of `y * 2` now.
        let at = |offset: usize| {
            let line = rope.char_to_line(offset);
            after.line_to_char(line) + offset - rope.line_to_char(line)
        };
        let astray = apply(&typed, at(edit.start), at(edit.end), &edit.text);
        assert!(!astray.contains("y * 2"), "{astray}");
        let mut text = Rope::from_str(&astray);
        assert_eq!(s.on_whole_text(&after, &text, 6), ChangeOutcome::Lost);
        let mut version = 6;
        while let Some(next) = s.next_edit(&text, version) {
            let applied =
                Rope::from_str(&apply(&text.to_string(), next.start, next.end, &next.text));
            version += 1;
            assert_eq!(s.on_apply_answer(next.id, true), ChangeOutcome::Unchanged);
            assert_ne!(
                s.on_whole_text(&text, &applied, version),
                ChangeOutcome::UserEditedInside
            );
            text = applied;
        }
        assert!(s.is_settled());
        assert_eq!(
            text.to_string(),
            format!("// above\n// top\n{DONE}// bottom\n")
        );
    }
    /// The job read the document's text, then the editor reported the job's edit (the engine
    /// routes a `didChange` to the sessions after the document store took it), then the job
    /// asked for its next edit with the text it read: that text is older than the session's
    /// and is ignored. Before, the session went back to it, sent an edit at the old version
    /// and, once it was refused, the region's old text stayed below the new.
    #[test]
    fn a_snapshot_older_than_the_last_report_is_ignored() {
        let rope = Rope::from_str(BEFORE);
        let mut s = StreamSession::new(&rope, 1, Region::new(7, 58));
        s.set_desired(DONE);
        let edit = s.next_edit(&rope, 1).expect("an edit");
        let landed = Rope::from_str(&apply(BEFORE, edit.start, edit.end, &edit.text));
        let change = CharChange::new(edit.start, edit.end, edit.text.clone());
        assert_eq!(
            s.on_did_change(&rope, &[change], &landed, 2),
            ChangeOutcome::Landed
        );
        assert_eq!(s.on_apply_answer(edit.id, true), ChangeOutcome::Unchanged);
        assert_eq!(s.next_edit(&rope, 1), None);
        assert!(s.is_settled());
        assert_eq!(s.view(), (landed, 2));
    }
}
