//! One suggestion from the model: the endpoint's fill-in-the-middle, or a chat model asked for
//! the middle, streamed and shaped as it comes, and dropped as soon as its shape is complete.

use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use super::shape::{Cursor, shape};
use crate::model::{
    FimRequest, FimWire, ModelClient, ModelError, ModelEvent, fim::chat_answer, fim::chat_request,
};

/// Why no suggestion came.
#[derive(Debug)]
pub enum Failed {
    /// The request was cancelled (a newer one, `$/cancelRequest`).
    Cancelled,
    Model(ModelError),
}

/// The shaped suggestion for `request` at `at` (empty when the model had nothing worth
/// showing). `fim` is the endpoint's FIM wire, or `None` to ask its chat API. Cancelling
/// `cancel` drops the connection at once.
pub async fn fetch(
    client: &ModelClient,
    fim: Option<FimWire>,
    request: &FimRequest,
    at: &Cursor,
    cancel: CancellationToken,
) -> Result<String, Failed> {
    let mut stream = match fim {
        Some(wire) => client.fim(wire, request, cancel.clone()),
        None => client.stream(&chat_request(request), cancel.clone()),
    };
    let mut streamed = String::new();
    loop {
        let event = tokio::select! {
            () = cancel.cancelled() => return Err(Failed::Cancelled),
            event = stream.next() => event,
        };
        match event {
            Some(ModelEvent::TextDelta(delta)) => {
                streamed.push_str(&delta);
                if delta.contains('\n')
                    && let Some(middle) = middle_so_far(fim, &streamed)
                {
                    let shaped = shape(&middle, at, false);
                    if shaped.complete {
                        // Dropping the stream closes the connection: the model stops.
                        return Ok(shaped.text);
                    }
                }
            }
            Some(ModelEvent::Finished { .. }) => {
                return Ok(shape(&middle(fim, &streamed), at, true).text);
            }
            Some(ModelEvent::Error(error)) if cancel.is_cancelled() => {
                drop(error);
                return Err(Failed::Cancelled);
            }
            Some(ModelEvent::Error(error)) => return Err(Failed::Model(error)),
            Some(ModelEvent::Usage(_) | ModelEvent::ToolCall(_)) => {}
            None if cancel.is_cancelled() => return Err(Failed::Cancelled),
            None => return Ok(shape(&middle(fim, &streamed), at, true).text),
        }
    }
}

/// The middle while the answer streams; `None` while a chat model's answer is only the line
/// that opens its fence (the code, and so the shape, starts after it).
fn middle_so_far(fim: Option<FimWire>, streamed: &str) -> Option<String> {
    let answer = streamed.trim_start();
    if fim.is_none() && answer.starts_with("```") && answer.matches('\n').count() < 2 {
        return None;
    }
    Some(middle(fim, streamed))
}

/// The middle in what streamed: as it is from FIM, out of its fence from a chat model.
fn middle(fim: Option<FimWire>, streamed: &str) -> String {
    match fim {
        Some(_) => streamed.to_owned(),
        None => chat_answer(streamed),
    }
}
