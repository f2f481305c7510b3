//! End to end: hostile sources (generated here, not committed) do not take the server down.

use tandem_tests::editor::Editor;

#[tokio::test]
async fn errors_under_deep_nesting_are_reported_without_a_crash() -> anyhow::Result<()> {
    let (mut editor, _) = Editor::start(&["utf-16"]).await?;
    let depth = 10_000;
    let (open, close) = ("(".repeat(depth), ")".repeat(depth));
    let cases = [
        (
            "file:///w/deep.rs",
            "rust",
            format!("fn f() {{ let x = {open}1 +{close}; }}\n"),
        ),
        (
            "file:///w/deep.py",
            "python",
            format!("x = {open}1 +{close}\n"),
        ),
        (
            "file:///w/deep.js",
            "javascript",
            format!("let x = {open}1 +{close};\n"),
        ),
    ];
    for (uri, language, text) in &cases {
        editor.open(uri, language, 1, text).await?;
        let diagnostics = editor.diagnostics(uri, 1).await?;
        assert!(!diagnostics.is_empty(), "{language}: no syntax error");
        assert!(
            diagnostics.len() <= 100,
            "{language}: {}",
            diagnostics.len()
        );
    }
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}
