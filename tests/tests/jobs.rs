//! End to end: agent jobs through the real binary, a simulated editor that applies edits the way
//! VS Code does, and the scripted model server.

#![allow(
    clippy::unwrap_used,
    reason = "a test that unwraps wrong fails, which is the point"
)]

use std::time::Duration;

use serde_json::{Value, json};
use tandem_tests::editor::{EditBehavior, Editor, SpawnOptions};
use tandem_tests::model_server::{ModelServer, Reply, Wire};

const URI: &str = "file:///w/src/main.rs";

async fn start(server: &ModelServer, behavior: EditBehavior) -> anyhow::Result<Editor> {
    start_full(server, behavior, json!({}), json!({})).await
}

/// A server on the scripted model, with `settings` merged into its settings object and
/// `params` into the `initialize` params (capabilities, …).
async fn start_full(
    server: &ModelServer,
    behavior: EditBehavior,
    settings: Value,
    params: Value,
) -> anyhow::Result<Editor> {
    let mut editor = Editor::spawn(SpawnOptions::default()).await?;
    editor.edits = behavior;
    let mut options = json!({"model": {"provider": "openai", "baseUrl": server.base_url(Wire::OpenAi), "name": "test-model"}});
    if let (Some(options), Some(settings)) = (options.as_object_mut(), settings.as_object()) {
        options.extend(settings.clone());
    }
    let mut params_all = json!({"initializationOptions": options});
    if let (Some(all), Some(params)) = (params_all.as_object_mut(), params.as_object()) {
        all.extend(params.clone());
    }
    editor.initialize_with(&[], params_all).await?;
    Ok(editor)
}

async fn command(
    editor: &mut Editor,
    name: &str,
    argument: Value,
) -> anyhow::Result<Result<Value, Value>> {
    editor
        .request(
            "workspace/executeCommand",
            json!({"command": name, "arguments": [argument]}),
        )
        .await
}

async fn finished(editor: &mut Editor, job: &Value) -> anyhow::Result<Value> {
    let job = job.clone();
    editor
        .notification("tandem/jobFinished", move |p| p["jobId"] == job)
        .await
}

/// Starts a job by its command and returns its id.
async fn start_job(editor: &mut Editor, name: &str, argument: Value) -> anyhow::Result<Value> {
    let reply = command(editor, name, argument)
        .await?
        .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    Ok(reply["jobId"].clone())
}

/// Starts `tandem.edit` on line 1 of the open `URI`, the model's two-line answer gated, and
/// returns the job once the model has been asked.
async fn start_gated_edit(server: &ModelServer, editor: &mut Editor) -> anyhow::Result<Value> {
    let asked = server.requests().len() + 1;
    server.push(answer(&["```rust\n", "    let y = 1;\n", "    let z = 2;\n", "```\n"]).gated());
    let job = start_job(
        editor,
        "tandem.edit",
        json!({"uri": URI, "range": line_range(1), "instruction": "i"}),
    )
    .await?;
    server.wait_for_requests(asked).await;
    Ok(job)
}

/// Waits until the server sends a `workspace/applyEdit` (the editor handles it as it comes).
async fn wait_for_edit(editor: &mut Editor) -> anyhow::Result<()> {
    editor
        .wait_for(|m| match m {
            tandem_tests::editor::Incoming::Request { method, .. }
                if method == "workspace/applyEdit" =>
            {
                Some(())
            }
            _ => None,
        })
        .await
}

/// The model's answer, one delta per piece.
fn answer(pieces: &[&str]) -> Reply {
    Reply::text(Wire::OpenAi, pieces)
}

const SOURCE: &str = "fn main() {\n    let x = 1;\n    println!(\"{x}\");\n}\n";

fn line_range(line: u32) -> Value {
    json!({"start": {"line": line, "character": 0}, "end": {"line": line + 1, "character": 0}})
}

