//! The write-ahead log behind `--data-dir`: every committed change is appended to
//! [`JOURNAL_FILE`] and fsynced before the store publishes it (see [`crate::store::WriteLog`]),
//! so a request is answered only once its write survives `kill -9` or a power cut.
//!
//! Throughput comes from group commit: requests queue their changes (shared objects, no
//! copying) under the store lock; one writer thread takes everything queued, encodes it, writes
//! it with one `write` and one `fdatasync`, and publishes the highest revision in it. Concurrent writers share an fsync,
//! so creates/s grows with concurrency instead of being capped at one fsync per write.
//!
//! The log is compacted into the snapshot ([`crate::persist`]) when it passes
//! [`COMPACT_BYTES`] and on a clean shutdown: the snapshot is made durable first, then the log
//! is truncated; a record the snapshot already covers (revision ≤ the snapshot's) is skipped on
//! replay, so a crash between the two steps loses nothing.
//!
//! Record framing: `len: u32 LE | crc32(payload): u32 LE | payload` where the payload is a JSON
//! object `{"rv", "resource", "key", "object"}` (`object` null for a deletion). Reading stops at
//! a *torn tail* (a last record cut short, which was never acknowledged because its fsync had
//! not returned): it is cut off with a warning naming the file and offset. A complete record
//! whose checksum or payload is wrong is corruption, and the server refuses to start, naming
//! the file and offset, rather than load part of the data silently.

use crate::store::WriteLog;
use anyhow::Context;
use serde_json::{Value, json};
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

/// The log's file name inside the data directory.
pub const JOURNAL_FILE: &str = "journal.log";

/// Log size after which the writer compacts it into the snapshot.
pub const COMPACT_BYTES: u64 = 64 * 1024 * 1024;

/// Bytes of framing before each payload (length and checksum).
const HEADER: usize = 8;

/// One replayed change.
#[derive(Debug)]
pub struct Record {
    /// The change's revision.
    pub rv: u64,
    /// The store table (`<group>/<plural>`).
    pub resource: String,
    /// The object's key in the table.
    pub key: String,
    /// The object after the change; `None` for a deletion.
    pub object: Option<Value>,
}

/// Appends one framed record for a change to `buf` (public for tests that build a log by hand).
pub fn encode(buf: &mut Vec<u8>, rv: u64, resource: &str, key: &str, object: Option<&Value>) {
    let payload = json!({"rv": rv, "resource": resource, "key": key, "object": object}).to_string();
    buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    buf.extend_from_slice(&crc32fast::hash(payload.as_bytes()).to_le_bytes());
    buf.extend_from_slice(payload.as_bytes());
}

/// What reading a log found.
#[derive(Debug)]
pub struct Scan {
    /// The complete, intact records in order.
    pub records: Vec<Record>,
    /// Where the intact records end (the file's length unless the tail was torn).
    pub valid_len: u64,
    /// The file's length.
    pub file_len: u64,
}

/// Reads every record of `bytes` (the contents of `path`, named in errors). A cut-short last
/// record ends the scan (see [`Scan::valid_len`]); a complete record that fails its checksum
/// or does not decode is an error naming the file and offset.
pub fn scan(path: &Path, bytes: &[u8]) -> anyhow::Result<Scan> {
    let mut records = Vec::new();
    let mut at = 0usize;
    while bytes.len() - at >= HEADER {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().expect("4 bytes"));
        let Some(payload) = bytes.get(at + HEADER..at + HEADER + len) else {
            break; // torn tail: the record was being written when the process stopped
        };
        if crc32fast::hash(payload) != crc {
            anyhow::bail!(
                "{}: corrupt record at byte offset {at} (checksum mismatch); the data directory needs repair \
                 (move the file away to start from the last snapshot)",
                path.display()
            );
        }
        let record =
            decode(payload).with_context(|| format!("{}: corrupt record at byte offset {at}", path.display()))?;
        records.push(record);
        at += HEADER + len;
    }
    Ok(Scan { records, valid_len: at as u64, file_len: bytes.len() as u64 })
}

