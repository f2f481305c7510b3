//! End to end: the workspace's store and the learning loop. Hover explanations survive a restart;
//! a database that cannot be read leaves the server serving, and says so once; corrections of
//! the agent's text become a proposed rule that, approved, lands in `.tandem/rules.md` and in
//! every later prompt.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use tandem_tests::editor::{EditBehavior, Editor, SpawnOptions};
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
        self.start_with(server, json!({})).await
    }

    /// As [`Self::start`], with `settings` merged into the settings object.
    async fn start_with(&self, server: &ModelServer, settings: Value) -> anyhow::Result<Editor> {
        let mut editor = Editor::spawn(SpawnOptions {
            env: vec![(
                "XDG_STATE_HOME".into(),
                self.state_home.path().display().to_string(),
            )],
            ..SpawnOptions::default()
        })
        .await?;
        // The edits of jobs are applied, as VS Code applies them.
        editor.edits = EditBehavior::VsCode;
        let mut options = json!({"model": {"provider": "openai", "baseUrl": server.base_url(Wire::OpenAi), "name": "test-model"}});
        if let (Some(options), Some(settings)) = (options.as_object_mut(), settings.as_object()) {
            options.extend(settings.clone());
        }
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
        json!({"signals": 0, "proposals": 0, "explanations": 1, "completions": 0})
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
        json!({"signals": 0, "proposals": 0, "explanations": 0, "completions": 0})
    );
    assert!(
        paused_warnings(&mut editor).is_empty(),
        "told more than once"
    );
    assert_eq!(std::fs::read(&database)?, garbage, "the file was changed");
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

/// A new workspace, a scripted model and a server on them with `settings`, its store open;
/// the URI of `main.rs`, open in the editor.
async fn learning(settings: Value) -> anyhow::Result<(Setup, ModelServer, Editor, String)> {
    let setup = Setup::new()?;
    let server = ModelServer::start().await?;
    let mut editor = setup.start_with(&server, settings).await?;
    let uri = setup.uri();
    store_status(&mut editor).await?;
    Ok((setup, server, editor, uri))
}

async fn command(editor: &mut Editor, name: &str, argument: Value) -> anyhow::Result<Value> {
    editor
        .request(
            "workspace/executeCommand",
            json!({"command": name, "arguments": [argument]}),
        )
        .await?
        .map_err(|e| anyhow::anyhow!("{name}: {e}"))
}

/// The model's answer to `tandem.edit` of `line`: that line rewritten to call `unwrap`.
fn unwrapping(name: &str) -> String {
    format!("```rust\nfn {name}() -> u8 {{ read().unwrap() }}\n```\n")
}

/// Runs `tandem.edit` on `line` of `main.rs` with the model answering `unwrapping(name)`, and
/// waits for it to be done; returns the job.
async fn edit_line(
    editor: &mut Editor,
    server: &ModelServer,
    uri: &str,
    line: u32,
    name: &str,
) -> anyhow::Result<Value> {
    server.push(Reply::text(Wire::OpenAi, &[&unwrapping(name)]));
    let range =
        json!({"start": {"line": line, "character": 0}, "end": {"line": line + 1, "character": 0}});
    let job = command(
        editor,
        "tandem.edit",
        json!({"uri": uri, "range": range, "instruction": "read it"}),
    )
    .await?["jobId"]
        .clone();
    let done = editor
        .notification("tandem/jobFinished", |p| p["jobId"] == job)
        .await?;
    assert_eq!(done["status"], "done", "{done}");
    Ok(job)
}

/// The user replaces the first `.unwrap()` in the document with `?` and saves.
async fn correct_and_save(editor: &mut Editor, uri: &str) -> anyhow::Result<()> {
    let text = editor.doc(uri).expect("the document is open").text.clone();
    let at = text.find(".unwrap()").expect("the agent's unwrap");
    editor.type_at(uri, at, at + ".unwrap()".len(), "?").await?;
    editor
        .notify(
            "textDocument/didSave",
            json!({"textDocument": {"uri": uri}}),
        )
        .await?;
    Ok(())
}

const RULE: &str = "Return errors with `?` instead of calling `.unwrap()`.";

