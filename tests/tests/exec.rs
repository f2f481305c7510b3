//! End to end: `tandem exec` on files, against the scripted model server: every action's result,
//! `--diff`, exit codes, and a failure said once.

#![allow(
    clippy::unwrap_used,
    reason = "a test that unwraps wrong fails, which is the point"
)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Output, Stdio};

use tandem_tests::editor::tandem_bin;
use tandem_tests::model_server::{ModelServer, Reply, Wire};

/// A home with settings pointing at `model_url` and a project (a git folder) to work in.
fn setup(model_url: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("tandem")).unwrap();
    std::fs::write(
        dir.path().join("tandem/config.toml"),
        format!(
            "[model]\nprovider = \"openai\"\nbaseUrl = \"{model_url}\"\nname = \"test-model\"\n"
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("project/.git")).unwrap();
    dir
}

/// Runs `tandem exec ARGS` in the project of `home`, with no log level set.
async fn exec(home: &Path, args: &[&str]) -> Output {
    tokio::process::Command::new(tandem_bin())
        .arg("exec")
        .args(args)
        .current_dir(home.join("project"))
        .env("XDG_CONFIG_HOME", home)
        .env_remove("OPENAI_API_KEY")
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("TANDEM_LOG")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .unwrap()
}

/// Every file of the project (but `.git`), by path relative to it, with its text.
fn project_files(home: &Path) -> BTreeMap<String, String> {
    let root = home.join("project");
    let mut found = BTreeMap::new();
    let mut folders = vec![root.clone()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != ".git") {
                    folders.push(path);
                }
            } else {
                let name = path.strip_prefix(&root).unwrap().display().to_string();
                found.insert(name, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    found
}

fn write_project(home: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let path = home.join("project").join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

fn owned(files: &[(&str, &str)]) -> BTreeMap<String, String> {
    files
        .iter()
        .map(|(name, text)| ((*name).to_owned(), (*text).to_owned()))
        .collect()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

const DOUBLE: &str = "fn double(x: u32) -> u32 {\n    x * 2\n}\n";
const UNFINISHED: &str = "fn double(x: u32) -> u32 {\n    todo!()\n}\n\nfn main() {}\n";
const RUST_TESTS: &str = "\n#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn doubles() {\n        assert_eq!(double(2), 4);\n    }\n}\n";
const PYTHON: &str = "def double(x):\n    return x * 2\n";
const PYTHON_TESTS: &str =
    "from calc import double\n\n\ndef test_double():\n    assert double(2) == 4\n";
const REVIEWED: &str =
    "fn main() {\n    let v = vec![1, 2, 3];\n    let x = v[3];\n    println!(\"{x}\");\n}\n";
const FINDINGS: &str = r#"```json
[
  {"start_line": 3, "end_line": 3, "severity": "error", "message": "Index 3 is out of bounds.", "replacement": "    let x = v[2];"},
  {"start_line": 4, "severity": "hint", "message": "Consider naming x."}
]
```"#;

/// One run of `tandem exec` and everything it should leave.
struct Case {
    /// The project's files before.
    before: &'static [(&'static str, &'static str)],
    args: &'static [&'static str],
    /// The model's answer, in chunks.
    reply: &'static [&'static str],
    exit: i32,
    stdout: &'static str,
    /// The project's files after, all of them.
    after: &'static [(&'static str, &'static str)],
}

const CASES: &[Case] = &[
    Case {
        before: &[("lib.rs", UNFINISHED)],
        args: &["explain", "lib.rs"],
        reply: &["It doubles ", "nothing yet."],
        exit: 0,
        stdout: "It doubles nothing yet.\n",
        after: &[("lib.rs", UNFINISHED)],
    },
    Case {
        before: &[("lib.rs", "fn broken() { let a = 1 }\n")],
        args: &["fix", "lib.rs"],
        reply: &["```rust\nfn broken() { let a = 1; }\n```\n"],
        exit: 0,
        stdout: "",
        after: &[("lib.rs", "fn broken() { let a = 1; }\n")],
    },
    Case {
        before: &[("lib.rs", UNFINISHED)],
        args: &["implement", "lib.rs", "--range", "2:5"],
        reply: &[
            "```rust\nfn double(x: u32) -> u32 {\n",
            "    x * 2\n}\n```\n",
        ],
        exit: 0,
        stdout: "",
        after: &[(
            "lib.rs",
            "fn double(x: u32) -> u32 {\n    x * 2\n}\n\nfn main() {}\n",
        )],
    },
    Case {
        before: &[("lib.rs", DOUBLE)],
        args: &["document", "lib.rs", "--range", "1:4"],
        reply: &[
            "```rust\n/// Doubles `x`.\n",
            "fn double(x: u32) -> u32 {\n    x * 2\n}\n```\n",
        ],
        exit: 0,
        stdout: "",
        after: &[(
            "lib.rs",
            "/// Doubles `x`.\nfn double(x: u32) -> u32 {\n    x * 2\n}\n",
        )],
    },
    Case {
        before: &[("lib.rs", DOUBLE)],
        args: &[
            "edit",
            "lib.rs",
            "--range",
            "2:1-3:1",
            "--instruction",
            "triple it",
        ],
        reply: &["```rust\n    x * 3\n```\n"],
        exit: 0,
        stdout: "",
        after: &[("lib.rs", "fn double(x: u32) -> u32 {\n    x * 3\n}\n")],
    },
    // Rust keeps its tests in the same file: a new `mod tests` at its end.
    Case {
        before: &[("lib.rs", DOUBLE)],
        args: &["tests", "lib.rs", "--range", "1:4"],
        reply: &["```rust\n", RUST_TESTS, "```\n"],
        exit: 0,
        stdout: "",
        after: &[(
            "lib.rs",
            "fn double(x: u32) -> u32 {\n    x * 2\n}\n\n#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn doubles() {\n        assert_eq!(double(2), 4);\n    }\n}\n",
        )],
    },
    // Python keeps them in test_<module>.py next to the source, created here.
    Case {
        before: &[("src/calc.py", PYTHON)],
        args: &["tests", "src/calc.py", "--range", "1:5"],
        reply: &["```python\n", PYTHON_TESTS, "```\n"],
        exit: 0,
        stdout: "",
        after: &[("src/calc.py", PYTHON), ("src/test_calc.py", PYTHON_TESTS)],
    },
    // Findings, named by the path as given: exit 1.
    Case {
        before: &[("src/main.rs", REVIEWED)],
        args: &["review", "src/main.rs"],
        reply: &[FINDINGS],
        exit: 1,
        stdout: "src/main.rs:3:5: error: Index 3 is out of bounds.\nsrc/main.rs:4:5: hint: Consider naming x.\n",
        after: &[("src/main.rs", REVIEWED)],
    },
    // No findings: exit 0, nothing printed.
    Case {
        before: &[("src/main.rs", REVIEWED)],
        args: &["review", "src/main.rs"],
        reply: &["```json\n[]\n```"],
        exit: 0,
        stdout: "",
        after: &[("src/main.rs", REVIEWED)],
    },
];

/// With `--diff`: the diffs on stdout (a new file from /dev/null), and no file written.
const DIFFS: &[Case] = &[
    Case {
        before: &[("lib.rs", UNFINISHED)],
        args: &["implement", "lib.rs", "--range", "2:5", "--diff"],
        reply: &[
            "```rust\nfn double(x: u32) -> u32 {\n",
            "    x * 2\n}\n```\n",
        ],
        exit: 0,
        stdout: "--- lib.rs\n+++ lib.rs\n@@ -1,5 +1,5 @@\n fn double(x: u32) -> u32 {\n-    todo!()\n+    x * 2\n }\n \n fn main() {}\n",
        after: &[("lib.rs", UNFINISHED)],
    },
    Case {
        before: &[("src/calc.py", PYTHON)],
        args: &["tests", "src/calc.py", "--range", "1:5", "--diff"],
        reply: &["```python\n", PYTHON_TESTS, "```\n"],
        exit: 0,
        stdout: "--- /dev/null\n+++ src/test_calc.py\n@@ -0,0 +1,5 @@\n+from calc import double\n+\n+\n+def test_double():\n+    assert double(2) == 4\n",
        after: &[("src/calc.py", PYTHON)],
    },
];

/// Runs each case in a project of its own, against one model server.
async fn check(cases: &[Case]) -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    for case in cases {
        let home = setup(&server.base_url(Wire::OpenAi));
        write_project(home.path(), case.before);
        server.push(Reply::text(Wire::OpenAi, case.reply));
        let output = exec(home.path(), case.args).await;
        let said = format!("{:?}: {}", case.args, stderr(&output));
        assert_eq!(output.status.code(), Some(case.exit), "{said}");
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            case.stdout,
            "{said}"
        );
        assert_eq!(project_files(home.path()), owned(case.after), "{said}");
        assert!(!stderr(&output).contains("tandem exec:"), "{said}");
    }
    Ok(())
}

