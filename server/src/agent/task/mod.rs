//! A task: the agent across files (issue 15).

pub mod tools;
