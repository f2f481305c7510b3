//! `tandem exec`: one agent action without an editor, with the same settings, context and
//! checks as in an editor. Progress goes to stderr; the result is written to the file (or shown
//! as a unified diff with `--diff`); the exit code says whether it worked.

use std::io::Write;
use std::path::{Path, PathBuf};

use futures::StreamExt;
use ropey::Rope;
use tokio_util::sync::CancellationToken;

use crate::agent::actions::Action;
use crate::agent::index::SymbolIndex;
use crate::agent::output::{CodeReply, fit_to_region};
use crate::agent::prompt::correction;
use crate::agent::request::{ActionInput, prepare, uses_crlf};
use crate::agent::verify::added_errors;
use crate::agent::workspace_files::is_ignored;
use crate::config::{ConfigStore, Environment, Severity};
use crate::model::{Message, ModelClient, ModelEvent, ModelRequest};
use crate::syntax::{Language, parse};

/// What `tandem exec` was asked.
#[derive(Clone, Debug)]
pub struct ExecOptions {
    pub action: String,
    pub file: PathBuf,
    /// `L1:C1-L2:C2` or `L:C`, 1-based lines and columns (columns in characters).
    pub range: Option<String>,
    pub instruction: Option<String>,
    pub diff: bool,
    pub env: Environment,
    /// The user settings file; `None` means the default place.
    pub user_config: Option<PathBuf>,
}

/// The actions `exec` runs.
const ACTIONS: [Action; 5] = [
    Action::Explain,
    Action::Fix,
    Action::Implement,
    Action::Document,
    Action::Edit,
];

/// Runs the action. The explanation (explain) or the diff (`--diff`) goes to `out`; progress,
/// warnings and errors to `err`. Returns the exit code: 0 done, 1 the action failed, 2 bad usage.
pub async fn run(options: &ExecOptions, out: &mut impl Write, err: &mut impl Write) -> i32 {
    match execute(options, out, err).await {
        Ok(()) => 0,
        Err(Failure::Usage(why)) => {
            let _ = writeln!(err, "tandem exec: {why}");
            2
        }
        Err(Failure::Action(why)) => {
            let _ = writeln!(err, "tandem exec: {why}");
            1
        }
    }
}

enum Failure {
    Usage(String),
    Action(String),
}

