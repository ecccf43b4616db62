//! Files only the bot's own user may read: the store holds every room
//! message of the log and the bots' secrets.
//!
//! Folders are made `0700` and files `0600` (on Unix; elsewhere the
//! platform's defaults stand). Files a backend makes itself (sled's) are
//! tightened after it opened them, and sit in a `0700` folder meanwhile.

use std::fs::{File, OpenOptions};
use std::path::Path;

/// Creates `path` and its missing parents; `path` itself ends up `0700`,
/// also when it existed with wider permissions.
pub(crate) fn create_dir(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(path)
}

/// Creates (or empties) `path` for writing, `0600`.
pub(crate) fn create_file(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Makes every folder under `path` (itself included) `0700` and every file `0600`.
pub(crate) fn tighten(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::symlink_metadata(path)?;
        if meta.is_dir() {
            if meta.permissions().mode() & 0o777 != 0o700 {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
            }
            for entry in std::fs::read_dir(path)? {
                tighten(&entry?.path())?;
            }
        } else if meta.is_file() && meta.permissions().mode() & 0o777 != 0o600 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}
