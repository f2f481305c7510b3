//! Tandem: a coding agent inside any editor, served as one language server.

pub mod agent;
pub mod logging;
pub mod lsp;
pub mod syntax;
pub mod text;
pub mod workspace;
