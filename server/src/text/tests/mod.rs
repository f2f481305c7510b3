//! Tests for `text`: data-driven cases for the clamping rules, and property tests against a
//! naive `String` model.

mod document;
mod model;
mod positions;
mod props;
