//! `tandem doctor`: shows the settings in force and where each came from, then asks the endpoint whether the model answers, and the completion endpoint whether it completes; with `model.provider: "acp"`, first starts the agent and opens a session.

use std::io::{self, Write};
use std::path::PathBuf;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::acp::{AcpClient, AcpHost, FsError, PermissionChoice, ToolCallInfo};

use crate::config::{ConfigStore, Environment, Settings, Severity};
use crate::logging::Verbosity;
use crate::model::fim::chat_request;
use crate::model::{FimRequest, Message, ModelClient, ModelRequest};

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

/// Runs the checks, writing the whole report to `out`. Returns the process exit code: 0 only
/// when the model answered (and the completion endpoint, when it is another), 1 otherwise.
pub async fn run(options: &DoctorOptions, out: &mut impl Write) -> i32 {
    run_with(options, Verbosity::Normal, out).await
}

/// As [`run`], saying as much as `verbosity` asks: quiet, only the problems in the settings and
/// one line (ok, or what failed); verbose, also every model the endpoint lists.
pub async fn run_with(options: &DoctorOptions, verbosity: Verbosity, out: &mut impl Write) -> i32 {
    let mut report = Report { out, verbosity };
    match check(options, &mut report).await {
        Ok(true) => 0,
        Ok(false) | Err(_) => 1,
    }
}

/// Where the report goes and how much of it.
struct Report<'a, W> {
    out: &'a mut W,
    verbosity: Verbosity,
}

impl<W: Write> Report<'_, W> {
    /// A step of the report: left out when quiet.
    fn step(&mut self, line: std::fmt::Arguments) -> io::Result<()> {
        if self.verbosity == Verbosity::Quiet {
            return Ok(());
        }
        writeln!(self.out, "{line}")
    }

    /// Said however quiet: problems, and the one line of a quiet report.
    fn always(&mut self, line: std::fmt::Arguments) -> io::Result<()> {
        writeln!(self.out, "{line}")
    }

    fn quiet(&self) -> bool {
        self.verbosity == Verbosity::Quiet
    }
}

async fn check<W: Write>(options: &DoctorOptions, out: &mut Report<'_, W>) -> io::Result<bool> {
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

    out.step(format_args!("Settings in force:"))?;
    for (key, value, source) in store.entries() {
        out.step(format_args!("  {key} = {value}  ({source})"))?;
    }
    let settings = store.settings().clone();
    if let Some(env) = &settings.model.api_key_env {
        if options.env.get(env).is_some() {
            out.step(format_args!(
                "  the key variable ${env} is set (value hidden)"
            ))?;
        } else {
            out.always(format_args!("  the key variable ${env} is NOT set"))?;
        }
    }
    if !messages.is_empty() {
        let gap = if out.quiet() { "" } else { "\n" };
        out.always(format_args!("{gap}Problems in the settings:"))?;
        for message in &messages {
            let tag = if message.severity == Severity::Error {
                "error"
            } else {
                "warning"
            };
            out.always(format_args!("  {tag}: {message}"))?;
        }
    }

    if let Some(command) = &settings.model.acp {
        let root = options
            .workspace_root
            .clone()
            .unwrap_or_else(|| PathBuf::from("."));
        let agent_ok = check_agent(command, &root, out).await?;
        if out.quiet() {
            return Ok(agent_ok);
        }
        // Hover, completion and rule proposals still ask the HTTP model: said, not required.
        out.step(format_args!(
            "
Hover explanations, inline completion and rule proposals ask the model below."
        ))?;
        let model_ok = check_model(&settings, &options.env, out).await?;
        check_completion(&settings, &options.env, out, model_ok).await?;
        return Ok(agent_ok);
    }
    let model_ok = check_model(&settings, &options.env, out).await?;
    let completion_ok = check_completion(&settings, &options.env, out, model_ok).await?;
    Ok(model_ok && completion_ok)
}

