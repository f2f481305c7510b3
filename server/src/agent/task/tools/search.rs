//! `search`: the workspace's lines that hold a text or match a regular expression, as
//! `path:line: text`, open buffers searched instead of their disk text, and a bounded number.

use std::path::Path;

use regex::{Regex, RegexBuilder};
use serde_json::Value;

use super::OpenBuffers;
use super::args::{flag, object, optional_str, required_str};
use super::list::workspace_files;

/// At most this many matching lines are shown; the rest are counted.
pub const MAX_MATCHES: usize = 100;
/// A matching line longer than this is shown cut.
pub const MAX_LINE_CHARS: usize = 200;
/// Files larger than this are not searched (generated or data files, not code).
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// The `search` tool.
pub fn search(root: &Path, buffers: &dyn OpenBuffers, arguments: &Value) -> Result<String, String> {
    object(arguments)?;
    let query = required_str(arguments, "query")?;
    if query.is_empty() {
        return Err("the query is empty: give a text to find".to_owned());
    }
    let is_regex = flag(arguments, "isRegex")?;
    let glob = optional_str(arguments, "glob")?;
    let pattern = matcher(query, is_regex)?;
    let files = workspace_files(root, buffers, glob)?;
    let mut shown = String::new();
    let mut matches = 0usize;
    for (relative, absolute) in &files {
        let text = match buffers.text(absolute) {
            Some(text) => text,
            None => match read_small_text(absolute) {
                Some(text) => text,
                None => continue,
            },
        };
        for (index, line) in text.lines().enumerate() {
            if !pattern.is_match(line) {
                continue;
            }
            matches += 1;
            if matches <= MAX_MATCHES {
                shown.push_str(&format!(
                    "{relative}:{}: {}\n",
                    index + 1,
                    cut(line.trim_end())
                ));
            }
        }
    }
    let kind = if is_regex {
        "the regular expression"
    } else {
        "the text"
    };
    if matches == 0 {
        return Ok(format!("no line matches {kind} `{query}`"));
    }
    if matches > MAX_MATCHES {
        shown.push_str(&format!(
            "[{} more matching lines not shown: narrow the query or add a glob]\n",
            matches - MAX_MATCHES
        ));
    }
    Ok(shown)
}

/// The query as a regular expression: escaped when it is a literal text.
fn matcher(query: &str, is_regex: bool) -> Result<Regex, String> {
    let source = if is_regex {
        query.to_owned()
    } else {
        regex::escape(query)
    };
    RegexBuilder::new(&source)
        .size_limit(1 << 20)
        .build()
        .map_err(|error| format!("the regular expression `{query}` is not valid: {error}"))
}

/// A file's text when it is small and UTF-8 (binary files are skipped).
fn read_small_text(path: &Path) -> Option<String> {
    let size = std::fs::metadata(path).ok()?.len();
    if size > MAX_FILE_BYTES {
        return None;
    }
    String::from_utf8(std::fs::read(path).ok()?).ok()
}

fn cut(line: &str) -> String {
    match line.char_indices().nth(MAX_LINE_CHARS) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_owned(),
    }
}
