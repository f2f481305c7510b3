//! Inline completion end to end: the real binary, a scripted FIM or chat endpoint, and
//! `textDocument/inlineCompletion` as an LSP 3.18 client sends it.

use std::time::Duration;

use anyhow::Result;
use serde_json::{Value, json};
use tandem::model::FimWire;
use tandem_tests::editor::{Editor, SpawnOptions, position};
use tandem_tests::model_fim;
use tandem_tests::model_server::{ModelServer, Reply, Wire};

const URI: &str = "file:///work/src/lib.rs";

/// A server whose completion endpoint is `server`'s OpenAI-compatible `/v1` (so FIM at
/// `/v1/completions`), with `extra` settings merged into `completion`.
async fn start(server: &ModelServer, extra: Value) -> Result<Editor> {
    let mut completion = json!({
        "provider": "openai",
        "baseUrl": format!("{}/v1", server.url()),
        "name": "test-model",
        "debounceMs": 0,
    });
    if let (Some(c), Some(extra)) = (completion.as_object_mut(), extra.as_object()) {
        c.extend(extra.clone());
    }
    let mut editor = Editor::spawn(SpawnOptions::default()).await?;
    editor
        .initialize_with(
            &[],
            json!({"initializationOptions": {
                "model": {"provider": "openai", "baseUrl": format!("{}/v1", server.url()), "name": "test-model"},
                "completion": completion,
            }}),
        )
        .await?;
    Ok(editor)
}

/// The request for the cursor at the `|` of `marked` (the document's text with a cursor).
fn at(marked: &str) -> (String, Value) {
    let offset = marked.find('|').expect("a cursor");
    let text = marked.replace('|', "");
    let pos = position(&text, offset, "utf-16");
    let params = json!({
        "textDocument": {"uri": URI},
        "position": pos,
        "context": {"triggerKind": 2},
    });
    (text, params)
}

/// Asks for a suggestion and returns the items.
async fn ask(editor: &mut Editor, params: &Value) -> Result<Vec<Value>> {
    let answer = editor
        .request("textDocument/inlineCompletion", params.clone())
        .await?
        .map_err(|e| anyhow::anyhow!("inlineCompletion failed: {e}"))?;
    Ok(answer["items"].as_array().cloned().unwrap_or_default())
}

fn texts(items: &[Value]) -> Vec<&str> {
    items
        .iter()
        .filter_map(|i| i["insertText"].as_str())
        .collect()
}

async fn status(editor: &mut Editor) -> Result<Value> {
    let status = editor
        .request(
            "workspace/executeCommand",
            json!({"command": "tandem.status", "arguments": [{}]}),
        )
        .await?
        .map_err(|e| anyhow::anyhow!("status failed: {e}"))?;
    Ok(status["completion"].clone())
}

fn fim(deltas: &[&str]) -> Reply {
    Reply::fim(FimWire::OpenAiCompletions, deltas)
}

#[tokio::test]
async fn the_fim_request_carries_prefix_and_suffix_and_the_suggestion_never_repeats_the_suffix()
-> Result<()> {
    let server = ModelServer::start().await?;
    let mut editor = start(&server, json!({})).await?;
    let (text, params) = at("fn main() {\n    let total = add(|);\n}\n");
    editor.open(URI, "rust", 1, &text).await?;
    // The model writes the closing `);` that already follows the cursor.
    server.push(fim(&["1, ", "2);"]));
    let items = ask(&mut editor, &params).await?;
    assert_eq!(texts(&items), ["1, 2"]);
    let item = &items[0];
    assert_eq!(item["range"]["start"], params["position"]);
    assert_eq!(item["range"]["end"], params["position"]);
    assert_eq!(item["command"]["command"], "tandem.completion.accept");

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.path, model_fim::path(FimWire::OpenAiCompletions));
    assert_eq!(request.body["prompt"], "fn main() {\n    let total = add(");
    assert_eq!(request.body["suffix"], ");\n}\n");
    assert_eq!(
        request.body["stop"],
        json!(["\n"]),
        "one line: the model stops at its end"
    );

    // Accepting it is counted.
    let id = item["command"]["arguments"][0].clone();
    editor
        .request(
            "workspace/executeCommand",
            json!({"command": "tandem.completion.accept", "arguments": [id]}),
        )
        .await?
        .map_err(|e| anyhow::anyhow!("accept failed: {e}"))?;
    let counters = status(&mut editor).await?;
    assert_eq!(
        (
            &counters["requests"],
            &counters["shown"],
            &counters["accepted"],
            &counters["modelCalls"]
        ),
        (&json!(1), &json!(1), &json!(1), &json!(1)),
        "{counters}"
    );
    Ok(())
}

