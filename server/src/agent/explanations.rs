//! Model explanations for hover: cached by the item's text and the model, generated at most
//! once at a time per key, and bounded in number.

use std::collections::{HashMap, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};

use parking_lot::Mutex;
use tokio::sync::watch;

/// Explanations kept; the oldest go first.
const CAPACITY: usize = 256;

/// What identifies an explanation: the item's exact text and the model that explained it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key(u64);

impl Key {
    pub fn new(model: &str, item_text: &str) -> Self {
        let mut hasher = DefaultHasher::new();
        model.hash(&mut hasher);
        item_text.hash(&mut hasher);
        Key(hasher.finish())
    }
}

/// A finished generation: the explanation, or why there is none (in words for the user).
pub type Outcome = Result<String, String>;

/// Where an explanation stands.
pub enum Lookup {
    /// Cached: here it is.
    Ready(String),
    /// Being generated: wait on this (it turns `Some` when done; the sender is dropped on failure).
    Pending(watch::Receiver<Option<Outcome>>),
    /// Nobody is generating it: the caller should, and publish through the sender.
    Start(
        watch::Sender<Option<Outcome>>,
        watch::Receiver<Option<Outcome>>,
    ),
}

#[derive(Default)]
pub struct Explanations {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    done: HashMap<Key, String>,
    order: VecDeque<Key>,
    pending: HashMap<Key, watch::Receiver<Option<Outcome>>>,
}

impl Explanations {
    pub fn lookup(&self, key: Key) -> Lookup {
        let mut inner = self.inner.lock();
        if let Some(text) = inner.done.get(&key) {
            return Lookup::Ready(text.clone());
        }
        if let Some(rx) = inner.pending.get(&key) {
            // A generation whose sender is gone failed: try again.
            if rx.has_changed().is_ok() {
                return Lookup::Pending(rx.clone());
            }
        }
        let (tx, rx) = watch::channel(None);
        inner.pending.insert(key, rx.clone());
        Lookup::Start(tx, rx)
    }

    /// Stores a finished explanation and wakes whoever waits for it.
    pub fn finish(&self, key: Key, text: String, tx: &watch::Sender<Option<Outcome>>) {
        let mut inner = self.inner.lock();
        inner.pending.remove(&key);
        if inner.done.insert(key, text.clone()).is_none() {
            inner.order.push_back(key);
        }
        while inner.order.len() > CAPACITY {
            if let Some(old) = inner.order.pop_front() {
                inner.done.remove(&old);
            }
        }
        drop(inner);
        tx.send_replace(Some(Ok(text)));
    }

    /// Forgets a generation that failed, so the next hover tries again, and tells the waiters why.
    pub fn fail(&self, key: Key, why: String, tx: &watch::Sender<Option<Outcome>>) {
        self.inner.lock().pending.remove(&key);
        tx.send_replace(Some(Err(why)));
    }

    pub fn len(&self) -> usize {
        self.inner.lock().done.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::{CAPACITY, Explanations, Key, Lookup};

    #[test]
    fn one_generation_per_key_then_cached_and_bounded() {
        let cache = Explanations::default();
        let key = Key::new("m", "fn a() {}");
        let Lookup::Start(tx, _) = cache.lookup(key) else {
            panic!("first lookup starts")
        };
        assert!(matches!(cache.lookup(key), Lookup::Pending(_)));
        cache.finish(key, "explained".into(), &tx);
        assert!(matches!(cache.lookup(key), Lookup::Ready(text) if text == "explained"));
        // Another model or other text is another key.
        assert!(matches!(
            cache.lookup(Key::new("other", "fn a() {}")),
            Lookup::Start(..)
        ));
        for i in 0..CAPACITY + 10 {
            let key = Key::new("m", &format!("fn f{i}() {{}}"));
            if let Lookup::Start(tx, _) = cache.lookup(key) {
                cache.finish(key, String::new(), &tx);
            }
        }
        assert_eq!(cache.len(), CAPACITY);
        assert!(
            matches!(cache.lookup(key), Lookup::Start(..)),
            "the oldest was evicted"
        );
    }

    #[test]
    fn a_failed_generation_is_tried_again() {
        let cache = Explanations::default();
        let key = Key::new("m", "x");
        let Lookup::Start(tx, rx) = cache.lookup(key) else {
            panic!("starts")
        };
        cache.fail(key, "no model".into(), &tx);
        assert_eq!(*rx.borrow(), Some(Err("no model".to_owned())));
        assert!(matches!(cache.lookup(key), Lookup::Start(..)));
        // A generation whose task vanished is tried again too.
        let Lookup::Start(tx, _) = cache.lookup(key) else {
            panic!("starts")
        };
        drop(tx);
        assert!(matches!(cache.lookup(key), Lookup::Start(..)));
    }
}
