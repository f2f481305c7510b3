//! `list_files`, and the walk over the workspace that `search` shares: files under the root,
//! `.gitignore` and `.tandemignore` respected, secret files left out, open buffers included.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ignore::overrides::{Override, OverrideBuilder};
use serde_json::Value;

use super::args::{object, optional_str};
use super::{OpenBuffers, paths};
use crate::agent::workspace_files::{TANDEM_IGNORE, is_secret_file, refused};

/// `list_files` names at most this many paths.
pub const MAX_LISTED: usize = 500;
/// The walk stops after this many files: a task's tools stay quick on a huge tree.
pub const MAX_WALKED: usize = 50_000;

/// The `list_files` tool.
pub fn list_files(
    root: &Path,
    buffers: &dyn OpenBuffers,
    arguments: &Value,
) -> Result<String, String> {
    object(arguments)?;
    let glob = optional_str(arguments, "glob")?;
    let files = workspace_files(root, buffers, glob)?;
    if files.is_empty() {
        return Ok(match glob {
            Some(glob) => format!("no files match `{glob}`"),
            None => "the workspace has no files Tandem may show".to_owned(),
        });
    }
    let mut out: String = files
        .keys()
        .take(MAX_LISTED)
        .map(|relative| format!("{relative}\n"))
        .collect();
    if files.len() > MAX_LISTED {
        out.push_str(&format!(
            "[{} more files not listed: narrow with a glob such as `src/**/*.rs`]\n",
            files.len() - MAX_LISTED
        ));
    }
    Ok(out)
}

/// The files a tool may see, by relative path (sorted), each with its absolute path: the walk
/// from the root (hidden files included, `.git` left out, links not followed) and the open
/// buffers under the root, minus ignored and secret files, filtered by `glob` when given.
pub(crate) fn workspace_files(
    root: &Path,
    buffers: &dyn OpenBuffers,
    glob: Option<&str>,
) -> Result<BTreeMap<String, PathBuf>, String> {
    let filter = glob
        .filter(|glob| !glob.trim().is_empty())
        .map(|glob| glob_filter(root, glob))
        .transpose()?;
    let keep = |relative: &Path| {
        !is_secret_file(relative)
            && filter
                .as_ref()
                .is_none_or(|filter| filter.matched(relative, false).is_whitelist())
    };
    let mut files = BTreeMap::new();
    for entry in visible_walk(root).build().flatten().take(MAX_WALKED) {
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let Ok(relative) = entry.path().strip_prefix(root) else {
            continue;
        };
        if keep(relative) {
            files.insert(slashed(relative), entry.path().to_path_buf());
        }
    }
    for open in buffers.paths() {
        let Ok(relative) = open.strip_prefix(root) else {
            continue;
        };
        let name = slashed(relative);
        if files.contains_key(&name) || !keep(relative) {
            continue;
        }
        // The same door as every tool: an open buffer behind a link out, or ignored, stays out.
        if paths::resolve(root, &name).is_ok() && refused(Some(root), &open).is_none() {
            files.insert(name, open);
        }
    }
    Ok(files)
}

/// The walk from `root` over what Tandem may see: hidden files included, `.gitignore`, git's
/// exclude file and `.tandemignore` honoured without needing a git repository, `.git` left out,
/// links not followed. Secret files are still in it: callers leave them out.
pub(crate) fn visible_walk(root: &Path) -> ignore::WalkBuilder {
    let mut walk = ignore::WalkBuilder::new(root);
    walk.hidden(false)
        .git_ignore(true)
        .git_exclude(true)
        .git_global(false)
        .require_git(false)
        .parents(false)
        .add_custom_ignore_filename(TANDEM_IGNORE)
        .filter_entry(|entry| entry.file_name() != ".git");
    walk
}

/// A glob with gitignore semantics (`*.rs` matches at any depth, `src/*.rs` only in `src`).
fn glob_filter(root: &Path, glob: &str) -> Result<Override, String> {
    let mut builder = OverrideBuilder::new(root);
    builder
        .add(glob.trim())
        .and_then(|builder| builder.build())
        .map_err(|error| format!("the glob `{glob}` is not valid: {error}"))
}

/// `relative` with `/` between its components, whatever the platform.
pub(crate) fn slashed(relative: &Path) -> String {
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}
