//! The tools through `call`, over a temporary workspace and an editor's open buffers.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::search::MAX_MATCHES;
use super::{PlannedChange, ToolOutcome, call};
use crate::test_support::write_file as write;

/// A workspace with code, ignored files, secrets and one open buffer with unsaved text.
fn workspace() -> (tempfile::TempDir, HashMap<PathBuf, String>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    write(root, ".gitignore", "target/\n*.log\n");
    write(root, ".tandemignore", "vendor/\n");
    write(root, "src/main.rs", "fn main() {\n    run();\n}\n");
    write(root, "src/lib.rs", "pub fn run() {}\npub fn stop() {}\n");
    write(root, "README.md", "# Demo\nrun it\n");
    write(root, "target/debug/out.rs", "fn run() {}\n");
    write(root, "app.log", "run\n");
    write(root, "vendor/dep.rs", "fn run() {}\n");
    for secret in [
        ".env",
        ".env.local",
        "key.pem",
        "tls.key",
        "id_rsa",
        "id_ed25519.pub",
        ".netrc",
        ".npmrc",
        ".pypirc",
    ] {
        write(root, &format!("conf/{secret}"), "run = secret\n");
    }
    write(root, ".git/config", "[core]\nrun = 1\n");
    let mut buffers = HashMap::new();
    buffers.insert(
        root.join("src/lib.rs"),
        "pub fn run() { unsaved(); }\n".to_owned(),
    );
    buffers.insert(
        root.join("src/new.rs"),
        "fn fresh() { run(); }\n".to_owned(),
    );
    buffers.insert(root.join("vendor/open.rs"), "fn run() {}\n".to_owned());
    (dir, buffers)
}

fn text(root: &Path, buffers: &HashMap<PathBuf, String>, name: &str, arguments: Value) -> String {
    match call(root, buffers, name, &arguments) {
        ToolOutcome::Text(text) => text,
        other => panic!("{name} {arguments}: {other:?}"),
    }
}

fn error(root: &Path, buffers: &HashMap<PathBuf, String>, name: &str, arguments: Value) -> String {
    match call(root, buffers, name, &arguments) {
        ToolOutcome::Error(message) => message,
        other => panic!("{name} {arguments}: {other:?}"),
    }
}

fn change(
    root: &Path,
    buffers: &HashMap<PathBuf, String>,
    name: &str,
    arguments: Value,
) -> PlannedChange {
    match call(root, buffers, name, &arguments) {
        ToolOutcome::Change(change) => change,
        other => panic!("{name} {arguments}: {other:?}"),
    }
}

#[test]
fn read_file_shows_the_buffer_over_the_disk_with_line_numbers() {
    let (dir, buffers) = workspace();
    let root = dir.path();
    assert_eq!(
        text(root, &buffers, "read_file", json!({"path": "src/lib.rs"})),
        "src/lib.rs (lines 1-1 of 1):\n1\tpub fn run() { unsaved(); }\n"
    );
    assert_eq!(
        text(
            root,
            &buffers,
            "read_file",
            json!({"path": "src/main.rs", "startLine": 2, "endLine": "2"})
        ),
        "src/main.rs (lines 2-2 of 3):\n2\t    run();\n"
    );
    assert_eq!(
        text(root, &buffers, "read_file", json!({"path": "src/new.rs"})),
        "src/new.rs (lines 1-1 of 1):\n1\tfn fresh() { run(); }\n"
    );
}

/// Every refusal reaches the model as an error result that says it was refused and why.
#[test]
fn refused_paths_are_error_results_for_every_tool_that_takes_one() {
    let (dir, buffers) = workspace();
    let root = dir.path();
    let refused = [
        ("../outside.rs", "`..`"),
        ("/etc/hosts", "outside the workspace"),
        ("app.log", "ignored"),
        ("target/debug/out.rs", "ignored"),
        ("vendor/dep.rs", "ignored"),
        ("vendor/open.rs", "ignored"),
        ("conf/.env", "secret"),
        ("conf/id_rsa", "secret"),
    ];
    for (path, why) in refused {
        for (tool, arguments) in [
            ("read_file", json!({"path": path})),
            (
                "edit_file",
                json!({"path": path, "old": "run", "new": "go"}),
            ),
            ("create_file", json!({"path": path, "content": "x"})),
        ] {
            let message = error(root, &buffers, tool, arguments);
            assert!(message.starts_with("refused: "), "{tool} {path}: {message}");
            assert!(message.contains(why), "{tool} {path}: {message}");
        }
    }
}

