//! The one error type of the data loaders.
//!
//! Every message says what is wrong *and* what to do about it, because the person reading it is
//! usually at a terminal with a file that will not load, not debugging the library.

use std::fmt;
use std::io;
use std::path::Path;

/// A data source could not be found, read or understood. The message is complete and meant to
/// be shown to the user as is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataError(String);

impl DataError {
    /// An error with a complete message (what is wrong; how to fix it).
    pub fn new(msg: impl Into<String>) -> Self {
        DataError(msg.into())
    }

    /// An I/O failure on `path`, with a hint suited to the kind of failure.
    pub fn io(path: &Path, err: &io::Error) -> Self {
        let hint = match err.kind() {
            io::ErrorKind::NotFound => "check the path",
            io::ErrorKind::PermissionDenied => "check the file's permissions",
            io::ErrorKind::IsADirectory => "give a file, not a directory",
            _ => "check that the file is readable",
        };
        DataError(format!("{}: cannot read: {err}; {hint}", path.display()))
    }

    /// The message, as shown to the user.
    pub fn message(&self) -> &str {
        &self.0
    }

    /// Prefixes the message with where it happened, e.g. a file inside an archive.
    pub fn context(self, what: impl fmt::Display) -> Self {
        DataError(format!("{what}: {}", self.0))
    }
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DataError {}

/// Reads a whole file, turning failures into a [`DataError`] that names the file.
pub fn read_file(path: &Path) -> Result<Vec<u8>, DataError> {
    if path.is_dir() {
        return Err(DataError::new(format!(
            "{}: is a directory, expected a file; give the file's path",
            path.display()
        )));
    }
    std::fs::read(path).map_err(|e| DataError::io(path, &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_the_message() {
        let e = DataError::new("x.gz: bad; fix it");
        assert_eq!(e.to_string(), "x.gz: bad; fix it");
        assert_eq!(e.message(), "x.gz: bad; fix it");
    }

    #[test]
    fn context_prefixes() {
        let e = DataError::new("bad dtype; use float32").context("a.npz: X.npy");
        assert_eq!(e.to_string(), "a.npz: X.npy: bad dtype; use float32");
    }

    #[test]
    fn missing_file_names_path_and_hint() {
        let p = Path::new("/definitely/not/here.gz");
        let e = read_file(p).unwrap_err().to_string();
        assert!(e.contains("/definitely/not/here.gz"), "{e}");
        assert!(e.contains("check the path"), "{e}");
    }

    #[test]
    fn directory_is_not_a_file() {
        let e = read_file(&std::env::temp_dir()).unwrap_err().to_string();
        assert!(e.contains("is a directory"), "{e}");
    }

    #[test]
    fn is_std_error() {
        fn takes(_: &dyn std::error::Error) {}
        takes(&DataError::new("x"));
    }
}

// TRANSITION: until the loaders return `crate::Error`.
impl From<DataError> for crate::Error {
    fn from(e: DataError) -> Self {
        crate::Error::Data(e.0)
    }
}