#[tokio::test]
async fn two_corrections_make_a_rule_that_approved_lands_in_rules_md_and_later_prompts()
-> anyhow::Result<()> {
    let (setup, server, mut editor, uri) = learning(json!({})).await?;

    edit_line(&mut editor, &server, &uri, 1, "add").await?;
    correct_and_save(&mut editor, &uri).await?;
    // One correction is not enough evidence (learn.minEvidence is 2): nothing is asked.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(server.requests().len(), 1);

    edit_line(&mut editor, &server, &uri, 2, "sub").await?;
    server.push(Reply::text(Wire::OpenAi, &[RULE]));
    correct_and_save(&mut editor, &uri).await?;
    let proposed = editor.notification("tandem/ruleProposed", |_| true).await?;
    assert_eq!(proposed["text"], RULE, "{proposed}");
    assert_eq!(proposed["evidence"].as_array().map(Vec::len), Some(2));
    let asked = server.requests()[2].body.to_string();
    for diff in [
        "-fn add() -> u8 { read().unwrap() }",
        "+fn add() -> u8 { read()? }",
        "-fn sub() -> u8 { read().unwrap() }",
        "+fn sub() -> u8 { read()? }",
    ] {
        assert!(asked.contains(diff), "{diff} not in {asked}");
    }
    let rules = command(&mut editor, "tandem.rules", json!({})).await?;
    assert_eq!(rules["proposed"][0]["id"], proposed["id"], "{rules}");
    assert_eq!(rules["approved"], json!([]));

    let approved = command(
        &mut editor,
        "tandem.rules.approve",
        json!({"id": proposed["id"]}),
    )
    .await?;
    assert_eq!(approved["text"], RULE);
    let file = setup.root.path().join(".tandem/rules.md");
    assert_eq!(std::fs::read_to_string(&file)?, format!("- {RULE}\n"));
    let rules = command(&mut editor, "tandem.rules", json!({})).await?;
    assert_eq!(rules["proposed"], json!([]), "{rules}");
    assert_eq!(rules["approved"], json!([{"text": RULE, "scope": null}]));
    // Approved once: approving again is refused.
    let again = editor
        .request(
            "workspace/executeCommand",
            json!({"command": "tandem.rules.approve", "arguments": [{"id": proposed["id"]}]}),
        )
        .await?;
    assert!(again.is_err(), "{again:?}");

    // The next job's prompt carries the rule.
    server.push(Reply::text(Wire::OpenAi, &["It adds."]));
    let range = json!({"start": {"line": 1, "character": 0}, "end": {"line": 2, "character": 0}});
    let job = command(
        &mut editor,
        "tandem.explain",
        json!({"uri": uri, "range": range}),
    )
    .await?["jobId"]
        .clone();
    editor
        .notification("tandem/jobFinished", |p| p["jobId"] == job)
        .await?;
    let prompt = server.requests()[3].body.to_string();
    assert!(prompt.contains(RULE), "{prompt}");
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn a_rejection_with_a_reason_is_evidence_and_a_rejected_rule_is_not_proposed_again()
-> anyhow::Result<()> {
    let (setup, server, mut editor, uri) = learning(json!({"learn": {"minEvidence": 1}})).await?;

    let job = edit_line(&mut editor, &server, &uri, 1, "add").await?;
    server.push(Reply::text(Wire::OpenAi, &[RULE]));
    command(
        &mut editor,
        "tandem.reject",
        json!({"jobId": job, "reason": "we never unwrap"}),
    )
    .await?;
    assert_eq!(
        editor.doc(&uri).unwrap().text,
        SOURCE,
        "the reject put the text back"
    );
    let proposed = editor.notification("tandem/ruleProposed", |_| true).await?;
    let asked = server.requests()[1].body.to_string();
    assert!(
        asked.contains("Rejected, because: we never unwrap"),
        "{asked}"
    );
    command(
        &mut editor,
        "tandem.rules.reject",
        json!({"id": proposed["id"]}),
    )
    .await?;

    // The same rule again, from new evidence: not proposed; the request names it as decided.
    let job = edit_line(&mut editor, &server, &uri, 2, "sub").await?;
    server.push(Reply::text(
        Wire::OpenAi,
        &["Return errors with ? instead of calling unwrap"],
    ));
    command(
        &mut editor,
        "tandem.reject",
        json!({"jobId": job, "reason": "no unwrap here either"}),
    )
    .await?;
    server.wait_for_requests(4).await;
    let asked = server.requests()[3].body.to_string();
    assert!(asked.contains(&format!("- {RULE}")), "{asked}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(editor.take_notifications("tandem/ruleProposed").is_empty());
    let rules = command(&mut editor, "tandem.rules", json!({})).await?;
    assert_eq!(rules["proposed"], json!([]), "{rules}");
    assert!(!setup.root.path().join(".tandem/rules.md").exists());
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

/// Runs `tandem.edit` on the first function and rejects it with `reason`: one correction.
/// `answer` is what the model answers next (a question about a rule), if it is asked.
async fn reject_with_reason(
    editor: &mut Editor,
    server: &ModelServer,
    uri: &str,
    reason: &str,
    answer: Option<&str>,
) -> anyhow::Result<()> {
    let job = edit_line(editor, server, uri, 1, "add").await?;
    if let Some(answer) = answer {
        server.push(Reply::text(Wire::OpenAi, &[answer]));
    }
    command(
        editor,
        "tandem.reject",
        json!({"jobId": job, "reason": reason}),
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn after_no_common_rule_the_model_is_asked_again_once_min_evidence_more_corrections_came()
-> anyhow::Result<()> {
    let (_setup, server, mut editor, uri) = learning(json!({})).await?;
    let quiet = || tokio::time::sleep(Duration::from_millis(300));

    // Two corrections (learn.minEvidence): the model is asked, and finds no common rule.
    reject_with_reason(&mut editor, &server, &uri, "too long", None).await?;
    reject_with_reason(&mut editor, &server, &uri, "wrong name", Some("NONE")).await?;
    server.wait_for_requests(3).await;
    quiet().await;
    assert_eq!(server.requests().len(), 3, "two edits and one question");

    // A third is not enough to ask about nearly the same evidence again.
    reject_with_reason(&mut editor, &server, &uri, "we never unwrap", None).await?;
    quiet().await;
    assert_eq!(server.requests().len(), 4, "the third edit, no question");

    // A fourth is: all four go to the model, and its rule is proposed.
    reject_with_reason(&mut editor, &server, &uri, "no unwrap", Some(RULE)).await?;
    let proposed = editor.notification("tandem/ruleProposed", |_| true).await?;
    assert_eq!(proposed["evidence"].as_array().map(Vec::len), Some(4));
    let asked = server.requests()[5].body.to_string();
    for reason in ["too long", "wrong name", "we never unwrap", "no unwrap"] {
        assert!(asked.contains(reason), "{reason} not in {asked}");
    }

    // `tandem.rules.propose` asks at once, whatever was asked before.
    reject_with_reason(&mut editor, &server, &uri, "again", None).await?;
    quiet().await;
    assert_eq!(server.requests().len(), 7, "one correction since the rule");
    server.push(Reply::text(Wire::OpenAi, &["NONE"]));
    command(&mut editor, "tandem.rules.propose", json!({})).await?;
    assert_eq!(server.requests().len(), 8, "{:?}", server.requests().last());
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn with_learning_off_nothing_is_recorded_and_forget_deletes_the_store() -> anyhow::Result<()>
{
    let (setup, server, mut editor, uri) =
        learning(json!({"learn": {"enabled": false, "minEvidence": 1}})).await?;
    edit_line(&mut editor, &server, &uri, 1, "add").await?;
    correct_and_save(&mut editor, &uri).await?;
    let job = edit_line(&mut editor, &server, &uri, 2, "sub").await?;
    command(
        &mut editor,
        "tandem.reject",
        json!({"jobId": job, "reason": "no"}),
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        server.requests().len(),
        2,
        "only the two jobs asked the model"
    );
    let store = store_status(&mut editor).await?;
    assert_eq!(store["counts"]["signals"], 0, "{store}");
    // Nothing was recorded, so there is no file at all.
    assert_eq!(store["state"], "none", "{store}");
    assert!(!setup.database().exists());

    // A hover explanation is kept even so, which makes the file; `tandem.rules.forget` deletes
    // it.
    server.push(Reply::text(Wire::OpenAi, &["Reads a byte."]));
    hover(&mut editor, &uri, 1).await?;
    let store = store_status(&mut editor).await?;
    assert_eq!(store["state"], "open", "{store}");
    assert!(setup.database().exists());
    command(&mut editor, "tandem.rules.forget", json!({})).await?;
    assert!(!setup.database().exists());
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn corrections_from_before_a_restart_still_count() -> anyhow::Result<()> {
    let (setup, server, mut editor, uri) = learning(json!({})).await?;
    edit_line(&mut editor, &server, &uri, 1, "add").await?;
    correct_and_save(&mut editor, &uri).await?;
    assert_eq!(editor.shutdown_and_exit().await?, 0);

    // A new server on the same workspace: its first correction makes two with the one before.
    let mut editor = setup.start(&server).await?;
    let store = store_status(&mut editor).await?;
    assert_eq!(store["counts"]["signals"], 1, "{store}");
    edit_line(&mut editor, &server, &uri, 2, "sub").await?;
    server.push(Reply::text(Wire::OpenAi, &[RULE]));
    correct_and_save(&mut editor, &uri).await?;
    let proposed = editor.notification("tandem/ruleProposed", |_| true).await?;
    let paths: Vec<&str> = proposed["evidence"]
        .as_array()
        .map(|e| e.iter().filter_map(|e| e["diff"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(paths.len(), 2, "{proposed}");
    assert!(
        paths
            .iter()
            .any(|d| d.contains("+fn add() -> u8 { read()? }")),
        "{proposed}"
    );
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

/// A review of `main.rs` whose two findings are published; returns their diagnostics.
async fn review(
    editor: &mut Editor,
    server: &ModelServer,
    uri: &str,
) -> anyhow::Result<Vec<Value>> {
    let findings = r#"[
  {"start_line": 2, "end_line": 2, "severity": "warning", "message": "Overflow is possible: use checked_add."},
  {"start_line": 3, "severity": "hint", "message": "Name it subtract."}
]"#;
    server.push(Reply::text(Wire::OpenAi, &[findings]));
    let job = command(editor, "tandem.review", json!({"uri": uri})).await?["jobId"].clone();
    editor
        .notification("tandem/jobFinished", |p| p["jobId"] == job)
        .await?;
    let published = editor
        .notification("textDocument/publishDiagnostics", |p| {
            p["uri"] == uri && p["diagnostics"].as_array().is_some_and(|d| d.len() == 2)
        })
        .await?;
    Ok(published["diagnostics"]
        .as_array()
        .cloned()
        .unwrap_or_default())
}

#[tokio::test]
async fn review_findings_fixed_or_dismissed_are_signals_and_a_dismissal_with_a_reason_evidence()
-> anyhow::Result<()> {
    let (_setup, server, mut editor, uri) = learning(json!({"learn": {"minEvidence": 1}})).await?;
    let found = review(&mut editor, &server, &uri).await?;

    // The user edits the first finding's line: fixed. No correction, no rule request.
    let text = editor.doc(&uri).expect("open").text.clone();
    let at = text.find("a + b").expect("the add body");
    editor
        .type_at(&uri, at, at + 5, "a.saturating_add(b)")
        .await?;
    // Dismissed with a reason: evidence for a rule about reviews.
    server.push(Reply::text(
        Wire::OpenAi,
        &["Do not ask to rename short functions."],
    ));
    let finding = found[1]["data"]["findingId"].clone();
    command(
        &mut editor,
        "tandem.dismiss",
        json!({"uri": uri, "findingId": finding, "reason": "sub is the name we use"}),
    )
    .await?;
    let proposed = editor.notification("tandem/ruleProposed", |_| true).await?;
    assert_eq!(proposed["text"], "Do not ask to rename short functions.");
    assert_eq!(
        proposed["evidence"][0]["finding"], "Name it subtract.",
        "{proposed}"
    );
    let asked = server.requests()[1].body.to_string();
    assert!(
        asked.contains("A review finding the user dismissed: Name it subtract.")
            && asked.contains("Rejected, because: sub is the name we use"),
        "{asked}"
    );
    let store = store_status(&mut editor).await?;
    assert_eq!(
        store["counts"]["signals"], 2,
        "one fixed, one dismissed: {store}"
    );
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn a_rule_asked_for_at_once_is_approved_reworded_into_the_open_rules_buffer()
-> anyhow::Result<()> {
    let (setup, server, mut editor, uri) = learning(json!({})).await?;
    // No corrections yet: nothing to ask about.
    let none = command(&mut editor, "tandem.rules.propose", json!({})).await?;
    assert_eq!(none, Value::Null);
    assert!(server.requests().is_empty());

    // One correction (learn.minEvidence is 2): asked at once all the same.
    edit_line(&mut editor, &server, &uri, 1, "add").await?;
    correct_and_save(&mut editor, &uri).await?;
    server.push(Reply::text(Wire::OpenAi, &[RULE]));
    let proposal = command(&mut editor, "tandem.rules.propose", json!({})).await?;
    assert_eq!(proposal["text"], RULE, "{proposal}");

    // The rules file is open, with a rule the team wrote: the approved one joins it there.
    let rules_uri = format!("file://{}/.tandem/rules.md", setup.root.path().display());
    editor
        .open(
            &rules_uri,
            "markdown",
            1,
            "# Rules\n\n- Keep functions short.\n",
        )
        .await?;
    let approved = command(
        &mut editor,
        "tandem.rules.approve",
        json!({"id": proposal["id"], "text": "Use `?` for errors."}),
    )
    .await?;
    assert_eq!(approved["text"], "Use `?` for errors.");
    assert_eq!(
        editor.doc(&rules_uri).expect("open").text,
        "# Rules\n\n- Keep functions short.\n- Use `?` for errors.\n"
    );
    let rules = command(&mut editor, "tandem.rules", json!({})).await?;
    assert_eq!(
        rules["approved"],
        json!([
            {"text": "Keep functions short.", "scope": null},
            {"text": "Use `?` for errors.", "scope": null}
        ])
    );
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}
