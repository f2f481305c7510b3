//! Turning an action request into what a job needs: the target region (bytes) and the prompt,
//! from the document, its tree, the workspace and the settings. Shared by the LSP commands and
//! `tandem exec`.

use std::ops::Range;
use std::path::Path;

use ropey::Rope;
use tree_sitter::Tree;

use super::actions::{Action, is_unfinished};
use super::context::{enclosing_item, imports, referenced_names};
use super::index::SymbolIndex;
use super::prompt::{self, Prompt, PromptParts};
use super::team_rules::TeamRule;
use super::workspace_files::{agents_rules, refused};
use crate::model::tokens::context_window;
use crate::syntax::{Item, Language, items, items_at, syntax_errors};

/// Signatures from the workspace index at most this many per prompt.
const MAX_SIGNATURES: usize = 30;

/// One action request, in plain terms (byte offsets into `rope`).
pub struct ActionInput<'a> {
    pub action: Action,
    pub rope: &'a Rope,
    pub tree: Option<&'a Tree>,
    pub language: Option<Language>,
    pub range: Option<Range<usize>>,
    pub position: Option<usize>,
    pub instruction: Option<&'a str>,
    /// Diagnostics to fix, in words ("line 3: …").
    pub diagnostics: Vec<String>,
    pub root: Option<&'a Path>,
    pub path: Option<&'a Path>,
    /// How to name the document when it has no path (its URI).
    pub fallback_name: &'a str,
    pub index: Option<&'a SymbolIndex>,
    /// The team's rules that apply to the file.
    pub team_rules: &'a [TeamRule],
    pub model_name: &'a str,
    pub max_output_tokens: u32,
}

/// What the job runs with.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// The region the action works on (rewrites, for the actions that edit).
    pub bytes: Range<usize>,
    pub prompt: Prompt,
    /// Where the result goes when it is not `bytes` of this document (tests kept in another file).
    pub elsewhere: Option<TestFile>,
}

/// A test file next to the source, where the language keeps its tests: the job appends to it
/// (creating it when it does not exist).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestFile {
    pub path: std::path::PathBuf,
    /// Its current content (empty when it does not exist).
    pub existing: String,
    pub exists: bool,
}

/// Finds the target and builds the prompt. The error says, in words, why the action cannot run.
pub fn prepare(input: &ActionInput) -> Result<Prepared, String> {
    let (mut bytes, enclosing, problems) = target(input)?;
    let rope = input.rope;
    let text = |range: &Range<usize>| rope.byte_slice(range.clone()).to_string();
    let mut target_text = text(&bytes);
    // Tests: the item is what the prompt shows; where the tests go is decided here.
    let mut placement = None;
    let mut elsewhere = None;
    let item_bytes = bytes.clone();
    if input.action == Action::Tests {
        let (at, where_, file) = tests_destination(input, &bytes)?;
        placement = Some(where_);
        elsewhere = file;
        bytes = at;
    }
    let instruction = match (&placement, input.instruction) {
        (Some(place), Some(extra)) => Some(format!("{place} {extra}")),
        (Some(place), None) => Some(place.clone()),
        (None, other) => other.map(str::to_owned),
    };
    if input.action == Action::Review {
        // Numbered, so the findings can name lines exactly.
        target_text = target_text
            .split_inclusive('\n')
            .enumerate()
            .map(|(i, line)| format!("{:>5} | {line}", i + 1))
            .collect();
    }
    let enclosing_text = enclosing.as_ref().map(text);
    let (import_lines, names) = match (input.language, input.tree) {
        (Some(language), Some(tree)) => (
            imports(language, tree, rope),
            referenced_names(language, tree, rope, &item_bytes),
        ),
        _ => (Vec::new(), Vec::new()),
    };
    let this_file = input.path.map(Path::to_path_buf).unwrap_or_default();
    let signatures = input
        .index
        .map(|index| {
            index.signatures_for(names.iter().map(String::as_str), &this_file, MAX_SIGNATURES)
        })
        .unwrap_or_default();
    let rules = match (input.root, input.path) {
        (Some(root), Some(path)) => agents_rules(root, path),
        _ => Vec::new(),
    };
    let shown_path = match (input.root, input.path) {
        (Some(root), Some(path)) => path
            .strip_prefix(root)
            .unwrap_or(path)
            .display()
            .to_string(),
        (None, Some(path)) => path.display().to_string(),
        _ => input.fallback_name.to_owned(),
    };
    let parts = PromptParts {
        language: input.language.map_or("text", |l| l.name()),
        path: &shown_path,
        target: &target_text,
        target_line: rope.byte_to_line(bytes.start.min(rope.len_bytes())) + 1,
        enclosing: enclosing_text.as_deref(),
        imports: &import_lines,
        signatures: &signatures,
        diagnostics: &problems,
        rules: &rules,
        team_rules: input.team_rules,
        instruction: instruction.as_deref(),
        ..PromptParts::default()
    };
    let window = context_window(input.model_name).unwrap_or(32_000);
    let tokens = window
        .saturating_sub(input.max_output_tokens as usize)
        .max(2_000);
    // About three characters per token for code: a conservative budget.
    let budget = tokens.saturating_mul(3).min(400_000);
    let prompt = prompt::build(input.action, &parts, budget).map_err(|e| e.to_string())?;
    Ok(Prepared {
        bytes,
        prompt,
        elsewhere,
    })
}

