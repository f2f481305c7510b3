//! Tests of `prompt`: what each action's prompt holds, within its budget.

use std::path::PathBuf;

use super::{Action, PromptError, PromptParts, build, fence_for};
use crate::agent::index::IndexedItem;
use crate::agent::team_rules::TeamRule;
use crate::agent::workspace_files::Rules;
use crate::syntax::ItemKind;

#[test]
fn carries_target_rules_and_signatures_and_redacts_secrets() {
    let sig = IndexedItem {
        path: PathBuf::from("src/geo.rs"),
        name: "distance".into(),
        kind: ItemKind::Function,
        signature: "pub fn distance(a: &Point, b: &Point) -> f64".into(),
        line: 4,
    };
    let signatures = [&sig];
    let rules = [Rules {
        path: PathBuf::from("AGENTS.md"),
        text: "Never use unwrap.".into(),
    }];
    let imports = ["use crate::geo::distance;".to_owned()];
    let parts = PromptParts {
        language: "rust",
        path: "src/main.rs",
        target: "let key = \"AKIAIOSFODNN7EXAMPLE\";\nlet d = distance(&a, &b)\n",
        target_line: 3,
        imports: &imports,
        signatures: &signatures,
        rules: &rules,
        instruction: Some("use a match"),
        ..PromptParts::default()
    };
    let prompt = build(Action::Edit, &parts, 10_000).expect("fits");
    for expected in [
        "Never use unwrap.",
        "src/geo.rs:5: pub fn distance(a: &Point, b: &Point) -> f64",
        "use crate::geo::distance;",
        "Instruction: use a match",
        "from line 3",
    ] {
        assert!(
            prompt.user.contains(expected),
            "missing {expected:?} in\n{}",
            prompt.user
        );
    }
    assert!(!prompt.user.contains("AKIAIOSFODNN7EXAMPLE"));
    assert!(prompt.system.contains("one fenced code block"));
    assert_eq!(prompt.sizes.total, prompt.user.len());
    assert!(prompt.sizes.signatures > 0 && prompt.sizes.rules > 0 && prompt.sizes.imports > 0);
}

#[test]
fn drops_the_least_useful_parts_first_and_refuses_what_cannot_fit() {
    let sig = IndexedItem {
        path: PathBuf::from("a.rs"),
        name: "f".into(),
        kind: ItemKind::Function,
        signature: "x".repeat(400),
        line: 0,
    };
    let signatures = [&sig];
    let enclosing = "fn outer() {\n    body();\n}\n";
    let parts = PromptParts {
        language: "rust",
        path: "a.rs",
        target: "body();\n",
        target_line: 2,
        enclosing: Some(enclosing),
        signatures: &signatures,
        ..PromptParts::default()
    };
    let full = build(Action::Fix, &parts, 10_000).expect("fits");
    assert!(full.sizes.signatures > 0);
    let tight = build(Action::Fix, &parts, full.user.len() - 1).expect("fits without signatures");
    assert_eq!(tight.sizes.signatures, 0);
    assert!(tight.sizes.enclosing > 0);
    assert!(matches!(
        build(Action::Fix, &parts, 20),
        Err(PromptError::TooLarge { .. })
    ));
}

