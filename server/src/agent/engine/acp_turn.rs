//! One turn of an ACP job as its updates come: the agent's words gathered into its answer,
//! thinking and answering shown as progress, tool calls and plans as steps, and after each tool
//! call that may write (and at the turn's end) the files it changed on disk itself made part of
//! the job.

use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;

use super::acp_session::SessionJob;
use super::port::Editor;
use crate::acp::{StepStatus, ToolStatus, Update};
use crate::agent::disk_snapshot::{After, Before, DiskSnapshot};

/// A step's words for a file the agent wrote on disk that a reject cannot restore.
const CANNOT_PUT_BACK: &str =
    "changed on disk by the agent; too large (or not text) to be put back on reject";

/// One turn's updates, as they come.
pub(super) struct Turn<'a, E: Editor> {
    host: &'a Arc<SessionJob<E>>,
    /// The workspace's files when the turn began, to find what the agent wrote to disk itself.
    disk: Option<Arc<Mutex<DiskSnapshot>>>,
    /// The agent's answer so far.
    answer: String,
    /// Each tool call's kind, by id.
    kinds: Vec<(String, String)>,
    thinking: bool,
    /// A tool call came since the last words: the next words begin a paragraph.
    paragraph: bool,
}

/// Tool kinds that change no file.
fn reads(kind: &str) -> bool {
    matches!(kind, "read" | "search" | "think" | "fetch")
}

impl<'a, E: Editor> Turn<'a, E> {
    /// `disk` is the workspace when the turn began, if it could be read.
    pub(super) fn new(host: &'a Arc<SessionJob<E>>, disk: Option<DiskSnapshot>) -> Self {
        Self {
            host,
            disk: disk.map(|d| Arc::new(Mutex::new(d))),
            answer: String::new(),
            kinds: Vec::new(),
            thinking: false,
            paragraph: false,
        }
    }

    /// The agent's words so far.
    pub(super) fn answer(&self) -> &str {
        &self.answer
    }

    pub(super) async fn on(&mut self, update: Update) {
        let steps = &self.host.steps;
        match update {
            Update::Message(text) => {
                if self.answer.is_empty() {
                    steps.progress("answering");
                } else if self.paragraph {
                    // Words on either side of a tool call are two messages.
                    self.answer.push_str("\n\n");
                }
                self.thinking = false;
                self.paragraph = false;
                self.answer.push_str(&text);
            }
            Update::Thought(_) => {
                if !self.thinking {
                    steps.progress("thinking");
                    self.thinking = true;
                }
            }
            Update::ToolCall(call) => {
                self.thinking = false;
                self.paragraph = true;
                let path = call.paths.first().map(|p| self.host.relative(p));
                let summary = if call.title.is_empty() {
                    call.kind.clone()
                } else {
                    call.title.clone()
                };
                steps.step(&call.kind, path, summary);
                let done = matches!(call.status, ToolStatus::Completed | ToolStatus::Failed);
                if done && !reads(&call.kind) {
                    self.look_at_disk().await;
                }
                self.kinds.push((call.id, call.kind));
            }
            Update::ToolCallUpdate { id, status, .. } => {
                if !matches!(status, Some(ToolStatus::Completed | ToolStatus::Failed)) {
                    return;
                }
                let kind = self.kinds.iter().find(|(known, _)| *known == id);
                if !kind.is_some_and(|(_, kind)| reads(kind)) {
                    self.look_at_disk().await;
                }
            }
            Update::Plan(plan) => {
                let shown: Vec<String> = plan
                    .iter()
                    .map(|step| {
                        let mark = match step.status {
                            StepStatus::Completed => "[x]",
                            StepStatus::InProgress => "[~]",
                            StepStatus::Pending => "[ ]",
                        };
                        format!("{mark} {}", step.content)
                    })
                    .collect();
                steps.step("plan", None, shown.join("; "));
            }
            Update::ContextUsage { .. } => {}
        }
    }

    /// The turn ended: its last updates, and what it wrote to disk.
    pub(super) async fn settle(
        &mut self,
        updates: &mut tokio::sync::mpsc::UnboundedReceiver<Update>,
    ) {
        while let Ok(update) = updates.try_recv() {
            self.on(update).await;
        }
        self.look_at_disk().await;
    }

    /// Files changed on disk since the last look become part of the job: the agent's tools wrote
    /// them (real agents report a shell command once it has run, so the time a change was made
    /// cannot tell whose it is). Ignored files (build output) are not looked at; a document the
    /// editor saved, and what the job itself wrote, are not counted.
    async fn look_at_disk(&mut self) {
        let Some(disk) = self.disk.clone() else {
            return;
        };
        let files = self.host.files.clone();
        let engine = self.host.engine.clone();
        let found = tokio::task::spawn_blocking(move || {
            let mut disk = disk.lock();
            // What the job wrote through the editor is not the agent's own write; a document
            // the editor saved is not either (and stays out of the base).
            let written: Vec<(PathBuf, String)> = files.overlay();
            let mut found = Vec::new();
            for change in disk.changes(&|_| false) {
                let saved = || {
                    let open = engine.open_at(&change.path);
                    open.is_some_and(
                        |open| matches!(&change.after, After::Text(t) if open.rope == t.as_str()),
                    )
                };
                if saved() {
                    continue;
                }
                disk.absorb(&change);
                let ours = written.iter().any(|(path, text)| {
                    *path == change.path && matches!(&change.after, After::Text(t) if t == text)
                });
                if !ours {
                    found.push(change);
                }
            }
            found
        })
        .await
        .unwrap_or_default();
        for change in found {
            let steps = &self.host.steps;
            let relative = change.relative.clone();
            let before = match change.before {
                Before::Missing => None,
                Before::Text(text) => Some(text),
                Before::Unknown => {
                    steps.step("disk", Some(relative), CANNOT_PUT_BACK.into());
                    continue;
                }
            };
            let (after, said) = match change.after {
                After::Deleted => (None, "deleted on disk by the agent"),
                After::Text(text) if before.is_none() => {
                    (Some(text), "created on disk by the agent")
                }
                After::Text(text) => (Some(text), "changed on disk by the agent"),
                After::Unknown => {
                    steps.step("disk", Some(relative), CANNOT_PUT_BACK.into());
                    continue;
                }
            };
            self.host
                .files
                .note_disk(change.path, change.relative, before, after);
            steps.step("disk", Some(relative), said.into());
        }
    }
}
