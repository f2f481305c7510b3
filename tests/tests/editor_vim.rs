//! Vim 9 + ALE 3.3, the real editor, driven by keystrokes in tmux: ALE runs `tandem` as an LSP
//! linter (tests/editors/vim/vimrc), the user picks "Tandem: Implement …" from `:ALECodeAction`'s
//! menu, and the scripted model's function streams into the buffer while the user types.
//!
//! What ALE does with a server (read in ALE 3.3's code and seen in these runs' channel logs):
//! - it advertises `workspace.applyEdit: false`, yet applies a server's `workspace/applyEdit`
//!   (insert mode or not), rewriting the whole buffer; it never answers the request and ignores
//!   the version the edit names, so an edit computed before the user's latest typing lands at
//!   the old positions;
//! - it reports text only as a whole-text `didChange` (versions from its own counter), sent when
//!   it lints or asks something: at once on leaving insert mode; 200 ms after the first key that
//!   follows any change (a queued lint that still fires once the user is in insert mode); and
//!   before its own requests (the hover it sends on `CursorHold`, 4 s after the last key; code
//!   actions). Nothing reports an edit ALE applied by itself until one of those happens.
//! - `window/showMessage` is echoed at the severity the user allows, in a preview window when it
//!   is longer than the screen is wide.
//!
//! The test's eyes: a timer in Vim writes every new buffer text and mode to a file (the
//! snapshots), a callback on ALE's connection writes what the server sent, and Vim's channel log
//! keeps both directions with the snapshots among them (the timeline a failure prints).

#![allow(
    clippy::unwrap_used,
    reason = "a test that unwraps wrong fails, which is the point"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;
use tandem_tests::editor::tandem_bin;
use tandem_tests::model_server::{ModelServer, Reply, Wire};
use tandem_tests::real_editors::{DOUBLE_REPLY, DOUBLE_SOURCE, repo_root, tmux, vim};
use tempfile::TempDir;

/// How long any one wait lasts before the test fails.
const WAIT: Duration = Duration::from_secs(20);

/// Vim running in its own tmux server on a workspace folder holding one file.
struct Vim {
    socket: String,
    workspace: TempDir,
    out: PathBuf,
    log: PathBuf,
}

impl Vim {
    /// Starts Vim on `name` (holding `source`) in a 120×40 tmux pane, and waits until ALE has
    /// started Tandem and opened the file.
    async fn start(server: &ModelServer, name: &str, source: &str) -> anyhow::Result<Vim> {
        static SESSIONS: AtomicUsize = AtomicUsize::new(0);
        let workspace = tempfile::tempdir()?;
        std::fs::create_dir_all(workspace.path().join(".tandem"))?;
        std::fs::write(workspace.path().join(name), source)?;
        let out = workspace.path().join(".vim-out");
        let home = workspace.path().join(".home");
        std::fs::create_dir_all(&out)?;
        std::fs::create_dir_all(&home)?;
        let socket = format!(
            "tandem-vim-{}-{}",
            std::process::id(),
            SESSIONS.fetch_add(1, Ordering::Relaxed)
        );
        let session = Vim {
            socket,
            log: workspace.path().join(".tandem-server.log"),
            out,
            workspace,
        };
        let vimrc = repo_root().join("tests/editors/vim/vimrc");
        // The tmux server started here passes this environment on to Vim, and Vim to Tandem.
        let status = Command::new(tmux()?)
            .args([
                "-L",
                &session.socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
            ])
            .args(["-x", "120", "-y", "40", "-s", "vim", "-c"])
            .arg(session.workspace.path())
            .arg(vim()?)
            .args(["-N", "-i", "NONE", "-u"])
            .arg(&vimrc)
            .arg(name)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env("TERM", "xterm-256color")
            .envs(std::env::var_os("TMUX_TMPDIR").map(|dir| ("TMUX_TMPDIR", dir)))
            .env("TANDEM_BIN", tandem_bin())
            .env("TANDEM_MODEL_URL", server.base_url(Wire::OpenAi))
            .env("TANDEM_LOG", "debug")
            .env("TANDEM_LOG_FILE", &session.log)
            .env("TANDEM_VIM_OUT", &session.out)
            .stdin(Stdio::null())
            .status()
            .context("starting tmux")?;
        if !status.success() {
            bail!("tmux new-session failed: {status}");
        }
        session
            .wait("ALE to start Tandem and open the file", |vim| {
                vim.out.join("ready").exists()
            })
            .await?;
        Ok(session)
    }

