//! `completion.*`: which endpoint inline completion asks and how (fill-in-the-middle or chat),
//! each setting falling back to its `model.*` counterpart.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Serialize, Serializer};
use serde_json::Value;

use super::{Environment, ModelSettings};
use crate::model::{Endpoint, FimWire, PredictedOutputs, Provider, RetryPolicy};

/// A suggestion that has not started within this long is of no use to anyone typing.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// ...nor one whose stream stalls this long.
const IDLE_TIMEOUT: Duration = Duration::from_secs(5);

/// `completion.provider`: a chat provider (whose servers may also serve FIM), or a llama.cpp
/// server, whose `/infill` is its FIM API and whose `/v1` is OpenAI-compatible.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompletionProvider {
    Chat(Provider),
    LlamaCpp,
}

impl CompletionProvider {
    pub fn as_str(self) -> &'static str {
        match self {
            CompletionProvider::Chat(provider) => provider.as_str(),
            CompletionProvider::LlamaCpp => "llamacpp",
        }
    }

    /// The provider whose chat API (and key convention) the endpoint speaks.
    fn chat(self) -> Provider {
        match self {
            CompletionProvider::Chat(provider) => provider,
            CompletionProvider::LlamaCpp => Provider::OpenAi,
        }
    }
}

impl FromStr for CompletionProvider {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "llamacpp" {
            return Ok(CompletionProvider::LlamaCpp);
        }
        s.parse::<Provider>().map(CompletionProvider::Chat)
    }
}

impl fmt::Display for CompletionProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CompletionProvider {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// `completion.mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CompletionMode {
    /// The endpoint's fill-in-the-middle API.
    Fim,
    /// A chat model asked for the middle.
    Chat,
}

impl FromStr for CompletionMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fim" => Ok(CompletionMode::Fim),
            "chat" => Ok(CompletionMode::Chat),
            other => Err(format!("unknown completion mode `{other}`")),
        }
    }
}

/// Inline completion's settings, resolved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CompletionSettings {
    pub enabled: bool,
    pub mode: CompletionMode,
    pub provider: CompletionProvider,
    pub base_url: String,
    pub name: String,
    /// The environment variable holding the key; `None` when none is sent.
    pub api_key_env: Option<String>,
    pub debounce_ms: u64,
    pub max_tokens: u32,
}

/// Where a suggestion is asked: the endpoint, and its FIM wire when the mode is `fim` and the
/// provider has one (otherwise the endpoint's chat API is asked for the middle).
#[derive(Clone, Debug)]
pub struct CompletionRoute {
    pub endpoint: Endpoint,
    pub fim: Option<FimWire>,
}

impl CompletionSettings {
    pub fn route(&self, env: &Environment) -> CompletionRoute {
        let fim = match (self.mode, self.provider) {
            (CompletionMode::Chat, _) => None,
            (CompletionMode::Fim, CompletionProvider::LlamaCpp) => Some(FimWire::LlamaCppInfill),
            (CompletionMode::Fim, CompletionProvider::Chat(provider)) => {
                FimWire::for_provider(provider)
            }
        };
        let endpoint = Endpoint {
            provider: self.provider.chat(),
            base_url: self.base_url.clone(),
            model: self.name.clone(),
            api_key: super::api_key(env, self.api_key_env.as_deref()),
            api_key_env: self.api_key_env.clone(),
            max_output_tokens: self.max_tokens,
            request_timeout: REQUEST_TIMEOUT,
            idle_timeout: IDLE_TIMEOUT,
            // A suggestion is worth nothing late: a failure is not retried, the next keystroke
            // asks again (after the endpoint's backoff, see `agent::health`).
            retry: RetryPolicy {
                max_retries: 0,
                ..RetryPolicy::default()
            },
            // A suggestion is new text: there is nothing to predict it with.
            predicted_outputs: PredictedOutputs::Off,
        };
        CompletionRoute { endpoint, fim }
    }
}

/// The `completion.*` values the layers set, before the fallbacks.
pub(super) struct Raw {
    enabled: Option<bool>,
    mode: Option<CompletionMode>,
    provider: Option<CompletionProvider>,
    base_url: Option<String>,
    name: Option<String>,
    debounce_ms: Option<u64>,
    max_tokens: Option<u64>,
}

