//! The token estimator: tiktoken counts, corrected by the usage providers report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use tandem::model::tokens::{TokenEstimator, context_window};

#[test]
fn counts_with_the_models_vocabulary() {
    let cases = [
        ("gpt-4o", "hello world", 2),
        ("gpt-4", "hello world", 2),
        ("qwen2.5-coder:7b", "fn main() { println!(\"hi\"); }", 9),
        ("claude-sonnet-4-5", "", 0),
    ];
    for (model, text, expected) in cases {
        assert_eq!(
            TokenEstimator::for_model(model).count_raw(text),
            expected,
            "{model}: {text:?}"
        );
    }
    // The two vocabularies differ, so the choice is visible.
    let text = "Ünïcödé 日本語のテキスト";
    assert_ne!(
        TokenEstimator::for_model("gpt-4").count_raw(text),
        TokenEstimator::for_model("gpt-4o").count_raw(text)
    );
}

#[test]
fn reported_usage_corrects_the_estimate() {
    let mut estimator = TokenEstimator::for_model("claude-sonnet-4-5");
    let prompt = "word ".repeat(100);
    let raw = estimator.count_raw(&prompt);
    assert_eq!(estimator.estimate(&prompt), raw);
    // The provider counted 50% more than we did, twice: the scale moves towards 1.5.
    estimator.observe(raw, (raw as u64 * 3) / 2);
    estimator.observe(raw, (raw as u64 * 3) / 2);
    assert!(
        (estimator.scale() - 1.375).abs() < 0.01,
        "{}",
        estimator.scale()
    );
    assert!(estimator.estimate(&prompt) > raw);
    // Nonsense reports move it only so far, and empty ones not at all.
    estimator.observe(raw, 1_000_000);
    assert!(estimator.scale() <= 2.7, "{}", estimator.scale());
    let before = estimator.scale();
    estimator.observe(0, 10);
    assert_eq!(estimator.scale(), before);
}

#[test]
fn known_context_windows() {
    assert_eq!(context_window("gpt-4o"), Some(128_000));
    assert_eq!(context_window("claude-3-5-haiku-latest"), Some(200_000));
    assert_eq!(context_window("qwen2.5-coder:7b"), None);
}