fn decode(payload: &[u8]) -> anyhow::Result<Record> {
    let v: Value = serde_json::from_slice(payload).context("payload is not JSON")?;
    let field = |name: &str| v.get(name).ok_or_else(|| anyhow::anyhow!("payload has no {name:?}"));
    let rv = field("rv")?.as_u64().ok_or_else(|| anyhow::anyhow!("\"rv\" is not a number"))?;
    let resource = field("resource")?.as_str().ok_or_else(|| anyhow::anyhow!("\"resource\" is not a string"))?;
    let key = field("key")?.as_str().ok_or_else(|| anyhow::anyhow!("\"key\" is not a string"))?;
    let object = match field("object")? {
        Value::Null => None,
        o @ Value::Object(_) => Some(o.clone()),
        _ => anyhow::bail!("\"object\" is neither an object nor null"),
    };
    Ok(Record { rv, resource: resource.to_string(), key: key.to_string(), object })
}

/// Reads `dir/journal.log` (missing: no records), cutting off a torn tail with a warning.
pub fn replay(dir: &Path) -> anyhow::Result<Vec<Record>> {
    let path = dir.join(JOURNAL_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let scan = scan(&path, &bytes)?;
    if scan.valid_len < scan.file_len {
        tracing::warn!(
            file = %path.display(),
            offset = scan.valid_len,
            dropped_bytes = scan.file_len - scan.valid_len,
            "the log ends in a torn record (the server stopped while writing it, before answering); it is cut off"
        );
        let f = OpenOptions::new().write(true).open(&path).with_context(|| format!("opening {}", path.display()))?;
        f.set_len(scan.valid_len).with_context(|| format!("truncating {}", path.display()))?;
        f.sync_all().with_context(|| format!("syncing {}", path.display()))?;
    }
    Ok(scan.records)
}

/// Fsyncs a directory, so a file created or renamed in it survives a power cut.
pub fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).with_context(|| format!("syncing directory {}", dir.display()))
}

/// A change waiting for the writer, which encodes it (off the store lock and the request).
struct Change {
    rv: u64,
    resource: String,
    key: String,
    object: Option<Arc<Value>>,
}

#[derive(Default)]
struct Pending {
    changes: std::collections::VecDeque<Change>,
    closing: bool,
}

struct Shared {
    pending: Mutex<Pending>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What the writer thread calls back into (the store it serves, through [`crate::persist`]).
pub struct Hooks {
    /// Writes a durable snapshot of the store and returns its revision; the log is truncated
    /// after it (see [`crate::persist::save`]).
    pub snapshot: Box<dyn Fn() -> anyhow::Result<u64> + Send>,
    /// Every change up to this revision is durable ([`crate::store::Store::publish`]).
    pub publish: Box<dyn Fn(u64) + Send>,
    /// The log cannot make changes durable any more ([`crate::store::Store::fail`]).
    pub fail: Box<dyn Fn(String) + Send>,
    /// Share one fsync among all records waiting (the default); off, every record gets its
    /// own write and fsync (only to measure what group commit gains).
    pub group_commit: bool,
}

/// The open log: the [`WriteLog`] the store appends to, and its writer thread.
pub struct Journal {
    shared: Arc<Shared>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl WriteLog for Journal {
    fn append(&self, rv: u64, resource: &str, key: &str, object: Option<&Arc<Value>>) {
        let mut p = self.shared.lock();
        if p.closing {
            return; // closed, or failed: nothing more is written (and nothing acknowledged)
        }
        p.changes.push_back(Change {
            rv,
            resource: resource.to_string(),
            key: key.to_string(),
            object: object.cloned(),
        });
        drop(p);
        self.shared.wake.notify_one();
    }
}

impl Journal {
    /// Opens (creating if needed) `dir/journal.log` for appending, folds what it holds into a
    /// fresh snapshot (which also proves the directory is writable) and starts the writer
    /// thread, which publishes durable revisions and compacts through `hooks`. The records must
    /// already have been replayed into the store ([`replay`]).
    pub fn open(dir: &Path, hooks: Hooks) -> anyhow::Result<Arc<Journal>> {
        let path = dir.join(JOURNAL_FILE);
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600); // the log holds Secrets
        let file = options.open(&path).with_context(|| format!("opening {}", path.display()))?;
        sync_dir(dir)?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let shared = Arc::new(Shared { pending: Mutex::new(Pending::default()), wake: Condvar::new() });
        let mut writer = Writer { file, path, size, shared: shared.clone(), hooks, scratch: Vec::new() };
        writer.compact()?;
        let thread = std::thread::Builder::new()
            .name("devserver-journal".into())
            .spawn(move || writer.run())
            .context("starting the journal writer")?;
        Ok(Arc::new(Journal { shared, writer: Mutex::new(Some(thread)) }))
    }

