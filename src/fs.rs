//! File-system helpers every part of convlab uses: whole-file reads with errors that name the
//! file, and atomic writes, so a crash or a full disk never leaves half a file behind.

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

#[cfg(test)]
mod tests {
    use super::*;

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