/// Starts the ACP agent in `root`, initializes it and opens a session (signing in when it asks
/// and a key is set), then stops it.
async fn check_agent<W: Write>(
    command: &[String],
    root: &std::path::Path,
    out: &mut Report<'_, W>,
) -> io::Result<bool> {
    out.step(format_args!(
        "\nStarting the ACP agent `{}` in {}…",
        command.join(" "),
        root.display()
    ))?;
    let started = match AcpClient::start(command, root, Arc::new(NoJob)).await {
        Ok(client) => client.new_session().await.map(|_| client),
        Err(error) => Err(error),
    };
    match started {
        Ok(client) => {
            let ready = format!(
                "ok: the ACP agent {} started and opened a session: Tandem is ready.",
                client.name()
            );
            client.kill();
            if out.quiet() {
                out.always(format_args!("{ready}"))?;
            } else {
                out.step(format_args!("  {ready}"))?;
            }
            Ok(true)
        }
        Err(error) => {
            if out.quiet() {
                out.always(format_args!("failed: {error}"))?;
            } else {
                out.step(format_args!("  failed: {error}"))?;
                out.step(format_args!(
                    "\nActions and tasks will fail until this is fixed (model.command)."
                ))?;
            }
            Ok(false)
        }
    }
}

/// The doctor's side of a session no job runs in: the agent is asked nothing, and may do
/// nothing.
struct NoJob;

impl AcpHost for NoJob {
    async fn read_text_file(
        &self,
        _session: String,
        path: PathBuf,
        _line: Option<u32>,
        _limit: Option<u32>,
    ) -> Result<String, FsError> {
        Err(FsError::Denied(format!(
            "{} is not read by tandem doctor",
            path.display()
        )))
    }

    async fn write_text_file(
        &self,
        _session: String,
        path: PathBuf,
        _content: String,
    ) -> Result<(), FsError> {
        Err(FsError::Denied(format!(
            "{} is not written by tandem doctor",
            path.display()
        )))
    }

    async fn request_permission(
        &self,
        _session: String,
        _tool_call: ToolCallInfo,
        _options: Vec<PermissionChoice>,
    ) -> Option<String> {
        None
    }
}

/// Asks the agent's model for a list of models, or one token.
async fn check_model<W: Write>(
    settings: &Settings,
    env: &Environment,
    out: &mut Report<'_, W>,
) -> io::Result<bool> {
    let endpoint = settings.model.endpoint(env);
    let model = endpoint.model.clone();
    let url = endpoint.base_url.clone();
    let provider = settings.model.provider;
    out.step(format_args!(
        "\nChecking {provider} at {url} for model `{model}`…"
    ))?;
    let client = match ModelClient::new(endpoint) {
        Ok(client) => client,
        Err(error) => return fail(out, &error.to_string()),
    };
    let ready = format!("ok: {provider} at {url} answered for `{model}`: Tandem is ready.");

    match client.list_models().await {
        Ok(Some(models)) if models.contains(&model) => {
            out.step(format_args!(
                "  ok: the endpoint answered and serves `{model}` ({} models in all)",
                models.len()
            ))?;
            if out.verbosity == Verbosity::Verbose {
                out.step(format_args!("  its models: {}", models.join(", ")))?;
            }
            return succeed(out, &ready);
        }
        Ok(Some(models)) => {
            let few = if out.verbosity == Verbosity::Verbose {
                models.len()
            } else {
                12
            };
            let shown: Vec<&str> = models.iter().take(few).map(String::as_str).collect();
            out.step(format_args!(
                "  the endpoint answered, but `{model}` is not in its list of {} models ({}{})",
                models.len(),
                shown.join(", "),
                if models.len() > shown.len() {
                    ", …"
                } else {
                    ""
                }
            ))?;
            out.step(format_args!(
                "  asking for one token anyway (some servers serve any name)…"
            ))?;
        }
        Ok(None) => out.step(format_args!(
            "  the endpoint has no model list; asking for one token…"
        ))?,
        Err(error) => return fail(out, &error.to_string()),
    }

    let request = ModelRequest {
        system: None,
        messages: vec![Message::user("Reply with the single word: ok")],
        max_output_tokens: Some(1),
        tools: Vec::new(),
        prediction: None,
    };
    match client
        .stream(&request, CancellationToken::new())
        .complete()
        .await
    {
        Ok(_) => {
            out.step(format_args!("  ok: `{model}` answered"))?;
            succeed(out, &ready)
        }
        Err(error) => fail(out, &error.to_string()),
    }
}