#[tokio::test]
async fn an_edit_streams_into_the_buffer_in_several_edits() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    server.push(
        answer(&[
            "Here:\n```rust\n",
            "    let y = 1;\n",
            "    let z = 2;\n",
            "    let w = 3;\n",
            "```\n",
        ])
        .delay_each(Duration::from_millis(30)),
    );
    let mut editor = start(&server, EditBehavior::VsCode).await?;
    editor.open(URI, "rust", 1, SOURCE).await?;
    let reply = command(
        &mut editor,
        "tandem.edit",
        json!({"uri": URI, "range": line_range(1), "instruction": "add two more"}),
    )
    .await?
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let job = reply["jobId"].clone();
    let done = finished(&mut editor, &job).await?;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["action"], "edit");
    let expected =
        "fn main() {\n    let y = 1;\n    let z = 2;\n    let w = 3;\n    println!(\"{x}\");\n}\n";
    assert_eq!(editor.doc(URI).unwrap().text, expected);
    assert!(
        editor.applied_edits.len() >= 2,
        "streamed in {} edits",
        editor.applied_edits.len()
    );
    // Only the first edit carries the label (clients that print every label stay quiet).
    for (i, edit) in editor.applied_edits.iter().enumerate() {
        let label = if i == 0 {
            json!("Tandem: edit")
        } else {
            Value::Null
        };
        assert_eq!(edit["label"], label, "edit {i}: {edit}");
        assert!(edit["edit"]["documentChanges"][0]["textDocument"]["version"].is_number());
    }
    assert_eq!(
        done["result"]["range"]["start"],
        json!({"line": 1, "character": 0})
    );
    // The prompt carried the instruction and the target.
    let request = &server.requests()[0];
    assert!(
        request.body.to_string().contains("add two more")
            && request.body.to_string().contains("let x = 1;"),
        "{}",
        request.body
    );
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn typing_above_during_a_gated_stream_keeps_both() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    let mut editor = start(&server, EditBehavior::VsCode).await?;
    editor.open(URI, "rust", 1, SOURCE).await?;
    let job = start_gated_edit(&server, &mut editor).await?;
    // Let the first lines through, then wait until they show in the buffer.
    server.release(3);
    wait_for_edit(&mut editor).await?;
    // The user types above the region and after it while the model is still writing.
    editor.type_at(URI, 0, 0, "// note\n").await?;
    let end = editor.doc(URI).unwrap().text.len();
    editor.type_at(URI, end, end, "// end\n").await?;
    server.release(20);
    let done = finished(&mut editor, &job).await?;
    assert_eq!(done["status"], "done", "{done}");
    let expected =
        "// note\nfn main() {\n    let y = 1;\n    let z = 2;\n    println!(\"{x}\");\n}\n// end\n";
    assert_eq!(editor.doc(URI).unwrap().text, expected);
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn typing_inside_the_region_stops_the_job_and_keeps_the_typing() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    let mut editor = start(&server, EditBehavior::VsCode).await?;
    editor.open(URI, "rust", 1, SOURCE).await?;
    let job = start_gated_edit(&server, &mut editor).await?;
    server.release(3);
    wait_for_edit(&mut editor).await?;
    // Type strictly inside the region ("let y" → "let yy").
    let text = editor.doc(URI).unwrap().text.clone();
    let at = text.find("let y").unwrap() + 5;
    editor.type_at(URI, at, at, "y").await?;
    let typed = editor.doc(URI).unwrap().text.clone();
    server.release(20);
    let done = finished(&mut editor, &job).await?;
    assert_eq!(done["status"], "cancelled", "{done}");
    assert!(
        done["message"]
            .as_str()
            .unwrap_or_default()
            .contains("edited inside"),
        "{done}"
    );
    assert_eq!(
        editor.doc(URI).unwrap().text,
        typed,
        "the buffer stays as the user left it"
    );
    // Reject puts the original region back, the user's typing there included in what goes.
    command(&mut editor, "tandem.reject", json!({"jobId": job}))
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!(editor.doc(URI).unwrap().text, SOURCE);
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn model_faults_and_cancel_restore_the_document() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    let mut editor = start(&server, EditBehavior::VsCode).await?;
    editor.open(URI, "rust", 1, SOURCE).await?;

    // A 500 (retried, then given up), a stream cut after some code, a malformed chunk.
    let cases: Vec<(Vec<Reply>, &str)> = vec![
        (
            vec![
                Reply::error(500, "boom"),
                Reply::error(500, "boom"),
                Reply::error(500, "boom"),
            ],
            "500",
        ),
        (
            vec![
                answer(&["```rust\n", "    let y = 1;\n", "    let z = 2;\n", "```\n"])
                    .cut_after(3),
            ],
            "cut",
        ),
        (
            vec![
                answer(&["```rust\n", "    let y = 1;\n", "    let z = 2;\n", "```\n"])
                    .malformed_after(Wire::OpenAi, 3),
            ],
            "malformed",
        ),
    ];
    for (replies, what) in cases {
        for reply in replies {
            server.push(reply);
        }
        let job = start_job(
            &mut editor,
            "tandem.edit",
            json!({"uri": URI, "range": line_range(1), "instruction": "i"}),
        )
        .await?;
        let done = finished(&mut editor, &job).await?;
        assert_eq!(done["status"], "failed", "{what}: {done}");
        assert!(
            done["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: {done}"
        );
        assert_eq!(
            editor.doc(URI).unwrap().text,
            SOURCE,
            "{what}: the document is restored"
        );
    }

    // Cancel by command in the middle of the stream.
    let job = start_gated_edit(&server, &mut editor).await?;
    server.release(3);
    wait_for_edit(&mut editor).await?;
    command(&mut editor, "tandem.cancel", json!({"jobId": job}))
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let done = finished(&mut editor, &job).await?;
    assert_eq!(done["status"], "cancelled", "{done}");
    assert_eq!(
        editor.doc(URI).unwrap().text,
        SOURCE,
        "cancel takes back what was streamed"
    );
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn explain_returns_markdown_and_edits_nothing() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    server.push(answer(&["`main` prints ", "the value of `x`."]));
    let mut editor = start(&server, EditBehavior::VsCode).await?;
    editor.open(URI, "rust", 1, SOURCE).await?;
    let job = start_job(
        &mut editor,
        "tandem.explain",
        json!({"uri": URI, "range": line_range(1)}),
    )
    .await?;
    let done = finished(&mut editor, &job).await?;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(
        done["result"]["markdown"],
        "`main` prints the value of `x`."
    );
    assert!(editor.applied_edits.is_empty());
    assert_eq!(editor.doc(URI).unwrap().text, SOURCE);
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn implement_fills_an_unfinished_body_and_reports_syntax_errors_it_could_not_fix()
-> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    let source = "fn double(x: u32) -> u32 {\n    todo!()\n}\n";
    // First answer has a syntax error; the self-correction fixes it.
    server.push(answer(&[
        "```rust\nfn double(x: u32) -> u32 {\n    x * 2 +\n}\n```",
    ]));
    server.push(answer(&[
        "```rust\nfn double(x: u32) -> u32 {\n    x * 2\n}\n```",
    ]));
    let mut editor = start(&server, EditBehavior::VsCode).await?;
    editor.open(URI, "rust", 1, source).await?;
    let job = start_job(
        &mut editor,
        "tandem.implement",
        json!({"uri": URI, "position": {"line": 1, "character": 4}}),
    )
    .await?;
    let done = finished(&mut editor, &job).await?;
    assert_eq!(done["status"], "done", "{done}");
    assert!(done.get("message").is_none(), "{done}");
    assert_eq!(
        editor.doc(URI).unwrap().text,
        "fn double(x: u32) -> u32 {\n    x * 2\n}\n"
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert!(
        requests[1].body.to_string().contains("syntax errors"),
        "{}",
        requests[1].body
    );
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn code_actions_are_listed_without_the_model_and_run_as_commands() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    let mut editor = start(&server, EditBehavior::VsCode).await?;
    let source = "fn done() -> u8 { 1 }\nfn later() -> u8 { todo!() }\nfn broken() { let a = 1 }\n";
    editor.open(URI, "rust", 1, source).await?;
    let list = |line: u32, character: u32| json!({"textDocument": {"uri": URI}, "range": {"start": {"line": line, "character": character}, "end": {"line": line, "character": character}}, "context": {"diagnostics": []}});
    let titles = |actions: &Value| -> Vec<String> {
        actions
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["title"].as_str().unwrap().to_owned())
            .collect()
    };
    let at_later = editor
        .request("textDocument/codeAction", list(1, 4))
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let names = titles(&at_later);
    assert!(
        names.iter().any(|t| t == "Tandem: Implement `later`"),
        "{names:?}"
    );
    assert!(
        names.iter().any(|t| t == "Tandem: Document `later`"),
        "{names:?}"
    );
    assert!(
        names.iter().any(|t| t == "Tandem: Explain `later`"),
        "{names:?}"
    );
    let at_broken = editor
        .request("textDocument/codeAction", list(2, 23))
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert!(
        titles(&at_broken).iter().any(|t| t == "Tandem: Fix this"),
        "{at_broken}"
    );
    assert!(
        server.requests().is_empty(),
        "listing never calls the model"
    );
    // The implement action's command runs as is.
    let implement = at_later
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["title"] == "Tandem: Implement `later`")
        .unwrap();
    server.push(answer(&["```rust\nfn later() -> u8 { 2 }\n```"]));
    let command_value = &implement["command"];
    let job = editor
        .request(
            "workspace/executeCommand",
            json!({"command": command_value["command"], "arguments": command_value["arguments"]}),
        )
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?["jobId"]
        .clone();
    let done = finished(&mut editor, &job).await?;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(
        editor.doc(URI).unwrap().text,
        "fn done() -> u8 { 1 }\nfn later() -> u8 { 2 }\nfn broken() { let a = 1 }\n"
    );
    command(&mut editor, "tandem.accept", json!({"jobId": job}))
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let status = command(&mut editor, "tandem.status", json!({}))
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!(status["counters"]["accepted"], 1, "{status}");
    let listed = status["jobs"]
        .as_array()
        .and_then(|jobs| jobs.iter().find(|j| j["jobId"] == job));
    assert_eq!(
        listed.map(|j| (j["status"].clone(), j["verdict"].clone())),
        Some((json!("done"), json!("accepted"))),
        "{status}"
    );
    let sizes = &status["lastPrompt"];
    assert!(
        sizes["target"].as_u64().unwrap_or(0) > 0
            && sizes["total"].as_u64().unwrap_or(0) >= sizes["target"].as_u64().unwrap_or(0),
        "{status}"
    );
    assert!(!status.to_string().contains("apiKey\":\"sk"), "{status}");
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn overlapping_jobs_are_refused_and_bad_arguments_are_named() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    server.push(answer(&["```rust\n", "    let y = 1;\n", "```\n"]).gated());
    let mut editor = start(&server, EditBehavior::VsCode).await?;
    editor.open(URI, "rust", 1, SOURCE).await?;
    let job = start_job(
        &mut editor,
        "tandem.edit",
        json!({"uri": URI, "range": line_range(1), "instruction": "i"}),
    )
    .await?;
    let refused = command(
        &mut editor,
        "tandem.edit",
        json!({"uri": URI, "range": line_range(1), "instruction": "j"}),
    )
    .await?;
    let error = refused.unwrap_err();
    assert!(
        error["message"]
            .as_str()
            .unwrap_or_default()
            .contains("already working"),
        "{error}"
    );
    let no_instruction = command(
        &mut editor,
        "tandem.edit",
        json!({"uri": URI, "range": line_range(2)}),
    )
    .await?
    .unwrap_err();
    assert!(
        no_instruction["message"]
            .as_str()
            .unwrap_or_default()
            .contains("instruction"),
        "{no_instruction}"
    );
    let not_open = command(
        &mut editor,
        "tandem.explain",
        json!({"uri": "file:///w/other.rs", "range": line_range(0)}),
    )
    .await?
    .unwrap_err();
    assert!(
        not_open["message"]
            .as_str()
            .unwrap_or_default()
            .contains("not open"),
        "{not_open}"
    );
    command(&mut editor, "tandem.cancel", json!({"jobId": job}))
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let done = finished(&mut editor, &job).await?;
    assert_eq!(done["status"], "cancelled");
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn a_neovim_like_client_ends_with_exactly_the_right_text() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    let pieces = [
        "```rust\n",
        "    let y = 1;\n",
        "    let z = 2;\n",
        "    let w = 3;\n",
        "```\n",
    ];
    server.push(answer(&pieces).delay_each(Duration::from_millis(40)));
    server.push(answer(&pieces).gated());
    let mut editor = start(&server, EditBehavior::Neovim).await?;
    editor.open(URI, "rust", 1, SOURCE).await?;
    let expected =
        "fn main() {\n    let y = 1;\n    let z = 2;\n    let w = 3;\n    println!(\"{x}\");\n}\n";
    // A plain streamed edit: late didChanges, jumping versions, stale edits dropped yet
    // answered applied, echoes as minimal diffs.
    let job = start_job(
        &mut editor,
        "tandem.edit",
        json!({"uri": URI, "range": line_range(1), "instruction": "i"}),
    )
    .await?;
    let done = finished(&mut editor, &job).await?;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(editor.doc(URI).unwrap().text, expected);
    assert!(editor.applied_edits.len() >= 2);

    // Again, with the user typing below the region and above it while the model streams.
    editor
        .type_at(URI, 0, editor.doc(URI).unwrap().text.len(), SOURCE)
        .await?;
    let job = start_job(
        &mut editor,
        "tandem.edit",
        json!({"uri": URI, "range": line_range(1), "instruction": "i"}),
    )
    .await?;
    server.wait_for_requests(2).await;
    server.release(3);
    wait_for_edit(&mut editor).await?;
    let end = editor.doc(URI).unwrap().text.len();
    editor.type_at(URI, end, end, "// below\n").await?;
    editor.type_at(URI, 0, 0, "// above\n").await?;
    server.release(20);
    let done = finished(&mut editor, &job).await?;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(
        editor.doc(URI).unwrap().text,
        format!("// above\n{expected}// below\n")
    );
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn an_editor_that_applies_but_never_answers_still_finishes() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    server.push(
        answer(&["```rust\n", "    let y = 1;\n", "    let z = 2;\n", "```\n"])
            .delay_each(Duration::from_millis(20)),
    );
    let mut editor = start(&server, EditBehavior::NeverAnswer).await?;
    editor.open(URI, "rust", 1, SOURCE).await?;
    let job = start_job(
        &mut editor,
        "tandem.edit",
        json!({"uri": URI, "range": line_range(1), "instruction": "i"}),
    )
    .await?;
    let done = editor
        .wait_for_long(Duration::from_secs(40), |m| match m {
            tandem_tests::editor::Incoming::Notification { method, params }
                if method == "tandem/jobFinished" && params["jobId"] == job =>
            {
                Some(params.clone())
            }
            _ => None,
        })
        .await?;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(
        editor.doc(URI).unwrap().text,
        "fn main() {\n    let y = 1;\n    let z = 2;\n    println!(\"{x}\");\n}\n"
    );
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn an_editor_that_never_applies_nor_answers_fails_the_job() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    server.push(answer(&["```rust\n", "    let y = 1;\n", "```\n"]));
    let mut editor = start(&server, EditBehavior::Ignore).await?;
    // Answer nothing at all to applyEdit: the request handler is never asked, as with a hung client.
    editor.on_request(|method, params| match method {
        "workspace/applyEdit" => Value::Null,
        _ => tandem_tests::editor::default_answer(method, params),
    });
    editor.silence("workspace/applyEdit");
    editor.open(URI, "rust", 1, SOURCE).await?;
    let job = start_job(
        &mut editor,
        "tandem.edit",
        json!({"uri": URI, "range": line_range(1), "instruction": "i"}),
    )
    .await?;
    let done = editor
        .wait_for_long(Duration::from_secs(40), |m| match m {
            tandem_tests::editor::Incoming::Notification { method, params }
                if method == "tandem/jobFinished" && params["jobId"] == job =>
            {
                Some(params.clone())
            }
            _ => None,
        })
        .await?;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["message"], "the editor did not answer the edit");
    // Other requests are still served meanwhile and after.
    let symbols = editor
        .request(
            "textDocument/documentSymbol",
            json!({"textDocument": {"uri": URI}}),
        )
        .await?;
    assert!(symbols.is_ok());
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn cancelling_the_progress_cancels_the_job() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    server.push(answer(&["```rust\n", "    let y = 1;\n", "    let z = 2;\n", "```\n"]).gated());
    let mut editor = start(&server, EditBehavior::VsCode).await?;
    editor.open(URI, "rust", 1, SOURCE).await?;
    let reply = editor
        .request(
            "workspace/executeCommand",
            json!({"command": "tandem.edit", "arguments": [{"uri": URI, "range": line_range(1), "instruction": "i"}], "workDoneToken": "tok-1"}),
        )
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let job = reply["jobId"].clone();
    let begin = editor
        .notification("$/progress", |p| {
            p["token"] == "tok-1" && p["value"]["kind"] == "begin"
        })
        .await?;
    assert_eq!(begin["value"]["title"], "Tandem: edit");
    assert_eq!(begin["value"]["cancellable"], true);
    server.wait_for_requests(1).await;
    server.release(3);
    wait_for_edit(&mut editor).await?;
    editor
        .notify("window/workDoneProgress/cancel", json!({"token": "tok-1"}))
        .await?;
    let done = finished(&mut editor, &job).await?;
    assert_eq!(done["status"], "cancelled", "{done}");
    assert_eq!(editor.doc(URI).unwrap().text, SOURCE);
    let end = editor
        .notification("$/progress", |p| {
            p["token"] == "tok-1" && p["value"]["kind"] == "end"
        })
        .await?;
    assert!(end["value"]["message"].is_string());
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

