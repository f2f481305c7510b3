//! End to end: the workspace's store. Hover explanations survive a restart; a database that
//! cannot be read leaves the server serving, and says so once.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use tandem_tests::editor::{Editor, SpawnOptions};
use tandem_tests::model_server::{ModelServer, Reply, Wire};

const SOURCE: &str =
    "/// Adds.\nfn add(a: u8, b: u8) -> u8 { a + b }\nfn sub(a: u8, b: u8) -> u8 { a - b }\n";

/// A workspace holding `src/main.rs`, and a folder for the servers' state.
struct Setup {
    root: tempfile::TempDir,
    state_home: tempfile::TempDir,
}

impl Setup {
    fn new() -> anyhow::Result<Self> {
        let root = tempfile::tempdir()?;
        std::fs::create_dir_all(root.path().join("src"))?;
        std::fs::write(root.path().join("src/main.rs"), SOURCE)?;
        Ok(Setup {
            root,
            state_home: tempfile::tempdir()?,
        })
    }

    fn uri(&self) -> String {
        format!("file://{}/src/main.rs", self.root.path().display())
    }

    /// Where the server keeps this workspace's store.
    fn database(&self) -> PathBuf {
        let env = tandem::config::Environment::from_pairs([(
            "XDG_STATE_HOME",
            self.state_home.path().display().to_string(),
        )]);
        tandem::learn::database_path(self.root.path(), &env).expect("a state folder is set")
    }

    /// A server on this workspace and state folder, with `main.rs` open.
    async fn start(&self, server: &ModelServer) -> anyhow::Result<Editor> {
        let mut editor = Editor::spawn(SpawnOptions {
            env: vec![(
                "XDG_STATE_HOME".into(),
                self.state_home.path().display().to_string(),
            )],
            ..SpawnOptions::default()
        })
        .await?;
        let options = json!({"model": {"provider": "openai", "baseUrl": server.base_url(Wire::OpenAi), "name": "test-model"}});
        let root_uri = format!("file://{}", self.root.path().display());
        editor
            .initialize_with(
                &[],
                json!({"rootUri": root_uri, "initializationOptions": options}),
            )
            .await?;
        editor.open(&self.uri(), "rust", 1, SOURCE).await?;
        Ok(editor)
    }
}

async fn hover(editor: &mut Editor, uri: &str, line: u32) -> anyhow::Result<String> {
    let answer = editor
        .request(
            "textDocument/hover",
            json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": 4}}),
        )
        .await?
        .map_err(|e| anyhow::anyhow!("hover failed: {e}"))?;
    Ok(answer["contents"]["value"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

/// `tandem.status`'s `store`, once the store has opened the file (or failed to).
async fn store_status(editor: &mut Editor) -> anyhow::Result<Value> {
    for _ in 0..200 {
        let status = editor
            .request(
                "workspace/executeCommand",
                json!({"command": "tandem.status", "arguments": [{}]}),
            )
            .await?
            .map_err(|e| anyhow::anyhow!("status failed: {e}"))?;
        let store = status["store"].clone();
        if store["state"] != "opening" && !store["counts"].is_null() {
            return Ok(store);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    anyhow::bail!("the store did not open")
}

fn paused_warnings(editor: &mut Editor) -> Vec<Value> {
    editor
        .take_notifications("window/showMessage")
        .into_iter()
        .filter(|m| m["message"].as_str().unwrap_or_default().contains("paused"))
        .collect()
}

#[tokio::test]
async fn a_hover_explanation_survives_a_restart() -> anyhow::Result<()> {
    let setup = Setup::new()?;
    let server = ModelServer::start().await?;
    server.push(Reply::text(Wire::OpenAi, &["Adds ", "two numbers."]));

    let mut editor = setup.start(&server).await?;
    let first = hover(&mut editor, &setup.uri(), 1).await?;
    assert!(first.contains("**Tandem:** Adds two numbers."), "{first}");
    let store = store_status(&mut editor).await?;
    assert_eq!(store["state"], "open", "{store}");
    assert_eq!(
        store["counts"],
        json!({"signals": 0, "proposals": 0, "explanations": 1})
    );
    assert_eq!(store["path"], json!(setup.database()));
    assert!(
        setup
            .database()
            .starts_with(setup.state_home.path().join("tandem"))
    );
    assert_eq!(editor.shutdown_and_exit().await?, 0);

    // A new server on the same workspace answers from the store: no model request.
    let mut editor = setup.start(&server).await?;
    store_status(&mut editor).await?;
    let again = hover(&mut editor, &setup.uri(), 1).await?;
    assert_eq!(again, first);
    assert_eq!(
        server.requests().len(),
        1,
        "the restarted server asked the model"
    );
    assert!(paused_warnings(&mut editor).is_empty());
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn an_unreadable_database_leaves_the_server_serving_and_is_told_once() -> anyhow::Result<()> {
    let setup = Setup::new()?;
    let database = setup.database();
    std::fs::create_dir_all(database.parent().unwrap_or(Path::new("/")))?;
    let garbage: Vec<u8> = (0..16_384u32).map(|i| (i * 31 % 253) as u8).collect();
    std::fs::write(&database, &garbage)?;
    let server = ModelServer::start().await?;
    server.push(Reply::text(Wire::OpenAi, &["Adds."]));
    server.push(Reply::text(Wire::OpenAi, &["Subtracts."]));

    let mut editor = setup.start(&server).await?;
    let warning = editor
        .notification("window/showMessage", |m| {
            m["message"].as_str().unwrap_or_default().contains("paused")
        })
        .await?;
    assert_eq!(warning["type"], 2, "a warning: {warning}");
    let message = warning["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&database.display().to_string()) && message.contains("learning"),
        "{message}"
    );

    // Hover goes on, from the model, for one item and the next.
    let add = hover(&mut editor, &setup.uri(), 1).await?;
    assert!(add.contains("**Tandem:** Adds."), "{add}");
    let sub = hover(&mut editor, &setup.uri(), 2).await?;
    assert!(sub.contains("**Tandem:** Subtracts."), "{sub}");
    let store = store_status(&mut editor).await?;
    assert_eq!(store["state"], "paused", "{store}");
    assert!(
        store["error"]
            .as_str()
            .unwrap_or_default()
            .contains("not a database"),
        "{store}"
    );
    assert_eq!(
        store["counts"],
        json!({"signals": 0, "proposals": 0, "explanations": 0})
    );
    assert!(
        paused_warnings(&mut editor).is_empty(),
        "told more than once"
    );
    assert_eq!(std::fs::read(&database)?, garbage, "the file was changed");
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}