#[tokio::test]
async fn a_block_where_a_body_begins_ends_with_the_body() -> Result<()> {
    let server = ModelServer::start().await?;
    let mut editor = start(&server, json!({})).await?;
    let (text, params) = at("fn double(x: u32) -> u32 {|\n}\n\nfn main() {}\n");
    editor.open(URI, "rust", 1, &text).await?;
    server.push(fim(&[
        "\n    let y = x * 2;\n",
        "    y\n",
        "}\n\nfn main() {}\n",
    ]));
    let items = ask(&mut editor, &params).await?;
    assert_eq!(texts(&items), ["\n    let y = x * 2;\n    y"]);
    let requests = server.requests();
    assert!(
        requests[0].body.get("stop").is_none(),
        "a block has no stop: {}",
        requests[0].body
    );
    Ok(())
}

#[tokio::test]
async fn typing_into_a_suggestion_is_answered_from_the_cache() -> Result<()> {
    let server = ModelServer::start().await?;
    let mut editor = start(&server, json!({})).await?;
    let (text, params) = at("fn main() {\n    let x = |\n}\n");
    editor.open(URI, "rust", 1, &text).await?;
    server.push(fim(&["compute(", "1, 2);"]));
    assert_eq!(texts(&ask(&mut editor, &params).await?), ["compute(1, 2);"]);

    // The user types "comp": the rest comes from the cache, without a model call.
    let cursor = text.find("= ").expect("the cursor") + 2;
    editor.type_at(URI, cursor, cursor, "comp").await?;
    let typed = editor.doc(URI).expect("open").text.clone();
    let pos = position(&typed, cursor + 4, "utf-16");
    let params =
        json!({"textDocument": {"uri": URI}, "position": pos, "context": {"triggerKind": 2}});
    assert_eq!(texts(&ask(&mut editor, &params).await?), ["ute(1, 2);"]);
    assert_eq!(server.requests().len(), 1, "no second model call");
    let counters = status(&mut editor).await?;
    assert_eq!(counters["cacheHits"], 1, "{counters}");
    assert_eq!(
        counters["dismissed"], 0,
        "continued, not dismissed: {counters}"
    );
    Ok(())
}

#[tokio::test]
async fn a_newer_request_and_cancel_request_close_the_older_stream() -> Result<()> {
    let server = ModelServer::start().await?;
    let mut editor = start(&server, json!({})).await?;
    let (text, params) = at("fn main() {\n    let x = |\n}\n");
    editor.open(URI, "rust", 1, &text).await?;

    // The first answer is held after its headers; a second request arrives.
    server.push(fim(&["slow(", "1);"]).gated());
    let first = editor
        .send_request("textDocument/inlineCompletion", params.clone())
        .await?;
    let requests = server.wait_for_requests(1).await;
    server.push(fim(&["fast();"]));
    let second = ask(&mut editor, &params).await?;
    assert_eq!(texts(&second), ["fast();"]);
    tokio::time::timeout(Duration::from_secs(5), requests[0].closed())
        .await
        .map_err(|_| anyhow::anyhow!("the older stream stayed open"))?;
    let first = editor.response(&first).await?;
    assert_eq!(first.map(|a| a["items"].clone()), Ok(json!([])));

    // `$/cancelRequest` drops the stream at once (elsewhere: the cache has an answer here).
    let (text, params) = at("fn main() {\n    let y = |\n}\n");
    let other = "file:///work/src/other.rs";
    editor.open(other, "rust", 1, &text).await?;
    let mut params = params;
    params["textDocument"]["uri"] = json!(other);
    server.push(fim(&["held(", "2);"]).gated());
    let third = editor
        .send_request("textDocument/inlineCompletion", params.clone())
        .await?;
    let requests = server.wait_for_requests(3).await;
    editor
        .notify("$/cancelRequest", json!({"id": third.clone()}))
        .await?;
    tokio::time::timeout(Duration::from_secs(5), requests[2].closed())
        .await
        .map_err(|_| anyhow::anyhow!("the cancelled stream stayed open"))?;
    let _ = editor.response(&third).await?;
    let counters = status(&mut editor).await?;
    assert_eq!(counters["cancelled"], 2, "{counters}");
    Ok(())
}

