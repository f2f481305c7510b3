//! Reading a whole-text `didChange` (kak-lsp, Vim's ALE) around a job's region, for Rust files of
//! several sizes: what each such report costs while a job streams.
//!
//! - `echo/<lines>`: the report shows the job's edit where it was meant, and a line the user
//!   typed above: found around the region, as the common case.
//! - `misplaced/<lines>`: the editor applied the edit a line too high (the user's line was not
//!   reported yet): the search for the shift, and the repair.
//!
//! Run: `cargo bench -p tandem --bench whole_text`.

mod common;

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ropey::Rope;
use tandem::edits::{CharChange, Region, StreamSession, apply_change};

/// A session on the function in the middle of the file with one edit in flight (its body's
/// first line rewritten), the text it went against, and the edit.
fn streaming(text: &str) -> (StreamSession, Rope, CharChange) {
    let rope = Rope::from_str(text);
    let middle = rope.len_lines() / 2 / 6 * 6;
    let start = rope.line_to_char(middle + 1);
    let end = rope.line_to_char(middle + 5);
    let region: String = rope.slice(start..end).to_string();
    let mut session = StreamSession::new(&rope, 1, Region::new(start, end));
    session.set_client_answers(false);
    session.set_desired(&region.replacen("let y = x +", "let y = x * 3 +", 1));
    let edit = session.next_edit(&rope, 1).expect("an edit");
    let change = CharChange::new(edit.start, edit.end, edit.text);
    (session, rope, change)
}

fn reports(c: &mut Criterion) {
    let mut group = c.benchmark_group("whole_text");
    for lines in [1_000, 10_000, 50_000] {
        let text = common::rust_source(lines);
        let (session, before, edit) = streaming(&text);
        let typed = "// typed above\n";
        // Where it was meant, then the user's line at the top.
        let mut echo = before.clone();
        apply_change(&mut echo, &edit);
        echo.insert(0, typed);
        group.bench_with_input(BenchmarkId::new("echo", lines), &echo, |b, after| {
            b.iter(|| {
                let mut s = session.clone();
                black_box(s.on_whole_text(&before, after, 2))
            });
        });
        // The user's line first, then the edit at its old line and column: a line too high.
        let mut misplaced = before.clone();
        misplaced.insert(0, typed);
        let line = before.char_to_line(edit.start);
        let column = edit.start - before.line_to_char(line);
        let at = misplaced.line_to_char(line) + column;
        let len = edit.old_end - edit.start;
        apply_change(
            &mut misplaced,
            &CharChange::new(at, at + len, edit.text.clone()),
        );
        group.bench_with_input(
            BenchmarkId::new("misplaced", lines),
            &misplaced,
            |b, after| {
                b.iter(|| {
                    let mut s = session.clone();
                    black_box(s.on_whole_text(&before, after, 2))
                });
            },
        );
    }
    group.finish();
}

criterion_group!(benches, reports);
criterion_main!(benches);
