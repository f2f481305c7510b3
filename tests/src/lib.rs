//! Test support for end-to-end tests: the scripted model server.
pub mod model_server;
