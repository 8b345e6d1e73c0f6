//! Levelled log lines. The host writes each line with the plugin's name, the bucket and the
//! key, so a message need not repeat them.
//!
//! Use the macros, which take format arguments, or the functions, which take a finished
//! message. Lines beyond the plugin's log budget for one record are dropped, and the host
//! reports how many were.
//!
//! # Example
//!
//! ```no_run
//! use s3plug_guest::log;
//!
//! let rows = 42;
//! log::info!("converted {rows} rows");
//! log::warn!("row {} has {} fields, expected {}", 7, 3, 4);
//! log::debug("a plain message");
//! ```

use crate::wit::s3plug::plugin::log as host;

/// How important a log line is: [`Trace`](Level::Trace), [`Debug`](Level::Debug),
/// [`Info`](Level::Info), [`Warn`](Level::Warn) or [`Error`](Level::Error).
///
/// ```no_run
/// use s3plug_guest::log::{self, Level};
///
/// let level = if cfg!(debug_assertions) { Level::Debug } else { Level::Info };
/// log::log(level, "starting");
/// ```
#[doc(inline)]
pub use host::Level;

/// Writes one log line at `level`.
///
/// ```no_run
/// s3plug_guest::log::log(s3plug_guest::log::Level::Warn, "the object is empty");
/// ```
pub fn log(level: Level, message: &str) {
    host::log(level, message);
}

/// Writes one line of step-by-step detail.
///
/// ```no_run
/// s3plug_guest::log::trace("decoded the header");
/// ```
pub fn trace(message: &str) {
    log(Level::Trace, message);
}

/// Writes one line of detail for diagnosing problems.
///
/// ```no_run
/// s3plug_guest::log::debug("using the default size");
/// ```
pub fn debug(message: &str) {
    log(Level::Debug, message);
}

/// Writes one line of normal progress.
///
/// ```no_run
/// s3plug_guest::log::info("thumbnail written");
/// ```
pub fn info(message: &str) {
    log(Level::Info, message);
}

/// Writes one line about something unexpected that the plugin handled.
///
/// ```no_run
/// s3plug_guest::log::warn("no content type, guessing from the bytes");
/// ```
pub fn warn(message: &str) {
    log(Level::Warn, message);
}

/// Writes one line about something that failed.
///
/// ```no_run
/// s3plug_guest::log::error("could not delete the source object");
/// ```
pub fn error(message: &str) {
    log(Level::Error, message);
}

/// Writes a line of step-by-step detail from format arguments, like `format!`.
///
/// ```no_run
/// let offset = 1024;
/// s3plug_guest::log::trace!("reading from byte {offset}");
/// ```
#[doc(hidden)]
#[macro_export]
macro_rules! __s3plug_log_trace {
    ($($arg:tt)+) => {
        $crate::log::trace(&::std::format!($($arg)+))
    };
}
#[doc(inline)]
pub use crate::__s3plug_log_trace as trace;

/// Writes a line of detail for diagnosing problems from format arguments, like `format!`.
///
/// ```no_run
/// let width = 200;
/// s3plug_guest::log::debug!("max_width not set, using {width}");
/// ```
#[doc(hidden)]
#[macro_export]
macro_rules! __s3plug_log_debug {
    ($($arg:tt)+) => {
        $crate::log::debug(&::std::format!($($arg)+))
    };
}
#[doc(inline)]
pub use crate::__s3plug_log_debug as debug;

/// Writes a line of normal progress from format arguments, like `format!`.
///
/// ```no_run
/// let rows = 10;
/// s3plug_guest::log::info!("converted {rows} rows");
/// ```
#[doc(hidden)]
#[macro_export]
macro_rules! __s3plug_log_info {
    ($($arg:tt)+) => {
        $crate::log::info(&::std::format!($($arg)+))
    };
}
#[doc(inline)]
pub use crate::__s3plug_log_info as info;

/// Writes a line about something unexpected that the plugin handled, from format arguments,
/// like `format!`.
///
/// ```no_run
/// let key = "a.CSV";
/// s3plug_guest::log::warn!("{key:?} has an upper-case extension");
/// ```
#[doc(hidden)]
#[macro_export]
macro_rules! __s3plug_log_warn {
    ($($arg:tt)+) => {
        $crate::log::warn(&::std::format!($($arg)+))
    };
}
#[doc(inline)]
pub use crate::__s3plug_log_warn as warn;

/// Writes a line about something that failed from format arguments, like `format!`.
///
/// ```no_run
/// let error = "timeout";
/// s3plug_guest::log::error!("cleanup failed: {error}");
/// ```
#[doc(hidden)]
#[macro_export]
macro_rules! __s3plug_log_error {
    ($($arg:tt)+) => {
        $crate::log::error(&::std::format!($($arg)+))
    };
}
#[doc(inline)]
pub use crate::__s3plug_log_error as error;
