//! `tandem doctor` through its library function, against the scripted server and a closed port.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use serde_json::json;
use tandem::config::Environment;
use tandem::doctor::{DoctorOptions, run, run_with};
use tandem::logging::Verbosity;
use tandem_tests::model_server::{ModelServer, Reply, Wire};

/// Inline completion through the model's own chat: the doctor has nothing more to ask (these
/// tests are about the model; `the_completion_endpoint_is_checked_too` is about completion).
const CHAT_COMPLETION: &str = "[completion]\nmode = \"chat\"\n";

fn options_with_user_file(dir: &Path, toml: &str, env: &[(&str, &str)]) -> DoctorOptions {
    let user = dir.join("config.toml");
    std::fs::write(&user, toml).unwrap();
    DoctorOptions {
        env: Environment::from_pairs(env.iter().copied()),
        user_config: Some(user),
        workspace_root: None,
        editor_settings: None,
    }
}

async fn doctor(options: &DoctorOptions) -> (i32, String) {
    let mut out = Vec::new();
    let code = run(options, &mut out).await;
    (code, String::from_utf8(out).unwrap())
}

#[tokio::test]
async fn a_listed_model_is_ready() {
    let server = ModelServer::start().await.unwrap();
    server.push(Reply::json(
        200,
        json!({"data": [{"id": "other"}, {"id": "test-model"}]}),
    ));
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "[model]\nprovider = \"openai\"\nbaseUrl = \"{}\"\nname = \"test-model\"\napiKeyEnv = \"MY_KEY\"\n{CHAT_COMPLETION}",
        server.base_url(Wire::OpenAi)
    );
    let options = options_with_user_file(dir.path(), &toml, &[("MY_KEY", "secret-value-42")]);
    let (code, report) = doctor(&options).await;
    assert_eq!(code, 0, "{report}");
    let user = dir.path().join("config.toml");
    assert!(
        report.contains(&format!(
            "model.name = \"test-model\"  (user file {})",
            user.display()
        )),
        "{report}"
    );
    assert!(
        report.contains("model.maxOutputTokens = 4096  (default)"),
        "{report}"
    );
    assert!(report.contains("$MY_KEY is set (value hidden)"), "{report}");
    assert!(report.contains("serves `test-model`"), "{report}");
    assert!(report.contains("The model answered"), "{report}");
    assert!(!report.contains("secret-value-42"));
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, "/v1/models");
    assert_eq!(
        requests[0].header("authorization"),
        Some("Bearer secret-value-42")
    );
}

#[tokio::test]
async fn an_unlisted_model_is_asked_for_one_token() {
    for wire in Wire::ALL {
        let server = ModelServer::start().await.unwrap();
        // No model list at this API, then a one-token answer.
        server.push(Reply::error(404, "no such route"));
        server.push(Reply::text(wire, &["ok"]));
        let dir = tempfile::tempdir().unwrap();
        let toml = format!(
            "[model]\nprovider = \"{}\"\nbaseUrl = \"{}\"\nname = \"test-model\"\n{CHAT_COMPLETION}",
            wire.provider(),
            server.base_url(wire)
        );
        let (code, report) = doctor(&options_with_user_file(dir.path(), &toml, &[])).await;
        assert_eq!(code, 0, "{wire:?}: {report}");
        assert!(report.contains("asking for one token"), "{report}");
        let requests = server.requests();
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[1].path, wire.path());
        let limit = match wire {
            Wire::OpenAi => &requests[1].body["max_tokens"],
            Wire::Responses => &requests[1].body["max_output_tokens"],
            Wire::Anthropic => &requests[1].body["max_tokens"],
            Wire::Ollama => &requests[1].body["options"]["num_predict"],
        };
        assert_eq!(limit, 1, "{wire:?}");
    }
}

#[tokio::test]
async fn a_missing_model_fails_and_lists_what_is_there() {
    let server = ModelServer::start().await.unwrap();
    server.push(Reply::json(
        200,
        json!({"models": [{"name": "llama3:8b"}, {"name": "qwen2.5-coder:7b"}]}),
    ));
    server.push(Reply::error(
        404,
        "{\"error\":\"model \\\"test-model\\\" not found, try pulling it first\"}",
    ));
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "[model]\nprovider = \"ollama\"\nbaseUrl = \"{}\"\nname = \"test-model\"\n",
        server.url()
    );
    let (code, report) = doctor(&options_with_user_file(dir.path(), &toml, &[])).await;
    assert_eq!(code, 1, "{report}");
    assert!(
        report
            .contains("`test-model` is not in its list of 2 models (llama3:8b, qwen2.5-coder:7b)"),
        "{report}"
    );
    assert!(report.contains("ollama pull test-model"), "{report}");
}