/// Where tests of the item at `item` go: in Rust, the file's own `mod tests` (or a new one at the
/// end); elsewhere, the test file next to the source, as the language's tools expect it.
/// Returns the insertion point in this document (empty when the tests go elsewhere), the
/// placement in words for the prompt, and the other file.
fn tests_destination(
    input: &ActionInput,
    item: &Range<usize>,
) -> Result<(Range<usize>, String, Option<TestFile>), String> {
    let rope = input.rope;
    let language = input
        .language
        .ok_or("this language has no grammar: Tandem cannot tell where its tests go")?;
    let found = match input.tree {
        Some(tree) => items(language, tree, rope),
        None => Vec::new(),
    };
    let is_function = items_at(&found, item.start.max(item.end.saturating_sub(1)))
        .last()
        .is_some_and(|i| {
            matches!(
                i.kind,
                crate::syntax::ItemKind::Function | crate::syntax::ItemKind::Method
            )
        });
    if !is_function {
        return Err("tests are written for a function or method: put the cursor in one".into());
    }
    if language == Language::Rust {
        let module = found
            .iter()
            .find(|i| i.kind == crate::syntax::ItemKind::Module && i.name == "tests");
        if let Some(body) = module.and_then(|m| m.body_range.clone()) {
            // Before the module's closing brace, at the start of its line.
            let close = body.end.saturating_sub(1);
            let line_start = rope.line_to_byte(rope.byte_to_line(close));
            let at = if rope
                .byte_slice(line_start..close)
                .chars()
                .all(char::is_whitespace)
            {
                line_start
            } else {
                close
            };
            return Ok((
                at..at,
                "Answer with only the new #[test] functions to add at the end of the file's existing `mod tests`                  (indented for it; it can use `super::*`)."
                    .into(),
                None,
            ));
        }
        let end = rope.len_bytes();
        return Ok((
            end..end,
            "Answer with a new `#[cfg(test)] mod tests { use super::*; … }` module holding the tests, to be              appended at the end of the file, starting with a blank line."
                .into(),
            None,
        ));
    }
    let path = input
        .path
        .ok_or("the document has no file path to put a test file next to")?;
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("module");
    let ext = path.extension().and_then(|s| s.to_str()).unwrap_or("");
    let name = match language {
        Language::Go => format!("{stem}_test.go"),
        Language::Python => format!("test_{stem}.py"),
        Language::JavaScript | Language::TypeScript | Language::Tsx => format!("{stem}.test.{ext}"),
        Language::Rust => unreachable!("handled above"),
    };
    let test_path = path.with_file_name(&name);
    // The test file is read into the prompt and written: it goes through the same door as the
    // source, and stays inside the workspace.
    if let Some(root) = input.root
        && !test_path.starts_with(root)
    {
        return Err(format!(
            "{} is outside the workspace ({}); Tandem writes no file there",
            test_path.display(),
            root.display()
        ));
    }
    if let Some(why) = refused(input.root, &test_path) {
        return Err(why);
    }
    let exists = test_path.is_file();
    let existing = if exists {
        std::fs::read_to_string(&test_path).unwrap_or_default()
    } else {
        String::new()
    };
    let shown: String = existing.chars().take(8_000).collect();
    let place = if exists {
        format!(
            "The tests go at the end of `{name}`, which holds:\n```\n{shown}\n```\nAnswer with only the code to append              (new tests; imports only if that file lacks them)."
        )
    } else {
        format!(
            "The tests go in a new file `{name}` next to it: answer with its whole content, imports included              (import the code under test from `{stem}`)."
        )
    };
    Ok((
        item.start..item.start,
        place,
        Some(TestFile {
            path: test_path,
            existing,
            exists,
        }),
    ))
}

