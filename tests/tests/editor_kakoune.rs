//! Real editor: Kakoune 2022.10.31 with kak-lsp 22, driven by keystrokes in tmux, runs Tandem
//! the way a user sets it up (tests/editors/kakoune/kakrc registers it in `lsp_servers`) against
//! the real binary and the scripted model server. The user picks "Tandem: Implement" from
//! `:lsp-code-actions`' menu; the buffer is read passively (`kak -p` evaluates a whole-buffer
//! selection in a draft context of the buffer and writes it to a file, leaving the client's mode
//! and selections alone), and the job's end is read from the `*debug*` buffer, where kak-lsp
//! writes the server's `window/showMessage` ("Tandem: implement done").
//!
//! What kak-lsp 22 does with the protocol (its `*debug*` log with `lsp_debug`): it answers every
//! `workspace/applyEdit` `applied: true`; it ignores the version the edit names, turning the
//! edit's positions into Kakoune's with its copy of the text it last sent and applying them to
//! the buffer as it is now; after applying it runs its own `lsp-did-change`, so a `didChange`
//! follows each edit; every `didChange` it sends carries the whole text (versions are Kakoune's
//! buffer timestamps, with gaps); the user's typing goes out only on `InsertIdle`/`NormalIdle`;
//! and it writes the file (then `didSave`) when it applies a server's edit to a buffer whose
//! text is the same as on disk.

#![allow(
    clippy::unwrap_used,
    reason = "a test that unwraps wrong fails, which is the point"
)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use tandem_tests::editor::tandem_bin;
use tandem_tests::model_server::{ModelServer, Reply, Wire};
use tandem_tests::real_editors::{DOUBLE_REPLY, DOUBLE_SOURCE, kak, kak_lsp, repo_root, tmux};
use tempfile::TempDir;
use tokio::process::Command;

/// How long any one wait lasts before the test fails.
const WAIT: Duration = Duration::from_secs(20);
/// How long a whole case may take.
const DEADLINE: Duration = Duration::from_secs(120);
/// How often the buffer is read while the job streams.
const SNAPSHOT_EVERY: Duration = Duration::from_millis(25);

const IMPLEMENTED: &str =
    "// top\nfn double(x: u32) -> u32 {\n    let y = x;\n    y * 2\n}\n// bottom\n";

/// What ends every text Kakoune writes for the test (after a space).
const END: &str = "TANDEM-TEST-END";

/// The text `write_buffer` wrote to `file`, once Kakoune has written all of it.
fn written(file: &Path) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    text.strip_suffix(&format!(" {END}")).map(str::to_owned)
}

/// One Kakoune session in its own tmux server, with its own runtime folder (sockets), home and
/// configuration, editing `double.rs` in a workspace marked by `.tandem/`.
struct Kakoune {
    dir: TempDir,
    session: String,
    tmux_socket: PathBuf,
    env: Vec<(String, String)>,
    /// Numbers the files `kak -p` writes.
    next: AtomicUsize,
}

