//! The protocol edge: the only module that knows LSP types and JSON-RPC.
//!
//! Layering: `lsp` → `workspace` → (`text`, `syntax`). Handlers apply notification state
//! synchronously, answer requests from snapshots, and never hold a lock across `.await`.

mod acp;
mod capabilities;
mod code_actions;
mod commands;
mod completion;
mod convert;
mod diagnostics;
mod features;
mod jobs;
mod learning;
mod progress;
mod rules;
mod server;
mod settings;
mod task;
pub mod transport;

use std::sync::Arc;
use std::time::Duration;

use tower_lsp_server::gen_lsp_types as lsp;
use tower_lsp_server::{LspService, Server};

pub use server::Backend;
pub use transport::Early;
use transport::InputEnd;

/// Requests handled at once. High, because one slow request must not hold up the others
/// (tower-lsp-server's default is 4).
const CONCURRENCY: usize = 64;
/// How long requests already read are still answered once the input ended.
const DRAIN: Duration = Duration::from_secs(2);

/// Answers the first message when it is `initialize`, with plain blocking I/O, before anything
/// else is started (see [`transport::answer_initialize`]). [`serve`] goes on from what it read.
pub fn answer_initialize_early<R: std::io::Read, W: std::io::Write>(
    stdin: &mut R,
    stdout: &mut W,
) -> Early {
    transport::answer_initialize(stdin, stdout, |request| {
        let params = serde_json::from_value::<lsp::InitializeParams>(request.params()?.clone());
        let caps = params.ok()?.capabilities;
        let encoding = convert::negotiate_encoding(
            caps.general
                .as_ref()
                .and_then(|g| g.position_encodings.as_deref()),
        );
        serde_json::to_value(capabilities::initialize_result(encoding)).ok()
    })
}

/// Serves LSP over the given streams until `exit` or end of input, after what `early` read and
/// answered. Returns the process exit code the spec asks for: 0 after `shutdown` then `exit`, 1
/// otherwise.
pub async fn serve<R, W>(stdin: R, stdout: W, early: Early) -> i32
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
    W: tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let guarded = transport::spawn(stdin, stdout, early);
    let mut state = None;
    let mut builder = LspService::build(|client| {
        let backend = Backend::new(client);
        state = Some(backend.state());
        backend
    })
    .custom_method(
        "window/workDoneProgress/cancel",
        Backend::work_done_progress_cancel,
    )
    .custom_method(transport::LOST_CHANGE, Backend::lost_change);
    if std::env::var_os("TANDEM_TEST_HOOKS").is_some_and(|v| v == "1") {
        builder = builder.custom_method("tandem/testPanic", Backend::test_panic);
    }
    let (service, socket) = builder.finish();
    let Some(state) = state else {
        tracing::error!("the LSP service did not build its backend");
        return 1;
    };
    let server = Server::new(guarded.input, guarded.output, socket).concurrency_level(CONCURRENCY);
    let mut ended = guarded.ended;
    let mut serving = Box::pin(server.serve(service));
    let mut finished = false;
    let end = tokio::select! {
        end = &mut ended => end.unwrap_or(InputEnd::Closed),
        () = &mut serving => {
            finished = true;
            // The framework stops on `exit`; the guard says so right after handing it over.
            tokio::time::timeout(Duration::from_millis(100), ended)
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or(InputEnd::Closed)
        }
    };
    if !finished {
        // The input ended (stdin closed, or `exit`): the framework still answers the requests it
        // was handed, `shutdown` sent in the same write as `exit` among them, for a while.
        let _ = tokio::time::timeout(DRAIN, &mut serving).await;
    }
    drop(serving);
    // Everything answered reaches stdout before the process ends.
    let _ = tokio::time::timeout(DRAIN, guarded.output_done).await;
    // The process exits without dropping what jobs still hold: the agent's group goes now.
    state.acp.kill();
    exit_code(end, &state)
}

fn exit_code(end: InputEnd, state: &Arc<server::State>) -> i32 {
    match end {
        InputEnd::Exit if state.shutdown_requested() => 0,
        InputEnd::Exit => {
            tracing::warn!("exit without shutdown");
            1
        }
        InputEnd::Closed => {
            tracing::info!("stdin closed");
            1
        }
    }
}
