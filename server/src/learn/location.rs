//! Where a workspace's store lives: `$XDG_STATE_HOME/tandem/<folder>-<hash>.sqlite3`.

use std::path::{Path, PathBuf};

use super::StableHash;
use crate::config::Environment;

/// Characters of the folder's name kept in the file name.
const NAME_CHARS: usize = 40;

/// The database file of the workspace at `root`: in `$XDG_STATE_HOME/tandem/` (an absolute
/// path, as the XDG spec requires; a relative one is ignored), else `~/.local/state/tandem/`.
/// The file is named after the root folder, for people who look, and a hash of the root's
/// absolute path, so two folders of the same name never share one. `None` when neither
/// variable says where home is.
pub fn database_path(root: &Path, env: &Environment) -> Option<PathBuf> {
    let state_home = env
        .get("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            env.get("HOME")
                .map(|home| Path::new(home).join(".local").join("state"))
        })?;
    let root = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
    let hash = StableHash::of(root.as_os_str().as_encoded_bytes()).hex();
    let file = format!("{}-{}.sqlite3", readable_name(&root), &hash[..16]);
    Some(state_home.join("tandem").join(file))
}

/// The root folder's name with anything but letters, digits, `.`, `_` and `-` replaced, short.
fn readable_name(root: &Path) -> String {
    let name: String = root
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default()
        .chars()
        .take(NAME_CHARS)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let name = name.trim_start_matches('.');
    if name.is_empty() {
        "workspace".to_owned()
    } else {
        name.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::database_path;
    use crate::config::Environment;

    fn check(root: &str, env: &[(&str, &str)], expected: Option<&str>) {
        let env = Environment::from_pairs(env.iter().copied());
        assert_eq!(
            database_path(Path::new(root), &env),
            expected.map(PathBuf::from),
            "{root} {env:?}"
        );
    }

    #[test]
    fn the_file_is_named_after_the_folder_and_a_hash_of_its_path() {
        // The hashes are fixed: a build that changed them would lose every user's store.
        check(
            "/home/ann/code/tandem",
            &[("XDG_STATE_HOME", "/s"), ("HOME", "/home/ann")],
            Some("/s/tandem/tandem-af8d94c1c67c93d0.sqlite3"),
        );
        check(
            "/home/bob/code/tandem",
            &[("XDG_STATE_HOME", "/s")],
            Some("/s/tandem/tandem-af54e42d86734669.sqlite3"),
        );
        check(
            "/w/my project (copy)",
            &[("HOME", "/home/ann")],
            Some("/home/ann/.local/state/tandem/my_project__copy_-a437bc33a336e8c2.sqlite3"),
        );
        // A relative XDG_STATE_HOME is invalid by the spec: home is used.
        check(
            "/",
            &[("XDG_STATE_HOME", "state"), ("HOME", "/h")],
            Some("/h/.local/state/tandem/workspace-8a5edab282632443.sqlite3"),
        );
        check(
            "/w/.hidden",
            &[("HOME", "/h")],
            Some("/h/.local/state/tandem/hidden-aabe3276ced12f95.sqlite3"),
        );
        check("/w", &[], None);
    }
}