/// A workspace folder holding `files` (path, text), and a server started on it.
async fn start_in_workspace(
    server: &ModelServer,
    files: &[(&str, &str)],
) -> anyhow::Result<(tempfile::TempDir, Editor, String)> {
    let dir = tempfile::tempdir()?;
    for (rel, text) in files {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap())?;
        std::fs::write(path, text)?;
    }
    let root_uri = format!("file://{}", dir.path().display());
    let params = json!({"rootUri": root_uri});
    let editor = start_full(server, EditBehavior::VsCode, json!({}), params).await?;
    Ok((dir, editor, root_uri))
}

#[tokio::test]
async fn the_prompt_carries_rules_and_signatures_but_no_ignored_file_or_secret()
-> anyhow::Result<()> {
    let source = "fn main() {\n    let key = \"AKIAIOSFODNN7EXAMPLE\";\n    let d = distance_between(1.0, 2.0);\n}\n";
    let server = ModelServer::start().await?;
    server.push(answer(&["It computes a distance."]));
    let (_dir, mut editor, root_uri) = start_in_workspace(
        &server,
        &[
            ("AGENTS.md", "Always use early returns."),
            ("src/AGENTS.md", "Name things in full words."),
            (
                "src/geo.rs",
                "pub fn distance_between(a: f64, b: f64) -> f64 { (a - b).abs() }\n",
            ),
            (".gitignore", "secrets/\n"),
            ("secrets/keys.rs", "pub fn leaked_helper() {}\n"),
            (".tandemignore", "src/private.rs\n"),
            ("src/main.rs", source),
            ("src/private.rs", "fn private() {}\n"),
        ],
    )
    .await?;
    let main_uri = format!("{root_uri}/src/main.rs");
    editor.open(&main_uri, "rust", 1, source).await?;
    let job = start_job(&mut editor, "tandem.explain", json!({"uri": main_uri, "range": {"start": {"line": 1, "character": 0}, "end": {"line": 3, "character": 0}}})).await?;
    let done = finished(&mut editor, &job).await?;
    assert_eq!(done["status"], "done", "{done}");
    let sent = server.requests()[0].body.to_string();
    assert!(
        sent.contains("Always use early returns.") && sent.contains("Name things in full words."),
        "{sent}"
    );
    assert!(
        sent.contains("pub fn distance_between(a: f64, b: f64) -> f64"),
        "{sent}"
    );
    assert!(
        !sent.contains("AKIAIOSFODNN7EXAMPLE"),
        "a planted secret was sent: {sent}"
    );
    assert!(
        !sent.contains("leaked_helper"),
        "an ignored file was sent: {sent}"
    );

    // An ignored file is never sent: the action is refused.
    let private_uri = format!("{root_uri}/src/private.rs");
    editor
        .open(&private_uri, "rust", 1, "fn private() {}\n")
        .await?;
    let refused = command(
        &mut editor,
        "tandem.explain",
        json!({"uri": private_uri, "range": line_range(0)}),
    )
    .await?
    .unwrap_err();
    assert!(
        refused["message"]
            .as_str()
            .unwrap_or_default()
            .contains("ignored"),
        "{refused}"
    );
    assert_eq!(server.requests().len(), 1);
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

/// `.tandem/rules.md`: the rules that apply to the file go into its prompts, read from the
/// editor's buffer when it is open (unsaved changes included), else from disk.
#[tokio::test]
async fn the_prompt_carries_the_team_rules_that_apply_from_the_buffer_or_the_disk()
-> anyhow::Result<()> {
    let source = "fn main() {\n    let x = 1;\n}\n";
    let server = ModelServer::start().await?;
    let rules = "# Team rules\n- Prefer `?` to `.unwrap()`.\n## *.py\n- Type every function.\n";
    let (_dir, mut editor, root_uri) = start_in_workspace(
        &server,
        &[(".tandem/rules.md", rules), ("src/main.rs", source)],
    )
    .await?;
    let main_uri = format!("{root_uri}/src/main.rs");
    editor.open(&main_uri, "rust", 1, source).await?;
    let explain = json!({"uri": main_uri, "range": line_range(1)});
    server.push(answer(&["It sets x."]));
    let job = start_job(&mut editor, "tandem.explain", explain.clone()).await?;
    assert_eq!(finished(&mut editor, &job).await?["status"], "done");
    let sent = server.requests()[0].body.to_string();
    assert!(sent.contains("Prefer `?` to `.unwrap()`."), "{sent}");
    assert!(!sent.contains("Type every function."), "{sent}");
    let status = command(&mut editor, "tandem.status", json!({}))
        .await?
        .unwrap();
    assert_eq!(status["lastPrompt"]["teamRules"], 1, "{status}");

    let rules_uri = format!("{root_uri}/.tandem/rules.md");
    let edited = "- Name things in full words.\n- Keep functions short.\n";
    editor.open(&rules_uri, "markdown", 1, edited).await?;
    server.push(answer(&["It sets x."]));
    let job = start_job(&mut editor, "tandem.explain", explain).await?;
    assert_eq!(finished(&mut editor, &job).await?["status"], "done");
    let sent = server.requests()[1].body.to_string();
    assert!(sent.contains("Name things in full words."), "{sent}");
    assert!(!sent.contains("Prefer `?`"), "{sent}");
    let status = command(&mut editor, "tandem.status", json!({}))
        .await?
        .unwrap();
    assert_eq!(status["lastPrompt"]["teamRules"], 2, "{status}");
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

async fn start_with(
    server: &ModelServer,
    behavior: EditBehavior,
    extra: Value,
) -> anyhow::Result<Editor> {
    start_full(server, behavior, extra, json!({})).await
}

#[tokio::test]
async fn preview_mode_sends_one_annotated_edit_and_a_decline_cancels() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    let pieces = ["```rust\n", "    let y = 1;\n", "    let z = 2;\n", "```\n"];
    server.push(answer(&pieces).delay_each(Duration::from_millis(20)));
    let mut editor = start_with(
        &server,
        EditBehavior::VsCode,
        json!({"edits": {"mode": "preview"}}),
    )
    .await?;
    editor.open(URI, "rust", 1, SOURCE).await?;
    let job = start_job(
        &mut editor,
        "tandem.edit",
        json!({"uri": URI, "range": line_range(1), "instruction": "i"}),
    )
    .await?;
    let done = finished(&mut editor, &job).await?;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(editor.applied_edits.len(), 1, "one edit at the end");
    let edit = &editor.applied_edits[0]["edit"];
    assert_eq!(
        edit["changeAnnotations"]["tandem"]["needsConfirmation"], true,
        "{edit}"
    );
    assert_eq!(
        edit["documentChanges"][0]["edits"][0]["annotationId"],
        "tandem"
    );
    assert_eq!(
        editor.doc(URI).unwrap().text,
        "fn main() {\n    let y = 1;\n    let z = 2;\n    println!(\"{x}\");\n}\n"
    );
    assert_eq!(editor.shutdown_and_exit().await?, 0);

    // The user declines: the job is cancelled and nothing changes.
    server.push(answer(&pieces));
    let mut editor = start_with(
        &server,
        EditBehavior::Ignore,
        json!({"edits": {"mode": "preview"}}),
    )
    .await?;
    editor.on_request(|method, params| match method {
        "workspace/applyEdit" => json!({"applied": false, "failureReason": "declined"}),
        _ => tandem_tests::editor::default_answer(method, params),
    });
    editor.open(URI, "rust", 1, SOURCE).await?;
    let job = start_job(
        &mut editor,
        "tandem.edit",
        json!({"uri": URI, "range": line_range(1), "instruction": "i"}),
    )
    .await?;
    let done = finished(&mut editor, &job).await?;
    assert_eq!(done["status"], "cancelled", "{done}");
    assert_eq!(done["message"], "you declined the edit");
    assert_eq!(editor.doc(URI).unwrap().text, SOURCE);
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn reject_after_edits_elsewhere_restores_the_original_region_exactly() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    server.push(answer(&[
        "```rust\n",
        "    let y = 1;\n",
        "    let z = 2;\n",
        "```\n",
    ]));
    let mut editor = start(&server, EditBehavior::VsCode).await?;
    editor.open(URI, "rust", 1, SOURCE).await?;
    let job = start_job(
        &mut editor,
        "tandem.edit",
        json!({"uri": URI, "range": line_range(1), "instruction": "i"}),
    )
    .await?;
    let done = finished(&mut editor, &job).await?;
    assert_eq!(done["status"], "done", "{done}");
    // The user edits above and below the job's region, then rejects it.
    editor.type_at(URI, 0, 0, "use std::fmt;\n").await?;
    let end = editor.doc(URI).unwrap().text.len();
    editor.type_at(URI, end, end, "fn other() {}\n").await?;
    let edits_before = editor.applied_edits.len();
    command(&mut editor, "tandem.reject", json!({"jobId": job}))
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!(
        editor.applied_edits.len(),
        edits_before + 1,
        "one edit puts it back"
    );
    assert_eq!(
        editor.doc(URI).unwrap().text,
        format!("use std::fmt;\n{SOURCE}fn other() {{}}\n")
    );
    // A second verdict is refused.
    let again = command(&mut editor, "tandem.accept", json!({"jobId": job}))
        .await?
        .unwrap_err();
    assert!(
        again["message"]
            .as_str()
            .unwrap_or_default()
            .contains("already rejected"),
        "{again}"
    );
    let status = command(&mut editor, "tandem.status", json!({}))
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert!(
        status["jobs"].as_array().is_some_and(|jobs| jobs
            .iter()
            .any(|j| j["jobId"] == job && j["verdict"] == "rejected")),
        "{status}"
    );
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn a_429_then_success_and_a_stall_end_as_they_should() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    let pieces = ["```rust\n", "    let y = 1;\n", "```\n"];
    server.push(
        Reply::error(429, "{\"error\":{\"message\":\"slow down\"}}").header("retry-after", "0"),
    );
    server.push(answer(&pieces));
    let mut editor = start_with(&server, EditBehavior::VsCode, json!({"model": {"provider": "openai", "baseUrl": server.base_url(Wire::OpenAi), "name": "test-model", "idleTimeoutMs": 500}})).await?;
    editor.open(URI, "rust", 1, SOURCE).await?;
    let job = start_job(
        &mut editor,
        "tandem.edit",
        json!({"uri": URI, "range": line_range(1), "instruction": "i"}),
    )
    .await?;
    let done = finished(&mut editor, &job).await?;
    assert_eq!(done["status"], "done", "429 then success: {done}");
    assert_eq!(server.requests().len(), 2);
    let edited = editor.doc(URI).unwrap().text.clone();

    // A stall after the first line: the job fails on the idle timeout and takes its text back.
    server.push(
        answer(&["```rust\n", "    let q = 1;\n", "    let r = 2;\n", "```\n"]).stall_after(2),
    );
    let job = start_job(
        &mut editor,
        "tandem.edit",
        json!({"uri": URI, "range": line_range(1), "instruction": "i"}),
    )
    .await?;
    let done = finished(&mut editor, &job).await?;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(editor.doc(URI).unwrap().text, edited);
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn hover_adds_the_models_explanation_and_caches_it() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    server.push(answer(&["Adds ", "two numbers."]));
    let mut editor = start(&server, EditBehavior::VsCode).await?;
    let source = "/// Adds.\nfn add(a: u8, b: u8) -> u8 { a + b }\nfn slow() {}\n";
    editor.open(URI, "rust", 1, source).await?;
    let hover = |line: u32| json!({"textDocument": {"uri": URI}, "position": {"line": line, "character": 4}});
    let first = editor
        .request("textDocument/hover", hover(1))
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let text = first["contents"]["value"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        text.contains("fn add(a: u8, b: u8) -> u8")
            && text.contains("**Tandem:** Adds two numbers."),
        "{text}"
    );
    // Unchanged code: from the cache, no second model request.
    let second = editor
        .request("textDocument/hover", hover(1))
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!(second["contents"]["value"], first["contents"]["value"]);
    assert_eq!(server.requests().len(), 1);

    // A model slower than hover.timeoutMs: the hover answers with the structural part and says
    // the explanation is coming; the next hover shows it.
    editor
        .request(
            "workspace/executeCommand",
            json!({"command": "tandem.status", "arguments": [{}]}),
        )
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    editor.notify("workspace/didChangeConfiguration", json!({"settings": {"tandem": {"model": {"provider": "openai", "baseUrl": server.base_url(Wire::OpenAi), "name": "test-model"}, "hover": {"timeoutMs": 200}}}})).await?;
    server.push(answer(&["It does ", "nothing yet."]).gated());
    let pending = editor
        .request("textDocument/hover", hover(2))
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let text = pending["contents"]["value"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        text.contains("fn slow()") && text.contains("preparing an explanation"),
        "{text}"
    );
    server.release(20);
    let mut shown = String::new();
    for _ in 0..50 {
        let again = editor
            .request("textDocument/hover", hover(2))
            .await?
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        shown = again["contents"]["value"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if shown.contains("**Tandem:**") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        shown.contains("**Tandem:** It does nothing yet."),
        "{shown}"
    );
    assert_eq!(
        server.requests().len(),
        2,
        "one generation for the slow item"
    );
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn review_publishes_findings_with_quick_fixes_that_work() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    let source =
        "fn main() {\n    let v = vec![1, 2, 3];\n    let x = v[3];\n    println!(\"{x}\");\n}\n";
    let findings = r#"```json
[
  {"start_line": 3, "end_line": 3, "severity": "error", "message": "Index 3 is out of bounds.", "replacement": "    let x = v[2];"},
  {"start_line": 4, "severity": "hint", "message": "Consider naming x."}
]
```"#;
    server.push(answer(&[findings]));
    let mut editor = start(&server, EditBehavior::VsCode).await?;
    editor.open(URI, "rust", 1, source).await?;
    let job = start_job(&mut editor, "tandem.review", json!({"uri": URI})).await?;
    let done = finished(&mut editor, &job).await?;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["result"]["findings"], 2);
    let published = editor
        .notification("textDocument/publishDiagnostics", |p| {
            p["uri"] == URI && p["diagnostics"].as_array().is_some_and(|d| d.len() == 2)
        })
        .await?;
    let first = &published["diagnostics"][0];
    assert_eq!(first["source"], "tandem");
    assert_eq!(first["severity"], 1);
    assert_eq!(first["message"], "Index 3 is out of bounds.");
    assert_eq!(first["range"]["start"], json!({"line": 2, "character": 0}));
    // The prompt showed numbered lines.
    assert!(
        server.requests()[0]
            .body
            .to_string()
            .contains("    3 |     let x = v[3];")
    );

    // Quick fixes at the finding: apply its replacement, or dismiss it.
    let at = json!({"textDocument": {"uri": URI}, "range": {"start": {"line": 2, "character": 5}, "end": {"line": 2, "character": 5}}, "context": {"diagnostics": [first]}});
    let actions = editor
        .request("textDocument/codeAction", at.clone())
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let apply = actions
        .as_array()
        .unwrap()
        .iter()
        .find(|a| {
            a["title"]
                .as_str()
                .unwrap_or_default()
                .starts_with("Tandem: Apply suggestion")
        })
        .cloned()
        .unwrap();
    assert!(actions.as_array().unwrap().iter().any(|a| {
        a["title"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Tandem: Dismiss")
    }));
    assert!(editor.apply_code_action_edit(&apply["edit"]).await?);
    assert_eq!(
        editor.doc(URI).unwrap().text,
        source.replace("v[3]", "v[2]")
    );
    // Editing the finding's line dropped it; the other is dismissed by its quick fix.
    let remaining = editor
        .notification("textDocument/publishDiagnostics", |p| {
            p["uri"] == URI && p["diagnostics"].as_array().is_some_and(|d| d.len() == 1)
        })
        .await?;
    let hint = &remaining["diagnostics"][0];
    assert_eq!(hint["message"], "Consider naming x.");
    let at_hint = json!({"textDocument": {"uri": URI}, "range": {"start": {"line": 3, "character": 1}, "end": {"line": 3, "character": 1}}, "context": {"diagnostics": [hint]}});
    let actions = editor
        .request("textDocument/codeAction", at_hint)
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let dismiss = actions
        .as_array()
        .unwrap()
        .iter()
        .find(|a| {
            a["title"]
                .as_str()
                .unwrap_or_default()
                .starts_with("Tandem: Dismiss")
        })
        .cloned()
        .unwrap();
    editor
        .request("workspace/executeCommand", json!({"command": dismiss["command"]["command"], "arguments": dismiss["command"]["arguments"]}))
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    editor
        .notification("textDocument/publishDiagnostics", |p| {
            p["uri"] == URI && p["diagnostics"] == json!([])
        })
        .await?;
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn closing_the_document_cancels_its_job_at_once() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    let mut editor = start(&server, EditBehavior::VsCode).await?;
    editor.open(URI, "rust", 1, SOURCE).await?;
    let job = start_gated_edit(&server, &mut editor).await?;
    server.release(3);
    wait_for_edit(&mut editor).await?;
    editor
        .notify(
            "textDocument/didClose",
            json!({"textDocument": {"uri": URI}}),
        )
        .await?;
    // Within the editor's usual wait: the job does not sit out the edit timeouts.
    let done = finished(&mut editor, &job).await?;
    assert_eq!(done["status"], "cancelled", "{done}");
    assert_eq!(done["message"], "the document was closed");
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn tests_go_where_each_language_keeps_them() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    let dir = tempfile::tempdir()?;
    let root_uri = format!("file://{}", dir.path().display());
    let mut editor = Editor::spawn(SpawnOptions::default()).await?;
    editor.edits = EditBehavior::VsCode;
    let options = json!({"model": {"provider": "openai", "baseUrl": server.base_url(Wire::OpenAi), "name": "test-model"}});
    editor
        .initialize_with(
            &[],
            json!({"initializationOptions": options, "rootUri": root_uri}),
        )
        .await?;

    // Rust without a test module: a new one is streamed in at the end of the file.
    let rust = "pub fn double(x: u32) -> u32 {\n    x * 2\n}\n";
    let rust_uri = format!("{root_uri}/lib.rs");
    std::fs::write(dir.path().join("lib.rs"), rust)?;
    editor.open(&rust_uri, "rust", 1, rust).await?;
    let module = "\n#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn doubles() {\n        assert_eq!(double(2), 4);\n    }\n}\n";
    server.push(answer(&["```rust\n", module, "```\n"]));
    let job = start_job(
        &mut editor,
        "tandem.tests",
        json!({"uri": rust_uri, "position": {"line": 0, "character": 8}}),
    )
    .await?;
    let done = finished(&mut editor, &job).await?;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(
        editor.doc(&rust_uri).unwrap().text,
        format!("{rust}{module}")
    );
    let sent = server.requests()[0].body.to_string();
    assert!(
        sent.contains("pub fn double(x: u32) -> u32") && sent.contains("mod tests"),
        "{sent}"
    );

    // Rust with a test module: new tests go inside it, before its closing brace.
    let text = editor.doc(&rust_uri).unwrap().text.clone();
    server.push(answer(&[
        "```rust\n",
        "    #[test]\n    fn doubles_zero() {\n        assert_eq!(double(0), 0);\n    }\n",
        "```\n",
    ]));
    let job = start_job(
        &mut editor,
        "tandem.tests",
        json!({"uri": rust_uri, "position": {"line": 0, "character": 8}}),
    )
    .await?;
    let done = finished(&mut editor, &job).await?;
    assert_eq!(done["status"], "done", "{done}");
    let expected = text.replace(
        "        assert_eq!(double(2), 4);\n    }\n}\n",
        "        assert_eq!(double(2), 4);\n    }\n    #[test]\n    fn doubles_zero() {\n        assert_eq!(double(0), 0);\n    }\n}\n",
    );
    assert_eq!(editor.doc(&rust_uri).unwrap().text, expected);

    // Python: a new test_<module>.py next to the file, created by the editor.
    let python = "def double(x):\n    return x * 2\n";
    let py_uri = format!("{root_uri}/calc.py");
    std::fs::write(dir.path().join("calc.py"), python)?;
    editor.open(&py_uri, "python", 1, python).await?;
    let test_file = "from calc import double\n\n\ndef test_double():\n    assert double(2) == 4\n";
    server.push(answer(&["```python\n", test_file, "```\n"]));
    let job = start_job(
        &mut editor,
        "tandem.tests",
        json!({"uri": py_uri, "position": {"line": 0, "character": 5}}),
    )
    .await?;
    let done = finished(&mut editor, &job).await?;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("test_calc.py"))?,
        test_file
    );
    assert!(
        done["result"]["uri"]
            .as_str()
            .unwrap_or_default()
            .ends_with("/test_calc.py"),
        "{done}"
    );
    assert_eq!(
        editor.doc(&py_uri).unwrap().text,
        python,
        "the source is untouched"
    );

    // Not on a function: refused with a reason.
    let refused = command(
        &mut editor,
        "tandem.tests",
        json!({"uri": py_uri, "position": {"line": 5, "character": 0}}),
    )
    .await?
    .unwrap_err();
    assert!(
        refused["message"]
            .as_str()
            .unwrap_or_default()
            .contains("function"),
        "{refused}"
    );
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