#[tokio::test]
async fn every_action_leaves_exactly_its_result() -> anyhow::Result<()> {
    check(CASES).await
}

#[tokio::test]
async fn diff_prints_and_writes_nothing() -> anyhow::Result<()> {
    check(DIFFS).await
}

/// A run that fails, and how it says so.
struct Failing<'a> {
    model_url: &'a str,
    /// The model's answer; `None` when nothing answers.
    reply: Option<Reply>,
    args: &'a [&'a str],
    exit: i32,
    /// How the message starts and ends.
    starts: String,
    ends: &'a str,
    /// The line before it that says what the model's calls cost, when the model answered.
    spent: Option<&'a str>,
}

/// A failed action says why once, in words, as `tandem exec: …`, and nothing else about it;
/// the files stay as they were.
#[tokio::test]
async fn a_failure_is_said_once_in_words() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    let url = server.base_url(Wire::OpenAi);
    // A port nothing listens on: the connection is refused (after the retries).
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        format!("http://{}/v1", listener.local_addr()?)
    };
    let not_json = "the model's review is not a JSON array of findings: expected value at line 1 column 1 in \"I found nothing wrong.\\n\"";
    let cases = [
        Failing {
            model_url: &url,
            reply: Some(Reply::error(401, "{\"error\":{\"message\":\"bad key\"}}")),
            args: &["implement", "lib.rs", "--range", "2:5"],
            exit: 1,
            starts: format!(
                "model request to {url}/chat/completions failed: the endpoint wants an API key (HTTP 401"
            ),
            ends: "Set model.apiKeyEnv to the environment variable that holds your key.",
            spent: None,
        },
        Failing {
            model_url: &closed,
            reply: None,
            args: &["implement", "lib.rs", "--range", "2:5"],
            exit: 1,
            starts: format!(
                "model request to {closed}/chat/completions failed: could not connect ("
            ),
            ends: "). Is the server running and reachable? Set model.baseUrl to change the address.",
            spent: None,
        },
        // A review that fails exits 2: 1 means findings.
        Failing {
            model_url: &url,
            reply: Some(Reply::text(Wire::OpenAi, &["I found nothing wrong."])),
            args: &["review", "lib.rs"],
            exit: 2,
            starts: not_json.to_owned(),
            ends: not_json,
            spent: Some("tandem: 12 prompt tokens, 1 output token"),
        },
    ];
    for case in cases {
        let home = setup(case.model_url);
        write_project(home.path(), &[("lib.rs", UNFINISHED)]);
        if let Some(reply) = case.reply {
            server.push(reply);
        }
        let output = exec(home.path(), case.args).await;
        let said = stderr(&output);
        assert_eq!(output.status.code(), Some(case.exit), "{said}");
        assert_eq!(String::from_utf8_lossy(&output.stdout), "", "{said}");
        // What runs, what it cost, then why it failed: no log lines, no debug-formatted errors.
        let lines: Vec<&str> = said.lines().collect();
        let doing = format!(
            "tandem: {} with test-model at {}",
            case.args[0], case.model_url
        );
        let spent: Vec<&str> = case.spent.into_iter().collect();
        assert_eq!(lines.len(), 2 + spent.len(), "{said}");
        assert_eq!(lines[0], doing, "{said}");
        assert_eq!(lines[1..lines.len() - 1], spent, "{said}");
        let message = lines[lines.len() - 1]
            .strip_prefix("tandem exec: ")
            .unwrap();
        assert!(
            message.starts_with(&case.starts) && message.ends_with(case.ends),
            "{said}"
        );
        assert_eq!(said.matches(message).count(), 1, "{said}");
        assert!(
            !said.contains("{ detail:") && !said.contains("Connect {"),
            "{said}"
        );
        assert_eq!(project_files(home.path()), owned(&[("lib.rs", UNFINISHED)]));
    }
    Ok(())
}