#[test]
fn list_files_respects_ignores_leaves_secrets_out_and_includes_open_buffers() {
    let (dir, buffers) = workspace();
    let root = dir.path();
    assert_eq!(
        text(root, &buffers, "list_files", json!({})),
        ".gitignore\n.tandemignore\nREADME.md\nsrc/lib.rs\nsrc/main.rs\nsrc/new.rs\n"
    );
    let globs = [
        ("*.rs", "src/lib.rs\nsrc/main.rs\nsrc/new.rs\n"),
        ("src/m*.rs", "src/main.rs\n"),
        ("**/*.md", "README.md\n"),
        ("*.py", "no files match `*.py`"),
    ];
    for (glob, expected) in globs {
        assert_eq!(
            text(root, &buffers, "list_files", json!({"glob": glob})),
            expected,
            "{glob}"
        );
    }
    let bad = error(root, &buffers, "list_files", json!({"glob": "src/[a"}));
    assert!(bad.contains("not valid"), "{bad}");
}

#[test]
fn list_files_is_capped_and_says_how_many_more() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let extra = 7;
    for n in 0..super::list::MAX_LISTED + extra {
        write(root, &format!("f{n:04}.txt"), "");
    }
    let listed = text(root, &HashMap::new(), "list_files", json!({}));
    assert_eq!(listed.lines().count(), super::list::MAX_LISTED + 1);
    assert!(
        listed.ends_with(&format!(
            "[{extra} more files not listed: narrow with a glob such as `src/**/*.rs`]\n"
        )),
        "{listed}"
    );
}

#[test]
fn search_finds_lines_literally_or_by_regex_over_buffers_not_ignored_files() {
    let (dir, buffers) = workspace();
    let root = dir.path();
    let cases = [
        (
            json!({"query": "run();"}),
            "src/main.rs:2:     run();\nsrc/new.rs:1: fn fresh() { run(); }\n",
        ),
        (
            json!({"query": "run()"}),
            "src/lib.rs:1: pub fn run() { unsaved(); }\nsrc/main.rs:2:     run();\nsrc/new.rs:1: fn fresh() { run(); }\n",
        ),
        (
            json!({"query": r"fn \w+\(\) \{\}", "isRegex": true}),
            "no line matches the regular expression `fn \\w+\\(\\) \\{\\}`",
        ),
        (
            json!({"query": r"^pub fn \w+", "isRegex": true}),
            "src/lib.rs:1: pub fn run() { unsaved(); }\n",
        ),
        (
            json!({"query": "run", "glob": "*.md"}),
            "README.md:2: run it\n",
        ),
        (json!({"query": "stop"}), "no line matches the text `stop`"),
        (
            json!({"query": "fn main", "isRegex": false, "glob": "src/*.rs"}),
            "src/main.rs:1: fn main() {\n",
        ),
    ];
    for (arguments, expected) in cases {
        assert_eq!(
            text(root, &buffers, "search", arguments.clone()),
            expected,
            "{arguments}"
        );
    }
    let bad = error(
        root,
        &buffers,
        "search",
        json!({"query": "(", "isRegex": true}),
    );
    assert!(bad.contains("not valid"), "{bad}");
}

#[test]
fn search_is_capped_and_says_how_many_more() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let extra = 5;
    let body: String = (0..MAX_MATCHES + extra)
        .map(|n| format!("hit {n}\n"))
        .collect();
    write(root, "many.txt", &body);
    let found = text(root, &HashMap::new(), "search", json!({"query": "hit"}));
    assert_eq!(found.lines().count(), MAX_MATCHES + 1);
    assert!(found.starts_with("many.txt:1: hit 0\n"), "{found}");
    assert!(
        found.ends_with(&format!(
            "[{extra} more matching lines not shown: narrow the query or add a glob]\n"
        )),
        "{found}"
    );
}