/// Every action, started from its code action (the command the list carries), ends done with
/// the text it should leave.
#[tokio::test]
async fn every_action_runs_from_its_code_action() -> anyhow::Result<()> {
    let source = "fn later() -> u8 { todo!() }\nfn broken() { let a = 1 }\n";
    // (code action title, where to ask, the model's reply, the text after, or None if unchanged)
    type Case<'a> = (&'a str, (u32, u32), &'a str, Option<&'a str>);
    let cases: &[Case] = &[
        (
            "Tandem: Implement `later`",
            (0, 4),
            "```rust\nfn later() -> u8 { 7 }\n```",
            Some("fn later() -> u8 { 7 }\nfn broken() { let a = 1 }\n"),
        ),
        (
            "Tandem: Document `later`",
            (0, 4),
            "```rust\n/// Later.\nfn later() -> u8 { todo!() }\n```",
            Some("/// Later.\nfn later() -> u8 { todo!() }\nfn broken() { let a = 1 }\n"),
        ),
        (
            "Tandem: Write tests for `later`",
            (0, 4),
            "```rust\n\n#[cfg(test)]\nmod tests {}\n```",
            Some(
                "fn later() -> u8 { todo!() }\nfn broken() { let a = 1 }\n\n#[cfg(test)]\nmod tests {}\n",
            ),
        ),
        (
            "Tandem: Fix this",
            (1, 23),
            "```rust\nfn broken() { let a = 1; }\n```",
            Some("fn later() -> u8 { todo!() }\nfn broken() { let a = 1; }\n"),
        ),
        ("Tandem: Explain `later`", (0, 4), "It is unfinished.", None),
        ("Tandem: Review this file", (0, 4), "```json\n[]\n```", None),
    ];
    let server = ModelServer::start().await?;
    let mut editor = start(&server, EditBehavior::VsCode).await?;
    for (i, (title, (line, character), reply, after)) in cases.iter().enumerate() {
        let uri = format!("file:///w/case{i}.rs");
        editor.open(&uri, "rust", 1, source).await?;
        let at = json!({"textDocument": {"uri": uri}, "range": {"start": {"line": line, "character": character}, "end": {"line": line, "character": character}}, "context": {"diagnostics": []}});
        let actions = editor
            .request("textDocument/codeAction", at)
            .await?
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let Some(action) = actions
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["title"] == *title)
            .cloned()
        else {
            panic!("{title} not offered: {actions}");
        };
        server.push(answer(&[reply]));
        let job = editor
            .request("workspace/executeCommand", json!({"command": action["command"]["command"], "arguments": action["command"]["arguments"]}))
            .await?
            .map_err(|e| anyhow::anyhow!("{title}: {e}"))?["jobId"]
            .clone();
        let done = finished(&mut editor, &job).await?;
        assert_eq!(done["status"], "done", "{title}: {done}");
        assert_eq!(
            editor.doc(&uri).unwrap().text,
            after.unwrap_or(source),
            "{title}"
        );
    }
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn an_edit_refused_as_stale_is_recomputed_and_the_result_is_right() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    let mut editor = start(&server, EditBehavior::VsCode).await?;
    editor.open(URI, "rust", 1, SOURCE).await?;
    let job = start_gated_edit(&server, &mut editor).await?;
    // Release a line; while the server's edit is on its way (unread), the user types below:
    // the edit now targets an old version and the editor refuses it.
    server.release(3);
    editor.hold("workspace/applyEdit").await?;
    let end = editor.doc(URI).unwrap().text.len();
    editor.type_at(URI, end, end, "// typed\n").await?;
    server.release(20);
    let done = finished(&mut editor, &job).await?;
    assert_eq!(done["status"], "done", "{done}");
    assert!(editor.refused_edits >= 1, "the stale edit was refused");
    assert_eq!(
        editor.doc(URI).unwrap().text,
        "fn main() {\n    let y = 1;\n    let z = 2;\n    println!(\"{x}\");\n}\n// typed\n"
    );
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

