//! The docs match the binary and the repository: every command the server advertises is in
//! `docs/protocol.md`, every VS Code command in the extension's README, every path the docs name
//! is in the repository, and no file points outside it.

#![allow(
    clippy::unwrap_used,
    reason = "a test that unwraps wrong fails, which is the point"
)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::Value;
use tandem_tests::editor::Editor;

/// The repository's root: the parent of this crate.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// The files git tracks, relative to the root.
fn tracked_files() -> Vec<String> {
    let output = std::process::Command::new("git")
        .arg("ls-files")
        .current_dir(root())
        .output()
        .expect("git runs (the docs test reads the tracked files)");
    assert!(output.status.success(), "git ls-files failed");
    String::from_utf8(output.stdout)
        .expect("file names are UTF-8")
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The cells of each row of every Markdown table in `text`, backticks kept, for rows
/// whose first cell starts with `prefix`.
fn table_rows<'a>(text: &'a str, prefix: &str) -> Vec<Vec<&'a str>> {
    text.lines()
        .map(str::trim)
        .filter(|line| line.starts_with('|'))
        .map(|line| {
            line.trim_matches('|')
                .split('|')
                .map(str::trim)
                .collect::<Vec<_>>()
        })
        .filter(|cells| cells.first().is_some_and(|c| c.starts_with(prefix)))
        .collect()
}

/// Every `` `tandem.x` `` named in a cell, without the backticks.
fn command_ids(cell: &str) -> Vec<&str> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| s.starts_with("tandem."))
        .collect()
}

/// Compares what the code has with what a doc lists, both ways, and says what differs.
fn check(what: &str, code: &BTreeSet<String>, doc: &BTreeSet<String>) {
    let undocumented: Vec<_> = code.difference(doc).collect();
    let stale: Vec<_> = doc.difference(code).collect();
    assert!(
        undocumented.is_empty() && stale.is_empty(),
        "{what}: missing from the doc: {undocumented:?}; in the doc but not in the code: {stale:?}"
    );
}

/// Advertised commands that decide on, stop or report jobs rather than start one.
/// Commands that are not region actions (a task works across files; see "Tasks").
const NOT_ACTIONS: &[&str] = &["dismiss", "accept", "reject", "cancel", "status", "task"];

/// Docs that list the agent actions.
const ACTION_LISTS: &[&str] = &[
    "README.md",
    "docs/architecture.md",
    "editors/vscode/README.md",
    "editors/neovim/doc/tandem.txt",
];

#[tokio::test]
async fn advertised_commands_match_the_protocol_and_the_docs_list_every_action()
-> anyhow::Result<()> {
    let (editor, result) = Editor::start(&["utf-16"]).await?;
    editor.shutdown_and_exit().await?;
    let advertised: BTreeSet<String> = result["capabilities"]["executeCommandProvider"]["commands"]
        .as_array()
        .context("executeCommandProvider.commands")?
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    assert!(advertised.len() >= 10, "advertised: {advertised:?}");
    let protocol = read("docs/protocol.md");
    let rows: BTreeSet<String> = table_rows(&protocol, "`tandem.")
        .iter()
        .flat_map(|cells| command_ids(cells[0]))
        .map(str::to_owned)
        .collect();
    check(
        "commands advertised vs the command table of docs/protocol.md",
        &advertised,
        &rows,
    );
    // Every list of the agent actions names them all ("actions (explain, fix, …)").
    let actions: Vec<&str> = advertised
        .iter()
        .map(|c| c.trim_start_matches("tandem."))
        .filter(|c| {
            !NOT_ACTIONS.contains(c) && !c.starts_with("rules") && !c.starts_with("completion.")
        })
        .collect();
    assert_eq!(actions.len(), 7, "the actions: {actions:?}");
    for doc in ACTION_LISTS {
        let text = read(doc).split_whitespace().collect::<Vec<_>>().join(" ");
        let lists: Vec<&str> = text
            .split(" (")
            .skip(1)
            .filter_map(|rest| rest.split(')').next())
            .filter(|list| list.starts_with("explain, "))
            .collect();
        assert!(!lists.is_empty(), "{doc} has no list of the actions");
        for list in lists {
            let words: Vec<&str> = list.split([',', ' ']).collect();
            for action in &actions {
                assert!(
                    words.contains(action),
                    "{doc}: the actions ({list}) leave out {action}"
                );
            }
        }
    }
    // The capabilities paragraph lists them too.
    for command in &advertised {
        let listed = protocol
            .split("executeCommandProvider: {commands: [")
            .nth(1)
            .and_then(|rest| rest.split(']').next())
            .unwrap_or_default();
        assert!(
            listed.split(',').any(|c| c.trim() == command),
            "{command} is missing from the capabilities in docs/protocol.md"
        );
    }
    Ok(())
}

