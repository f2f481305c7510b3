//! One settings type, merged from defaults, the user file, the workspace file, `initializationOptions` and the client's configuration.
//!
//! Every layer is a plain JSON value (TOML files are read into one), checked against the known
//! keys before it is used: unknown keys are warned about and ignored, a wrong type rejects that
//! layer with a message naming the key and where it came from, and the settings stay what they
//! were. No layer can hold an API key; it names the environment variable that does.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::model::{ApiKey, Endpoint, PredictedOutputs, Provider, RetryPolicy, is_loopback};

mod completion;
mod environment;
mod keys;

pub use completion::{CompletionMode, CompletionProvider, CompletionRoute, CompletionSettings};
pub use environment::Environment;
use keys::{KEYS, check_layer, error_message};

/// The settings in force. Holds no secret, so it can be shown and serialized as it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    pub model: ModelSettings,
    pub edits: EditSettings,
    pub hover: HoverSettings,
    pub learn: LearnSettings,
    pub agent: AgentSettings,
    pub completion: CompletionSettings,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelSettings {
    pub provider: Provider,
    pub base_url: String,
    pub name: String,
    /// The environment variable holding the key; `None` for endpoints that need none.
    pub api_key_env: Option<String>,
    pub max_output_tokens: u32,
    pub request_timeout_ms: u64,
    pub idle_timeout_ms: u64,
    /// Whether whole rewrites send the region as a prediction of the answer.
    pub predicted_outputs: PredictedOutputs,
    /// `model.provider: "acp"`: actions and tasks run through the Agent Client Protocol agent
    /// this command starts (empty when `model.command` is not set: jobs then say so). Hover,
    /// completion and rule proposals still use the HTTP endpoint above, whose provider is then
    /// chosen from the environment as when none is set.
    pub acp: Option<Vec<String>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EditSettings {
    pub mode: EditMode,
    /// A fix, edit or document whose region has more lines than this asks the model for
    /// SEARCH/REPLACE blocks instead of the whole region.
    pub blocks_above_lines: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EditMode {
    Stream,
    Preview,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HoverSettings {
    pub enabled: bool,
    pub timeout_ms: u64,
}

/// Learning from the team: what becomes of the agent's edits is recorded, and rules are proposed
/// once enough corrections agree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LearnSettings {
    pub enabled: bool,
    /// Corrections not yet covered by a rule before the model is asked for one.
    pub min_evidence: u64,
}

/// Tasks (`tandem.task`): how far the agent loop may go, and the check it may run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentSettings {
    /// Model turns that call tools, at most.
    pub max_steps: u32,
    pub timeout_ms: u64,
    /// The command `run_check` runs (program and arguments); never run when unset. Not taken
    /// from a workspace file: a cloned repository must not choose what runs on the machine.
    pub check_command: Option<Vec<String>>,
    pub check_timeout_ms: u64,
}

impl ModelSettings {
    /// The endpoint these settings describe, with the key read from the environment.
    pub fn endpoint(&self, env: &Environment) -> Endpoint {
        Endpoint {
            provider: self.provider,
            base_url: self.base_url.clone(),
            model: self.name.clone(),
            api_key: api_key(env, self.api_key_env.as_deref()),
            api_key_env: self.api_key_env.clone(),
            max_output_tokens: self.max_output_tokens,
            request_timeout: Duration::from_millis(self.request_timeout_ms),
            idle_timeout: Duration::from_millis(self.idle_timeout_ms),
            retry: RetryPolicy::default(),
            predicted_outputs: self.predicted_outputs,
        }
    }
}

/// The key in the environment variable `name`, if it is set.
fn api_key(env: &Environment, name: Option<&str>) -> Option<ApiKey> {
    name.and_then(|name| env.get(name)).map(ApiKey::new)
}

/// Where a setting's value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Default,
    /// Chosen from the environment because nothing set it (the provider, from the keys present).
    Detected(String),
    UserFile(PathBuf),
    WorkspaceFile(PathBuf),
    InitializationOptions,
    ClientConfiguration,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::Detected(why) => write!(f, "default: {why}"),
            Source::UserFile(path) => write!(f, "user file {}", path.display()),
            Source::WorkspaceFile(path) => write!(f, "workspace file {}", path.display()),
            Source::InitializationOptions => f.write_str("initializationOptions"),
            Source::ClientConfiguration => f.write_str("workspace/configuration"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Warning,
    Error,
}

/// A problem found in one layer of settings, worded for the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigMessage {
    pub severity: Severity,
    pub text: String,
}

