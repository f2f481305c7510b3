//! `tandem doctor`: shows the settings in force and where each came from, then asks the endpoint whether the model answers.

use std::io::{self, Write};
use std::path::PathBuf;

use tokio_util::sync::CancellationToken;

use crate::config::{ConfigStore, Environment, Severity};
use crate::model::{Message, ModelClient, ModelRequest};

/// What the doctor reads: the environment and where to look for the settings files.
#[derive(Clone, Debug, Default)]
pub struct DoctorOptions {
    pub env: Environment,
    /// The user file; `None` means the default place (`$XDG_CONFIG_HOME/tandem/config.toml`).
    pub user_config: Option<PathBuf>,
    /// The workspace whose `.tandem/config.toml` applies (the binary passes the current directory).
    pub workspace_root: Option<PathBuf>,
    /// An editor's settings object (`--settings`), applied as its `initializationOptions` are.
    pub editor_settings: Option<serde_json::Value>,
}

impl DoctorOptions {
    /// The process's environment, the default user file and the current directory.
    pub fn from_process() -> Self {
        DoctorOptions {
            env: Environment::from_process(),
            user_config: None,
            workspace_root: std::env::current_dir().ok(),
            editor_settings: None,
        }
    }
}

/// Runs the checks, writing the report to `out`. Returns the process exit code: 0 only when
/// the model answered, 1 otherwise.
pub async fn run(options: &DoctorOptions, out: &mut impl Write) -> i32 {
    match report(options, out).await {
        Ok(true) => 0,
        Ok(false) | Err(_) => 1,
    }
}

async fn report(options: &DoctorOptions, out: &mut impl Write) -> io::Result<bool> {
    let mut store = ConfigStore::new(options.env.clone());
    let mut messages = Vec::new();
    if let Some(user) = options
        .user_config
        .clone()
        .or_else(|| options.env.user_config_path())
    {
        messages.extend(store.set_user_file(&user));
    }
    if let Some(root) = &options.workspace_root {
        messages.extend(store.set_workspace_root(root));
    }
    if let Some(value) = &options.editor_settings {
        messages.extend(store.set_initialization_options(value.clone()));
    }

    writeln!(out, "Settings in force:")?;
    for (key, value, source) in store.entries() {
        writeln!(out, "  {key} = {value}  ({source})")?;
    }
    let settings = store.settings().clone();
    if let Some(env) = &settings.model.api_key_env {
        let state = if options.env.get(env).is_some() {
            "is set (value hidden)"
        } else {
            "is NOT set"
        };
        writeln!(out, "  the key variable ${env} {state}")?;
    }
    if !messages.is_empty() {
        writeln!(out, "\nProblems in the settings:")?;
        for message in &messages {
            let tag = if message.severity == Severity::Error {
                "error"
            } else {
                "warning"
            };
            writeln!(out, "  {tag}: {message}")?;
        }
    }

    let endpoint = settings.model.endpoint(&options.env);
    let model = endpoint.model.clone();
    let url = endpoint.base_url.clone();
    writeln!(
        out,
        "\nChecking {} at {url} for model `{model}`…",
        settings.model.provider
    )?;
    let client = match ModelClient::new(endpoint) {
        Ok(client) => client,
        Err(error) => return fail(out, &error.to_string()),
    };

    match client.list_models().await {
        Ok(Some(models)) if models.contains(&model) => {
            writeln!(
                out,
                "  ok: the endpoint answered and serves `{model}` ({} models in all)",
                models.len()
            )?;
            return succeed(out);
        }
        Ok(Some(models)) => {
            let shown: Vec<&str> = models.iter().take(12).map(String::as_str).collect();
            writeln!(
                out,
                "  the endpoint answered, but `{model}` is not in its list of {} models ({}{})",
                models.len(),
                shown.join(", "),
                if models.len() > shown.len() {
                    ", …"
                } else {
                    ""
                }
            )?;
            writeln!(
                out,
                "  asking for one token anyway (some servers serve any name)…"
            )?;
        }
        Ok(None) => writeln!(
            out,
            "  the endpoint has no model list; asking for one token…"
        )?,
        Err(error) => return fail(out, &error.to_string()),
    }

    let request = ModelRequest {
        system: None,
        messages: vec![Message::user("Reply with the single word: ok")],
        max_output_tokens: Some(1),
    };
    match client
        .stream(&request, CancellationToken::new())
        .complete()
        .await
    {
        Ok(_) => {
            writeln!(out, "  ok: `{model}` answered")?;
            succeed(out)
        }
        Err(error) => fail(out, &error.to_string()),
    }
}

fn succeed(out: &mut impl Write) -> io::Result<bool> {
    writeln!(out, "\nThe model answered: Tandem is ready.")?;
    Ok(true)
}

fn fail(out: &mut impl Write, message: &str) -> io::Result<bool> {
    writeln!(out, "  failed: {message}")?;
    writeln!(
        out,
        "\nThe model cannot be reached: agent actions will fail until this is fixed. Features that need no model still work."
    )?;
    Ok(false)
}
