//! The alert spool: alerts that arrived while the database was away, kept on disk until
//! they can be applied. OpsGenie does not retry webhooks, so answering 503 would lose
//! the alert; instead the request is appended here, fsync'ed, and answered 202.
//!
//! The spool is one JSON-lines file in the data directory plus an offset file saying how
//! far replay got. Replay applies entries in arrival order, advancing the offset after
//! each, and empties the file when it has caught up. A crash between applying an entry
//! and recording the new offset applies that entry again on the next replay, which is
//! harmless because every [`AlertEvent`] is idempotent.
//!
//! Entries the database refuses for good go to a third file for someone to look at;
//! each new refusal drops the ones older than their retention, so it cannot grow for
//! ever.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ClassifiedError;
use crate::services::incidents::alerts::AlertEvent;
use crate::services::incidents::service::IncidentService;

#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    received_at: DateTime<Utc>,
    event: AlertEvent,
}

/// Cheap to clone; all clones share the files and the lock.
#[derive(Clone)]
pub struct AlertSpool {
    inner: Arc<Inner>,
}

struct Inner {
    entries: PathBuf,
    offset: PathBuf,
    rejected: PathBuf,
    rejected_kept_for: Duration,
    /// Serialises appends with the final truncation of a replay.
    append_lock: Mutex<()>,
    /// Serialises replays.
    replay_lock: tokio::sync::Mutex<()>,
    backlog: AtomicBool,
}

/// How replaying went.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ReplayReport {
    pub applied: usize,
    /// Entries the database refused for good; kept in `alerts.rejected.jsonl`.
    pub rejected: usize,
    /// The database went away again; the rest waits for the next replay.
    pub interrupted: bool,
}

impl AlertSpool {
    pub fn open(data_dir: &Path, rejected_kept_for: Duration) -> std::io::Result<Self> {
        let dir = data_dir.join("spool");
        // Alerts can carry internal host names and messages: the owner's alone.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)?;
        let spool = Self {
            inner: Arc::new(Inner {
                entries: dir.join("alerts.jsonl"),
                offset: dir.join("alerts.offset"),
                rejected: dir.join("alerts.rejected.jsonl"),
                rejected_kept_for,
                append_lock: Mutex::new(()),
                replay_lock: tokio::sync::Mutex::new(()),
                backlog: AtomicBool::new(false),
            }),
        };
        let waiting = std::fs::metadata(&spool.inner.entries).is_ok_and(|m| m.len() > 0);
        spool.inner.backlog.store(waiting, Ordering::SeqCst);
        Ok(spool)
    }

    /// Whether entries are waiting. While they are, new alerts queue behind them so the
    /// order in which they arrived is the order in which they apply.
    pub fn has_backlog(&self) -> bool {
        self.inner.backlog.load(Ordering::SeqCst)
    }

    /// Appends the event durably: when this returns `Ok`, it survives `kill -9`.
    pub async fn append(&self, event: &AlertEvent) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(&Entry {
            received_at: Utc::now(),
            event: event.clone(),
        })?;
        line.push(b'\n');
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let _guard = inner
                .append_lock
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let mut file = OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(&inner.entries)?;
            file.write_all(&line)?;
            file.sync_data()?;
            inner.backlog.store(true, Ordering::SeqCst);
            Ok(())
        })
        .await
        .map_err(std::io::Error::other)?
    }

    /// Applies waiting entries in order through `incidents`.
    pub async fn replay(&self, incidents: &IncidentService) -> std::io::Result<ReplayReport> {
        let _replaying = self.inner.replay_lock.lock().await;
        let mut report = ReplayReport::default();
        let mut offset = read_offset(&self.inner.offset)?;
        let lines = {
            let inner = self.inner.clone();
            tokio::task::spawn_blocking(move || read_lines_from(&inner.entries, offset))
                .await
                .map_err(std::io::Error::other)??
        };
        for (line, length) in lines {
            match serde_json::from_slice::<Entry>(&line) {
                Ok(entry) => match incidents.apply_alert_event(&entry.event).await {
                    Ok(_) => report.applied += 1,
                    Err(error) if error.is_unavailable() => {
                        report.interrupted = true;
                        break;
                    }
                    Err(error) => {
                        tracing::error!(%error, "a spooled alert was refused; kept in the rejected file");
                        self.reject(&line)?;
                        report.rejected += 1;
                    }
                },
                Err(error) => {
                    // A torn last line from a crash mid-append: nothing was acknowledged.
                    tracing::warn!(%error, "skipping an unreadable spool line");
                }
            }
            offset += length;
            write_offset(&self.inner.offset, offset)?;
        }
        if !report.interrupted {
            self.truncate_if_caught_up(offset)?;
        }
        Ok(report)
    }

    fn reject(&self, line: &[u8]) -> std::io::Result<()> {
        let kept_for = TimeDelta::from_std(self.inner.rejected_kept_for).unwrap_or(TimeDelta::MAX);
        append_rejected(&self.inner.rejected, line, Utc::now() - kept_for)
    }

    /// Empties the spool when nothing was appended since replay read it.
    fn truncate_if_caught_up(&self, offset: u64) -> std::io::Result<()> {
        let _guard = self
            .inner
            .append_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let length = std::fs::metadata(&self.inner.entries).map_or(0, |m| m.len());
        if length > offset {
            return Ok(());
        }
        if length > 0 {
            let file = OpenOptions::new().write(true).open(&self.inner.entries)?;
            file.set_len(0)?;
            file.sync_all()?;
        }
        write_offset(&self.inner.offset, 0)?;
        self.inner.backlog.store(false, Ordering::SeqCst);
        Ok(())
    }
}

