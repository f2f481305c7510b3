//! What an external agent wrote to disk during a job: a snapshot of the workspace's visible
//! files taken at the start, compared with the disk later, keeping the text needed to put
//! files back when the user rejects the job.

use std::collections::BTreeMap;
use std::fs::Metadata;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::agent::task::tools::list::{slashed, visible_walk};
use crate::agent::workspace_files::is_secret_file;

/// The text of a file larger than this is not kept: it cannot be put back.
pub const MAX_KEPT_FILE_BYTES: u64 = 1024 * 1024;
/// Text is kept for files until their sizes add up to this; later ones are tracked by size and
/// modification time only.
pub const MAX_KEPT_TOTAL_BYTES: u64 = 64 * 1024 * 1024;
/// The snapshot walks at most this many files, and `changes` looks at most at this many files
/// that are not in it: taking and comparing stay quick on a huge tree.
pub const MAX_WALKED_FILES: usize = 20_000;
/// A file modified this close to a snapshot may change again within the file system's timestamp
/// granularity without its modification time moving (git's "racily clean" entries): its text is
/// always compared, never trusted to its size and time.
const RACY_WINDOW: Duration = Duration::from_secs(2);

/// What a file held before, as far as the snapshot knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Before {
    /// It did not exist.
    Missing,
    Text(String),
    /// It existed, but its text was not kept (over the size limits, or not UTF-8), or the
    /// snapshot stopped at its file limit before reaching it: it cannot be put back.
    Unknown,
}

/// What a file holds now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum After {
    /// It was deleted (or is no longer a regular file).
    Deleted,
    Text(String),
    /// It exists, but its text was not read: over `MAX_KEPT_FILE_BYTES`, or not UTF-8.
    Unknown,
}

/// One file that differs from the snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskChange {
    /// The root joined with `relative`.
    pub path: PathBuf,
    /// Relative to the root, `/`-separated.
    pub relative: String,
    pub before: Before,
    pub after: After,
}

/// The workspace's visible files as they were when it was taken.
#[derive(Clone, Debug)]
pub struct DiskSnapshot {
    root: PathBuf,
    limits: Limits,
    files: BTreeMap<String, Entry>,
    /// The bytes of text kept, against `limits.total_bytes`.
    kept: u64,
    /// The walk stopped at `limits.files`: a file not in `files` may have existed before.
    truncated: bool,
    taken: SystemTime,
}

#[derive(Clone, Copy, Debug)]
struct Limits {
    file_bytes: u64,
    total_bytes: u64,
    files: usize,
}

const LIMITS: Limits = Limits {
    file_bytes: MAX_KEPT_FILE_BYTES,
    total_bytes: MAX_KEPT_TOTAL_BYTES,
    files: MAX_WALKED_FILES,
};

#[derive(Clone, Debug)]
struct Entry {
    path: PathBuf,
    len: u64,
    /// `None` when the size and time cannot be trusted to tell the file unchanged (racy).
    modified: Option<SystemTime>,
    /// `None` when the text was not kept.
    text: Option<String>,
}

impl DiskSnapshot {
    /// Walks `root` and keeps each visible file's size, modification time and (within the
    /// limits) text.
    pub fn take(root: &Path) -> DiskSnapshot {
        Self::take_within(root, LIMITS)
    }

    fn take_within(root: &Path, limits: Limits) -> DiskSnapshot {
        let mut snapshot = DiskSnapshot {
            root: root.to_path_buf(),
            limits,
            files: BTreeMap::new(),
            kept: 0,
            truncated: false,
            taken: SystemTime::now(),
        };
        for (relative, path, metadata) in visible_files(root) {
            if snapshot.files.len() == limits.files {
                snapshot.truncated = true;
                break;
            }
            let text = match read_text(&path, snapshot.room()) {
                // Checked again: the file may have grown since it was measured.
                After::Text(text) if text.len() as u64 <= snapshot.room() => Some(text),
                _ => None,
            };
            snapshot.insert(relative, Entry::new(&path, Some(&metadata), text));
        }
        snapshot
    }