#[test]
fn the_context_about_the_file_comes_first_and_is_the_same_for_every_target() {
    let rules = [Rules {
        path: PathBuf::from("AGENTS.md"),
        text: "Never use unwrap.".into(),
    }];
    let team_rules = [TeamRule {
        text: "Prefer iterators.".into(),
        scope: None,
    }];
    let imports = ["use crate::geo::{area, distance};".to_owned()];
    let item = |name: &str, path: &str, line| IndexedItem {
        path: PathBuf::from(path),
        name: name.into(),
        kind: ItemKind::Function,
        signature: format!("pub fn {name}()"),
        line,
    };
    let (distance, area, zeta) = (
        item("distance", "src/geo.rs", 4),
        item("area", "src/geo.rs", 1),
        item("zeta", "src/a.rs", 9),
    );
    let first_signatures = [&distance, &area, &zeta];
    let second_signatures = [&area];
    let parts = |target, line, enclosing, signatures| PromptParts {
        language: "rust",
        path: "src/main.rs",
        target,
        target_line: line,
        enclosing,
        imports: &imports,
        signatures,
        rules: &rules,
        team_rules: &team_rules,
        instruction: Some("double it"),
        ..PromptParts::default()
    };
    let one = build(
        Action::Edit,
        &parts("fn a() {}\n", 3, None, &first_signatures),
        10_000,
    )
    .expect("fits");
    let two = build(
        Action::Edit,
        &parts(
            "    x();\n",
            9,
            Some("fn b() {\n    x();\n}\n"),
            &second_signatures,
        ),
        10_000,
    )
    .expect("fits");
    assert_eq!(one.system, two.system);
    let stable = &one.user[..one.stable];
    assert_eq!(stable, &two.user[..two.stable]);
    assert_eq!(
        stable,
        "The team's rules (.tandem/rules.md), to follow:\n- Prefer iterators.\n\n\
         Project rules (AGENTS.md, nearest last):\n--- AGENTS.md\nNever use unwrap.\n\n\
         File: src/main.rs (rust)\n\n\
         The file's imports:\nuse crate::geo::{area, distance};\n"
    );
    // Then the signatures (in a fixed order), the item around, the target and what to do.
    assert_eq!(
        &one.user[one.stable..],
        "\nSignatures from the workspace of names the target uses:\n\
         src/a.rs:10: pub fn zeta()\nsrc/geo.rs:2: pub fn area()\nsrc/geo.rs:5: pub fn distance()\n\
         \nThe code to rewrite (TARGET) (from line 3):\n```rust\nfn a() {}\n```\n\
         \nInstruction: double it\n"
    );
    let rest = &two.user[two.stable..];
    let at = |text: &str| rest.find(text).expect(text);
    assert!(at("pub fn area()") < at("The code around the target:"));
    assert!(at("The code around the target:") < at("The code to rewrite (TARGET)"));
    assert!(rest.ends_with("\nInstruction: double it\n"), "{rest}");
    let message = one.message();
    assert_eq!(message.content, one.user);
    assert_eq!(message.cache_breakpoint, Some(one.stable));
}

#[test]
fn only_a_whole_rewrite_predicts_its_answer_the_target_as_shown() {
    let parts = PromptParts {
        language: "rust",
        path: "a.rs",
        target: "let key = \"AKIAIOSFODNN7EXAMPLE\";",
        target_line: 1,
        ..PromptParts::default()
    };
    for action in [
        Action::Fix,
        Action::Implement,
        Action::Document,
        Action::Edit,
    ] {
        let prompt = build(action, &parts, 10_000).expect("fits");
        let prediction = prompt.prediction.expect("a rewrite predicts");
        assert_eq!(prediction, "```rust\nlet key = \"[REDACTED]\";\n```\n");
        assert!(prompt.user.contains(&prediction), "{}", prompt.user);
    }
    for action in [Action::Explain, Action::Review, Action::Tests] {
        let prompt = build(action, &parts, 10_000).expect("fits");
        assert_eq!(prompt.prediction, None, "{action:?}");
    }
}

#[test]
fn a_target_with_backticks_gets_a_longer_fence() {
    assert_eq!(fence_for("no ticks"), "```");
    assert_eq!(fence_for("a ``` b"), "````");
    let parts = PromptParts {
        language: "markdown",
        path: "a.md",
        target: "```\ncode\n```\n",
        target_line: 1,
        ..PromptParts::default()
    };
    let prompt = build(Action::Explain, &parts, 10_000).expect("fits");
    assert!(
        prompt.user.contains("````markdown\n```\ncode\n```\n````"),
        "{}",
        prompt.user
    );
}
