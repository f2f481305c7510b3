//! Tests of `task_files`: the changed span between two texts, and offsets followed through it.

use super::{changed_span, map_through};

#[test]
fn offsets_follow_one_change() {
    let from = "abcdef";
    let to = "abXYZdef"; // "c" became "XYZ"
    let cases = [(0, 0), (2, 2), (3, 5), (4, 6), (6, 8)];
    for (at, expected) in cases {
        assert_eq!(map_through(from, to, at), expected, "{at}");
    }
    assert_eq!(map_through("abc", "abc", 2), 2);
}

#[test]
fn the_changed_span_is_what_differs_and_nothing_more() {
    let cases = [
        ("abc", "abc", 3..3, ""),
        ("abc", "aXc", 1..2, "X"),
        ("abc", "abXc", 2..2, "X"),
        ("", "new\n", 0..0, "new\n"),
        ("gone\n", "", 0..5, ""),
        ("aaa", "aa", 2..3, ""),
        ("é1é", "é2é", 1..2, "2"),
    ];
    for (old, new, span, text) in cases {
        assert_eq!(
            changed_span(old, new),
            (span, text.to_owned()),
            "{old:?} → {new:?}"
        );
    }
}
