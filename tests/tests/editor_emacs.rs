//! Emacs + eglot, the real editor: a quick fix from eglot's code actions runs a Tandem job,
//! and the model's edit lands in the buffer (tests/editors/emacs/smoke.el).

#![allow(
    clippy::unwrap_used,
    reason = "a test that unwraps wrong fails, which is the point"
)]

use std::path::Path;
use std::time::Duration;

use tandem_tests::editor::tandem_bin;
use tandem_tests::model_server::{ModelServer, Reply, Wire};
use tandem_tests::real_editors::{DOUBLE_SOURCE, emacs, repo_root, run};

#[tokio::test]
async fn a_quick_fix_from_eglot_lands_the_models_edit() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    server.push(Reply::text(
        Wire::OpenAi,
        &[
            "```python\n",
            "def add(a, b):\n",
            "    return a + b\n",
            "```\n",
        ],
    ));
    let home = tempfile::tempdir()?;
    let project = tempfile::tempdir()?;
    std::fs::create_dir(project.path().join(".git"))?;
    let file = project.path().join("add.py");
    std::fs::write(&file, "def add(a, b):\n    return a +\n")?;

    let command = emacs_batch("smoke.el", home.path(), &server, &file)?;
    let outcome = run(command, Duration::from_secs(90)).await?;
    assert!(outcome.success, "Emacs failed\n{}", outcome.transcript());

    let requests = server.requests();
    assert_eq!(requests.len(), 1, "one model request: {requests:?}");
    let prompt = requests[0].body.to_string();
    assert!(
        prompt.contains("return a +"),
        "the prompt carries the broken code: {prompt}"
    );
    assert!(
        outcome.stderr.contains("Tandem: fix done"),
        "the job's end reached Emacs\n{}",
        outcome.transcript()
    );
    Ok(())
}

/// tests/editors/emacs/typing.el: the user types above and below `fn double` while Implement
/// streams it (eglot refuses edits made for an older version with an error and sends
/// `didChange` only after 0.5 s without a key); it checks the braces of every 20 ms snapshot,
/// the job's `done`, the final buffer, and the lines one job adds to *Messages* (at most 10).
#[tokio::test]
async fn typing_above_and_below_a_streaming_implement_in_eglot_keeps_every_key_and_brace()
-> anyhow::Result<()> {
    run_typing_el(None).await
}

/// typing.el with TANDEM_TEST_LONG: a ten-second stream, a line every 250 ms, the user idle.
/// eglot prints two lines for every edit it applies; the server spaces a job's edits out for
/// it, so the job still adds at most 16 lines to *Messages*.
#[tokio::test]
async fn a_ten_second_stream_in_eglot_fits_on_one_screen_of_messages() -> anyhow::Result<()> {
    run_typing_el(Some("TANDEM_TEST_LONG")).await
}

/// typing.el with TANDEM_TEST_BELOW: once eglot has reported the user's typing below the
/// function, it goes on streaming while they type on below it, though eglot reports nothing
/// until they pause: the server sends its edits at the version eglot names when it refuses one.
#[tokio::test]
async fn streaming_goes_on_while_the_user_types_below_in_eglot() -> anyhow::Result<()> {
    run_typing_el(Some("TANDEM_TEST_BELOW")).await
}

/// typing.el with TANDEM_TEST_ABOVE: the same above the function. eglot's unreported line above
/// may move any edit a line, so each edit then only inserts whole lines at a line start; the new
/// lines show while the user types, and are put right, if off, once eglot reports.
#[tokio::test]
async fn streaming_goes_on_while_the_user_types_above_in_eglot() -> anyhow::Result<()> {
    run_typing_el(Some("TANDEM_TEST_ABOVE")).await
}

/// Runs tests/editors/emacs/typing.el against the scripted model, in the mode `mode` (an
/// environment variable the script reads) if any.
async fn run_typing_el(mode: Option<&str>) -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    let home = tempfile::tempdir()?;
    let project = tempfile::tempdir()?;
    std::fs::create_dir(project.path().join(".git"))?;
    let file = project.path().join("double.rs");
    std::fs::write(&file, DOUBLE_SOURCE)?;

    let mut command = emacs_batch("typing.el", home.path(), &server, &file)?;
    command.env("TANDEM_CONTROL_URL", server.url());
    if let Some(mode) = mode {
        command.env(mode, "1");
    }
    let outcome = run(command, Duration::from_secs(90)).await?;
    assert!(outcome.success, "Emacs failed\n{}", outcome.transcript());
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "one model request: {requests:?}");
    Ok(())
}

/// `emacs --batch -l tests/editors/emacs/<script>` with a home of its own, no model keys, the
/// server binary and the scripted model, on `file`.
fn emacs_batch(
    script: &str,
    home: &Path,
    server: &ModelServer,
    file: &Path,
) -> anyhow::Result<tokio::process::Command> {
    let mut command = tokio::process::Command::new(emacs()?);
    command
        .arg("--batch")
        .arg("-l")
        .arg(repo_root().join("tests/editors/emacs").join(script))
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home)
        // The server's store goes to the test's home, whatever the machine sets.
        .env("XDG_STATE_HOME", home.join("state"))
        .env_remove("OPENAI_API_KEY")
        .env_remove("ANTHROPIC_API_KEY")
        .env("TANDEM_BIN", tandem_bin())
        .env("TANDEM_TEST_MODEL_URL", server.base_url(Wire::OpenAi))
        .env("TANDEM_TEST_FILE", file);
    Ok(command)
}
