//! Data-driven cases for the position rules, one line each. In fixtures `$0` marks the expected
//! place in the text; it is removed before the text is used.

use ropey::Rope;

use crate::text::PositionEncoding::{self, Utf8, Utf16, Utf32};
use crate::text::{
    Position, Range, byte_to_position, char_to_position, point_of_byte, position_to_char,
    range_to_chars,
};

const ALL: [PositionEncoding; 3] = [Utf8, Utf16, Utf32];

/// Splits a fixture into its text and the char index of its `$0` marker.
fn fixture(fixture: &str) -> (Rope, usize) {
    let marker = fixture.find("$0").expect("fixture has a $0 marker");
    let text = fixture.replacen("$0", "", 1);
    (Rope::from_str(&text), fixture[..marker].chars().count())
}

/// `position_to_char` of `(line, character)` in `enc` lands on the `$0` of `fix`.
#[track_caller]
fn check(fix: &str, (line, character): (u32, u32), enc: PositionEncoding) {
    let (rope, expected) = fixture(fix);
    let got = position_to_char(&rope, Position { line, character }, enc);
    assert_eq!(got, expected, "{fix:?} ({line}, {character}) {enc:?}");
}

#[track_caller]
fn check_all(fix: &str, pos: (u32, u32)) {
    for enc in ALL {
        check(fix, pos, enc);
    }
}

/// `char_to_position` of the `$0` of `fix` in `enc` is `(line, character)`.
#[track_caller]
fn check_back(fix: &str, enc: PositionEncoding, (line, character): (u32, u32)) {
    let (rope, char_idx) = fixture(fix);
    let got = char_to_position(&rope, char_idx, enc);
    assert_eq!(got, Position { line, character }, "{fix:?} {enc:?}");
}

#[test]
fn empty_document() {
    check_all("$0", (0, 0));
    check_all("$0", (0, 7));
    check_all("$0", (3, 0));
    check_all("$0", (u32::MAX, u32::MAX));
}

#[test]
fn columns_clamp_to_the_line_end() {
    check_all("a$0bc", (0, 1));
    check_all("abc$0", (0, 3));
    check_all("abc$0", (0, 99));
    check_all("abc$0", (0, u32::MAX));
    check_all("ab$0\ncd", (0, 5));
    check_all("ab\n$0cd", (1, 0));
    check_all("ab\ncd$0", (1, 9));
}

#[test]
fn lines_past_the_last_mean_the_end() {
    check_all("abc$0", (1, 0));
    check_all("ab\ncd$0", (2, 0));
    check_all("ab\ncd$0", (7, 7));
    // A final terminator starts an empty last line.
    check_all("ab\n$0", (1, 0));
    check_all("ab\n$0", (1, 3));
    check_all("ab\n$0", (2, 0));
    check_all("ab\r\n$0", (1, 4));
}

#[test]
fn crlf_is_one_line_end_and_never_split() {
    check_all("ab$0\r\ncd", (0, 2));
    check_all("ab$0\r\ncd", (0, 3));
    check_all("ab$0\r\ncd", (0, 4));
    check_all("ab\r\n$0cd", (1, 0));
    check_all("ab\r\ncd$0\r\n", (1, 2));
    check_all("ab\r\ncd\r\n$0", (2, 0));
}

#[test]
fn lone_cr_ends_a_line() {
    check_all("ab$0\rcd", (0, 3));
    check_all("ab\rc$0d", (1, 1));
    check_all("ab\rcd$0", (1, 9));
    // "\r" then "\r\n": the middle line is empty.
    check_all("a\r$0\r\nb", (1, 0));
    check_all("a\r$0\r\nb", (1, 5));
    check_all("a\r\r\n$0b", (2, 0));
    // "\n" then "\r" is two line ends, not one.
    check_all("a\n$0\rb", (1, 0));
    check_all("a\n\r$0b", (2, 0));
}

#[test]
fn other_unicode_breaks_are_not_line_ends() {
    check(
        "a\u{2028}\u{2029}\u{85}\u{b}\u{c}$0b",
        (0, 6),
        PositionEncoding::Utf32,
    );
    check_all("a\u{2028}b$0", (1, 0));
}

#[test]
fn emoji_columns_in_each_encoding() {
    // "😀" is 4 utf-8 bytes, 2 utf-16 units, 1 char.
    check("a$0😀b", (0, 1), Utf8);
    check("a$0😀b", (0, 2), Utf8);
    check("a$0😀b", (0, 4), Utf8);
    check("a😀$0b", (0, 5), Utf8);
    check("a😀b$0", (0, 6), Utf8);
    check("a$0😀b", (0, 1), Utf16);
    check("a$0😀b", (0, 2), Utf16);
    check("a😀$0b", (0, 3), Utf16);
    check("a😀b$0", (0, 9), Utf16);
    check("a😀$0b", (0, 2), Utf32);
    check("a😀b$0", (0, 3), Utf32);
    check("😀$0😀", (0, 1), Utf32);
}

