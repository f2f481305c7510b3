//! The agent actions, their names, and where each one applies (what the code-action list offers).
//! Deciding applicability uses only the text and its tree: it never calls the model.

use std::ops::Range;

use ropey::Rope;
use tree_sitter::{Node, Tree};

use crate::syntax::{Item, ItemKind, Language, items_at};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    Explain,
    Fix,
    Implement,
    Document,
    Tests,
    Edit,
    Review,
    /// The agent across files (`tandem.task`): a tool-calling loop, not a region rewrite.
    Task,
}

impl Action {
    pub const ALL: [Action; 8] = [
        Action::Explain,
        Action::Fix,
        Action::Implement,
        Action::Document,
        Action::Tests,
        Action::Edit,
        Action::Review,
        Action::Task,
    ];

    /// The short name: `tandem/jobFinished`'s `action`, and the command's suffix.
    pub fn name(self) -> &'static str {
        match self {
            Action::Explain => "explain",
            Action::Fix => "fix",
            Action::Implement => "implement",
            Action::Document => "document",
            Action::Tests => "tests",
            Action::Edit => "edit",
            Action::Review => "review",
            Action::Task => "task",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The `workspace/executeCommand` command.
    pub fn command(self) -> String {
        format!("tandem.{}", self.name())
    }

    /// The label of the job's `workspace/applyEdit`s.
    pub fn edit_label(self) -> String {
        format!("Tandem: {}", self.name())
    }

    /// Whether the action changes the document (explain and review do not).
    pub fn edits(self) -> bool {
        !matches!(self, Action::Explain | Action::Review)
    }
}

/// What the code-action list knows about the request, in plain terms.
#[derive(Debug)]
pub struct Situation<'a> {
    pub language: Option<Language>,
    pub rope: &'a Rope,
    pub tree: Option<&'a Tree>,
    pub items: &'a [Item],
    /// The requested range, in bytes.
    pub range: Range<usize>,
    /// Whether the client sent diagnostics for the range (from any server).
    pub has_diagnostics: bool,
}

/// One offered action and the title the user sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offer {
    pub action: Action,
    pub title: String,
}

/// The actions that apply at `situation`, in the order a menu should show them.
pub fn offers(situation: &Situation) -> Vec<Offer> {
    let mut out = Vec::new();
    let offer = |action, title: String| Offer { action, title };
    let innermost = items_at(situation.items, situation.range.start)
        .last()
        .copied();
    let syntax_error_here = situation
        .tree
        .is_some_and(|tree| has_error_in(tree.root_node(), &situation.range));
    if situation.has_diagnostics || syntax_error_here {
        out.push(offer(Action::Fix, "Tandem: Fix this".into()));
    }
    if let Some(language) = situation.language
        && let Some(item) = innermost
        && is_unfinished(language, item, situation.rope)
    {
        out.push(offer(
            Action::Implement,
            format!("Tandem: Implement `{}`", item.name),
        ));
    }
    if let Some(item) = innermost {
        if item.doc.is_none() {
            out.push(offer(
                Action::Document,
                format!("Tandem: Document `{}`", item.name),
            ));
        }
        if matches!(item.kind, ItemKind::Function | ItemKind::Method) {
            out.push(offer(
                Action::Tests,
                format!("Tandem: Write tests for `{}`", item.name),
            ));
        }
    }
    if !situation.range.is_empty() {
        out.push(offer(Action::Edit, "Tandem: Edit selection…".into()));
        out.push(offer(Action::Task, "Tandem: Task…".into()));
    }
    let what = innermost.map_or_else(|| "this code".to_owned(), |item| format!("`{}`", item.name));
    out.push(offer(Action::Explain, format!("Tandem: Explain {what}")));
    out.push(offer(Action::Review, "Tandem: Review this file".into()));
    out
}

fn has_error_in(node: Node, range: &Range<usize>) -> bool {
    if !node.has_error() {
        return false;
    }
    let r = node.byte_range();
    // Touching counts: a missing `;` is an empty node right at the cursor.
    if r.end < range.start || r.start > range.end {
        return false;
    }
    if node.is_error() || node.is_missing() {
        return true;
    }
    let mut cursor = node.walk();
    node.children(&mut cursor)
        .any(|child| has_error_in(child, range))
}

/// Whether `item`'s body is unfinished: empty, or holding only a placeholder (`todo!()`,
/// `unimplemented!()`, `pass`, `...`, `panic("TODO")`, `throw new Error("not implemented")`, or
/// a `TODO` comment).
pub fn is_unfinished(language: Language, item: &Item, rope: &Rope) -> bool {
    let Some(body) = item.body_range.clone() else {
        return false;
    };
    if !matches!(item.kind, ItemKind::Function | ItemKind::Method) {
        return false;
    }
    let text = rope
        .get_byte_slice(body)
        .map(String::from)
        .unwrap_or_default();
    let mut inner = text.trim();
    // Strip the block's delimiters: `{ }` in C-like languages; Python blocks have none.
    if let Some(stripped) = inner.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
        inner = stripped.trim();
    }
    let statements: Vec<&str> = inner
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    if statements.is_empty() {
        // An empty body; Python cannot have one, an arrow function's expression body is code.
        return language != Language::Python && text.trim_start().starts_with('{');
    }
    statements.iter().all(|line| is_placeholder(language, line))
}