/// Appends `line` to the rejected file, dropping the entries that arrived before
/// `forget_before`. Refusals are rare, so rewriting the file each time costs nothing
/// worth a timer; the rewrite goes through a rename, so a crash leaves the old or the
/// new file whole.
fn append_rejected(path: &Path, line: &[u8], forget_before: DateTime<Utc>) -> std::io::Result<()> {
    #[derive(Deserialize)]
    struct Arrival {
        received_at: DateTime<Utc>,
    }
    let kept = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(error) => return Err(error),
    };
    let temporary = path.with_extension("jsonl.tmp");
    let mut file = private_file(&temporary)?;
    for old in kept
        .split(|byte| *byte == b'\n')
        .filter(|old| !old.is_empty())
    {
        // An entry whose time cannot be read is kept: better too much than lost.
        let recent = serde_json::from_slice::<Arrival>(old)
            .map_or(true, |arrival| arrival.received_at >= forget_before);
        if recent {
            file.write_all(old)?;
            file.write_all(b"\n")?;
        }
    }
    file.write_all(line)?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}

fn read_offset(path: &Path) -> std::io::Result<u64> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text.trim().parse().unwrap_or(0)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(error) => Err(error),
    }
}

/// Writes the offset through a temporary file and a rename, so a crash leaves either
/// the old or the new offset, never a torn one.
fn write_offset(path: &Path, offset: u64) -> std::io::Result<()> {
    let temporary = path.with_extension("offset.tmp");
    let mut file = private_file(&temporary)?;
    write!(file, "{offset}")?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}

/// Creates (or empties) a file only the owner may read, whatever the umask.
fn private_file(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

/// Complete lines after `offset`, each with its length including the newline.
fn read_lines_from(path: &Path, offset: u64) -> std::io::Result<Vec<(Vec<u8>, u64)>> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    file.seek(SeekFrom::Start(offset))?;
    let mut reader = BufReader::new(file);
    let mut lines = Vec::new();
    loop {
        let mut line = Vec::new();
        let read = reader.read_until(b'\n', &mut line)?;
        if read == 0 || line.last() != Some(&b'\n') {
            // End of file, or a line still being written: leave it for next time.
            break;
        }
        line.pop();
        lines.push((line, read as u64));
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeDelta, Utc};

    use crate::services::alert_intake::spool::append_rejected;

    fn entry(received_at: DateTime<Utc>, title: &str) -> Vec<u8> {
        format!(
            r#"{{"received_at":"{}","event":{{"title":"{title}"}}}}"#,
            received_at.to_rfc3339()
        )
        .into_bytes()
    }

    #[test]
    fn a_new_refusal_drops_the_refused_entries_past_their_retention() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts.rejected.jsonl");
        let now = Utc::now();
        append_rejected(
            &path,
            &entry(now - TimeDelta::days(40), "old"),
            now - TimeDelta::days(50),
        )
        .unwrap();
        append_rejected(
            &path,
            &entry(now - TimeDelta::days(10), "recent"),
            now - TimeDelta::days(50),
        )
        .unwrap();
        append_rejected(&path, b"not json", now - TimeDelta::days(50)).unwrap();

        append_rejected(&path, &entry(now, "new"), now - TimeDelta::days(30)).unwrap();

        let text = std::fs::read_to_string(&path).unwrap();
        let titles: Vec<&str> = text
            .lines()
            .map(|line| {
                line.split("title\":\"")
                    .nth(1)
                    .map_or(line, |rest| &rest[..rest.find('"').unwrap()])
            })
            .collect();
        assert_eq!(titles, ["recent", "not json", "new"]);
    }
}
