//! Where a path the model names leads: inside the workspace or refused, and why in words.
//!
//! The policy on which files a model may see or change is `workspace_files::refused`; this
//! module only turns the model's relative path into a file inside the root (no absolute path
//! outside it, no `..` above it, no symbolic link out of it) before asking that door.

use std::path::{Component, Path, PathBuf};

use crate::agent::workspace_files::refused;

/// A path the model named, inside the workspace and not refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkspacePath {
    /// The root joined with the model's path, `.` and `..` taken out; what the editor's buffers
    /// are keyed by.
    pub absolute: PathBuf,
    /// Where the file really is once symbolic links are followed (the nearest existing folder
    /// for a file that does not exist yet); inside the root.
    pub real: PathBuf,
    /// The path relative to the root, with `/` between components: how the model sees it.
    pub relative: String,
}

/// The root as the file system names it, so that canonical paths compare with it.
pub fn canonical_root(root: &Path) -> PathBuf {
    root.canonicalize().unwrap_or_else(|_| root.to_path_buf())
}

/// Resolves `given` (relative to `root`, or absolute inside it) to a file the model may read
/// or write. The error is the sentence the model sees: it says the path was refused and why.
pub fn resolve(root: &Path, given: &str) -> Result<WorkspacePath, String> {
    let given = given.trim();
    if given.is_empty() {
        return Err("the path is empty: give a path relative to the workspace root".to_owned());
    }
    let real_root = canonical_root(root);
    let as_given = Path::new(given);
    let inside = if as_given.is_absolute() {
        as_given
            .strip_prefix(root)
            .or_else(|_| as_given.strip_prefix(&real_root))
            .map_err(|_| {
                format!(
                    "refused: {given} is outside the workspace; paths are relative to the workspace root"
                )
            })?
    } else {
        as_given
    };
    let mut parts: Vec<&str> = Vec::new();
    for component in inside.components() {
        match component {
            Component::Normal(part) => parts.push(
                part.to_str()
                    .ok_or_else(|| format!("refused: {given} is not valid UTF-8"))?,
            ),
            Component::CurDir => {}
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return Err(format!(
                        "refused: {given} leads out of the workspace with `..`; paths are relative to the workspace root"
                    ));
                }
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!(
                    "refused: {given} is outside the workspace; paths are relative to the workspace root"
                ));
            }
        }
    }
    if parts.is_empty() {
        return Err(format!(
            "{given} is the workspace root itself, not a file: name a file inside it"
        ));
    }
    let relative = parts.join("/");
    let absolute = parts
        .iter()
        .fold(root.to_path_buf(), |path, part| path.join(part));
    let real = real_path(&absolute);
    if !real.starts_with(&real_root) {
        return Err(format!(
            "refused: {relative} is a symbolic link (or inside one) that leads outside the workspace"
        ));
    }
    // `refused` names the file by the path it is given; the model knows it by its relative path.
    for (checked, checked_root) in [(&absolute, root), (&real, real_root.as_path())] {
        if let Some(why) = refused(Some(checked_root), checked) {
            let why = why.replacen(&checked.display().to_string(), &relative, 1);
            return Err(format!("refused: {why}"));
        }
    }
    Ok(WorkspacePath {
        absolute,
        real,
        relative,
    })
}