    /// Writes what is pending, compacts the log into a final snapshot and stops the writer
    /// (on shutdown). Changes committed after this are not logged.
    pub fn close(&self) {
        self.shared.lock().closing = true;
        self.shared.wake.notify_one();
        if let Some(t) = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = t.join();
        }
    }
}

struct Writer {
    file: File,
    path: PathBuf,
    size: u64,
    shared: Arc<Shared>,
    hooks: Hooks,
    /// The encoding buffer, kept between batches.
    scratch: Vec<u8>,
}

impl Writer {
    fn run(mut self) {
        loop {
            let (changes, closing) = {
                let mut p = self.shared.lock();
                while p.changes.is_empty() && !p.closing {
                    p = self.shared.wake.wait(p).unwrap_or_else(|e| e.into_inner());
                }
                let take = if self.hooks.group_commit { p.changes.len() } else { p.changes.len().min(1) };
                let changes: Vec<Change> = p.changes.drain(..take).collect();
                (changes, p.closing && p.changes.is_empty())
            };
            let rv = changes.last().map_or(0, |c| c.rv);
            let mut buf = std::mem::take(&mut self.scratch);
            buf.clear();
            for c in &changes {
                encode(&mut buf, c.rv, &c.resource, &c.key, c.object.as_deref());
            }
            drop(changes);
            let result = self
                .write(&buf)
                .and_then(|()| if closing || self.size >= COMPACT_BYTES { self.compact() } else { Ok(()) });
            self.scratch = buf;
            match result {
                Ok(()) => (self.hooks.publish)(rv),
                Err(e) => {
                    self.shared.lock().closing = true;
                    let message = format!("the data directory cannot store changes durably: {e:#}");
                    tracing::error!("{message}; no further write is acknowledged");
                    (self.hooks.fail)(message);
                    return;
                }
            }
            if closing {
                return;
            }
        }
    }

    fn write(&mut self, buf: &[u8]) -> anyhow::Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        self.file.write_all(buf).with_context(|| format!("writing {}", self.path.display()))?;
        self.file.sync_data().with_context(|| format!("syncing {}", self.path.display()))?;
        self.size += buf.len() as u64;
        Ok(())
    }

    /// Snapshot first (durable), then truncate: records up to the snapshot's revision are
    /// covered by it, and later ones are appended to the now empty log.
    fn compact(&mut self) -> anyhow::Result<()> {
        let rv = (self.hooks.snapshot)()?;
        self.file.set_len(0).with_context(|| format!("truncating {}", self.path.display()))?;
        self.file.sync_all().with_context(|| format!("syncing {}", self.path.display()))?;
        self.size = 0;
        tracing::debug!(rv, file = %self.path.display(), "log compacted into the snapshot");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(n: u64) -> Vec<u8> {
        let mut buf = Vec::new();
        for rv in 1..=n {
            encode(&mut buf, rv, "/configmaps", &format!("default/c{rv}"), Some(&json!({"data": {"k": rv}})));
        }
        buf
    }

    #[test]
    fn records_round_trip() {
        let buf = framed(3);
        let scan = scan(Path::new("j"), &buf).expect("scan");
        assert_eq!(scan.records.len(), 3);
        assert_eq!(scan.valid_len, buf.len() as u64);
        assert_eq!(scan.records[2].rv, 3);
        assert_eq!(scan.records[2].key, "default/c3");
    }

    #[test]
    fn a_torn_tail_ends_the_scan_at_the_last_whole_record() {
        let whole = framed(2);
        let first_len = framed(1).len() as u64;
        for cut in 1..(whole.len() - first_len as usize) {
            let scan = scan(Path::new("j"), &whole[..whole.len() - cut]).expect("torn tails are not errors");
            assert_eq!(scan.records.len(), 1, "cut {cut}");
            assert_eq!(scan.valid_len, first_len);
        }
    }

    #[test]
    fn a_flipped_byte_is_an_error_naming_file_and_offset() {
        let mut buf = framed(3);
        let second = framed(1).len();
        buf[second + HEADER + 5] ^= 0x20;
        let err = scan(Path::new("/data/journal.log"), &buf).expect_err("corruption").to_string();
        assert!(err.contains("/data/journal.log") && err.contains(&format!("offset {second}")), "{err}");
    }
}
