//! Starting a job: an action request on a document (as the editor last reported it) becomes a
//! registered job with its target region, prompt and streaming session. The same for every
//! editor; whoever calls it then runs the job with [`run`](super::run).

use std::ops::Range;
use std::path::Path;

use super::Engine;
use super::run::Job;
use crate::agent::actions::Action;
use crate::agent::index::SymbolIndex;
use crate::agent::jobs::JobHandle;
use crate::agent::prompt::ContextSizes;
use crate::agent::request::{ActionInput, prepare, uses_crlf};
use crate::agent::team_rules;
use crate::agent::workspace_files::refused;
use crate::config::{EditMode, Settings};
use crate::edits::{Region, StreamSession};
use crate::model::ModelClient;
use crate::workspace::Snapshot;

/// One action request, in editor terms (byte offsets into the snapshot's text).
pub struct JobInput<'a> {
    pub action: Action,
    /// The document with its syntax, as the editor last reported it.
    pub snapshot: &'a Snapshot,
    pub range: Option<Range<usize>>,
    pub position: Option<usize>,
    pub instruction: Option<&'a str>,
    /// Diagnostics to fix, in words ("line 3: …").
    pub diagnostics: Vec<String>,
    pub root: Option<&'a Path>,
    pub path: Option<&'a Path>,
    pub index: Option<&'a SymbolIndex>,
    pub settings: &'a Settings,
    /// The model client, or why there is none (the job then fails at once, saying so).
    pub client: Result<ModelClient, String>,
}

/// A registered job, ready to [`run`](super::run).
pub struct Started {
    pub handle: JobHandle,
    pub job: Job,
    /// How big each part of the prompt's context was.
    pub sizes: ContextSizes,
}

/// Finds the target, builds the prompt and registers the job. The error says, in words, why
/// the action cannot run (an ignored file, no target at the position, an overlapping job).
pub fn start(engine: &Engine, input: JobInput) -> Result<Started, String> {
    if let Some(why) = input.path.and_then(|path| refused(input.root, path)) {
        return Err(why);
    }
    let snapshot = input.snapshot;
    let rope = &snapshot.rope;
    let team_rules = match (input.root, input.path) {
        (Some(root), Some(path)) => team_rules::for_path(root, path, |file| {
            engine.open_at(file).map(|open| open.rope.to_string())
        }),
        _ => Vec::new(),
    };
    let prepared = prepare(&ActionInput {
        action: input.action,
        rope,
        tree: snapshot.tree.as_ref(),
        language: snapshot.language,
        range: input.range,
        position: input.position,
        instruction: input.instruction,
        diagnostics: input.diagnostics,
        root: input.root,
        path: input.path,
        fallback_name: &snapshot.uri,
        index: input.index,
        team_rules: &team_rules,
        model_name: &input.settings.model.name,
        max_output_tokens: input.settings.model.max_output_tokens,
    })?;
    let session = (input.action.edits() && prepared.elsewhere.is_none()).then(|| {
        let region = Region::new(
            rope.byte_to_char(prepared.bytes.start),
            rope.byte_to_char(prepared.bytes.end),
        );
        StreamSession::new(rope, snapshot.version, region)
    });
    let handle = engine
        .jobs
        .start(input.action, snapshot.uri.clone(), session)
        .map_err(|e| e.to_string())?;
    let region_text = rope.byte_slice(prepared.bytes.clone());
    let ends_with_newline =
        region_text.len_chars() == 0 || region_text.char(region_text.len_chars() - 1) == '\n';
    let sizes = prepared.prompt.sizes;
    let job = Job {
        action: input.action,
        doc: snapshot.uri.clone(),
        prompt: prepared.prompt,
        crlf: uses_crlf(rope),
        region_ends_with_newline: ends_with_newline,
        blocks: matches!(input.action, Action::Fix | Action::Edit | Action::Document)
            && prepared.elsewhere.is_none()
            && region_text.len_lines() as u64 > input.settings.edits.blocks_above_lines,
        preview: input.settings.edits.mode == EditMode::Preview,
        elsewhere: prepared.elsewhere,
        client: input.client,
    };
    tracing::info!(
        job = handle.id,
        action = input.action.name(),
        uri = &*snapshot.uri,
        "job started"
    );
    Ok(Started { handle, job, sizes })
}
