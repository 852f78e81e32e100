//! Saving the raw bodies of answers that could not be read, for the user to inspect, and the
//! private files and folders that takes.
//!
//! Bodies may hold buyers' names and addresses, so they go to a folder only the user can
//! read: `--dump-dir`, else `$XDG_CACHE_HOME/ordersync/bodies` (`~/.cache/ordersync/bodies`),
//! never a shared, predictable place such as `$TMPDIR/ordersync`. The folder is created 0700
//! and, whoever created it, used only while it is a real folder (not a link) owned by the user
//! and closed to others. Each body is a new file (`O_EXCL`, so no link planted in its place is
//! followed), 0600, with every known secret removed ([`crate::logging::redact_bytes`]). A run
//! saves at most [`MOST_FILES_PER_RUN`] bodies of at most [`MOST_BYTES_PER_FILE`] each, and the
//! folder keeps the last [`KEPT_FILES`] bodies of at most [`KEPT_DAYS`] days: only files named
//! the way this module names them are ever removed.

use crate::error::usage;
use chrono::Utc;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// Bodies saved by one run at most; later ones are not saved (the message says so).
pub const MOST_FILES_PER_RUN: usize = 20;
/// The most of one body saved (the rest is cut off; a page is a few MB at most).
pub const MOST_BYTES_PER_FILE: usize = 8 << 20;
/// Saved bodies kept in the folder, the newest.
pub const KEPT_FILES: usize = 100;
/// Saved bodies older than this are removed.
pub const KEPT_DAYS: u64 = 7;

/// What every saved body's name starts with: the pattern pruning is limited to.
const PREFIX: &str = "ordersync-body-";

/// Where bodies go, and how many this run saved.
pub struct Dumps {
    dir: PathBuf,
    /// `--dump-dir` was checked at start; the default folder is made when first needed.
    state: Mutex<State>,
}

enum State {
    Unchecked,
    Ready {
        saved: usize,
    },
    /// The folder cannot be used (said once, in a warning).
    Unusable,
}

impl Dumps {
    /// `--dump-dir DIR`, checked now: a folder that is not private is a usage error.
    pub fn explicit(dir: &Path) -> anyhow::Result<Dumps> {
        private_dir(dir).map_err(|e| usage(format!("--dump-dir {}: {e}", dir.display())))?;
        Ok(Dumps {
            dir: dir.to_path_buf(),
            state: Mutex::new(State::Ready { saved: 0 }),
        })
    }

    /// The per-user default, made and checked when a body is first saved.
    pub fn default_dir() -> Option<Dumps> {
        Some(Dumps {
            dir: default_path()?,
            state: Mutex::new(State::Unchecked),
        })
    }

    /// Save a body (secrets removed) and name the file, or `None` (with a warning) when it
    /// cannot be saved.
    pub fn save(&self, platform: &str, endpoint: &str, body: &[u8]) -> Option<PathBuf> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let State::Unchecked = *state {
            *state = match private_dir(&self.dir) {
                Ok(()) => State::Ready { saved: 0 },
                Err(e) => {
                    tracing::warn!(
                        "not saving the raw body: {}: {e} (choose another folder with --dump-dir)",
                        self.dir.display()
                    );
                    State::Unusable
                }
            };
        }
        let State::Ready { saved } = &mut *state else {
            return None;
        };
        if *saved >= MOST_FILES_PER_RUN {
            if *saved == MOST_FILES_PER_RUN {
                tracing::warn!(
                    "{MOST_FILES_PER_RUN} raw bodies saved in this run; no more will be"
                );
                *saved += 1;
            }
            return None;
        }
        let name = format!(
            "{PREFIX}{}-{}-{}-{}.json",
            platform,
            endpoint.trim_matches('/').replace(['/', '\\', '.'], "_"),
            Utc::now().format("%Y%m%dT%H%M%S%.3f"),
            std::process::id(),
        );
        let path = self.dir.join(name);
        let cut = &body[..body.len().min(MOST_BYTES_PER_FILE)];
        match write_new_private(&path, &crate::logging::redact_bytes(cut)) {
            Ok(()) => {
                *saved += 1;
                if cut.len() < body.len() {
                    tracing::warn!(
                        "the saved body {} is cut off after {} bytes (of {})",
                        path.display(),
                        cut.len(),
                        body.len()
                    );
                }
                prune(&self.dir, SystemTime::now());
                Some(path)
            }
            Err(e) => {
                tracing::warn!("cannot save the raw body to {}: {e}", path.display());
                None
            }
        }
    }
}

