use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use proptest::prelude::*;
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;

use super::*;

/// A workspace from `(path, content)` pairs; a content `->target` makes a symbolic link to
/// `target`, where `ROOT` stands for the workspace's path.
fn workspace(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for (path, content) in files {
        let at = root.join(path);
        fs::create_dir_all(at.parent().unwrap()).unwrap();
        match content.strip_prefix("->") {
            Some(target) => {
                let target = target.replace("ROOT", &root.display().to_string());
                std::os::unix::fs::symlink(target, &at).unwrap();
            }
            None => fs::write(&at, content).unwrap(),
        }
    }
    dir
}

fn overlays(root: &Path, pairs: &[(&str, &str)]) -> Vec<Overlay> {
    pairs
        .iter()
        .map(|(path, text)| Overlay {
            path: root.join(path),
            text: (*text).to_owned(),
        })
        .collect()
}

fn sh(script: &str) -> CheckSpec {
    CheckSpec {
        command: vec!["sh".into(), "-c".into(), script.into()],
        ..CheckSpec::default()
    }
}

async fn check(root: &Path, overlays: &[Overlay], spec: &CheckSpec) -> CheckOutcome {
    run_check(root, overlays, spec, &CancellationToken::new())
        .await
        .unwrap()
}

/// Every file, link and folder under `root`, with its bytes or its link target.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            let what = if meta.is_symlink() {
                format!("-> {}", fs::read_link(&path).unwrap().display())
            } else if meta.is_dir() {
                stack.push(path.clone());
                "folder".to_owned()
            } else {
                String::from_utf8_lossy(&fs::read(&path).unwrap()).into_owned()
            };
            out.insert(path.strip_prefix(root).unwrap().to_path_buf(), what);
        }
    }
    out
}

/// Whether the process lives (a zombie waiting to be reaped does not count).
fn alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(") ")
            .is_some_and(|(_, s)| s.starts_with('Z')),
        Err(_) if Path::new("/proc/self/stat").exists() => false,
        Err(_) => rustix::process::Pid::from_raw(pid)
            .is_some_and(|pid| rustix::process::test_kill_process(pid).is_ok()),
    }
}

