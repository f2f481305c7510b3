//! End to end: the command line as a user reads it. Every argument of every command is
//! described, serve-only flags appear only where they serve, `--stdio` given twice (as
//! vscode-languageclient does) is accepted, and `doctor --quiet` says one line.

#![allow(
    clippy::unwrap_used,
    reason = "a test that unwraps wrong fails, which is the point"
)]

use std::process::{Output, Stdio};

use tandem_tests::editor::tandem_bin;

/// Runs `tandem ARGS` with stdin closed, no settings and no log level set.
async fn tandem(args: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap();
    tokio::process::Command::new(tandem_bin())
        .args(args)
        .current_dir(home.path())
        .env("XDG_CONFIG_HOME", home.path())
        .env_remove("OPENAI_API_KEY")
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("TANDEM_LOG")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The entries of the `Arguments:` and `Options:` sections of a help text, each with its
/// description (empty when it has none). Clap prints a description on the entry's line after
/// two spaces or more, or (long help) on the lines below it, indented further.
fn entries(help: &str) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = Vec::new();
    let mut in_section = false;
    for line in help.lines() {
        if line == "Arguments:" || line == "Options:" || line == "Commands:" {
            in_section = true;
            continue;
        }
        if !line.starts_with(' ') && !line.is_empty() {
            in_section = false;
        }
        if !in_section || line.trim().is_empty() {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        if indent <= 6 {
            let entry = line.trim_start();
            let (name, description) = entry.split_once("  ").unwrap_or((entry, ""));
            found.push((name.to_owned(), description.trim().to_owned()));
        } else if let Some((_, description)) = found.last_mut() {
            description.push_str(line.trim());
        }
    }
    found
}

/// A help text and what it must and must not list.
struct Help {
    args: &'static [&'static str],
    lists: &'static [&'static str],
    never: &'static [&'static str],
}

const HELPS: &[Help] = &[
    Help {
        args: &["--help"],
        lists: &["--stdio", "--log-file <PATH>", "exec", "doctor", "serve"],
        never: &["--quiet", "--verbose"],
    },
    Help {
        args: &["exec", "--help"],
        lists: &[
            "<ACTION>",
            "[FILE]",
            "--range <RANGE>",
            "--instruction <INSTRUCTION>",
            "--diff",
            "-q, --quiet",
            "-v, --verbose",
            "--log-file <PATH>",
        ],
        never: &["--stdio", "stdin/stdout"],
    },
    Help {
        args: &["exec", "-h"],
        lists: &["<ACTION>", "[FILE]", "--range <RANGE>", "-q, --quiet"],
        never: &["--stdio", "stdin/stdout"],
    },
    Help {
        args: &["doctor", "--help"],
        lists: &["--settings <JSON>", "-q, --quiet", "-v, --verbose"],
        never: &["--stdio", "stdin/stdout"],
    },
    Help {
        args: &["serve", "--help"],
        lists: &["--log-file <PATH>"],
        never: &["--quiet", "--verbose"],
    },
];

/// Every entry of every help text has a description, and each lists what it should.
#[tokio::test]
async fn every_argument_is_described_and_serve_flags_stay_with_serving() {
    for case in HELPS {
        let output = tandem(case.args).await;
        let help = text(&output.stdout);
        assert_eq!(output.status.code(), Some(0), "{:?}: {help}", case.args);
        let found = entries(&help);
        for (name, description) in &found {
            assert!(
                !description.is_empty(),
                "{:?}: `{name}` has no description:\n{help}",
                case.args
            );
        }
        for want in case.lists {
            assert!(
                found.iter().any(|(name, _)| name == want),
                "{:?}: `{want}` is not listed:\n{help}",
                case.args
            );
        }
        for never in case.never {
            assert!(
                !help.contains(never),
                "{:?}: `{never}` is listed:\n{help}",
                case.args
            );
        }
    }
    // `--range` says it is optional where it is described.
    let exec = text(&tandem(&["exec", "--help"]).await.stdout);
    let range = entries(&exec)
        .into_iter()
        .find(|(name, _)| name == "--range <RANGE>")
        .unwrap();
    assert!(range.1.starts_with("Optional."), "{exec}");
}

/// `--stdio`, once or twice, anywhere a client may put it, is accepted: serving ends with the
/// code for stdin closed (1) and writes nothing on stdout; a subcommand goes on as without it.
#[tokio::test]
async fn stdio_given_twice_is_accepted() {
    let cases: &[(&[&str], i32)] = &[
        (&[], 1),
        (&["--stdio"], 1),
        (&["--stdio", "--stdio"], 1),
        (&["serve", "--stdio", "--stdio"], 1),
        (&["--stdio", "serve", "--stdio"], 1),
        (&["exec", "--stdio", "--stdio", "teleport", "x.rs"], 2),
    ];
    for (args, code) in cases {
        let output = tandem(args).await;
        let said = text(&output.stderr);
        assert_eq!(output.status.code(), Some(*code), "{args:?}: {said}");
        assert!(!said.contains("error:"), "{args:?}: {said}");
        assert_eq!(text(&output.stdout), "", "{args:?}");
    }
}

/// `doctor --quiet` says one line, the failure with what was tried and what to do, in words;
/// `--quiet` and `--verbose` together are bad usage.
#[tokio::test]
async fn doctor_quiet_says_one_line() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let settings = format!(r#"{{"model": {{"baseUrl": "http://127.0.0.1:{closed}"}}}}"#);
    let output = tandem(&["doctor", "--quiet", "--settings", &settings]).await;
    let report = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{report}");
    assert_eq!(report.lines().count(), 1, "{report}");
    assert!(
        report.starts_with(&format!(
            "failed: model request to http://127.0.0.1:{closed}/api/tags failed: could not connect ("
        )) && report.ends_with("Set model.baseUrl to change the address.\n"),
        "{report}"
    );
    assert!(
        !report.contains("Connect {") && !report.contains("detail:"),
        "{report}"
    );
    assert_eq!(text(&output.stderr), "");

    let output = tandem(&["doctor", "-q", "-v"]).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("'--quiet' cannot be used with '--verbose'"),
        "{}",
        text(&output.stderr)
    );
}

/// A log file that cannot be opened is named, whatever the command, and nothing runs.
#[tokio::test]
async fn a_log_file_that_cannot_be_opened_is_named() {
    let path = "/nonexistent/dir/x.log";
    let cases: &[&[&str]] = &[
        &["--log-file", path],
        &["--stdio", "--log-file", path],
        &["serve", "--log-file", path],
        &["doctor", "--log-file", path],
        &["exec", "explain", "x.rs", "--log-file", path],
    ];
    for args in cases {
        let output = tandem(args).await;
        let said = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {said}");
        assert!(
            said.starts_with(&format!("tandem: cannot open the log file {path}: "))
                && said.ends_with(", or leave it out to log to stderr.\n")
                && said.lines().count() == 1,
            "{args:?}: {said}"
        );
        assert_eq!(text(&output.stdout), "", "{args:?}");
    }
}
