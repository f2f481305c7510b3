//! Model explanations for hover: cached by the item's text and the model, generated at most
//! once at a time per key, bounded in number in memory, and kept in the workspace's store so
//! they survive a restart.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::watch;

use crate::learn::{StableHash, Store};

/// Explanations kept in memory; the oldest go first.
const CAPACITY: usize = 256;

/// What identifies an explanation: the item's exact text and the model that explained it.
/// Its hash is stable across builds, so it keys the store on disk too.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    model: Arc<str>,
    item: StableHash,
    item_len: usize,
}

impl Key {
    pub fn new(model: &str, item_text: &str) -> Self {
        Key {
            model: model.into(),
            item: StableHash::of(item_text.as_bytes()),
            item_len: item_text.len(),
        }
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
    /// The workspace's store, once there is a workspace.
    store: OnceLock<Store>,
}

#[derive(Default)]
struct Inner {
    done: HashMap<Key, String>,
    order: VecDeque<Key>,
    pending: HashMap<Key, watch::Receiver<Option<Outcome>>>,
}

impl Explanations {
    /// Keeps explanations in `store` from now on, and looks there for those not in memory.
    pub fn keep_in(&self, store: Store) {
        let _ = self.store.set(store);
    }

    /// Forgets the explanations kept in memory (`tandem.rules.forget` deletes the store's).
    pub fn forget(&self) {
        let mut inner = self.inner.lock();
        inner.done.clear();
        inner.order.clear();
    }

    /// Where the explanation stands in memory.
    pub fn lookup(&self, key: &Key) -> Lookup {
        let mut inner = self.inner.lock();
        if let Some(text) = inner.done.get(key) {
            return Lookup::Ready(text.clone());
        }
        if let Some(rx) = inner.pending.get(key) {
            // A generation whose sender is gone failed: try again.
            if rx.has_changed().is_ok() {
                return Lookup::Pending(rx.clone());
            }
        }
        let (tx, rx) = watch::channel(None);
        inner.pending.insert(key.clone(), rx.clone());
        Lookup::Start(tx, rx)
    }

    /// [`Explanations::lookup`], and on a miss in memory the store, waited for at most `wait`
    /// (a slow disk never holds the hover longer). Others asking meanwhile wait on this.
    pub async fn lookup_or_load(&self, key: &Key, wait: Duration) -> Lookup {
        let (tx, rx) = match self.lookup(key) {
            Lookup::Start(tx, rx) => (tx, rx),
            known => return known,
        };
        let Some(store) = self.store.get() else {
            return Lookup::Start(tx, rx);
        };
        match store
            .explanation(&key.model, key.item, key.item_len, wait)
            .await
        {
            Some(text) => {
                self.remember(key, text.clone());
                tx.send_replace(Some(Ok(text.clone())));
                Lookup::Ready(text)
            }
            None => Lookup::Start(tx, rx),
        }
    }

    /// Stores a finished explanation (in memory, and in the store without waiting for it) and
    /// wakes whoever waits for it.
    pub fn finish(&self, key: &Key, text: String, tx: &watch::Sender<Option<Outcome>>) {
        if let Some(store) = self.store.get() {
            store.put_explanation(&key.model, key.item, key.item_len, &text);
        }
        self.remember(key, text.clone());
        tx.send_replace(Some(Ok(text)));
    }

    fn remember(&self, key: &Key, text: String) {
        let mut inner = self.inner.lock();
        inner.pending.remove(key);
        if inner.done.insert(key.clone(), text).is_none() {
            inner.order.push_back(key.clone());
        }
        while inner.order.len() > CAPACITY {
            if let Some(old) = inner.order.pop_front() {
                inner.done.remove(&old);
            }
        }
    }

    /// Forgets a generation that failed, so the next hover tries again, and tells the waiters why.
    pub fn fail(&self, key: &Key, why: String, tx: &watch::Sender<Option<Outcome>>) {
        self.inner.lock().pending.remove(key);
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
    use std::time::Duration;

    use super::{CAPACITY, Explanations, Key, Lookup};
    use crate::learn::Store;

    #[test]
    fn one_generation_per_key_then_cached_and_bounded() {
        let cache = Explanations::default();
        let key = Key::new("m", "fn a() {}");
        let Lookup::Start(tx, _) = cache.lookup(&key) else {
            panic!("first lookup starts")
        };
        assert!(matches!(cache.lookup(&key), Lookup::Pending(_)));
        cache.finish(&key, "explained".into(), &tx);
        assert!(matches!(cache.lookup(&key), Lookup::Ready(text) if text == "explained"));
        // Another model or other text is another key.
        assert!(matches!(
            cache.lookup(&Key::new("other", "fn a() {}")),
            Lookup::Start(..)
        ));
        for i in 0..CAPACITY + 10 {
            let key = Key::new("m", &format!("fn f{i}() {{}}"));
            if let Lookup::Start(tx, _) = cache.lookup(&key) {
                cache.finish(&key, String::new(), &tx);
            }
        }
        assert_eq!(cache.len(), CAPACITY);
        assert!(
            matches!(cache.lookup(&key), Lookup::Start(..)),
            "the oldest was evicted"
        );
    }

    #[test]
    fn a_failed_generation_is_tried_again() {
        let cache = Explanations::default();
        let key = Key::new("m", "x");
        let Lookup::Start(tx, rx) = cache.lookup(&key) else {
            panic!("starts")
        };
        cache.fail(&key, "no model".into(), &tx);
        assert_eq!(*rx.borrow(), Some(Err("no model".to_owned())));
        assert!(matches!(cache.lookup(&key), Lookup::Start(..)));
        // A generation whose task vanished is tried again too.
        let Lookup::Start(tx, _) = cache.lookup(&key) else {
            panic!("starts")
        };
        drop(tx);
        assert!(matches!(cache.lookup(&key), Lookup::Start(..)));
    }

    #[tokio::test]
    async fn a_miss_in_memory_is_looked_up_in_the_store_and_a_finished_one_kept_there() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.sqlite3");
        let wait = Duration::from_secs(5);
        let never = || -> crate::learn::OnFailure { Box::new(|f| panic!("store failed: {f:?}")) };
        let key = Key::new("m", "fn a() {}");
        {
            let cache = Explanations::default();
            let store = Store::open(path.clone(), never());
            cache.keep_in(store.clone());
            let Lookup::Start(tx, _) = cache.lookup_or_load(&key, wait).await else {
                panic!("nothing stored yet: generate")
            };
            cache.finish(&key, "explained".into(), &tx);
            assert!(store.flush(wait).await);
        }
        // A new process: empty memory, the same file.
        let cache = Explanations::default();
        cache.keep_in(Store::open(path, never()));
        assert!(
            matches!(cache.lookup_or_load(&key, wait).await, Lookup::Ready(t) if t == "explained")
        );
        assert_eq!(cache.len(), 1, "now in memory too");
        assert!(matches!(
            cache
                .lookup_or_load(&Key::new("m", "fn a() { }"), wait)
                .await,
            Lookup::Start(..)
        ));
    }
}
