//! Edits taken as landed though no `didChange` showed them. kak-lsp answers `applied: true`
//! and never reports the edits it applied; a job must not wait for it forever, nor send the
//! same text twice. So once the caller has waited long enough after such an answer, the
//! session takes the edit as landed: it computes its next edits against the text with it, at
//! the version last reported. Not at the version the editor would be at had the edit landed:
//! an editor that checks versions may have refused it, or dropped it and answered `applied:
//! true` as Neovim does, and then the user's next keystroke has that version, and the edit
//! would land against text it was not computed for. At the version last reported, an editor
//! that checks versions refuses it (explained by the report to come), and one that ignores
//! them (ALE, kak-lsp) applies it where it is meant. The next `didChange` then settles them:
//! its changes are read as showing every edit taken as landed (with the user's typing around
//! them), or only the first of them, or none.

use ropey::Rope;

use super::diff::common_affixes;
use super::echo::find_echo;
use super::stream::InFlight;
use super::{CharChange, OutgoingEdit, Region, StreamSession, apply_change};

impl StreamSession {
    /// The editor answered `applied: true` to the edit `id` (or is known to apply edits without
    /// answering: an edit of the session landed that was never answered, and the editor has
    /// answered none since; VS Code reports an edit before it answers it) and no `didChange` has
    /// shown it for as long as the caller cares to wait: it counts as landed (see the module
    /// docs). Returns whether it was taken; `false` when the edit is no longer the one in
    /// flight, was not answered by an editor that answers, or a `didChange` showed it.
    pub fn take_as_landed(&mut self, id: u64) -> bool {
        let taken = self.in_flight.as_ref().is_some_and(|f| {
            // Not a repair, nor one carried over a report to lines the typing has moved (it lands
            // astray): the report that shows it is read for the repair.
            let plain =
                !f.blind && f.undo.is_none() && f.repair.is_none() && !f.goes_astray(&self.doc);
            f.edit.id == id
                && (f.answered || self.applies_without_answering())
                && !f.landed
                && plain
        });
        let Some(flight) = self.in_flight.take_if(|_| taken) else {
            return false;
        };
        self.assumed.get_or_insert_with(|| self.doc.clone());
        let edit = &flight.edit;
        apply_change(
            &mut self.doc,
            &CharChange::new(edit.start, edit.end, edit.text.clone()),
        );
        self.region = flight.landed_region();
        self.assumed_flights.push(flight);
        self.failed_attempts = 0;
        self.taken_as_landed = true;
        true
    }

    /// The document as the session takes it to be, and its version: as the editor last
    /// reported it, with the edits taken as landed since.
    pub fn view(&self) -> (ropey::Rope, i32) {
        (self.doc.clone(), self.version)
    }

    /// Whether edits were taken as landed since the editor last reported its text: a refusal
    /// then says the editor has changes it has not reported yet (eglot holds its reports while
    /// the user types), which its report will explain.
    pub fn has_assumed(&self) -> bool {
        self.assumed.is_some()
    }

    /// The editor refused an edit saying its text is newer than the edit's version (eglot): a
    /// report of that text is on its way, whenever the editor sends it.
    pub fn expect_newer_text(&mut self) {
        self.editor_ahead = true;
    }

    /// Whether the editor has changes to report that explain a refusal: edits taken as landed
    /// since its last report, or its own word that it is ahead.
    pub fn expects_report(&self) -> bool {
        self.has_assumed() || self.editor_ahead
    }

    /// Whether the editor applies edits without answering them (Vim's ALE): an edit of the
    /// session landed unanswered, and the editor has answered none since (VS Code reports an
    /// edit before it answers it).
    pub fn applies_without_answering(&self) -> bool {
        self.lands_unanswered && !self.client_answers
    }

    /// Whether an edit of the session was taken as landed and no report of the editor since
    /// showed otherwise.
    pub fn has_taken_as_landed(&self) -> bool {
        self.taken_as_landed
    }