/// While a job streams, its region is a streaming diff (the new lines so far, then the old ones
/// not passed yet: the function keeps its closing brace) and syntax errors inside it are held
/// back; once the job ends, the region's errors are published.
#[tokio::test]
async fn a_streaming_region_keeps_the_old_code_below_and_its_errors_wait_for_the_end()
-> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    let mut editor = start(&server, EditBehavior::VsCode).await?;
    editor.open(URI, "rust", 1, SOURCE).await?;
    let broken = [
        "```rust\n",
        "    let y = (1 +\n",
        "    let z = 2;\n",
        "```\n",
    ];
    // Both answers leave an unclosed parenthesis: the job ends done, saying so.
    server.push(answer(&broken).gated());
    server.push(answer(&broken));
    let job = start_job(
        &mut editor,
        "tandem.edit",
        json!({"uri": URI, "range": line_range(1), "instruction": "i"}),
    )
    .await?;
    server.wait_for_requests(1).await;
    server.release(3);
    wait_for_edit(&mut editor).await?;
    let doc = editor.doc(URI).unwrap().clone();
    assert_eq!(
        doc.text, "fn main() {\n    let y = (1 +\n    let x = 1;\n    println!(\"{x}\");\n}\n",
        "the old line stays below the new one until the new text passes it"
    );
    let during = editor.diagnostics(URI, doc.version).await?;
    assert!(
        during.is_empty(),
        "no syntax errors published while the region streams: {during:?}"
    );
    server.release(20);
    let done = finished(&mut editor, &job).await?;
    assert_eq!(done["status"], "done", "{done}");
    assert!(
        done["message"]
            .as_str()
            .is_some_and(|m| m.contains("syntax errors")),
        "{done}"
    );
    let version = editor.doc(URI).unwrap().version;
    let published = editor.take_notifications("textDocument/publishDiagnostics");
    let last = published
        .iter()
        .rev()
        .find(|p| p["uri"] == URI && p["version"] == version)
        .ok_or_else(|| anyhow::anyhow!("no diagnostics for version {version}: {published:?}"))?;
    assert!(
        last["diagnostics"]
            .as_array()
            .is_some_and(|d| !d.is_empty()),
        "the region's errors are published once the job ends: {last}"
    );
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

