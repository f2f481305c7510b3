//! The settings' keys, what each accepts, and checking one layer against them: unknown keys
//! warned about, wrong types refused with the key and where it came from.

use serde_json::{Map, Value};

use super::completion::CompletionProvider;
use super::{CompletionMode, ConfigMessage, Severity, Source};
use crate::model::Provider;

pub(super) fn error_message(text: String) -> ConfigMessage {
    ConfigMessage {
        severity: Severity::Error,
        text,
    }
}

#[derive(Clone, Copy)]
pub(super) enum Kind {
    Text,
    Url,
    VariableName,
    Providers,
    EditModes,
    Count,
    /// A whole number, 0 included (a delay that may be none).
    Millis,
    Flag,
    /// `completion.provider`: a chat provider or `llamacpp`.
    CompletionProviders,
    /// `completion.mode`.
    CompletionModes,
    /// A program and its arguments: a non-empty array of non-empty strings.
    Command,
    /// `"auto"`, `true` or `false`.
    AutoFlag,
}

impl Kind {
    fn expected(self) -> &'static str {
        match self {
            Kind::Text => "a string",
            Kind::Url => "an http:// or https:// URL",
            Kind::VariableName => {
                "the name of an environment variable (like OPENAI_API_KEY), or \"\" for none"
            }
            Kind::Providers => {
                "one of \"openai\", \"openai-responses\", \"anthropic\", \"ollama\", \"acp\""
            }
            Kind::EditModes => "\"stream\" or \"preview\"",
            Kind::Count => "a whole number greater than 0",
            Kind::Millis => "a whole number of milliseconds (0 or more)",
            Kind::CompletionProviders => {
                "one of \"openai\", \"ollama\", \"llamacpp\", \"anthropic\", \"openai-responses\""
            }
            Kind::CompletionModes => "\"fim\" or \"chat\"",
            Kind::Flag => "true or false",
            Kind::Command => "an array of strings, the program first (like [\"cargo\", \"check\"])",
            Kind::AutoFlag => "\"auto\", true or false",
        }
    }

    fn accepts(self, value: &Value) -> bool {
        match (self, value) {
            (Kind::Text, Value::String(s)) => !s.is_empty(),
            (Kind::Url, Value::String(s)) => s.starts_with("http://") || s.starts_with("https://"),
            (Kind::VariableName, Value::String(s)) => {
                s.is_empty()
                    || (s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                        && !s.starts_with(|c: char| c.is_ascii_digit()))
            }
            (Kind::Providers, Value::String(s)) => s == ACP || s.parse::<Provider>().is_ok(),
            (Kind::EditModes, Value::String(s)) => s == "stream" || s == "preview",
            (Kind::Count, Value::Number(n)) => n
                .as_u64()
                .is_some_and(|n| n > 0 && n <= u64::from(u32::MAX)),
            (Kind::Millis, Value::Number(n)) => n.as_u64().is_some_and(|n| n <= 600_000),
            (Kind::CompletionProviders, Value::String(s)) => {
                s.parse::<CompletionProvider>().is_ok()
            }
            (Kind::CompletionModes, Value::String(s)) => s.parse::<CompletionMode>().is_ok(),
            (Kind::Flag, Value::Bool(_)) | (Kind::AutoFlag, Value::Bool(_)) => true,
            (Kind::AutoFlag, Value::String(s)) => s == "auto",
            (Kind::Command, Value::Array(parts)) => {
                parts
                    .first()
                    .and_then(Value::as_str)
                    .is_some_and(|p| !p.is_empty())
                    && parts.iter().all(Value::is_string)
            }
            _ => false,
        }
    }
}

/// `model.provider`'s value for an Agent Client Protocol agent run by `model.command`.
pub(super) const ACP: &str = "acp";

/// Settings that name a program to run: never taken from a workspace file, which a cloned
/// repository controls.
const RUN_ON_THE_MACHINE: [&str; 2] = ["agent.checkCommand", "model.command"];

