//! The append-only file: every write, in RESP, in the order it happened;
//! replayed at start-up.
//!
//! One [`Aof`] serves every model. Commands append their log records to an
//! in-memory buffer ([`Aof::append`], cheap, under a short lock). Before a
//! connection sends replies to writes, it calls [`Aof::flush`] with the
//! position of its last record: whoever gets there first writes the whole
//! buffer (and, under `always`, syncs it) for everyone queued behind it.
//! That is group commit: under `always`, fifty clients' writes share one
//! `fdatasync`, as they do in Redis, whose event loop writes and syncs the
//! buffer once per loop turn before it sends any reply.
//!
//! Ordering: the model appends a command's record while it still holds the
//! key's shard (the lock, or the core that owns it), so two writes to one
//! key are logged in the order they were applied.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::config::FsyncPolicy;
use crate::resp::{self, ArgRange, Limits};

struct Pending {
    buf: Vec<u8>,
    /// Bytes appended since the file was opened (the end of `buf`).
    appended: u64,
}

struct Output {
    file: File,
    /// Bytes written to the file (through the OS).
    written: u64,
}

/// The append-only file of one server.
pub struct Aof {
    path: PathBuf,
    policy: FsyncPolicy,
    pending: Mutex<Pending>,
    output: Mutex<Output>,
    /// A second handle on the same file, for `everysec`'s background sync:
    /// syncing through it needs no lock, so a writer never waits behind
    /// an `fdatasync` (see [`Aof::sync`]).
    sync_handle: File,
    /// Tests make a sync slow, to show that nobody waits behind it.
    #[cfg(test)]
    sync_delay: Mutex<Duration>,
    /// Bytes known to be on disk.
    synced: AtomicU64,
    /// Set when a write or sync failed: the server then refuses writes
    /// rather than acknowledge what it cannot log.
    failed: AtomicBool,
    stop: AtomicBool,
    /// Under `always`, wakes the syncer thread when records are appended.
    appended_cv: Condvar,
    /// Under `always`, what the syncer thread has made durable, for tasks
    /// that wait without blocking their runtime's thread.
    durable: tokio::sync::watch::Sender<u64>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks leaves plain buffers behind, which
    // are still valid; keep going rather than take the server down.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What start-up found in an existing file.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub commands: u64,
    pub bytes: u64,
    /// Bytes of an incomplete last record that were cut off, if any.
    pub truncated: u64,
}

