//! End to end: malformed input, absurd frames and panics do not take the server down.

#![allow(
    clippy::unwrap_used,
    reason = "a test that unwraps wrong fails, which is the point"
)]

use serde_json::{Value, json};
use tandem_tests::editor::{Editor, Incoming, SpawnOptions};
use tandem_tests::model_server::{ModelServer, Reply, Wire};

const URI: &str = "file:///work/lib.rs";

/// The server still answers a real request after whatever the test did.
async fn still_serves(editor: &mut Editor) -> anyhow::Result<()> {
    let answer = editor
        .request(
            "textDocument/documentSymbol",
            json!({"textDocument": {"uri": URI}}),
        )
        .await?
        .map_err(|e| anyhow::anyhow!("documentSymbol failed: {e}"))?;
    assert_eq!(answer[0]["name"], "alive", "{answer}");
    Ok(())
}

async fn error_with_null_id(editor: &mut Editor) -> anyhow::Result<Value> {
    editor
        .wait_for(|m| match m {
            Incoming::Response { id, body } if id.is_null() => Some(body["error"].clone()),
            _ => None,
        })
        .await
}

#[tokio::test]
async fn survives_malformed_input() -> anyhow::Result<()> {
    let (mut editor, _) = Editor::start(&[]).await?;
    editor.open(URI, "rust", 1, "fn alive() {}\n").await?;
    still_serves(&mut editor).await?;

    // A body that is not JSON.
    editor
        .send_raw(b"Content-Length: 9\r\n\r\n{\"jsonrpc")
        .await?;
    assert_eq!(error_with_null_id(&mut editor).await?["code"], -32700);
    still_serves(&mut editor).await?;

    // JSON that is not JSON-RPC, with an id: answered as an invalid request.
    let body = br#"{"id":41,"method":"textDocument/hover"}"#;
    editor
        .send_raw(
            &[
                format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes(),
                body,
            ]
            .concat(),
        )
        .await?;
    let error = editor.response(&json!(41)).await?.unwrap_err();
    assert_eq!(error["code"], -32600);
    still_serves(&mut editor).await?;

    // Bytes that are not UTF-8.
    editor
        .send_raw(b"Content-Length: 4\r\n\r\n\xff\xfe{}")
        .await?;
    assert_eq!(error_with_null_id(&mut editor).await?["code"], -32700);
    still_serves(&mut editor).await?;

    // Garbage between frames, and a header block without a length.
    editor
        .send_raw(b"hello there\r\nX-Whatever: 1\r\n\r\n")
        .await?;
    assert_eq!(error_with_null_id(&mut editor).await?["code"], -32700);
    still_serves(&mut editor).await?;

    // Unknown method with broken params: the framework answers, the server goes on.
    let answer = editor
        .request("textDocument/hover", json!({"nonsense": true}))
        .await?;
    assert_eq!(answer.unwrap_err()["code"], -32602);
    still_serves(&mut editor).await?;

    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn refuses_an_absurd_content_length() -> anyhow::Result<()> {
    let (mut editor, _) = Editor::start(&[]).await?;
    editor.open(URI, "rust", 1, "fn alive() {}\n").await?;
    editor
        .send_raw(b"Content-Length: 18446744073709551615\r\n\r\n{\"jsonrpc\":\"2.0\"}")
        .await?;
    let error = error_with_null_id(&mut editor).await?;
    assert_eq!(error["code"], -32600);
    assert!(
        error["message"]
            .as_str()
            .unwrap_or_default()
            .contains("refused"),
        "{error}"
    );
    still_serves(&mut editor).await?;
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn a_panicking_handler_is_contained() -> anyhow::Result<()> {
    let (mut editor, _) = Editor::start(&[]).await?;
    editor.open(URI, "rust", 1, "fn alive() {}\n").await?;
    let error = editor
        .request("tandem/testPanic", json!({}))
        .await?
        .unwrap_err();
    assert_eq!(error["code"], -32603);
    let message = error["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("tandem/testPanic") && message.contains("deliberate"),
        "{message}"
    );
    still_serves(&mut editor).await?;
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

/// Sends one frame around a body given as text, byte for byte.
async fn send_body(editor: &mut Editor, body: &str) -> anyhow::Result<()> {
    let frame = format!("Content-Length: {}\r\n\r\n{body}", body.len());
    editor.send_raw(frame.as_bytes()).await
}

/// Messages the framework's decoder would reject (and then stop reading) are answered by the
/// guard, and the server goes on serving.
#[tokio::test]
async fn one_undecodable_message_does_not_silence_the_server() -> anyhow::Result<()> {
    let (mut editor, _) = Editor::start(&[]).await?;
    editor.open(URI, "rust", 1, "fn alive() {}\n").await?;
    let deep = format!("{}{}", "[".repeat(127), "]".repeat(127));
    // What JSON.stringify writes for a string holding half a surrogate pair, params nested
    // past serde_json's limit, a number out of f64's range.
    let bad_params = [
        format!(
            r#"{{"textDocument":{{"uri":"{URI}","version":2}},"contentChanges":[{{"text":"a\ud83d"}}]}}"#
        ),
        format!(r#"{{"textDocument":{{"uri":"{URI}","version":2}},"contentChanges":{deep}}}"#),
        format!(r#"{{"textDocument":{{"uri":"{URI}","version":2}},"contentChanges":[1e999]}}"#),
    ];
    for (n, params) in bad_params.iter().enumerate() {
        let note =
            format!(r#"{{"jsonrpc":"2.0","method":"textDocument/didChange","params":{params}}}"#);
        send_body(&mut editor, &note).await?;
        assert_eq!(error_with_null_id(&mut editor).await?["code"], -32700);
        if n == 0 {
            // The lost change leaves the document behind the editor: said once, not silently.
            let warning = editor
                .notification("window/logMessage", |p| {
                    p["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("out of sync"))
                })
                .await?;
            assert_eq!(warning["type"], 2, "{warning}");
        }
        still_serves(&mut editor).await?;
        // A request is answered with its own id.
        let id = 900 + n;
        let request = format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"textDocument/hover","params":{params}}}"#
        );
        send_body(&mut editor, &request).await?;
        let error = editor.response(&json!(id)).await?.unwrap_err();
        assert_eq!(error["code"], -32700, "{error}");
        still_serves(&mut editor).await?;
    }
    // A full text brings it back.
    editor
        .change_full(URI, 3, "fn alive() {}\nfn back() {}\n")
        .await?;
    assert_eq!(symbol_names(&mut editor).await?, ["alive", "back"]);
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

/// Protocol corners: a `$/` request is answered MethodNotFound; garbage without a line end
/// and a frame shorter than its length lose nothing after them.
#[tokio::test]
async fn protocol_corners_are_answered() -> anyhow::Result<()> {
    let (mut editor, _) = Editor::start(&[]).await?;
    editor.open(URI, "rust", 1, "fn alive() {}\n").await?;

    let error = editor
        .request("$/tandem/unknown", json!({}))
        .await?
        .unwrap_err();
    assert_eq!(error["code"], -32601, "{error}");
    // A `$/` notification is still ignored quietly.
    editor.notify("$/setTrace", json!({"value": "off"})).await?;
    still_serves(&mut editor).await?;

    editor.send_raw(b"garbage").await?;
    still_serves(&mut editor).await?;

    let short = r#"{"jsonrpc":"2.0","id":77,"#;
    let claim = short.len() + 60;
    editor
        .send_raw(format!("Content-Length: {claim}\r\n\r\n{short}").as_bytes())
        .await?;
    let first = editor
        .send_request(
            "textDocument/documentSymbol",
            json!({"textDocument": {"uri": URI}}),
        )
        .await?;
    let second = editor
        .send_request(
            "textDocument/documentSymbol",
            json!({"textDocument": {"uri": URI}}),
        )
        .await?;
    assert_eq!(error_with_null_id(&mut editor).await?["code"], -32700);
    for id in [first, second] {
        let answer = editor.response(&id).await?.unwrap();
        assert_eq!(answer[0]["name"], "alive", "{answer}");
    }
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

/// Our own messages are never capped: an explanation over the 64 MiB input limit reaches the
/// client, and so does what follows it.
#[tokio::test]
async fn a_message_over_64_mib_is_sent() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    let chunk = format!("{}\n", "x".repeat(1024 * 1024 - 1));
    let chunks = vec![chunk.as_str(); 65];
    server.push(Reply::text(Wire::OpenAi, &chunks));
    let mut editor = Editor::spawn(SpawnOptions::default()).await?;
    let options = json!({"model": {"provider": "openai", "baseUrl": server.base_url(Wire::OpenAi), "name": "test-model"}});
    editor
        .initialize_with(&[], json!({"initializationOptions": options}))
        .await?;
    editor.open(URI, "rust", 1, "fn alive() {}\n").await?;
    let job = editor
        .request(
            "workspace/executeCommand",
            json!({"command": "tandem.explain", "arguments": [{"uri": URI, "range": {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 0}}}]}),
        )
        .await?
        .unwrap()["jobId"]
        .clone();
    // A debug build takes some 15 s to stream 65 MiB through a job.
    let done = editor
        .wait_for_long(std::time::Duration::from_secs(60), |m| match m {
            Incoming::Notification { method, params }
                if method == "tandem/jobFinished" && params["jobId"] == job =>
            {
                Some(params.clone())
            }
            _ => None,
        })
        .await?;
    assert_eq!(done["status"], "done");
    let markdown = done["result"]["markdown"].as_str().unwrap_or_default();
    assert!(markdown.len() > 64 * 1024 * 1024, "{}", markdown.len());
    still_serves(&mut editor).await?;
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

/// The symbols' names in `URI` now.
async fn symbol_names(editor: &mut Editor) -> anyhow::Result<Vec<String>> {
    let symbols = editor
        .request(
            "textDocument/documentSymbol",
            json!({"textDocument": {"uri": URI}}),
        )
        .await?
        .map_err(|e| anyhow::anyhow!("documentSymbol failed: {e}"))?;
    Ok(symbols
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["name"].as_str().map(str::to_owned))
        .collect())
}

/// After versions go backwards the user is warned once, and a full text brings the document
/// back in sync even at a version below the highest seen.
#[tokio::test]
async fn out_of_sync_warns_once_and_any_full_text_resyncs() -> anyhow::Result<()> {
    let (mut editor, _) = Editor::start(&[]).await?;
    editor.open(URI, "rust", 9, "fn alive() {}\n").await?;
    for version in [3, 4, 2, 10] {
        editor
            .change(URI, version, (0, 0), (0, 0), "fn stale() {}\n")
            .await?;
    }
    assert_eq!(symbol_names(&mut editor).await?, ["alive"]);
    let out_of_sync = |p: &Value| {
        p["message"]
            .as_str()
            .is_some_and(|m| m.contains("out of sync"))
    };
    editor
        .notification("window/logMessage", out_of_sync)
        .await?;
    // The full text the docs recommend, numbered as the client now numbers.
    editor
        .change_full(URI, 5, "fn alive() {}\nfn again() {}\n")
        .await?;
    editor
        .change(URI, 6, (2, 0), (2, 0), "fn more() {}\n")
        .await?;
    assert_eq!(symbol_names(&mut editor).await?, ["alive", "again", "more"]);
    let warnings = editor.take_notifications("window/logMessage");
    assert!(
        !warnings.iter().any(out_of_sync),
        "warned again: {warnings:?}"
    );
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}
