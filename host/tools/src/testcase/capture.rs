//! Plugin log lines and denials of a case, as the pipeline observes them.
//!
//! A case's requests carry a [`Capture`] as their observer; it keeps what each call
//! logged and had refused, tagged with the call's record, so that what a case sees does
//! not depend on how many calls ran at once or on how the log words a line.

use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};

use s3plug_host::observe::{Call, Observation, Observer};

/// One line a plugin logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogLine {
    pub plugin: String,
    /// `trace`, `debug`, `info`, `warn` or `error`.
    pub level: String,
    pub message: String,
}

impl fmt::Display for LogLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}: {}", self.level, self.plugin, self.message)
    }
}

/// One object call the grants or loop guards refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Denial {
    pub plugin: String,
    /// `head`, `get`, `put`, `create`, `list`, `copy from`, `copy to` or `delete`.
    pub operation: String,
    pub bucket: String,
    pub key: String,
    pub why: String,
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}/{} (plugin {:?})",
            self.operation, self.bucket, self.key, self.plugin
        )
    }
}

/// What a case logged.
#[derive(Debug, Clone, Default)]
pub(crate) struct Seen {
    pub logs: Vec<LogLine>,
    pub denials: Vec<Denial>,
}

impl Seen {
    fn append(&mut self, mut other: Seen) {
        self.logs.append(&mut other.logs);
        self.denials.append(&mut other.denials);
    }
}

/// The observer of a case's requests.
#[derive(Debug, Default)]
pub(crate) struct Capture {
    /// Per observation, the record it came from: calls of one event may run at once.
    logs: Mutex<Vec<(usize, LogLine)>>,
    denials: Mutex<Vec<(usize, Denial)>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `taken` in record order; a call's own observations keep the order they happened in.
fn by_record<T>(mut taken: Vec<(usize, T)>) -> Vec<T> {
    taken.sort_by_key(|(record, _)| *record);
    taken.into_iter().map(|(_, item)| item).collect()
}

impl Capture {
    /// What was seen since the last call, in record order, appended to `seen`.
    pub(crate) fn take_into(&self, seen: &mut Seen) {
        seen.append(Seen {
            logs: by_record(std::mem::take(&mut *lock(&self.logs))),
            denials: by_record(std::mem::take(&mut *lock(&self.denials))),
        });
    }
}

impl Observer for Capture {
    fn observe(&self, call: &Call<'_>, what: &Observation<'_>) {
        match *what {
            Observation::Log { level, message } => lock(&self.logs).push((
                call.record,
                LogLine {
                    plugin: call.plugin.to_owned(),
                    level: level.as_str().to_owned(),
                    message: message.to_owned(),
                },
            )),
            Observation::Denied {
                operation,
                bucket,
                key,
                why,
            } => lock(&self.denials).push((
                call.record,
                Denial {
                    plugin: call.plugin.to_owned(),
                    operation: operation.to_owned(),
                    bucket: bucket.to_string(),
                    key: key.to_string(),
                    why: why.to_owned(),
                },
            )),
            Observation::Wrote { .. } => {}
        }
    }
}
