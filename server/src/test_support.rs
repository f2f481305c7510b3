//! What the crate's own tests share: how many property-test cases to run.

use proptest::test_runner::Config as ProptestConfig;

/// `default` cases, or `TANDEM_PROPTEST_CASES` for long runs (at most `cap`).
pub(crate) fn proptest_config(default: u32, cap: u32) -> ProptestConfig {
    let cases = std::env::var("TANDEM_PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse::<u32>().ok())
        .map_or(default, |cases| cases.min(cap));
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}
