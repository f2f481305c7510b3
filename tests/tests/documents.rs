//! End to end: open/change/close, syntax diagnostics with versions, symbols and hover.

#![allow(
    clippy::unwrap_used,
    reason = "a test that unwraps wrong fails, which is the point"
)]

use serde_json::{Value, json};
use tandem_tests::editor::Editor;

const RUST: &str = "file:///work/src/lib.rs";

fn messages(diagnostics: &[Value]) -> Vec<String> {
    diagnostics
        .iter()
        .map(|d| d["message"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn diagnostics_appear_and_clear_with_the_right_version() -> anyhow::Result<()> {
    let (mut editor, _) = Editor::start(&[]).await?;
    editor
        .open(RUST, "rust", 1, "fn main() {\n    let x = 1\n}\n")
        .await?;
    let found = editor.diagnostics(RUST, 1).await?;
    assert_eq!(messages(&found), ["expected `;`"]);
    assert_eq!(found[0]["source"], "tandem");
    assert_eq!(found[0]["severity"], 1);
    assert_eq!(
        found[0]["range"]["start"],
        json!({"line": 1, "character": 13})
    );

    // Fix it: insert the semicolon.
    editor.change(RUST, 2, (1, 13), (1, 13), ";").await?;
    assert!(editor.diagnostics(RUST, 2).await?.is_empty());

    // Break it again, with a version that jumps (Neovim's changedticks do).
    editor.change(RUST, 7, (0, 10), (0, 11), "").await?;
    assert!(!editor.diagnostics(RUST, 7).await?.is_empty());

    // Closing clears what was published.
    editor
        .notify(
            "textDocument/didClose",
            json!({"textDocument": {"uri": RUST}}),
        )
        .await?;
    let cleared = editor
        .notification("textDocument/publishDiagnostics", |p| {
            p["uri"] == RUST && p["version"].is_null()
        })
        .await?;
    assert_eq!(cleared["diagnostics"], json!([]));
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

/// Positions of diagnostics and edits follow the negotiated encoding.
#[tokio::test]
async fn positions_follow_each_encoding() -> anyhow::Result<()> {
    // "😀" is 4 bytes in utf-8, 2 units in utf-16, 1 in utf-32; "中" is 3, 1, 1.
    let text = "fn f() {\n    let s = \"😀中\"; let t = 2\n}\n";
    for (encoding, missing_at, after_emoji) in
        [("utf-8", 32, 17), ("utf-16", 28, 15), ("utf-32", 27, 14)]
    {
        let (mut editor, result) = Editor::start(&[encoding]).await?;
        assert_eq!(result["capabilities"]["positionEncoding"], encoding);
        editor.open(RUST, "rust", 1, text).await?;
        let found = editor.diagnostics(RUST, 1).await?;
        assert_eq!(messages(&found), ["expected `;`"], "{encoding}");
        assert_eq!(
            found[0]["range"]["start"]["character"], missing_at,
            "{encoding}"
        );
        // Insert right after the emoji; then break the first line so the fix shows on line 1.
        editor
            .change(RUST, 2, (1, after_emoji), (1, after_emoji), "x")
            .await?;
        let found = editor.diagnostics(RUST, 2).await?;
        assert_eq!(
            found[0]["range"]["start"]["character"],
            missing_at + 1,
            "{encoding}"
        );
        editor
            .change(RUST, 3, (1, missing_at + 1), (1, missing_at + 1), ";")
            .await?;
        assert!(editor.diagnostics(RUST, 3).await?.is_empty(), "{encoding}");
        assert_eq!(editor.shutdown_and_exit().await?, 0);
    }
    Ok(())
}

#[tokio::test]
async fn a_stale_change_marks_the_document_out_of_sync_until_full_text() -> anyhow::Result<()> {
    let (mut editor, _) = Editor::start(&[]).await?;
    editor.open(RUST, "rust", 5, "fn a() {}\n").await?;
    assert!(editor.diagnostics(RUST, 5).await?.is_empty());
    // Version 4 does not increase past 5: refused, never applied.
    editor.change(RUST, 4, (0, 0), (0, 0), "garbage(").await?;
    let warning = editor
        .notification("window/logMessage", |p| {
            p["message"]
                .as_str()
                .is_some_and(|m| m.contains("out of sync"))
        })
        .await?;
    assert_eq!(warning["type"], 2);
    // Incremental changes stay refused while out of sync.
    editor
        .change(RUST, 6, (0, 0), (0, 0), "fn b() {}\n")
        .await?;
    let symbols = editor
        .request(
            "textDocument/documentSymbol",
            json!({"textDocument": {"uri": RUST}}),
        )
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!(symbols.as_array().map(Vec::len), Some(1), "{symbols}");
    // The full text brings it back.
    editor.change_full(RUST, 7, "fn c() {}\nfn d(\n").await?;
    assert_eq!(messages(&editor.diagnostics(RUST, 7).await?).len(), 1);
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

/// Every request sees the changes sent before it: notifications are applied in order.
#[tokio::test]
async fn requests_see_every_change_sent_before_them() -> anyhow::Result<()> {
    let (mut editor, _) = Editor::start(&[]).await?;
    editor.open(RUST, "rust", 1, "").await?;
    for i in 0..40u32 {
        let line = format!("fn f{i}() {{}}\n");
        editor
            .change(RUST, i as i32 + 2, (i, 0), (i, 0), &line)
            .await?;
        let symbols = editor
            .request(
                "textDocument/documentSymbol",
                json!({"textDocument": {"uri": RUST}}),
            )
            .await?
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let count = symbols.as_array().map_or(0, Vec::len);
        assert_eq!(count, i as usize + 1, "after change {i}: {symbols}");
    }
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

fn symbol_names(symbols: &Value, out: &mut Vec<String>, prefix: &str) {
    for s in symbols.as_array().into_iter().flatten() {
        let name = format!("{prefix}{}", s["name"].as_str().unwrap_or_default());
        out.push(name.clone());
        symbol_names(&s["children"], out, &format!("{name}::"));
    }
}

#[tokio::test]
async fn document_symbols_in_every_language() -> anyhow::Result<()> {
    let cases: &[(&str, &str, &str, &[&str])] = &[
        (
            "file:///w/a.rs",
            "rust",
            "/// A point.\nstruct Point { x: i32 }\nimpl Point {\n    fn norm(&self) -> i32 { self.x }\n}\nfn main() {}\n",
            &["Point", "Point::x", "Point", "Point::norm", "main"],
        ),
        (
            "file:///w/a.py",
            "python",
            "class Shape:\n    def area(self):\n        return 0\n\ndef main():\n    pass\n",
            &["Shape", "Shape::area", "main"],
        ),
        (
            "file:///w/a.js",
            "javascript",
            "class Cart {\n  total() { return 0; }\n}\nfunction main() {}\n",
            &["Cart", "Cart::total", "main"],
        ),
        (
            "file:///w/a.ts",
            "typescript",
            "interface Shape { area(): number }\nclass Box implements Shape {\n  area(): number { return 1; }\n}\nfunction main(): void {}\n",
            &["Shape", "Shape::area", "Box", "Box::area", "main"],
        ),
        (
            "file:///w/a.go",
            "go",
            "package main\n\ntype Point struct { X int }\n\nfunc (p Point) Norm() int { return p.X }\n\nfunc main() {}\n",
            &["Point", "Point::X", "Norm", "main"],
        ),
    ];
    let (mut editor, _) = Editor::start(&[]).await?;
    for (uri, language, text, want) in cases {
        editor.open(uri, language, 1, text).await?;
        let symbols = editor
            .request(
                "textDocument/documentSymbol",
                json!({"textDocument": {"uri": uri}}),
            )
            .await?
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut names = Vec::new();
        symbol_names(&symbols, &mut names, "");
        assert_eq!(&names, want, "{language}: {symbols}");
    }
    // A language without a grammar is plain text: no symbols, no error.
    editor
        .open("file:///w/notes.txt", "plaintext", 1, "hello")
        .await?;
    let symbols = editor
        .request(
            "textDocument/documentSymbol",
            json!({"textDocument": {"uri": "file:///w/notes.txt"}}),
        )
        .await?;
    assert_eq!(symbols, Ok(json!([])));
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn hover_shows_kind_signature_and_doc() -> anyhow::Result<()> {
    let (mut editor, _) = Editor::start(&[]).await?;
    let text = "/// Adds two numbers.\npub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n";
    editor.open(RUST, "rust", 1, text).await?;
    let hover = editor
        .request(
            "textDocument/hover",
            json!({"textDocument": {"uri": RUST}, "position": {"line": 2, "character": 4}}),
        )
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!(hover["contents"]["kind"], "markdown");
    let value = hover["contents"]["value"].as_str().unwrap_or_default();
    assert!(
        value.contains("pub fn add(a: i32, b: i32) -> i32"),
        "{value}"
    );
    assert!(value.contains("*function* `add`"), "{value}");
    assert!(value.contains("Adds two numbers."), "{value}");
    assert_eq!(hover["range"]["start"], json!({"line": 1, "character": 7}));
    // Outside any item: no hover.
    editor.change(RUST, 2, (4, 0), (4, 0), "\n\n").await?;
    let none = editor
        .request(
            "textDocument/hover",
            json!({"textDocument": {"uri": RUST}, "position": {"line": 5, "character": 0}}),
        )
        .await?;
    assert_eq!(none, Ok(Value::Null));
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}

/// An outline holds at most 20,000 symbols, the first in document order, children included: a
/// file of 25,000 functions in 100 modules gets the first 80 modules and the 20,000 symbols in
/// them, not an answer of megabytes that would hold up every answer behind it.
#[tokio::test]
async fn an_outline_is_cut_at_20_000_symbols_in_document_order() -> anyhow::Result<()> {
    let (mut editor, _) = Editor::start(&[]).await?;
    let mut text = String::new();
    for m in 0..100 {
        text.push_str(&format!("mod m{m} {{\n"));
        for f in 0..249 {
            text.push_str(&format!("    fn f{f}() {{}}\n"));
        }
        text.push_str("}\n");
    }
    editor.open(RUST, "rust", 1, &text).await?;
    let symbols = editor
        .request(
            "textDocument/documentSymbol",
            json!({"textDocument": {"uri": RUST}}),
        )
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let modules = symbols.as_array().cloned().unwrap_or_default();
    let count: usize = modules
        .iter()
        .map(|m| 1 + m["children"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(count, 20_000);
    assert_eq!(modules.len(), 80);
    assert_eq!(modules[0]["name"], "m0");
    assert_eq!(modules[79]["name"], "m79");
    assert_eq!(modules[79]["children"][248]["name"], "f248");
    assert_eq!(editor.shutdown_and_exit().await?, 0);
    Ok(())
}