    /// Files that differ from the snapshot now (created, changed, deleted), sorted by relative
    /// path. A file whose modification time changed but whose text is the same is not a
    /// change. `skip` leaves paths out (the caller's own writes).
    pub fn changes(&self, skip: &dyn Fn(&Path) -> bool) -> Vec<DiskChange> {
        let mut changes = Vec::new();
        // Files in the snapshot are looked at by their path, not through a new walk: a file the
        // agent hides behind a new ignore rule is still seen.
        for (relative, entry) in &self.files {
            if skip(&entry.path) {
                continue;
            }
            match std::fs::symlink_metadata(&entry.path) {
                Ok(metadata) if metadata.is_file() && entry.unchanged(&metadata) => continue,
                Err(error) if error.kind() != std::io::ErrorKind::NotFound => continue,
                _ => {}
            }
            let after = read_text(&entry.path, self.limits.file_bytes);
            let before = entry.text.clone().map_or(Before::Unknown, Before::Text);
            if let (Before::Text(old), After::Text(new)) = (&before, &after)
                && old == new
            {
                continue;
            }
            changes.push(change(relative, &entry.path, before, after));
        }
        let unseen = if self.truncated {
            Before::Unknown
        } else {
            Before::Missing
        };
        let new_files = visible_files(&self.root)
            .filter(|(relative, _, _)| !self.files.contains_key(relative))
            .take(self.limits.files);
        for (relative, path, metadata) in new_files {
            // Past a truncated snapshot, only a file modified since it was taken can be new.
            let recent = metadata
                .modified()
                .is_ok_and(|at| is_recent(at, self.taken));
            if skip(&path) || self.truncated && !recent {
                continue;
            }
            let after = read_text(&path, self.limits.file_bytes);
            changes.push(change(&relative, &path, unseen.clone(), after));
        }
        changes.sort_by(|a, b| a.relative.cmp(&b.relative));
        changes
    }

    /// Takes `change` as the new base for its path (so it is not reported again unless it
    /// changes again).
    pub fn absorb(&mut self, change: &DiskChange) {
        if let Some(old) = self.files.remove(&change.relative) {
            self.kept -= old.text.map_or(0, |text| text.len() as u64);
        }
        if change.after == After::Deleted {
            // Not in the snapshot: if the file is there after all, it shows as created.
            return;
        }
        let text = match &change.after {
            After::Text(text) if text.len() as u64 <= self.room() => Some(text.clone()),
            _ => None,
        };
        let metadata = std::fs::symlink_metadata(&change.path).ok();
        let mut entry = Entry::new(
            &change.path,
            metadata.filter(Metadata::is_file).as_ref(),
            text,
        );
        // The file may have moved on since `changes` read it: its size and time then belong to
        // a newer text, which the next `changes` must compare to see.
        if read_text(&change.path, self.limits.file_bytes) != change.after {
            entry.modified = None;
        }
        self.insert(change.relative.clone(), entry);
    }

    /// The most text one more file may keep within the limits.
    fn room(&self) -> u64 {
        let left = self.limits.total_bytes.saturating_sub(self.kept);
        self.limits.file_bytes.min(left)
    }

    fn insert(&mut self, relative: String, entry: Entry) {
        self.kept += entry.text.as_ref().map_or(0, |text| text.len() as u64);
        self.files.insert(relative, entry);
    }
}

impl Entry {
    /// The entry of a file with `metadata`, or of one that is not there (never unchanged).
    fn new(path: &Path, metadata: Option<&Metadata>, text: Option<String>) -> Entry {
        let modified = metadata.and_then(|metadata| metadata.modified().ok());
        // Only a kept text can be compared; a file without one is judged by size and time alone.
        let now = SystemTime::now();
        let racy = text.is_some() && modified.is_none_or(|at| is_recent(at, now));
        Entry {
            path: path.to_path_buf(),
            len: metadata.map_or(0, Metadata::len),
            modified: if racy { None } else { modified },
            text,
        }
    }

    fn unchanged(&self, metadata: &Metadata) -> bool {
        self.len == metadata.len()
            && self.modified.is_some()
            && self.modified == metadata.modified().ok()
    }
}

