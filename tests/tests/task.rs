//! End to end: `tandem.task` with a scripted model that calls tools. A task edits an open
//! document while the user types in it, edits a closed file and creates one, and reject puts
//! all three back; paths outside the workspace are refused; the step limit ends a task with a
//! message; a cancelled task leaves everything as it was; a failing check fed back is fixed.

use std::path::Path;

use serde_json::{Value, json};
use tandem_tests::editor::{EditBehavior, Editor, SpawnOptions};
use tandem_tests::model_server::{ModelServer, Reply, Wire};
use tandem_tests::model_tools::ScriptedCall;

const MAIN: &str = "fn main() {\n    println!(\"{}\", add(1, 2));\n}\n\nfn add(a: u8, b: u8) -> u8 {\n    a + b\n}\n";
const LIB: &str = "pub fn sub(a: u8, b: u8) -> u8 {\n    a - b\n}\n";

/// A workspace with `src/main.rs` (opened by the tests) and `src/lib.rs` (left closed).
struct Setup {
    root: tempfile::TempDir,
}

impl Setup {
    fn new() -> anyhow::Result<Self> {
        let root = tempfile::tempdir()?;
        std::fs::create_dir_all(root.path().join("src"))?;
        std::fs::write(root.path().join("src/main.rs"), MAIN)?;
        std::fs::write(root.path().join("src/lib.rs"), LIB)?;
        std::fs::write(root.path().join("AGENTS.md"), "Keep functions small.\n")?;
        Ok(Setup { root })
    }

    fn path(&self, relative: &str) -> std::path::PathBuf {
        self.root.path().join(relative)
    }

    fn uri(&self, relative: &str) -> String {
        format!("file://{}", self.path(relative).display())
    }

    fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path(relative)).unwrap_or_else(|_| "<missing>".into())
    }

    /// A server on the workspace with `main.rs` open, edits applied as VS Code applies them;
    /// `settings` (sections such as `agent`) are added to the model's.
    async fn start(&self, server: &ModelServer, settings: Value) -> anyhow::Result<Editor> {
        let mut editor = Editor::spawn(SpawnOptions::default()).await?;
        editor.edits = EditBehavior::VsCode;
        let mut options = json!({
            "model": {"provider": "openai", "baseUrl": server.base_url(Wire::OpenAi), "name": "test-model"},
        });
        if let (Some(options), Some(settings)) = (options.as_object_mut(), settings.as_object()) {
            options.extend(settings.clone());
        }
        editor
            .initialize_with(
                &[],
                json!({"rootUri": self.uri(""), "initializationOptions": options}),
            )
            .await?;
        editor
            .open(&self.uri("src/main.rs"), "rust", 1, MAIN)
            .await?;
        Ok(editor)
    }
}

fn call(id: &str, name: &str, arguments: Value) -> ScriptedCall {
    ScriptedCall::new(id, name, &arguments.to_string())
}

fn calls(list: &[ScriptedCall]) -> Reply {
    Reply::tool_calls(Wire::OpenAi, &[], list)
}

async fn command(editor: &mut Editor, name: &str, argument: Value) -> anyhow::Result<Value> {
    editor
        .request(
            "workspace/executeCommand",
            json!({"command": name, "arguments": [argument]}),
        )
        .await?
        .map_err(|e| anyhow::anyhow!("{name} failed: {e}"))
}

async fn finished(editor: &mut Editor, job: &Value) -> anyhow::Result<Value> {
    let job = job.clone();
    editor
        .notification("tandem/jobFinished", move |m| m["jobId"] == job)
        .await
}

fn text_of(editor: &Editor, uri: &str) -> String {
    editor.doc(uri).map(|d| d.text.clone()).unwrap_or_default()
}

/// The names of the tools a model request offered.
fn offered_tools(body: &Value) -> Vec<&str> {
    body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["function"]["name"].as_str())
        .collect()
}