impl Aof {
    /// Opens (creating if needed) the file for appending.
    pub fn open(path: &Path, policy: FsyncPolicy) -> io::Result<Arc<Self>> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let sync_handle = file.try_clone()?;
        let aof = Arc::new(Self {
            path: path.to_path_buf(),
            policy,
            pending: Mutex::new(Pending {
                buf: Vec::with_capacity(64 << 10),
                appended: 0,
            }),
            output: Mutex::new(Output { file, written: 0 }),
            sync_handle,
            #[cfg(test)]
            sync_delay: Mutex::new(Duration::ZERO),
            synced: AtomicU64::new(0),
            failed: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            appended_cv: Condvar::new(),
            durable: tokio::sync::watch::Sender::new(0),
        });
        if policy == FsyncPolicy::Always {
            let aof = aof.clone();
            std::thread::Builder::new()
                .name("aof-always".into())
                .spawn(move || aof.syncer())?;
        }
        if policy == FsyncPolicy::Everysec {
            let weak = Arc::downgrade(&aof);
            std::thread::Builder::new()
                .name("aof-everysec".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(Duration::from_secs(1));
                        let Some(aof) = weak.upgrade() else { return };
                        if aof.stop.load(Ordering::Relaxed) {
                            return;
                        }
                        if let Err(e) = aof.sync() {
                            tracing::error!("append-only file: background fsync failed: {e}");
                        }
                    }
                })?;
        }
        Ok(aof)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn policy(&self) -> FsyncPolicy {
        self.policy
    }

    /// Whether an earlier write or sync failed.
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// Buffers log records; returns the position to pass to [`flush`](Self::flush).
    pub fn append(&self, records: &[u8]) -> u64 {
        let mut p = lock(&self.pending);
        p.buf.extend_from_slice(records);
        p.appended += records.len() as u64;
        if self.policy == FsyncPolicy::Always {
            self.appended_cv.notify_one();
        }
        p.appended
    }

    // ANCHOR: durable
    /// [`flush`](Self::flush) for async tasks. Under `always` the task
    /// does not sync itself: that would block its runtime thread, and with
    /// it every other connection on that thread, for the length of an
    /// `fdatasync`. A dedicated thread syncs instead, and everything
    /// appended while it was busy goes into its next sync, so fifty
    /// clients waiting share one sync (group commit) as they do in the
    /// event loop.
    pub async fn durable(&self, upto: u64) -> io::Result<()> {
        if self.policy != FsyncPolicy::Always {
            // Writing to the OS is a memory copy: fine on a runtime thread.
            return self.flush(upto);
        }
        let mut rx = self.durable.subscribe();
        let reached = rx
            .wait_for(|&d| d >= upto || self.failed() || self.stop.load(Ordering::Relaxed))
            .await
            .map(|d| *d >= upto);
        match reached {
            Ok(true) => Ok(()),
            _ if self.failed() => Err(io::Error::other("the append-only file failed")),
            // Stopping: sync on this thread rather than leave it undone.
            _ => self.flush(upto),
        }
    }

    /// The `always` syncer: waits for records, writes and syncs everything
    /// appended so far, publishes how far is durable, repeats.
    fn syncer(&self) {
        loop {
            let upto = {
                let mut p = lock(&self.pending);
                while p.appended <= self.synced.load(Ordering::Acquire)
                    && !self.stop.load(Ordering::Relaxed)
                {
                    p = self
                        .appended_cv
                        .wait_timeout(p, Duration::from_millis(100))
                        .map(|(g, _)| g)
                        .unwrap_or_else(|e| e.into_inner().0);
                }
                p.appended
            };
            if self.stop.load(Ordering::Relaxed) {
                self.durable
                    .send_replace(self.synced.load(Ordering::Acquire));
                return;
            }
            if let Err(e) = self.flush(upto) {
                tracing::error!("append-only file: write or fsync failed: {e}");
            }
            self.durable
                .send_replace(self.synced.load(Ordering::Acquire));
            if self.failed() {
                return;
            }
        }
    }
    // ANCHOR_END: durable

    // ANCHOR: flush
    /// Makes everything up to `upto` as durable as the policy promises:
    /// written to the OS, and under `always` synced to disk. Call before
    /// replying to a write. An error means the write must not be
    /// acknowledged.
    pub fn flush(&self, upto: u64) -> io::Result<()> {
        if self.failed() {
            return Err(io::Error::other("the append-only file failed earlier"));
        }
        let always = self.policy == FsyncPolicy::Always;
        if always && self.synced.load(Ordering::Acquire) >= upto {
            return Ok(());
        }
        let mut out = lock(&self.output);
        if out.written < upto {
            // Take everything buffered so far, not just up to `upto`: the
            // writers queued behind this lock are then already served.
            let (buf, end) = {
                let mut p = lock(&self.pending);
                let end = p.appended;
                (std::mem::take(&mut p.buf), end)
            };
            let result = out.file.write_all(&buf);
            // Give the allocation back for reuse if nobody refilled it.
            {
                let mut p = lock(&self.pending);
                if p.buf.is_empty() {
                    let mut buf = buf;
                    buf.clear();
                    p.buf = buf;
                }
            }
            if let Err(e) = result {
                self.failed.store(true, Ordering::Relaxed);
                return Err(e);
            }
            out.written = end;
        }
        if always && self.synced.load(Ordering::Acquire) < upto {
            let written = out.written;
            if let Err(e) = out.file.sync_data() {
                self.failed.store(true, Ordering::Relaxed);
                return Err(e);
            }
            self.synced.fetch_max(written, Ordering::Release);
        }
        Ok(())
    }
    // ANCHOR_END: flush

    /// Writes and syncs everything appended so far (everysec's tick, and
    /// shutdown).
    ///
    /// The sync goes through a second handle, without the output lock:
    /// holding the lock across `fdatasync` (as this once did) made every
    /// writer that called [`flush`](Self::flush) meanwhile, a tokio worker
    /// among them, wait for the whole sync once a second. What was written
    /// before the sync starts is on disk when it returns, so `synced` may
    /// advance to that point; later writes wait for the next tick.
    pub fn sync(&self) -> io::Result<()> {
        let end = lock(&self.pending).appended;
        self.flush(end)?;
        let written = lock(&self.output).written;
        if self.synced.load(Ordering::Acquire) < written {
            #[cfg(test)]
            std::thread::sleep(*lock(&self.sync_delay));
            if let Err(e) = self.sync_handle.sync_data() {
                self.failed.store(true, Ordering::Relaxed);
                return Err(e);
            }
            self.synced.fetch_max(written, Ordering::Release);
        }
        Ok(())
    }

    /// Final flush at shutdown; stops the background syncer.
    pub fn close(&self) -> io::Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        self.appended_cv.notify_all();
        let result = self.sync();
        self.durable
            .send_replace(self.synced.load(Ordering::Acquire));
        result
    }
}