impl fmt::Display for ConfigMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The layers in merge order (later wins), after the built-in defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Layer {
    User,
    Workspace,
    Initialization,
    Client,
}

/// The settings layers and the settings they make. Keeps the last good value of each layer.
#[derive(Debug)]
pub struct ConfigStore {
    env: Environment,
    layers: BTreeMap<Layer, (Source, Map<String, Value>)>,
    settings: Settings,
    origins: BTreeMap<&'static str, Source>,
}

impl ConfigStore {
    /// Defaults only (with the provider chosen from the environment).
    pub fn new(env: Environment) -> Self {
        let mut store = ConfigStore {
            env,
            layers: BTreeMap::new(),
            settings: resolve(&BTreeMap::new(), &Environment::default()).0,
            origins: BTreeMap::new(),
        };
        store.recompute();
        store
    }

    /// Defaults, then the user file (at its default place) and the workspace file of `workspace_root`.
    pub fn load(env: Environment, workspace_root: Option<&Path>) -> (Self, Vec<ConfigMessage>) {
        let user = env.user_config_path();
        let mut store = ConfigStore::new(env);
        let mut messages = Vec::new();
        if let Some(user) = user {
            messages.extend(store.set_user_file(&user));
        }
        if let Some(root) = workspace_root {
            messages.extend(store.set_workspace_root(root));
        }
        (store, messages)
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The model endpoint the settings in force describe, with its key from the environment.
    pub fn endpoint(&self) -> Endpoint {
        self.settings.model.endpoint(&self.env)
    }

    pub fn environment(&self) -> &Environment {
        &self.env
    }

    /// Where the value of `key` (such as `model.baseUrl`) came from.
    pub fn origin(&self, key: &str) -> Source {
        self.origins.get(key).cloned().unwrap_or(Source::Default)
    }

    /// Every setting as `(key, value as JSON, source)`, in the documented order.
    pub fn entries(&self) -> Vec<(&'static str, Value, Source)> {
        let json = serde_json::to_value(&self.settings).unwrap_or(Value::Null);
        KEYS.iter()
            .map(|(key, _)| {
                let value = json
                    .pointer(&format!("/{}", key.replace('.', "/")))
                    .cloned()
                    .unwrap_or(Value::Null);
                (*key, value, self.origin(key))
            })
            .collect()
    }

    /// Reads (or re-reads) the user file; a missing file is no layer.
    pub fn set_user_file(&mut self, path: &Path) -> Vec<ConfigMessage> {
        self.set_file(Layer::User, Source::UserFile(path.to_owned()), path)
    }

    /// Reads (or re-reads) `.tandem/config.toml` under the workspace root.
    pub fn set_workspace_root(&mut self, root: &Path) -> Vec<ConfigMessage> {
        let path = root.join(".tandem").join("config.toml");
        self.set_file(Layer::Workspace, Source::WorkspaceFile(path.clone()), &path)
    }

    /// `initializationOptions`: the settings object itself.
    pub fn set_initialization_options(&mut self, value: Value) -> Vec<ConfigMessage> {
        self.set_layer(Layer::Initialization, Source::InitializationOptions, value)
    }

    /// What `workspace/configuration` answered for section `tandem`, or the `settings` of
    /// `workspace/didChangeConfiguration`. Accepts the settings object, `{"tandem": …}` or
    /// `{"settings": {"tandem": …}}`, or the one-element array `workspace/configuration`
    /// answers; `null` (a client that wants to be asked) changes nothing.
    pub fn set_client_configuration(&mut self, value: Value) -> Vec<ConfigMessage> {
        let mut value = match value {
            Value::Array(mut items) if items.len() == 1 => items.remove(0),
            other => other,
        };
        for wrapper in ["settings", "tandem"] {
            if let Some(inner) = value.as_object_mut().and_then(|o| o.remove(wrapper)) {
                value = inner;
            }
        }
        if value.is_null() {
            return Vec::new();
        }
        self.set_layer(Layer::Client, Source::ClientConfiguration, value)
    }

    fn set_file(&mut self, layer: Layer, source: Source, path: &Path) -> Vec<ConfigMessage> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                if self.layers.remove(&layer).is_some() {
                    self.recompute();
                }
                return Vec::new();
            }
            Err(error) => {
                return vec![error_message(format!(
                    "cannot read {source}: {error}; keeping the previous settings"
                ))];
            }
        };
        let value = match toml::from_str::<toml::Table>(&text) {
            Ok(table) => serde_json::to_value(table).unwrap_or(Value::Null),
            Err(error) => {
                let detail = error.to_string();
                return vec![error_message(format!(
                    "{source} is not valid TOML: {}; keeping the previous settings",
                    detail.trim()
                ))];
            }
        };
        self.set_layer(layer, source, value)
    }

    fn set_layer(&mut self, layer: Layer, source: Source, value: Value) -> Vec<ConfigMessage> {
        let mut messages = Vec::new();
        let Some(checked) = check_layer(&value, &source, &mut messages) else {
            return messages;
        };
        if messages.iter().any(|m| m.severity == Severity::Error) {
            messages.push(error_message(format!(
                "the settings from {source} were not applied; keeping the previous ones"
            )));
            return messages;
        }
        self.layers.insert(layer, (source, checked));
        self.recompute();
        messages
    }

    fn recompute(&mut self) {
        let mut leaves: BTreeMap<&'static str, (Value, Source)> = BTreeMap::new();
        for (source, table) in self.layers.values() {
            for (key, _) in KEYS {
                let mut parts = key.split('.');
                let (Some(section), Some(name)) = (parts.next(), parts.next()) else {
                    continue;
                };
                if let Some(value) = table.get(section).and_then(|s| s.get(name)) {
                    leaves.insert(key, (value.clone(), source.clone()));
                }
            }
        }
        let (settings, origins) = resolve(&leaves, &self.env);
        self.settings = settings;
        self.origins = origins;
    }
}