/// The tool results the model was sent in its latest request, in order.
fn tool_results(server: &ModelServer) -> Vec<String> {
    let requests = server.requests();
    let Some(last) = requests.last() else {
        return Vec::new();
    };
    last.body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn a_task_edits_an_open_document_under_typing_a_closed_file_and_a_new_one_and_reject_restores_them()
-> anyhow::Result<()> {
    let setup = Setup::new()?;
    let server = ModelServer::start().await?;
    server.push(calls(&[
        call("c1", "read_file", json!({"path": "src/main.rs"})),
        call("c2", "edit_file", json!({"path": "src/main.rs", "old": "    a + b\n", "new": "    a.saturating_add(b)\n"})),
    ]));
    server.push(
        calls(&[
            call("c3", "edit_file", json!({"path": "src/lib.rs", "old": "    a - b\n", "new": "    a.saturating_sub(b)\n"})),
            call("c4", "create_file", json!({"path": "src/util/mod.rs", "content": "pub fn one() -> u8 {\n    1\n}\n"})),
        ])
        .gated(),
    );
    server.push(Reply::text(
        Wire::OpenAi,
        &["Made the ", "arithmetic saturate."],
    ));
    let mut editor = setup.start(&server, json!({})).await?;
    let main = setup.uri("src/main.rs");

    let started = command(
        &mut editor,
        "tandem.task",
        json!({"instruction": "make the arithmetic saturate", "uri": main, "range": {"start": {"line": 4, "character": 0}, "end": {"line": 6, "character": 1}}}),
    )
    .await?;
    let job = started["jobId"].clone();
    // The first turn's edit lands in the open document; the model's next turn waits.
    let first_edit = editor
        .notification("tandem/jobStep", |m| m["tool"] == "edit_file")
        .await?;
    server.wait_for_requests(2).await;
    assert!(text_of(&editor, &main).contains("a.saturating_add(b)"));
    // The user types at the top of the file while the task goes on.
    editor.type_at(&main, 0, 0, "// mine\n").await?;
    server.release(1_000);
    let report = finished(&mut editor, &job).await?;
    assert_eq!(report["status"], "done", "{report}");
    assert_eq!(report["action"], "task");
    assert_eq!(
        report["result"]["markdown"],
        "Made the arithmetic saturate."
    );
    let files = report["result"]["files"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let touched: Vec<(String, bool)> = files
        .iter()
        .map(|f| {
            (
                f["uri"].as_str().unwrap_or_default().to_owned(),
                f["created"] == true,
            )
        })
        .collect();
    assert_eq!(
        touched,
        [
            (main.clone(), false),
            (setup.uri("src/lib.rs"), false),
            (setup.uri("src/util/mod.rs"), true),
        ]
    );
    let expected_main = format!(
        "// mine\n{}",
        MAIN.replace("    a + b\n", "    a.saturating_add(b)\n")
    );
    assert_eq!(text_of(&editor, &main), expected_main);
    assert_eq!(
        setup.read("src/lib.rs"),
        LIB.replace("a - b", "a.saturating_sub(b)")
    );
    assert_eq!(
        setup.read("src/util/mod.rs"),
        "pub fn one() -> u8 {\n    1\n}\n"
    );

    // The first prompt carried the task, where the user stands and AGENTS.md.
    let first = server.requests()[0].body["messages"].to_string();
    for expected in [
        "make the arithmetic saturate",
        "src/main.rs`, lines 5–7",
        "Keep functions small.",
    ] {
        assert!(first.contains(expected), "{expected:?} in {first}");
    }
    // Each step was announced, numbered by the model turn it belongs to.
    let mut steps = editor.take_notifications("tandem/jobStep");
    steps.insert(1, first_edit);
    let seen: Vec<(u64, String, String)> = steps
        .iter()
        .map(|s| {
            (
                s["step"].as_u64().unwrap_or_default(),
                s["tool"].as_str().unwrap_or_default().to_owned(),
                s["path"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (1, "read_file".into(), "src/main.rs".into()),
            (1, "edit_file".into(), "src/main.rs".into()),
            (2, "edit_file".into(), "src/lib.rs".into()),
            (2, "create_file".into(), "src/util/mod.rs".into()),
        ]
    );
    assert!(steps.iter().all(|s| s["jobId"] == job), "{steps:?}");

    command(&mut editor, "tandem.reject", json!({"jobId": job})).await?;
    assert_eq!(text_of(&editor, &main), format!("// mine\n{MAIN}"));
    assert_eq!(setup.read("src/lib.rs"), LIB);
    assert!(
        !setup.path("src/util/mod.rs").exists(),
        "the created file is still there"
    );
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn paths_outside_the_workspace_and_secret_files_are_refused_as_tool_errors()
-> anyhow::Result<()> {
    let setup = Setup::new()?;
    std::fs::write(setup.path(".env"), "API_KEY=abc\n")?;
    let outside = tempfile::tempdir()?;
    std::fs::write(outside.path().join("x.rs"), "secret\n")?;
    let server = ModelServer::start().await?;
    server.push(calls(&[
        call("c1", "read_file", json!({"path": "../x.rs"})),
        call(
            "c2",
            "edit_file",
            json!({"path": outside.path().join("x.rs"), "old": "secret", "new": "mine"}),
        ),
        call("c3", "read_file", json!({"path": ".env"})),
    ]));
    server.push(Reply::text(Wire::OpenAi, &["Nothing to do."]));
    let mut editor = setup.start(&server, json!({})).await?;
    let started = command(
        &mut editor,
        "tandem.task",
        json!({"instruction": "look around"}),
    )
    .await?;
    let report = finished(&mut editor, &started["jobId"]).await?;
    assert_eq!(report["status"], "done", "{report}");
    let results = tool_results(&server);
    assert_eq!(results.len(), 3, "{results:?}");
    for result in &results {
        assert!(result.contains("refused"), "{result}");
        assert!(
            !result.contains("API_KEY") && !result.contains("secret\n"),
            "{result}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(outside.path().join("x.rs"))?,
        "secret\n"
    );
    assert_eq!(report["result"]["files"], json!([]));
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn the_step_limit_ends_a_task_with_a_message_and_keeps_its_edits_for_a_verdict()
-> anyhow::Result<()> {
    let setup = Setup::new()?;
    let server = ModelServer::start().await?;
    server.push(calls(&[call(
        "c1",
        "edit_file",
        json!({"path": "src/lib.rs", "old": "a - b", "new": "b - a"}),
    )]));
    server.push(calls(&[call(
        "c2",
        "read_file",
        json!({"path": "src/lib.rs"}),
    )]));
    server.push(calls(&[call(
        "c3",
        "read_file",
        json!({"path": "src/lib.rs"}),
    )]));
    let mut editor = setup
        .start(&server, json!({"agent": {"maxSteps": 2}}))
        .await?;
    let started = command(&mut editor, "tandem.task", json!({"instruction": "loop"})).await?;
    let report = finished(&mut editor, &started["jobId"]).await?;
    assert_eq!(report["status"], "done", "{report}");
    let message = report["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("2 steps") && message.contains("agent.maxSteps"),
        "{message}"
    );
    assert_eq!(server.requests().len(), 3);
    assert_eq!(setup.read("src/lib.rs"), LIB.replace("a - b", "b - a"));
    command(
        &mut editor,
        "tandem.accept",
        json!({"jobId": started["jobId"]}),
    )
    .await?;
    assert_eq!(setup.read("src/lib.rs"), LIB.replace("a - b", "b - a"));
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn a_cancelled_task_leaves_everything_as_it_was() -> anyhow::Result<()> {
    let setup = Setup::new()?;
    let server = ModelServer::start().await?;
    server.push(calls(&[
        call(
            "c1",
            "edit_file",
            json!({"path": "src/main.rs", "old": "    a + b\n", "new": "    a * b\n"}),
        ),
        call(
            "c2",
            "edit_file",
            json!({"path": "src/lib.rs", "old": "a - b", "new": "a / b"}),
        ),
        call(
            "c3",
            "create_file",
            json!({"path": "NOTES.md", "content": "notes\n"}),
        ),
    ]));
    server.push(Reply::text(Wire::OpenAi, &["never ", "sent"]).gated());
    let mut editor = setup.start(&server, json!({})).await?;
    let main = setup.uri("src/main.rs");
    let started = command(
        &mut editor,
        "tandem.task",
        json!({"instruction": "break things"}),
    )
    .await?;
    editor
        .notification("tandem/jobStep", |m| m["tool"] == "create_file")
        .await?;
    server.wait_for_requests(2).await;
    assert!(setup.path("NOTES.md").exists());
    assert_ne!(text_of(&editor, &main), MAIN);
    command(
        &mut editor,
        "tandem.cancel",
        json!({"jobId": started["jobId"]}),
    )
    .await?;
    let report = finished(&mut editor, &started["jobId"]).await?;
    assert_eq!(report["status"], "cancelled", "{report}");
    assert_eq!(text_of(&editor, &main), MAIN);
    assert_eq!(setup.read("src/lib.rs"), LIB);
    assert!(!setup.path("NOTES.md").exists());
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

/// A check that reads the file the task edits: it fails while `lib.rs` subtracts, passes once
/// it saturates. The scripted model runs it, reads the failure, fixes the file, runs it again.
#[tokio::test]
async fn a_check_that_fails_is_fed_back_and_the_next_step_fixes_it() -> anyhow::Result<()> {
    let setup = Setup::new()?;
    let server = ModelServer::start().await?;
    server.push(calls(&[call("c1", "run_check", json!({}))]));
    server.push(calls(&[call(
        "c2",
        "edit_file",
        json!({"path": "src/lib.rs", "old": "a - b", "new": "a.saturating_sub(b)"}),
    )]));
    server.push(calls(&[call("c3", "run_check", json!({}))]));
    server.push(Reply::text(Wire::OpenAi, &["Fixed the underflow."]));
    let check = json!([
        "sh",
        "-c",
        "if grep -q saturating_sub src/lib.rs; then echo all good; else echo 'src/lib.rs:2: may underflow' >&2; exit 3; fi"
    ]);
    let mut editor = setup
        .start(&server, json!({"agent": {"checkCommand": check}}))
        .await?;
    let started = command(
        &mut editor,
        "tandem.task",
        json!({"instruction": "fix the underflow"}),
    )
    .await?;
    let report = finished(&mut editor, &started["jobId"]).await?;
    assert_eq!(report["status"], "done", "{report}");
    let bodies: Vec<Value> = server.requests().into_iter().map(|r| r.body).collect();
    let offered = offered_tools(&bodies[0]);
    assert!(offered.contains(&"run_check"), "{offered:?}");
    let results = tool_results(&server);
    assert_eq!(results.len(), 3, "{results:?}");
    assert!(
        results[0].contains("3") && results[0].contains("may underflow"),
        "{}",
        results[0]
    );
    assert!(results[2].contains("all good"), "{}", results[2]);
    assert_eq!(
        setup.read("src/lib.rs"),
        LIB.replace("a - b", "a.saturating_sub(b)")
    );
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn without_a_check_command_run_check_is_not_offered() -> anyhow::Result<()> {
    let setup = Setup::new()?;
    let server = ModelServer::start().await?;
    server.push(Reply::text(Wire::OpenAi, &["Nothing to do."]));
    let mut editor = setup.start(&server, json!({})).await?;
    let started = command(
        &mut editor,
        "tandem.task",
        json!({"instruction": "nothing"}),
    )
    .await?;
    finished(&mut editor, &started["jobId"]).await?;
    let body = &server.requests()[0].body;
    let offered = offered_tools(body);
    assert_eq!(
        offered,
        [
            "read_file",
            "list_files",
            "search",
            "edit_file",
            "create_file"
        ]
    );
    assert!(Path::new(&setup.path("src/lib.rs")).exists());
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn in_preview_mode_every_change_lands_at_the_end_in_one_edit_with_one_annotation_per_file()
-> anyhow::Result<()> {
    let setup = Setup::new()?;
    let server = ModelServer::start().await?;
    server.push(calls(&[
        call(
            "c1",
            "edit_file",
            json!({"path": "src/main.rs", "old": "    a + b\n", "new": "    a.wrapping_add(b)\n"}),
        ),
        call(
            "c2",
            "edit_file",
            json!({"path": "src/lib.rs", "old": "a - b", "new": "a.wrapping_sub(b)"}),
        ),
        call("c3", "read_file", json!({"path": "src/lib.rs"})),
    ]));
    server.push(Reply::text(Wire::OpenAi, &["Wrapping now."]));
    let mut editor = setup
        .start(&server, json!({"edits": {"mode": "preview"}}))
        .await?;
    let main = setup.uri("src/main.rs");
    let started = command(&mut editor, "tandem.task", json!({"instruction": "wrap"})).await?;
    let report = finished(&mut editor, &started["jobId"]).await?;
    assert_eq!(report["status"], "done", "{report}");
    // The task read its own planned change before anything landed.
    let results = tool_results(&server);
    assert!(results[2].contains("a.wrapping_sub(b)"), "{}", results[2]);
    let edits = editor.take_requests("workspace/applyEdit");
    assert_eq!(edits.len(), 1, "{edits:?}");
    let edit = &edits[0]["edit"];
    let annotations = edit["changeAnnotations"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    assert_eq!(annotations.len(), 2, "{edit}");
    assert!(
        annotations.values().all(|a| a["needsConfirmation"] == true),
        "{edit}"
    );
    let ids: Vec<&str> = edit["documentChanges"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["edits"][0]["annotationId"].as_str())
        .collect();
    assert_eq!(ids.len(), 2, "{edit}");
    assert_ne!(ids[0], ids[1]);
    assert!(text_of(&editor, &main).contains("a.wrapping_add(b)"));
    assert_eq!(
        setup.read("src/lib.rs"),
        LIB.replace("a - b", "a.wrapping_sub(b)")
    );
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

/// The "Tandem: Task…" code action offered on `range` of `uri`, if any.
async fn task_action(
    editor: &mut Editor,
    uri: &str,
    range: &Value,
) -> anyhow::Result<Option<Value>> {
    let actions = editor
        .request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": uri}, "range": range, "context": {"diagnostics": []}}),
        )
        .await?
        .map_err(|e| anyhow::anyhow!("codeAction failed: {e}"))?;
    Ok(actions
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["title"] == "Tandem: Task…")
        .cloned())
}

/// "Tandem: Task…" is offered on a selection to a client with Tandem's plugin (it asks for the
/// instruction), not to a plain LSP client (it could not).
#[tokio::test]
async fn the_task_code_action_is_offered_on_a_selection_to_tandems_clients() -> anyhow::Result<()> {
    let setup = Setup::new()?;
    let main = setup.uri("src/main.rs");
    for plugin in [true, false] {
        let mut editor = Editor::spawn(SpawnOptions::default()).await?;
        let mut capabilities = json!({
            "textDocument": {"codeAction": {"codeActionLiteralSupport": {"codeActionKind": {"valueSet": ["", "quickfix", "refactor.rewrite"]}}}},
            "workspace": {"applyEdit": true},
        });
        if plugin {
            capabilities["experimental"] = json!({"tandem": {"jobFinished": true}});
        }
        editor
            .initialize_with(
                &[],
                json!({"rootUri": setup.uri(""), "capabilities": capabilities}),
            )
            .await?;
        editor.open(&main, "rust", 1, MAIN).await?;
        let selection =
            json!({"start": {"line": 4, "character": 0}, "end": {"line": 6, "character": 1}});
        let task = task_action(&mut editor, &main, &selection).await?;
        assert_eq!(task.is_some(), plugin, "{task:?}");
        if let Some(task) = task {
            assert_eq!(task["command"]["command"], "tandem.task", "{task}");
            assert_eq!(
                task["command"]["arguments"],
                json!([{"uri": main, "range": selection}])
            );
        }
        let empty =
            json!({"start": {"line": 5, "character": 4}, "end": {"line": 5, "character": 4}});
        let task = task_action(&mut editor, &main, &empty).await?;
        assert!(task.is_none(), "{task:?}");
        assert_eq!(editor.shutdown_and_exit().await?, 0);
    }
    Ok(())
}

/// A file changed while closed and again once the editor opened it, and a created file edited
/// once open: reject puts the first back whole (the user's typing elsewhere kept) and deletes
/// the second.
#[tokio::test]
async fn files_opened_between_two_changes_are_put_back_whole_and_created_ones_deleted()
-> anyhow::Result<()> {
    let setup = Setup::new()?;
    let server = ModelServer::start().await?;
    server.push(calls(&[
        call(
            "c1",
            "edit_file",
            json!({"path": "src/lib.rs", "old": "pub fn sub", "new": "pub fn minus"}),
        ),
        call(
            "c2",
            "create_file",
            json!({"path": "src/new.rs", "content": "// new\n"}),
        ),
    ]));
    server.push(
        calls(&[
            call("c3", "edit_file", json!({"path": "src/lib.rs", "old": "    a - b\n", "new": "    a.wrapping_sub(b)\n"})),
            call("c4", "edit_file", json!({"path": "src/new.rs", "old": "// new\n", "new": "// newer\n"})),
        ])
        .gated(),
    );
    server.push(Reply::text(Wire::OpenAi, &["Done."]));
    let mut editor = setup.start(&server, json!({})).await?;
    let started = command(&mut editor, "tandem.task", json!({"instruction": "rename"})).await?;
    editor
        .notification("tandem/jobStep", |m| m["tool"] == "create_file")
        .await?;
    server.wait_for_requests(2).await;
    // The editor opens both files the task wrote, as VS Code does, and the user types in one.
    let lib = setup.uri("src/lib.rs");
    let new = setup.uri("src/new.rs");
    editor
        .open(&lib, "rust", 1, &setup.read("src/lib.rs"))
        .await?;
    editor
        .open(&new, "rust", 1, &setup.read("src/new.rs"))
        .await?;
    let end = text_of(&editor, &lib).len();
    editor.type_at(&lib, end, end, "// mine\n").await?;
    // The server has read the opens and the typing before the task's next edits arrive: a
    // request answered after them says so (otherwise lib.rs may still be closed to the task,
    // which then edits the file on disk while the editor shows it).
    command(&mut editor, "tandem.status", json!({})).await?;
    server.release(1_000);
    let report = finished(&mut editor, &started["jobId"]).await?;
    assert_eq!(report["status"], "done", "{report}");
    assert_eq!(
        text_of(&editor, &lib),
        format!(
            "{}// mine\n",
            LIB.replace("pub fn sub", "pub fn minus")
                .replace("a - b", "a.wrapping_sub(b)")
        )
    );
    assert_eq!(text_of(&editor, &new), "// newer\n");
    command(
        &mut editor,
        "tandem.reject",
        json!({"jobId": started["jobId"]}),
    )
    .await?;
    assert_eq!(text_of(&editor, &lib), format!("{LIB}// mine\n"));
    assert!(
        !setup.path("src/new.rs").exists(),
        "the created file is still there"
    );
    assert!(editor.doc(&new).is_none(), "the created file is still open");
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}
