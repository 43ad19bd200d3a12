//! One process at a time writes a data directory: the embedded server and `orderflow seed`
//! take an exclusive lock on `<data dir>/orderflow.lock` before they open a database in it,
//! and hold it until they have closed them.
//!
//! The lock is the operating system's (`flock`-style, through [`std::fs::File::try_lock`]), so
//! it goes with the process, however it ends: a server killed with `kill -9` leaves no stale
//! lock behind. The file itself stays; it holds the id of the last process that took it, for
//! the error message. `orderflow verify` takes no lock: it only reads, beside a running server.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// The lock file's name in a data directory.
pub const LOCK_FILE: &str = "orderflow.lock";

/// The exclusive hold on a data directory; released when dropped.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
    path: PathBuf,
}

impl DataDirLock {
    /// Takes the data directory for this process, creating it (private to its owner) if needed.
    ///
    /// # Errors
    /// When another process holds it (a running server, or a seed), naming that process; or
    /// when the directory or the lock file cannot be created.
    pub fn acquire(data_dir: &Path) -> anyhow::Result<Self> {
        store_sqlite::create_private_dir(data_dir)
            .with_context(|| format!("create data dir {}", data_dir.display()))?;
        let path = data_dir.join(LOCK_FILE);
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(&path)
            .with_context(|| format!("open lock file {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = match holder.trim() {
                    "" => String::new(),
                    pid => format!(" (process {pid})"),
                };
                anyhow::bail!(
                    "data dir {} is in use by another orderflow process{holder}: a running \
                     server or seed holds {LOCK_FILE}; stop it first, or use another data dir",
                    data_dir.display()
                );
            }
            Err(TryLockError::Error(error)) => {
                return Err(error).with_context(|| format!("lock {}", path.display()));
            }
        }
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| writeln!(file, "{}", std::process::id()))
            .with_context(|| format!("write {}", path.display()))?;
        Ok(Self { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