    /// Before a `didChange` is read: the edits taken as landed (and the one in flight, which was
    /// computed against them) become one edit in flight, against the text as last reported,
    /// so that the report is read as showing it or not, like any edit's. The report may show
    /// only the first of them (Neovim answers `applied: true` to an edit it drops, and an editor
    /// slow to report may have refused the later ones): those, as one edit each, most edits
    /// first, are returned for the reading to try when the whole does not show.
    pub(super) fn resolve_assumed(&mut self) -> Vec<InFlight> {
        let Some(reported) = self.assumed.take() else {
            return Vec::new();
        };
        let mut flights = std::mem::take(&mut self.assumed_flights);
        flights.extend(self.in_flight.take());
        // The edits stay within the region: they move neither its start nor the text after it.
        let start = self.region.start;
        let after = self.doc.len_chars().saturating_sub(self.region.end);
        let end = reported.len_chars().saturating_sub(after).max(start);
        let old: Vec<char> = reported.slice(start..end).chars().collect();
        let mut merged: Vec<InFlight> = flights
            .into_iter()
            .enumerate()
            .map(|(i, flight)| {
                let (edit, wire) = if i == 0 {
                    // The first is against the reported text already: as it went out, so that
                    // an editor that puts it at its lines is read where it put it.
                    let edit = OutgoingEdit {
                        id: 0,
                        version: self.version,
                        ..flight.edit
                    };
                    (edit, flight.wire)
                } else {
                    // The first edits up to this one: from the region's reported text to the
                    // text this one leaves there.
                    let new: Vec<char> = flight.sent.chars().collect();
                    let (prefix, suffix) = common_affixes(&old, &new);
                    let edit = OutgoingEdit {
                        id: 0,
                        version: self.version,
                        start: start + prefix,
                        end: end - suffix,
                        text: new[prefix..new.len() - suffix].iter().collect(),
                    };
                    (edit, None)
                };
                InFlight {
                    answered: true,
                    wire,
                    ..InFlight::new(edit, start, flight.sent)
                }
            })
            .collect();
        let Some(all) = merged.pop() else {
            return Vec::new();
        };
        merged.reverse();
        self.region = Region::new(start, end);
        self.doc = reported;
        self.in_flight = Some(all);
        merged
    }

    /// When `changes` (over `before`) do not show every edit taken as landed but do show the
    /// first of them (one of `partial`, from [`Self::resolve_assumed`]): that edit becomes the
    /// one in flight, and the changes that remain the user's are returned, as its echo.
    pub(super) fn partial_echo(
        &mut self,
        before: &Rope,
        changes: &[CharChange],
        partial: Vec<InFlight>,
    ) -> Option<Vec<CharChange>> {
        let all = self.in_flight.as_ref().filter(|f| !f.landed)?;
        if partial.is_empty()
            || find_echo(before, changes, &all.sent_edit(), all.landed_region()).is_some()
        {
            return None;
        }
        let (first, user) = partial.into_iter().find_map(|flight| {
            find_echo(before, changes, &flight.sent_edit(), flight.landed_region())
                .map(|user| (flight, user))
        })?;
        self.in_flight = Some(first);
        self.taken_as_landed = false;
        Some(user)
    }
}

#[cfg(test)]
mod tests {
    use ropey::Rope;

    use crate::edits::{ChangeOutcome, Region, StreamSession};

    /// A session on `text` whose region `region` streams `first`, then `second`, each edit
    /// answered and never shown, so both are taken as landed.
    fn two_taken(text: &str, region: (usize, usize), first: &str, second: &str) -> StreamSession {
        let rope = Rope::from_str(text);
        let mut s = StreamSession::new(&rope, 1, Region::new(region.0, region.1));
        s.set_desired(first);
        let edit = s.next_edit(&rope, 1).expect("an edit");
        assert_eq!(s.on_apply_answer(edit.id, true), ChangeOutcome::Unchanged);
        assert!(s.take_as_landed(edit.id));
        s.set_desired(second);
        // The next edit goes against the text with the first, at the version last reported: an
        // editor that checks versions refuses it unless nothing happened since.
        let next = s.next_edit(&rope, 1).expect("a second edit");
        assert_eq!(next.version, 1);
        assert_eq!((next.start, next.end, next.text.as_str()), (4, 4, "b"));
        s.on_apply_answer(next.id, true);
        assert!(s.take_as_landed(next.id));
        assert!(s.is_settled());
        s
    }

    #[test]
    fn edits_taken_as_landed_stack_and_a_whole_text_report_confirms_them() {
        // "[x]" -> "[ab]" in two edits; the user then types above and below.
        let mut s = two_taken("0\n[x]\n1\n", (2, 5), "[a]", "[ab]");
        assert_eq!(s.view().0.to_string(), "0\n[ab]\n1\n");
        let before = Rope::from_str("0\n[x]\n1\n");
        let after = Rope::from_str("u0\n[ab]\n1\nv");
        assert_eq!(s.on_whole_text(&before, &after, 2), ChangeOutcome::Landed);
        assert_eq!(s.region(), Region::new(3, 7));
        assert!(s.is_settled() && s.has_taken_as_landed());
    }

    #[test]
    fn a_report_without_the_edits_taken_as_landed_makes_them_lost() {
        let mut s = two_taken("0\n[x]\n1\n", (2, 5), "[a]", "[ab]");
        let before = Rope::from_str("0\n[x]\n1\n");
        let changes = [crate::edits::CharChange::new(0, 0, "u")];
        let after = Rope::from_str("u0\n[x]\n1\n");
        assert_eq!(
            s.on_did_change(&before, &changes, &after, 2),
            ChangeOutcome::Lost
        );
        assert_eq!(s.region(), Region::new(3, 6));
        assert!(!s.has_taken_as_landed());
        // The next edit says what the region should hold now, against the reported text.
        let edit = s.next_edit(&after, 2).expect("an edit");
        assert_eq!((edit.start, edit.end, edit.text.as_str()), (4, 5, "ab"));
    }