/// `$XDG_CACHE_HOME/ordersync/bodies`, else `$HOME/.cache/ordersync/bodies` (an empty or
/// relative `XDG_CACHE_HOME` is ignored, as the XDG spec says).
fn default_path() -> Option<PathBuf> {
    let absolute = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .and_then(absolute)
        .or_else(|| {
            std::env::var_os("HOME")
                .and_then(absolute)
                .map(|h| h.join(".cache"))
        })?;
    Some(cache.join("ordersync").join("bodies"))
}

/// Make `dir` (0700) when it is missing, then check that it is a folder, not a link, owned by
/// the user and closed to everyone else.
pub fn private_dir(dir: &Path) -> Result<(), String> {
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    match builder.create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("cannot create the folder: {e}")),
    }
    let meta = std::fs::symlink_metadata(dir).map_err(|e| e.to_string())?;
    if meta.file_type().is_symlink() {
        return Err("is a symbolic link; give the folder itself".into());
    }
    if !meta.is_dir() {
        return Err("is not a folder".into());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let me = rustix::process::geteuid().as_raw();
        if meta.uid() != me {
            return Err(format!(
                "is owned by user {}, not by this user ({me}); saved bodies must be private",
                meta.uid()
            ));
        }
        if meta.mode() & 0o077 != 0 {
            return Err(format!(
                "is open to other users (mode {:o}); saved bodies must be private: chmod 700 it",
                meta.mode() & 0o777
            ));
        }
    }
    Ok(())
}

/// Create `path` anew (never through a link, never over a file), readable by the user only.
pub fn write_new_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Remove saved bodies older than [`KEPT_DAYS`], then all but the newest [`KEPT_FILES`]. Only
/// regular files named as [`Dumps::save`] names them are touched.
fn prune(dir: &Path, now: SystemTime) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let oldest = now - Duration::from_secs(KEPT_DAYS * 24 * 3600);
    let mut kept: Vec<(SystemTime, PathBuf)> = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with(PREFIX) && name.ends_with(".json")) {
            continue;
        }
        let Ok(meta) = e.path().symlink_metadata() else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        let modified = meta.modified().unwrap_or(now);
        if modified < oldest {
            let _ = std::fs::remove_file(e.path());
        } else {
            kept.push((modified, e.path()));
        }
    }
    if kept.len() > KEPT_FILES {
        kept.sort_by_key(|k| std::cmp::Reverse(k.0));
        for (_, p) in &kept[KEPT_FILES..] {
            let _ = std::fs::remove_file(p);
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_folder_open_to_others_or_a_link_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let open = tmp.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(private_dir(&open).unwrap_err().contains("chmod 700"));
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&open, &link).unwrap();
        assert!(private_dir(&link).unwrap_err().contains("symbolic link"));
        let made = tmp.path().join("a/b");
        private_dir(&made).unwrap();
        let mode = std::fs::metadata(&made).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn pruning_keeps_the_newest_and_only_touches_its_own_files() {
        let tmp = tempfile::tempdir().unwrap();
        let now = SystemTime::now();
        let mut made = Vec::new();
        for i in 0..(KEPT_FILES + 5) {
            let p = tmp.path().join(format!("{PREFIX}x-{i:03}.json"));
            let f = std::fs::File::create(&p).unwrap();
            f.set_modified(now - Duration::from_secs(1000 - i as u64))
                .unwrap();
            made.push(p);
        }
        let old = tmp.path().join(format!("{PREFIX}old.json"));
        std::fs::File::create(&old)
            .unwrap()
            .set_modified(now - Duration::from_secs(8 * 24 * 3600))
            .unwrap();
        let other = tmp.path().join("notes.json");
        std::fs::File::create(&other)
            .unwrap()
            .set_modified(now - Duration::from_secs(30 * 24 * 3600))
            .unwrap();
        prune(tmp.path(), now);
        assert!(!old.exists() && other.exists());
        assert!(made[..5].iter().all(|p| !p.exists()));
        assert!(made[5..].iter().all(|p| p.exists()));
    }
}
