//! The one error type of the library, [`Error`], and its [`Result`].
//!
//! Every message says what is wrong *and* what to do about it: the person reading it is usually
//! at a terminal with a file that will not load or a spec that does not fit, not debugging the
//! library. The variant says the cause, so callers (the CLI, the Python bindings) can sort
//! errors without parsing messages: files and folders are [`Error::Io`], everything a user can
//! fix by changing an input is one of the others.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// What went wrong, by cause. The `Display` text is complete and meant to be shown as is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or folder could not be read, written or created.
    #[error("{}: cannot {action}: {source}; {}", path.display(), io_hint(source))]
    Io {
        /// What was being done: "read", "write", "create", ...
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A data set could not be found, read or understood (IDX, npz, images, generators).
    #[error("{0}")]
    Data(String),
    /// A model spec that does not parse, or does not fit its input.
    #[error("{0}")]
    Spec(String),
    /// Arrays whose shapes, lengths or values do not agree (inputs, targets, tensors).
    #[error("{0}")]
    Shape(String),
    /// A model, checkpoint or snapshot file that cannot be used.
    #[error("{0}")]
    ModelFile(String),
    /// Settings that cannot run: flags, config files, optimizer and sweep settings.
    #[error("{0}")]
    Config(String),
    /// A computation that left the finite numbers, such as a NaN loss.
    #[error("{0}")]
    Numeric(String),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn io_hint(err: &io::Error) -> &'static str {
    match err.kind() {
        io::ErrorKind::NotFound => "check the path",
        io::ErrorKind::PermissionDenied => "check the permissions",
        io::ErrorKind::IsADirectory => "give a file, not a directory",
        io::ErrorKind::StorageFull => "free some disk space",
        _ => "check that the path is usable",
    }
}

impl Error {
    /// `path` could not be read.
    pub fn read(path: &Path, source: io::Error) -> Self {
        Error::Io { action: "read", path: path.to_path_buf(), source }
    }

    /// `path` could not be written.
    pub fn write(path: &Path, source: io::Error) -> Self {
        Error::Io { action: "write", path: path.to_path_buf(), source }
    }

    /// The folder `path` could not be created.
    pub fn create(path: &Path, source: io::Error) -> Self {
        Error::Io { action: "create", path: path.to_path_buf(), source }
    }

    pub fn data(msg: impl Into<String>) -> Self {
        Error::Data(msg.into())
    }

    pub fn spec(msg: impl Into<String>) -> Self {
        Error::Spec(msg.into())
    }

    pub fn shape(msg: impl Into<String>) -> Self {
        Error::Shape(msg.into())
    }

    pub fn model_file(msg: impl Into<String>) -> Self {
        Error::ModelFile(msg.into())
    }

    pub fn config(msg: impl Into<String>) -> Self {
        Error::Config(msg.into())
    }

    pub fn numeric(msg: impl Into<String>) -> Self {
        Error::Numeric(msg.into())
    }

    /// Prefixes the message with where it happened (a file inside an archive, a layer, ...),
    /// keeping the cause. An I/O error keeps its path and becomes a data error with the prefix.
    pub fn context(self, what: impl fmt::Display) -> Self {
        match self {
            Error::Data(m) => Error::Data(format!("{what}: {m}")),
            Error::Spec(m) => Error::Spec(format!("{what}: {m}")),
            Error::Shape(m) => Error::Shape(format!("{what}: {m}")),
            Error::ModelFile(m) => Error::ModelFile(format!("{what}: {m}")),
            Error::Config(m) => Error::Config(format!("{what}: {m}")),
            Error::Numeric(m) => Error::Numeric(format!("{what}: {m}")),
            io @ Error::Io { .. } => Error::Data(format!("{what}: {io}")),
        }
    }

    /// True for errors about files and folders (the Python bindings raise `OSError` for them).
    pub fn is_io(&self) -> bool {
        matches!(self, Error::Io { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_name_the_path_and_a_hint() {
        let p = Path::new("/definitely/not/here.gz");
        let e = Error::read(p, std::fs::read(p).unwrap_err()).to_string();
        assert!(e.starts_with("/definitely/not/here.gz: cannot read: "), "{e}");
        assert!(e.ends_with("check the path"), "{e}");
    }

    #[test]
    fn context_prefixes_and_keeps_the_cause() {
        let e = Error::data("bad dtype; use float32").context("a.npz: X.npy");
        assert_eq!(e.to_string(), "a.npz: X.npy: bad dtype; use float32");
        assert!(matches!(e, Error::Data(_)));
    }

    #[test]
    fn is_a_std_error() {
        fn takes(_: &dyn std::error::Error) {}
        takes(&Error::spec("x"));
    }
}
