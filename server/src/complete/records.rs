//! What became of the suggestions shown: accepted (whole or partly), dismissed (said by the
//! client, or seen when the next request in the document does not continue it), counted for
//! `tandem.status` and kept as records for the learning store.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::Ask;
use crate::learn::{CompletionFate, CompletionRecord};
use crate::workspace::DocUri;

/// Suggestions remembered for their fate.
const KEEP: usize = 64;
/// A suggestion passed over sooner than this after it was returned was not read: the user typed
/// on (VS Code asks on every keystroke and may never draw an answer it has moved past). It
/// counts as neither shown nor dismissed.
const GLANCE: Duration = Duration::from_millis(300);
/// A suggestion passed over by the next request counts as dismissed at once, but is recorded
/// only after this long: a client may still say it accepted it (VS Code runs the item's
/// command after asking again).
const LATE_ACCEPT: Duration = Duration::from_secs(5);

/// `tandem.status`'s `completion` counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counters {
    pub requests: u64,
    pub shown: u64,
    pub accepted: u64,
    pub partly_accepted: u64,
    pub dismissed: u64,
    pub cache_hits: u64,
    pub model_calls: u64,
    pub cancelled: u64,
    pub failed: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Shown,
    /// The next request did not continue it: dismissed, unless accepted soon.
    PassedOver(Instant),
    Settled,
}

struct Item {
    id: u64,
    doc: DocUri,
    text: String,
    language: Option<String>,
    path: Option<String>,
    state: State,
    shown_at: Instant,
}

#[derive(Default)]
pub struct Records {
    counters: Counters,
    items: VecDeque<Item>,
    next_id: u64,
    done: Vec<CompletionRecord>,
}

impl Records {
    /// A request in `doc`; `continues` is the suggestion its cache hit continues. The other
    /// suggestions shown in the document were passed over.
    pub fn asked(&mut self, doc: &DocUri, continues: Option<u64>) {
        self.asked_at(doc, continues, Instant::now());
    }

    fn asked_at(&mut self, doc: &DocUri, continues: Option<u64>, now: Instant) {
        self.counters.requests += 1;
        let mut dismissed = 0;
        for item in self.items.iter_mut().filter(|i| i.doc == *doc) {
            if item.state != State::Shown {
                continue;
            }
            if Some(item.id) == continues {
                item.state = State::Settled;
            } else if now.duration_since(item.shown_at) < GLANCE {
                item.state = State::Settled;
                self.counters.shown -= 1;
            } else {
                item.state = State::PassedOver(now);
                dismissed += 1;
            }
        }
        self.counters.dismissed += dismissed;
        self.settle_passed_over(now);
    }

    /// A suggestion was shown (from the cache when `cached`); returns its id.
    pub fn shown(&mut self, ask: &Ask, text: &str, cached: bool) -> u64 {
        self.next_id += 1;
        self.counters.shown += 1;
        if cached {
            self.counters.cache_hits += 1;
        }
        self.items.push_back(Item {
            id: self.next_id,
            doc: ask.doc.clone(),
            text: text.to_owned(),
            language: ask.language.map(|l| l.name().to_owned()),
            path: ask.path.clone(),
            state: State::Shown,
            shown_at: Instant::now(),
        });
        while self.items.len() > KEEP {
            if let Some(item) = self.items.pop_front()
                && matches!(item.state, State::PassedOver(_))
            {
                self.done
                    .push(record(&item, CompletionFate::Dismissed, None));
            }
        }
        self.next_id
    }

    pub fn accepted(&mut self, id: u64, accepted_text: Option<&str>) -> bool {
        let Some(i) = self.items.iter().position(|i| i.id == id) else {
            return false;
        };
        let item = &mut self.items[i];
        match item.state {
            State::Settled => return true,
            State::PassedOver(_) => self.counters.dismissed -= 1,
            State::Shown => {}
        }
        item.state = State::Settled;
        let part = accepted_text.filter(|t| !t.is_empty() && t.len() < item.text.len());
        let fate = if part.is_some() {
            self.counters.partly_accepted += 1;
            CompletionFate::Partly
        } else {
            self.counters.accepted += 1;
            CompletionFate::Accepted
        };
        let item = &self.items[i];
        let record = record(item, fate, part);
        self.done.push(record);
        true
    }

    pub fn dismissed(&mut self, id: u64) -> bool {
        let Some(i) = self.items.iter().position(|i| i.id == id) else {
            return false;
        };
        let item = &mut self.items[i];
        match item.state {
            State::Settled => return true,
            State::PassedOver(_) => {}
            State::Shown => self.counters.dismissed += 1,
        }
        item.state = State::Settled;
        let item = &self.items[i];
        let record = record(item, CompletionFate::Dismissed, None);
        self.done.push(record);
        true
    }