/// Errors that stop the server from starting.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read the append-only file {path}: {source}")]
    Io { path: String, source: io::Error },
    #[error(
        "bad file format reading the append-only file {path} at byte {offset}: {reason}; \
         the file is not a log this server wrote (or it is damaged in the middle, not just \
         at the end). Move it away to start empty."
    )]
    Corrupt {
        path: String,
        offset: u64,
        reason: String,
    },
    #[error(
        "the append-only file {path} has a record at byte {offset} this server cannot replay: \
         {reason}. Starting without it would lose its data silently, so the server refuses; \
         the file is unchanged. If that record is not needed, cut it out (bytes {offset} to \
         {end}): {repair}"
    )]
    Unreplayable {
        path: String,
        offset: u64,
        end: u64,
        reason: String,
        repair: String,
    },
    #[error(
        "the append-only file {path} is damaged at byte {offset}: that record claims more bytes \
         than the file holds, but complete records follow at byte {resume}, so this is damage in \
         the middle, not a write cut short at the end. The server refuses to start and leaves \
         the file as it is (truncating would delete every record after byte {offset}). To keep \
         the records after the damage, cut out bytes {offset} to {resume}: {repair}"
    )]
    DamagedLength {
        path: String,
        offset: u64,
        resume: u64,
        repair: String,
    },
}

/// A shell command that writes `FILE.repaired` without bytes `from..to`.
fn repair_command(path: &Path, from: usize, to: usize) -> String {
    let p = path.display();
    format!(
        "`head -c {from} {p} > {p}.repaired && tail -c +{} {p} >> {p}.repaired`, check it, \
         then move it into place",
        to + 1
    )
}

/// Whether `data` from some offset after its first byte parses as at least
/// one complete record: evidence that an incomplete record before it is
/// damage, not a torn tail. Returns that offset.
fn records_resume(data: &[u8], limits: &Limits) -> Option<usize> {
    let mut ranges = Vec::new();
    let mut scratch = Vec::new();
    let mut from = 1;
    while let Some(i) = data[from..].iter().position(|&b| b == b'*') {
        let at = from + i;
        if let Ok(Some(n)) = resp::parse_request(&data[at..], limits, &mut ranges, &mut scratch)
            && n > 0
            && !ranges.is_empty()
        {
            // One complete record could be a value's bytes; require that
            // everything from here to the end parses (allowing a torn tail).
            let mut pos = at + n;
            let mut ok = true;
            while pos < data.len() {
                match resp::parse_request(&data[pos..], limits, &mut ranges, &mut scratch) {
                    Ok(Some(m)) if data[pos] == b'*' => pos += m,
                    Ok(None) if data[pos] == b'*' => break,
                    _ => {
                        ok = false;
                        break;
                    }
                }
            }
            if ok {
                return Some(at);
            }
        }
        from = at + 1;
    }
    None
}

