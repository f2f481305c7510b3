//! Tandem: a coding agent inside any editor, served as one language server.

pub mod edits;