/// A program and its arguments, as a `Kind::Command` setting holds them.
fn command(value: Option<&Value>) -> Option<Vec<String>> {
    let parts = value?.as_array()?;
    Some(
        parts
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
    )
}

/// Builds the settings from the winning value of each key, filling in the defaults.
fn resolve(
    leaves: &BTreeMap<&'static str, (Value, Source)>,
    env: &Environment,
) -> (Settings, BTreeMap<&'static str, Source>) {
    let mut origins = BTreeMap::new();
    let mut pick = |key: &'static str| -> Option<&Value> {
        let (value, source) = leaves.get(key)?;
        origins.insert(key, source.clone());
        Some(value)
    };
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let number = |v: Option<&Value>, default: u64| v.and_then(Value::as_u64).unwrap_or(default);

    let provider = text(pick("model.provider"));
    // Never from a workspace file, like `agent.checkCommand`.
    let acp = (provider.as_deref() == Some(keys::ACP))
        .then(|| command(pick("model.command")).unwrap_or_default());
    let provider = provider.and_then(|p| p.parse::<Provider>().ok());
    let base_url = text(pick("model.baseUrl"));
    let name = text(pick("model.name"));
    let api_key_env = text(pick("model.apiKeyEnv"));
    let max_output_tokens = number(pick("model.maxOutputTokens"), 4096);
    let request_timeout_ms = number(pick("model.requestTimeoutMs"), 120_000);
    let idle_timeout_ms = number(pick("model.idleTimeoutMs"), 30_000);
    let predicted_outputs = match pick("model.predictedOutputs").and_then(Value::as_bool) {
        Some(true) => PredictedOutputs::On,
        Some(false) => PredictedOutputs::Off,
        None => PredictedOutputs::Auto,
    };
    let blocks_above_lines = number(pick("edits.blocksAboveLines"), 40);
    let mode = match text(pick("edits.mode")).as_deref() {
        Some("preview") => EditMode::Preview,
        _ => EditMode::Stream,
    };
    let enabled = pick("hover.enabled")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let hover_timeout_ms = number(pick("hover.timeoutMs"), 4000);
    let learn = LearnSettings {
        enabled: pick("learn.enabled")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        min_evidence: number(pick("learn.minEvidence"), 2).max(1),
    };
    // Never from a workspace file: `check_layer` leaves it out, saying so.
    let check_command = command(pick("agent.checkCommand"));
    let agent = AgentSettings {
        max_steps: u32::try_from(number(pick("agent.maxSteps"), 25)).unwrap_or(u32::MAX),
        timeout_ms: number(pick("agent.timeoutMs"), 600_000),
        check_command,
        check_timeout_ms: number(pick("agent.checkTimeoutMs"), 120_000),
    };
    let completion = completion::Raw::pick(&mut pick);

    let provider = provider.unwrap_or_else(|| {
        let (detected, why) = if env.get("OPENAI_API_KEY").is_some() {
            (Provider::OpenAi, "OPENAI_API_KEY is set")
        } else if env.get("ANTHROPIC_API_KEY").is_some() {
            (Provider::Anthropic, "ANTHROPIC_API_KEY is set")
        } else {
            (
                Provider::Ollama,
                "no OPENAI_API_KEY or ANTHROPIC_API_KEY, so a local Ollama",
            )
        };
        origins.insert("model.provider", Source::Detected(why.to_owned()));
        detected
    });
    let base_url = base_url.unwrap_or_else(|| provider.default_base_url().to_owned());
    // The provider's own key variable is sent only to the provider's own endpoint: a workspace
    // file that points baseUrl elsewhere must name the variable itself to get a key.
    let api_key_env = match api_key_env {
        Some(name) if name.is_empty() => None,
        Some(name) => Some(name),
        None if base_url.trim_end_matches('/') == provider.default_base_url() => {
            provider.default_api_key_env().map(str::to_owned)
        }
        None => None,
    };
    // A committed workspace file must not choose where a user's key goes: when it set baseUrl
    // to anything but this machine, no key is sent there (it can still name a local server).
    let url_from_workspace = matches!(origins.get("model.baseUrl"), Some(Source::WorkspaceFile(_)));
    let api_key_env = match api_key_env {
        Some(name) if url_from_workspace && !is_loopback(&base_url) => {
            tracing::warn!(
                base_url,
                "not sending ${name}: the workspace file chose model.baseUrl; set it in your user settings to send a key there"
            );
            origins.insert(
                "model.apiKeyEnv",
                Source::Detected(format!(
                    "none: ${name} is not sent to a baseUrl chosen by the workspace file; set model.baseUrl in your user settings to send it"
                )),
            );
            None
        }
        other => other,
    };
    let model = ModelSettings {
        provider,
        name: name.unwrap_or_else(|| provider.default_model().to_owned()),
        base_url,
        api_key_env,
        max_output_tokens: u32::try_from(max_output_tokens).unwrap_or(u32::MAX),
        request_timeout_ms,
        idle_timeout_ms,
        predicted_outputs,
        acp,
    };
    let completion = completion.resolve(&model);
    let settings = Settings {
        model,
        edits: EditSettings {
            mode,
            blocks_above_lines,
        },
        hover: HoverSettings {
            enabled,
            timeout_ms: hover_timeout_ms,
        },
        learn,
        agent,
        completion,
    };
    (settings, origins)
}
