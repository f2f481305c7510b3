//! The agent: what each action asks the model, the context it sends, and how it reads the reply.
//! Plain Rust in editor terms; `lsp/` turns requests into calls here.

pub mod actions;
pub mod context;
pub mod disk_snapshot;
pub mod engine;
pub mod explanations;
pub mod findings;
pub mod health;
pub mod index;
mod job_types;
pub mod jobs;
pub mod output;
pub mod prompt;
pub mod proposals;
pub mod request;
pub mod review;
pub mod search_replace;
pub mod secrets;
pub mod signals;
pub mod task;
pub mod team_rules;
pub mod verify;
pub mod workspace_files;
