//! The typing path: what one keystroke costs the server, for Rust files of several sizes.
//!
//! - `keystroke/<lines>`: apply one single-character incremental change (utf-16 position) to the
//!   document and edit its syntax tree: the work a `didChange` does before it returns. It must not
//!   grow with the file.
//! - `reparse/<lines>`: the background incremental reparse after one keystroke (coalesced while
//!   typing goes on; it bounds how soon diagnostics and items are current).
//!
//! Run: `cargo bench -p tandem --bench typing`.

mod common;

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use tandem::syntax::{DocSyntax, Language, parse};
use tandem::text::{Document, Position, PositionEncoding, Range, TextChange};

/// Positions spread over the file, inside function names (`fn f12(` becomes `fn fx12(`), so the
/// text stays valid code as a user's typing mostly does.
fn positions(lines: usize, count: usize) -> Vec<Position> {
    let functions = lines / 6;
    (0..count)
        .map(|i| {
            let function = (i * 7919) % functions.max(1);
            Position::new(u32::try_from(function * 6 + 1).unwrap_or(0), 4)
        })
        .collect()
}

fn keystroke(c: &mut Criterion) {
    let mut group = c.benchmark_group("keystroke");
    for lines in [2_500, 10_000, 40_000] {
        let source = common::rust_source(lines);
        let mut doc = Document::new("rust", 0, &source);
        let mut syntax = DocSyntax::new(Language::Rust);
        if let Some(tree) = parse(Language::Rust, doc.rope(), None) {
            syntax.install(0, tree);
        }
        let spots = positions(lines, 4096);
        let mut i = 0usize;
        let mut version = 0;
        group.bench_with_input(BenchmarkId::from_parameter(lines), &lines, |b, _| {
            b.iter(|| {
                let at = spots[i % spots.len()];
                i += 1;
                version += 1;
                let change = TextChange {
                    range: Some(Range::new(at, at)),
                    text: "x".to_owned(),
                };
                let edits = doc
                    .apply_changes(
                        version,
                        std::slice::from_ref(&change),
                        PositionEncoding::Utf16,
                    )
                    .unwrap_or_default();
                syntax.edit(version, &edits);
                black_box(&edits);
            });
        });
    }
    group.finish();
}

fn reparse(c: &mut Criterion) {
    let mut group = c.benchmark_group("reparse");
    group.sample_size(20);
    for lines in [2_500, 10_000, 40_000] {
        let source = common::rust_source(lines);
        let mut doc = Document::new("rust", 0, &source);
        let Some(mut tree) = parse(Language::Rust, doc.rope(), None) else {
            continue;
        };
        let spots = positions(lines, 4096);
        let mut i = 0usize;
        let mut version = 0;
        group.bench_with_input(BenchmarkId::from_parameter(lines), &lines, |b, _| {
            b.iter(|| {
                let at = spots[i % spots.len()];
                i += 1;
                version += 1;
                let change = TextChange {
                    range: Some(Range::new(at, at)),
                    text: "x".to_owned(),
                };
                let edits = doc
                    .apply_changes(
                        version,
                        std::slice::from_ref(&change),
                        PositionEncoding::Utf16,
                    )
                    .unwrap_or_default();
                for e in &edits {
                    tree.edit(&tandem::syntax::input_edit(e));
                }
                if let Some(new_tree) = parse(Language::Rust, doc.rope(), Some(&tree)) {
                    tree = new_tree;
                }
                black_box(&tree);
            });
        });
    }
    group.finish();
}

criterion_group!(benches, keystroke, reparse);
criterion_main!(benches);
