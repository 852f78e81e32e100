//! The incremental-sync state file: per shop, the high-water mark of the last fully emitted
//! window.
//!
//! The file is JSON, replaced atomically (temporary file in the same folder, fsync, rename,
//! fsync of the folder), so a crash at any moment leaves either the old or the new state. A
//! run holds an exclusive lock on `FILE.lock` for its whole life: a second run on the same
//! state exits at once instead of racing the first.
//!
//! A state path that is a symbolic link is written through: the link is resolved once and the
//! file it points to is replaced atomically (a dangling link is refused). Anything but a
//! regular file (a FIFO, a device, a folder) is refused before it is read. The lock file is
//! never followed through a link, so a link planted there cannot make the run create or
//! truncate another file. The temporary files of runs that were killed (`.ordersync-state-*`
//! beside the state, `.ordersync-*.partial` beside an output) are removed by the next run
//! ([`remove_leftovers`]); a live run holds a lock on its own, so they are left alone.

use crate::config::Shop;
use crate::error::{Locked, usage};
use crate::platforms::By;
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The file's content.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateFile {
    pub version: u32,
    #[serde(default)]
    pub shops: BTreeMap<String, ShopState>,
}

/// One shop's entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShopState {
    pub platform: String,
    pub by: By,
    /// Everything up to this instant has been emitted.
    #[serde(deserialize_with = "strict_time")]
    pub mark: DateTime<Utc>,
    #[serde(deserialize_with = "strict_time")]
    pub written_at: DateTime<Utc>,
}

/// RFC 3339 exactly as written: chrono's lenient reading took a damaged `" 026-11-25..."` for
/// the year 26 (found by `a_damaged_state_is_never_taken_for_another_mark`).
fn strict_time<'de, D: serde::Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
    DateTime::parse_from_rfc3339(&text)
        .map(|t| t.to_utc())
        .map_err(|e| serde::de::Error::custom(format!("{text:?} is not an RFC 3339 time: {e}")))
}

/// An open, locked state file for one shop.
pub struct Handle {
    shop: String,
    platform: String,
    by: By,
    mark: Option<DateTime<Utc>>,
    file: Shared,
}

/// A state file opened and locked once for all the shops of a run (`pull --all`): each
/// shop's [`Handle`] shares the lock, and their updates are made one at a time, so that no
/// shop's new mark is lost to another's read-modify-write of the same file.
#[derive(Clone)]
pub struct Shared {
    path: PathBuf,
    _lock: std::sync::Arc<File>,
    writing: std::sync::Arc<std::sync::Mutex<()>>,
}

impl Shared {
    /// Open and lock the state file at `given`.
    pub fn open(given: &Path) -> Result<Shared> {
        let path = resolve(given)?;
        let lock = lock(&path)?;
        if let Some(dir) = path.parent() {
            remove_leftovers(dir);
        }
        Ok(Shared {
            path,
            _lock: std::sync::Arc::new(lock),
            writing: std::sync::Arc::default(),
        })
    }

    /// `shop`'s entry, for a pull by `by`.
    pub fn shop(&self, by: By, shop: &Shop) -> Result<Handle> {
        let path = &self.path;
        let file = read(path)?;
        let entry = file.shops.get(&shop.name);
        if let Some(e) = entry {
            if e.platform != shop.platform.as_str() {
                return Err(usage(format!(
                    "state file {}: shop {:?} was synced as a {} shop, but is now {}; use another state file or `ordersync state reset`",
                    path.display(),
                    shop.name,
                    e.platform,
                    shop.platform
                )));
            }
            if e.by != by {
                return Err(usage(format!(
                    "state file {}: shop {:?} was synced with --by {}, not --by {}; use another state file for the other mode",
                    path.display(),
                    shop.name,
                    e.by,
                    by
                )));
            }
        }
        Ok(Handle {
            shop: shop.name.clone(),
            platform: shop.platform.as_str().to_string(),
            by,
            mark: entry.map(|e| e.mark),
            file: self.clone(),
        })
    }
}

/// Open and lock the state file at `given` for a pull of `shop` by `by`.
pub fn open(given: &Path, by: By, shop: &Shop) -> Result<Handle> {
    Shared::open(given)?.shop(by, shop)
}

impl Handle {
    /// The mark as it was when the run started.
    pub fn mark(&self) -> Option<DateTime<Utc>> {
        self.mark
    }

