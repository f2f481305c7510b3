//! `tandem.reject`: a finished job's original text put back, in one converging edit.

use std::sync::Arc;

use super::Engine;
use super::converge::{EDIT_TIMEOUT, Target, settle};
use super::port::Editor;
use crate::agent::jobs::JobId;

/// `tandem.reject`: puts a finished job's original text back, in one edit. Returns when the
/// editor's text shows it.
pub async fn reject<E: Editor>(engine: &Arc<Engine>, editor: &E, id: JobId) -> Result<(), String> {
    let decided = engine
        .jobs
        .decide(id, crate::agent::jobs::Verdict::Rejected)
        .map_err(|e| e.to_string())?;
    engine
        .jobs
        .with_session(id, |s| s.reject())
        .ok_or("the job has no edit to take back")?;
    let target = Target {
        doc: decided.doc,
        action: decided.action,
        preview: false,
    };
    // The edits go out from a spawned task: whoever asked never waits on the editor itself.
    let (engine, editor) = (engine.clone(), editor.clone());
    let task = tokio::spawn(async move {
        tokio::time::timeout(
            EDIT_TIMEOUT * 2,
            settle(&engine, &editor, &decided.handle, &target),
        )
        .await
    });
    match task.await {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => {
            Err("the editor did not apply the edit that puts the original text back".into())
        }
        Err(join) => Err(format!("reject failed: {join}")),
    }
}