#[tokio::test]
async fn bad_usage_exits_2_saying_what_is_wrong() -> anyhow::Result<()> {
    let home = setup("http://127.0.0.1:9/v1");
    write_project(home.path(), &[("lib.rs", DOUBLE)]);
    let cases: &[(&[&str], &str)] = &[
        (
            &["teleport", "lib.rs"],
            "tandem exec: unknown action `teleport`; one of: explain, fix, implement, document, tests, edit, review, task\n",
        ),
        (
            &["edit", "lib.rs", "--range", "1:1-2:1"],
            "tandem exec: edit needs an instruction: give --instruction TEXT saying what to change\n",
        ),
        (
            &["edit", "lib.rs", "--instruction", "shorter"],
            "tandem exec: edit needs a range: give --range L1:C1-L2:C2 (1-based) and --instruction TEXT\n",
        ),
        (
            &["implement", "lib.rs"],
            "tandem exec: implement needs a position: give --range LINE:COLUMN inside the item (1-based, e.g. --range 12:5)\n",
        ),
        (
            &["document", "lib.rs", "-q"],
            "tandem exec: document needs a position: give --range LINE:COLUMN inside the item (1-based, e.g. --range 12:5)\n",
        ),
        (
            &["implement", "lib.rs", "--range", "0:1"],
            "tandem exec: `0:1`: lines and columns start at 1\n",
        ),
        (
            &["tests", "lib.rs", "--range", "4:1"],
            "tandem exec: there is no item (function, type, …) at the position (--range 4:1)\n",
        ),
    ];
    for (args, said) in cases {
        let output = exec(home.path(), args).await;
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert_eq!(stderr(&output), *said, "{args:?}");
        assert_eq!(project_files(home.path()), owned(&[("lib.rs", DOUBLE)]));
    }
    let output = exec(home.path(), &["explain", "missing.rs"]).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).starts_with("tandem exec: cannot read missing.rs: "),
        "{}",
        stderr(&output)
    );
    Ok(())
}

