//! Tests of the conversation's budget and of how steps are summed up.

use super::*;
use crate::model::{BadArguments, Message, Role, ToolCall};

fn call(id: &str) -> ToolCall {
    ToolCall {
        id: id.into(),
        name: "read_file".into(),
        arguments: Ok(serde_json::json!({"path": "src/a.rs"})),
    }
}

fn conversation(results: &[usize]) -> Vec<Message> {
    let mut messages = vec![Message::user("Add a delete endpoint.")];
    for (i, lines) in results.iter().enumerate() {
        let id = format!("c{i}");
        messages.push(Message::assistant_calls("", vec![call(&id)]));
        let text = (0..*lines)
            .map(|n| format!("{n}: let x = {n};\n"))
            .collect::<String>();
        messages.push(Message::tool_result(&call(&id), text, false));
    }
    messages
}

fn shortened_results(messages: &[Message]) -> Vec<bool> {
    messages
        .iter()
        .filter(|m| m.role == Role::Tool)
        .map(|m| m.content.starts_with("[output of "))
        .collect()
}

#[test]
fn the_oldest_tool_results_are_shortened_first_and_never_the_latest() {
    let estimator = TokenEstimator::for_model("gpt-4o");
    let cost = |messages: &[Message]| -> usize {
        messages
            .iter()
            .map(|m| estimator.estimate(&m.content) + 8)
            .sum()
    };
    let whole = cost(&conversation(&[200, 200, 200]));
    let result = whole - cost(&conversation(&[200, 200, 0]));
    let cases: Vec<(usize, [bool; 3])> = vec![
        (whole, [false, false, false]),
        (whole - result / 2, [true, false, false]),
        (whole - result - result / 2, [true, true, false]),
        (10, [true, true, false]),
    ];
    for (budget, want) in cases {
        let mut messages = conversation(&[200, 200, 200]);
        fit(&mut messages, &mut Vec::new(), budget, &estimator);
        assert_eq!(
            shortened_results(&messages),
            want,
            "budget {budget} of {whole}"
        );
        assert_eq!(messages[0].content, "Add a delete endpoint.");
        // A shortened result still answers its call, and says how to get it back.
        let first = &messages[2];
        assert_eq!(
            first.answers.as_ref().map(|a| a.call_id.as_str()),
            Some("c0")
        );
        if want[0] {
            assert!(first.content.contains("200 lines"), "{}", first.content);
        }
    }
}

#[test]
fn a_step_is_summed_up_by_its_first_line() {
    assert_eq!(
        summary(&Ok("1 | fn main() {\n2 | }".into())),
        "1 | fn main() {"
    );
    assert_eq!(
        summary(&Err("refused: .env is a secret file".into())),
        "failed: refused: .env is a secret file"
    );
    let long = "x".repeat(200);
    assert_eq!(summary(&Ok(long)).chars().count(), 81);
    let bad = BadArguments {
        raw: "{\"path\": ".into(),
        error: "EOF".into(),
    };
    assert!(summary(&Err(bad.to_string())).starts_with("failed: the arguments are not valid JSON"));
}

/// Counted once and kept: after each turn's fit, the kept counts are those of the messages as
/// they now are (shortened ones included), as a fresh count would give.
#[test]
fn kept_counts_follow_the_conversation_as_it_grows_and_is_shortened() {
    let estimator = TokenEstimator::for_model("gpt-4o");
    let full = conversation(&[200, 200, 200, 200]);
    let mut messages = Vec::new();
    let mut costs = Vec::new();
    for message in full {
        messages.push(message);
        fit(&mut messages, &mut costs, 3_000, &estimator);
        let fresh: Vec<usize> = messages
            .iter()
            .map(|m| estimator.estimate(&m.content) + 8)
            .collect();
        assert_eq!(costs, fresh);
    }
    assert!(shortened_results(&messages).iter().any(|s| *s));
}
