//! The VS Code extension end to end: its vsix installed in code-server (VS Code in the browser),
//! driven by Playwright in Debian's Chromium (`tests/editors/vscode/run.mjs`), with the real
//! `tandem` binary as its server and the scripted model server as the model. Needs what
//! `tests/editors/install.sh` installs.

#![allow(
    clippy::unwrap_used,
    reason = "a test that unwraps wrong fails, which is the point"
)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::bail;
use tandem::model::FimWire;
use tandem_tests::editor::tandem_bin;
use tandem_tests::model_fim;
use tandem_tests::model_server::{ModelServer, Reply, Wire};
use tandem_tests::model_tools::ScriptedCall;
use tandem_tests::real_editors::{self, DOUBLE_SOURCE, repo_root};
use tokio::process::Command;

/// The file the test opens: a syntax error to fix (`broken`) and a body to rewrite (`greet`).
const SOURCE: &str = "fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n\nfn broken() { let a = 1 }\n\nfn greet() -> String {\n    String::from(\"hi\")\n}\n";

/// Builds `editors/vscode/tandem.vsix` (`npm ci` first when its packages are missing) and copies
/// it into `into`. Under a lock: two test runs at once would write the same build output.
async fn package_extension(root: &Path, into: &Path) -> anyhow::Result<PathBuf> {
    package(root, into, "npm run package && cp tandem.vsix \"$1\"", None).await
}

/// Builds the platform-specific package with `server` inside (`scripts/package.mjs`) into `into`.
async fn package_bundled(root: &Path, into: &Path, server: &Path) -> anyhow::Result<PathBuf> {
    let script = "node scripts/package.mjs --server \"$2\" --out \"$1\"";
    package(root, into, script, Some(server)).await
}

/// Runs `script` in `editors/vscode` under the packaging lock, with `$1` the vsix to make in
/// `into` and `$2` the server binary, if any.
async fn package(
    root: &Path,
    into: &Path,
    script: &str,
    server: Option<&Path>,
) -> anyhow::Result<PathBuf> {
    let dir = root.join("editors/vscode");
    std::fs::create_dir_all(root.join("target/editor-artifacts"))?;
    let lock = root.join("target/editor-artifacts/.vscode-package.lock");
    let vsix = into.join("tandem.vsix");
    let script =
        format!("([ -x node_modules/.bin/vsce ] || npm ci --no-audit --no-fund) && {script}");
    let mut package = Command::new("flock");
    package
        .arg(&lock)
        .args(["sh", "-c", &script, "package"])
        .arg(&vsix)
        .args(server)
        .current_dir(&dir);
    let run = real_editors::run(package, Duration::from_secs(300)).await?;
    if !run.success {
        bail!("packaging the extension failed\n{}", run.transcript());
    }
    anyhow::ensure!(vsix.exists(), "npm run package made no {}", vsix.display());
    Ok(vsix)
}

