//! Test support for Tandem's end-to-end tests: a simulated editor driving the real binary, and
//! the scripted model server that plays the model in every test.

pub mod editor;
pub mod model_server;