/// Whether `at` is within `RACY_WINDOW` of `now`, or after it.
fn is_recent(at: SystemTime, now: SystemTime) -> bool {
    now.checked_sub(RACY_WINDOW).is_none_or(|since| at >= since)
}

/// The visible regular files under `root`, secret files left out, in a stable order.
fn visible_files(root: &Path) -> impl Iterator<Item = (String, PathBuf, Metadata)> + '_ {
    visible_walk(root)
        .sort_by_file_name(|a, b| a.cmp(b))
        .build()
        .flatten()
        .filter(|entry| entry.file_type().is_some_and(|t| t.is_file()))
        .filter_map(move |entry| {
            let relative = entry.path().strip_prefix(root).ok()?;
            if is_secret_file(relative) {
                return None;
            }
            let metadata = entry.metadata().ok()?;
            Some((slashed(relative), entry.path().to_path_buf(), metadata))
        })
}

/// The text of the file at `path` if it is UTF-8 and at most `max_bytes` long. A link is not
/// followed: it is no regular file, and counts as deleted.
fn read_text(path: &Path, max_bytes: u64) -> After {
    match std::fs::symlink_metadata(path) {
        Ok(metadata) if !metadata.is_file() => return After::Deleted,
        Ok(metadata) if metadata.len() > max_bytes => return After::Unknown,
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return After::Deleted,
        Err(_) => return After::Unknown,
    }
    match std::fs::read(path) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => After::Deleted,
        Err(_) => After::Unknown,
        Ok(bytes) => String::from_utf8(bytes).map_or(After::Unknown, After::Text),
    }
}

