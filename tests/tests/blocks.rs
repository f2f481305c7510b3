//! End to end: a change in a large region comes as SEARCH/REPLACE blocks, each applied as a
//! minimal edit as it completes; a block that does not match falls back to a whole rewrite;
//! small regions are rewritten whole.

use anyhow::Result;
use serde_json::{Value, json};
use tandem_tests::editor::{EditBehavior, Editor, SpawnOptions};
use tandem_tests::model_server::{ModelServer, Reply, Wire};

const URI: &str = "file:///w/src/lib.rs";

async fn start(server: &ModelServer, edits: Value) -> Result<Editor> {
    let mut editor = Editor::spawn(SpawnOptions::default()).await?;
    editor.edits = EditBehavior::VsCode;
    let options = json!({
        "model": {"provider": "openai", "baseUrl": server.base_url(Wire::OpenAi), "name": "test-model"},
        "completion": {"enabled": false},
        "edits": edits,
    });
    editor
        .initialize_with(&[], json!({"initializationOptions": options}))
        .await?;
    Ok(editor)
}

/// A function of `n` body lines `    let vK = K;`, then `    v0` and the closing brace.
fn function(n: usize) -> String {
    let mut text = String::from("fn long() -> u32 {\n");
    for k in 0..n {
        text.push_str(&format!("    let v{k} = {k};\n"));
    }
    text.push_str("    v0\n}\n");
    text
}

/// Runs `tandem.edit` over the whole of `text` (open as `URI`) with the model's answers queued,
/// and returns the job's end, the text left and the edits the server sent.
async fn edit_all(
    server: &ModelServer,
    text: &str,
    replies: Vec<Reply>,
) -> Result<(Value, String, Vec<Value>)> {
    edit_all_with(server, text, replies, json!({})).await
}

/// The same with `edits` settings.
async fn edit_all_with(
    server: &ModelServer,
    text: &str,
    replies: Vec<Reply>,
    edits: Value,
) -> Result<(Value, String, Vec<Value>)> {
    let mut editor = start(server, edits).await?;
    editor.open(URI, "rust", 1, text).await?;
    for reply in replies {
        server.push(reply);
    }
    let lines = text.lines().count() as u32;
    let range =
        json!({"start": {"line": 0, "character": 0}, "end": {"line": lines, "character": 0}});
    let started = editor
        .request(
            "workspace/executeCommand",
            json!({"command": "tandem.edit", "arguments": [{"uri": URI, "range": range, "instruction": "fix it"}]}),
        )
        .await?
        .map_err(|e| anyhow::anyhow!("edit: {e}"))?;
    let job = started["jobId"].clone();
    let end = editor
        .notification("tandem/jobFinished", move |p| p["jobId"] == job)
        .await?;
    let left = editor.doc(URI).expect("open").text.clone();
    let edits = editor.take_requests("workspace/applyEdit");
    Ok((end, left, edits))
}

/// Every text edit of every `applyEdit`, as `(range, newText)`.
fn text_edits(edits: &[Value]) -> Vec<(Value, String)> {
    edits
        .iter()
        .flat_map(|e| {
            e["edit"]["documentChanges"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .flat_map(|change| change["edits"].as_array().cloned().unwrap_or_default())
        .map(|edit| {
            (
                edit["range"].clone(),
                edit["newText"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn system_prompt(request: &tandem_tests::model_server::RecordedRequest) -> String {
    request.body["messages"][0]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_large_region_changes_by_blocks_each_a_minimal_edit() -> Result<()> {
    let server = ModelServer::start().await?;
    let text = function(60);
    let answer = Reply::text(
        Wire::OpenAi,
        &[
            "<<<<<<< SEARCH\n    let v7 = 7;\n=======\n    let v7 = 70;\n>>>>>>> REPLACE\n",
            "\n<<<<<<< SEARCH\n    v0\n",
            "=======\n    v0 + v7\n>>>>>>> REPLACE\n",
        ],
    );
    let (end, left, edits) = edit_all(&server, &text, vec![answer]).await?;
    assert_eq!(end["status"], "done", "{end}");
    let expected = text
        .replace("    let v7 = 7;\n", "    let v7 = 70;\n")
        .replace("    v0\n}", "    v0 + v7\n}");
    assert_eq!(left, expected);
    // Each block went out as its own small edit: nothing rewrote the region.
    let sent = text_edits(&edits);
    assert!(sent.len() >= 2, "{sent:?}");
    for (range, new_text) in &sent {
        assert!(new_text.len() < 20, "a minimal edit: {range} {new_text:?}");
    }
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert!(
        system_prompt(&requests[0]).contains("SEARCH/REPLACE"),
        "{}",
        system_prompt(&requests[0])
    );
    Ok(())
}

#[tokio::test]
async fn a_block_that_does_not_match_falls_back_to_a_whole_rewrite() -> Result<()> {
    let server = ModelServer::start().await?;
    let text = function(60);
    let wrong = Reply::text(
        Wire::OpenAi,
        &["<<<<<<< SEARCH\n    let v99 = 99;\n=======\n    let v99 = 0;\n>>>>>>> REPLACE\n"],
    );
    let rewritten = function(59);
    let whole = Reply::text(Wire::OpenAi, &["```rust\n", &rewritten, "```\n"]);
    let (end, left, _) = edit_all(&server, &text, vec![wrong, whole]).await?;
    assert_eq!(end["status"], "done", "{end}");
    assert_eq!(left, rewritten);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert!(!system_prompt(&requests[1]).contains("SEARCH/REPLACE"));
    assert!(system_prompt(&requests[1]).contains("complete new text of the TARGET"));
    Ok(())
}

#[tokio::test]
async fn a_small_region_is_rewritten_whole() -> Result<()> {
    let server = ModelServer::start().await?;
    let text = function(10);
    let rewritten = function(9);
    let whole = Reply::text(Wire::OpenAi, &["```rust\n", &rewritten, "```\n"]);
    let (end, left, _) = edit_all(&server, &text, vec![whole]).await?;
    assert_eq!(end["status"], "done", "{end}");
    assert_eq!(left, rewritten);
    assert!(!system_prompt(&server.requests()[0]).contains("SEARCH/REPLACE"));
    Ok(())
}

#[tokio::test]
async fn the_threshold_is_a_setting() -> Result<()> {
    let server = ModelServer::start().await?;
    let text = function(10);
    let answer = Reply::text(
        Wire::OpenAi,
        &["<<<<<<< SEARCH\n    let v7 = 7;\n=======\n    let v7 = 70;\n>>>>>>> REPLACE\n"],
    );
    let (end, left, _) =
        edit_all_with(&server, &text, vec![answer], json!({"blocksAboveLines": 5})).await?;
    assert_eq!(end["status"], "done", "{end}");
    assert_eq!(left, text.replace("let v7 = 7;", "let v7 = 70;"));
    assert!(system_prompt(&server.requests()[0]).contains("SEARCH/REPLACE"));
    Ok(())
}
