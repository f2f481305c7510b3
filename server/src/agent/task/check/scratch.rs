//! The scratch copy a check runs in: the workspace's files that the ignore files let through
//! (copied, never hard-linked), its links made again, build caches shared by a link, and the
//! editor's and the task's text written over it.

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::{
    CACHEDIR_SIGNATURE, MAX_SCRATCH_BYTES, MAX_SCRATCH_FILES, Overlay, SCRATCH_PREFIX,
    SHARED_FOLDERS, ScratchStats,
};
use crate::agent::workspace_files::TANDEM_IGNORE;

/// Makes the scratch copy: the walk's folders and files (files copied with their times, so that
/// build tools see unchanged files as unchanged), links made again, shared folders linked, then
/// the overlays written over it.
pub(super) fn make_scratch(
    root: &Path,
    overlays: &[Overlay],
    stop: &AtomicBool,
) -> Result<(tempfile::TempDir, ScratchStats), String> {
    let started = Instant::now();
    let scratch = tempfile::Builder::new().prefix(SCRATCH_PREFIX).tempdir();
    let scratch = scratch.map_err(|e| format!("could not make a folder for the check: {e}"))?;
    let to = scratch.path();
    let failed = |what: &Path, e: io::Error| {
        format!(
            "could not copy {} into the check's folder {}: {e}",
            what.display(),
            to.display()
        )
    };
    // Folders tagged as caches are not walked but shared: the filter notes them. A workspace that
    // holds the temporary folder must not copy the copies.
    let tagged = Arc::new(Mutex::new(Vec::new()));
    let note_tagged = Arc::clone(&tagged);
    let temp = std::env::temp_dir();
    let is_scratch = move |entry: &ignore::DirEntry| {
        entry.path().parent() == Some(temp.as_path())
            && entry
                .file_name()
                .to_string_lossy()
                .starts_with(SCRATCH_PREFIX)
    };
    let walk = ignore::WalkBuilder::new(root)
        .hidden(false)
        .git_global(false)
        .require_git(false)
        .parents(false)
        .add_custom_ignore_filename(TANDEM_IGNORE)
        .filter_entry(move |entry| {
            let dir = entry.depth() > 0 && entry.file_type().is_some_and(|t| t.is_dir());
            let cache = dir && is_tagged_cache(entry.path());
            if cache && let Ok(mut tagged) = note_tagged.lock() {
                tagged.push(entry.path().to_path_buf());
            }
            entry.file_name() != ".git" && !cache && !is_scratch(entry)
        })
        .build();
    let canonical = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let mut stats = ScratchStats::default();
    let mut named = Vec::new();
    // Files are copied, never hard-linked: a check that rewrites a file in place (a formatter)
    // would write through a hard link into the user's file. `fs::copy` clones the file instead
    // where the file system can (APFS, and Btrfs or XFS through `copy_file_range`).
    for entry in walk.flatten() {
        if stop.load(Ordering::Relaxed) {
            return Err("the check was stopped while its scratch copy was being made".to_owned());
        }
        let (Ok(relative), Some(kind)) = (entry.path().strip_prefix(root), entry.file_type())
        else {
            continue;
        };
        let (from, at) = (entry.path(), to.join(relative));
        if kind.is_dir() {
            if entry.depth() > 0 {
                fs::create_dir(&at).map_err(|e| failed(from, e))?;
            }
            named.extend(
                SHARED_FOLDERS
                    .iter()
                    .map(|name| from.join(name))
                    .filter(|f| f.is_dir()),
            );
        } else if kind.is_symlink() {
            let target = fs::read_link(from).map_err(|e| failed(from, e))?;
            let resolved = lexical(&from.parent().unwrap_or(root).join(target));
            // A link into the workspace points into the copy, so that nothing writes through it
            // into the user's files; a link out of it stays as it was.
            let inside = [root, canonical.as_path()]
                .into_iter()
                .find_map(|r| resolved.strip_prefix(r).ok());
            let target = inside.map_or_else(|| resolved.clone(), |inside| to.join(inside));
            link(&target, &at, resolved.is_dir()).map_err(|e| failed(from, e))?;
            stats.links += 1;
        } else if kind.is_file() {
            match fs::copy(from, &at) {
                Ok(bytes) => stats.bytes += bytes,
                // Deleted since the walk saw it: as if it had never been there.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(failed(from, e)),
            }
            // Best effort: a file with a new time only costs a build tool a rebuild.
            if let Ok(modified) = fs::metadata(from).and_then(|m| m.modified()) {
                let _ = fs::File::open(&at).and_then(|f| f.set_modified(modified));
            }
            stats.files += 1;
            if stats.files > MAX_SCRATCH_FILES || stats.bytes > MAX_SCRATCH_BYTES {
                return Err(format!(
                    "the workspace is too big to copy for a check (more than {MAX_SCRATCH_FILES} \
                     files or {} GiB outside ignored folders): add folders of generated or \
                     vendored files to .gitignore or .tandemignore",
                    MAX_SCRATCH_BYTES >> 30
                ));
            }
        }
    }
    let tagged = tagged.lock().map(|t| t.clone()).unwrap_or_default();
    // A named folder that the walk copied is source, not ignored: it is in the copy already.
    for folder in named.into_iter().chain(tagged).collect::<BTreeSet<_>>() {
        let Ok(relative) = folder.strip_prefix(root) else {
            continue;
        };
        if fs::symlink_metadata(to.join(relative)).is_err() {
            link(&folder, &to.join(relative), true).map_err(|e| failed(&folder, e))?;
            stats.shared.push(relative.to_path_buf());
        }
    }
    for overlay in overlays {
        let written = write_overlay(root, to, overlay).map_err(|e| failed(&overlay.path, e))?;
        stats.overlays += usize::from(written);
    }
    stats.took = started.elapsed();
    Ok((scratch, stats))
}