#[tokio::test]
async fn a_closed_port_fails_with_the_url() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let toml = format!("[model]\nprovider = \"ollama\"\nbaseUrl = \"http://127.0.0.1:{port}\"\n");
    let (code, report) = doctor(&options_with_user_file(dir.path(), &toml, &[])).await;
    assert_eq!(code, 1, "{report}");
    assert!(
        report.contains(&format!(
            "model request to http://127.0.0.1:{port}/api/tags failed: could not connect"
        )),
        "{report}"
    );
    assert!(report.contains("Is Ollama running"), "{report}");
    assert!(report.contains("cannot be reached"), "{report}");
}

#[tokio::test]
async fn a_missing_key_and_bad_settings_are_reported() {
    let server = ModelServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "[model]\nprovider = \"anthropic\"\nbaseUrl = \"{}\"\napiKeyEnv = \"ANTHROPIC_API_KEY\"\ntemprature = 1\n",
        server.base_url(Wire::Anthropic)
    );
    let (code, report) = doctor(&options_with_user_file(dir.path(), &toml, &[])).await;
    assert_eq!(code, 1, "{report}");
    assert!(report.contains("$ANTHROPIC_API_KEY is NOT set"), "{report}");
    assert!(
        report.contains("warning: unknown setting `model.temprature`"),
        "{report}"
    );
    assert!(
        report.contains("the environment variable $ANTHROPIC_API_KEY is not set"),
        "{report}"
    );
    assert!(server.requests().is_empty(), "no request without a key");
}

#[tokio::test]
async fn the_workspace_file_wins_over_the_user_file() {
    let server = ModelServer::start().await.unwrap();
    server.push(Reply::json(200, json!({"data": [{"id": "ws-model"}]})));
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("project");
    std::fs::create_dir_all(root.join(".tandem")).unwrap();
    let workspace = root.join(".tandem").join("config.toml");
    std::fs::write(
        &workspace,
        format!(
            "[model]\nname = \"ws-model\"\nbaseUrl = \"{}\"\n",
            server.base_url(Wire::OpenAi)
        ),
    )
    .unwrap();
    let mut options = options_with_user_file(
        dir.path(),
        &format!("[model]\nprovider = \"openai\"\nname = \"user-model\"\n{CHAT_COMPLETION}"),
        &[],
    );
    options.workspace_root = Some(root);
    let (code, report) = doctor(&options).await;
    assert_eq!(code, 0, "{report}");
    assert!(
        report.contains(&format!(
            "model.name = \"ws-model\"  (workspace file {})",
            workspace.display()
        )),
        "{report}"
    );
}

/// One run of the doctor at some verbosity, and its whole report.
struct Said {
    verbosity: Verbosity,
    /// The user file's `[model]` lines after `baseUrl` (`{url}` is the scripted server's).
    toml: &'static str,
    replies: fn() -> Vec<Reply>,
    code: i32,
    /// The report (quiet: all of it; else a part), `{url}` standing for the server's base URL
    /// and `{file}` for the user file.
    report: &'static str,
}

fn twenty_models() -> Vec<Reply> {
    let models: Vec<_> = (0..20).map(|i| json!({"id": format!("m{i}")})).collect();
    vec![
        Reply::json(200, json!({ "data": models })),
        Reply::text(Wire::OpenAi, &["ok"]),
    ]
}