impl Kakoune {
    async fn start(server: &ModelServer) -> anyhow::Result<Kakoune> {
        let dir = tempfile::tempdir()?;
        let workspace = dir.path().join("ws");
        std::fs::create_dir_all(workspace.join(".tandem"))?;
        std::fs::write(workspace.join("double.rs"), DOUBLE_SOURCE)?;
        for sub in ["run", "home", "out"] {
            std::fs::create_dir_all(dir.path().join(sub))?;
        }
        // Kakoune wants its runtime folder private.
        std::fs::set_permissions(
            dir.path().join("run"),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )?;
        let kak_lsp = kak_lsp()?;
        let path = format!(
            "{}:{}",
            kak_lsp.parent().context("kak-lsp's folder")?.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let home = dir.path().join("home");
        let env = vec![
            ("PATH".to_owned(), path),
            ("HOME".to_owned(), home.display().to_string()),
            (
                "XDG_CONFIG_HOME".to_owned(),
                home.join("config").display().to_string(),
            ),
            (
                "XDG_RUNTIME_DIR".to_owned(),
                dir.path().join("run").display().to_string(),
            ),
            (
                "KAKOUNE_CONFIG_DIR".to_owned(),
                repo_root()
                    .join("tests/editors/kakoune")
                    .display()
                    .to_string(),
            ),
            ("TERM".to_owned(), "xterm-256color".to_owned()),
            ("TANDEM_BIN".to_owned(), tandem_bin().display().to_string()),
            ("TANDEM_MODEL_URL".to_owned(), server.base_url(Wire::OpenAi)),
            (
                "TANDEM_LOG_FILE".to_owned(),
                dir.path().join("tandem.log").display().to_string(),
            ),
            ("TANDEM_LOG".to_owned(), "debug".to_owned()),
        ];

        let session = format!("tandem{}", std::process::id());
        let kakoune = Kakoune {
            tmux_socket: dir.path().join("tmux.sock"),
            dir,
            session,
            env,
            next: AtomicUsize::new(0),
        };
        let kak = kak()?;
        tmux()?;
        let status = kakoune
            .tmux()
            .args([
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-x",
                "120",
                "-y",
                "40",
            ])
            .args(["-s", "main", "-c"])
            .arg(&workspace)
            .arg(&kak)
            .args(["-s", &kakoune.session, "double.rs"])
            .status()
            .await
            .context("starting tmux")?;
        if !status.success() {
            bail!("tmux new-session failed: {status}");
        }
        // Kakoune is up when it answers; kak-lsp started when the *debug* buffer says so.
        kakoune
            .wait("kak-lsp to start Tandem", || async {
                Ok(kakoune
                    .debug_text()
                    .await
                    .is_ok_and(|text| text.contains("Starting language server tandem")))
            })
            .await?;
        // kak-lsp logs every message it exchanges to *debug*: the test reads what it sent, and
        // a failure shows the whole exchange.
        kakoune.eval("set-option global lsp_debug true\n").await?;
        Ok(kakoune)
    }

    fn tmux(&self) -> Command {
        let mut command = Command::new(tmux().unwrap_or_else(|_| PathBuf::from("tmux")));
        command
            .arg("-S")
            .arg(&self.tmux_socket)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    /// Sends keys to the client (tmux key names: `Escape`, `Enter`, or single characters).
    async fn keys(&self, keys: &[&str]) -> anyhow::Result<()> {
        let out = self
            .tmux()
            .args(["send-keys", "-t", "main"])
            .args(keys)
            .output()
            .await?;
        if !out.status.success() {
            bail!("send-keys failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    }

    /// Types `text` literally.
    async fn type_text(&self, text: &str) -> anyhow::Result<()> {
        self.keys(&["-l", text]).await
    }

    /// Leaves insert mode, then pauses so the next key is not read as an Alt chord.
    async fn escape(&self) -> anyhow::Result<()> {
        self.keys(&["Escape"]).await?;
        tokio::time::sleep(Duration::from_millis(100)).await;
        Ok(())
    }

    /// What the terminal shows.
    async fn screen(&self) -> String {
        match self
            .tmux()
            .args(["capture-pane", "-p", "-t", "main"])
            .output()
            .await
        {
            Ok(out) => String::from_utf8_lossy(&out.stdout).into_owned(),
            Err(err) => format!("(capture-pane failed: {err})"),
        }
    }

    /// Sends Kakoune commands to the session (`kak -p`); they run in the server, outside any
    /// client. Returns once they are sent, not once they ran.
    async fn eval(&self, commands: &str) -> anyhow::Result<()> {
        let mut child = Command::new(kak()?)
            .args(["-p", &self.session])
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let mut stdin = child.stdin.take().context("stdin is piped")?;
        tokio::io::AsyncWriteExt::write_all(&mut stdin, commands.as_bytes()).await?;
        drop(stdin);
        let out = child.wait_with_output().await?;
        if !out.status.success() {
            bail!("kak -p failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    }

    /// A fresh file name for `echo -to-file`.
    fn out_file(&self, what: &str) -> PathBuf {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        self.dir.path().join("out").join(format!("{n:06}-{what}"))
    }

    /// Asks Kakoune to write `buffer`'s whole text to `file`, from a draft context of that
    /// buffer: the client's mode, selections and undo history are left alone. The text is
    /// followed by a space and [`END`], so that a file read while Kakoune writes it is known
    /// to be cut short.
    async fn write_buffer(&self, buffer: &str, file: &Path) -> anyhow::Result<()> {
        self.eval(&format!(
            "evaluate-commands -buffer '{buffer}' %{{ execute-keys '%' ; echo -to-file '{}' %val{{selection}} {END} }}\n",
            file.display()
        ))
        .await
    }

    async fn read_buffer(&self, buffer: &str) -> anyhow::Result<String> {
        let file = self.out_file("read");
        self.write_buffer(buffer, &file).await?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(text) = written(&file) {
                return Ok(text);
            }
            if tokio::time::Instant::now() > deadline {
                bail!("Kakoune wrote no {buffer} to {}", file.display());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The text of `double.rs` in Kakoune.
    async fn text(&self) -> anyhow::Result<String> {
        self.read_buffer("double.rs").await
    }

    /// The `*debug*` buffer (kak-lsp's messages and the server's `window/showMessage`s).
    async fn debug_text(&self) -> anyhow::Result<String> {
        self.read_buffer("*debug*").await
    }

    /// Polls `cond` until it holds, failing with `what` after [`WAIT`].
    async fn wait<F, Fut>(&self, what: &str, mut cond: F) -> anyhow::Result<()>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<bool>>,
    {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if cond().await? {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                bail!("timed out waiting for {what}\n{}", self.transcript().await);
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }

    /// Waits until the buffer holds `needle`.
    async fn wait_text(&self, needle: &str) -> anyhow::Result<()> {
        self.wait(&format!("the buffer to hold {needle:?}"), || async {
            Ok(self.text().await?.contains(needle))
        })
        .await
    }

    /// The user picks "Tandem: Implement `double`" from `:lsp-code-actions`' menu, with the
    /// cursor on `line`. The menu is asked again until the server's list is in it.
    async fn implement(&self, line: usize) -> anyhow::Result<()> {
        self.keys(&[&line.to_string(), "g"]).await?;
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            self.type_text(":lsp-code-actions").await?;
            self.keys(&["Enter"]).await?;
            let shown = tokio::time::Instant::now() + Duration::from_secs(2);
            while tokio::time::Instant::now() < shown {
                if self.screen().await.contains("Tandem: Implement `double`") {
                    // Typing filters the menu; Enter runs the one entry left.
                    self.type_text("Implement").await?;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    self.keys(&["Enter"]).await?;
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            self.escape().await?;
            if tokio::time::Instant::now() > deadline {
                bail!(
                    "the code action menu never offered Implement\n{}",
                    self.transcript().await
                );
            }
        }
    }

    /// Waits until the job asked the model: the user types only once the action runs.
    async fn wait_model_request(&self, server: &ModelServer) -> anyhow::Result<()> {
        if tokio::time::timeout(WAIT, server.wait_for_requests(1))
            .await
            .is_err()
        {
            bail!("the job never asked the model\n{}", self.transcript().await);
        }
        Ok(())
    }

    /// Opens a new line below `line` (`g` goes there: a number, or `e` for the last line) and
    /// types `text` on it, racing `between` (run after the first half of the text).
    async fn type_line<F, Fut>(&self, go: &str, text: &str, between: F) -> anyhow::Result<()>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        if go == "e" {
            self.keys(&["g", "e"]).await?;
        } else {
            self.keys(&[go, "g"]).await?;
        }
        self.keys(&["o"]).await?;
        let half = text.len() / 2;
        self.type_text(&text[..half]).await?;
        between().await;
        self.type_text(&text[half..]).await?;
        self.escape().await
    }

    /// Waits until kak-lsp has sent the server a `didChange` whose text holds `needle`.
    async fn wait_sent(&self, needle: &str) -> anyhow::Result<()> {
        self.wait(&format!("kak-lsp to send {needle:?}"), || async {
            Ok(self.debug_text().await?.lines().any(|line| {
                line.contains("To server tandem:")
                    && line.contains("textDocument/didChange")
                    && line.contains(needle)
            }))
        })
        .await
    }

    /// The job's end as kak-lsp shows it: `Some(line)` once the `*debug*` buffer has the
    /// server's "Tandem: implement …" message.
    async fn job_end(&self) -> anyhow::Result<Option<String>> {
        let debug = self.debug_text().await?;
        Ok(debug
            .lines()
            .find(|line| line.contains("from server tandem: Tandem: implement "))
            .map(str::to_owned))
    }

    async fn wait_job_end(&self) -> anyhow::Result<String> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(line) = self.job_end().await? {
                return Ok(line);
            }
            if tokio::time::Instant::now() > deadline {
                bail!(
                    "timed out waiting for the job to end\n{}",
                    self.transcript().await
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Reads the buffer every [`SNAPSHOT_EVERY`] until the returned guard is stopped.
    fn snapshots(self: &Arc<Self>) -> Snapshots {
        let kakoune = self.clone();
        let files = Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = files.clone();
        let task = tokio::spawn(async move {
            loop {
                let file = kakoune.out_file("snapshot");
                if kakoune.write_buffer("double.rs", &file).await.is_ok() {
                    kept.lock().unwrap().push(file);
                }
                tokio::time::sleep(SNAPSHOT_EVERY).await;
            }
        });
        Snapshots { task, files }
    }

    /// Everything that explains a failure: the screen, the buffer, `*debug*`, the server's log.
    async fn transcript(&self) -> String {
        let text = self.text().await.unwrap_or_else(|e| format!("({e})"));
        let debug = self.debug_text().await.unwrap_or_else(|e| format!("({e})"));
        let log = std::fs::read_to_string(self.dir.path().join("tandem.log")).unwrap_or_default();
        format!(
            "--- screen ---\n{}\n--- double.rs ---\n{text}\n--- *debug* ---\n{debug}\n--- tandem log ---\n{log}",
            self.screen().await
        )
    }
}

impl Drop for Kakoune {
    fn drop(&mut self) {
        // `kill!` ends the session; its KakEnd hook stops kak-lsp, which stops the server.
        let Ok(kak) = kak() else { return };
        let kak_p = std::process::Command::new(kak)
            .args(["-p", &self.session])
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        if let Ok(mut child) = kak_p {
            if let Some(mut stdin) = child.stdin.take() {
                let _ = std::io::Write::write_all(&mut stdin, b"kill!\n");
            }
            let _ = child.wait();
        }
        std::thread::sleep(Duration::from_millis(300));
        let Ok(tmux) = tmux() else { return };
        let _ = std::process::Command::new(tmux)
            .arg("-S")
            .arg(&self.tmux_socket)
            .arg("kill-server")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The buffer's texts read while a job streams.
struct Snapshots {
    task: tokio::task::JoinHandle<()>,
    files: Arc<std::sync::Mutex<Vec<PathBuf>>>,
}

impl Snapshots {
    /// Stops reading and returns the texts Kakoune wrote, in order.
    async fn stop(self) -> Vec<String> {
        self.task.abort();
        let _ = self.task.await;
        // The last `kak -p` may still be running in Kakoune.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let files = self.files.lock().unwrap().clone();
        files.iter().filter_map(|file| written(file)).collect()
    }
}

/// Every snapshot keeps the function whole: as many `{` as `}`. With `raced`, kak-lsp may have
/// applied an edit at the lines it named in text the server had not seen yet, one line too high
/// (it ignores versions): until the server's repair lands, a `}` can be doubled, never missing.
fn check_braces(snapshots: &[String], raced: bool) {
    assert!(
        snapshots.len() >= 10,
        "only {} snapshots were taken",
        snapshots.len()
    );
    for (n, text) in snapshots.iter().enumerate() {
        let open = text.matches('{').count();
        let close = text.matches('}').count();
        if raced {
            assert!(close >= open, "snapshot {n} lost a brace:\n{text}");
        } else {
            assert_eq!(open, close, "snapshot {n} lost a brace:\n{text}");
        }
    }
}

fn gated_reply(server: &ModelServer) {
    server.push(Reply::text(Wire::OpenAi, DOUBLE_REPLY).gated());
}

async fn within_deadline(
    case: impl std::future::Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<()> {
    tokio::time::timeout(DEADLINE, case)
        .await
        .context("the case did not finish in time")?
}

/// The common scenario's final text: the user's lines where they typed them (Kakoune's rust.kak
/// continues a `//` comment on the line `o` opens, so the user types the words only) and the
/// model's function in place of the old one.
const TYPED_AROUND: &str = "// top\n// above 1\n// above 2\nfn double(x: u32) -> u32 {\n    let y = x;\n    y * 2\n}\n// bottom\n// below 1\n// below 2\n";

/// Waits for the job's end and checks it ended `done` with `expected` in the buffer, and that
/// every snapshot kept the braces balanced.
async fn check_done(
    kakoune: &Kakoune,
    snapshots: Snapshots,
    expected: &str,
    raced: bool,
) -> anyhow::Result<()> {
    let end = kakoune.wait_job_end().await?;
    let snapshots = snapshots.stop().await;
    assert!(
        end.ends_with("Tandem: implement done"),
        "the job ended: {end}\n{}",
        kakoune.transcript().await
    );
    let text = kakoune.text().await?;
    assert_eq!(text, expected, "{}", kakoune.transcript().await);
    check_braces(&snapshots, raced);
    Ok(())
}

/// The user idle: the job ends done and the buffer holds the model's function.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implement_from_the_code_action_menu_fills_the_body() -> anyhow::Result<()> {
    within_deadline(async {
        let server = ModelServer::start().await?;
        gated_reply(&server);
        let kakoune = Arc::new(Kakoune::start(&server).await?);
        let snapshots = kakoune.snapshots();
        kakoune.implement(3).await?;
        kakoune.wait_model_request(&server).await?;
        // The preamble, the fence and the signature (the same as the old one).
        server.release(3);
        server.release(1);
        kakoune.wait_text("let y = x;").await?;
        server.release(10);
        check_done(&kakoune, snapshots, IMPLEMENTED, false).await?;
        assert_eq!(server.requests().len(), 1, "one model request");
        Ok(())
    })
    .await
}

/// The common scenario with a pause around each chunk: the user types above and below the
/// function, and each chunk is let out only once kak-lsp has sent the server the typed line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_above_and_below_between_chunks_keeps_everything() -> anyhow::Result<()> {
    within_deadline(async {
        let server = ModelServer::start().await?;
        gated_reply(&server);
        let kakoune = Arc::new(Kakoune::start(&server).await?);
        let snapshots = kakoune.snapshots();
        kakoune.implement(3).await?;
        kakoune.wait_model_request(&server).await?;
        // The preamble, the fence and the signature (the same as the old one).
        server.release(3);
        kakoune.type_line("1", "above 1", || async {}).await?;
        kakoune.wait_sent("// above 1\\n").await?;
        server.release(1);
        kakoune.wait_text("let y = x;").await?;
        kakoune.type_line("e", "below 1", || async {}).await?;
        kakoune.wait_sent("// below 1\\n").await?;
        server.release(1);
        kakoune.wait_text("y * 2").await?;
        kakoune.type_line("2", "above 2", || async {}).await?;
        kakoune.wait_sent("// above 2\\n").await?;
        server.release(1);
        kakoune.type_line("e", "below 2", || async {}).await?;
        kakoune.wait_sent("// below 2\\n").await?;
        server.release(10);
        check_done(&kakoune, snapshots, TYPED_AROUND, false).await
    })
    .await
}

/// The common scenario with the typing racing the chunks: a chunk is let out while the user is
/// halfway through a line, before kak-lsp has told the server about it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_above_and_below_racing_the_chunks_keeps_everything() -> anyhow::Result<()> {
    within_deadline(async {
        let server = ModelServer::start().await?;
        gated_reply(&server);
        let kakoune = Arc::new(Kakoune::start(&server).await?);
        let snapshots = kakoune.snapshots();
        kakoune.implement(3).await?;
        kakoune.wait_model_request(&server).await?;
        // The preamble, the fence and the signature (the same as the old one).
        server.release(3);
        kakoune.type_line("1", "above 1", || async {}).await?;
        kakoune.wait_text("// above 1\n").await?;
        server.release(1);
        kakoune.wait_text("let y = x;").await?;
        kakoune
            .type_line("e", "below 1", || async { server.release(1) })
            .await?;
        kakoune.wait_text("y * 2").await?;
        kakoune
            .type_line("2", "above 2", || async { server.release(1) })
            .await?;
        kakoune
            .type_line("e", "below 2", || async { server.release(10) })
            .await?;
        check_done(&kakoune, snapshots, TYPED_AROUND, true).await
    })
    .await
}
