//! End to end: `tandem exec` on a file, against the scripted model server.

#![allow(
    clippy::unwrap_used,
    reason = "a test that unwraps wrong fails, which is the point"
)]

use std::path::Path;
use std::process::Stdio;

use tandem_tests::editor::tandem_bin;
use tandem_tests::model_server::{ModelServer, Reply, Wire};

fn exec(home: &Path, args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(tandem_bin());
    command
        .arg("exec")
        .args(args)
        .env("XDG_CONFIG_HOME", home)
        .env_remove("OPENAI_API_KEY")
        .env_remove("ANTHROPIC_API_KEY")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

fn setup(server_url: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("tandem")).unwrap();
    std::fs::write(
        dir.path().join("tandem/config.toml"),
        format!(
            "[model]\nprovider = \"openai\"\nbaseUrl = \"{server_url}\"\nname = \"test-model\"\n"
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("project/.git")).unwrap();
    dir
}

const SOURCE: &str = "fn double(x: u32) -> u32 {\n    todo!()\n}\n\nfn main() {}\n";

#[tokio::test]
async fn implement_writes_the_file_and_diff_only_shows_it() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    let home = setup(&server.base_url(Wire::OpenAi));
    let file = home.path().join("project/lib.rs");
    std::fs::write(&file, SOURCE)?;
    let path = file.to_string_lossy().to_string();

    // --diff: the file stays, the diff is printed.
    server.push(Reply::text(
        Wire::OpenAi,
        &[
            "```rust\nfn double(x: u32) -> u32 {\n",
            "    x * 2\n}\n```\n",
        ],
    ));
    let output = exec(
        home.path(),
        &["implement", &path, "--range", "2:5", "--diff"],
    )
    .output()
    .await?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("-    todo!()") && stdout.contains("+    x * 2"),
        "{stdout}"
    );
    assert_eq!(std::fs::read_to_string(&file)?, SOURCE);

    // Without --diff the file is written.
    server.push(Reply::text(
        Wire::OpenAi,
        &[
            "```rust\nfn double(x: u32) -> u32 {\n",
            "    x * 2\n}\n```\n",
        ],
    ));
    let output = exec(home.path(), &["implement", &path, "--range", "2:5"])
        .output()
        .await?;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&file)?,
        "fn double(x: u32) -> u32 {\n    x * 2\n}\n\nfn main() {}\n"
    );
    Ok(())
}

#[tokio::test]
async fn explain_prints_and_failures_say_why() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    let home = setup(&server.base_url(Wire::OpenAi));
    let file = home.path().join("project/lib.rs");
    std::fs::write(&file, SOURCE)?;
    let path = file.to_string_lossy().to_string();
    server.push(Reply::text(Wire::OpenAi, &["It doubles ", "nothing yet."]));
    let output = exec(home.path(), &["explain", &path]).output().await?;
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "It doubles nothing yet."
    );

    // The model fails: exit 1, the reason on stderr, the file untouched.
    server.push(Reply::error(401, "{\"error\":{\"message\":\"bad key\"}}"));
    let output = exec(home.path(), &["implement", &path, "--range", "2:5"])
        .output()
        .await?;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("401")
            || String::from_utf8_lossy(&output.stderr).contains("refused"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(std::fs::read_to_string(&file)?, SOURCE);

    // Bad usage: exit 2 with what is wrong.
    let output = exec(home.path(), &["teleport", &path]).output().await?;
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown action `teleport`"));
    let output = exec(home.path(), &["edit", &path, "--range", "1:1-2:1"])
        .output()
        .await?;
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("instruction"));
    Ok(())
}
