//! A small tmpfs of the test's own, for real "disk full" faults.
//!
//! Mounting needs root. Without it a test using [`Tmpfs`] says so and
//! passes, except under CI (`CI` set), where it fails: CI runs as root.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A mounted tmpfs, unmounted when dropped.
pub struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `mib` MiB on a new folder; `None` (after saying
    /// why) where this user cannot mount.
    pub fn mount(mib: u32) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().expect("a folder to mount on");
        let status = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={mib}m,mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .status();
        match status {
            Ok(s) if s.success() => Some(Tmpfs { dir }),
            other => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "cannot mount a tmpfs under CI ({other:?}); the disk-full tests need root"
                );
                eprintln!("skipped: mounting a tmpfs needs root ({other:?})");
                None
            }
        }
    }

    /// The mount point.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Remounts it read-only, or writable again (nothing may be open for
    /// writing on it to go read-only).
    pub fn remount(&self, read_only: bool) {
        let mode = if read_only {
            "remount,ro"
        } else {
            "remount,rw"
        };
        let status = Command::new("mount")
            .args(["-o", mode])
            .arg(self.dir.path())
            .status()
            .expect("mount runs");
        assert!(status.success(), "mount -o {mode} failed");
    }

    /// Fills the file system with a file of zeros until a write fails;
    /// returns the file (delete it to free the space).
    pub fn fill(&self) -> PathBuf {
        let path = self.path().join("filler");
        let mut f = std::fs::File::create(&path).expect("filler file");
        let chunk = vec![0u8; 64 * 1024];
        while f.write_all(&chunk).is_ok() {}
        // Whatever is left below one chunk.
        while f.write_all(&chunk[..512]).is_ok() {}
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}