/// Writes one overlay into the copy; `false` when it is left out: outside the workspace, in
/// `.git`, under a link (a shared folder or a link out: writing there would reach the user's
/// files), or equal to the file copied.
fn write_overlay(root: &Path, to: &Path, overlay: &Overlay) -> io::Result<bool> {
    let Ok(relative) = overlay.path.strip_prefix(root) else {
        return Ok(false);
    };
    let parts: Vec<_> = relative.components().collect();
    let plain = parts.iter().all(|c| matches!(c, Component::Normal(_)));
    let Some((name, folders)) = parts.split_last().filter(|_| plain) else {
        return Ok(false);
    };
    if parts[0].as_os_str() == ".git" {
        return Ok(false);
    }
    let mut at = to.to_path_buf();
    for folder in folders {
        at.push(folder);
        match fs::symlink_metadata(&at) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::NotFound => fs::create_dir(&at)?,
            Err(e) => return Err(e),
        }
    }
    at.push(name);
    let text = overlay.text.as_bytes();
    match fs::symlink_metadata(&at) {
        Ok(meta) if meta.is_dir() => return Ok(false),
        Ok(meta) if meta.is_symlink() => fs::remove_file(&at)?,
        // An unchanged buffer keeps the copied file's time: a build tool sees nothing new.
        Ok(meta) if meta.len() == text.len() as u64 && fs::read(&at)? == text => return Ok(false),
        _ => {}
    }
    fs::write(&at, text)?;
    Ok(true)
}

fn is_tagged_cache(dir: &Path) -> bool {
    let mut start = [0u8; CACHEDIR_SIGNATURE.len()];
    let read = fs::File::open(dir.join("CACHEDIR.TAG")).and_then(|mut f| f.read_exact(&mut start));
    read.is_ok() && start == CACHEDIR_SIGNATURE
}

/// `path` with `.` and `..` resolved without touching the disk.
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => _ = out.pop(),
            other => out.push(other),
        }
    }
    out
}

#[cfg(unix)]
fn link(target: &Path, at: &Path, _is_dir: bool) -> io::Result<()> {
    std::os::unix::fs::symlink(target, at)
}

#[cfg(windows)]
fn link(target: &Path, at: &Path, is_dir: bool) -> io::Result<()> {
    use std::os::windows::fs::{symlink_dir, symlink_file};
    if is_dir {
        symlink_dir(target, at)
    } else {
        symlink_file(target, at)
    }
}