    /// Sends `keys` to Vim as tmux key names (`Escape`, `Enter`, `C-c`) or, for `Text(..)`,
    /// literally.
    fn keys(&self, keys: &[Key]) -> anyhow::Result<()> {
        for key in keys {
            let mut command = Command::new(tmux()?);
            command.args(["-L", &self.socket, "send-keys", "-t", "vim"]);
            match key {
                Key::Text(text) => command.args(["-l", "--", text]),
                Key::Named(name) => command.arg(name),
            };
            let status = command.stdin(Stdio::null()).status()?;
            if !status.success() {
                bail!("tmux send-keys {key:?} failed: {status}");
            }
        }
        Ok(())
    }

    /// What the pane shows now.
    fn screen(&self) -> String {
        Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-t", "vim"])
            .stdin(Stdio::null())
            .output()
            .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
            .unwrap_or_default()
    }

    /// Every buffer text the timer wrote, with Vim's mode then (`n`, `i`, `c`), in order.
    fn snapshots(&self) -> Vec<(String, String)> {
        json_lines(&self.out.join("snapshots.jsonl"))
            .iter()
            .map(|snapshot| {
                let lines = snapshot["lines"].as_array().map_or(&[][..], Vec::as_slice);
                let lines: Vec<&str> = lines.iter().filter_map(Value::as_str).collect();
                let mode = snapshot["mode"].as_str().unwrap_or_default();
                (lines.join("\n") + "\n", mode.to_owned())
            })
            .collect()
    }

    /// The buffer's text as the timer last wrote it.
    fn text(&self) -> String {
        self.snapshots().pop().unwrap_or_default().0
    }

    /// The params of every notification or request the server sent with `method`.
    fn received(&self, method: &str) -> Vec<Value> {
        json_lines(&self.out.join("messages.jsonl"))
            .into_iter()
            .filter(|m| m["method"] == method)
            .map(|m| m["params"].clone())
            .collect()
    }