impl Raw {
    pub(super) fn pick<'a>(pick: &mut impl FnMut(&'static str) -> Option<&'a Value>) -> Self {
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
        Raw {
            enabled: pick("completion.enabled").and_then(Value::as_bool),
            mode: text(pick("completion.mode")).and_then(|m| m.parse().ok()),
            provider: text(pick("completion.provider")).and_then(|p| p.parse().ok()),
            base_url: text(pick("completion.baseUrl")),
            name: text(pick("completion.name")),
            debounce_ms: pick("completion.debounceMs").and_then(Value::as_u64),
            max_tokens: pick("completion.maxTokens").and_then(Value::as_u64),
        }
    }

    /// Fills in what was not set: the provider, base URL and name from `model`, the key
    /// variable of `model` when the URL is the same (or the provider's own variable at the
    /// provider's own URL: a workspace file cannot send a key elsewhere), and the mode from
    /// where the endpoint is (FIM for Ollama, llama.cpp and OpenAI-compatible servers other
    /// than OpenAI's own, whose models have no FIM).
    pub(super) fn resolve(self, model: &ModelSettings) -> CompletionSettings {
        let provider = self
            .provider
            .unwrap_or(CompletionProvider::Chat(model.provider));
        let base_url = self.base_url.unwrap_or_else(|| model.base_url.clone());
        let same_url = base_url.trim_end_matches('/') == model.base_url.trim_end_matches('/');
        let official = base_url.trim_end_matches('/') == provider.chat().default_base_url();
        let api_key_env = if same_url {
            model.api_key_env.clone()
        } else if official {
            provider.chat().default_api_key_env().map(str::to_owned)
        } else {
            None
        };
        let fim_by_default = match provider {
            CompletionProvider::LlamaCpp | CompletionProvider::Chat(Provider::Ollama) => true,
            CompletionProvider::Chat(Provider::OpenAi) => !official,
            CompletionProvider::Chat(Provider::OpenAiResponses | Provider::Anthropic) => false,
        };
        let mode = self.mode.unwrap_or(if fim_by_default {
            CompletionMode::Fim
        } else {
            CompletionMode::Chat
        });
        CompletionSettings {
            enabled: self.enabled.unwrap_or(true),
            mode,
            provider,
            base_url,
            name: self.name.unwrap_or_else(|| model.name.clone()),
            api_key_env,
            debounce_ms: self.debounce_ms.unwrap_or(75),
            max_tokens: u32::try_from(self.max_tokens.unwrap_or(128)).unwrap_or(u32::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{CompletionMode, CompletionProvider};
    use crate::config::{ConfigStore, Environment};
    use crate::model::{FimWire, Provider};

    fn settings(value: serde_json::Value, env: &[(&str, &str)]) -> super::CompletionSettings {
        let mut store = ConfigStore::new(Environment::from_pairs(env.iter().copied()));
        let messages = store.set_initialization_options(value);
        assert!(messages.is_empty(), "{messages:?}");
        store.settings().completion.clone()
    }

    /// (settings, environment) → (mode, provider, base URL, name, key variable, FIM wire).
    #[test]
    fn completion_settings_fall_back_to_the_model_and_pick_the_mode_by_endpoint() {
        type Expected = (
            CompletionMode,
            CompletionProvider,
            &'static str,
            &'static str,
            Option<&'static str>,
            Option<FimWire>,
        );
        let openai = CompletionProvider::Chat(Provider::OpenAi);
        type Case = (
            serde_json::Value,
            Vec<(&'static str, &'static str)>,
            Expected,
        );
        let cases: Vec<Case> = vec![
            // OpenAI's own endpoint has no FIM model: chat, with the model's key.
            (
                json!({}),
                vec![("OPENAI_API_KEY", "k")],
                (
                    CompletionMode::Chat,
                    openai,
                    "https://api.openai.com/v1",
                    "gpt-4.1-mini",
                    Some("OPENAI_API_KEY"),
                    None,
                ),
            ),
            // A local Ollama: FIM on /api/generate.
            (
                json!({}),
                vec![],
                (
                    CompletionMode::Fim,
                    CompletionProvider::Chat(Provider::Ollama),
                    "http://127.0.0.1:11434",
                    "qwen2.5-coder:7b",
                    None,
                    Some(FimWire::Ollama),
                ),
            ),
            // An OpenAI-compatible server (llama.cpp, vLLM) for chat: FIM on its /completions.
            (
                json!({"model": {"provider": "openai", "baseUrl": "http://127.0.0.1:8000/v1", "name": "coder"}}),
                vec![("OPENAI_API_KEY", "k")],
                (
                    CompletionMode::Fim,
                    openai,
                    "http://127.0.0.1:8000/v1",
                    "coder",
                    None,
                    Some(FimWire::OpenAiCompletions),
                ),
            ),
            // Anthropic for chat, a llama.cpp server for completion: its /infill, no key.
            (
                json!({"model": {"provider": "anthropic"}, "completion": {"provider": "llamacpp",
                    "baseUrl": "http://127.0.0.1:8080", "name": "qwen"}}),
                vec![("ANTHROPIC_API_KEY", "k")],
                (
                    CompletionMode::Fim,
                    CompletionProvider::LlamaCpp,
                    "http://127.0.0.1:8080",
                    "qwen",
                    None,
                    Some(FimWire::LlamaCppInfill),
                ),
            ),
            // Anthropic alone: chat, with its key.
            (
                json!({"model": {"provider": "anthropic"}}),
                vec![("ANTHROPIC_API_KEY", "k")],
                (
                    CompletionMode::Chat,
                    CompletionProvider::Chat(Provider::Anthropic),
                    "https://api.anthropic.com/v1",
                    "claude-sonnet-4-5",
                    Some("ANTHROPIC_API_KEY"),
                    None,
                ),
            ),
            // FIM asked of a provider without it: chat after all.
            (
                json!({"model": {"provider": "anthropic"}, "completion": {"mode": "fim"}}),
                vec![],
                (
                    CompletionMode::Fim,
                    CompletionProvider::Chat(Provider::Anthropic),
                    "https://api.anthropic.com/v1",
                    "claude-sonnet-4-5",
                    Some("ANTHROPIC_API_KEY"),
                    None,
                ),
            ),
            // Chat forced on a local Ollama.
            (
                json!({"completion": {"mode": "chat", "name": "small"}}),
                vec![],
                (
                    CompletionMode::Chat,
                    CompletionProvider::Chat(Provider::Ollama),
                    "http://127.0.0.1:11434",
                    "small",
                    None,
                    None,
                ),
            ),
        ];
        for (value, env, expected) in cases {
            let said = format!("{value} {env:?}");
            let s = settings(value, &env);
            let route = s.route(&Environment::from_pairs(env.iter().copied()));
            assert_eq!(
                (
                    s.mode,
                    s.provider,
                    s.base_url.as_str(),
                    s.name.as_str(),
                    s.api_key_env.as_deref(),
                    route.fim
                ),
                expected,
                "{said}"
            );
            assert_eq!(route.endpoint.retry.max_retries, 0, "{said}");
        }
    }

    #[test]
    fn defaults_and_wrong_values() {
        let s = settings(json!({}), &[]);
        assert!(s.enabled);
        assert_eq!((s.debounce_ms, s.max_tokens), (75, 128));
        let s = settings(
            json!({"completion": {"enabled": false, "debounceMs": 0}}),
            &[],
        );
        assert!(!s.enabled);
        assert_eq!(s.debounce_ms, 0);
        let mut store = ConfigStore::new(Environment::from_pairs([("A", "b")]));
        let messages = store.set_initialization_options(
            json!({"completion": {"provider": "gemini", "mode": "fast", "debounceMs": -1}}),
        );
        let texts: Vec<_> = messages.iter().map(|m| m.text.as_str()).collect();
        // Each wrong value named, and the layer not applied.
        assert_eq!(texts.len(), 4, "{texts:?}");
        assert!(
            texts.iter().any(|t| t.contains("`completion.provider`")),
            "{texts:?}"
        );
        assert!(
            texts.iter().any(|t| t.contains("`completion.mode`")),
            "{texts:?}"
        );
        assert!(
            texts.iter().any(|t| t.contains("`completion.debounceMs`")),
            "{texts:?}"
        );
    }
}
