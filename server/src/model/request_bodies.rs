//! Unit tests of the request bodies' optional parts: a whole rewrite's prediction (sent only
//! where the endpoint takes it) and the cache breakpoints (marked only for Anthropic).

use serde_json::{Value, json};

use super::{
    Endpoint, Message, ModelRequest, PredictedOutputs, Provider, ToolSpec, anthropic, ollama,
    openai, responses,
};

const REGION: &str = "fn add(a: u32, b: u32) -> u32 {\n    a - b\n}\n";

fn body(endpoint: &Endpoint, request: &ModelRequest) -> Value {
    match endpoint.provider {
        Provider::OpenAi => openai::body(endpoint, request),
        Provider::OpenAiResponses => responses::body(endpoint, request),
        Provider::Anthropic => anthropic::body(endpoint, request),
        Provider::Ollama => ollama::body(endpoint, request),
    }
}

fn rewrite(tools: bool) -> ModelRequest {
    ModelRequest {
        system: Some("Rewrite it.".into()),
        messages: vec![Message::user("The TARGET")],
        max_output_tokens: None,
        tools: if tools {
            vec![ToolSpec {
                name: "read_file".into(),
                description: "Reads a file.".into(),
                parameters: json!({"type": "object"}),
            }]
        } else {
            Vec::new()
        },
        prediction: Some(REGION.into()),
    }
}

/// What the body says about the prediction and the output limit, in a few words.
fn sent(body: &Value) -> String {
    let mut said = Vec::new();
    if let Some(prediction) = body.get("prediction") {
        assert_eq!(
            prediction,
            &json!({"type": "content", "content": REGION}),
            "{body}"
        );
        said.push("prediction");
    } else {
        // Nowhere else either: no provider carries it under another name.
        assert!(!body.to_string().contains("a - b"), "{body}");
    }
    for limit in ["max_tokens", "max_completion_tokens", "max_output_tokens"] {
        if body.get(limit).is_some() {
            said.push(limit);
        }
    }
    if body.pointer("/options/num_predict").is_some() {
        said.push("num_predict");
    }
    if !said
        .iter()
        .any(|s| s.starts_with("max_") || *s == "num_predict")
    {
        said.push("no limit");
    }
    said.join(", ")
}

#[test]
fn the_prediction_goes_only_where_the_endpoint_takes_it() {
    use PredictedOutputs::{Auto, Off, On};
    use Provider::{Anthropic, Ollama, OpenAi, OpenAiResponses};
    let openai = "https://api.openai.com/v1";
    let local = "http://127.0.0.1:8000/v1";
    #[rustfmt::skip]
    let cases: &[(Provider, &str, &str, PredictedOutputs, bool, &str)] = &[
        // provider, base URL, model, setting, tools offered, what is sent
        (OpenAi, openai, "gpt-4.1", Auto, false, "prediction, no limit"),
        (OpenAi, openai, "gpt-4.1-mini", Auto, false, "prediction, no limit"),
        (OpenAi, openai, "gpt-4.1-nano-2025-04-14", Auto, false, "prediction, no limit"),
        (OpenAi, openai, "gpt-4o", Auto, false, "prediction, no limit"),
        (OpenAi, "https://api.openai.com/v1/", "GPT-4o-mini", Auto, false, "prediction, no limit"),
        (OpenAi, openai, "gpt-4o-audio-preview", Auto, false, "max_completion_tokens"),
        (OpenAi, openai, "gpt-4o-search-preview", Auto, false, "max_completion_tokens"),
        (OpenAi, openai, "o3-mini", Auto, false, "max_completion_tokens"),
        (OpenAi, openai, "gpt-5", Auto, false, "max_completion_tokens"),
        (OpenAi, openai, "gpt-4.1", Off, false, "max_completion_tokens"),
        (OpenAi, openai, "gpt-4.1", On, false, "prediction, no limit"),
        (OpenAi, openai, "gpt-4.1", Auto, true, "max_completion_tokens"),
        (OpenAi, openai, "gpt-4.1", On, true, "max_completion_tokens"),
        // vLLM, llama.cpp and the like: only when the setting says so.
        (OpenAi, local, "gpt-4.1", Auto, false, "max_tokens"),
        (OpenAi, local, "qwen2.5-coder", Auto, false, "max_tokens"),
        (OpenAi, "https://api.openai.com.example.net/v1", "gpt-4.1", Auto, false, "max_completion_tokens"),
        (OpenAi, local, "qwen2.5-coder", On, false, "prediction, max_tokens"),
        (OpenAi, local, "qwen2.5-coder", Off, false, "max_tokens"),
        // The other APIs have no such field, whatever the setting.
        (OpenAiResponses, openai, "gpt-4.1", Auto, false, "max_output_tokens"),
        (OpenAiResponses, openai, "gpt-4.1", On, false, "max_output_tokens"),
        (Anthropic, "https://api.anthropic.com/v1", "claude-sonnet-4-5", On, false, "max_tokens"),
        (Anthropic, "https://api.anthropic.com/v1", "claude-sonnet-4-5", Auto, false, "max_tokens"),
        (Ollama, "http://127.0.0.1:11434", "qwen2.5-coder:7b", On, false, "num_predict"),
        (Ollama, "http://127.0.0.1:11434", "qwen2.5-coder:7b", Auto, false, "num_predict"),
    ];
    for &(provider, base_url, model, setting, tools, expected) in cases {
        let mut endpoint = Endpoint::new(provider, base_url, model);
        endpoint.predicted_outputs = setting;
        let body = body(&endpoint, &rewrite(tools));
        assert_eq!(
            sent(&body),
            expected,
            "{provider} {base_url} {model} {setting:?} tools: {tools}"
        );
    }
}

