//! File-system helpers every part of convlab uses: whole-file reads with errors that name the
//! file, atomic writes, so a crash or a full disk never leaves half a file behind, and folder
//! locks, so two commands never write one run or sweep folder at once.

use crate::error::{Error, Result};
use std::io::Write;
use std::path::Path;

/// Reads a whole file; a directory or a missing file is an error that names the path.
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    if path.is_dir() {
        return Err(Error::data(format!("{}: is a directory, expected a file; give the file's path", path.display())));
    }
    std::fs::read(path).map_err(|e| Error::read(path, e))
}

/// Writes `bytes` to `path` through a temporary file and a rename: readers see the old file or
/// the new one, never a part.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        // On disk before the rename, so a power cut leaves the old file or the new one.
        f.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::write(path, e));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::write(path, e)
    })
}

/// The lock file inside a locked folder.
pub const LOCK_FILE: &str = ".convlab.lock";

/// An exclusive lock on a folder, held until dropped. It is the operating system's lock on
/// `LOCK_FILE` (`flock`), so a killed process never leaves a stale lock behind.
#[derive(Debug)]
pub struct DirLock {
    _file: std::fs::File,
}

/// Locks `dir` (which must exist) for this process, or says which process holds it.
pub fn lock_dir(dir: &Path) -> Result<DirLock> {
    lock_in(dir, LOCK_FILE)
}

/// Locks one part of `dir` (the lock file `name`): commands that write different files of one
/// folder, such as the shards of a sweep, run side by side.
pub fn lock_in(dir: &Path, name: &str) -> Result<DirLock> {
    let path = dir.join(name);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| Error::write(&path, e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            let holder = holder.trim();
            return Err(Error::config(format!(
                "{} is in use by another convlab command{}; wait for it to finish (or stop it), or choose another --out",
                dir.display(),
                if holder.is_empty() { String::new() } else { format!(" ({holder})") }
            )));
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(Error::write(&path, e)),
    }
    // Who holds it, for the message above.
    let command: Vec<String> = std::env::args().collect();
    let holder = format!("pid {}: {}", std::process::id(), command.join(" "));
    let _ = file.set_len(0).and_then(|_| file.write_all(holder.as_bytes()));
    Ok(DirLock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_locked_folder_is_refused_naming_the_holder_until_released() {
        let dir = std::env::temp_dir().join(format!("convlab-lock-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let held = lock_dir(&dir).unwrap();
        let e = lock_dir(&dir).unwrap_err().to_string();
        assert!(
            e.contains("in use by another convlab command") && e.contains(&format!("pid {}", std::process::id())),
            "{e}"
        );
        // Another part of the folder is free.
        let part = lock_in(&dir, ".shard-0.lock").unwrap();
        assert!(lock_in(&dir, ".shard-0.lock").is_err());
        drop((held, part));
        lock_dir(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn write_atomic_replaces_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("convlab-fs-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.txt");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(read_file(&path).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unwritable_target_is_an_io_error_naming_the_path() {
        let e = write_atomic(Path::new("/nonexistent-dir/x.bin"), b"x").unwrap_err();
        assert!(e.is_io() && e.to_string().contains("/nonexistent-dir/x.bin"), "{e}");
    }

    #[test]
    fn a_directory_is_not_a_file() {
        let e = read_file(&std::env::temp_dir()).unwrap_err().to_string();
        assert!(e.contains("is a directory"), "{e}");
    }
}