/// Every known setting and what it accepts.
pub(super) const KEYS: [(&str, Kind); 26] = [
    ("model.provider", Kind::Providers),
    ("model.command", Kind::Command),
    ("model.baseUrl", Kind::Url),
    ("model.name", Kind::Text),
    ("model.apiKeyEnv", Kind::VariableName),
    ("model.maxOutputTokens", Kind::Count),
    ("model.requestTimeoutMs", Kind::Count),
    ("model.idleTimeoutMs", Kind::Count),
    ("model.predictedOutputs", Kind::AutoFlag),
    ("edits.mode", Kind::EditModes),
    ("edits.blocksAboveLines", Kind::Count),
    ("hover.enabled", Kind::Flag),
    ("hover.timeoutMs", Kind::Count),
    ("learn.enabled", Kind::Flag),
    ("learn.minEvidence", Kind::Count),
    ("agent.maxSteps", Kind::Count),
    ("agent.timeoutMs", Kind::Count),
    ("agent.checkCommand", Kind::Command),
    ("agent.checkTimeoutMs", Kind::Count),
    ("completion.enabled", Kind::Flag),
    ("completion.mode", Kind::CompletionModes),
    ("completion.provider", Kind::CompletionProviders),
    ("completion.baseUrl", Kind::Url),
    ("completion.name", Kind::Text),
    ("completion.debounceMs", Kind::Millis),
    ("completion.maxTokens", Kind::Count),
];

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "a table",
    }
}

/// Checks one layer: keeps the known keys, warns about unknown ones, errs on wrong types.
/// Values are never echoed in messages: a misplaced key must not end up in a log.
pub(super) fn check_layer(
    value: &Value,
    source: &Source,
    messages: &mut Vec<ConfigMessage>,
) -> Option<Map<String, Value>> {
    let Some(root) = value.as_object() else {
        messages.push(error_message(format!(
            "the settings from {source} must be a table (an object), found {}",
            describe(value)
        )));
        return None;
    };
    let mut checked = Map::new();
    // In key order, whatever order the map keeps (serde_json keeps insertion order when a
    // dependency asks for `preserve_order`), so the messages come in the same order every time.
    for (section, body) in sorted(root) {
        let known_section = KEYS
            .iter()
            .any(|(key, _)| key.split('.').next() == Some(section.as_str()));
        if !known_section {
            warn_unknown(section, source, messages);
            continue;
        }
        if body.is_null() {
            continue;
        }
        let Some(body) = body.as_object() else {
            messages.push(error_message(format!(
                "`{section}` in {source} must be a table, found {}",
                describe(body)
            )));
            continue;
        };
        let mut kept = Map::new();
        for (name, value) in sorted(body) {
            let key = format!("{section}.{name}");
            let Some((_, kind)) = KEYS.iter().find(|(known, _)| *known == key) else {
                warn_unknown(&key, source, messages);
                continue;
            };
            if value.is_null() {
                continue;
            }
            if !kind.accepts(value) {
                messages.push(error_message(format!(
                    "`{key}` in {source} must be {}, found {}",
                    kind.expected(),
                    describe(value)
                )));
                continue;
            }
            if RUN_ON_THE_MACHINE.contains(&key.as_str())
                && matches!(source, Source::WorkspaceFile(_))
            {
                messages.push(ConfigMessage {
                    severity: Severity::Warning,
                    text: format!(
                        "`{key}` in {source} is ignored: a workspace file does not choose a command \
                         to run on your machine; set it in your user settings or your editor's"
                    ),
                });
                continue;
            }
            kept.insert(name.clone(), value.clone());
        }
        checked.insert(section.clone(), Value::Object(kept));
    }
    Some(checked)
}

/// A JSON object's entries by key.
fn sorted(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

fn warn_unknown(key: &str, source: &Source, messages: &mut Vec<ConfigMessage>) {
    let text = if key.to_lowercase().contains("apikey") && key != "model.apiKeyEnv" {
        format!(
            "`{key}` in {source} is ignored: keys are never read from settings; put the key in an \
             environment variable and name it in model.apiKeyEnv"
        )
    } else {
        format!("unknown setting `{key}` in {source} is ignored")
    };
    messages.push(ConfigMessage {
        severity: Severity::Warning,
        text,
    });
}
