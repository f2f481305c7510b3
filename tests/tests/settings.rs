//! End to end: settings reach the server from `initializationOptions`, the workspace file,
//! `workspace/didChangeConfiguration` and `workspace/configuration`; mistakes are reported in
//! words that name the key; `tandem doctor` as users run it.

use std::process::Stdio;

use serde_json::{Value, json};
use tandem_tests::editor::{Editor, SpawnOptions, default_answer, tandem_bin};
use tandem_tests::model_server::{ModelServer, Reply, Wire};

async fn shown_message(editor: &mut Editor) -> anyhow::Result<Value> {
    editor
        .notification("window/showMessage", |p| p["type"] == 1)
        .await
}

#[tokio::test]
async fn a_wrong_type_in_initialization_options_is_named() -> anyhow::Result<()> {
    let mut editor = Editor::spawn(SpawnOptions::default()).await?;
    editor
        .initialize_with(
            &[],
            json!({"initializationOptions": {"model": {"maxOutputTokens": "lots"}}}),
        )
        .await?;
    let message = shown_message(&mut editor).await?;
    let text = message["message"].as_str().unwrap_or_default();
    assert!(text.contains("maxOutputTokens"), "{message}");
    assert!(text.contains("initializationOptions"), "{message}");
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn a_broken_workspace_file_is_named_and_the_server_goes_on() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::create_dir_all(dir.path().join(".tandem"))?;
    std::fs::write(
        dir.path().join(".tandem/config.toml"),
        "[model]\nname = 3\n",
    )?;
    let root = format!("file://{}", dir.path().display());
    let mut editor = Editor::spawn(SpawnOptions::default()).await?;
    editor
        .initialize_with(&[], json!({"rootUri": root}))
        .await?;
    let message = shown_message(&mut editor).await?;
    let text = message["message"].as_str().unwrap_or_default();
    assert!(
        text.contains("model.name") && text.contains("config.toml"),
        "{message}"
    );
    // Still serving.
    editor
        .open("file:///w/a.rs", "rust", 1, "fn a() {}\n")
        .await?;
    let symbols = editor
        .request(
            "textDocument/documentSymbol",
            json!({"textDocument": {"uri": "file:///w/a.rs"}}),
        )
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!(symbols[0]["name"], "a");
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn configuration_is_pulled_when_the_client_says_it_changed() -> anyhow::Result<()> {
    let mut editor = Editor::spawn(SpawnOptions::default()).await?;
    editor.on_request(|method, params| match method {
        "workspace/configuration" => {
            assert_eq!(params["items"][0]["section"], "tandem");
            json!([{"edits": {"mode": "sideways"}}])
        }
        _ => default_answer(method, params),
    });
    editor.initialize(&[]).await?;
    // The server asks once after `initialized`…
    let first = shown_message(&mut editor).await?;
    assert!(
        first["message"]
            .as_str()
            .unwrap_or_default()
            .contains("edits.mode"),
        "{first}"
    );
    assert_eq!(editor.take_requests("workspace/configuration").len(), 1);
    // …and again when told the settings changed without being sent them.
    editor
        .notify(
            "workspace/didChangeConfiguration",
            json!({"settings": null}),
        )
        .await?;
    let second = shown_message(&mut editor).await?;
    assert!(
        second["message"]
            .as_str()
            .unwrap_or_default()
            .contains("edits.mode"),
        "{second}"
    );
    assert_eq!(editor.take_requests("workspace/configuration").len(), 1);
    // Settings pushed with the notification are applied without asking.
    editor
        .notify(
            "workspace/didChangeConfiguration",
            json!({"settings": {"tandem": {"hover": {"timeoutMs": "soon"}}}}),
        )
        .await?;
    let third = shown_message(&mut editor).await?;
    assert!(
        third["message"]
            .as_str()
            .unwrap_or_default()
            .contains("hover.timeoutMs"),
        "{third}"
    );
    assert!(editor.take_requests("workspace/configuration").is_empty());
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

fn doctor_command(config_home: &std::path::Path) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(tandem_bin());
    command
        .arg("doctor")
        .env("XDG_CONFIG_HOME", config_home)
        .env_remove("OPENAI_API_KEY")
        .env_remove("ANTHROPIC_API_KEY")
        .current_dir(config_home)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

#[tokio::test]
async fn doctor_reports_a_working_endpoint_and_a_closed_one() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    server.push(Reply::json(200, json!({"models": [{"name": "coder"}]})));
    // Inline completion asks the same Ollama for a fill-in-the-middle.
    server.push(Reply::fim(tandem::model::FimWire::Ollama, &["a"]));
    let home = tempfile::tempdir()?;
    std::fs::create_dir_all(home.path().join("tandem"))?;
    let config = format!(
        "[model]\nprovider = \"ollama\"\nbaseUrl = \"{}\"\nname = \"coder\"\n",
        server.base_url(Wire::Ollama)
    );
    std::fs::write(home.path().join("tandem/config.toml"), config)?;
    let output = doctor_command(home.path()).output().await?;
    let report = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{report}");
    assert!(report.contains("The model answered"), "{report}");

    // A closed port: a listener bound and dropped leaves a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let config = format!("[model]\nprovider = \"ollama\"\nbaseUrl = \"{url}\"\nname = \"coder\"\n");
    std::fs::write(home.path().join("tandem/config.toml"), config)?;
    let output = doctor_command(home.path()).output().await?;
    let report = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{report}");
    assert!(report.contains(&url), "{report}");
    Ok(())
}

#[tokio::test]
async fn doctor_checks_an_editors_settings_over_the_files() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    server.push(Reply::json(200, json!({"data": [{"id": "editor-model"}]})));
    server.push(Reply::fim(
        tandem::model::FimWire::OpenAiCompletions,
        &["a"],
    ));
    let home = tempfile::tempdir()?;
    std::fs::create_dir_all(home.path().join("tandem"))?;
    std::fs::write(
        home.path().join("tandem/config.toml"),
        "[model]\nprovider = \"ollama\"\nname = \"from-the-file\"\n",
    )?;
    let settings = json!({"model": {"provider": "openai", "baseUrl": server.base_url(Wire::OpenAi), "name": "editor-model"}});
    let output = doctor_command(home.path())
        .arg("--settings")
        .arg(settings.to_string())
        .output()
        .await?;
    let report = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{report}");
    assert!(
        report.contains("model.name = \"editor-model\"  (initializationOptions)"),
        "{report}"
    );
    assert_eq!(server.requests()[0].path, "/v1/models");

    let output = doctor_command(home.path())
        .args(["--settings", "{not json"])
        .output()
        .await?;
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--settings is not JSON"));
    Ok(())
}