    #[test]
    fn a_whole_text_report_without_the_edits_taken_as_landed_waits_for_the_next() {
        // kak-lsp answers an edit before Kakoune applies it: its report of the user's typing
        // meanwhile may come after the engine's grace, without the edits, and the next with them.
        let mut s = two_taken("0\n[x]\n1\n", (2, 5), "[a]", "[ab]");
        let before = Rope::from_str("0\n[x]\n1\n");
        let typed = Rope::from_str("u0\n[x]\n1\n");
        assert_eq!(s.on_whole_text(&before, &typed, 2), ChangeOutcome::Moved);
        assert!(!s.is_settled(), "the edits may still land");
        let after = Rope::from_str("u0\n[ab]\n1\n");
        assert_eq!(s.on_whole_text(&typed, &after, 3), ChangeOutcome::Landed);
        assert_eq!(s.region(), Region::new(3, 7));
        assert!(s.is_settled());
    }

    #[test]
    fn a_report_with_only_the_first_edit_taken_as_landed_lands_it_alone() {
        // Neovim answered both, applied the first and dropped the second; the user typed above.
        let mut s = two_taken("0\n[x]\n1\n", (2, 5), "[a]", "[ab]");
        let before = Rope::from_str("0\n[x]\n1\n");
        let changes = [
            crate::edits::CharChange::new(3, 4, "a"),
            crate::edits::CharChange::new(0, 0, "u"),
        ];
        let after = Rope::from_str("u0\n[a]\n1\n");
        assert_eq!(
            s.on_did_change(&before, &changes, &after, 3),
            ChangeOutcome::Landed
        );
        assert_eq!(s.region(), Region::new(3, 6));
        assert!(
            !s.has_taken_as_landed(),
            "the report contradicted the second"
        );
        // The second goes out again, against the report.
        let edit = s.next_edit(&after, 3).expect("the second again");
        assert_eq!(
            (edit.version, edit.start, edit.end, edit.text.as_str()),
            (3, 5, 5, "b")
        );
    }

    #[test]
    fn a_whole_text_report_with_only_the_first_edit_taken_as_landed_lands_it_alone() {
        let mut s = two_taken("0\n[x]\n1\n", (2, 5), "[a]", "[ab]");
        let before = Rope::from_str("0\n[x]\n1\n");
        let after = Rope::from_str("u0\n[a]\n1\nv");
        assert_eq!(s.on_whole_text(&before, &after, 2), ChangeOutcome::Landed);
        assert_eq!(s.region(), Region::new(3, 6));
        let edit = s.next_edit(&after, 2).expect("the second again");
        assert_eq!((edit.start, edit.end, edit.text.as_str()), (5, 5, "b"));
    }

    #[test]
    fn a_late_incremental_echo_of_the_edits_taken_as_landed_is_recognised() {
        // Emacs' eglot holds its report while the user types: it then shows both edits and
        // the typing, as ranges.
        let mut s = two_taken("0\n[x]\n1\n", (2, 5), "[a]", "[ab]");
        let before = Rope::from_str("0\n[x]\n1\n");
        let changes = [
            crate::edits::CharChange::new(3, 4, "a"),
            crate::edits::CharChange::new(4, 4, "b"),
            crate::edits::CharChange::new(0, 0, "u"),
        ];
        let after = Rope::from_str("u0\n[ab]\n1\n");
        assert_eq!(
            s.on_did_change(&before, &changes, &after, 3),
            ChangeOutcome::Landed
        );
        assert_eq!(s.region(), Region::new(3, 7));
        assert!(s.is_settled());
    }

    #[test]
    fn only_an_answered_edit_still_in_flight_is_taken() {
        let rope = Rope::from_str("[x]");
        let mut s = StreamSession::new(&rope, 1, Region::new(0, 3));
        s.set_desired("[y]");
        let edit = s.next_edit(&rope, 1).expect("an edit");
        assert!(!s.take_as_landed(edit.id), "not answered yet");
        s.on_apply_answer(edit.id, true);
        assert!(!s.take_as_landed(edit.id + 1), "another edit");
        // Its echo came: nothing left to take.
        let after = Rope::from_str("[y]");
        s.on_did_change(
            &rope,
            &[crate::edits::CharChange::new(1, 2, "y")],
            &after,
            2,
        );
        assert!(!s.take_as_landed(edit.id));
    }
}
