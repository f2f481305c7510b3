//! The workspace's learning store at the protocol edge: opened once the root is known, its
//! pause told to the user once, and described for `tandem.status`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tower_lsp_server::gen_lsp_types as lsp;

use super::server::State;
use crate::learn::{Store, StoreState};

/// How long `tandem.status` waits for the store's counts.
const COUNTS_WAIT: Duration = Duration::from_millis(200);
/// How long `shutdown` waits for the store's last writes.
const FLUSH_WAIT: Duration = Duration::from_secs(1);

/// Opens the workspace's store (its thread opens the file: nothing here waits on the disk)
/// and has hover keep its explanations there. No workspace root, no store.
pub fn open_store(state: &Arc<State>) {
    let Some(root) = state.root.get().cloned().flatten() else {
        return;
    };
    let env = state.config.lock().environment().clone();
    let Some(path) = crate::learn::database_path(&root, &env) else {
        tracing::warn!(
            "no store: neither XDG_STATE_HOME nor HOME is set; explanations stay in memory"
        );
        return;
    };
    let client = state.client.clone();
    let runtime = tokio::runtime::Handle::current();
    let store = Store::open(
        path,
        Box::new(move |failure| {
            let message = format!(
                "Tandem: learning and the explanation cache on disk are paused: the store {} cannot be used ({}). Tandem goes on without it; tandem.rules.forget deletes the file.",
                failure.path.display(),
                failure.message
            );
            let client = client.clone();
            runtime.spawn(async move {
                client
                    .show_message(lsp::MessageType::Warning, message)
                    .await;
            });
        }),
    );
    state.explanations.keep_in(store.clone());
    super::rules::record_into(state, &store);
    if state.store.set(store).is_err() {
        tracing::warn!("the store was already open");
    }
}

/// `tandem.status`'s `store`: `null` without one.
pub async fn status(state: &State) -> Value {
    let Some(store) = state.store.get() else {
        return Value::Null;
    };
    let counts = store.counts(COUNTS_WAIT).await;
    let store_state = store.state();
    let error = match &store_state {
        StoreState::Paused(why) => Some(why.clone()),
        StoreState::Opening | StoreState::Absent | StoreState::Open | StoreState::Forgotten => None,
    };
    json!({
        "path": store.path(),
        "state": store_state.as_str(),
        "error": error,
        "counts": counts,
    })
}

/// At `shutdown`: waits (bounded) for the store's last writes.
pub async fn flush(state: &State) {
    if let Some(store) = state.store.get()
        && !store.flush(FLUSH_WAIT).await
    {
        tracing::warn!("the store did not finish its writes before shutdown");
    }
}
