//! Property test: two jobs stream into one document through [`DocumentEdits`] while the
//! user types around both, with each simulated editor; the result must equal the
//! replay. 1,000 cases per editor by default (`TANDEM_PROPTEST_CASES`).
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use proptest::prelude::*;
use ropey::Rope;

use super::sim::{EchoStyle, Flavor, SimEditor, ToServer};
use super::{ChangeOutcome, CharChange, DocumentEdits, Region, apply_change};

/// The document is `outside[0] region[0] outside[1] region[1] outside[2]`; job `j`
/// rewrites `region[j]`.
#[derive(Debug, Clone)]
struct Case {
    outside: [String; 3],
    region: [String; 2],
    actions: Vec<Action>,
}

#[derive(Debug, Clone)]
enum Action {
    /// The user edits outside text `seg`: at char `at` (clamped), delete up to `delete`
    /// chars of it, insert `insert`.
    User {
        seg: usize,
        at: usize,
        delete: usize,
        insert: String,
    },
    Chunk {
        job: usize,
        text: String,
    },
    Cancel {
        job: usize,
    },
    Deliver,
    Server,
    Flush,
}

struct Run {
    editor: SimEditor,
    doc: Rope,
    version: i32,
    jobs: DocumentEdits<usize>,
    /// The replay: the user's text between and around the regions.
    outside: [String; 3],
    /// What each job asked its region to hold, the original first.
    asked: [Vec<String>; 2],
    streamed: [Option<String>; 2],
    cancelled: [bool; 2],
    /// Edit ids as the editor sees them (unique in the document) to (job, session id).
    ids: HashMap<u64, (usize, u64)>,
}

impl Run {
    fn new(flavor: Flavor, case: &Case) -> Self {
        let [o0, o1, o2] = &case.outside;
        let [r0, r1] = &case.region;
        let text = format!("{o0}{r0}{o1}{r1}{o2}");
        let doc = Rope::from_str(&text);
        let version = 1;
        let len = |s: &str| s.chars().count();
        let a = len(o0);
        let b = a + len(r0) + len(o1);
        let mut jobs = DocumentEdits::default();
        jobs.start(0, &doc, version, Region::new(a, a + len(r0)))
            .unwrap();
        jobs.start(1, &doc, version, Region::new(b, b + len(r1)))
            .unwrap();
        Self {
            editor: SimEditor::new(flavor, &text, version),
            doc,
            version,
            jobs,
            outside: case.outside.clone(),
            asked: [vec![r0.clone()], vec![r1.clone()]],
            streamed: [None, None],
            cancelled: [false, false],
            ids: HashMap::new(),
        }
    }

    fn pump(&mut self) {
        if let Some((job, mut edit)) = self.jobs.next_edit(&self.doc, self.version) {
            self.asked[job].push(self.jobs.get_mut(&job).unwrap().desired().to_string());
            let wire_id = self.ids.len() as u64 + 1;
            self.ids.insert(wire_id, (job, edit.id));
            edit.id = wire_id;
            self.editor.send(edit, &self.doc);
        }
    }

    fn server_step(&mut self) -> Result<bool, TestCaseError> {
        let Some(message) = self.editor.next_message() else {
            return Ok(false);
        };
        let outcomes = match message {
            ToServer::DidChange {
                changes, version, ..
            } => {
                let before = self.doc.clone();
                for change in &changes {
                    apply_change(&mut self.doc, change);
                }
                self.version = version;
                self.jobs
                    .on_did_change(&before, &changes, &self.doc, version)
            }
            ToServer::Answer { id, applied } => {
                let (job, id) = self.ids[&id];
                vec![(job, self.jobs.on_apply_answer(&job, id, applied))]
            }
            ToServer::Stale { id, .. } => {
                let (job, id) = self.ids[&id];
                vec![(job, self.jobs.on_apply_answer(&job, id, false))]
            }
        };
        for (job, outcome) in outcomes {
            prop_assert_ne!(
                outcome,
                ChangeOutcome::UserEditedInside,
                "job {} thinks the user typed inside",
                job
            );
        }
        self.pump();
        Ok(true)
    }

    /// The two regions' spans in the editor's text, if the user's text is intact and
    /// each region holds something its job asked for.
    fn split(&self) -> Result<[String; 2], String> {
        let text = self.editor.text.to_string();
        let [o0, o1, o2] = &self.outside;
        let rest = text
            .strip_prefix(o0.as_str())
            .and_then(|t| t.strip_suffix(o2.as_str()));
        let rest = rest.ok_or_else(|| {
            format!(
                "user's text around the regions lost in {text:?}: {:?}",
                self.outside
            )
        })?;
        for x0 in &self.asked[0] {
            if let Some(tail) = rest
                .strip_prefix(x0.as_str())
                .and_then(|t| t.strip_prefix(o1.as_str()))
                && self.asked[1].iter().any(|x| x == tail)
            {
                return Ok([x0.clone(), tail.to_string()]);
            }
        }
        Err(format!(
            "{text:?} is not the user's text around what the jobs asked for: {:?} {:?}",
            self.outside, self.asked
        ))
    }

