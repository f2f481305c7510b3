//! Test support for Tandem's end-to-end tests: a simulated editor driving the real binary, an
//! in-memory editor driving the job engine directly, and the scripted model server that plays
//! the model in every test.

pub mod bench;
pub mod editor;
pub mod memory_editor;
mod model_control;
pub mod model_fim;
pub mod model_server;
pub mod model_tools;
pub mod real_editors;