/// What stderr holds besides the result, by verbosity, for a run that works and one that fails.
struct Verbose {
    flag: Option<&'static str>,
    /// Whether the model answers (else a closed port).
    answers: bool,
    /// Lines of stderr, in order; `{url}` stands for the model's address. A line ending in `*`
    /// matches any line that starts with the rest.
    stderr: &'static [&'static str],
    /// Whether tandem's debug logs show the model request.
    logs: bool,
}

const VERBOSITY: &[Verbose] = &[
    Verbose {
        flag: None,
        answers: true,
        stderr: &[
            "tandem: implement with test-model at {url}",
            "*",
            "tandem: wrote lib.rs",
            "tandem: 12 prompt tokens, 1 output token",
        ],
        logs: false,
    },
    Verbose {
        flag: Some("--quiet"),
        answers: true,
        stderr: &[],
        logs: false,
    },
    Verbose {
        flag: Some("-q"),
        answers: false,
        stderr: &[
            "tandem exec: model request to {url}/chat/completions failed: could not connect *",
        ],
        logs: false,
    },
    Verbose {
        flag: Some("--verbose"),
        answers: true,
        stderr: &[
            "*",
            "tandem: implement with test-model at {url}",
            "*",
            "tandem: wrote lib.rs",
            "*",
        ],
        logs: true,
    },
];