/// Waits, boundedly, for a killed process to be gone.
async fn gone(pid: i32) -> bool {
    for _ in 0..500 {
        if !alive(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// Waits, boundedly, for the check to write a pid.
async fn read_pid(file: &Path) -> i32 {
    for _ in 0..500 {
        if let Some(pid) = fs::read_to_string(file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return pid;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the check never wrote {}", file.display());
}

/// `(path, content)` pairs, as [`workspace`] takes them.
type Files<'a> = &'a [(&'a str, &'a str)];

const TAG: &str = "Signature: 8a477f597d28d172789f06886806bc55\n";

#[tokio::test]
async fn the_command_sees_the_workspace_as_the_editor_does() {
    #[rustfmt::skip]
    let cases: &[(&str, Files, Files, &str, &str)] = &[
        ("a buffer wins over the disk",
         &[("a.txt", "disk\n")], &[("a.txt", "buffer\n")], "cat a.txt", "buffer\n"),
        ("an unsaved new file in a new folder",
         &[("a.txt", "disk\n")], &[("src/new/b.txt", "new\n")], "cat src/new/b.txt", "new\n"),
        ("a gitignored file is left out",
         &[(".gitignore", "*.log\n"), ("x.log", "log\n")], &[], "test -e x.log || echo out", "out\n"),
        ("a .tandemignore'd folder is left out",
         &[(".tandemignore", "private/\n"), ("private/p.txt", "p\n")], &[],
         "test -e private || echo out", "out\n"),
        (".git is left out",
         &[(".git/HEAD", "ref\n"), ("a.txt", "a\n")], &[], "test -e .git || echo out", "out\n"),
        ("an ignored target/ is shared",
         &[(".gitignore", "/target\n"), ("target/debug/out", "built\n")], &[],
         "test -L target && cat target/debug/out", "built\n"),
        ("an ignored node_modules/ is shared at any depth",
         &[(".gitignore", "node_modules/\n"), ("web/node_modules/p/index.js", "js\n"), ("web/a.js", "")],
         &[], "test -L web/node_modules && cat web/node_modules/p/index.js", "js\n"),
        ("a folder tagged as a cache is shared though not ignored",
         &[("cache/CACHEDIR.TAG", TAG), ("cache/data", "d\n")], &[], "test -L cache && cat cache/data", "d\n"),
        ("a target/ neither ignored nor tagged is copied as source",
         &[("target/main.rs", "src\n")], &[], "test -L target || cat target/main.rs", "src\n"),
        ("a relative link reads the buffer",
         &[("a.txt", "disk\n"), ("link", "->a.txt")], &[("a.txt", "buffer\n")], "cat link", "buffer\n"),
        ("an absolute link into the workspace reads the buffer",
         &[("a.txt", "disk\n"), ("sub/abs", "->ROOT/a.txt")], &[("a.txt", "buffer\n")], "cat sub/abs", "buffer\n"),
        ("a buffer outside the workspace is not written",
         &[("a.txt", "a\n")], &[("../elsewhere.txt", "x\n")], "ls", "a.txt\n"),
    ];
    for (name, disk, buffers, script, expected) in cases {
        let dir = workspace(disk);
        let outcome = check(dir.path(), &overlays(dir.path(), buffers), &sh(script)).await;
        assert_eq!(
            (outcome.output.as_str(), outcome.exit_code),
            (*expected, Some(0)),
            "{name}"
        );
    }
}

#[tokio::test]
async fn the_users_files_are_never_touched() {
    let dir = workspace(&[
        (".gitignore", "/target\n*.log\n"),
        ("a.txt", "a\n"),
        ("b.txt", "b\n"),
        ("sub/c.txt", "c\n"),
        ("x.log", "log\n"),
        ("link", "->a.txt"),
        ("abs", "->ROOT/b.txt"),
        ("target/debug/out", "built\n"),
    ]);
    let root = dir.path();
    let before = snapshot(root);
    let outside = tempfile::tempdir().unwrap();
    let pwd = outside.path().join("pwd");
    let buffers = overlays(
        root,
        &[
            ("a.txt", "buffer\n"),
            ("new.txt", "new\n"),
            // Under a shared folder and in .git: writing there would reach the user's files.
            ("target/debug/planted", "x\n"),
            (".git/config", "x\n"),
        ],
    );
    let script = format!(
        "pwd > '{}'; for f in * .[!.]* sub/*; do echo x > \"$f\"; done; rm -rf sub; exit 0",
        pwd.display()
    );
    let outcome = check(root, &buffers, &sh(&script)).await;
    assert_eq!(outcome.exit_code, Some(0), "{outcome:?}");
    assert_eq!(outcome.scratch.overlays, 2, "{:?}", outcome.scratch);
    assert_eq!(snapshot(root), before);
    let scratch = fs::read_to_string(pwd).unwrap();
    assert!(
        !Path::new(scratch.trim()).exists(),
        "the scratch copy {scratch} is left behind"
    );
}

#[tokio::test]
async fn copies_keep_their_times_and_unchanged_buffers_are_not_written() {
    let dir = workspace(&[("a.txt", "same\n"), ("b.txt", "disk\n")]);
    let root = dir.path();
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    for name in ["a.txt", "b.txt"] {
        let file = fs::File::options()
            .write(true)
            .open(root.join(name))
            .unwrap();
        file.set_modified(old).unwrap();
    }
    let outside = tempfile::tempdir().unwrap();
    let script = format!("cp -p a.txt b.txt '{}'", outside.path().display());
    let buffers = overlays(root, &[("a.txt", "same\n"), ("b.txt", "buffer\n")]);
    let outcome = check(root, &buffers, &sh(&script)).await;
    assert_eq!(outcome.exit_code, Some(0), "{outcome:?}");
    let modified = |name: &str| {
        fs::metadata(outside.path().join(name))
            .unwrap()
            .modified()
            .unwrap()
    };
    assert_eq!(modified("a.txt"), old);
    assert_ne!(modified("b.txt"), old);
    assert_eq!(outcome.scratch.overlays, 1);
    assert_eq!((outcome.scratch.files, outcome.scratch.bytes), (2, 10));
}

#[tokio::test]
async fn a_relative_program_is_the_copys() {
    let dir = workspace(&[("check.sh", "#!/bin/sh\necho disk\n")]);
    let root = dir.path();
    let script = root.join("check.sh");
    let mut permissions = fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    fs::set_permissions(&script, permissions).unwrap();
    let spec = CheckSpec {
        command: vec!["./check.sh".into()],
        ..CheckSpec::default()
    };
    let buffers = overlays(root, &[("check.sh", "#!/bin/sh\necho buffer\n")]);
    let outcome = check(root, &buffers, &spec).await;
    assert_eq!(outcome.output, "buffer\n");
}

#[tokio::test]
async fn the_exit_code_passes_through() {
    let dir = workspace(&[("a.txt", "a\n")]);
    for (script, code) in [("exit 0", 0), ("exit 3", 3), ("false", 1)] {
        let outcome = check(dir.path(), &[], &sh(script)).await;
        assert_eq!(outcome.exit_code, Some(code), "{script}");
        assert_eq!(
            describe(&outcome),
            format!("exit code {code}\n(no output)\n")
        );
    }
}

#[tokio::test]
async fn output_is_both_streams_capped_valid_and_redacted() {
    let dir = workspace(&[("a.txt", "a\n")]);
    let both = check(dir.path(), &[], &sh("echo out; echo err >&2")).await;
    assert!(
        both.output.contains("out\n") && both.output.contains("err\n"),
        "{both:?}"
    );
    let bytes = check(dir.path(), &[], &sh("printf 'ok \\377\\n'")).await;
    assert_eq!(bytes.output, "ok \u{FFFD}\n");
    let secret = check(dir.path(), &[], &sh("echo 'api_key = \"abcd1234efgh\"'")).await;
    assert_eq!(secret.output, "api_key = \"[REDACTED]\"\n");

    let spec = CheckSpec {
        max_output_bytes: 1024,
        ..sh("seq 1 20000")
    };
    let total: usize = (1..=20_000).map(|n: u32| n.to_string().len() + 1).sum();
    let outcome = check(dir.path(), &[], &spec).await;
    let output = &outcome.output;
    assert!(
        output.starts_with("1\n2\n3\n") && output.ends_with("\n19999\n20000\n"),
        "{output}"
    );
    let (head, rest) = output.split_once("[… ").unwrap();
    let (cut, tail) = rest.split_once(" bytes of output cut here …]\n").unwrap();
    assert_eq!(
        head.len() + tail.len() + cut.parse::<usize>().unwrap(),
        total
    );
    assert!(head.len() + tail.len() <= 1024);
}

#[tokio::test]
async fn a_time_out_kills_the_whole_group() {
    let dir = workspace(&[("a.txt", "a\n")]);
    let outside = tempfile::tempdir().unwrap();
    let pid_file = outside.path().join("pid");
    let spec = CheckSpec {
        timeout: Duration::from_secs(1),
        ..sh(&format!(
            "echo started; sleep 30 & echo $! > '{}'; wait",
            pid_file.display()
        ))
    };
    let outcome = check(dir.path(), &[], &spec).await;
    assert!(outcome.timed_out && !outcome.cancelled, "{outcome:?}");
    assert_eq!(outcome.exit_code, None);
    assert!(
        describe(&outcome).starts_with("timed out after "),
        "{}",
        describe(&outcome)
    );
    assert!(
        describe(&outcome).ends_with("\nstarted\n"),
        "{}",
        describe(&outcome)
    );
    let grandchild = read_pid(&pid_file).await;
    assert!(
        gone(grandchild).await,
        "the check's grandchild {grandchild} lives on"
    );
}

#[tokio::test]
async fn a_cancel_kills_the_whole_group() {
    let dir = workspace(&[("a.txt", "a\n")]);
    let outside = tempfile::tempdir().unwrap();
    let pid_file = outside.path().join("pid");
    let spec = sh(&format!(
        "sleep 30 & echo $! > '{}'; wait",
        pid_file.display()
    ));
    let cancel = CancellationToken::new();
    let (outcome, grandchild) = tokio::join!(run_check(dir.path(), &[], &spec, &cancel), async {
        let pid = read_pid(&pid_file).await;
        cancel.cancel();
        pid
    });
    let outcome = outcome.unwrap();
    assert!(
        outcome.cancelled && outcome.started && !outcome.timed_out,
        "{outcome:?}"
    );
    assert!(describe(&outcome).starts_with("cancelled after "));
    assert!(
        gone(grandchild).await,
        "the check's grandchild {grandchild} lives on"
    );
}

#[tokio::test]
async fn a_background_process_does_not_outlive_a_check_that_exited() {
    let dir = workspace(&[("a.txt", "a\n")]);
    let outside = tempfile::tempdir().unwrap();
    let pid_file = outside.path().join("pid");
    // The sleeper holds the output pipes: without the group kill the check would wait for it.
    let spec = sh(&format!(
        "sleep 30 & echo $! > '{}'; exit 0",
        pid_file.display()
    ));
    let outcome = check(dir.path(), &[], &spec).await;
    assert_eq!((outcome.exit_code, outcome.timed_out), (Some(0), false));
    let grandchild = read_pid(&pid_file).await;
    assert!(
        gone(grandchild).await,
        "the check's grandchild {grandchild} lives on"
    );
}

#[tokio::test]
async fn a_check_ended_before_the_command_starts() {
    let dir = workspace(&[("a.txt", "a\n")]);
    let cancelled = CancellationToken::new();
    cancelled.cancel();
    let outcome = run_check(dir.path(), &[], &sh("echo no"), &cancelled)
        .await
        .unwrap();
    assert!(outcome.cancelled && !outcome.started, "{outcome:?}");
    assert!(
        describe(&outcome)
            .ends_with("while the workspace was being copied: the command did not start")
    );
    let spec = CheckSpec {
        timeout: Duration::ZERO,
        ..sh("echo no")
    };
    let outcome = check(dir.path(), &[], &spec).await;
    assert!(outcome.timed_out && !outcome.started, "{outcome:?}");
}

#[tokio::test]
async fn what_cannot_start_is_an_error_in_words() {
    let dir = workspace(&[("a.txt", "a\n")]);
    let command = |words: &[&str]| CheckSpec {
        command: words.iter().map(|w| (*w).to_owned()).collect(),
        ..CheckSpec::default()
    };
    let missing = dir.path().join("missing");
    for (root, spec, expected) in [
        (dir.path(), command(&[]), "agent.checkCommand is not set"),
        (
            dir.path(),
            command(&["", "x"]),
            "agent.checkCommand is not set",
        ),
        (
            dir.path(),
            command(&["tandem-no-such-command"]),
            "`tandem-no-such-command` was not found",
        ),
        (dir.path(), command(&["./a.txt"]), "permission denied"),
        (missing.as_path(), command(&["true"]), "is not a folder"),
    ] {
        let error = run_check(root, &[], &spec, &CancellationToken::new())
            .await
            .unwrap_err();
        assert!(error.contains(expected), "{spec:?}: {error}");
    }
}

#[test]
fn describe_says_how_it_ended() {
    let outcome = |f: fn(&mut CheckOutcome)| {
        let mut o = CheckOutcome {
            started: true,
            took: Duration::from_millis(2_340),
            ..CheckOutcome::default()
        };
        f(&mut o);
        describe(&o)
    };
    #[rustfmt::skip]
    let cases = [
        (outcome(|o| { o.exit_code = Some(1); o.output = "boom".into() }), "exit code 1\nboom\n"),
        (outcome(|o| o.exit_code = Some(0)), "exit code 0\n(no output)\n"),
        (outcome(|o| o.signal = Some(11)), "killed by signal 11\n(no output)\n"),
        (outcome(|o| { o.timed_out = true; o.took = Duration::from_secs(120); o.output = "so far\n".into() }),
         "timed out after 120.0 s (agent.checkTimeoutMs); the check's processes were stopped\nso far\n"),
        (outcome(|o| { o.cancelled = true; o.started = false }),
         "cancelled after 2.3 s; the check's processes were stopped while the workspace was being \
          copied: the command did not start"),
    ];
    for (got, expected) in cases {
        assert_eq!(got, expected);
    }
}

#[test]
fn capture_keeps_the_head_and_the_tail() {
    #[rustfmt::skip]
    let cases: &[(usize, &[&str], &str)] = &[
        (16, &["abc", "def"], "abcdef"),
        (6, &["abcdef"], "abcdef"),
        (4, &["abcdefgh"], "ab\n[… 4 bytes of output cut here …]\ngh"),
        (4, &["a", "b", "c", "d", "e", "f", "g", "h"], "ab\n[… 4 bytes of output cut here …]\ngh"),
        // Cut at line ends near the cut.
        (16, &["one\ntwo\nthree\nfour\nfive\nsix\n"], "one\ntwo\n[… 16 bytes of output cut here …]\nsix\n"),
        (0, &["abc"], "[… 3 bytes of output cut here …]\n"),
    ];
    for (cap, chunks, expected) in cases {
        let mut capture = Capture::new(*cap);
        for chunk in *chunks {
            capture.push(chunk.as_bytes());
        }
        assert_eq!(capture.finish(), *expected, "{cap} {chunks:?}");
    }
}

proptest! {
    #[test]
    fn capture_does_not_depend_on_how_output_is_chunked(
        text in "[a-z\n]{0,300}",
        cuts in proptest::collection::vec(0usize..300, 0..10),
        cap in 0usize..120,
    ) {
        let mut whole = Capture::new(cap);
        whole.push(text.as_bytes());
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(text.len())).collect();
        cuts.sort_unstable();
        let mut chunked = Capture::new(cap);
        let mut from = 0;
        for to in cuts.into_iter().chain([text.len()]) {
            chunked.push(&text.as_bytes()[from..to]);
            from = to;
        }
        prop_assert_eq!(chunked.finish(), whole.finish());
    }
}
