//! What happened to each (record, plugin): the report every front end prints or returns.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::bounded::{self, Cut, MAX_MESSAGE_BYTES};
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

/// What a plugin said it did with a record. Build it with [`PluginOutcome::processed`] or
/// [`PluginOutcome::skipped`], which bound the plugin's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PluginOutcome {
    Processed(Option<String>),
    Skipped(Option<String>),
}

impl PluginOutcome {
    /// The plugin processed the record; its message, if any, is cut to
    /// [`MAX_MESSAGE_BYTES`] (4 KiB) with a marker saying how long it was.
    pub fn processed(message: Option<String>) -> Self {
        Self::Processed(message.map(plugin_message))
    }

    /// The plugin skipped the record; its message is bounded as in [`Self::processed`].
    pub fn skipped(message: Option<String>) -> Self {
        Self::Skipped(message.map(plugin_message))
    }
}

/// A plugin's outcome message, bounded.
fn plugin_message(message: String) -> String {
    bounded::cut(message, MAX_MESSAGE_BYTES)
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
    pub(crate) fn is_retryable(self) -> bool {
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
pub(crate) struct Failure {
    pub kind: FailureKind,
    pub message: String,
}

impl Failure {
    /// A failure; the message is cut so that the `error` text, `<kind>: <message>`, takes at
    /// most [`MAX_MESSAGE_BYTES`] (4 KiB), with a marker saying how long it was.
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        let room = MAX_MESSAGE_BYTES - kind.as_str().len() - ": ".len();
        Self {
            kind,
            message: bounded::cut(message.into(), room),
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
    /// What the plugin said it did. Reported cut to [`MAX_MESSAGE_BYTES`].
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_bounded"
    )]
    pub message: Option<String>,
    /// Why it failed: `<reason>: <detail>`. Reported cut to [`MAX_MESSAGE_BYTES`].
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_bounded"
    )]
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

/// Serialises a report text cut to [`MAX_MESSAGE_BYTES`], copying nothing: whoever filled
/// the outcome in, a report line never carries more.
fn serialize_bounded<S: Serializer>(
    text: &Option<String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match text {
        Some(text) => serializer.collect_str(&Cut {
            text,
            max: MAX_MESSAGE_BYTES,
        }),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(message: Option<String>, error: Option<String>) -> RecordOutcome {
        RecordOutcome {
            record: 0,
            message_id: None,
            bucket: None,
            key: None,
            event: None,
            plugin: Some("p".into()),
            status: Status::Ok,
            outcome: None,
            message,
            error,
            reason: None,
            duration_ms: 0.0,
            usage: None,
        }
    }

    #[test]
    fn a_plugin_message_is_kept_within_the_bound_and_cut_past_it() {
        let short = PluginOutcome::processed(Some("wrote thumbs/a.jpg".into()));
        assert_eq!(
            short,
            PluginOutcome::Processed(Some("wrote thumbs/a.jpg".into()))
        );
        assert_eq!(PluginOutcome::skipped(None), PluginOutcome::Skipped(None));
        let PluginOutcome::Skipped(Some(cut)) = PluginOutcome::skipped(Some("m".repeat(1 << 20)))
        else {
            panic!("not skipped with a message");
        };
        assert!(cut.len() <= MAX_MESSAGE_BYTES);
        assert!(cut.ends_with("…[cut: 1048576 bytes in all]"), "{cut}");
    }

    #[test]
    fn a_failure_text_fits_the_bound_kind_included() {
        let plain = Failure::new(FailureKind::PluginError, "bad input");
        assert_eq!(plain.to_string(), "plugin-error: bad input");
        let huge = Failure::new(FailureKind::PluginError, "e".repeat(100 << 20));
        let text = huge.to_string();
        assert!(text.len() <= MAX_MESSAGE_BYTES, "{}", text.len());
        assert!(text.starts_with("plugin-error: eee"));
        assert!(text.ends_with("…[cut: 104857600 bytes in all]"));
    }

    #[test]
    fn a_report_line_carries_bounded_texts_whoever_filled_them_in() {
        let fits = outcome(Some("done".into()), Some("trap: x".into()));
        let line = serde_json::to_value(&fits).unwrap();
        assert_eq!(
            (&line["message"], &line["error"]),
            (&"done".into(), &"trap: x".into())
        );

        let long = outcome(Some("m".repeat(10_000)), Some("e".repeat(20_000)));
        let line = serde_json::to_value(&long).unwrap();
        let message = line["message"].as_str().unwrap();
        let error = line["error"].as_str().unwrap();
        assert!(message.len() <= MAX_MESSAGE_BYTES && error.len() <= MAX_MESSAGE_BYTES);
        assert!(message.ends_with("…[cut: 10000 bytes in all]"));
        assert!(error.ends_with("…[cut: 20000 bytes in all]"));

        let none = serde_json::to_value(outcome(None, None)).unwrap();
        assert!(none.get("message").is_none() && none.get("error").is_none());
    }

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