/// `--quiet` leaves only the failure on stderr; `--verbose` adds the logs of what was tried.
#[tokio::test]
async fn quiet_and_verbose_change_only_what_stderr_says() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        format!("http://{}/v1", listener.local_addr()?)
    };
    let done = "fn double(x: u32) -> u32 {\n    x * 2\n}\n\nfn main() {}\n";
    for case in VERBOSITY {
        let url = if case.answers {
            server.push(Reply::text(
                Wire::OpenAi,
                &["```rust\nfn double(x: u32) -> u32 {\n    x * 2\n}\n```\n"],
            ));
            server.base_url(Wire::OpenAi)
        } else {
            closed.clone()
        };
        let home = setup(&url);
        write_project(home.path(), &[("lib.rs", UNFINISHED)]);
        let mut args = vec!["implement", "lib.rs", "--range", "2:5"];
        args.extend(case.flag);
        let output = exec(home.path(), &args).await;
        let said = stderr(&output);
        assert_eq!(
            output.status.code(),
            Some(if case.answers { 0 } else { 1 }),
            "{said}"
        );
        assert_eq!(String::from_utf8_lossy(&output.stdout), "", "{said}");
        let after = if case.answers { done } else { UNFINISHED };
        assert_eq!(
            project_files(home.path()),
            owned(&[("lib.rs", after)]),
            "{said}"
        );
        // The expected lines in order; a `*` alone stands for any lines.
        let lines: Vec<&str> = said.lines().collect();
        let (mut at, mut skip) = (0, false);
        for want in case.stderr {
            if *want == "*" {
                skip = true;
                continue;
            }
            let want = want.replace("{url}", &url);
            let matches = |line: &str| match want.strip_suffix('*') {
                Some(start) => line.starts_with(start),
                None => line == want,
            };
            while skip && at < lines.len() && !matches(lines[at]) {
                at += 1;
            }
            skip = false;
            assert!(
                lines.get(at).is_some_and(|line| matches(line)),
                "{:?}: no `{want}` at line {at} of:\n{said}",
                case.flag
            );
            at += 1;
        }
        if !skip {
            assert_eq!(
                at,
                lines.len(),
                "{:?}: more than expected:\n{said}",
                case.flag
            );
        }
        assert_eq!(
            said.contains("DEBUG model request"),
            case.logs,
            "{:?}: {said}",
            case.flag
        );
    }
    Ok(())
}

/// `exec --help` says what each exit code means and does not offer `--stdio` (accepted, hidden);
/// a log file that cannot be opened is named.
#[tokio::test]
async fn help_and_log_file_errors_say_what_they_mean() -> anyhow::Result<()> {
    let home = setup("http://127.0.0.1:9/v1");
    write_project(home.path(), &[("lib.rs", DOUBLE)]);
    let help = exec(home.path(), &["--help"]).await;
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("Exit codes: 0 done (review: no findings); 1 the action failed (review: findings); 2 bad")
            && help.contains("[FILE]\n          The file to work on")
            && help.contains("Optional. `L1:C1-L2:C2`")
            && !help.contains("--stdio"),
        "{help}"
    );
    let output = exec(
        home.path(),
        &[
            "teleport",
            "lib.rs",
            "--stdio",
            "--log-file",
            "/nonexistent/dir/x.log",
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).starts_with("tandem: cannot open the log file /nonexistent/dir/x.log: "),
        "{}",
        stderr(&output)
    );
    Ok(())
}