/// `path` with every symbolic link followed: the canonical form of its nearest existing
/// ancestor, with the components that do not exist yet put back.
fn real_path(path: &Path) -> PathBuf {
    let mut missing = Vec::new();
    let mut existing = path;
    loop {
        if let Ok(real) = existing.canonicalize() {
            return missing
                .iter()
                .rev()
                .fold(real, |real: PathBuf, part| real.join(part));
        }
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                missing.push(name.to_os_string());
                existing = parent;
            }
            _ => return path.to_path_buf(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::resolve;
    use crate::test_support::write_file as write;

    /// Each path the model might give, and whether it is allowed (`Ok(relative)`) or refused
    /// with a message containing the given words.
    #[test]
    fn paths_inside_the_root_resolve_and_the_rest_are_refused_with_a_reason() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(root, "src/main.rs", "fn main() {}\n");
        write(root, ".gitignore", "target/\n*.log\n");
        write(root, "src/.tandemignore", "generated.rs\n");
        write(root, "src/generated.rs", "// generated\n");
        write(root, "target/out.rs", "");
        let outside = tempfile::tempdir().expect("tempdir");
        write(outside.path(), "elsewhere.rs", "fn elsewhere() {}\n");
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(outside.path(), root.join("linked_out")).expect("symlink");
            std::os::unix::fs::symlink(
                outside.path().join("elsewhere.rs"),
                root.join("file_out.rs"),
            )
            .expect("symlink");
            std::os::unix::fs::symlink(root.join("src/main.rs"), root.join("inside.rs"))
                .expect("symlink");
            write(root, ".env", "TOKEN=1\n");
            std::os::unix::fs::symlink(root.join(".env"), root.join("notes.txt")).expect("symlink");
        }
        let absolute_inside = root.join("src/main.rs").display().to_string();
        let absolute_outside = outside.path().join("elsewhere.rs").display().to_string();
        let mut cases: Vec<(&str, Result<&str, &[&str]>)> = vec![
            ("src/main.rs", Ok("src/main.rs")),
            ("./src/main.rs", Ok("src/main.rs")),
            ("src/../src/main.rs", Ok("src/main.rs")),
            ("src/new/file.rs", Ok("src/new/file.rs")),
            (absolute_inside.as_str(), Ok("src/main.rs")),
            ("", Err(&["empty"])),
            (".", Err(&["workspace root itself"])),
            ("../x.rs", Err(&["refused", "`..`"])),
            ("src/../../x.rs", Err(&["refused", "`..`"])),
            ("/etc/passwd", Err(&["refused", "outside the workspace"])),
            (absolute_outside.as_str(), Err(&["refused", "outside"])),
            ("app.log", Err(&["refused", "app.log", "ignored"])),
            ("target/out.rs", Err(&["refused", "ignored"])),
            ("target/new.rs", Err(&["refused", "ignored"])),
            (
                "src/generated.rs",
                Err(&["refused", "src/generated.rs", "ignored"]),
            ),
            (".env", Err(&["refused", "secret"])),
            ("config/.env.production", Err(&["refused", "secret"])),
            ("tls/server.pem", Err(&["refused", "secret"])),
            ("server.key", Err(&["refused", "secret"])),
            ("home/id_rsa", Err(&["refused", "secret"])),
            ("id_rsa.pub", Err(&["refused", "secret"])),
            ("id_ed25519", Err(&["refused", "secret"])),
            (".netrc", Err(&["refused", "secret"])),
            (".npmrc", Err(&["refused", "secret"])),
            ("py/.pypirc", Err(&["refused", "secret"])),
        ];
        if cfg!(unix) {
            cases.extend([
                (
                    "linked_out/elsewhere.rs",
                    Err(&["refused", "symbolic link"][..]),
                ),
                ("linked_out/new.rs", Err(&["refused", "symbolic link"][..])),
                ("file_out.rs", Err(&["refused", "symbolic link"][..])),
                ("inside.rs", Ok("inside.rs")),
                ("notes.txt", Err(&["refused", "notes.txt", "secret"][..])),
            ]);
        }
        for (given, expected) in cases {
            let got = resolve(root, given);
            match expected {
                Ok(relative) => {
                    let resolved = got.unwrap_or_else(|e| panic!("{given}: {e}"));
                    assert_eq!(resolved.relative, relative, "{given}");
                    assert_eq!(resolved.absolute, root.join(relative), "{given}");
                }
                Err(words) => {
                    let message = got.expect_err(given);
                    for word in words {
                        assert!(message.contains(word), "{given}: {message}");
                    }
                    assert!(
                        !message.contains(&root.display().to_string()),
                        "{given}: the model is told relative paths: {message}"
                    );
                }
            }
        }
    }
}