    /// Record that everything up to `end` has been emitted (never moves the mark back).
    pub fn advance(&self, end: DateTime<Utc>) -> Result<()> {
        let _one_at_a_time = self.file.writing.lock().unwrap_or_else(|e| e.into_inner());
        let path = &self.file.path;
        let mut file = read(path)?;
        let mark = match file.shops.get(&self.shop) {
            Some(e) if e.mark > end => e.mark,
            _ => end,
        };
        file.shops.insert(
            self.shop.clone(),
            ShopState {
                platform: self.platform.clone(),
                by: self.by,
                mark,
                written_at: Utc::now(),
            },
        );
        write(path, &file)
    }
}

/// The file a state path names: itself, or the file a symbolic link to it points to. A
/// dangling link, and anything that is not a regular file, is refused.
pub fn resolve(path: &Path) -> Result<PathBuf> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(path.to_path_buf()),
        Err(e) => {
            return Err(usage(format!(
                "cannot read the state file {}: {e}",
                path.display()
            )));
        }
    };
    let real = if meta.file_type().is_symlink() {
        let real = std::fs::canonicalize(path).map_err(|_| {
            usage(format!(
                "the state file {} is a symbolic link to a file that does not exist; point it at \
                 an existing state file, or remove the link to start a new state there",
                path.display()
            ))
        })?;
        tracing::debug!(
            "the state file {} is a link to {}: that file is updated",
            path.display(),
            real.display()
        );
        real
    } else {
        path.to_path_buf()
    };
    let meta = std::fs::metadata(&real).map_err(|e| {
        usage(format!(
            "cannot read the state file {}: {e}",
            real.display()
        ))
    })?;
    if !meta.is_file() {
        return Err(usage(format!(
            "the state file {} is not a regular file ({}); give the path of a state file",
            path.display(),
            kind_of(&meta)
        )));
    }
    Ok(real)
}

/// What a non-regular file is, for messages.
fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_block_device() || t.is_char_device() {
            return "a device";
        }
    }
    if meta.is_dir() {
        "a folder"
    } else {
        "not a file"
    }
}

/// Remove what killed runs left in `dir`: `.ordersync-state-*` (a state being replaced) and
/// `.ordersync-*.partial` (an output being written). Only regular files of those names, and
/// only when no live run holds their lock (each run locks its own while writing it).
pub fn remove_leftovers(dir: &Path) {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        let ours = name.starts_with(".ordersync-state-")
            || (name.starts_with(".ordersync-") && name.ends_with(".partial"));
        if !ours || !e.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let path = e.path();
        let Ok(f) = File::options().read(true).open(&path) else {
            continue;
        };
        if f.try_lock().is_ok() {
            match std::fs::remove_file(&path) {
                Ok(()) => {
                    tracing::info!("removed {}, left by a run that was stopped", path.display())
                }
                Err(err) => tracing::debug!("cannot remove {}: {err}", path.display()),
            }
        }
    }
}

pub fn lock(path: &Path) -> Result<File> {
    let lock_path = PathBuf::from(format!("{}.lock", path.display()));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            usage(format!(
                "cannot create the state folder {}: {e}",
                dir.display()
            ))
        })?;
    }
    let mut opts = File::options();
    opts.create(true).truncate(false).write(true);
    // Never through a link: a dangling one would create its target.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut opts, libc::O_NOFOLLOW);
    let f = opts.open(&lock_path).map_err(|e| {
        let is_link = std::fs::symlink_metadata(&lock_path).is_ok_and(|m| m.file_type().is_symlink());
        if is_link {
            usage(format!(
                "the lock file {} is a symbolic link; it is not followed. Remove it (no run uses a link as its lock)",
                lock_path.display()
            ))
        } else {
            usage(format!(
                "cannot open the lock file {}: {e}",
                lock_path.display()
            ))
        }
    })?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => {
            Err(anyhow::Error::new(Locked(path.display().to_string())))
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(usage(format!("cannot lock {}: {e}", lock_path.display())))
        }
    }
}

/// Read the state file; a missing file is an empty state, a broken one an error, and
/// anything but a regular file is refused before it is opened (a FIFO would block).
pub fn read(path: &Path) -> Result<StateFile> {
    if let Ok(meta) = std::fs::metadata(path)
        && !meta.is_file()
    {
        return Err(usage(format!(
            "the state file {} is not a regular file ({}); give the path of a state file",
            path.display(),
            kind_of(&meta)
        )));
    }
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(StateFile {
                version: 1,
                shops: BTreeMap::new(),
            });
        }
        Err(e) => {
            return Err(usage(format!(
                "cannot read the state file {}: {e}",
                path.display()
            )));
        }
    };
    parse(&text, path)
}

