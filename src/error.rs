//! The one error type of the library. Its message names the file, the column or key, and the
//! reason; its kind says whose problem it is, and `main.rs` chooses the exit code from the kind
//! (every kind is exit 2 for the CLI today, SPEC §7; an internal error says so in its message
//! and is never reported as the user's bad input).

use std::fmt;

/// Whose problem an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The dump: a missing table or column, an unreadable file, a row under `--strict`.
    Input,
    /// The config file or a command-line setting.
    Config,
    /// Writing the outputs.
    Io,
    /// A broken invariant of priceaudit itself (a bug): rows lost, an overflow.
    Internal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

impl Error {
    /// An input error (the usual kind).
    pub fn new(message: impl Into<String>) -> Error {
        Error { kind: ErrorKind::Input, message: message.into() }
    }

    /// A config or setting error.
    pub fn config(message: impl Into<String>) -> Error {
        Error { kind: ErrorKind::Config, message: message.into() }
    }

    /// A broken invariant of priceaudit itself (a bug, not the user's input).
    pub fn internal(message: impl Into<String>) -> Error {
        Error { kind: ErrorKind::Internal, message: format!("internal error: {}", message.into()) }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<polars::prelude::PolarsError> for Error {
    fn from(e: polars::prelude::PolarsError) -> Error {
        Error::new(format!("polars: {e}"))
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error { kind: ErrorKind::Io, message: format!("write: {e}") }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// `Err(Error)` with a formatted message.
#[macro_export]
macro_rules! bail {
    ($($arg:tt)*) => { return Err($crate::error::Error::new(format!($($arg)*))) };
}
