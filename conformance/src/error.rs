//! The harness's errors: why a run, a file or a command could not go ahead.
//!
//! This module owns [`Error`]. A failed oracle is not an error (it is a `Failure`, a finding
//! about a stack); an error is the harness unable to do what it was asked, and the CLI exits 2
//! on it.

use std::fmt;
use std::path::{Path, PathBuf};

/// Why the harness could not do what it was asked.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read, created or written.
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Input that does not parse or is out of bounds.
    Parse {
        /// Where: `file:line`, a file and its field, or an argument.
        location: String,
        /// What is wrong there.
        message: String,
    },
    /// A pcap could not be written.
    Pcap(String),
    /// The run cannot go ahead, and why (no root, no TUN device, a seed that does not fail
    /// given to `shrink`, a thread pool that cannot start).
    CannotRun(String),
}

impl Error {
    /// A file error.
    pub fn file(path: &Path, message: impl fmt::Display) -> Error {
        Error::File {
            path: path.to_path_buf(),
            message: message.to_string(),
        }
    }

    /// A parse error at `location`.
    pub fn parse(location: impl Into<String>, message: impl fmt::Display) -> Error {
        Error::Parse {
            location: location.into(),
            message: message.to_string(),
        }
    }

    /// A run that cannot go ahead.
    pub fn cannot_run(why: impl fmt::Display) -> Error {
        Error::CannotRun(why.to_string())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::File { path, message } => write!(f, "{}: {message}", path.display()),
            Error::Parse { location, message } => write!(f, "{location}: {message}"),
            Error::Pcap(message) => write!(f, "pcap: {message}"),
            Error::CannotRun(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for String {
    fn from(e: Error) -> String {
        e.to_string()
    }
}