/// Kills code-server's process group if the driver left it behind (it was itself killed).
fn kill_code_server(pid_file: &Path) {
    if let Ok(pid) = std::fs::read_to_string(pid_file) {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", pid.trim())])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// Runs `run.mjs`'s `case` with the extension packaged from this checkout, the debug server,
/// and a workspace holding `files`, with artifacts in a folder of the case's own (the other VS
/// Code tests may run at the same time). Returns the workspace, for what the case left there.
async fn drive_case(
    case: &str,
    server: &ModelServer,
    files: &[(&str, &str)],
) -> anyhow::Result<tempfile::TempDir> {
    let root = repo_root();
    let (artifacts, scratch) = folders(&root, &format!("target/editor-artifacts/vscode-{case}"))?;
    let vsix = package_extension(&root, scratch.path()).await?;
    let workspace = workspace(files)?;
    let what = format!("the VS Code {case} test");
    drive(
        Some(case),
        &vsix,
        &tandem_bin(),
        server,
        workspace.path(),
        &artifacts,
        scratch.path(),
        &what,
    )
    .await?;
    Ok(workspace)
}

/// Runs `run.mjs` (with `TANDEM_CASE=case`; none for the main case) in code-server on
/// `workspace`, the extension `vsix` installed and pointed at the server binary `bin`, with
/// `scratch` for code-server's pid file. The transcript is kept in `artifacts`; unless the
/// driver succeeded, the test fails with it, saying that `what` failed.
#[expect(
    clippy::too_many_arguments,
    reason = "one call per case, every argument named there"
)]
async fn drive(
    case: Option<&str>,
    vsix: &Path,
    bin: &Path,
    server: &ModelServer,
    workspace: &Path,
    artifacts: &Path,
    scratch: &Path,
    what: &str,
) -> anyhow::Result<()> {
    let root = repo_root();
    let node24 = real_editors::node24_bin()?.join("node");
    let code_server = real_editors::code_server()?;
    let driver_dir = root.join("tests/editors/vscode");
    anyhow::ensure!(
        driver_dir.join("node_modules/playwright-core").exists(),
        "playwright-core is not installed in {}: run `bash tests/editors/install.sh`",
        driver_dir.display()
    );
    let pid_file = scratch.join("code-server.pid");
    let mut driver = Command::new(&node24);
    driver
        .arg(driver_dir.join("run.mjs"))
        .current_dir(&driver_dir);
    if let Some(case) = case {
        driver.env("TANDEM_CASE", case);
    }
    driver
        .env("TANDEM_BIN", bin)
        .env("TANDEM_MODEL_URL", server.base_url(Wire::OpenAi))
        .env("TANDEM_CONTROL_URL", server.url())
        .env("TANDEM_WORKSPACE", workspace)
        .env("TANDEM_VSIX", vsix)
        .env("TANDEM_ARTIFACTS", artifacts)
        .env("TANDEM_PID_FILE", &pid_file)
        .env("TANDEM_NODE24", &node24)
        .env("TANDEM_CODE_SERVER", &code_server);
    let run = real_editors::run(driver, Duration::from_secs(240)).await;
    kill_code_server(&pid_file);
    let run = run?;
    std::fs::write(artifacts.join("vscode-transcript.txt"), run.transcript())?;
    assert!(
        run.success,
        "{what} failed (screenshot and logs in {}):\n{}",
        artifacts.display(),
        run.transcript()
    );
    Ok(())
}

/// A case's artifacts folder (`relative` to the repository: each case has its own, as cases
/// run at the same time), made if missing, and a scratch folder.
fn folders(root: &Path, relative: &str) -> anyhow::Result<(PathBuf, tempfile::TempDir)> {
    let artifacts = root.join(relative);
    std::fs::create_dir_all(&artifacts)?;
    Ok((artifacts, tempfile::tempdir()?))
}

/// A workspace folder holding `files` (paths relative to it).
fn workspace(files: &[(&str, &str)]) -> anyhow::Result<tempfile::TempDir> {
    let workspace = tempfile::tempdir()?;
    for (path, text) in files {
        let path = workspace.path().join(path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, text)?;
    }
    Ok(workspace)
}

#[tokio::test]
async fn vscode_extension_fixes_streams_rejects_explains_with_the_stored_key_and_follows_settings()
-> anyhow::Result<()> {
    let root = repo_root();
    let (artifacts, scratch) = folders(&root, "target/editor-artifacts")?;
    let vsix = package_extension(&root, scratch.path()).await?;

    let server = ModelServer::start().await?;
    let workspace = workspace(&[("src/main.rs", SOURCE)])?;
    let (bin, what) = (tandem_bin(), "the VS Code test");
    drive(
        None,
        &vsix,
        &bin,
        &server,
        workspace.path(),
        &artifacts,
        scratch.path(),
        what,
    )
    .await?;
    let screenshot = artifacts.join("vscode-final.png");
    assert!(
        screenshot.exists(),
        "no screenshot at {}",
        screenshot.display()
    );

    // The model requests from the editor: the fix, the edit with its instruction, the
    // explanation asked by the server restarted with the key from secret storage, then
    // explanations until one carried the model name changed in the settings, and the edit
    // cancelled from the status bar (asked with that name too).
    let requests = server.requests();
    assert!(requests.len() >= 4, "{requests:?}");
    assert_eq!(
        requests.last().unwrap().body["model"],
        "renamed-model",
        "{requests:?}"
    );
    let edit_prompt = requests[1].body.to_string();
    assert!(
        edit_prompt.contains("build the greeting piece by piece")
            && edit_prompt.contains("String::from"),
        "{edit_prompt}"
    );
    assert_eq!(requests[0].header("authorization"), None, "no key yet");
    assert_eq!(
        requests[2].header("authorization"),
        Some("Bearer sk-tandem-vscode-test"),
        "the key set with Tandem: Set API Key reaches the model"
    );
    Ok(())
}