#[test]
fn edits_and_new_files_are_planned_over_the_buffer_never_written() {
    let (dir, buffers) = workspace();
    let root = dir.path();
    let edit = change(
        root,
        &buffers,
        "edit_file",
        json!({"path": "src/lib.rs", "old": "unsaved();", "new": "saved();"}),
    );
    assert!(!edit.created);
    assert_eq!(edit.path.relative, "src/lib.rs");
    assert_eq!(edit.old_text, "pub fn run() { unsaved(); }\n");
    assert_eq!(edit.new_text, "pub fn run() { saved(); }\n");
    assert_eq!(
        std::fs::read_to_string(root.join("src/lib.rs")).expect("read"),
        "pub fn run() {}\npub fn stop() {}\n"
    );

    let created = change(
        root,
        &buffers,
        "create_file",
        json!({"path": "src/deep/mod.rs", "content": "pub mod x;\n"}),
    );
    assert!(created.created);
    assert_eq!(created.new_text, "pub mod x;\n");
    assert_eq!(
        created.parent_folder(),
        Some(root.join("src/deep").as_path())
    );
    assert!(!root.join("src/deep").exists());

    let errors = [
        (
            "create_file",
            json!({"path": "src/main.rs", "content": ""}),
            "already exists",
        ),
        (
            "create_file",
            json!({"path": "src/new.rs", "content": ""}),
            "already exists",
        ),
        (
            "create_file",
            json!({"path": "src", "content": ""}),
            "is a folder",
        ),
        (
            "create_file",
            json!({"path": "README.md/x.rs", "content": ""}),
            "README.md is a file",
        ),
        (
            "edit_file",
            json!({"path": "src/absent.rs", "old": "a", "new": "b"}),
            "create it with create_file",
        ),
        (
            "edit_file",
            json!({"path": "src/main.rs", "old": "nothing", "new": "b"}),
            "not found",
        ),
        (
            "edit_file",
            json!({"path": "src/main.rs", "old": "fn main() {\n run();", "new": "b"}),
            "different whitespace",
        ),
        (
            "edit_file",
            json!({"path": "src/main.rs", "old": "n", "new": "b"}),
            "occurs 3 times",
        ),
        (
            "edit_file",
            json!({"path": "src", "old": "a", "new": "b"}),
            "is a folder",
        ),
        (
            "read_file",
            json!({"path": "src/absent.rs"}),
            "does not exist",
        ),
    ];
    for (tool, arguments, words) in errors {
        let message = error(root, &buffers, tool, arguments.clone());
        assert!(message.contains(words), "{tool} {arguments}: {message}");
    }
}

#[test]
fn unknown_tools_and_bad_arguments_are_error_results() {
    let (dir, buffers) = workspace();
    let root = dir.path();
    let cases = [
        (
            "delete_file",
            json!({"path": "a"}),
            "no tool named `delete_file`",
        ),
        ("read_file", json!({}), "`path` is missing"),
        ("read_file", json!({"path": 3}), "`path` must be a string"),
        (
            "read_file",
            json!({"path": "src/main.rs", "startLine": "first"}),
            "`startLine` must be a line number",
        ),
        (
            "read_file",
            json!({"path": "src/main.rs", "endLine": -1}),
            "`endLine` must be a line number",
        ),
        ("read_file", json!(["src/main.rs"]), "must be a JSON object"),
        (
            "search",
            json!({"query": "x", "isRegex": "yes"}),
            "`isRegex` must be true or false",
        ),
        ("search", json!({"query": ""}), "the query is empty"),
        (
            "edit_file",
            json!({"path": "src/main.rs", "old": "main"}),
            "`new` is missing",
        ),
        (
            "create_file",
            json!({"path": "x.rs"}),
            "`content` is missing",
        ),
        ("list_files", json!({"glob": 1}), "`glob` must be a string"),
    ];
    for (tool, arguments, words) in cases {
        let message = error(root, &buffers, tool, arguments.clone());
        assert!(message.contains(words), "{tool} {arguments}: {message}");
    }
    assert_eq!(
        call(root, &buffers, "run_check", &json!({})),
        ToolOutcome::RunCheck
    );
}
