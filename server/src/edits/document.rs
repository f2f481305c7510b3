//! Several jobs streaming into one document: every session sees every change, and one
//! edit at a time is in flight for all of them.
//!
//! A session finds its edit's echo at the head of the next `didChange`, which holds only
//! if no other edit of the server could land in between; [`DocumentEdits`] keeps that
//! true and refuses a job whose region overlaps a running one's.

use ropey::Rope;

use super::{ChangeOutcome, CharChange, OutgoingEdit, Region, StreamSession};

/// The stream sessions of one document, keyed by job.
#[derive(Debug, Clone)]
pub struct DocumentEdits<K> {
    sessions: Vec<(K, StreamSession)>,
    /// Where the round-robin of [`Self::next_edit`] starts, so that a job streaming
    /// fast does not starve the others.
    turn: usize,
}

impl<K> Default for DocumentEdits<K> {
    fn default() -> Self {
        Self {
            sessions: Vec::new(),
            turn: 0,
        }
    }
}

impl<K: Clone + PartialEq> DocumentEdits<K> {
    /// Starts a session for job `key` on `region`, unless it overlaps the region of a
    /// job already here (see [`Region::overlaps`]): then the error names that job.
    pub fn start(
        &mut self,
        key: K,
        rope: &Rope,
        version: i32,
        region: Region,
    ) -> Result<&mut StreamSession, K> {
        if let Some((other, _)) = self
            .sessions
            .iter()
            .find(|(_, s)| s.region().overlaps(region))
        {
            return Err(other.clone());
        }
        self.sessions
            .push((key, StreamSession::new(rope, version, region)));
        let last = self.sessions.len() - 1;
        Ok(&mut self.sessions[last].1)
    }

    pub fn get_mut(&mut self, key: &K) -> Option<&mut StreamSession> {
        self.sessions
            .iter_mut()
            .find(|(k, _)| k == key)
            .map(|(_, s)| s)
    }

    /// Forgets a job (accepted, rejected and settled, or failed).
    pub fn remove(&mut self, key: &K) -> Option<StreamSession> {
        let at = self.sessions.iter().position(|(k, _)| k == key)?;
        Some(self.sessions.remove(at).1)
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Tells every session of a `didChange` (see [`StreamSession::on_did_change`]);
    /// another job's echo is, to each of them, typing outside their region.
    pub fn on_did_change(
        &mut self,
        before: &Rope,
        changes: &[CharChange],
        after: &Rope,
        version: i32,
    ) -> Vec<(K, ChangeOutcome)> {
        self.sessions
            .iter_mut()
            .map(|(k, s)| (k.clone(), s.on_did_change(before, changes, after, version)))
            .collect()
    }

    /// The answer to job `key`'s edit `id` (see [`StreamSession::on_apply_answer`]), and
    /// the news to every session that the client answers.
    pub fn on_apply_answer(&mut self, key: &K, id: u64, applied: bool) -> ChangeOutcome {
        for (_, session) in &mut self.sessions {
            session.set_client_answers(true);
        }
        self.get_mut(key)
            .map_or(ChangeOutcome::Unchanged, |s| s.on_apply_answer(id, applied))
    }

    /// The next edit for the document, from the jobs in turn, or none while any job has
    /// one in flight.
    pub fn next_edit(&mut self, rope: &Rope, version: i32) -> Option<(K, OutgoingEdit)> {
        if self.sessions.iter().any(|(_, s)| s.in_flight().is_some()) {
            return None;
        }
        let n = self.sessions.len();
        for i in 0..n {
            let at = (self.turn + i) % n;
            let (key, session) = &mut self.sessions[at];
            if let Some(edit) = session.next_edit(rope, version) {
                self.turn = (at + 1) % n;
                return Some((key.clone(), edit));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::edits::apply_change;

    /// An editor that applies edits like VS Code, with the user typing in between.
    struct Editor {
        doc: Rope,
        version: i32,
        jobs: DocumentEdits<&'static str>,
    }

    impl Editor {
        fn change(&mut self, change: CharChange) -> Vec<(&'static str, ChangeOutcome)> {
            let before = self.doc.clone();
            apply_change(&mut self.doc, &change);
            self.version += 1;
            let doc = self.doc.clone();
            self.jobs
                .on_did_change(&before, &[change], &doc, self.version)
        }

        /// Sends, applies and answers edits until none is due.
        fn run(&mut self) -> Vec<&'static str> {
            let mut order = Vec::new();
            while let Some((job, edit)) = self.jobs.next_edit(&self.doc.clone(), self.version) {
                assert!(
                    self.jobs
                        .next_edit(&self.doc.clone(), self.version)
                        .is_none(),
                    "two edits in flight"
                );
                order.push(job);
                self.change(CharChange::new(edit.start, edit.end, edit.text));
                self.jobs.on_apply_answer(&job, edit.id, true);
            }
            order
        }
    }

    #[test]
    fn jobs_take_turns_and_type_around_each_other() {
        let doc = Rope::from_str("fn a() {}\nfn b() {}\n");
        let mut ed = Editor {
            doc: doc.clone(),
            version: 1,
            jobs: DocumentEdits::default(),
        };
        ed.jobs.start("a", &doc, 1, Region::new(8, 8)).unwrap();
        ed.jobs.start("b", &doc, 1, Region::new(18, 18)).unwrap();
        assert_eq!(
            ed.jobs
                .start("c", &doc, 1, Region::new(18, 18))
                .unwrap_err(),
            "b"
        );
        assert_eq!(
            ed.jobs.start("c", &doc, 1, Region::new(0, 9)).unwrap_err(),
            "a"
        );

        ed.jobs.get_mut(&"a").unwrap().set_desired(" x ");
        ed.jobs.get_mut(&"b").unwrap().set_desired(" y ");
        assert_eq!(ed.run(), ["a", "b"]);
        // The user types at the top, and inside job b's region: b stops, a goes on.
        ed.change(CharChange::new(0, 0, "// hi\n"));
        let outcomes = ed.change(CharChange::new(29, 29, "!"));
        assert_eq!(
            outcomes,
            [
                ("a", ChangeOutcome::Unchanged),
                ("b", ChangeOutcome::UserEditedInside)
            ]
        );
        ed.jobs.get_mut(&"a").unwrap().set_desired(" x + 1 ");
        ed.jobs.get_mut(&"b").unwrap().set_desired(" y + 2 ");
        assert_eq!(ed.run(), ["a"]);
        assert_eq!(
            ed.doc.to_string(),
            "// hi\nfn a() { x + 1 }\nfn b() { y! }\n"
        );
        assert!(ed.jobs.get_mut(&"a").unwrap().is_settled());
        // Rejecting b puts its original (empty) text back over what the user typed.
        ed.jobs.get_mut(&"b").unwrap().reject();
        assert_eq!(ed.run(), ["b"]);
        assert_eq!(ed.doc.to_string(), "// hi\nfn a() { x + 1 }\nfn b() {}\n");
        assert!(ed.jobs.remove(&"b").unwrap().is_settled());
        assert!(!ed.jobs.is_empty());
    }
}