/// `exec task`: the model edits one file and creates another; each step is printed, then the
/// summary on stdout and each file with its line counts; the files are written. With `--diff`
/// nothing is written; a failed task writes nothing.
#[tokio::test]
async fn a_task_edits_and_creates_files_printing_its_steps() -> anyhow::Result<()> {
    use tandem_tests::model_tools::ScriptedCall;
    let server = ModelServer::start().await?;
    let home = setup(&server.base_url(Wire::OpenAi));
    write_project(home.path(), &[("lib.rs", DOUBLE)]);
    let script = |server: &ModelServer| {
        server.push(Reply::tool_calls(
            Wire::OpenAi,
            &[],
            &[
                ScriptedCall::new(
                    "c1",
                    "edit_file",
                    r#"{"path": "lib.rs", "old": "x * 2", "new": "x.saturating_mul(2)"}"#,
                ),
                ScriptedCall::new(
                    "c2",
                    "create_file",
                    r#"{"path": "src/new.rs", "content": "pub fn one() -> u8 { 1 }\n"}"#,
                ),
            ],
        ));
        server.push(Reply::text(Wire::OpenAi, &["Doubling ", "saturates."]));
    };

    script(&server);
    let diff = exec(
        home.path(),
        &["task", "--instruction", "saturate", "--diff"],
    )
    .await;
    assert_eq!(diff.status.code(), Some(0), "{}", stderr(&diff));
    let shown = String::from_utf8_lossy(&diff.stdout);
    assert!(
        shown.starts_with("Doubling saturates.\n"),
        "{shown}{}",
        stderr(&diff)
    );
    assert!(
        shown.contains("+    x.saturating_mul(2)") && shown.contains("+++ src/new.rs"),
        "{shown}"
    );
    assert_eq!(project_files(home.path()), owned(&[("lib.rs", DOUBLE)]));

    script(&server);
    let output = exec(home.path(), &["task", "--instruction", "saturate"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let said = stderr(&output);
    for line in [
        "tandem: step 1: edit_file lib.rs: edited lib.rs\n",
        "tandem: step 1: create_file src/new.rs: created src/new.rs (1 lines)\n",
        "tandem: lib.rs +1 -1\n",
        "tandem: src/new.rs +1 -0\n",
    ] {
        assert!(said.contains(line), "{line:?} in {said}");
    }
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "Doubling saturates.\n"
    );
    assert_eq!(
        project_files(home.path()),
        owned(&[
            ("lib.rs", &DOUBLE.replace("x * 2", "x.saturating_mul(2)")),
            ("src/new.rs", "pub fn one() -> u8 { 1 }\n"),
        ])
    );

    // The model fails half way: nothing is written.
    write_project(home.path(), &[("lib.rs", DOUBLE)]);
    std::fs::remove_file(home.path().join("project/src/new.rs"))?;
    server.push(Reply::tool_calls(
        Wire::OpenAi,
        &[],
        &[ScriptedCall::new(
            "c1",
            "edit_file",
            r#"{"path": "lib.rs", "old": "x * 2", "new": "x + x"}"#,
        )],
    ));
    server.push(Reply::error(500, "boom"));
    let failed = exec(home.path(), &["task", "--instruction", "saturate"]).await;
    assert_eq!(failed.status.code(), Some(1), "{}", stderr(&failed));
    assert_eq!(project_files(home.path()), owned(&[("lib.rs", DOUBLE)]));

    let usage = exec(home.path(), &["task"]).await;
    assert_eq!(usage.status.code(), Some(2));
    assert!(
        stderr(&usage).contains("task needs an instruction"),
        "{}",
        stderr(&usage)
    );
    Ok(())
}