    fn user(&mut self, seg: usize, at: usize, delete: usize, insert: &str) {
        let Ok([x0, x1]) = self.split() else { return };
        let len = |s: &str| s.chars().count();
        let base = [
            0,
            len(&self.outside[0]) + len(&x0),
            len(&self.outside[0]) + len(&x0) + len(&self.outside[1]) + len(&x1),
        ];
        let side = &self.outside[seg];
        let at = at.min(len(side));
        let end = (at + delete).min(len(side));
        // Two empty regions at one place have no order between them: the user never
        // deletes all the text between the jobs here.
        if (at == end && insert.is_empty())
            || (seg == 1 && insert.is_empty() && end - at == len(side))
        {
            return;
        }
        let byte = |s: &str, n: usize| s.char_indices().nth(n).map_or(s.len(), |(b, _)| b);
        let (at_b, end_b) = (byte(side, at), byte(side, end));
        let empty_region_before = seg > 0 && [&x0, &x1][seg - 1].is_empty();
        if at == 0 && end == 0 && empty_region_before {
            // Typing at an empty region counts as before it.
            self.outside[seg - 1].push_str(insert);
        } else {
            self.outside[seg].replace_range(at_b..end_b, insert);
        }
        self.editor
            .user_change(CharChange::new(base[seg] + at, base[seg] + end, insert));
    }

    fn settle(&mut self) -> Result<(), TestCaseError> {
        for _ in 0..10_000 {
            if self.editor.deliver() || self.server_step()? || self.editor.flush() {
                continue;
            }
            return Ok(());
        }
        Err(TestCaseError::fail("did not settle"))
    }
}

fn run(flavor: Flavor, case: &Case) -> Result<(), TestCaseError> {
    let mut r = Run::new(flavor, case);
    for action in &case.actions {
        match action {
            Action::User {
                seg,
                at,
                delete,
                insert,
            } => r.user(*seg, *at, *delete, insert),
            Action::Chunk { job, text } if !r.cancelled[*job] => {
                let streamed = r.streamed[*job].get_or_insert_with(String::new);
                streamed.push_str(text);
                let desired = streamed.clone();
                r.jobs.get_mut(job).unwrap().set_desired(&desired);
                r.pump();
            }
            Action::Chunk { .. } => {}
            Action::Cancel { job } => {
                r.cancelled[*job] = true;
                r.jobs.get_mut(job).unwrap().rollback();
                r.pump();
            }
            Action::Deliver => _ = r.editor.deliver(),
            Action::Server => _ = r.server_step()?,
            Action::Flush => _ = r.editor.flush(),
        }
        r.split().map_err(TestCaseError::fail)?;
    }
    r.settle()?;
    let mut expected = Vec::new();
    for job in 0..2 {
        prop_assert!(
            r.jobs.get_mut(&job).unwrap().is_settled(),
            "job {} not settled",
            job
        );
        expected.push(match (&r.streamed[job], r.cancelled[job]) {
            (Some(text), false) => text.clone(),
            _ => case.region[job].clone(),
        });
    }
    let [o0, o1, o2] = &r.outside;
    prop_assert_eq!(
        r.editor.text.to_string(),
        format!("{o0}{}{o1}{}{o2}", expected[0], expected[1])
    );
    prop_assert_eq!(&r.doc, &r.editor.text);
    Ok(())
}

fn case() -> impl Strategy<Value = Case> {
    let outside = "(p|q|é| |\r\n){0,8}";
    let region = "(r|s|ö|\n){0,4}";
    let user = (
        0usize..3,
        prop_oneof![Just(0usize), Just(usize::MAX), 0usize..8],
        0usize..3,
        prop_oneof![Just(String::new()), "(u|v|€|🎉|\r\n){1,3}"],
    )
        .prop_map(|(seg, at, delete, insert)| Action::User {
            seg,
            at,
            delete,
            insert,
        });
    let action = prop_oneof![
        6 => user,
        5 => (0usize..2, "\n?(m|n|😀){1,4}").prop_map(|(job, text)| Action::Chunk { job, text }),
        1 => (0usize..2).prop_map(|job| Action::Cancel { job }),
        4 => Just(Action::Deliver),
        4 => Just(Action::Server),
        2 => Just(Action::Flush),
    ];
    // Some text between the regions, so that two empty ones are not one place.
    let between = "(p|q|é| |\r\n){1,8}";
    (
        (outside, between, outside),
        (region, region),
        prop::collection::vec(action, 0..50),
    )
        .prop_map(|((o0, o1, o2), (r0, r1), actions)| Case {
            outside: [o0, o1, o2],
            region: [r0, r1],
            actions,
        })
}

fn config() -> ProptestConfig {
    crate::test_support::proptest_config(1000, u32::MAX)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn two_jobs_with_vscode(case in case()) {
        run(Flavor::VsCode, &case)?;
    }

    #[test]
    fn two_jobs_with_neovim(case in case()) {
        run(Flavor::Neovim(EchoStyle::PrefixFirst), &case)?;
    }

    #[test]
    fn two_jobs_with_ale(case in case()) {
        run(Flavor::Ale, &case)?;
    }
}
