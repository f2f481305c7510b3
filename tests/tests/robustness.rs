//! End to end: malformed input, absurd frames and panics do not take the server down.

#![allow(
    clippy::unwrap_used,
    reason = "a test that unwraps wrong fails, which is the point"
)]

use serde_json::{Value, json};
use tandem_tests::editor::{Editor, Incoming};

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