/// Asks the completion endpoint for one token of a fill-in-the-middle (or of the chat prompt
/// that asks for the middle). Nothing to ask when completion is off, or when it is the agent's
/// own chat model; nor when that model just failed at the same place.
async fn check_completion<W: Write>(
    settings: &Settings,
    env: &Environment,
    out: &mut Report<'_, W>,
    model_ok: bool,
) -> io::Result<bool> {
    let completion = &settings.completion;
    if !completion.enabled {
        out.step(format_args!(
            "\nInline completion is off (completion.enabled = false)."
        ))?;
        return Ok(true);
    }
    let route = completion.route(env);
    let (url, model) = (&route.endpoint.base_url, &route.endpoint.model);
    let how = match route.fim {
        Some(wire) => format!("fill-in-the-middle ({wire})"),
        None => "a chat prompt".to_owned(),
    };
    let same_place = *url == settings.model.base_url && *model == settings.model.name;
    if same_place && (route.fim.is_none() || !model_ok) {
        out.step(format_args!(
            "\nInline completion asks `{model}` at {url} with {how}: the model checked above."
        ))?;
        return Ok(true);
    }
    out.step(format_args!(
        "\nChecking inline completion: {how} at {url} for `{model}`…"
    ))?;
    let client = match ModelClient::new(route.endpoint.clone()) {
        Ok(client) => client,
        Err(error) => return completion_failed(out, &error.to_string()),
    };
    let request = FimRequest {
        prefix: "def add(a, b):\n    return ".into(),
        suffix: "\n".into(),
        max_tokens: 1,
        stop: Vec::new(),
        language: Some("python".into()),
    };
    let cancel = CancellationToken::new();
    let stream = match route.fim {
        Some(wire) => client.fim(wire, &request, cancel),
        None => client.stream(&chat_request(&request), cancel),
    };
    match stream.complete().await {
        Ok(_) => {
            out.step(format_args!("  ok: the completion endpoint answered"))?;
            Ok(true)
        }
        Err(error) => completion_failed(out, &error.to_string()),
    }
}

fn completion_failed<W: Write>(out: &mut Report<'_, W>, message: &str) -> io::Result<bool> {
    if out.quiet() {
        out.always(format_args!("failed: inline completion: {message}"))?;
    } else {
        out.step(format_args!("  failed: {message}"))?;
        out.step(format_args!(
            "\nInline completion will show no suggestions until this is fixed (see completion.* in the settings)."
        ))?;
    }
    Ok(false)
}

/// The last word when the model answered; quiet, the one line `ready`.
fn succeed<W: Write>(out: &mut Report<'_, W>, ready: &str) -> io::Result<bool> {
    if out.quiet() {
        out.always(format_args!("{ready}"))?;
    } else {
        out.step(format_args!("\nThe model answered: Tandem is ready."))?;
    }
    Ok(true)
}

/// The last word when it did not: the failure (it says what was tried and what to do).
fn fail<W: Write>(out: &mut Report<'_, W>, message: &str) -> io::Result<bool> {
    if out.quiet() {
        out.always(format_args!("failed: {message}"))?;
        return Ok(false);
    }
    out.step(format_args!("  failed: {message}"))?;
    out.step(format_args!(
        "\nThe model cannot be reached: agent actions will fail until this is fixed. Features that need no model still work."
    ))?;
    Ok(false)
}