/// A client without Tandem's plugin learns how each job ended from `window/showMessage`; one
/// that declares `experimental.tandem.jobFinished` (the plugins do) gets only the notification.
#[tokio::test]
async fn clients_without_the_plugin_are_told_how_a_job_ended() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    for declares in [false, true] {
        let capabilities = json!({
            "window": {"workDoneProgress": true},
            "workspace": {"applyEdit": true},
            "experimental": {"tandem": {"jobFinished": declares}},
        });
        let params = json!({"capabilities": capabilities});
        let mut editor = start_full(&server, EditBehavior::VsCode, json!({}), params).await?;
        editor.open(URI, "rust", 1, SOURCE).await?;
        server.push(Reply::error(401, "{\"error\":{\"message\":\"bad key\"}}"));
        let job = start_job(
            &mut editor,
            "tandem.explain",
            json!({"uri": URI, "range": line_range(1)}),
        )
        .await?;
        let done = finished(&mut editor, &job).await?;
        assert_eq!(done["status"], "failed", "{done}");
        // The message goes out before the notification: by now it is here, or never.
        let shown = editor.take_notifications("window/showMessage");
        if declares {
            assert!(shown.is_empty(), "{shown:?}");
        } else {
            assert_eq!(shown.len(), 1, "{shown:?}");
            assert_eq!(shown[0]["type"], 1, "an error: {shown:?}");
            let text = shown[0]["message"].as_str().unwrap_or_default();
            assert!(
                text.starts_with("Tandem: explain failed: ") && text.contains("401"),
                "{text}"
            );
        }
        assert_eq!(editor.shutdown_and_exit().await?, 0);
    }
    Ok(())
}