fn is_placeholder(language: Language, line: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    let comment = lower.starts_with("//")
        || lower.starts_with('#')
        || lower.starts_with("/*")
        || lower.starts_with('*');
    if comment {
        return lower.contains("todo") || lower.contains("fixme") || lower.contains("implement");
    }
    let code = lower.trim_end_matches(';');
    match language {
        Language::Rust => code.starts_with("todo!(") || code.starts_with("unimplemented!("),
        Language::Python => {
            code == "pass" || code == "..." || code.starts_with("raise notimplementederror")
        }
        Language::Go => {
            code.starts_with("panic(")
                && (code.contains("todo") || code.contains("not implemented"))
        }
        Language::JavaScript | Language::TypeScript | Language::Tsx => {
            code.starts_with("throw new error(")
                && (code.contains("todo") || code.contains("not implemented"))
        }
    }
}

#[cfg(test)]
mod tests {
    use ropey::Rope;

    use super::{Action, Situation, is_unfinished, offers};
    use crate::syntax::{Language, items, items_at, parse};

    fn unfinished(language: Language, source: &str, at: &str) -> bool {
        let rope = Rope::from_str(source);
        let tree = parse(language, &rope, None).expect("parses");
        let found = items(language, &tree, &rope);
        let byte = source.find(at).expect("marker in source");
        let item = *items_at(&found, byte).last().expect("an item there");
        is_unfinished(language, item, &rope)
    }

    #[test]
    fn unfinished_bodies_in_each_language() {
        let cases = [
            (Language::Rust, "fn a() -> u8 { todo!() }\n", "a(", true),
            (
                Language::Rust,
                "fn a() {\n    unimplemented!(\"later\");\n}\n",
                "a(",
                true,
            ),
            (Language::Rust, "fn a() {}\n", "a(", true),
            (
                Language::Rust,
                "fn a() {\n    // TODO: write this\n}\n",
                "a(",
                true,
            ),
            (Language::Rust, "fn a() -> u8 { 1 }\n", "a(", false),
            (Language::Python, "def a():\n    pass\n", "a(", true),
            (
                Language::Python,
                "def a():\n    \"\"\"Doc.\"\"\"\n    ...\n",
                "a(",
                false,
            ),
            (Language::Python, "def a():\n    ...\n", "a(", true),
            (
                Language::Python,
                "def a():\n    raise NotImplementedError\n",
                "a(",
                true,
            ),
            (Language::Python, "def a():\n    return 1\n", "a(", false),
            (
                Language::Go,
                "package p\nfunc a() int { panic(\"TODO\") }\n",
                "a(",
                true,
            ),
            (Language::Go, "package p\nfunc a() {}\n", "a(", true),
            (
                Language::Go,
                "package p\nfunc a() int { return 1 }\n",
                "a(",
                false,
            ),
            (
                Language::TypeScript,
                "function a(): number { throw new Error(\"not implemented\"); }\n",
                "a(",
                true,
            ),
            (
                Language::JavaScript,
                "function a() {\n  // TODO\n}\n",
                "a(",
                true,
            ),
            (
                Language::JavaScript,
                "const a = (x) => x * 2;\n",
                "a =",
                false,
            ),
        ];
        for (language, source, at, expected) in cases {
            assert_eq!(
                unfinished(language, source, at),
                expected,
                "{} {source:?}",
                language.name()
            );
        }
    }

    fn offered(source: &str, range: std::ops::Range<usize>, has_diagnostics: bool) -> Vec<Action> {
        let rope = Rope::from_str(source);
        let tree = parse(Language::Rust, &rope, None).expect("parses");
        let found = items(Language::Rust, &tree, &rope);
        let situation = Situation {
            language: Some(Language::Rust),
            rope: &rope,
            tree: Some(&tree),
            items: &found,
            range,
            has_diagnostics,
        };
        offers(&situation).into_iter().map(|o| o.action).collect()
    }

    #[test]
    fn each_action_is_offered_where_it_applies() {
        use Action::*;
        let source = "/// Adds.\nfn add(a: u8) -> u8 { a }\nfn todo_me() { todo!() }\nfn broken() { let x = 1 }\n";
        let at = |s: &str| source.find(s).expect("marker");
        assert_eq!(
            offered(source, at("add") + 1..at("add") + 1, false),
            [Tests, Explain, Review]
        );
        assert_eq!(
            offered(source, at("todo_me")..at("todo_me"), false),
            [Implement, Document, Tests, Explain, Review]
        );
        let missing = at("= 1") + 3;
        assert_eq!(
            offered(source, missing..missing, false),
            [Fix, Document, Tests, Explain, Review]
        );
        // The doc comment above `add` is outside every item.
        assert_eq!(
            offered(source, 0..at("fn todo_me"), true),
            [Fix, Edit, Task, Explain, Review]
        );
        assert_eq!(offered("", 0..0, false), [Explain, Review]);
    }

    #[test]
    fn names_commands_and_labels() {
        for action in Action::ALL {
            assert_eq!(Action::from_name(action.name()), Some(action));
            assert_eq!(action.command(), format!("tandem.{}", action.name()));
        }
        assert_eq!(Action::Edit.edit_label(), "Tandem: edit");
        assert!(!Action::Explain.edits() && !Action::Review.edits() && Action::Fix.edits());
    }
}