#[test]
fn every_vscode_command_has_a_row_in_the_extension_readme() {
    let package: Value = serde_json::from_str(&read("editors/vscode/package.json")).unwrap();
    let contributed: BTreeSet<String> = package["contributes"]["commands"]
        .as_array()
        .expect("contributes.commands")
        .iter()
        .map(|c| {
            let category = c["category"].as_str().unwrap_or("Tandem");
            format!(
                "{category}: {} | `{}`",
                c["title"].as_str().unwrap(),
                c["command"].as_str().unwrap()
            )
        })
        .collect();
    assert!(contributed.len() >= 10, "contributed: {contributed:?}");
    let readme = read("editors/vscode/README.md");
    let rows: BTreeSet<String> = table_rows(&readme, "Tandem: ")
        .iter()
        .map(|cells| format!("{} | {}", cells[0], cells.get(1).copied().unwrap_or("")))
        .collect();
    check(
        "package.json contributes.commands vs the command table of editors/vscode/README.md \
         (rows `| Tandem: Title | `command.id` | what it does |`)",
        &contributed,
        &rows,
    );
}

/// What no tracked file may contain: each points at files that exist only beside a checkout,
/// never in one. Spelled in pieces so that this file does not trip its own test.
const OUTSIDE: &[&str] = &[
    concat!("..", "/shared"),
    concat!("shared", "/CONTRACT.md"),
    concat!("STYLE", ".md"),
];

#[test]
fn no_tracked_file_points_outside_the_repository() {
    let root = root();
    let mut found = Vec::new();
    for path in tracked_files() {
        let Ok(bytes) = std::fs::read(root.join(&path)) else {
            continue; // deleted in the work tree, not yet in the index
        };
        let Ok(text) = std::str::from_utf8(&bytes) else {
            continue; // binary
        };
        if text.contains('\0') {
            continue;
        }
        for needle in OUTSIDE {
            for (n, line) in text.lines().enumerate() {
                if line.contains(needle) {
                    found.push(format!("{path}:{}: {}", n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "these lines point at files outside the repository:\n{}",
        found.join("\n")
    );
}

/// The folders at the root whose paths the docs name.
const TOP: &[&str] = &[
    "server/",
    "tests/",
    "docs/",
    "editors/",
    "grammars/",
    ".ci/",
];

/// Paths the docs name that a build makes, not git.
const GENERATED: &[&str] = &["editors/vscode/tandem.vsix"];

/// The docs whose paths are checked.
const DOCS: &[&str] = &[
    "README.md",
    "docs/architecture.md",
    "docs/contributing.md",
    "docs/learning.md",
    "docs/model.md",
    "docs/protocol.md",
    "editors/vscode/README.md",
    "editors/neovim/README.md",
];

#[test]
fn every_path_the_docs_name_is_in_the_repository() {
    let tracked = tracked_files();
    let exists = |path: &str| {
        let path = path.trim_end_matches('/');
        if GENERATED.contains(&path) {
            return true;
        }
        tracked
            .iter()
            .any(|t| t == path || t.starts_with(&format!("{path}/")))
    };
    let mut missing = Vec::new();
    for doc in DOCS {
        let text = read(doc);
        // Markdown links, relative to the doc's folder.
        let folder = Path::new(doc).parent().unwrap_or(Path::new(""));
        for target in text.split("](").skip(1).filter_map(|s| s.split(')').next()) {
            let target = target.split('#').next().unwrap_or_default();
            if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let joined = normalize(&folder.join(target));
            if !exists(&joined) {
                missing.push(format!("{doc}: link to {target}"));
            }
        }
        // Paths in backticks or code, from the root: `server/src/lsp/`, `tests/bench/x.py`.
        for word in text.split(|c: char| c.is_whitespace() || "`()[],;:\"'".contains(c)) {
            let word = word.trim_end_matches('.');
            if !TOP.iter().any(|top| word.starts_with(top))
                || word.contains(['*', '<', '>', '{', '…', '$'])
            {
                continue;
            }
            if !exists(word) {
                missing.push(format!("{doc}: {word}"));
            }
        }
    }
    missing.dedup();
    assert!(
        missing.is_empty(),
        "the docs name paths that are not in the repository:\n{}",
        missing.join("\n")
    );
}

/// `a/b/../c` → `a/c`, as a string with `/`.
fn normalize(path: &Path) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.iter().filter_map(|p| p.to_str()) {
        match part {
            "." => {}
            ".." => {
                parts.pop();
            }
            _ => parts.push(part),
        }
    }
    parts.join("/")
}
