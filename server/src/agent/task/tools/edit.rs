//! `edit_file` and `create_file` as plans: the one exact occurrence of `old` replaced by `new`,
//! or a file that does not exist yet, with errors in words. Nothing here writes.

use std::ops::Range;
use std::path::Path;

use serde_json::Value;

use super::args::{object, required_str};
use super::{OpenBuffers, PlannedChange, current_text, paths};

/// Where the one occurrence of `old` is in `text`, or why there is not exactly one. `name`
/// names the file in the message.
pub fn find_unique(name: &str, text: &str, old: &str) -> Result<Range<usize>, String> {
    if old.is_empty() {
        return Err(
            "`old` is empty: give the exact text to replace (to add text, include a line next to where it goes)"
                .to_owned(),
        );
    }
    let mut found = text.match_indices(old).map(|(at, _)| at);
    let Some(first) = found.next() else {
        if squash(text).contains(&squash(old)) {
            return Err(format!(
                "`old` was not found in {name} exactly, but it is there with different whitespace \
                 (indentation or line breaks): copy it exactly as read_file shows it, without the line numbers"
            ));
        }
        return Err(format!(
            "`old` was not found in {name}: read the file again and copy the text exactly"
        ));
    };
    let count = 1 + text.match_indices(old).skip(1).count();
    if count > 1 {
        return Err(format!(
            "`old` occurs {count} times in {name}: include more of the surrounding lines so that it occurs exactly once"
        ));
    }
    Ok(first..first + old.len())
}

/// `text` with the one occurrence of `old` replaced by `new`.
pub fn plan_edit(name: &str, text: &str, old: &str, new: &str) -> Result<String, String> {
    let range = find_unique(name, text, old)?;
    if old == new {
        return Err("`old` and `new` are the same: nothing would change".to_owned());
    }
    let mut edited = String::with_capacity(text.len() - old.len() + new.len());
    edited.push_str(&text[..range.start]);
    edited.push_str(new);
    edited.push_str(&text[range.end..]);
    Ok(edited)
}

/// Whether a file may be created where one is asked for: not over a file on disk, an open
/// buffer or a folder.
pub fn check_create(name: &str, on_disk: bool, is_folder: bool, open: bool) -> Result<(), String> {
    if is_folder {
        return Err(format!("{name} is a folder; give the path of the new file"));
    }
    if on_disk || open {
        return Err(format!(
            "{name} already exists: read it and change it with edit_file"
        ));
    }
    Ok(())
}

/// The `edit_file` tool: the change it asks for, planned over the buffer's or the disk's text.
pub fn edit_file(
    root: &Path,
    buffers: &dyn OpenBuffers,
    arguments: &Value,
) -> Result<PlannedChange, String> {
    object(arguments)?;
    let path = paths::resolve(root, required_str(arguments, "path")?)?;
    let old = required_str(arguments, "old")?;
    let new = required_str(arguments, "new")?;
    let text = current_text(buffers, &path)?.ok_or_else(|| {
        format!(
            "{} does not exist: create it with create_file",
            path.relative
        )
    })?;
    let new_text = plan_edit(&path.relative, &text, old, new)?;
    Ok(PlannedChange {
        path,
        created: false,
        old_text: text,
        new_text,
    })
}

/// The `create_file` tool: the new file it asks for.
pub fn create_file(
    root: &Path,
    buffers: &dyn OpenBuffers,
    arguments: &Value,
) -> Result<PlannedChange, String> {
    object(arguments)?;
    let path = paths::resolve(root, required_str(arguments, "path")?)?;
    let content = required_str(arguments, "content")?;
    let open = buffers.text(&path.absolute).is_some() || buffers.text(&path.real).is_some();
    // `symlink_metadata`: a dangling link is still something there, not a place for a new file.
    let on_disk = std::fs::symlink_metadata(&path.absolute).is_ok();
    check_create(&path.relative, on_disk, path.real.is_dir(), open)?;
    if let Some(blocker) = file_in_the_way(root, &path.absolute) {
        return Err(format!(
            "{} cannot be created: {blocker} is a file, not a folder",
            path.relative
        ));
    }
    Ok(PlannedChange {
        path,
        created: true,
        old_text: String::new(),
        new_text: content.to_owned(),
    })
}

/// A file (not a folder) where one of `path`'s folders would have to be, as a relative path.
fn file_in_the_way(root: &Path, path: &Path) -> Option<String> {
    let mut folder = path.parent()?;
    while folder.starts_with(root) && folder != root {
        if folder.is_file() {
            return folder
                .strip_prefix(root)
                .ok()
                .map(|p| p.to_string_lossy().replace('\\', "/"));
        }
        folder = folder.parent()?;
    }
    None
}

/// `text` with every run of whitespace made one space, and trimmed: for telling the model that
/// its `old` differs only in whitespace.
fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::{check_create, find_unique, plan_edit};

    /// The range `old` is found at, or words the error must hold.
    type Expected = Result<std::ops::Range<usize>, &'static [&'static str]>;

    /// Each `old` in one text, and what comes of it.
    #[test]
    fn old_must_occur_exactly_once() {
        let text = "fn a() {\n    let x = 1;\n}\nfn b() {\n    let x = 1;\n}\n";
        let cases: [(&str, Expected); 7] = [
            ("fn a() {", Ok(0..8)),
            ("fn b() {\n    let x", Ok(26..44)),
            ("", Err(&["`old` is empty"])),
            ("fn c()", Err(&["not found in f.rs", "read the file again"])),
            (
                "let x = 1;",
                Err(&["occurs 2 times in f.rs", "more of the surrounding lines"]),
            ),
            ("fn a() {\n  let x = 1;", Err(&["different whitespace"])),
            ("fn a() { let x = 1; }", Err(&["different whitespace"])),
        ];
        for (old, expected) in cases {
            match (find_unique("f.rs", text, old), expected) {
                (Ok(got), Ok(range)) => {
                    assert_eq!(got, range, "{old:?}");
                    assert_eq!(&text[got], old);
                }
                (Err(message), Err(words)) => {
                    for word in words {
                        assert!(message.contains(word), "{old:?}: {message}");
                    }
                }
                (got, expected) => panic!("{old:?}: got {got:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn the_one_occurrence_is_replaced_and_nothing_else() {
        let text = "alpha\nbeta\ngamma\n";
        assert_eq!(
            plan_edit("f", text, "beta\n", "BETA\nDELTA\n"),
            Ok("alpha\nBETA\nDELTA\ngamma\n".to_owned())
        );
        assert_eq!(
            plan_edit("f", text, "alpha\n", ""),
            Ok("beta\ngamma\n".to_owned())
        );
        let same = plan_edit("f", text, "gamma", "gamma").expect_err("no change");
        assert!(same.contains("the same"), "{same}");
        let missing = plan_edit("f", text, "omega", "x").expect_err("missing");
        assert!(missing.contains("not found"), "{missing}");
    }

    #[test]
    fn a_file_is_created_only_where_nothing_is() {
        let cases = [
            ((false, false, false), None),
            ((true, false, false), Some("already exists")),
            ((false, false, true), Some("already exists")),
            ((false, true, false), Some("is a folder")),
        ];
        for ((on_disk, folder, open), expected) in cases {
            let got = check_create("n.rs", on_disk, folder, open);
            match expected {
                None => assert_eq!(got, Ok(())),
                Some(words) => {
                    let message = got.expect_err("refused");
                    assert!(message.contains(words), "{message}");
                }
            }
        }
    }
}