/// Replays an append-only file: calls `apply` with each logged command's
/// arguments, in order; a record `apply` cannot replay refuses to load.
/// A file that ends in the middle of a record (the process died while
/// writing it) is loaded up to the last complete record and cut there, as
/// Redis does with `aof-load-truncated yes`. An incomplete record that
/// complete records follow (a damaged length in the middle) is damage, not
/// a torn tail: it refuses to load and the file is left as it was, as is
/// any other damage.
pub fn replay(
    path: &Path,
    mut apply: impl FnMut(&[&[u8]]) -> Result<(), String>,
) -> Result<Loaded, LoadError> {
    let io_err = |source| LoadError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Loaded::default()),
        Err(e) => return Err(io_err(e)),
    };
    let mut data = Vec::new();
    file.read_to_end(&mut data).map_err(io_err)?;
    // The log holds only what the server itself accepted, so its own
    // limits apply, with room for the largest bulk.
    let limits = Limits {
        max_bulk_len: usize::MAX / 2,
        max_multibulk_len: usize::MAX / 2,
        ..Limits::default()
    };
    let mut ranges: Vec<ArgRange> = Vec::new();
    let mut scratch = Vec::new();
    let mut pos = 0usize;
    let mut loaded = Loaded::default();
    while pos < data.len() {
        let rest = &data[pos..];
        if rest[0] != b'*' {
            return Err(LoadError::Corrupt {
                path: path.display().to_string(),
                offset: pos as u64,
                reason: format!("expected '*', found byte {:#04x}", rest[0]),
            });
        }
        match resp::parse_request(rest, &limits, &mut ranges, &mut scratch) {
            Ok(Some(n)) => {
                let args: Vec<&[u8]> = ranges.iter().map(|r| r.slice(rest, &scratch)).collect();
                if !args.is_empty() {
                    if let Err(reason) = apply(&args) {
                        return Err(LoadError::Unreplayable {
                            path: path.display().to_string(),
                            offset: pos as u64,
                            end: (pos + n) as u64,
                            reason,
                            repair: repair_command(path, pos, pos + n),
                        });
                    }
                    loaded.commands += 1;
                }
                pos += n;
            }
            Ok(None) => {
                if let Some(resume) = records_resume(rest, &limits) {
                    return Err(LoadError::DamagedLength {
                        path: path.display().to_string(),
                        offset: pos as u64,
                        resume: (pos + resume) as u64,
                        repair: repair_command(path, pos, pos + resume),
                    });
                }
                loaded.truncated = (data.len() - pos) as u64;
                tracing::warn!(
                    "append-only file {} ends with an incomplete record: loaded {} commands \
                     ({} bytes) and cut the last {} bytes",
                    path.display(),
                    loaded.commands,
                    pos,
                    loaded.truncated
                );
                file.set_len(pos as u64).map_err(io_err)?;
                file.seek(SeekFrom::End(0)).map_err(io_err)?;
                file.sync_all().map_err(io_err)?;
                break;
            }
            Err(e) => {
                return Err(LoadError::Corrupt {
                    path: path.display().to_string(),
                    offset: pos as u64,
                    reason: e.to_string(),
                });
            }
        }
    }
    loaded.bytes = pos as u64;
    Ok(loaded)
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    /// Under everysec, a writer must not wait behind the background sync:
    /// a tokio worker calls `flush` (through `durable`) for every write, and
    /// a slow `fdatasync` would stall every connection on that worker.
    #[test]
    fn writes_do_not_wait_behind_an_everysec_sync() {
        let dir = std::env::temp_dir().join(format!("lab02-aof-sync-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let aof = Aof::open(&dir.join("appendonly.aof"), FsyncPolicy::Everysec).expect("open");
        *lock(&aof.sync_delay) = Duration::from_millis(1000);
        aof.append(b"*1\r\n$4\r\nPING\r\n");
        let syncing = {
            let aof = aof.clone();
            std::thread::spawn(move || aof.sync())
        };
        // Let the sync start and reach its (slow) fdatasync.
        std::thread::sleep(Duration::from_millis(100));
        let upto = aof.append(b"*1\r\n$4\r\nPING\r\n");
        let began = Instant::now();
        aof.flush(upto).expect("flush");
        let waited = began.elapsed();
        syncing.join().expect("the sync thread").expect("sync");
        *lock(&aof.sync_delay) = Duration::ZERO;
        aof.close().expect("close");
        std::fs::remove_dir_all(&dir).ok();
        // Behind the lock it would wait for the rest of the sync (900 ms);
        // a write alone takes microseconds. The margin is wide on purpose.
        assert!(
            waited < Duration::from_millis(500),
            "a write waited {waited:?} for a concurrent everysec sync"
        );
        // And the second record is on disk after the next sync.
        assert!(aof.synced.load(Ordering::Acquire) >= upto);
    }
}