    pub fn closed(&mut self, doc: &DocUri) {
        // Whatever it showed is passed over, and no accept can come any more.
        self.asked_without_counting(doc);
        self.settle_passed_over(Instant::now() + GLANCE + LATE_ACCEPT);
        self.items.retain(|i| i.doc != *doc);
    }

    fn asked_without_counting(&mut self, doc: &DocUri) {
        let requests = self.counters.requests;
        // Closing is no glance: whatever it still showed was seen and left.
        self.asked_at(doc, None, Instant::now() + GLANCE);
        self.counters.requests = requests;
    }

    pub fn model_call(&mut self) {
        self.counters.model_calls += 1;
    }

    pub fn cancelled(&mut self) {
        self.counters.cancelled += 1;
    }

    pub fn failed(&mut self) {
        self.counters.failed += 1;
    }

    pub fn counters(&self) -> Counters {
        self.counters
    }

    pub fn take(&mut self) -> Vec<CompletionRecord> {
        std::mem::take(&mut self.done)
    }

    /// Suggestions passed over long enough ago are recorded as dismissed.
    fn settle_passed_over(&mut self, now: Instant) {
        for item in &mut self.items {
            if let State::PassedOver(at) = item.state
                && now.duration_since(at) >= LATE_ACCEPT
            {
                item.state = State::Settled;
                self.done
                    .push(record(item, CompletionFate::Dismissed, None));
            }
        }
    }
}

fn record(item: &Item, fate: CompletionFate, part: Option<&str>) -> CompletionRecord {
    CompletionRecord {
        language: item.language.clone(),
        path: item.path.clone(),
        suggestion: item.text.clone(),
        fate,
        accepted_text: part.map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use ropey::Rope;

    use super::{Counters, GLANCE, Records};
    use crate::complete::Ask;
    use crate::learn::CompletionFate;
    use crate::workspace::DocUri;

    fn ask(doc: &str) -> Ask {
        Ask {
            doc: DocUri::from(doc),
            version: 1,
            rope: Rope::new(),
            cursor: 0,
            language: None,
            path: Some("a.rs".into()),
        }
    }

    #[test]
    fn fates_are_counted_once_and_a_late_accept_wins_over_a_pass() {
        let mut r = Records::default();
        let a = ask("file:///a.rs");
        r.asked(&a.doc, None);
        let first = r.shown(&a, "x * 2", false);
        // The next request, a while later, does not continue it: passed over, dismissed...
        r.asked_at(&a.doc, None, Instant::now() + GLANCE);
        let second = r.shown(&a, "y", false);
        assert_eq!(r.counters().dismissed, 1);
        // ...until the client says it was accepted after all.
        assert!(r.accepted(first, None));
        assert_eq!((r.counters().dismissed, r.counters().accepted), (0, 1));
        // A cache hit continues the second: not dismissed.
        r.asked(&a.doc, Some(second));
        let third = r.shown(&a, "rest", true);
        assert!(r.accepted(third, Some("re")));
        assert!(r.dismissed(third), "already settled: ignored");
        assert!(!r.accepted(999, None));
        assert_eq!(
            r.counters(),
            Counters {
                requests: 3,
                shown: 3,
                accepted: 1,
                partly_accepted: 1,
                dismissed: 0,
                cache_hits: 1,
                model_calls: 0,
                cancelled: 0,
                failed: 0,
            }
        );
        let fates: Vec<_> = r
            .take()
            .into_iter()
            .map(|r| (r.fate, r.accepted_text))
            .collect();
        assert_eq!(
            fates,
            [
                (CompletionFate::Accepted, None),
                (CompletionFate::Partly, Some("re".into()))
            ]
        );
        // Shown then closed: dismissed and recorded.
        let fourth = r.shown(&a, "z", false);
        r.closed(&a.doc);
        assert!(!r.dismissed(fourth));
        assert_eq!(r.counters().dismissed, 1);
        assert_eq!(r.take().len(), 1);
    }

    #[test]
    fn a_suggestion_passed_over_at_once_was_not_read() {
        let mut r = Records::default();
        let a = ask("file:///a.rs");
        r.asked(&a.doc, None);
        r.shown(&a, "x * 2", false);
        r.asked(&a.doc, None);
        let counters = r.counters();
        assert_eq!((counters.shown, counters.dismissed), (0, 0));
        assert!(r.take().is_empty());
    }
}