#[test]
fn a_request_without_a_prediction_sends_none_and_keeps_its_limit() {
    let mut endpoint = Endpoint::new(Provider::OpenAi, "https://api.openai.com/v1", "gpt-4.1");
    endpoint.predicted_outputs = PredictedOutputs::On;
    let request = ModelRequest {
        prediction: None,
        ..rewrite(false)
    };
    assert_eq!(sent(&body(&endpoint, &request)), "max_completion_tokens");
}

fn cached_request(message: Message) -> ModelRequest {
    ModelRequest {
        system: Some("You are Tandem.".into()),
        messages: vec![message, Message::assistant("ok"), Message::user("again")],
        max_output_tokens: None,
        tools: Vec::new(),
        prediction: None,
    }
}

#[test]
fn anthropic_marks_the_system_prompt_and_the_end_of_the_stable_part() {
    let endpoint = Endpoint::new(
        Provider::Anthropic,
        "https://api.anthropic.com/v1",
        "claude-sonnet-4-5",
    );
    let message = Message::user_with_stable_prefix("Rules: be brief.\n", "The TARGET\n");
    let body = anthropic::body(&endpoint, &cached_request(message));
    assert_eq!(
        body["system"],
        json!([{"type": "text", "text": "You are Tandem.", "cache_control": {"type": "ephemeral"}}])
    );
    assert_eq!(
        body["messages"],
        json!([
            {"role": "user", "content": [
                {"type": "text", "text": "Rules: be brief.\n", "cache_control": {"type": "ephemeral"}},
                {"type": "text", "text": "The TARGET\n"},
            ]},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "again"},
        ])
    );
}

#[test]
fn a_message_without_a_usable_breakpoint_is_sent_whole() {
    let endpoint = Endpoint::new(
        Provider::Anthropic,
        "https://api.anthropic.com/v1",
        "claude-sonnet-4-5",
    );
    let mut inside_a_character = Message::user("é");
    inside_a_character.cache_breakpoint = Some(1);
    let mut past_the_end = Message::user("short");
    past_the_end.cache_breakpoint = Some(99);
    let cases = [
        Message::user_with_stable_prefix("", "only changing"),
        Message::user_with_stable_prefix("only stable", ""),
        inside_a_character,
        past_the_end,
        Message::user("plain"),
    ];
    for message in cases {
        let content = message.content.clone();
        let body = anthropic::body(&endpoint, &cached_request(message));
        assert_eq!(body["messages"][0]["content"], json!(content), "{body}");
    }
}

#[test]
fn the_other_apis_get_the_message_byte_for_byte_and_no_marker() {
    let message = Message::user_with_stable_prefix("Rules: be brief.\n", "The TARGET\n");
    let whole = "Rules: be brief.\nThe TARGET\n";
    for (provider, base_url) in [
        (Provider::OpenAi, "https://api.openai.com/v1"),
        (Provider::OpenAi, "http://127.0.0.1:8000/v1"),
        (Provider::OpenAiResponses, "https://api.openai.com/v1"),
        (Provider::Ollama, "http://127.0.0.1:11434"),
    ] {
        let endpoint = Endpoint::new(provider, base_url, "m");
        let body = body(&endpoint, &cached_request(message.clone()));
        let user = match provider {
            Provider::OpenAiResponses => &body["input"][0],
            // The system prompt comes first.
            _ => &body["messages"][1],
        };
        assert_eq!(
            user,
            &json!({"role": "user", "content": whole}),
            "{provider}"
        );
        assert!(!body.to_string().contains("cache_control"), "{body}");
    }
}
