//! What became of each job that edited, the signals learning is made of: recorded when the job
//! ends, and its fate read from its region (tracked through later typing by the job's session)
//! as the user goes on: accepted, rejected (with a reason), undone (the agent's text gone within
//! [`WATCH`]), or changed (the text the user kept is not the agent's). Plain Rust: where the
//! signals are kept is the [`SignalSink`]'s business.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::actions::Action;
use super::findings::Stored as Finding;
use super::jobs::JobId;
use super::proposals::{Correction, correction_diff};
use crate::workspace::DocUri;

/// How long a job's region is watched after it ends: what the user does to the agent's text in
/// that time is what they thought of it.
pub const WATCH: Duration = Duration::from_secs(10 * 60);

/// What became of a job's text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Not known yet.
    Pending,
    Accepted,
    Rejected,
    /// The agent's text was taken out again within [`WATCH`].
    Undone,
    /// The user kept a text of their own making from the agent's.
    Changed,
}

impl Fate {
    pub fn as_str(self) -> &'static str {
        match self {
            Fate::Pending => "pending",
            Fate::Accepted => "accepted",
            Fate::Rejected => "rejected",
            Fate::Undone => "undone",
            Fate::Changed => "changed",
        }
    }
}

/// One job that edited, and its fate so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signal {
    pub job_id: JobId,
    pub action: Action,
    pub language: Option<String>,
    /// The document (its file path when it has one, else its URI).
    pub path: String,
    /// The region's text before the job.
    pub before: String,
    /// What the agent wrote there.
    pub agent: String,
    pub fate: Fate,
    /// Why it was rejected, when the user said.
    pub reason: Option<String>,
    /// The region's text when its fate was read, when the user changed it.
    pub kept: Option<String>,
}

impl Signal {
    /// A review finding the user fixed (its lines edited: `Accepted`) or dismissed (`Rejected`,
    /// with the reason given). `before` holds the lines, `agent` the finding's message.
    pub fn of_finding(
        finding: &Finding,
        path: String,
        language: Option<String>,
        fate: Fate,
        reason: Option<String>,
    ) -> Signal {
        Signal {
            job_id: finding.id,
            action: Action::Review,
            language,
            path,
            before: finding.lines.clone(),
            agent: finding.message.clone(),
            fate,
            reason: reason.filter(|r| !r.trim().is_empty()),
            kept: None,
        }
    }

    /// The evidence this signal gives for a rule: the user's changes to the agent's text, or a
    /// rejection with a reason.
    pub fn correction(&self) -> Option<Correction> {
        let diff = match (self.fate, &self.kept) {
            (Fate::Changed, Some(kept)) => correction_diff(&self.path, &self.agent, kept)?,
            (Fate::Rejected, _) if self.reason.is_some() => String::new(),
            _ => return None,
        };
        Some(Correction {
            job_id: self.job_id,
            path: self.path.clone(),
            diff,
            reason: self.reason.clone(),
            finding: (self.action == Action::Review).then(|| self.agent.clone()),
        })
    }
}

/// Where signals are kept. `save` is called with the whole signal each time it changes.
pub trait SignalSink: Send + Sync {
    /// Whether signals are recorded now (learning may be turned off and on).
    fn enabled(&self) -> bool {
        true
    }

    fn save(&self, signal: &Signal);
}

/// When a region is read for its fate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reading {
    /// The user accepted the job.
    Accepted,
    /// The document was saved or closed.
    SavedOrClosed,
    /// [`WATCH`] has passed since the job ended.
    WatchOver,
}

/// The signals of this server's jobs, until each one's fate is known.
#[derive(Default)]
pub struct Signals {
    watched: Mutex<HashMap<JobId, (DocUri, Signal)>>,
    sink: Mutex<Option<Arc<dyn SignalSink>>>,
}

impl Signals {
    /// Where signals go from now on; `None` stops recording (learning off).
    pub fn set_sink(&self, sink: Option<Arc<dyn SignalSink>>) {
        *self.sink.lock() = sink;
    }

    pub fn recording(&self) -> bool {
        let sink = self.sink.lock().clone();
        sink.is_some_and(|sink| sink.enabled())
    }

    fn save(&self, signal: &Signal) {
        let sink = self.sink.lock().clone();
        if let Some(sink) = sink {
            sink.save(signal);
        }
    }

    /// A signal whose fate is known already (a review finding fixed or dismissed).
    pub fn record(&self, signal: &Signal) {
        if self.recording() {
            self.save(signal);
        }
    }

    /// A job that edited ended: its signal is recorded, pending, and its region watched.
    pub fn job_edited(&self, doc: DocUri, signal: Signal) {
        if !self.recording() || signal.before == signal.agent {
            return;
        }
        self.save(&signal);
        self.watched.lock().insert(signal.job_id, (doc, signal));
    }

    /// The jobs of `doc` still watched.
    pub fn watched_in(&self, doc: &DocUri) -> Vec<JobId> {
        let watched = self.watched.lock();
        watched
            .iter()
            .filter(|(_, (d, _))| d == doc)
            .map(|(id, _)| *id)
            .collect()
    }

    /// The user rejected the job: its text is gone, for the reason given if any.
    pub fn rejected(&self, id: JobId, reason: Option<String>) -> Option<Signal> {
        let (_, mut signal) = self.watched.lock().remove(&id)?;
        signal.fate = Fate::Rejected;
        signal.reason = reason.filter(|r| !r.trim().is_empty());
        self.save(&signal);
        Some(signal)
    }