type Target = (Range<usize>, Option<Range<usize>>, Vec<String>);

/// The region, the item around it (when the region is only part of it) and the problems to fix.
fn target(input: &ActionInput) -> Result<Target, String> {
    let rope = input.rope;
    let found = match (input.language, input.tree) {
        (Some(language), Some(tree)) => items(language, tree, rope),
        _ => Vec::new(),
    };
    let range = input.range.clone();
    let position = input.position.or(range.as_ref().map(|r| r.start));
    let innermost = |byte: usize| items_at(&found, byte).last().copied();
    let whole_item = |item: &Item| line_start_if_indented(rope, item.range.start)..item.range.end;
    let name = input.action.command();
    let bytes = match input.action {
        Action::Implement => {
            let at = position.ok_or_else(|| format!("{name} needs a position"))?;
            let language = input
                .language
                .ok_or("this language has no grammar to find a body in")?;
            let item = items_at(&found, at)
                .into_iter()
                .rev()
                .find(|item| is_unfinished(language, item, rope))
                .ok_or("there is no unfinished body (todo!(), pass, TODO, an empty body) at the position")?;
            whole_item(item)
        }
        Action::Document | Action::Tests => {
            let at = position.ok_or_else(|| format!("{name} needs a position"))?;
            let item =
                innermost(at).ok_or("there is no item (function, type, …) at the position")?;
            whole_item(item)
        }
        Action::Edit => {
            let range = range.ok_or_else(|| format!("{name} needs a range"))?;
            if input.instruction.is_none_or(|i| i.trim().is_empty()) {
                return Err(format!("{name} needs an instruction: say what to change"));
            }
            range
        }
        Action::Review => 0..rope.len_bytes(),
        Action::Task => return Err(format!("{name} works across files: it has no region")),
        Action::Explain | Action::Fix => {
            let range = range
                .or(position.map(|p| p..p))
                .ok_or("a range is needed")?;
            if range.is_empty() {
                match innermost(range.start) {
                    Some(item) => whole_item(item),
                    None => line_of(rope, range.start),
                }
            } else {
                range
            }
        }
    };
    let enclosing = enclosing_item(&found, &bytes)
        .filter(|item| item.range != bytes)
        .map(|item| item.range.clone());
    let mut problems = input.diagnostics.clone();
    if input.action == Action::Fix {
        if let Some(tree) = input.tree {
            for error in syntax_errors(tree, rope, 50) {
                if error.byte_range.start >= bytes.start && error.byte_range.start <= bytes.end {
                    problems.push(format!(
                        "line {}: {}",
                        rope.byte_to_line(error.byte_range.start) + 1,
                        error.message
                    ));
                }
            }
        }
        if problems.is_empty() {
            return Err(
                "there is nothing to fix in the range: no diagnostics were given and it has no syntax errors".into()
            );
        }
    }
    Ok((bytes, enclosing, problems))
}

/// Whether the document ends its lines with `\r\n` (judged from its first lines).
pub fn uses_crlf(rope: &Rope) -> bool {
    rope.lines().take(50).any(|line| {
        let n = line.len_chars();
        n >= 2 && line.char(n - 1) == '\n' && line.char(n - 2) == '\r'
    })
}

/// `byte`, or the start of its line when only indentation precedes it there.
fn line_start_if_indented(rope: &Rope, byte: usize) -> usize {
    let line = rope.byte_to_line(byte);
    let start = rope.line_to_byte(line);
    let before = rope.byte_slice(start..byte);
    if before.chars().all(|c| c == ' ' || c == '\t') {
        start
    } else {
        byte
    }
}

/// The line holding `byte`, without its line end.
fn line_of(rope: &Rope, byte: usize) -> Range<usize> {
    let line = rope.byte_to_line(byte);
    let start = rope.line_to_byte(line);
    let text = rope.line(line).to_string();
    start..start + text.trim_end_matches(['\n', '\r']).len()
}
