//! Tree-sitter syntax: languages, incremental parsing, queries (items, tags) and syntax errors.
//!
//! Nothing here knows about LSP: everything speaks byte offsets into a `ropey::Rope`.
//! Parsing never fails for the caller: a document with no grammar has no syntax, which is not an error.

mod docs;
mod errors;
mod incremental;
mod items;
mod language;
mod neighbours;
mod parse;
mod queries;
mod rope_text;
mod tags;

pub use errors::{SyntaxError, syntax_errors};
pub use incremental::{DocSyntax, ParseRequest};
pub use items::{
    Item, ItemKind, MAX_ITEM_DEPTH, count_items, items, items_around, items_at, items_unless,
};
pub use language::Language;
pub use parse::{input_edit, parse};
pub use tags::{Tag, tags};

#[cfg(test)]
mod tests;