/// Quiet says one line (after any problem in the settings); verbose lists every model, where
/// the usual report stops at twelve.
#[tokio::test]
async fn quiet_says_one_line_and_verbose_lists_every_model() {
    let listed = || vec![Reply::json(200, json!({"data": [{"id": "test-model"}]}))];
    let cases = [
        Said {
            verbosity: Verbosity::Quiet,
            toml: "name = \"test-model\"\n",
            replies: listed,
            code: 0,
            report: "ok: openai at {url} answered for `test-model`: Tandem is ready.\n",
        },
        Said {
            verbosity: Verbosity::Quiet,
            toml: "name = \"test-model\"\ntemprature = 1\n",
            replies: listed,
            code: 0,
            report: "Problems in the settings:\n  warning: unknown setting `model.temprature` in user file {file} is ignored\nok: openai at {url} answered for `test-model`: Tandem is ready.\n",
        },
        Said {
            verbosity: Verbosity::Quiet,
            toml: "name = \"test-model\"\n",
            replies: || vec![Reply::error(401, "bad key")],
            code: 1,
            report: "failed: model request to {url}/models failed: the endpoint wants an API key (HTTP 401: bad key). Set model.apiKeyEnv to the environment variable that holds your key.\n",
        },
        Said {
            verbosity: Verbosity::Verbose,
            toml: "name = \"test-model\"\n",
            replies: twenty_models,
            code: 0,
            report: "m10, m11, m12, m13, m14, m15, m16, m17, m18, m19)\n",
        },
        Said {
            verbosity: Verbosity::Normal,
            toml: "name = \"test-model\"\n",
            replies: twenty_models,
            code: 0,
            report: "m9, m10, m11, …)\n",
        },
    ];
    for case in cases {
        let server = ModelServer::start().await.unwrap();
        for reply in (case.replies)() {
            server.push(reply);
        }
        let url = server.base_url(Wire::OpenAi);
        let dir = tempfile::tempdir().unwrap();
        let toml = format!(
            "[model]\nprovider = \"openai\"\nbaseUrl = \"{url}\"\n{}{CHAT_COMPLETION}",
            case.toml
        );
        let options = options_with_user_file(dir.path(), &toml, &[]);
        let mut out = Vec::new();
        let code = run_with(&options, case.verbosity, &mut out).await;
        let report = String::from_utf8(out).unwrap();
        let user = dir.path().join("config.toml");
        let expected = case
            .report
            .replace("{url}", &url)
            .replace("{file}", &user.display().to_string());
        assert_eq!(code, case.code, "{:?}: {report}", case.verbosity);
        if case.verbosity == Verbosity::Quiet {
            assert_eq!(report, expected, "{:?}", case.verbosity);
        } else {
            assert!(report.contains(&expected), "{:?}: {report}", case.verbosity);
        }
    }
}

/// A completion endpoint other than the model's own chat gets one fill-in-the-middle request;
/// one without FIM fails the doctor, saying so; completion off is not asked.
#[tokio::test]
async fn the_completion_endpoint_is_checked_too() {
    use tandem::model::FimWire;
    use tandem_tests::model_fim;
    let cases: [(&str, Vec<Reply>, i32, &str); 3] = [
        (
            "",
            vec![Reply::fim(FimWire::OpenAiCompletions, &["a"])],
            0,
            "ok: the completion endpoint answered",
        ),
        (
            "",
            vec![Reply::error(404, "no such route")],
            1,
            "Inline completion will show no suggestions until this is fixed",
        ),
        ("enabled = false\n", vec![], 0, "Inline completion is off"),
    ];
    for (extra, replies, code, said) in cases {
        let server = ModelServer::start().await.unwrap();
        server.push(Reply::json(200, json!({"data": [{"id": "test-model"}]})));
        for reply in replies {
            server.push(reply);
        }
        let dir = tempfile::tempdir().unwrap();
        let toml = format!(
            "[model]\nprovider = \"openai\"\nbaseUrl = \"{}\"\nname = \"test-model\"\n[completion]\nname = \"coder\"\n{extra}",
            server.base_url(Wire::OpenAi)
        );
        let (got, report) = doctor(&options_with_user_file(dir.path(), &toml, &[])).await;
        assert_eq!(got, code, "{extra:?}: {report}");
        assert!(report.contains(said), "{extra:?}: {report}");
        let requests = server.requests();
        if extra.is_empty() {
            assert_eq!(requests.len(), 2, "{report}");
            assert_eq!(
                requests[1].path,
                model_fim::path(FimWire::OpenAiCompletions)
            );
            assert_eq!(requests[1].body["model"], "coder");
            assert_eq!(requests[1].body["max_tokens"], 1);
        } else {
            assert_eq!(requests.len(), 1, "{report}");
        }
    }
}
