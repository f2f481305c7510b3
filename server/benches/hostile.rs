//! Hostile sources: what the walks over a document cost when its author is not on our side.
//!
//! - `items/<case>`: every item of the document (documentSymbol's work before conversion).
//! - `items_around/<case>`: the items around the deepest or last position (hover's work).
//! - `syntax_errors/<case>`: the syntax errors the worker reports (at most 100).
//!
//! Cases: `nested_modules_<n>` is `mod a {` nested `n` deep with a function at the bottom;
//! `one_line_5mb` is 5 MB of small functions on one line (minified code). All of them must grow
//! linearly with the file: a walk that costs the depth per item is quadratic here.
//!
//! Run: `cargo bench -p tandem --bench hostile`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use ropey::Rope;
use tandem::syntax::{Language, items, items_around, parse, syntax_errors};

fn nested_modules(depth: usize) -> String {
    format!(
        "{}fn f() {{}}{}\n",
        "mod a {\n".repeat(depth),
        "}\n".repeat(depth)
    )
}

fn one_line(bytes: usize) -> String {
    let mut out = String::with_capacity(bytes + 64);
    let mut n = 0usize;
    while out.len() < bytes {
        out.push_str(&format!("fn f{n}(x: u64) -> u64 {{ x + {n} }} "));
        n += 1;
    }
    out
}

fn cases() -> Vec<(String, String)> {
    vec![
        ("nested_modules_1000".to_owned(), nested_modules(1_000)),
        ("nested_modules_8000".to_owned(), nested_modules(8_000)),
        ("nested_modules_50000".to_owned(), nested_modules(50_000)),
        ("one_line_5mb".to_owned(), one_line(5_000_000)),
    ]
}

fn walks(c: &mut Criterion) {
    for (name, source) in cases() {
        let rope = Rope::from_str(&source);
        let Some(tree) = parse(Language::Rust, &rope, None) else {
            continue;
        };
        let mut group = c.benchmark_group("hostile");
        group.sample_size(10);
        group.warm_up_time(Duration::from_millis(100));
        group.measurement_time(Duration::from_secs(2));
        group.bench_function(format!("items/{name}"), |b| {
            b.iter(|| black_box(items(Language::Rust, &tree, &rope)));
        });
        // The deepest function, or the last one on the line.
        let at = source.rfind("fn f").unwrap_or(0) + 3;
        group.bench_function(format!("items_around/{name}"), |b| {
            b.iter(|| black_box(items_around(Language::Rust, &tree, &rope, at..at)));
        });
        group.bench_function(format!("syntax_errors/{name}"), |b| {
            b.iter(|| black_box(syntax_errors(&tree, &rope, 100)));
        });
        group.finish();
    }
}

criterion_group!(benches, walks);
criterion_main!(benches);
