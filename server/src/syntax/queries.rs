//! The queries in `grammars/`, embedded at build time and compiled once per language on first use.

use std::sync::OnceLock;

use tree_sitter::{Query, QueryError};

use super::Language;

/// Which query file of a language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum QueryKind {
    Items,
    Tags,
}

impl QueryKind {
    #[cfg(test)]
    pub(crate) const ALL: [QueryKind; 2] = [QueryKind::Items, QueryKind::Tags];
}

/// The query source. TSX shares TypeScript's queries: its grammar is TypeScript's plus JSX.
pub(crate) fn source(lang: Language, kind: QueryKind) -> &'static str {
    use Language::*;
    use QueryKind::*;
    match (lang, kind) {
        (Rust, Items) => include_str!("../../../grammars/rust/items.scm"),
        (Rust, Tags) => include_str!("../../../grammars/rust/tags.scm"),
        (Python, Items) => include_str!("../../../grammars/python/items.scm"),
        (Python, Tags) => include_str!("../../../grammars/python/tags.scm"),
        (JavaScript, Items) => include_str!("../../../grammars/javascript/items.scm"),
        (JavaScript, Tags) => include_str!("../../../grammars/javascript/tags.scm"),
        (TypeScript | Tsx, Items) => include_str!("../../../grammars/typescript/items.scm"),
        (TypeScript | Tsx, Tags) => include_str!("../../../grammars/typescript/tags.scm"),
        (Go, Items) => include_str!("../../../grammars/go/items.scm"),
        (Go, Tags) => include_str!("../../../grammars/go/tags.scm"),
    }
}

pub(crate) fn compile(lang: Language, kind: QueryKind) -> Result<Query, QueryError> {
    Query::new(lang.ts_language(), source(lang, kind))
}

/// The compiled query, or `None` (logged once) if it does not compile; a test compiles them all,
/// so that only happens if a grammar and its queries drift apart.
pub(crate) fn query(lang: Language, kind: QueryKind) -> Option<&'static Query> {
    static CACHE: [OnceLock<Option<Query>>; 12] = [const { OnceLock::new() }; 12];
    let index = (lang as usize) * 2 + kind as usize;
    CACHE
        .get(index)?
        .get_or_init(|| match compile(lang, kind) {
            Ok(query) => Some(query),
            Err(err) => {
                tracing::error!(language = lang.name(), ?kind, %err, "query does not compile");
                None
            }
        })
        .as_ref()
}