/// Every door a file's text can pass on its way to a model refuses secret and ignored files: an
/// action on a `.env` no ignore file names, tests whose test file is ignored or would be created
/// outside the workspace, and the index kept current on save.
#[tokio::test]
async fn secret_and_ignored_files_are_refused_at_every_door() -> anyhow::Result<()> {
    let main = "fn main() {\n    saved_plain();\n    saved_private();\n}\n";
    let server = ModelServer::start().await?;
    let (dir, mut editor, root_uri) = start_in_workspace(
        &server,
        &[
            (".gitignore", "src/test_calc.py\n"),
            (".tandemignore", "src/private.rs\n"),
            (".env", "API_KEY=sk-planted-0123456789\n"),
            ("src/main.rs", main),
            ("src/calc.py", "def add(a, b):\n    return a + b\n"),
            ("src/test_calc.py", "SECRET_FIXTURE = 1\n"),
        ],
    )
    .await?;
    let refusal = |reply: Result<Value, Value>| -> String {
        reply.unwrap_err()["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    // A .env that no ignore file names.
    let env_uri = format!("{root_uri}/.env");
    editor
        .open(&env_uri, "dotenv", 1, "API_KEY=sk-planted-0123456789\n")
        .await?;
    let reply = command(
        &mut editor,
        "tandem.explain",
        json!({"uri": env_uri, "range": line_range(0)}),
    )
    .await?;
    assert!(refusal(reply).contains("secret file"));
    // Tests whose test file is ignored.
    let calc_uri = format!("{root_uri}/src/calc.py");
    editor
        .open(&calc_uri, "python", 1, "def add(a, b):\n    return a + b\n")
        .await?;
    let at = json!({"uri": calc_uri, "position": {"line": 1, "character": 4}});
    let reply = command(&mut editor, "tandem.tests", at).await?;
    assert!(refusal(reply).contains("ignored"));
    // Tests of a file outside the workspace would create their file outside it.
    let outside = tempfile::tempdir()?;
    let other_uri = format!("file://{}/other.py", outside.path().display());
    editor
        .open(
            &other_uri,
            "python",
            1,
            "def sub(a, b):\n    return a - b\n",
        )
        .await?;
    let at = json!({"uri": other_uri, "position": {"line": 1, "character": 4}});
    let reply = command(&mut editor, "tandem.tests", at).await?;
    assert!(refusal(reply).contains("outside the workspace"));
    assert!(!outside.path().join("test_other.py").exists());
    // Saved files keep the index current, but an ignored one never enters it.
    let private = "pub fn saved_private() {}\n";
    std::fs::write(dir.path().join("src/private.rs"), private)?;
    let plain = "pub fn saved_plain() {}\n";
    std::fs::write(dir.path().join("src/plain.rs"), plain)?;
    for (rel, text) in [("src/private.rs", private), ("src/plain.rs", plain)] {
        let uri = format!("{root_uri}/{rel}");
        editor.open(&uri, "rust", 1, text).await?;
        editor
            .notify(
                "textDocument/didSave",
                json!({"textDocument": {"uri": uri}}),
            )
            .await?;
    }
    let main_uri = format!("{root_uri}/src/main.rs");
    editor.open(&main_uri, "rust", 1, main).await?;
    let mut sent = String::new();
    // The index is updated in the background: ask until the plain file's signature shows.
    for _ in 0..50 {
        server.push(answer(&["It calls two helpers."]));
        let job = start_job(
            &mut editor,
            "tandem.explain",
            json!({"uri": main_uri, "range": line_range(1)}),
        )
        .await?;
        assert_eq!(finished(&mut editor, &job).await?["status"], "done");
        sent = server.requests().last().unwrap().body.to_string();
        if sent.contains("pub fn saved_plain()") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(sent.contains("pub fn saved_plain()"), "{sent}");
    assert!(
        !sent.contains("pub fn saved_private()"),
        "an ignored file reached the prompt: {sent}"
    );
    // Hover on an ignored file's item is structural only: no model is asked.
    let asked = server.requests().len();
    let private_uri = format!("{root_uri}/src/private.rs");
    let at = json!({"textDocument": {"uri": private_uri}, "position": {"line": 0, "character": 8}});
    let hover = editor.request("textDocument/hover", at).await?.unwrap();
    let shown = hover["contents"]["value"].as_str().unwrap_or_default();
    assert!(
        shown.contains("fn saved_private()") && !shown.contains("Tandem"),
        "{shown}"
    );
    assert_eq!(server.requests().len(), asked, "hover asked the model");
    let all: String = server
        .requests()
        .iter()
        .map(|r| r.body.to_string())
        .collect();
    assert!(
        !all.contains("sk-planted") && !all.contains("SECRET_FIXTURE"),
        "{all}"
    );
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

/// Hover in 50,000 nested modules (items past the depth cap are listed flat): on the function at
/// the bottom it shows the function, not the module at the cap holding it, and the model is asked
/// about it; on the outermost module, whose text is far past the prompt's budget, it answers with
/// the structure and says why there is no explanation, without asking the model.
#[tokio::test]
async fn hover_in_deep_nesting_shows_the_innermost_item_and_a_huge_one_is_not_sent()
-> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    server.push(answer(&["Does ", "nothing."]));
    let mut editor = start(&server, EditBehavior::VsCode).await?;
    let depth = 50_000;
    let source = format!(
        "{}fn f() {{}}{}\n",
        "mod a {\n".repeat(depth),
        "}\n".repeat(depth)
    );
    editor.open(URI, "rust", 1, &source).await?;
    let hover = |line: usize, character: usize| json!({"textDocument": {"uri": URI}, "position": {"line": line, "character": character}});
    let deep = editor
        .request("textDocument/hover", hover(depth, 3))
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let text = deep["contents"]["value"].as_str().unwrap_or_default();
    assert!(
        text.contains("*function* `f`") && text.contains("**Tandem:** Does nothing."),
        "{text}"
    );
    assert_eq!(server.requests().len(), 1);

    let outer = editor
        .request("textDocument/hover", hover(0, 4))
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let text = outer["contents"]["value"].as_str().unwrap_or_default();
    assert!(
        text.contains("`a`")
            && text.contains("No explanation from the model")
            && text.contains("too large"),
        "{}",
        &text[..text.len().min(2000)]
    );
    assert_eq!(
        server.requests().len(),
        1,
        "the huge module never reached the model"
    );
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

/// The document goes out of sync while a job streams into it (a change whose version goes
/// backwards): the job fails at once, saying so, and sends no more edits (nor takes back what it
/// wrote: the server no longer knows where that is).
#[tokio::test]
async fn a_document_out_of_sync_fails_its_running_job() -> anyhow::Result<()> {
    let server = ModelServer::start().await?;
    let mut editor = start(&server, EditBehavior::VsCode).await?;
    editor.open(URI, "rust", 1, SOURCE).await?;
    let job = start_gated_edit(&server, &mut editor).await?;
    server.release(3);
    wait_for_edit(&mut editor).await?;
    let version = editor.doc(URI).map_or(1, |d| d.version);
    // A stale change: its version is below the document's.
    editor
        .change(URI, version - 1, (0, 0), (0, 0), "// x\n")
        .await?;
    let done = finished(&mut editor, &job).await?;
    assert_eq!(done["status"], "failed", "{done}");
    assert!(
        done["message"]
            .as_str()
            .unwrap_or_default()
            .contains("out of sync"),
        "{done}"
    );
    let edits = editor.applied_edits.len();
    server.release(10);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = command(&mut editor, "tandem.status", json!({})).await?;
    assert_eq!(
        editor.applied_edits.len(),
        edits,
        "no edit after the job failed"
    );
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}