/// `run.mjs` with `TANDEM_CASE=typing`: the user types above and below `fn double` in
/// `src/double.rs`, with real keystrokes, while "Tandem: Implement" streams it chunk by chunk;
/// every 20 ms snapshot of the editor keeps its braces balanced, the job ends done, and the
/// editor ends with exactly the user's lines and the model's function.
#[tokio::test]
async fn vscode_typing_above_and_below_a_streaming_implement_keeps_every_key_and_brace()
-> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    // run.mjs reads main.rs whatever the case.
    let files = [("src/main.rs", SOURCE), ("src/double.rs", DOUBLE_SOURCE)];
    drive_case("typing", &server, &files).await?;
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "one model request: {requests:?}");
    assert!(
        requests[0].body.to_string().contains("todo!()"),
        "the prompt carries the function: {}",
        requests[0].body
    );
    Ok(())
}

/// `run.mjs` with `TANDEM_CASE=bundled`: the platform-specific vsix that carries the server
/// (`scripts/package.mjs`), installed alone, with no `tandem.server.path` and no `tandem` on
/// code-server's PATH: the extension starts the server it carries and the light bulb's
/// "Tandem: Fix this" runs to the end with it.
#[tokio::test]
async fn vscode_bundled_vsix_runs_a_fix_with_no_setting_and_nothing_on_path() -> anyhow::Result<()>
{
    let root = repo_root();
    // Its own artifacts folder: the other VS Code tests may run at the same time.
    let (artifacts, scratch) = folders(&root, "target/editor-artifacts/vscode-bundled")?;
    let vsix = package_bundled(&root, scratch.path(), &tandem_bin()).await?;

    let server = ModelServer::start().await?;
    let workspace = workspace(&[("src/main.rs", SOURCE)])?;
    // TANDEM_BIN is required by run.mjs, set nowhere in this case.
    let (bin, what) = (
        PathBuf::from("/nonexistent/tandem"),
        "the VS Code bundled-server test",
    );
    let (dir, scratch) = (workspace.path(), scratch.path());
    drive(
        Some("bundled"),
        &vsix,
        &bin,
        &server,
        dir,
        &artifacts,
        scratch,
        what,
    )
    .await?;
    let requests = server.requests();
    assert_eq!(
        requests.len(),
        1,
        "one model request, the fix: {requests:?}"
    );
    assert!(
        requests[0].body.to_string().contains("fn broken()"),
        "the prompt carries the broken function: {}",
        requests[0].body
    );
    Ok(())
}

/// `run.mjs` with `TANDEM_CASE=learning` (`tandem.learn.minEvidence` 1): a finished edit rejected
/// with "Reject with reason…" comes back to the old text; the server, told the reason, asks the
/// model for a rule (the reason in the request); the proposal's notification is answered with
/// "Edit…" and the user's wording, which the server writes into `.tandem/rules.md`.
#[tokio::test]
async fn vscode_rejects_with_a_reason_and_approves_the_proposed_rule_in_its_own_words()
-> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    let workspace = drive_case("learning", &server, &[("src/main.rs", SOURCE)]).await?;
    let dir = workspace.path();
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "the edit and the rule: {requests:?}");
    assert!(
        requests[0]
            .body
            .to_string()
            .contains("build the greeting piece by piece"),
        "the edit's instruction: {}",
        requests[0].body
    );
    let rule_request = requests[1].body.to_string();
    assert!(
        rule_request.contains("The rule, or NONE:")
            && rule_request.contains("we build strings with format, never with push_str"),
        "the rule request carries the reason: {rule_request}"
    );
    let rules = std::fs::read_to_string(dir.join(".tandem/rules.md"))?;
    assert!(
        rules.contains("- Build strings with format!, never with push_str."),
        "{rules}"
    );
    Ok(())
}

/// The second file of the task case, which the task edits without its being open.
const UTIL: &str = "pub fn twice(x: i32) -> i32 {\n    x * 2\n}\n";