#[tokio::test]
async fn a_chat_endpoint_is_asked_for_the_middle_only() -> Result<()> {
    let server = ModelServer::start().await?;
    let mut editor = start(&server, json!({"mode": "chat"})).await?;
    let (text, params) = at("def double(x):\n    return |\n");
    editor
        .open("file:///work/src/lib.rs", "python", 1, &text)
        .await?;
    server.push(Reply::text(
        Wire::OpenAi,
        &["```python\n", "x * 2\n", "```\n"],
    ));
    assert_eq!(texts(&ask(&mut editor, &params).await?), ["x * 2"]);
    let requests = server.requests();
    assert_eq!(requests[0].path, "/v1/chat/completions");
    let user = requests[0].body["messages"]
        .as_array()
        .and_then(|m| m.last())
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default()
        .to_owned();
    assert!(
        user.contains("def double(x):\n    return <|cursor|>\n"),
        "{user}"
    );
    Ok(())
}

#[tokio::test]
async fn a_failing_endpoint_gives_no_items_and_is_not_asked_on_every_keystroke() -> Result<()> {
    let server = ModelServer::start().await?;
    let mut editor = start(&server, json!({})).await?;
    let (text, params) = at("fn main() {\n    let x = |\n}\n");
    editor.open(URI, "rust", 1, &text).await?;
    server.push(Reply::error(500, "the model crashed"));
    for _ in 0..5 {
        let answer = editor
            .request("textDocument/inlineCompletion", params.clone())
            .await?;
        assert_eq!(answer.map(|a| a["items"].clone()), Ok(json!([])));
    }
    assert_eq!(server.requests().len(), 1, "one failure, then the backoff");
    assert!(
        editor.take_notifications("window/showMessage").is_empty(),
        "no message per keystroke"
    );
    let counters = status(&mut editor).await?;
    assert_eq!(
        (&counters["requests"], &counters["failed"]),
        (&json!(5), &json!(1)),
        "{counters}"
    );

    // Nothing listens at all: still no items and no error.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")?;
    let dead = format!("http://{}/v1", closed.local_addr()?);
    drop(closed);
    let mut editor = start(&server, json!({"baseUrl": dead})).await?;
    editor.open(URI, "rust", 1, &text).await?;
    let answer = editor
        .request("textDocument/inlineCompletion", params.clone())
        .await?;
    assert_eq!(answer.map(|a| a["items"].clone()), Ok(json!([])));
    Ok(())
}

#[tokio::test]
async fn off_or_in_a_secret_file_nothing_reaches_the_model() -> Result<()> {
    let server = ModelServer::start().await?;
    let (text, params) = at("fn main() {\n    let x = |\n}\n");
    let mut editor = start(&server, json!({"enabled": false})).await?;
    editor.open(URI, "rust", 1, &text).await?;
    assert!(ask(&mut editor, &params).await?.is_empty());

    let mut editor = start(&server, json!({})).await?;
    let secret = "file:///work/.env";
    editor.open(secret, "plaintext", 1, "API_KEY=sk-").await?;
    let params = json!({"textDocument": {"uri": secret}, "position": {"line": 0, "character": 11}, "context": {"triggerKind": 2}});
    assert!(ask(&mut editor, &params).await?.is_empty());
    assert!(server.requests().is_empty(), "{:?}", server.requests());
    Ok(())
}
