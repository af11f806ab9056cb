//! The one error type of the library. Every error is a usage or input error for the CLI (exit 2)
//! and its message names the file, the column or key, and the reason.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub message: String,
}

impl Error {
    pub fn new(message: impl Into<String>) -> Error {
        Error { message: message.into() }
    }

    /// A broken invariant of priceaudit itself (a bug, not the user's input).
    pub fn internal(message: impl Into<String>) -> Error {
        Error { message: format!("internal error: {}", message.into()) }
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
        Error::new(format!("write: {e}"))
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// `Err(Error)` with a formatted message.
#[macro_export]
macro_rules! bail {
    ($($arg:tt)*) => { return Err($crate::error::Error::new(format!($($arg)*))) };
}
