//! What learning costs.
//!
//! - `keystroke/<learning>`: one single-character `didChange` through the engine (the document
//!   and the sessions of its jobs; a plain-text document, so that no background reparse of one
//!   run weighs on the other), with learning off and on (signals going to a real store).
//!   `didChange` never touches the signals: the two must not differ.
//! - `store/job`: the store thread's work for one job that edited: its signal saved when the job
//!   ends and again when its fate is read (two upserts), measured to the flush that waits for
//!   them on disk.
//!
//! Run: `cargo bench -p tandem --bench learning`.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use tandem::agent::actions::Action;
use tandem::agent::engine::Engine;
use tandem::agent::signals::{Fate, Signal, SignalSink};
use tandem::learn::{Store, StoreSignals};
use tandem::text::{Position, PositionEncoding, Range, TextChange};
use tandem::workspace::{DocUri, Workspace, WorkspaceOptions};

const URI: &str = "file:///w/notes.txt";

fn signal(job_id: u64, fate: Fate) -> Signal {
    Signal {
        job_id,
        action: Action::Fix,
        language: Some("rust".into()),
        path: "/w/src/main.rs".into(),
        before: "fn f(x: u64) -> u64 {\n    x.checked_add(1).unwrap()\n}\n".into(),
        agent: "fn f(x: u64) -> u64 {\n    x.checked_add(1).expect(\"no overflow\")\n}\n".into(),
        fate,
        reason: None,
        kept: (fate == Fate::Changed)
            .then(|| "fn f(x: u64) -> Option<u64> {\n    x.checked_add(1)\n}\n".into()),
    }
}

fn keystroke(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let _entered = runtime.enter();
    let state = tempfile::tempdir().expect("a temporary folder");
    let mut group = c.benchmark_group("keystroke");
    for learning in [false, true] {
        let (events, _ignored) = tokio::sync::mpsc::unbounded_channel();
        let engine = Engine::new(Workspace::new(WorkspaceOptions::default(), events));
        let doc = DocUri::from(URI);
        engine
            .documents
            .open(doc.clone(), "plaintext", 0, &common::rust_source(10_000));
        if learning {
            let store = Store::open(state.path().join("bench.sqlite3"), Box::new(|_| {}));
            engine
                .signals
                .set_sink(Some(Arc::new(StoreSignals::new(store))));
        }
        let mut version = 0;
        group.bench_with_input(
            BenchmarkId::from_parameter(if learning { "on" } else { "off" }),
            &learning,
            |b, _| {
                b.iter(|| {
                    version += 1;
                    let line = u32::try_from((version * 7919) % 1_600 * 6 + 1).unwrap_or(1);
                    let at = Position::new(line, 4);
                    let change = TextChange {
                        range: Some(Range::new(at, at)),
                        text: "x".to_owned(),
                    };
                    let applied =
                        engine.did_change(&doc, version, &[change], PositionEncoding::Utf16);
                    std::hint::black_box(applied.is_ok());
                });
            },
        );
    }
    group.finish();
}

fn store_job(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let state = tempfile::tempdir().expect("a temporary folder");
    let store = Store::open(state.path().join("bench.sqlite3"), Box::new(|_| {}));
    let sink = StoreSignals::new(store.clone());
    let mut next = 0u64;
    let mut group = c.benchmark_group("store");
    group.bench_function("job", |b| {
        b.iter_custom(|jobs| {
            let start = Instant::now();
            for _ in 0..jobs {
                next += 1;
                sink.save(&signal(next, Fate::Pending));
                sink.save(&signal(next, Fate::Changed));
            }
            let flushed = runtime.block_on(store.flush(Duration::from_secs(600)));
            assert!(flushed, "the store did not flush");
            start.elapsed()
        });
    });
    group.finish();
}

criterion_group!(benches, keystroke, store_job);
criterion_main!(benches);
