//! What the crate's own tests share: how many property-test cases to run, writing fixture files.

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

/// Writes `text` to `root/rel`, making its folders.
pub(crate) fn write_file(root: &std::path::Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}
