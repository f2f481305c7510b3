//! Tool calling in plain terms: the tools a request offers, the calls a model makes, and the accumulation of a call's streamed arguments.
//!
//! Each provider's adapter gathers a call's pieces as they stream (an id and a name first, the
//! argument text in deltas) and emits one [`ToolCall`] when the wire says the call is whole.
//! Arguments that are not valid JSON are not an error of the stream: the call carries
//! [`BadArguments`], so the agent loop can tell the model, which can try again.

use std::fmt;

use serde::Serialize;
use serde_json::Value;

use super::error::excerpt;

/// One tool a request offers the model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// A JSON Schema for the arguments (an object schema).
    pub parameters: Value,
}

/// One call a model made, whole.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ToolCall {
    /// The provider's id for the call; a tool result names it. Synthesized (`call_0`, …) for
    /// servers that send none.
    pub id: String,
    pub name: String,
    pub arguments: Result<Value, BadArguments>,
}

/// Arguments whose text is not JSON: the text as the model wrote it and why it did not parse.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
pub struct BadArguments {
    pub raw: String,
    pub error: String,
}

impl fmt::Display for BadArguments {
    /// Written for the model: what was wrong, so that it can call again.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the arguments are not valid JSON ({}): `{}`",
            self.error,
            excerpt(&self.raw, 200)
        )
    }
}

impl ToolCall {
    /// The arguments as the text a wire that carries them as a string is sent back: the JSON,
    /// or the model's own broken text.
    pub(crate) fn arguments_text(&self) -> String {
        match &self.arguments {
            Ok(value) => value.to_string(),
            Err(bad) => bad.raw.clone(),
        }
    }

    /// The arguments as an object, for wires that carry them as one: broken arguments are sent
    /// back as `{}` (the tool result that follows says what was wrong).
    pub(crate) fn arguments_object(&self) -> Value {
        match &self.arguments {
            Ok(value) => value.clone(),
            Err(_) => Value::Object(serde_json::Map::new()),
        }
    }
}

/// Parses accumulated argument text. Nothing at all means no arguments (`{}`): several servers
/// stream no argument text for a tool without parameters.
pub(crate) fn parse_arguments(raw: &str) -> Result<Value, BadArguments> {
    if raw.trim().is_empty() {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    serde_json::from_str(raw).map_err(|error| BadArguments {
        raw: raw.to_owned(),
        error: error.to_string(),
    })
}

/// A call whose pieces are still arriving.
#[derive(Clone, Debug, Default)]
pub(crate) struct PendingCall {
    pub id: Option<String>,
    pub name: String,
    pub arguments: String,
}

impl PendingCall {
    /// The whole call; `ordinal` names it when the server gave no id.
    pub fn finish(self, ordinal: usize) -> ToolCall {
        ToolCall {
            id: self
                .id
                .filter(|id| !id.is_empty())
                .unwrap_or_else(|| format!("call_{ordinal}")),
            name: self.name,
            arguments: parse_arguments(&self.arguments),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn argument_text_parses_or_keeps_the_raw_text() {
        let cases: [(&str, Option<Value>); 6] = [
            ("", Some(json!({}))),
            ("  \n", Some(json!({}))),
            (r#"{"path": "a.rs"}"#, Some(json!({"path": "a.rs"}))),
            (r#"{"n": [1, 2]}"#, Some(json!({"n": [1, 2]}))),
            (r#"{"path": "a.rs""#, None),
            ("{'single': 1}", None),
        ];
        for (raw, expected) in cases {
            match (parse_arguments(raw), expected) {
                (Ok(value), Some(expected)) => assert_eq!(value, expected, "{raw}"),
                (Err(bad), None) => {
                    assert_eq!(bad.raw, raw);
                    assert!(!bad.error.is_empty());
                    assert!(bad.to_string().contains("not valid JSON"), "{bad}");
                }
                (got, expected) => panic!("{raw}: got {got:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn a_call_without_an_id_is_named_by_its_place() {
        let call = PendingCall {
            id: Some(String::new()),
            name: "read".into(),
            arguments: "{}".into(),
        }
        .finish(2);
        assert_eq!(call.id, "call_2");
        let bad = PendingCall {
            id: Some("x".into()),
            name: "read".into(),
            arguments: "{".into(),
        }
        .finish(0);
        assert_eq!(bad.arguments_text(), "{");
        assert_eq!(bad.arguments_object(), json!({}));
    }
}