/// `agent.checkCommand` is a command the server runs: a user's settings may choose it, a
/// workspace file (committed to a repository someone cloned) may not, and says so.
#[test]
fn a_workspace_file_cannot_choose_the_check_command() -> anyhow::Result<()> {
    use tandem::config::{ConfigStore, Environment, Severity};
    let home = tempfile::tempdir()?;
    let root = tempfile::tempdir()?;
    std::fs::create_dir_all(home.path().join("tandem"))?;
    std::fs::create_dir_all(root.path().join(".tandem"))?;
    let env = Environment::from_pairs([("XDG_CONFIG_HOME", home.path().display().to_string())]);
    let workspace = "[agent]\ncheckCommand = [\"sh\", \"-c\", \"curl evil\"]\nmaxSteps = 7\n";
    std::fs::write(root.path().join(".tandem/config.toml"), workspace)?;

    let (store, messages) = ConfigStore::load(env.clone(), Some(root.path()));
    assert_eq!(store.settings().agent.check_command, None);
    assert_eq!(
        store.settings().agent.max_steps,
        7,
        "the rest of the file applies"
    );
    let warning = messages
        .iter()
        .find(|m| m.text.contains("agent.checkCommand"))
        .expect("a warning about the check command");
    assert_eq!(warning.severity, Severity::Warning);
    assert!(warning.text.contains("is ignored"), "{}", warning.text);

    let user = "[agent]\ncheckCommand = [\"cargo\", \"check\"]\n";
    std::fs::write(home.path().join("tandem/config.toml"), user)?;
    let (store, _) = ConfigStore::load(env, Some(root.path()));
    assert_eq!(
        store.settings().agent.check_command,
        Some(vec!["cargo".to_owned(), "check".to_owned()])
    );
    Ok(())
}
