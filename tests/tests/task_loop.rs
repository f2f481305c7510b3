//! The task loop against the scripted model, with tools that answer from a table: it runs the
//! calls in order and sends their outputs back, a broken call becomes an error the model reads,
//! and it ends at the model's summary, at the step limit, at the time limit, or when cancelled.

use std::sync::Mutex;
use std::time::Duration;

use tandem::agent::task::conversation::{Limits, Step, TaskEnd, TaskTools, ToolOutput, run};
use tandem::model::{Message, ModelClient, ToolCall, ToolSpec};
use tandem_tests::model_server::{ModelServer, Reply, Wire};
use tandem_tests::model_tools::ScriptedCall;
use tokio_util::sync::CancellationToken;

/// Tools that answer `read_file` with the file's name and refuse `.env`; every call is kept.
#[derive(Default)]
struct Table {
    calls: Mutex<Vec<String>>,
}

impl TaskTools for Table {
    fn specs(&self) -> Vec<ToolSpec> {
        vec![ToolSpec {
            name: "read_file".into(),
            description: "Reads a file.".into(),
            parameters: serde_json::json!({"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}),
        }]
    }

    async fn call(&self, call: &ToolCall) -> ToolOutput {
        let path = call
            .arguments
            .as_ref()
            .ok()
            .and_then(|a| a["path"].as_str())
            .unwrap_or_default()
            .to_owned();
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(path.clone());
        if path == ".env" {
            Err("refused: .env is a secret file".into())
        } else {
            Ok(format!("1 | // {path}"))
        }
    }
}

const LIMITS: Limits = Limits {
    max_steps: 3,
    timeout: Duration::from_secs(30),
    budget_tokens: 100_000,
};

fn read(id: &str, path: &str) -> ScriptedCall {
    ScriptedCall::new(id, "read_file", &format!("{{\"path\": \"{path}\"}}"))
}

async fn task(
    server: &ModelServer,
    limits: Limits,
    cancel: &CancellationToken,
) -> (TaskEnd, Vec<Step>, Vec<String>) {
    let client = ModelClient::new(server.endpoint(Wire::OpenAi)).expect("a client");
    let tools = Table::default();
    let mut steps = Vec::new();
    let end = run(
        &client,
        "You are a coding agent.",
        Message::user("Fix the panic."),
        &tools,
        limits,
        cancel,
        |step| steps.push(step.clone()),
    )
    .await;
    let calls = tools.calls.into_inner().unwrap_or_else(|e| e.into_inner());
    (end, steps, calls)
}

#[tokio::test]
async fn calls_run_in_order_their_outputs_go_back_and_the_summary_ends_it() {
    let server = ModelServer::start().await.expect("a model server");
    server.push(Reply::tool_calls(
        Wire::OpenAi,
        &["Reading."],
        &[read("c1", "src/a.rs"), read("c2", ".env")],
    ));
    server.push(Reply::tool_calls(
        Wire::OpenAi,
        &[],
        &[ScriptedCall::new("c3", "read_file", "{\"path\": \"src/b")],
    ));
    server.push(Reply::text(Wire::OpenAi, &["Fixed the panic in src/a.rs."]));
    let (end, steps, calls) = task(&server, LIMITS, &CancellationToken::new()).await;
    assert_eq!(end, TaskEnd::Done("Fixed the panic in src/a.rs.".into()));
    assert_eq!(calls, ["src/a.rs", ".env"], "the broken call is not run");
    let seen: Vec<(u32, Option<&str>, &str)> = steps
        .iter()
        .map(|s| (s.step, s.path.as_deref(), s.summary.as_str()))
        .collect();
    assert_eq!(seen[0], (1, Some("src/a.rs"), "1 | // src/a.rs"));
    assert_eq!(
        seen[1],
        (1, Some(".env"), "failed: refused: .env is a secret file")
    );
    assert!(
        seen[2]
            .2
            .starts_with("failed: the arguments are not valid JSON"),
        "{seen:?}"
    );
    // Each turn sent back what the tools said, answering its call.
    let second = server.requests()[1].body.to_string();
    assert!(
        second.contains("1 | // src/a.rs") && second.contains("refused: .env is a secret file"),
        "{second}"
    );
    assert!(second.contains("\"tool_call_id\":\"c2\""), "{second}");
    let third = server.requests()[2].body.to_string();
    assert!(third.contains("not valid JSON"), "{third}");
}

#[tokio::test]
async fn the_step_limit_ends_a_task_that_keeps_calling() {
    let server = ModelServer::start().await.expect("a model server");
    for n in 0..5 {
        server.push(Reply::tool_calls(
            Wire::OpenAi,
            &[],
            &[read(&format!("c{n}"), "src/a.rs")],
        ));
    }
    let limits = Limits {
        max_steps: 2,
        ..LIMITS
    };
    let (end, steps, _) = task(&server, limits, &CancellationToken::new()).await;
    assert_eq!(end, TaskEnd::StepLimit(2));
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert_eq!(
        server.requests().len(),
        3,
        "the third answer still called a tool"
    );
}

#[tokio::test]
async fn the_time_limit_and_cancel_end_a_task_whose_model_is_slow() {
    let server = ModelServer::start().await.expect("a model server");
    server.push(Reply::text(Wire::OpenAi, &["never"]).gated());
    let limits = Limits {
        timeout: Duration::from_millis(300),
        ..LIMITS
    };
    let (end, _, _) = task(&server, limits, &CancellationToken::new()).await;
    assert_eq!(end, TaskEnd::TimedOut(Duration::from_millis(300)));

    server.push(Reply::text(Wire::OpenAi, &["never"]).gated());
    let cancel = CancellationToken::new();
    let later = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        later.cancel();
    });
    let (end, _, _) = task(&server, LIMITS, &cancel).await;
    assert_eq!(end, TaskEnd::Cancelled);
}
