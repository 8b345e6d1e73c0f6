//! What happens inside a plugin's call, as data: its log lines, the object calls its grants
//! or the loop guards refused, and the writes it made.
//!
//! The host hands each [`Observation`] to the observers of the request the call serves,
//! and to the process's log ([`LogObserver`], always first). `s3plug test` keeps them to
//! check a case's expectations, `s3plug dev` shows them live; neither reads log text, so
//! neither depends on how a line is worded or on how many calls run at once.
//!
//! Observers run on the call's task, inside the plugin's time: keep them quick, and never
//! block on I/O.

use std::fmt;
use std::sync::Arc;

use crate::bounded::Name;

/// The call an observation comes from.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// The record's index in its event.
    pub record: usize,
    pub plugin: &'a str,
    /// The object that triggered the call (event data, not the plugin's).
    pub bucket: &'a str,
    pub key: &'a str,
}

/// A plugin log line's level, as the plugin chose it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    /// `trace`, `debug`, `info`, `warn` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing that happened in a call. Names the plugin chose come as [`Name`]s: formatted,
/// they are bounded and escaped, so an observer that keeps one keeps at most a few hundred
/// bytes of it.
#[derive(Debug, Clone, Copy)]
pub enum Observation<'a> {
    /// A line the plugin logged within its budget, already cut to its bound
    /// (`bounded::MAX_LOG_LINE_BYTES`). Lines past the budget are counted, not observed.
    Log { level: Level, message: &'a str },
    /// An object call refused: not granted, or stopped by a loop guard.
    Denied {
        /// `head`, `get`, `put`, `create`, `list`, `copy from`, `copy to` or `delete`.
        operation: &'static str,
        bucket: Name<'a>,
        key: Name<'a>,
        /// Why, in the host's words.
        why: &'a str,
    },
    /// An object the plugin wrote (a put, a finished writer or a copy) or deleted.
    Wrote {
        /// `put`, `create`, `copy` or `delete`.
        operation: &'static str,
        bucket: Name<'a>,
        key: Name<'a>,
        /// The bytes written (0 for a delete; the source's size for a copy).
        bytes: u64,
    },
}

/// Receives what happens inside calls. See the module's documentation.
pub trait Observer: Send + Sync + fmt::Debug {
    fn observe(&self, call: &Call<'_>, what: &Observation<'_>);
}

/// The observers of one request: the log, then the request's own.
#[derive(Debug, Clone, Default)]
pub(crate) struct Observers {
    extra: Option<Arc<dyn Observer>>,
}

impl Observers {
    pub(crate) fn new(extra: Option<Arc<dyn Observer>>) -> Self {
        Self { extra }
    }

    pub(crate) fn observe(&self, call: &Call<'_>, what: &Observation<'_>) {
        LogObserver.observe(call, what);
        if let Some(extra) = &self.extra {
            extra.observe(call, what);
        }
    }
}

/// The process's log: plugin lines at their own level under the target `plugin`, denials
/// at warn, writes at debug, each with the plugin and the objects as fields.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogObserver;

impl Observer for LogObserver {
    fn observe(&self, call: &Call<'_>, what: &Observation<'_>) {
        let plugin = call.plugin;
        match *what {
            Observation::Log { level, message } => {
                let (bucket, key) = (call.bucket, call.key);
                match level {
                    Level::Trace => {
                        tracing::trace!(target: "plugin", plugin, bucket, key, "{message}");
                    }
                    Level::Debug => {
                        tracing::debug!(target: "plugin", plugin, bucket, key, "{message}");
                    }
                    Level::Info => {
                        tracing::info!(target: "plugin", plugin, bucket, key, "{message}");
                    }
                    Level::Warn => {
                        tracing::warn!(target: "plugin", plugin, bucket, key, "{message}");
                    }
                    Level::Error => {
                        tracing::error!(target: "plugin", plugin, bucket, key, "{message}");
                    }
                }
            }
            Observation::Denied {
                operation,
                bucket,
                key,
                why,
            } => {
                tracing::warn!(plugin, operation, %bucket, %key, "denied: {why}");
            }
            Observation::Wrote {
                operation,
                bucket,
                key,
                bytes,
            } => {
                tracing::debug!(plugin, operation, %bucket, %key, bytes, "wrote");
            }
        }
    }
}
