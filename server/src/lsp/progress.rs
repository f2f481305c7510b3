//! `$/progress` for jobs: the token a client gave with its command, or one we create with
//! `window/workDoneProgress/create`; begin, reports and end; and which job a token belongs to
//! (cancelling a progress cancels its job).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::{Value, json};
use tower_lsp_server::gen_lsp_types as lsp;

use super::server::State;
use crate::agent::jobs::JobId;

/// How long a client may take to create a progress token.
const PROGRESS_CREATE_TIMEOUT: Duration = Duration::from_secs(5);

/// Progress of the running jobs: the tokens clients gave with their commands, the progress of
/// each running job, and which job a token belongs to (cancelling a progress cancels its job).
#[derive(Default)]
pub struct ProgressTokens {
    by_token: Mutex<HashMap<String, JobId>>,
    /// `workDoneToken`s that came with a command, until its job begins.
    client_tokens: Mutex<HashMap<JobId, lsp::ProgressToken>>,
    running: Mutex<HashMap<JobId, Arc<JobProgress>>>,
}

impl ProgressTokens {
    /// The job's progress begins: with the client's token if its command gave one, else with
    /// one we create (beside the job's work, never before it).
    pub fn begin(&self, state: &Arc<State>, job: JobId, title: &str) {
        let token = self.client_tokens.lock().remove(&job);
        let begun = JobProgress::begin(state, job, token, title);
        self.running.lock().insert(job, begun);
    }

    /// Reports on the job's progress, once its token is known (none yet: nothing is sent).
    pub async fn report(&self, state: &State, job: JobId, message: &str) {
        let token = self
            .running
            .lock()
            .get(&job)
            .and_then(|p| p.token.get().cloned().flatten());
        if let Some(token) = token {
            send_progress(state, &token, json!({"kind": "report", "message": message})).await;
        }
    }

    /// Ends the job's progress, after its begin.
    pub async fn end(&self, state: &Arc<State>, job: JobId, message: &str) {
        let begun = self.running.lock().remove(&job);
        if let Some(begun) = begun {
            begun.end(state, message).await;
        }
    }

    pub fn job_of(&self, token: &lsp::ProgressToken) -> Option<JobId> {
        self.by_token.lock().get(&token_key(token)).copied()
    }

    /// The client gave a token for the job's progress: its progress uses it.
    pub fn use_client_token(&self, job: JobId, token: lsp::ProgressToken) {
        self.client_tokens.lock().insert(job, token);
    }
}

fn token_key(token: &lsp::ProgressToken) -> String {
    match token {
        lsp::ProgressToken::Int(n) => format!("i{n}"),
        lsp::ProgressToken::String(s) => format!("s{s}"),
    }
}

/// One job's progress: the client's token, or one we create. Creating a token is a request to
/// the client: it runs beside the job's work, never before it.
struct JobProgress {
    token: Arc<tokio::sync::OnceCell<Option<lsp::ProgressToken>>>,
    created: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl JobProgress {
    fn begin(
        state: &Arc<State>,
        id: JobId,
        token: Option<lsp::ProgressToken>,
        title: &str,
    ) -> Arc<Self> {
        let cell = Arc::new(tokio::sync::OnceCell::new());
        let title = title.to_owned();
        let task = {
            let state = state.clone();
            let cell = cell.clone();
            tokio::spawn(async move {
                let token = match token {
                    Some(token) => Some(token),
                    None if state.flags().work_done_progress => {
                        let token = lsp::ProgressToken::String(format!("tandem/job/{id}"));
                        let created = tokio::time::timeout(
                            PROGRESS_CREATE_TIMEOUT,
                            state
                                .client
                                .send_request::<lsp::WorkDoneProgressCreateRequest>(
                                    lsp::WorkDoneProgressCreateParams {
                                        token: token.clone(),
                                    },
                                ),
                        )
                        .await;
                        matches!(created, Ok(Ok(()))).then_some(token)
                    }
                    None => None,
                };
                if let Some(token) = &token {
                    state.progress.by_token.lock().insert(token_key(token), id);
                    send_progress(
                        &state,
                        token,
                        json!({"kind": "begin", "title": title, "cancellable": true}),
                    )
                    .await;
                }
                let _ = cell.set(token);
            })
        };
        Arc::new(Self {
            token: cell,
            created: Mutex::new(Some(task)),
        })
    }

    /// Ends the progress; waits for its creation to finish first, so every begin gets its end.
    async fn end(&self, state: &Arc<State>, message: &str) {
        let task = self.created.lock().take();
        if let Some(task) = task {
            let _ = task.await;
        }
        if let Some(Some(token)) = self.token.get() {
            send_progress(state, token, json!({"kind": "end", "message": message})).await;
            state.progress.by_token.lock().remove(&token_key(token));
        }
    }
}

async fn send_progress(state: &State, token: &lsp::ProgressToken, value: Value) {
    state
        .client
        .send_notification::<lsp::ProgressNotification>(lsp::ProgressParams {
            token: token.clone(),
            value,
        })
        .await;
}
