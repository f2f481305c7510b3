//! One message checked as the framework will decode it, and the answers to what it refuses.

use serde::Deserialize;
use serde_json::value::RawValue;
use tower_lsp_server::jsonrpc;

#[derive(Debug, PartialEq, Eq)]
pub(super) enum MessageKind {
    Exit,
    /// A `shutdown` request, with its id as JSON.
    Shutdown(String),
    Other,
}

pub(super) struct Refusal {
    pub(super) message: String,
    /// The error answer to send.
    pub(super) reply: String,
    /// What the framework gets instead, if anything: for a `didChange` it cannot decode,
    /// [`LOST_CHANGE`], so the document is marked out of sync instead of silently lagging.
    pub(super) forward: Option<String>,
}

/// The notification the guard sends the server in place of a `didChange` it refused, with
/// `{uri, version}` as params.
pub const LOST_CHANGE: &str = "$/tandem/lostChange";

/// What a `didChange` the framework cannot decode still says, read leniently.
#[derive(Deserialize)]
struct LostChange {
    method: String,
    params: LostChangeParams,
}

#[derive(Deserialize)]
struct LostChangeParams {
    #[serde(rename = "textDocument")]
    text_document: LostChangeDocument,
}

#[derive(Deserialize)]
struct LostChangeDocument {
    uri: String,
    version: i32,
}

/// The [`LOST_CHANGE`] notification for a refused body, when it is a `didChange` notification
/// whose document can still be read.
fn lost_change(text: &str) -> Option<String> {
    let change = serde_json::from_str::<LostChange>(text).ok()?;
    if change.method != "textDocument/didChange" || usable_id(text).is_some() {
        return None;
    }
    let doc = change.params.text_document;
    let note = serde_json::json!({
        "jsonrpc": "2.0",
        "method": LOST_CHANGE,
        "params": {"uri": doc.uri, "version": doc.version},
    });
    Some(note.to_string())
}

/// tower-lsp-server's own message type, spelled exactly as it spells it (its `Message` is
/// private): decoding with this type accepts exactly what the framework's decoder accepts, with
/// the same serde and serde_json, so nothing it would reject ever reaches it.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum FrameworkMessage {
    Response(#[allow(dead_code, reason = "decoded only to be checked")] jsonrpc::Response),
    Request(jsonrpc::Request),
}

/// Just the `id` of a message the framework cannot decode, read leniently (the rest is skipped
/// unchecked), so that the error can name the request it answers.
#[derive(Deserialize)]
struct IdOnly<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
}

/// The id of a body as it should appear in an error answer, when it has a usable one.
fn usable_id(text: &str) -> Option<String> {
    let raw = serde_json::from_str::<IdOnly<'_>>(text).ok()?.id?;
    let id = serde_json::from_str::<jsonrpc::Id>(raw.get()).ok()?;
    serde_json::to_string(&id).ok()
}

/// Checks that a body is one JSON-RPC 2.0 message the framework will decode, and one it
/// will answer: what it would reject or leave unanswered is answered here instead.
pub(super) fn check_message(body: &[u8]) -> Result<MessageKind, Refusal> {
    let Ok(text) = std::str::from_utf8(body) else {
        return Err(Refusal {
            message: "message body is not UTF-8".into(),
            reply: error_reply(None, -32700, "message body is not UTF-8"),
            forward: None,
        });
    };
    let request = match serde_json::from_str::<FrameworkMessage>(text) {
        Ok(FrameworkMessage::Response(_)) => return Ok(MessageKind::Other),
        Ok(FrameworkMessage::Request(request)) => request,
        Err(err) => {
            // The framework's own mapping: a body that parses but is not a message is an
            // invalid request; anything else (bad syntax, a lone surrogate, nesting past 128,
            // a number out of range, a truncated body) is a parse error.
            let (code, why) = if err.is_data() {
                (-32600, format!("not a JSON-RPC 2.0 message: {err}"))
            } else {
                (-32700, format!("malformed JSON: {err}"))
            };
            let id = usable_id(text);
            return Err(Refusal {
                reply: error_reply(id.as_deref(), code, &why),
                message: why,
                forward: lost_change(text),
            });
        }
    };
    let id = request.id().and_then(|id| serde_json::to_string(id).ok());
    let method = request.method();
    if method.is_empty() {
        let why = "message has neither a method nor a result";
        return Err(Refusal {
            message: why.into(),
            reply: error_reply(id.as_deref(), -32600, why),
            forward: None,
        });
    }
    if method.starts_with("$/") && id.is_some() {
        // The framework drops every `$/` request it has no handler for, unanswered; the
        // spec asks for MethodNotFound. We handle no `$/` request.
        let why = format!("unknown method {method}");
        return Err(Refusal {
            reply: error_reply(id.as_deref(), -32601, &why),
            message: why,
            forward: None,
        });
    }
    // The framework stops reading at `exit`, with an id or without.
    Ok(match (method, id) {
        ("exit", _) => MessageKind::Exit,
        ("shutdown", Some(id)) => MessageKind::Shutdown(id),
        _ => MessageKind::Other,
    })
}

/// A JSON-RPC error response, as sent on the wire.
pub(super) fn error_reply(id: Option<&str>, code: i64, message: &str) -> String {
    let message = serde_json::Value::String(format!("tandem: {message}"));
    format!(
        r#"{{"jsonrpc":"2.0","id":{},"error":{{"code":{code},"message":{message}}}}}"#,
        id.unwrap_or("null")
    )
}