async fn execute(
    options: &ExecOptions,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Result<(), Failure> {
    let action = Action::from_name(&options.action)
        .filter(|a| ACTIONS.contains(a))
        .ok_or_else(|| {
            let names: Vec<_> = ACTIONS.iter().map(|a| a.name()).collect();
            Failure::Usage(format!(
                "unknown action `{}`; one of: {}",
                options.action,
                names.join(", ")
            ))
        })?;
    let file = std::fs::canonicalize(&options.file)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", options.file.display())))?;
    let text = std::fs::read_to_string(&file)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", file.display())))?;
    let rope = Rope::from_str(&text);
    let root = workspace_root(&file);
    if is_ignored(&root, &file) {
        return Err(Failure::Usage(format!(
            "{} is ignored by .gitignore or .tandemignore; Tandem does not send it to a model",
            file.display()
        )));
    }
    let (mut config, messages) = ConfigStore::load(options.env.clone(), Some(&root));
    if let Some(user) = &options.user_config {
        let more = config.set_user_file(user);
        report(err, &more);
    }
    report(err, &messages);
    let settings = config.settings().clone();
    let language = Language::from_path(&file.to_string_lossy());
    let tree = language.and_then(|l| parse(l, &rope, None));
    let (range, position) = parse_range(options.range.as_deref(), &rope).map_err(Failure::Usage)?;
    let index = {
        let root = root.clone();
        tokio::task::spawn_blocking(move || SymbolIndex::build(&root, 5_000))
            .await
            .ok()
    };
    let prepared = prepare(&ActionInput {
        action,
        rope: &rope,
        tree: tree.as_ref(),
        language,
        range: range.or_else(|| {
            matches!(action, Action::Explain | Action::Fix).then(|| 0..rope.len_bytes())
        }),
        position,
        instruction: options.instruction.as_deref(),
        diagnostics: Vec::new(),
        root: Some(&root),
        path: Some(&file),
        fallback_name: &file.to_string_lossy(),
        index: index.as_ref(),
        model_name: &settings.model.name,
        max_output_tokens: settings.model.max_output_tokens,
    })
    .map_err(Failure::Usage)?;
    let endpoint = config.endpoint();
    let _ = writeln!(
        err,
        "tandem: {} with {} at {}",
        action.name(),
        endpoint.model,
        endpoint.base_url
    );
    let client = ModelClient::new(endpoint).map_err(|e| Failure::Action(e.to_string()))?;
    let mut request = ModelRequest {
        system: Some(prepared.prompt.system.clone()),
        messages: vec![Message::user(prepared.prompt.user.clone())],
        max_output_tokens: None,
    };
    if action == Action::Explain {
        let reply = ask(&client, &request, err).await?;
        let _ = writeln!(out, "{}", reply.trim_end());
        return Ok(());
    }
    let original = rope.byte_slice(prepared.bytes.clone()).to_string();
    let mut attempt = 0;
    let (new_text, errors) = loop {
        attempt += 1;
        let reply = ask(&client, &request, err).await?;
        let mut code = CodeReply::new();
        code.push(&reply);
        let code = fit_to_region(&code.finish(), original.ends_with('\n'), uses_crlf(&rope));
        let mut new_text = text.clone();
        new_text.replace_range(prepared.bytes.clone(), &code);
        let after = Rope::from_str(&new_text);
        let region = prepared.bytes.start..prepared.bytes.start + code.len();
        let errors = added_errors(language, &rope, &after, &region);
        if errors.is_empty() || attempt >= 2 {
            break (new_text, errors);
        }
        let _ = writeln!(
            err,
            "tandem: the answer has syntax errors; asking once more"
        );
        request.messages.push(Message::assistant(reply));
        request.messages.push(Message::user(correction(&errors)));
    };
    if !errors.is_empty() {
        let _ = writeln!(
            err,
            "tandem: warning: the result still has syntax errors: {}",
            errors.join("; ")
        );
    }
    if options.diff {
        let name = file.display().to_string();
        let diff = similar::TextDiff::from_lines(&text, &new_text);
        let _ = write!(
            out,
            "{}",
            diff.unified_diff().context_radius(3).header(&name, &name)
        );
    } else {
        std::fs::write(&file, &new_text)
            .map_err(|e| Failure::Action(format!("cannot write {}: {e}", file.display())))?;
        let _ = writeln!(err, "tandem: wrote {}", file.display());
    }
    Ok(())
}

/// Streams one answer, with progress on stderr.
async fn ask(
    client: &ModelClient,
    request: &ModelRequest,
    err: &mut impl Write,
) -> Result<String, Failure> {
    let mut stream = client.stream(request, CancellationToken::new());
    let mut text = String::new();
    let mut lines = 0;
    while let Some(event) = stream.next().await {
        match event {
            ModelEvent::TextDelta(delta) => {
                text.push_str(&delta);
                let now = text.matches('\n').count();
                if now > lines {
                    lines = now;
                    let _ = write!(err, "\rtandem: {lines} lines");
                }
            }
            ModelEvent::Usage(_) => {}
            ModelEvent::Finished { .. } => {
                if lines > 0 {
                    let _ = writeln!(err);
                }
                return Ok(text);
            }
            ModelEvent::Error(error) => return Err(Failure::Action(error.to_string())),
        }
    }
    Err(Failure::Action(
        "the model stream ended without finishing".into(),
    ))
}

fn report(err: &mut impl Write, messages: &[crate::config::ConfigMessage]) {
    for message in messages {
        let level = match message.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let _ = writeln!(err, "tandem: settings {level}: {message}");
    }
}

/// The nearest folder above the file holding `.git` or `.tandem`, else the file's folder.
fn workspace_root(file: &Path) -> PathBuf {
    let folder = file.parent().unwrap_or(Path::new("/"));
    folder
        .ancestors()
        .find(|dir| dir.join(".git").exists() || dir.join(".tandem").exists())
        .unwrap_or(folder)
        .to_path_buf()
}

/// `L1:C1-L2:C2` (a range) or `L:C` (a position), 1-based, columns in characters, as bytes.
fn parse_range(
    spec: Option<&str>,
    rope: &Rope,
) -> Result<(Option<std::ops::Range<usize>>, Option<usize>), String> {
    let Some(spec) = spec else {
        return Ok((None, None));
    };
    let point = |text: &str| -> Result<usize, String> {
        let (line, column) = text
            .split_once(':')
            .ok_or_else(|| format!("`{text}` is not LINE:COLUMN"))?;
        let line: usize = line
            .trim()
            .parse()
            .map_err(|_| format!("bad line in `{text}`"))?;
        let column: usize = column
            .trim()
            .parse()
            .map_err(|_| format!("bad column in `{text}`"))?;
        if line == 0 || column == 0 {
            return Err(format!("`{text}`: lines and columns start at 1"));
        }
        let line = (line - 1).min(rope.len_lines().saturating_sub(1));
        let start = rope.line_to_char(line);
        let len = rope.line(line).len_chars();
        Ok(rope.char_to_byte(start + (column - 1).min(len)))
    };
    match spec.split_once('-') {
        Some((a, b)) => {
            let (start, end) = (point(a)?, point(b)?);
            Ok((Some(start.min(end)..start.max(end)), Some(start.min(end))))
        }
        None => {
            let at = point(spec)?;
            Ok((None, Some(at)))
        }
    }
}

#[cfg(test)]
mod tests {
    use ropey::Rope;

    use super::parse_range;

    #[test]
    fn ranges_are_one_based_lines_and_character_columns() {
        let rope = Rope::from_str("ab\nc😀d\n");
        assert_eq!(
            parse_range(Some("2:2-2:3"), &rope),
            Ok((Some(4..8), Some(4)))
        );
        assert_eq!(parse_range(Some("1:1"), &rope), Ok((None, Some(0))));
        assert_eq!(parse_range(None, &rope), Ok((None, None)));
        assert!(parse_range(Some("0:1"), &rope).is_err());
        assert!(parse_range(Some("x"), &rope).is_err());
    }
}