    /// Reads a job's fate from its region's text now (`current`, `None` when the region is no
    /// longer tracked). Returns the signal when its fate became known; it is then no longer
    /// watched.
    pub fn read(&self, id: JobId, current: Option<&str>, when: Reading) -> Option<Signal> {
        let mut watched = self.watched.lock();
        let (_, signal) = watched.get_mut(&id)?;
        // `return None`: the region is gone, or unchanged at a save; a later reading decides.
        let fate = match current {
            Some(now) if now == signal.agent => match when {
                Reading::Accepted => Fate::Accepted,
                Reading::SavedOrClosed => return None,
                // Kept as written, never accepted: nothing to learn from it.
                Reading::WatchOver => Fate::Pending,
            },
            Some(now) if when != Reading::Accepted && is_undone(now, signal) => Fate::Undone,
            Some(now) => {
                signal.kept = Some(now.to_owned());
                Fate::Changed
            }
            None if when == Reading::WatchOver => Fate::Pending,
            None => return None,
        };
        let (_, mut signal) = watched.remove(&id)?;
        drop(watched);
        signal.fate = fate;
        if fate != Fate::Pending {
            self.save(&signal);
        }
        Some(signal)
    }
}

/// Whether the region's text says the agent's text was taken out: the text from before the job
/// is back, or nothing is left.
fn is_undone(now: &str, signal: &Signal) -> bool {
    now == signal.before || (now.trim().is_empty() && !signal.agent.trim().is_empty())
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test that unwraps wrong fails, which is the point"
)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Kept(Mutex<Vec<Signal>>);

    impl SignalSink for Kept {
        fn save(&self, signal: &Signal) {
            self.0.lock().push(signal.clone());
        }
    }

    fn signal(id: JobId) -> Signal {
        Signal {
            job_id: id,
            action: Action::Fix,
            language: Some("rust".into()),
            path: "/w/src/a.rs".into(),
            before: "let x = f();\n".into(),
            agent: "let x = f().unwrap();\n".into(),
            fate: Fate::Pending,
            reason: None,
            kept: None,
        }
    }

    fn watching(ids: &[JobId]) -> (Signals, Arc<Kept>) {
        let kept = Arc::new(Kept::default());
        let signals = Signals::default();
        signals.set_sink(Some(kept.clone()));
        for &id in ids {
            signals.job_edited(DocUri::from("file:///w/src/a.rs"), signal(id));
        }
        (signals, kept)
    }

    #[test]
    fn each_reading_gives_its_fate() {
        let agent = "let x = f().unwrap();\n";
        let cases: &[(Option<&str>, Reading, Option<Fate>)] = &[
            (Some(agent), Reading::Accepted, Some(Fate::Accepted)),
            (
                Some("let x = f()?;\n"),
                Reading::Accepted,
                Some(Fate::Changed),
            ),
            (Some(agent), Reading::SavedOrClosed, None),
            (
                Some("let x = f()?;\n"),
                Reading::SavedOrClosed,
                Some(Fate::Changed),
            ),
            (
                Some("let x = f();\n"),
                Reading::SavedOrClosed,
                Some(Fate::Undone),
            ),
            (Some(""), Reading::WatchOver, Some(Fate::Undone)),
            (Some(agent), Reading::WatchOver, Some(Fate::Pending)),
            (None, Reading::SavedOrClosed, None),
            (None, Reading::WatchOver, Some(Fate::Pending)),
        ];
        for (current, when, want) in cases {
            let (signals, _) = watching(&[1]);
            let got = signals.read(1, *current, *when).map(|s| s.fate);
            assert_eq!(got, *want, "{current:?} at {when:?}");
            // A fate is read once; an unknown one is read again later.
            assert_eq!(
                signals
                    .watched_in(&DocUri::from("file:///w/src/a.rs"))
                    .len(),
                usize::from(want.is_none())
            );
        }
    }

    #[test]
    fn corrections_are_changes_and_rejections_with_a_reason() {
        let (signals, kept) = watching(&[1, 2, 3]);
        let changed = signals
            .read(1, Some("let x = f()?;\n"), Reading::SavedOrClosed)
            .unwrap();
        let correction = changed.correction().unwrap();
        assert!(
            correction.diff.contains("+let x = f()?;"),
            "{}",
            correction.diff
        );
        let with_reason = signals.rejected(2, Some("we never unwrap".into())).unwrap();
        assert_eq!(
            with_reason.correction().unwrap().reason.as_deref(),
            Some("we never unwrap")
        );
        let without = signals.rejected(3, Some("  ".into())).unwrap();
        assert_eq!(without.correction(), None);
        let saved: Vec<&str> = kept.0.lock().iter().map(|s| s.fate.as_str()).collect();
        assert_eq!(
            saved,
            [
                "pending", "pending", "pending", "changed", "rejected", "rejected"
            ]
        );
    }

    #[test]
    fn nothing_is_recorded_without_a_sink() {
        let signals = Signals::default();
        signals.job_edited(DocUri::from("file:///w/a.rs"), signal(1));
        assert!(signals.read(1, Some(""), Reading::WatchOver).is_none());
        assert!(signals.rejected(1, Some("why".into())).is_none());
    }
}
