//! Which workspace files may be read into a prompt (`.gitignore`, `.tandemignore`), and the
//! project's rules from `AGENTS.md` files between the workspace root and a file's folder.

use std::path::{Path, PathBuf};

use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};

/// The name of the file that keeps files out of prompts, beside `.gitignore`s.
pub const TANDEM_IGNORE: &str = ".tandemignore";

/// An `AGENTS.md` larger than this is cut: rules are meant to be short.
const MAX_RULES_BYTES: usize = 16 * 1024;

/// Why the text of the file at `path` may not reach a model nor be written by a job, if it may
/// not: a secret file by its name, or a file ignored by `.gitignore` / `.tandemignore`. The one
/// door every feature that reads a file for a prompt or writes one goes through.
pub fn refused(root: Option<&Path>, path: &Path) -> Option<String> {
    if is_secret_file(path) {
        return Some(format!(
            "{} is a secret file (.env, keys, credentials); Tandem never sends it to a model",
            path.display()
        ));
    }
    if root.is_some_and(|root| is_ignored(root, path)) {
        return Some(format!(
            "{} is ignored by .gitignore or .tandemignore; Tandem does not send it to a model",
            path.display()
        ));
    }
    None
}

/// Files that hold secrets by their name, whatever the ignore files say: `.env`, `.env.*`,
/// `*.pem`, `*.key`, `id_rsa*`, `id_ed25519*`, `.netrc`, `.npmrc`, `.pypirc`.
pub fn is_secret_file(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    matches!(name, ".env" | ".netrc" | ".npmrc" | ".pypirc")
        || name.starts_with(".env.")
        || name.starts_with("id_rsa")
        || name.starts_with("id_ed25519")
        || name.ends_with(".pem")
        || name.ends_with(".key")
}

/// Whether `path` (absolute, inside `root`) is matched by a `.gitignore` or `.tandemignore` in
/// `root` or any folder between it and the file, or by `.git/info/exclude`. Deeper files win,
/// as git does, and `!pattern` re-includes. A path outside `root` is never ignored by this.
pub fn is_ignored(root: &Path, path: &Path) -> bool {
    let Ok(relative) = path.strip_prefix(root) else {
        return false;
    };
    let mut dirs = vec![root.to_path_buf()];
    let mut dir = root.to_path_buf();
    let parents: Vec<_> = relative
        .parent()
        .map(|p| p.components().collect())
        .unwrap_or_default();
    for component in parents {
        dir.push(component);
        // A file inside an ignored folder is ignored.
        if matched(&dirs, &dir, true) == Some(true) {
            return true;
        }
        dirs.push(dir.clone());
    }
    matched(&dirs, path, false) == Some(true)
}

/// The verdict of the deepest ignore file that says anything about `path`.
fn matched(dirs: &[PathBuf], path: &Path, is_dir: bool) -> Option<bool> {
    for (i, dir) in dirs.iter().enumerate().rev() {
        let rules = rules_in(dir, i == 0);
        match rules.matched(path, is_dir) {
            Match::Ignore(_) => return Some(true),
            Match::Whitelist(_) => return Some(false),
            Match::None => {}
        }
    }
    None
}

fn rules_in(dir: &Path, is_root: bool) -> Gitignore {
    let mut builder = GitignoreBuilder::new(dir);
    for name in [".gitignore", TANDEM_IGNORE] {
        let file = dir.join(name);
        if file.is_file() {
            // A malformed line is skipped by the builder; the rest of the file still counts.
            let _ = builder.add(file);
        }
    }
    if is_root {
        let exclude = dir.join(".git").join("info").join("exclude");
        if exclude.is_file() {
            let _ = builder.add(exclude);
        }
    }
    builder.build().unwrap_or_else(|_| Gitignore::empty())
}

/// One `AGENTS.md` and what it says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rules {
    pub path: PathBuf,
    pub text: String,
}

/// The `AGENTS.md` files from `root` down to the folder of `file`, the nearest last (it has the
/// last word). Unreadable or ignored ones are skipped; each is cut at 16 KiB.
pub fn agents_rules(root: &Path, file: &Path) -> Vec<Rules> {
    let Ok(relative) = file.strip_prefix(root) else {
        return Vec::new();
    };
    let mut dirs = vec![root.to_path_buf()];
    let mut dir = root.to_path_buf();
    for component in relative
        .parent()
        .map(Path::components)
        .into_iter()
        .flatten()
    {
        dir.push(component);
        dirs.push(dir.clone());
    }
    dirs.iter()
        .map(|d| d.join("AGENTS.md"))
        .filter(|p| p.is_file() && !is_ignored(root, p))
        .filter_map(|path| {
            let bytes = std::fs::read(&path).ok()?;
            let cut = &bytes[..bytes.len().min(MAX_RULES_BYTES)];
            let text = String::from_utf8_lossy(cut).into_owned();
            Some(Rules { path, text })
        })
        .collect()
}

#[cfg(test)]
mod tests {

    use super::{agents_rules, is_ignored};

    use crate::test_support::write_file as write;

    #[test]
    fn secret_files_are_known_by_their_names() {
        for secret in [
            ".env",
            "app/.env.local",
            "tls/server.pem",
            "server.key",
            "id_rsa",
            "id_rsa.pub",
            "id_ed25519",
            ".netrc",
            ".npmrc",
            ".pypirc",
        ] {
            assert!(
                super::is_secret_file(std::path::Path::new(secret)),
                "{secret}"
            );
            assert!(
                super::refused(None, std::path::Path::new(secret)).is_some(),
                "{secret}"
            );
        }
        for plain in [
            "env.rs",
            "src/keys.rs",
            "environment.py",
            "key.txt",
            "README.md",
        ] {
            assert!(
                !super::is_secret_file(std::path::Path::new(plain)),
                "{plain}"
            );
            assert!(
                super::refused(None, std::path::Path::new(plain)).is_none(),
                "{plain}"
            );
        }
    }

    #[test]
    fn ignore_files_are_followed_like_git() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(root, ".gitignore", "*.log\nsecret/\n!keep.log\n");
        write(root, "src/.tandemignore", "generated.rs\n");
        write(root, "src/deep/.gitignore", "!generated.rs\n");
        let cases = [
            ("a.log", true),
            ("keep.log", false),
            ("secret/key.txt", true),
            ("secret/sub/key.txt", true),
            ("src/main.rs", false),
            ("src/generated.rs", true),
            ("src/deep/generated.rs", false),
            ("src/x.log", true),
        ];
        for (rel, ignored) in cases {
            assert_eq!(is_ignored(root, &root.join(rel)), ignored, "{rel}");
        }
        assert!(!is_ignored(root, std::path::Path::new("/elsewhere/a.log")));
    }

    #[test]
    fn agents_rules_from_root_to_the_file_nearest_last() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(root, "AGENTS.md", "Use tabs.");
        write(root, "src/AGENTS.md", "Prefer iterators.");
        write(root, "src/other/AGENTS.md", "Not for this file.");
        write(root, "src/lib/AGENTS.md", "No unwrap.");
        let rules = agents_rules(root, &root.join("src/lib/x.rs"));
        let texts: Vec<_> = rules.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(texts, ["Use tabs.", "Prefer iterators.", "No unwrap."]);
        assert_eq!(
            agents_rules(root, std::path::Path::new("/elsewhere/x.rs")),
            Vec::new()
        );
    }
}
