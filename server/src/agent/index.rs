//! The workspace symbol index: every item's name and signature in the workspace's source files,
//! so a prompt can carry the signatures of what the code it sends names.
//!
//! Built by walking the workspace (respecting `.gitignore`, `.git/info/exclude` and
//! `.tandemignore`) and parsing each file with its grammar; kept current as files change.
//! Building is blocking work: run it on a blocking thread.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ropey::Rope;

use super::workspace_files::TANDEM_IGNORE;
use crate::syntax::{Item, ItemKind, Language, items, parse};

/// Files larger than this are not indexed (generated code, bundles).
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// One item of the index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexedItem {
    pub path: PathBuf,
    pub name: String,
    pub kind: ItemKind,
    pub signature: String,
    /// Zero-based line of the item's name.
    pub line: usize,
}

#[derive(Default, Debug)]
pub struct SymbolIndex {
    by_name: HashMap<String, Vec<IndexedItem>>,
    /// The names each file contributed, to remove them when it changes.
    names_of_file: HashMap<PathBuf, Vec<String>>,
}

impl SymbolIndex {
    /// Indexes up to `max_files` source files under `root`.
    pub fn build(root: &Path, max_files: usize) -> Self {
        let mut index = Self::default();
        let walk = ignore::WalkBuilder::new(root)
            .hidden(true)
            .git_ignore(true)
            .git_exclude(true)
            .git_global(false)
            .require_git(false)
            .add_custom_ignore_filename(TANDEM_IGNORE)
            .build();
        let mut files = 0;
        for entry in walk.flatten() {
            if files >= max_files {
                tracing::info!(
                    max_files,
                    "symbol index is full; the rest of the workspace is not indexed"
                );
                break;
            }
            let path = entry.path();
            if !entry.file_type().is_some_and(|t| t.is_file())
                || Language::from_path(&path.to_string_lossy()).is_none()
            {
                continue;
            }
            if entry.metadata().map(|m| m.len()).unwrap_or(u64::MAX) > MAX_FILE_BYTES {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(path) else {
                continue;
            };
            files += 1;
            index.update_file(path, &Rope::from_str(&text));
        }
        index
    }

    /// Replaces what the index knows of `path` with the items of `text`.
    pub fn update_file(&mut self, path: &Path, text: &Rope) {
        let found = Self::scan(path, text);
        self.set_file(path, found);
    }

    /// The items of one file (parsing it): the slow half of [`Self::update_file`], which needs no
    /// index, so callers can run it without holding theirs.
    pub fn scan(path: &Path, text: &Rope) -> Vec<IndexedItem> {
        let Some(language) = Language::from_path(&path.to_string_lossy()) else {
            return Vec::new();
        };
        let Some(tree) = parse(language, text, None) else {
            return Vec::new();
        };
        let mut found = Vec::new();
        flatten(&items(language, &tree, text), text, path, &mut found);
        found
    }

    /// Replaces what the index knows of `path` with `found` (from [`Self::scan`]).
    pub fn set_file(&mut self, path: &Path, found: Vec<IndexedItem>) {
        self.remove_file(path);
        if found.is_empty() && Language::from_path(&path.to_string_lossy()).is_none() {
            return;
        }
        let mut names = Vec::with_capacity(found.len());
        for item in found {
            names.push(item.name.clone());
            self.by_name
                .entry(item.name.clone())
                .or_default()
                .push(item);
        }
        self.names_of_file.insert(path.to_path_buf(), names);
    }

    pub fn remove_file(&mut self, path: &Path) {
        let Some(names) = self.names_of_file.remove(path) else {
            return;
        };
        for name in names {
            if let Some(list) = self.by_name.get_mut(&name) {
                list.retain(|item| item.path != path);
                if list.is_empty() {
                    self.by_name.remove(&name);
                }
            }
        }
    }

    /// The items named `name`, in no particular order.
    pub fn lookup(&self, name: &str) -> &[IndexedItem] {
        self.by_name.get(name).map_or(&[], Vec::as_slice)
    }

    /// Items named by `names` that are defined outside `exclude` (the file the prompt already
    /// carries), at most `limit`, in the order the names come, each name once.
    pub fn signatures_for<'a>(
        &self,
        names: impl IntoIterator<Item = &'a str>,
        exclude: &Path,
        limit: usize,
    ) -> Vec<&IndexedItem> {
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for name in names {
            if !seen.insert(name) {
                continue;
            }
            for item in self.lookup(name) {
                if item.path != exclude {
                    out.push(item);
                    if out.len() >= limit {
                        return out;
                    }
                }
            }
        }
        out
    }

    pub fn file_count(&self) -> usize {
        self.names_of_file.len()
    }
}

fn flatten(items: &[Item], rope: &Rope, path: &Path, out: &mut Vec<IndexedItem>) {
    for item in items {
        out.push(IndexedItem {
            path: path.to_path_buf(),
            name: item.name.clone(),
            kind: item.kind,
            signature: item.signature.clone(),
            line: rope.try_byte_to_line(item.name_range.start).unwrap_or(0),
        });
        flatten(&item.children, rope, path, out);
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use ropey::Rope;

    use super::SymbolIndex;
    use crate::syntax::ItemKind;

    use crate::test_support::write_file as write;

    #[test]
    fn indexes_sources_and_respects_ignore_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(root, ".gitignore", "target/\n");
        write(root, ".tandemignore", "private.py\n");
        write(
            root,
            "src/geo.rs",
            "pub struct Point { x: f64 }\npub fn distance(a: &Point, b: &Point) -> f64 { 0.0 }\n",
        );
        write(
            root,
            "tools/util.py",
            "def slugify(text: str) -> str:\n    return text\n",
        );
        write(root, "private.py", "def hidden(): pass\n");
        write(root, "target/gen.rs", "fn generated() {}\n");
        write(root, "README.md", "# not code\n");
        let index = SymbolIndex::build(root, 100);
        assert_eq!(index.file_count(), 2);
        let distance = index.lookup("distance");
        assert_eq!(distance.len(), 1);
        assert_eq!(
            distance[0].signature,
            "pub fn distance(a: &Point, b: &Point) -> f64"
        );
        assert_eq!(distance[0].kind, ItemKind::Function);
        assert_eq!(distance[0].line, 1);
        assert_eq!(
            index.lookup("slugify")[0].signature,
            "def slugify(text: str) -> str:"
        );
        assert!(index.lookup("hidden").is_empty());
        assert!(index.lookup("generated").is_empty());
    }

    #[test]
    fn updates_follow_file_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(root, "a.rs", "fn old_name() {}\n");
        let mut index = SymbolIndex::build(root, 100);
        assert_eq!(index.lookup("old_name").len(), 1);
        let path = root.join("a.rs");
        index.update_file(&path, &Rope::from_str("fn new_name(x: u8) {}\n"));
        assert!(index.lookup("old_name").is_empty());
        assert_eq!(index.lookup("new_name")[0].signature, "fn new_name(x: u8)");
        let found = index.signatures_for(
            ["new_name", "new_name", "missing"],
            Path::new("/other.rs"),
            10,
        );
        assert_eq!(found.len(), 1);
        assert!(index.signatures_for(["new_name"], &path, 10).is_empty());
        index.remove_file(&path);
        assert!(index.lookup("new_name").is_empty());
        assert_eq!(index.file_count(), 0);
    }
}
