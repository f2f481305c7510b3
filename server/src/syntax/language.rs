//! The languages Tandem has grammars for, how a document is mapped to one, and lazy grammar loading.

use std::sync::OnceLock;

/// A language with a built-in tree-sitter grammar. A document in any other language is plain text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Language {
    Rust,
    Python,
    JavaScript,
    TypeScript,
    Tsx,
    Go,
}

impl Language {
    pub const ALL: [Language; 6] = [
        Language::Rust,
        Language::Python,
        Language::JavaScript,
        Language::TypeScript,
        Language::Tsx,
        Language::Go,
    ];

    /// Maps an LSP `languageId` (as editors send it) to a language.
    pub fn from_language_id(id: &str) -> Option<Self> {
        match id {
            "rust" => Some(Self::Rust),
            "python" => Some(Self::Python),
            "javascript" | "javascriptreact" | "jsx" => Some(Self::JavaScript),
            "typescript" => Some(Self::TypeScript),
            "typescriptreact" | "tsx" => Some(Self::Tsx),
            "go" => Some(Self::Go),
            _ => None,
        }
    }

    /// Maps a path or URI to a language by its extension.
    pub fn from_path(path: &str) -> Option<Self> {
        // Only the last path segment counts, so a dot in a directory name is not an extension.
        let file = path.rsplit(['/', '\\']).next().unwrap_or(path);
        let (_, ext) = file.rsplit_once('.')?;
        match ext.to_ascii_lowercase().as_str() {
            "rs" => Some(Self::Rust),
            "py" | "pyi" => Some(Self::Python),
            "js" | "mjs" | "cjs" | "jsx" => Some(Self::JavaScript),
            "ts" | "mts" | "cts" => Some(Self::TypeScript),
            "tsx" => Some(Self::Tsx),
            "go" => Some(Self::Go),
            _ => None,
        }
    }

    /// The client's `languageId` wins; the extension is the fallback. `None` means plain text.
    pub fn detect(language_id: &str, path: &str) -> Option<Self> {
        Self::from_language_id(language_id).or_else(|| Self::from_path(path))
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Rust => "rust",
            Self::Python => "python",
            Self::JavaScript => "javascript",
            Self::TypeScript => "typescript",
            Self::Tsx => "tsx",
            Self::Go => "go",
        }
    }

    /// The grammar, built on first use so that process start does not pay for all of them.
    pub fn ts_language(self) -> &'static tree_sitter::Language {
        static RUST: OnceLock<tree_sitter::Language> = OnceLock::new();
        static PYTHON: OnceLock<tree_sitter::Language> = OnceLock::new();
        static JAVASCRIPT: OnceLock<tree_sitter::Language> = OnceLock::new();
        static TYPESCRIPT: OnceLock<tree_sitter::Language> = OnceLock::new();
        static TSX: OnceLock<tree_sitter::Language> = OnceLock::new();
        static GO: OnceLock<tree_sitter::Language> = OnceLock::new();
        let (cell, lang_fn) = match self {
            Self::Rust => (&RUST, tree_sitter_rust::LANGUAGE),
            Self::Python => (&PYTHON, tree_sitter_python::LANGUAGE),
            Self::JavaScript => (&JAVASCRIPT, tree_sitter_javascript::LANGUAGE),
            Self::TypeScript => (&TYPESCRIPT, tree_sitter_typescript::LANGUAGE_TYPESCRIPT),
            Self::Tsx => (&TSX, tree_sitter_typescript::LANGUAGE_TSX),
            Self::Go => (&GO, tree_sitter_go::LANGUAGE),
        };
        cell.get_or_init(|| tree_sitter::Language::from(lang_fn))
    }
}
