//! Tests of `jobs`: registering, overlaps, decisions, cancelling, forgetting.

use ropey::Rope;

use super::{JobError, JobStatus, Jobs, Verdict};
use crate::agent::actions::Action;
use crate::edits::{CharChange, Region, StreamSession};
use crate::workspace::{Applied, DocUri};

fn session(text: &str, start: usize, end: usize) -> StreamSession {
    StreamSession::new(&Rope::from_str(text), 1, Region::new(start, end))
}

#[test]
fn overlapping_regions_are_refused_touching_ones_are_not() {
    let jobs = Jobs::new();
    let uri = DocUri::from("file:///a.rs");
    let text = "0123456789";
    let first = jobs
        .start(Action::Edit, uri.clone(), Some(session(text, 2, 5)))
        .expect("starts");
    let refused = jobs.start(Action::Fix, uri.clone(), Some(session(text, 4, 6)));
    assert_eq!(
        refused.err(),
        Some(JobError::Overlap {
            other: first.id,
            action: "edit"
        })
    );
    assert!(
        jobs.start(Action::Fix, uri.clone(), Some(session(text, 5, 7)))
            .is_ok()
    );
    assert!(
        jobs.start(
            Action::Fix,
            DocUri::from("file:///b.rs"),
            Some(session(text, 2, 5))
        )
        .is_ok()
    );
    jobs.finish(first.id, JobStatus::Done);
    assert!(
        jobs.start(Action::Fix, uri, Some(session(text, 3, 4)))
            .is_ok()
    );
}

#[test]
fn typing_inside_a_region_stops_its_job_with_a_reason() {
    let jobs = Jobs::new();
    let uri = DocUri::from("file:///a.rs");
    let text = "let a = 1;\nlet b = 2;\n";
    let job = jobs
        .start(Action::Edit, uri.clone(), Some(session(text, 11, 21)))
        .expect("starts");
    // Typing above moves the region and does not stop the job.
    let before = Rope::from_str(text);
    let mut after = before.clone();
    after.insert(0, "// x\n");
    let above = Applied {
        before,
        after: after.clone(),
        version: 2,
        changes: vec![CharChange::new(0, 0, "// x\n")],
        whole_text: false,
    };
    jobs.on_did_change(&uri, &above);
    assert!(!job.cancel.is_cancelled());
    // Typing inside stops it.
    let mut inside = after.clone();
    inside.insert(20, "Z");
    let applied = Applied {
        before: after,
        after: inside,
        version: 3,
        changes: vec![CharChange::new(20, 20, "Z")],
        whole_text: false,
    };
    jobs.on_did_change(&uri, &applied);
    assert!(job.cancel.is_cancelled());
    assert!(
        jobs.stop_reason(job.id)
            .is_some_and(|(r, failed)| r.contains("edited inside") && !failed)
    );
}

#[test]
fn accept_and_reject_only_once_and_only_when_finished() {
    let jobs = Jobs::new();
    let uri = DocUri::from("file:///a.rs");
    let job = jobs
        .start(Action::Edit, uri.clone(), Some(session("abc", 0, 1)))
        .expect("starts");
    assert_eq!(
        jobs.decide(job.id, Verdict::Rejected).err(),
        Some(JobError::StillRunning(job.id))
    );
    jobs.finish(job.id, JobStatus::Done);
    assert!(jobs.decide(job.id, Verdict::Accepted).is_ok());
    assert_eq!(
        jobs.decide(job.id, Verdict::Rejected).err(),
        Some(JobError::AlreadyDecided(job.id, "accepted"))
    );
    let explain = jobs.start(Action::Explain, uri, None).expect("starts");
    jobs.finish(explain.id, JobStatus::Done);
    assert_eq!(
        jobs.decide(explain.id, Verdict::Accepted).err(),
        Some(JobError::NoEdit(explain.id))
    );
    assert_eq!(
        jobs.decide(999, Verdict::Accepted).err(),
        Some(JobError::Unknown(999))
    );
    let counters = jobs.counters();
    assert_eq!(
        (counters.started, counters.done, counters.accepted),
        (2, 2, 1)
    );
}
