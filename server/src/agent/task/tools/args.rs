//! Reading a tool call's arguments, with errors the model can act on.

use serde_json::Value;

/// A required string argument.
pub(super) fn required_str<'a>(arguments: &'a Value, name: &str) -> Result<&'a str, String> {
    match arguments.get(name) {
        Some(Value::String(text)) => Ok(text),
        Some(other) => Err(format!(
            "the argument `{name}` must be a string, not {other}"
        )),
        None => Err(format!("the argument `{name}` is missing")),
    }
}

/// An optional string argument (`null` counts as absent).
pub(super) fn optional_str<'a>(
    arguments: &'a Value,
    name: &str,
) -> Result<Option<&'a str>, String> {
    match arguments.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => required_str(arguments, name).map(Some),
    }
}

/// An optional positive integer; a number written as a string is accepted, as weaker models
/// write them.
pub(super) fn optional_line(arguments: &Value, name: &str) -> Result<Option<usize>, String> {
    let value = match arguments.get(name) {
        None | Some(Value::Null) => return Ok(None),
        Some(value) => value,
    };
    let number = match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    number
        .and_then(|n| usize::try_from(n).ok())
        .map(Some)
        .ok_or_else(|| {
            format!("the argument `{name}` must be a line number (1 or more), not {value}")
        })
}

/// An optional boolean, `false` when absent.
pub(super) fn flag(arguments: &Value, name: &str) -> Result<bool, String> {
    match arguments.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(format!(
            "the argument `{name}` must be true or false, not {other}"
        )),
    }
}

/// The arguments must be an object.
pub(super) fn object(arguments: &Value) -> Result<(), String> {
    if arguments.is_object() {
        Ok(())
    } else {
        Err(format!(
            "the arguments must be a JSON object, not {arguments}"
        ))
    }
}
