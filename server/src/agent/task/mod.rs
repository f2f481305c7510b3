//! A task: the agent across files (issue 15).

pub mod check;
pub mod conversation;
pub mod prompt;
pub mod tools;
