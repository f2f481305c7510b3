//! Tests of the syntax module: queries against annotated samples, syntax errors, incremental parsing.

mod annotations;
mod errors;
mod hostile;
mod incremental;
mod parse;
mod samples;
