//! The workspace's parsing policy: what is parsed when.

use std::time::Duration;

use super::*;

fn rust(i: usize) -> String {
    format!("fn f{i}() {{ let x = {i}; }}\n")
}

/// Waits until the worker has sent `n` syntax reports, and returns their documents.
async fn reports(
    events: &mut tokio::sync::mpsc::UnboundedReceiver<SyntaxEvent>,
    n: usize,
) -> Vec<DocUri> {
    let mut uris = Vec::new();
    while uris.len() < n {
        let event = tokio::time::timeout(Duration::from_secs(10), events.recv())
            .await
            .expect("a syntax report in time")
            .expect("the worker runs");
        let SyntaxEvent::Parsed(report) = event;
        uris.push(report.uri);
    }
    uris
}

#[tokio::test]
async fn of_many_documents_opened_only_the_last_is_parsed_until_one_is_needed() {
    let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let workspace = Workspace::new(WorkspaceOptions::default(), tx);
    let uri = |i: usize| -> DocUri { format!("file:///w/f{i}.rs").into() };
    for i in 0..50 {
        workspace.open(uri(i), "rust", 1, &rust(i));
    }
    assert_eq!(reports(&mut events, 1).await, [uri(49)]);
    assert_eq!(workspace.counts(), (50, 1), "one tree: the last opened");

    // A request on another parses it, and its errors are reported too.
    let snapshot = workspace.snapshot_with_syntax(&uri(7)).await.expect("open");
    assert!(snapshot.tree.is_some());
    assert_eq!(reports(&mut events, 1).await, [uri(7)]);

    // A change to a third parses it.
    workspace
        .change(
            &uri(3),
            2,
            &[TextChange {
                range: None,
                text: rust(33),
            }],
            PositionEncoding::Utf16,
        )
        .expect("applied");
    assert_eq!(reports(&mut events, 1).await, [uri(3)]);
    assert_eq!(workspace.counts(), (50, 3));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(events.try_recv().is_err(), "nothing else was parsed");
}
