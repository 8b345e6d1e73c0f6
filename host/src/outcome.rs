//! What happened to each (record, plugin): the report every front end prints or returns.

use std::fmt;

use serde::Serialize;

use crate::plugin::Usage;

/// The status of one (record, plugin).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The plugin processed the record, or chose to skip it.
    Ok,
    /// The record was not processed: a plugin failure, a limit, or an undecodable record.
    Failed,
    /// No route matched the record: nothing to do, not a failure.
    Unrouted,
    /// S3's test event: acknowledged only.
    Ignored,
    /// A loop guard stopped the record: its object is `max_depth` s3plug writes deep. A
    /// decision, logged and counted, not a failure.
    LoopStopped,
}

impl Status {
    /// The name in reports: `ok`, `failed`, `unrouted`, `ignored`, `loop-stopped`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failed => "failed",
            Self::Unrouted => "unrouted",
            Self::Ignored => "ignored",
            Self::LoopStopped => "loop-stopped",
        }
    }
}

/// What a plugin said it did with a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginOutcome {
    Processed(Option<String>),
    Skipped(Option<String>),
}

/// Why a (record, plugin) failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// The plugin returned an error.
    PluginError,
    /// The plugin returned an error after an object call was denied.
    Denied,
    /// The plugin trapped: a panic, `unreachable`, an out-of-bounds access, ...
    Trap,
    /// The plugin recursed past the stack limit.
    StackOverflow,
    /// The plugin ran past `limits.timeout_ms`.
    Timeout,
    /// The plugin needed more linear memory than `limits.memory_mib`.
    Memory,
    /// The plugin hit a per-record limit such as `max_writes`.
    LimitExceeded,
    /// The record could not be decoded.
    InvalidEvent,
    /// The host could not set up the call.
    Internal,
}

impl FailureKind {
    /// Whether trying the same record again may succeed: a plugin error, a trap or a time-out
    /// can come from a passing cause (a throttled store, a slow response); a denial, a
    /// limit, a bad record cannot change by retrying.
    pub fn is_retryable(self) -> bool {
        match self {
            FailureKind::PluginError
            | FailureKind::Trap
            | FailureKind::Timeout
            | FailureKind::Internal => true,
            FailureKind::Denied
            | FailureKind::StackOverflow
            | FailureKind::Memory
            | FailureKind::LimitExceeded
            | FailureKind::InvalidEvent => false,
        }
    }

    /// The word that starts the `error` text.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::PluginError => "plugin-error",
            FailureKind::Denied => "denied",
            FailureKind::Trap => "trap",
            FailureKind::StackOverflow => "stack-overflow",
            FailureKind::Timeout => "timeout",
            FailureKind::Memory => "memory",
            FailureKind::LimitExceeded => "limit-exceeded",
            FailureKind::InvalidEvent => "invalid-event",
            FailureKind::Internal => "internal",
        }
    }
}

/// A failure: its kind and a message for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
}

impl Failure {
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.message)
    }
}

/// One line of the report: one (record, plugin), or one record without a plugin
/// (unrouted, ignored, undecodable).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordOutcome {
    /// The position of the record in the event, from 0.
    pub record: usize,
    /// The SQS message the record came in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    pub bucket: Option<String>,
    /// The decoded key.
    pub key: Option<String>,
    /// The event name, `ObjectCreated:Put`.
    pub event: Option<String>,
    pub plugin: Option<String>,
    pub status: Status,
    /// `processed` or `skipped`, when the plugin ran to the end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<&'static str>,
    /// What the plugin said it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Why it failed: `<reason>: <detail>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The failure's kind, the first word of `error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<FailureKind>,
    pub duration_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<UsageReport>,
}

/// What a plugin call used, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageReport {
    pub writes: u32,
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub denials: u32,
    pub logs_dropped: u32,
}

impl From<&Usage> for UsageReport {
    fn from(usage: &Usage) -> Self {
        Self {
            writes: usage.writes,
            bytes_read: usage.bytes_read,
            bytes_written: usage.bytes_written,
            denials: usage.denial_count,
            logs_dropped: usage.logs_dropped,
        }
    }
}

impl RecordOutcome {
    pub fn is_failed(&self) -> bool {
        self.status == Status::Failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_are_the_reported_ones() {
        for status in [
            Status::Ok,
            Status::Failed,
            Status::Unrouted,
            Status::Ignored,
            Status::LoopStopped,
        ] {
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                serde_json::Value::from(status.as_str())
            );
        }
    }
}
