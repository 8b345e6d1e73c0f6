//! [`ObjectError`]: why an [`objects`](crate::objects) call failed.

use std::{fmt, io};

use crate::wit::s3plug::plugin::types;

/// Why an [`objects`](crate::objects) call failed.
///
/// Every failure of an object call is one of these values: a call never traps the plugin, so
/// a handler can always decide what to do next. It converts into [`Error`](crate::Error)
/// with `?`, and into `std::io::Error` (with a matching [`io::ErrorKind`]) for the
/// `Read` and `Write` implementations of [`Reader`](crate::objects::Reader) and
/// [`Writer`](crate::objects::Writer).
///
/// # Example
///
/// ```no_run
/// use s3plug_guest::{Error, ObjectError, Outcome, Record, objects};
///
/// fn handle(record: Record) -> Result<Outcome, Error> {
///     match objects::read_all(&record.bucket, &record.key) {
///         Ok(body) => Ok(Outcome::processed(format!("{} bytes", body.len()))),
///         // Deleted since the event was sent: nothing left to do.
///         Err(ObjectError::NotFound) => Ok(Outcome::skipped("the object is gone")),
///         Err(error) => Err(error.into()),
///     }
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ObjectError {
    /// The plugin's grants do not allow this operation on this bucket and key. The text
    /// names the operation and the object. The host logs every denial.
    Denied(String),
    /// The bucket or the object does not exist.
    NotFound,
    /// The object, the range or the body is larger than this call accepts.
    TooLarge,
    /// A limit of this plugin for this record was reached; the text names it
    /// (`max_writes`, ...). The record fails whatever the plugin returns.
    LimitExceeded(String),
    /// The store asked the caller to slow down; trying later may succeed.
    Throttled,
    /// The key or bucket name cannot be used: empty, too long, or with `.` or `..` path
    /// segments. The text says why.
    InvalidKey(String),
    /// The store failed; the text is its message.
    Storage(String),
    /// Anything else; the text says what.
    Other(String),
}

impl fmt::Display for ObjectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Denied(text) => write!(f, "access denied: {text}"),
            Self::NotFound => f.write_str("no such bucket or object"),
            Self::TooLarge => f.write_str("the object, range or body is too large for this call"),
            Self::LimitExceeded(text) => write!(f, "plugin limit reached: {text}"),
            Self::Throttled => f.write_str("the store is throttling requests"),
            Self::InvalidKey(text) => write!(f, "invalid bucket or key: {text}"),
            Self::Storage(text) => write!(f, "storage error: {text}"),
            Self::Other(text) => f.write_str(text),
        }
    }
}

impl std::error::Error for ObjectError {}

impl From<types::Error> for ObjectError {
    fn from(error: types::Error) -> Self {
        match error {
            types::Error::Denied(text) => Self::Denied(text),
            types::Error::NotFound => Self::NotFound,
            types::Error::TooLarge => Self::TooLarge,
            types::Error::LimitExceeded(text) => Self::LimitExceeded(text),
            types::Error::Throttled => Self::Throttled,
            types::Error::InvalidKey(text) => Self::InvalidKey(text),
            types::Error::Storage(text) => Self::Storage(text),
            types::Error::Other(text) => Self::Other(text),
        }
    }
}

impl From<ObjectError> for io::Error {
    fn from(error: ObjectError) -> Self {
        let kind = match &error {
            ObjectError::Denied(_) => io::ErrorKind::PermissionDenied,
            ObjectError::NotFound => io::ErrorKind::NotFound,
            ObjectError::TooLarge => io::ErrorKind::FileTooLarge,
            ObjectError::LimitExceeded(_) => io::ErrorKind::QuotaExceeded,
            ObjectError::Throttled => io::ErrorKind::ResourceBusy,
            ObjectError::InvalidKey(_) => io::ErrorKind::InvalidInput,
            ObjectError::Storage(_) | ObjectError::Other(_) => io::ErrorKind::Other,
        };
        io::Error::new(kind, error)
    }
}