/// Read a state file's text (`path` is for messages). Anything but a complete, well-formed
/// version-1 state is refused: a cut-off or corrupt file must never pass for a mark.
pub fn parse(text: &str, path: &Path) -> Result<StateFile> {
    let file: StateFile = serde_json::from_str(text).map_err(|e| {
        usage(format!(
            "the state file {} is not valid ({e}); fix it, or move it away and run with --since",
            path.display()
        ))
    })?;
    if file.version != 1 {
        return Err(usage(format!(
            "state file {}: unknown version {}",
            path.display(),
            file.version
        )));
    }
    Ok(file)
}

/// Replace the state file atomically.
pub fn write(path: &Path, file: &StateFile) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".ordersync-state-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot write the state file in {}", dir.display()))?;
    // Locked while it lives, so that another run's `remove_leftovers` leaves it alone.
    let _ = tmp.as_file().try_lock();
    serde_json::to_writer_pretty(&mut tmp, file)?;
    tmp.write_all(b"\n")?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .with_context(|| format!("cannot replace the state file {}", path.display()))?;
    // Make the rename itself durable.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A state cut off anywhere (a torn write on a filesystem without atomic rename, a copy
    /// interrupted) or with any one byte changed is refused or reads as exactly what it says:
    /// never as another mark.
    #[test]
    fn a_damaged_state_is_never_taken_for_another_mark() {
        let text = r#"{"version":1,"shops":{"tw":{"platform":"taobao-tw","by":"modified","mark":"2026-11-25T10:00:00Z","written_at":"2026-11-25T10:00:01Z"}}}"#;
        let path = Path::new("s.json");
        let whole = parse(text, path).unwrap();
        let mark = whole.shops["tw"].mark;
        for cut in 0..text.len() {
            assert!(parse(&text[..cut], path).is_err(), "cut at {cut}");
        }
        for at in 0..text.len() {
            for b in [b'0', b'9', b'"', b'}', b' ', b'x'] {
                let mut bytes = text.as_bytes().to_vec();
                bytes[at] = b;
                let Ok(changed) = std::str::from_utf8(&bytes) else {
                    continue;
                };
                if let Ok(f) = parse(changed, path) {
                    // Whatever parses must say what its text says, in full.
                    let again = serde_json::to_value(&f).unwrap();
                    let given: serde_json::Value = serde_json::from_str(changed).unwrap();
                    let marks = |v: &serde_json::Value| {
                        v["shops"]
                            .as_object()
                            .map(|m| m.keys().cloned().collect::<Vec<_>>())
                    };
                    assert_eq!(marks(&again), marks(&given), "{changed}");
                    if let Some(e) = f.shops.get("tw")
                        && e.mark != mark
                    {
                        assert_eq!(
                            Some(e.mark.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                            given["shops"]["tw"]["mark"].as_str().map(String::from),
                            "{changed}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn write_then_read_round_trips_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let mut f = StateFile {
            version: 1,
            shops: BTreeMap::new(),
        };
        let mark = DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
            .unwrap()
            .to_utc();
        f.shops.insert(
            "tw".into(),
            ShopState {
                platform: "taobao-tw".into(),
                by: By::Modified,
                mark,
                written_at: mark,
            },
        );
        write(&path, &f).unwrap();
        let back = read(&path).unwrap();
        assert_eq!(back.shops["tw"].mark, mark);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn a_second_lock_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let _first = lock(&path).unwrap();
        let e = lock(&path).unwrap_err();
        assert!(e.downcast_ref::<Locked>().is_some());
    }

    #[test]
    fn a_live_runs_temporary_file_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join(".ordersync-live.partial");
        let dead = dir.path().join(".ordersync-dead.partial");
        let held = File::create(&live).unwrap();
        held.try_lock().unwrap();
        File::create(&dead).unwrap();
        remove_leftovers(dir.path());
        assert!(live.exists() && !dead.exists());
    }

    #[test]
    fn a_broken_state_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        std::fs::write(&path, "{ not json").unwrap();
        let e = read(&path).unwrap_err();
        assert!(format!("{e:#}").contains("is not valid"));
    }
}