/// One model turn that calls `edit_file` on `path` (relative to the workspace root).
fn edit_file_turn(id: &str, path: &str, old: &str, new: &str) -> Reply {
    let arguments = serde_json::json!({"path": path, "old": old, "new": new}).to_string();
    Reply::tool_calls(
        Wire::OpenAi,
        &[],
        &[ScriptedCall::new(id, "edit_file", &arguments)],
    )
}

/// `run.mjs` with `TANDEM_CASE=task`: "Tandem: Task…" from the palette, its instruction typed in
/// the input box, on `src/main.rs`. The model documents `twice` in `src/util.rs` (not open), then
/// (the reply held until the script has seen the first step in the task's notification) `add`
/// in `src/main.rs`, then summarises. Both editors hold the edits, the summary opens, and
/// "Tandem: Reject" puts both back exactly.
#[tokio::test]
async fn vscode_a_two_file_task_lands_in_both_editors_and_rejecting_it_restores_them()
-> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    server.push(edit_file_turn(
        "call_1",
        "src/util.rs",
        "pub fn twice(",
        "/// Doubles `x`.\npub fn twice(",
    ));
    server.push(
        edit_file_turn(
            "call_2",
            "src/main.rs",
            "fn add(",
            "/// Adds two numbers.\nfn add(",
        )
        .gated(),
    );
    server.push(Reply::text(
        Wire::OpenAi,
        &["Documented `add` ", "and `twice`."],
    ));
    drive_case(
        "task",
        &server,
        &[("src/main.rs", SOURCE), ("src/util.rs", UTIL)],
    )
    .await?;
    let requests: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.body.to_string())
        .collect();
    assert_eq!(
        requests.len(),
        3,
        "two tool turns and the summary: {requests:#?}"
    );
    assert!(
        requests[0].contains("document the functions add and twice"),
        "the instruction typed in the input box reaches the model: {}",
        requests[0]
    );
    Ok(())
}

/// `run.mjs` with `TANDEM_CASE=completion` (`tests/editors/vscode/completion.mjs`), on
/// `src/main.rs`: the user types `const LIMIT: u32 =` on a new line after `fn add`; the server's
/// inline suggestion, the scripted model's fill-in-the-middle answer cut to its first line,
/// shows as ghost text; Tab puts it in the buffer and the server counts it accepted. A click on
/// the status bar's "Suggestions: on" turns `tandem.completion.enabled` off; the server has it,
/// and answers the request VS Code makes when the user types `const MORE: u32 =` without asking
/// the model.
#[tokio::test]
async fn vscode_inline_suggestion_shows_is_accepted_with_tab_and_the_status_bar_turns_it_off()
-> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    // VS Code may ask on every keystroke; each request the server passes on takes one reply.
    for _ in 0..40 {
        server.push(Reply::fim(
            FimWire::OpenAiCompletions,
            &[" 10", ";\n", "const MAX: u32 = 20;\n"],
        ));
    }
    drive_case("completion", &server, &[("src/main.rs", SOURCE)]).await?;
    let requests = server.requests();
    let path = model_fim::path(FimWire::OpenAiCompletions);
    assert!(
        requests.iter().all(|r| r.path == path),
        "every model request is a FIM request at {path}: {:?}",
        requests.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    let prompts: Vec<(&str, &str)> = requests
        .iter()
        .map(|r| {
            (
                r.body["prompt"].as_str().unwrap_or_default(),
                r.body["suffix"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    // The text before the cursor once the line was typed, and the text after it.
    let (before, after) = SOURCE.split_once("}\n\n").unwrap();
    let prefix = format!("{before}}}\n\nconst LIMIT: u32 =");
    let suffix = format!("\n{after}");
    assert!(
        prompts
            .iter()
            .any(|(p, s)| p.ends_with(&prefix) && s.starts_with(&suffix)),
        "a request carries the typed line's prefix {prefix:?} and suffix {suffix:?}: {prompts:#?}"
    );
    assert!(
        requests.iter().all(|r| r.body["model"] == "test-model"),
        "{requests:?}"
    );
    assert!(
        prompts.iter().all(|(p, _)| !p.contains("const MORE")),
        "no model request once suggestions were off: {prompts:#?}"
    );
    Ok(())
}
