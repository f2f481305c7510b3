//! The API key never appears in logs, error messages or `Debug` output: a test greps for it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use tandem::config::{ConfigStore, Environment};
use tandem::model::{ApiKey, Message, ModelClient, ModelEvent, ModelRequest};
use tandem_tests::model_server::{ModelServer, Reply, Wire, collect};
use tokio_util::sync::CancellationToken;

const KEY: &str = "sk-test-SECRET-4f9a1b2c7d";

/// Everything logged, at every level, from tracing and from the `log` crate (reqwest, hyper).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

fn capture_logs() -> Captured {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber)
        .expect("the only subscriber in this test binary");
    tracing_log::LogTracer::init().expect("the only log tracer in this test binary");
    captured
}

fn request() -> ModelRequest {
    ModelRequest {
        system: None,
        messages: vec![Message::user("hi")],
        max_output_tokens: None,
        tools: Vec::new(),
        prediction: None,
    }
}

#[tokio::test]
async fn the_key_never_appears_in_logs_errors_or_debug_output() {
    let logs = capture_logs();
    let mut seen = String::new();
    let server = ModelServer::start().await.unwrap();

    for wire in Wire::ALL {
        let mut endpoint = server.endpoint(wire);
        endpoint.api_key = Some(ApiKey::new(KEY));
        endpoint.api_key_env = Some("TEST_API_KEY".into());
        seen.push_str(&format!("{endpoint:?}\n"));
        let client = ModelClient::new(endpoint).unwrap();
        seen.push_str(&format!("{client:?}\n"));

        // A server that echoes the key back, in an error body and inside a stream.
        server.push(Reply::error(
            401,
            &format!("{{\"error\":{{\"message\":\"Incorrect API key provided: {KEY}\"}}}}"),
        ));
        server.push(Reply::error(503, &format!("upstream rejected {KEY}")));
        server.push(Reply::error(503, &format!("upstream rejected {KEY}")));
        server.push(Reply::error(503, &format!("upstream rejected {KEY}")));
        let mut with_key = wire.render(&["ok"], None);
        with_key.insert(1, wire.malformed().into_iter().chain(KEY.bytes()).collect());
        server.push(Reply::stream(wire, with_key));
        server.push(Reply::text(wire, &["fine"]));
        for _ in 0..4 {
            for event in collect(client.stream(&request(), CancellationToken::new())).await {
                if let ModelEvent::Error(error) = &event {
                    seen.push_str(&format!("{error}\n{error:?}\n"));
                }
                seen.push_str(&format!("{event:?}\n"));
            }
        }
    }
    // The key really was sent, so the test would notice a transport that leaked it.
    let sent = server.requests();
    assert!(
        sent.iter()
            .any(|r| r.header("authorization") == Some(&format!("Bearer {KEY}")))
    );
    assert!(sent.iter().any(|r| r.header("x-api-key") == Some(KEY)));

    // Settings, the store and the doctor's report, with the key in the environment.
    let env = Environment::from_pairs([("OPENAI_API_KEY", KEY), ("HOME", "/nonexistent")]);
    seen.push_str(&format!("{env:?}\n"));
    let (store, messages) = ConfigStore::load(env.clone(), None);
    seen.push_str(&format!(
        "{store:?}\n{messages:?}\n{}\n",
        serde_json::to_string(store.settings()).unwrap()
    ));
    seen.push_str(&format!("{:?}\n", store.settings().model.endpoint(&env)));
    let dir = tempfile::tempdir().unwrap();
    let user_file = dir.path().join("config.toml");
    let base_url = server.base_url(Wire::OpenAi);
    std::fs::write(
        &user_file,
        format!("[model]\nprovider = \"openai\"\nbaseUrl = \"{base_url}\"\nname = \"test-model\"\napiKeyEnv = \"TEST_API_KEY\"\n"),
    )
    .unwrap();
    server.push(Reply::error(401, &format!("bad key {KEY}")));
    let options = tandem::doctor::DoctorOptions {
        env: Environment::from_pairs([("OPENAI_API_KEY", KEY), ("TEST_API_KEY", KEY)]),
        user_config: Some(user_file),
        workspace_root: None,
        editor_settings: None,
    };
    let mut report = Vec::new();
    assert_eq!(tandem::doctor::run(&options, &mut report).await, 1);
    seen.push_str(&String::from_utf8_lossy(&report));

    let logged = logs.text();
    assert!(
        logged.contains("model request"),
        "the capture works: {logged}"
    );
    assert!(
        logged.contains("retrying model request"),
        "retries were logged: {logged}"
    );
    assert!(
        seen.contains("<redacted>"),
        "echoed keys were scrubbed, not dropped"
    );
    assert!(
        !logged.contains(KEY),
        "the key leaked into the logs:\n{logged}"
    );
    assert!(!seen.contains(KEY), "the key leaked:\n{seen}");
}

/// A key echoed with `/` escaped as `\/`, or inside a malformed chunk where the error's
/// 80-character excerpt cuts it, is scrubbed too: neither it nor its start shows.
#[tokio::test]
async fn an_escaped_or_cut_key_is_scrubbed_too() {
    const SLASHED: &str = "sk-live/Ab12+Cd34/Ef56";
    let server = ModelServer::start().await.unwrap();
    let mut endpoint = server.endpoint(Wire::OpenAi);
    endpoint.api_key = Some(ApiKey::new(SLASHED));
    let client = ModelClient::new(endpoint).unwrap();
    let escaped = SLASHED.replace('/', "\\/");
    server.push(Reply::error(
        401,
        &format!("{{\"error\":{{\"message\":\"Incorrect API key provided: {escaped}\"}}}}"),
    ));
    // The chunk's text is excerpted to 80 characters: the key starts at its 70th.
    let mut chunk = b"data: {\"choices\": [{\"delta\": oops ".to_vec();
    chunk.resize(69, b'x');
    chunk.extend_from_slice(SLASHED.as_bytes());
    chunk.extend_from_slice(b"\n\n");
    let mut stream = Wire::OpenAi.render(&["ok"], None);
    stream.insert(1, chunk);
    server.push(Reply::stream(Wire::OpenAi, stream));
    let mut seen = String::new();
    for _ in 0..2 {
        for event in collect(client.stream(&request(), CancellationToken::new())).await {
            if let ModelEvent::Error(error) = &event {
                seen.push_str(&format!("{error}\n{error:?}\n"));
            }
        }
    }
    assert_eq!(seen.matches("<redacted>").count(), 4, "{seen}");
    assert!(!seen.contains("sk-l"), "a start of the key leaked:\n{seen}");
    assert!(!seen.contains("Ef56"), "an end of the key leaked:\n{seen}");
}