fn change(relative: &str, path: &Path, before: Before, after: After) -> DiskChange {
    DiskChange {
        path: path.to_path_buf(),
        relative: relative.to_owned(),
        before,
        after,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::write_file;

    /// Small limits, so the tests write bytes, not megabytes.
    const SMALL: Limits = Limits {
        file_bytes: 8,
        total_bytes: 20,
        files: 100,
    };

    /// Space-separated: `path=text` writes, `-path` deletes, `!path` writes bytes that are not
    /// UTF-8, `>path` / `<path` move its modification time an hour ahead / back, `=path` sets it
    /// to the start of the second, as a file system with one-second timestamps would.
    fn apply(root: &Path, steps: &str) {
        for step in steps.split(' ').filter(|step| !step.is_empty()) {
            let (op, path) = (&step[..1], root.join(&step[1..]));
            let hour = Duration::from_secs(3600);
            let moved = |at| {
                let file = std::fs::File::options().write(true).open(&path);
                file.and_then(|file| file.set_modified(at)).expect("touch");
            };
            match (op, step.split_once('=')) {
                ("=", _) => {
                    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH);
                    let second = Duration::from_secs(now.expect("after 1970").as_secs());
                    moved(SystemTime::UNIX_EPOCH + second);
                }
                (_, Some((rel, text))) => write_file(root, rel, text),
                ("-", None) => std::fs::remove_file(&path).expect("delete"),
                ("!", None) => std::fs::write(&path, [0xff, 0xfe]).expect("write"),
                (">", None) => moved(SystemTime::now() + hour),
                ("<", None) => moved(SystemTime::now() - hour),
                _ => panic!("unknown step {step}"),
            }
        }
    }

    /// `relative: before -> after; ...`, `-` for missing or deleted, `?` for unknown.
    fn show(snapshot: &DiskSnapshot, skip: &dyn Fn(&Path) -> bool) -> String {
        let shown = snapshot.changes(skip).into_iter().map(|change| {
            assert_eq!(change.path, snapshot.root.join(&change.relative));
            let before = match change.before {
                Before::Missing => "-".to_owned(),
                Before::Text(text) => text.escape_debug().to_string(),
                Before::Unknown => "?".to_owned(),
            };
            let after = match change.after {
                After::Deleted => "-".to_owned(),
                After::Text(text) => text.escape_debug().to_string(),
                After::Unknown => "?".to_owned(),
            };
            format!("{}: {before} -> {after}", change.relative)
        });
        shown.collect::<Vec<_>>().join("; ")
    }

    fn changed(snapshot: &DiskSnapshot) -> String {
        show(snapshot, &|_| false)
    }

    fn take(files: &str, limits: Limits) -> (tempfile::TempDir, DiskSnapshot) {
        let dir = tempfile::tempdir().expect("tempdir");
        apply(dir.path(), files);
        let snapshot = DiskSnapshot::take_within(dir.path(), limits);
        (dir, snapshot)
    }

    #[test]
    fn reports_files_created_changed_and_deleted_and_nothing_else() {
        let cases = [
            // files before | steps | changes
            "a.rs=abc | |",
            " | src/new.rs=fn | src/new.rs: - -> fn",
            // Same length and time: the snapshot was taken too soon to trust them.
            "a.rs=abc =a.rs | a.rs=abd =a.rs | a.rs: abc -> abd",
            "a.rs=abc | -a.rs | a.rs: abc -> -",
            "a.rs=abc | a.rs=abc >a.rs |",
            "a.rs=abc | !a.rs | a.rs: abc -> ?",
            "b=b a/c=c | c=new -b a/c=cc | a/c: c -> cc; b: b -> -; c: - -> new",
            // Ignored, secret and `.git` files are never reported.
            ".gitignore=out/\n*.log | out/a.js=x x.log=y |",
            ".tandemignore=private/ | private/notes.md=n |",
            ".env=A=1 | .env=A=2 cfg/.env.local=B .git/config=x id_rsa=k |",
            // A file hidden by a new ignore rule is still seen.
            "a.rs=x | .gitignore=a.rs a.rs=y | .gitignore: - -> a.rs; a.rs: x -> y",
            // Over the per-file limit (8 bytes): tracked by size and time only.
            "big=123456789 | |",
            "big=123456789 | >big | big: ? -> ?",
            "big=123456789 | big=small | big: ? -> small",
            " | big=123456789 | big: - -> ?",
            // Over the total limit (20 bytes): `a` and `b` are kept, `c` would make 24.
            "a=aaaaaaaa b=bbbbbbbb c=cccccccc | a=a c=c | a: aaaaaaaa -> a; c: ? -> c",
        ];
        for case in cases {
            let [files, steps, expected] = case.split('|').map(str::trim).collect::<Vec<_>>()[..]
            else {
                panic!("not `files | steps | changes`: {case}");
            };
            let (dir, snapshot) = take(files, SMALL);
            apply(dir.path(), steps);
            assert_eq!(changed(&snapshot), expected, "{case}");
        }
    }

    #[test]
    fn skip_leaves_the_callers_own_writes_out() {
        let (dir, snapshot) = take("a=a b=b", SMALL);
        apply(dir.path(), "a=A b=B c=C");
        let own = [dir.path().join("a"), dir.path().join("c")];
        assert_eq!(
            show(&snapshot, &|path| own.contains(&path.to_path_buf())),
            "b: b -> B"
        );
    }

    #[test]
    fn an_absorbed_change_is_the_new_base() {
        let (dir, mut snapshot) = take("a=a b=b", SMALL);
        apply(dir.path(), "a=A -b c=C");
        for change in snapshot.changes(&|_| false) {
            snapshot.absorb(&change);
        }
        assert_eq!(changed(&snapshot), "");
        apply(dir.path(), "a=AA b=B -c");
        assert_eq!(changed(&snapshot), "a: A -> AA; b: - -> B; c: C -> -");
        // Written again between `changes` and `absorb`: the size and time seen are not the
        // absorbed text's.
        let (dir, mut snapshot) = take("a=a", SMALL);
        apply(dir.path(), "a=A");
        let changes = snapshot.changes(&|_| false);
        apply(dir.path(), "a=AB <a");
        snapshot.absorb(&changes[0]);
        assert_eq!(changed(&snapshot), "a: A -> AB");
    }

    #[test]
    fn past_the_file_limit_only_files_modified_since_are_reported() {
        // `c` is not walked; it was there before, so it is not new.
        let (dir, snapshot) = take("a=a b=b c=c <c", Limits { files: 2, ..SMALL });
        assert_eq!(changed(&snapshot), "");
        apply(dir.path(), "d=d");
        assert_eq!(changed(&snapshot), "d: ? -> d");
    }
}
