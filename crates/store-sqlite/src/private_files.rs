//! The data directory and the database files are readable by their owner only: they hold
//! customers' emails and payments, and the admin token sits beside them.

use std::io;
use std::path::Path;

/// Creates `dir`, and its missing parents, for its owner only (`0700`). A directory that
/// exists is left as it is: it may be one the operator chose to share.
///
/// # Errors
/// When the directory cannot be created.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)
}

/// Creates the database file `path` if missing, and makes it and its write-ahead log and
/// shared-memory files, where they exist, readable and writable by their owner only (`0600`).
/// SQLite gives the files it creates later the database file's mode.
///
/// # Errors
/// When a file cannot be created or its mode changed.
pub(crate) fn make_database_private(path: &Path) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    drop(options.open(path)?);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mut files = vec![path.to_path_buf()];
        for suffix in ["-wal", "-shm"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            files.push(name.into());
        }
        for file in files.iter().filter(|file| file.exists()) {
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use crate::Databases;

    fn mode(path: &std::path::Path) -> u32 {
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    }

    #[tokio::test]
    async fn the_data_dir_and_every_database_file_are_the_owners_alone() {
        let parent = tempfile::tempdir().expect("temp dir");
        let data_dir = parent.path().join("data");
        let databases = Databases::open(&data_dir).await.expect("open");
        assert_eq!(mode(&data_dir), 0o700);
        let mut checked = 0;
        for entry in std::fs::read_dir(&data_dir).expect("list") {
            let path = entry.expect("entry").path();
            assert_eq!(mode(&path), 0o600, "{}", path.display());
            checked += 1;
        }
        // Five databases, each with its write-ahead log and shared memory.
        assert!(checked >= 5, "{checked} files");
        databases.close().await;
    }

    #[tokio::test]
    async fn database_files_made_readable_by_an_older_version_are_made_private() {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let order = data_dir.path().join("order.db");
        std::fs::write(&order, b"").expect("an empty file");
        std::fs::set_permissions(&order, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let databases = Databases::open(data_dir.path()).await.expect("open");
        assert_eq!(mode(&order), 0o600);
        databases.close().await;
    }
}