    /// Waits until `done(self)` holds, polling every 20 ms; fails with what Vim shows after
    /// [`WAIT`].
    async fn wait(&self, what: &str, mut done: impl FnMut(&Vim) -> bool) -> anyhow::Result<()> {
        let start = Instant::now();
        while !done(self) {
            if start.elapsed() > WAIT {
                bail!("timed out waiting for {what}\n{}", self.report());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// Waits for the buffer to contain `text`.
    async fn wait_text(&self, text: &str) -> anyhow::Result<()> {
        self.wait(&format!("the buffer to contain {text:?}"), |vim| {
            vim.text().contains(text)
        })
        .await
    }

    /// Waits for the buffer to contain `text` with Vim back in normal mode.
    async fn wait_normal(&self, text: &str) -> anyhow::Result<()> {
        self.wait(
            &format!("the buffer to contain {text:?} in normal mode"),
            |vim| {
                let (now, mode) = vim.snapshots().pop().unwrap_or_default();
                now.contains(text) && mode == "n"
            },
        )
        .await
    }

    /// Picks `title` from `:ALECodeAction`'s numbered menu (the cursor where it is).
    async fn code_action(&self, title: &str) -> anyhow::Result<()> {
        self.keys(&[Key::Text(":ALECodeAction"), Key::Named("Enter")])?;
        let mut number = None;
        self.wait(&format!("{title:?} in the code action menu"), |vim| {
            number = menu_number(&vim.screen(), title);
            number.is_some()
        })
        .await?;
        let number = number.context("the menu shows the action")?;
        self.keys(&[Key::Text(&number), Key::Named("Enter")])
    }

    /// Waits for the job's `tandem/jobFinished` and returns it.
    async fn job_finished(&self) -> anyhow::Result<Value> {
        self.wait("tandem/jobFinished", |vim| {
            !vim.received("tandem/jobFinished").is_empty()
        })
        .await?;
        Ok(self.received("tandem/jobFinished").remove(0))
    }

    /// Vim's screen, the last buffer text, the timeline of what ALE sent and got with the
    /// buffer's states among it (Vim's channel log), and the server's log.
    fn report(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        format!(
            "--- screen ---\n{}\n--- buffer ---\n{}--- timeline (s, Vim's channel log) ---\n{}--- server log ---\n{log}",
            self.screen(),
            self.text(),
            timeline(&String::from_utf8_lossy(
                &std::fs::read(self.out.join("channel.log")).unwrap_or_default()
            )),
        )
    }
}

impl Drop for Vim {
    fn drop(&mut self) {
        // Vim closes Tandem's stdin as it quits, and Tandem exits.
        let _ = self.keys(&[Key::Named("Escape"), Key::Text(":qa!"), Key::Named("Enter")]);
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

#[derive(Debug)]
enum Key<'a> {
    Text(&'a str),
    Named(&'a str),
}

/// The number that picks `title` in ALE's "N) title" menu on `screen`.
fn menu_number(screen: &str, title: &str) -> Option<String> {
    screen.lines().find_map(|line| {
        let (number, rest) = line.trim().split_once(") ")?;
        (rest.starts_with(title) && number.chars().all(|c| c.is_ascii_digit()))
            .then(|| number.to_owned())
    })
}

/// From Vim's channel log, one line for each message ALE sent (`>>`) or got (`<<`) and for each
/// buffer state the snapshot timer logged (`==`), each after its time in seconds.
fn timeline(channel_log: &str) -> String {
    // An entry starts with "  <seconds> "; the text of a message goes on over the next lines.
    let mut entries: Vec<(String, String)> = Vec::new();
    for line in channel_log.lines() {
        let head = line
            .strip_prefix("  ")
            .and_then(|rest| rest.split_once(' '));
        match head {
            Some((time, rest)) if time.parse::<f64>().is_ok() => {
                entries.push((time.to_owned(), rest.to_owned()));
            }
            _ => {
                if let Some((_, text)) = entries.last_mut() {
                    text.push('\n');
                    text.push_str(line);
                }
            }
        }
    }
    let mut out = String::new();
    for (time, text) in entries {
        if let Some(state) = text.strip_prefix(": ch_log(): buffer in mode ") {
            out.push_str(&format!("{time} == {state}\n"));
            continue;
        }
        let tag = if text.starts_with("SEND on ") {
            ">>"
        } else if text.starts_with("RECV on ") {
            "<<"
        } else {
            continue;
        };
        // One read or write may hold several frames; their headers are left out.
        for frame in text.split("Content-Length:") {
            if let Some(start) = frame.find('{') {
                let json = frame[start..].trim_end().trim_end_matches('\'');
                out.push_str(&format!("{time} {tag} {json}\n"));
            }
        }
    }
    out
}

/// Each complete line of a JSON-lines file, parsed (a line still being written is skipped).
fn json_lines(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    complete
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// Fails unless every snapshot has as many `{` as `}`.
fn assert_balanced(vim: &Vim) {
    for (snapshot, _) in vim.snapshots() {
        let open = snapshot.matches('{').count();
        let close = snapshot.matches('}').count();
        assert_eq!(
            open,
            close,
            "a snapshot without the old code's closing brace:\n{snapshot}\n{}",
            vim.report()
        );
    }
}

async fn implement_job(server: &ModelServer, vim: &Vim) -> anyhow::Result<()> {
    vim.keys(&[Key::Text("3G")])?;
    vim.code_action("Tandem: Implement `double`").await?;
    tokio::time::timeout(WAIT, server.wait_for_requests(1))
        .await
        .with_context(|| format!("the model was never asked\n{}", vim.report()))?;
    Ok(())
}

#[tokio::test]
async fn implement_from_ales_code_action_menu_streams_the_function() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    server.push(Reply::text(Wire::OpenAi, DOUBLE_REPLY).gated());
    let vim = Vim::start(&server, "double.rs", DOUBLE_SOURCE).await?;
    implement_job(&server, &vim).await?;
    // The reply's opening chunk, the fence, the signature, and the first body line: the old body
    // stays below the new line until the new text passes it (the streaming diff).
    server.release(4);
    vim.wait_text("    let y = x;\n    todo!()\n}\n").await?;
    // The user presses no key: ALE reports the edit it applied only with the hover it sends on
    // CursorHold (4 s), and the job goes on from there.
    server.release(10);
    let finished = vim.job_finished().await?;
    assert_eq!(finished["status"], "done", "{finished}\n{}", vim.report());
    assert_eq!(finished["action"], "implement");
    // ALE declares no `tandem/jobFinished`, so the server also says it in words, and ALE
    // echoes it (g:ale_lsp_show_message_severity = 'information').
    vim.wait("the end shown on Vim's screen", |vim| {
        vim.screen().contains("Info:tandem: Tandem: implement done")
    })
    .await?;
    let expected = "// top\nfn double(x: u32) -> u32 {\n    let y = x;\n    y * 2\n}\n// bottom\n";
    vim.wait("the final text", |vim| vim.text() == expected)
        .await
        .with_context(|| format!("expected\n{expected}"))?;
    assert_balanced(&vim);
    Ok(())
}

#[tokio::test]
async fn typing_above_and_below_a_stream_keeps_every_keystroke() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    server.push(Reply::text(Wire::OpenAi, DOUBLE_REPLY).gated());
    let vim = Vim::start(&server, "double.rs", DOUBLE_SOURCE).await?;
    implement_job(&server, &vim).await?;
    // The reply's opening chunk, the fence, the signature and the first body line: with the
    // user idle the edit lands, and ALE does not report it before the user's next key.
    server.release(4);
    vim.wait_text("    let y = x;\n    todo!()\n").await?;
    // Above, racing a chunk: half a new line in insert mode, the chunk is let out, the rest of
    // the line. (Its edit waits for ALE to report the last one: 200 ms after the first key, by
    // a lint that may come while the user is still in insert mode, or on leaving it.)
    vim.keys(&[Key::Text("ggo// ab")])?;
    vim.wait_text("// top\n// ab\n").await?;
    server.release(1);
    vim.keys(&[Key::Text("ove 1"), Key::Named("Escape")])?;
    vim.wait_normal("// top\n// above 1\nfn double").await?;
    vim.wait_text("    let y = x;\n    y * 2\n").await?;
    // Below, racing the next chunk the same way.
    vim.keys(&[Key::Text("Go// bel")])?;
    vim.wait_text("// bottom\n// bel\n").await?;
    server.release(1);
    vim.keys(&[Key::Text("ow 1"), Key::Named("Escape")])?;
    vim.wait_normal("// bottom\n// below 1\n").await?;
    vim.wait_text("    y * 2\n}\n").await?;
    // Above and below again, each line whole, then the rest of the reply.
    vim.keys(&[Key::Text("ggo// above 2"), Key::Named("Escape")])?;
    vim.wait_normal("// top\n// above 2\n").await?;
    vim.keys(&[Key::Text("Go// below 2"), Key::Named("Escape")])?;
    vim.wait_normal("// below 1\n// below 2\n").await?;
    server.release(10);
    let finished = vim.job_finished().await?;
    assert_eq!(finished["status"], "done", "{finished}\n{}", vim.report());
    let expected = "// top\n// above 2\n// above 1\nfn double(x: u32) -> u32 {\n    let y = x;\n    y * 2\n}\n// bottom\n// below 1\n// below 2\n";
    vim.wait("the final text", |vim| vim.text() == expected)
        .await
        .with_context(|| format!("expected\n{expected}"))?;
    assert_balanced(&vim);
    Ok(())
}

#[tokio::test]
async fn a_chunk_landing_while_the_user_types_a_line_above_keeps_every_keystroke()
-> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    server.push(Reply::text(Wire::OpenAi, DOUBLE_REPLY).gated());
    let vim = Vim::start(&server, "double.rs", DOUBLE_SOURCE).await?;
    implement_job(&server, &vim).await?;
    // The reply's opening chunk, the fence and the signature (the same as the old one): the
    // server has no edit in flight and knows the editor's text.
    server.release(3);
    // Half a new line above, in insert mode (ALE reports nothing until the user leaves it), and
    // a chunk comes: the server computes its edit against the text it knows, without the new
    // line, and ALE applies it at those positions all the same, one line too high.
    vim.keys(&[Key::Text("ggo// ab")])?;
    vim.wait_text("// top\n// ab\n").await?;
    server.release(1);
    vim.wait_text("let y = x;").await?;
    vim.keys(&[Key::Text("ove 1"), Key::Named("Escape")])?;
    vim.wait_normal("// top\n// above 1\n").await?;
    // Below, a line that does not move the function, then the rest of the reply.
    vim.keys(&[Key::Text("Go// below 1"), Key::Named("Escape")])?;
    vim.wait_normal("// bottom\n// below 1\n").await?;
    server.release(10);
    let finished = vim.job_finished().await?;
    assert_eq!(finished["status"], "done", "{finished}\n{}", vim.report());
    let expected = "// top\n// above 1\nfn double(x: u32) -> u32 {\n    let y = x;\n    y * 2\n}\n// bottom\n// below 1\n";
    vim.wait("the final text", |vim| vim.text() == expected)
        .await
        .with_context(|| format!("expected\n{expected}"))?;
    assert_balanced(&vim);
    Ok(())
}

#[tokio::test]
async fn a_longer_stream_with_the_user_idle_ends_done() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    let reply = [
        "```rust\n",
        "fn double(x: u32) -> u32 {\n",
        "    let a = x;\n",
        "    let b = a;\n",
        "    let c = b;\n",
        "    c * 2\n",
        "}\n",
        "```\n",
    ];
    server.push(Reply::text(Wire::OpenAi, &reply).gated());
    let vim = Vim::start(&server, "double.rs", DOUBLE_SOURCE).await?;
    implement_job(&server, &vim).await?;
    // The reply's opening chunk, the fence and the signature; then one line at a time, each
    // once the last is in the buffer. The user presses no key all along: ALE reports what it
    // applied only with its hover on CursorHold (once, 4 s after the last key) and the lint
    // that follows it.
    server.release(3);
    for line in ["    let a = x;\n", "    let b = a;\n", "    let c = b;\n"] {
        server.release(1);
        vim.wait_text(line).await?;
    }
    server.release(10);
    let finished = vim.job_finished().await?;
    assert_eq!(finished["status"], "done", "{finished}\n{}", vim.report());
    let expected = "// top\nfn double(x: u32) -> u32 {\n    let a = x;\n    let b = a;\n    let c = b;\n    c * 2\n}\n// bottom\n";
    vim.wait("the final text", |vim| vim.text() == expected)
        .await
        .with_context(|| format!("expected\n{expected}"))?;
    assert_balanced(&vim);
    Ok(())
}
