//! Tandem: a coding agent inside any editor, served as one language server.

pub mod acp;
pub mod agent;
pub mod complete;
pub mod config;
pub mod doctor;
pub mod edits;
pub mod exec;
pub mod learn;
pub mod logging;
pub mod lsp;
pub mod model;
pub mod syntax;
pub mod text;
pub mod workspace;

#[cfg(test)]
mod test_support;
