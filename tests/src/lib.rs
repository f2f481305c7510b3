//! Test support for Tandem's end-to-end tests: a simulated editor driving the real binary.

pub mod editor;