#[test]
fn cjk_columns_in_each_encoding() {
    // "中" is 3 utf-8 bytes, 1 utf-16 unit, 1 char.
    check("中$0文x", (0, 3), Utf8);
    check("中$0文x", (0, 4), Utf8);
    check("中$0文x", (0, 5), Utf8);
    check("中文$0x", (0, 6), Utf8);
    check("中$0文x", (0, 1), Utf16);
    check("中文$0x", (0, 2), Utf16);
    check("中$0文x", (0, 1), Utf32);
}

#[test]
fn wide_chars_after_a_crlf_line() {
    check("x\r\n😀$0😀\r\ny", (1, 3), Utf16);
    check("x\r\n😀$0😀\r\ny", (1, 2), Utf16);
    check("x\r\n😀😀$0\r\ny", (1, 4), Utf16);
    check("x\r\n😀😀$0\r\ny", (1, 5), Utf16);
    check("x\r\n😀$0😀\r\ny", (1, 7), Utf8);
    check("x\r\n😀😀$0\r\ny", (1, 100), Utf8);
    check("x\r\n😀😀\r\n$0y", (2, 0), Utf8);
}

#[test]
fn char_to_position_cases() {
    for enc in ALL {
        check_back("$0", enc, (0, 0));
        check_back("ab$0\r\ncd", enc, (0, 2));
        // Between "\r" and "\n": rounds down to the end of the line's content.
        check_back("ab\r$0\ncd", enc, (0, 2));
        check_back("ab\r\n$0cd", enc, (1, 0));
        check_back("ab\r$0cd", enc, (1, 0));
        check_back("ab\n$0", enc, (1, 0));
        check_back("a\r\r$0\nb", enc, (1, 0));
    }
    check_back("a😀$0b", Utf8, (0, 5));
    check_back("a😀$0b", Utf16, (0, 3));
    check_back("a😀$0b", Utf32, (0, 2));
    check_back("x\n中文$0", Utf8, (1, 6));
    check_back("x\n中文$0", Utf16, (1, 2));
}

#[test]
fn char_to_position_clamps_past_the_end() {
    let rope = Rope::from_str("ab\ncd");
    assert_eq!(char_to_position(&rope, 99, Utf16), Position::new(1, 2));
    assert_eq!(char_to_position(&Rope::new(), 5, Utf8), Position::new(0, 0));
}

#[test]
fn byte_to_position_rounds_down_and_clamps() {
    let rope = Rope::from_str("a😀b\r\nc");
    assert_eq!(byte_to_position(&rope, 2, Utf16), Position::new(0, 1));
    assert_eq!(byte_to_position(&rope, 5, Utf16), Position::new(0, 3));
    assert_eq!(byte_to_position(&rope, 5, Utf8), Position::new(0, 5));
    assert_eq!(byte_to_position(&rope, 7, Utf8), Position::new(0, 6));
    assert_eq!(byte_to_position(&rope, 8, Utf32), Position::new(1, 0));
    assert_eq!(byte_to_position(&rope, 999, Utf32), Position::new(1, 1));
}

#[test]
fn point_of_byte_cases() {
    let cases: &[(&str, usize, (usize, usize))] = &[
        ("", 0, (0, 0)),
        ("", 9, (0, 0)),
        ("ab\r\ncd", 2, (0, 2)),
        // The "\n" byte of a CRLF is still on the line the pair ends.
        ("ab\r\ncd", 3, (0, 3)),
        ("ab\r\ncd", 4, (1, 0)),
        ("ab\rcd", 3, (1, 0)),
        ("ab\ncd", 5, (1, 2)),
        ("ab\ncd", 99, (1, 2)),
        // Columns are exact bytes, even inside a char.
        ("中x", 1, (0, 1)),
        ("x\n😀y", 7, (1, 5)),
    ];
    for &(text, byte, expected) in cases {
        assert_eq!(
            point_of_byte(&Rope::from_str(text), byte),
            expected,
            "{text:?} {byte}"
        );
    }
}

#[test]
fn range_to_chars_orders_and_clamps() {
    let rope = Rope::from_str("abcd\nef");
    let range = |(a, b), (c, d)| Range::new(Position::new(a, b), Position::new(c, d));
    for enc in ALL {
        assert_eq!(range_to_chars(&rope, range((0, 1), (0, 3)), enc), 1..3);
        assert_eq!(range_to_chars(&rope, range((0, 3), (0, 1)), enc), 1..1);
        // The end clamps to the end of line 0 (4) before it is compared with the start (5).
        assert_eq!(range_to_chars(&rope, range((1, 0), (0, 99)), enc), 4..4);
        assert_eq!(range_to_chars(&rope, range((0, 2), (9, 0)), enc), 2..7);
        assert_eq!(range_to_chars(&rope, range((5, 0), (6, 0)), enc), 7..7);
    }
}
