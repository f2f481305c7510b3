//! The tools a task's model calls (read, list, search, edit, create), as plain functions over
//! the workspace root and what the editor has open: dispatch and the shapes they answer with.
//!
//! Reading tools answer with text; editing tools answer with a [`PlannedChange`] that the task
//! applies through the editor (nothing here writes a file). Every error is a sentence the model
//! sees, so that it can try again.

mod args;
pub mod edit;
pub mod list;
pub mod paths;
pub mod read;
pub mod search;
pub mod specs;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

pub use paths::WorkspacePath;
pub use specs::specs;

/// What the editor has open: its text wins over the disk's for every tool.
pub trait OpenBuffers {
    /// The text of the open document at `path` (absolute), or `None` when it is not open.
    fn text(&self, path: &Path) -> Option<String>;
    /// The absolute paths of the open documents, so that files that exist only in the editor
    /// (created, not yet saved) are listed and searched too.
    fn paths(&self) -> Vec<PathBuf>;
}

/// Open documents by absolute path: for `tandem exec` (none open) and for tests.
impl OpenBuffers for HashMap<PathBuf, String> {
    fn text(&self, path: &Path) -> Option<String> {
        self.get(path).cloned()
    }

    fn paths(&self) -> Vec<PathBuf> {
        self.keys().cloned().collect()
    }
}

/// A change an editing tool asks for, not yet made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedChange {
    pub path: WorkspacePath,
    /// True for a new file (its folders may need creating: [`PlannedChange::parent_folder`]).
    pub created: bool,
    /// The whole text before (empty for a new file), as the tool saw it: a buffer's or the disk's.
    pub old_text: String,
    /// The whole text after.
    pub new_text: String,
}

impl PlannedChange {
    /// The folder the file goes in, absolute; for a new file it may not exist yet.
    pub fn parent_folder(&self) -> Option<&Path> {
        self.path.absolute.parent()
    }

    /// What the model is told once the change has landed.
    pub fn summary(&self) -> String {
        if self.created {
            format!(
                "created {} ({} lines)",
                self.path.relative,
                self.new_text.lines().count()
            )
        } else {
            format!("edited {}", self.path.relative)
        }
    }
}

/// What a tool call comes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ToolOutcome {
    /// The text the model gets back.
    Text(String),
    /// An error result the model sees: what went wrong or why it was refused.
    Error(String),
    /// An edit or a new file to apply through the editor; the model is told how it went.
    Change(PlannedChange),
    /// `run_check`: the task runs its check command (or answers that none is set).
    RunCheck,
}

/// Runs the tool `name` with the model's `arguments` against the workspace at `root`.
pub fn call(root: &Path, buffers: &dyn OpenBuffers, name: &str, arguments: &Value) -> ToolOutcome {
    let result = match name {
        "read_file" => read::read_file(root, buffers, arguments).map(ToolOutcome::Text),
        "list_files" => list::list_files(root, buffers, arguments).map(ToolOutcome::Text),
        "search" => search::search(root, buffers, arguments).map(ToolOutcome::Text),
        "edit_file" => edit::edit_file(root, buffers, arguments).map(ToolOutcome::Change),
        "create_file" => edit::create_file(root, buffers, arguments).map(ToolOutcome::Change),
        "run_check" => return ToolOutcome::RunCheck,
        _ => Err(format!(
            "there is no tool named `{name}`; the tools are read_file, list_files, search, \
             edit_file, create_file (and run_check when offered)"
        )),
    };
    match result {
        Ok(outcome) => outcome,
        Err(error) => ToolOutcome::Error(error),
    }
}

/// The text of the file at `path`: the editor's buffer when open, else the disk's. `Ok(None)`
/// when it does not exist.
pub(crate) fn current_text(
    buffers: &dyn OpenBuffers,
    path: &WorkspacePath,
) -> Result<Option<String>, String> {
    if let Some(text) = buffers
        .text(&path.absolute)
        .or_else(|| buffers.text(&path.real))
    {
        return Ok(Some(text));
    }
    if path.real.is_dir() {
        return Err(format!("{} is a folder, not a file", path.relative));
    }
    match std::fs::read(&path.real) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| format!("{} is not a text file (not UTF-8)", path.relative)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(format!("{} could not be read: {error}", path.relative)),
    }
}

#[cfg(test)]
mod tests;
