//! Expectations, and checking them against what a case did.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::capture::{Denial, LogLine, Seen};
use super::report::Mismatch;
use s3plug_host::guard::Lineage;
use s3plug_host::outcome::{RecordOutcome, Status};
use s3plug_host::store::MemoryStore;

/// The values of `status`.
pub(crate) const STATUSES: &[&str] = &["ok", "failed", "unrouted", "ignored", "loop-stopped"];
/// The values of `outcome`.
pub(crate) const OUTCOMES: &[&str] = &["processed", "skipped", "duplicate", "stale"];
/// The values of `reason`.
pub(crate) const REASONS: &[&str] = &[
    "plugin-error",
    "denied",
    "trap",
    "stack-overflow",
    "timeout",
    "memory",
    "limit-exceeded",
    "invalid-event",
    "internal",
];
/// The operations denials name.
pub(crate) const OPERATIONS: &[&str] = &[
    "head",
    "get",
    "put",
    "create",
    "list",
    "copy from",
    "copy to",
    "delete",
];
/// Plugin log levels.
pub(crate) const LEVELS: &[&str] = &["trace", "debug", "info", "warn", "error"];

/// How many lines of context (log lines, keys, outcomes) a mismatch quotes at most.
const QUOTED: usize = 10;

/// Text longer than this is shown as its first differing line rather than whole.
const SHORT_TEXT: usize = 120;

/// `[[case.outcome]]`: selectors, then checks. Every outcome the selectors match must pass
/// every check, and at least one must match.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OutcomeExpectation {
    #[serde(skip)]
    pub line: usize,
    pub event: Option<usize>,
    pub record: Option<usize>,
    pub plugin: Option<String>,
    pub key: Option<String>,
    pub status: Option<String>,
    pub outcome: Option<String>,
    pub reason: Option<String>,
    pub message: Option<String>,
    pub message_contains: Option<String>,
    pub error_contains: Option<String>,
    pub writes: Option<u32>,
    pub denials: Option<u32>,
}

/// `[[case.object]]`: an object after the case, or its absence.
#[derive(Debug, Clone, Default)]
pub(crate) struct ObjectExpectation {
    pub line: usize,
    pub bucket: String,
    pub key: String,
    pub exists: bool,
    pub content: Option<Content>,
    /// Lower-case hex.
    pub sha256: Option<String>,
    pub size: Option<u64>,
    pub content_type: Option<String>,
    /// Names in lower case; each must be there with this value, others may be too.
    pub metadata: BTreeMap<String, String>,
}

/// The exact content an object must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Content {
    Text(String),
    /// The bytes of a file, named as in the test file.
    File {
        name: String,
        bytes: Vec<u8>,
    },
}

/// `[[case.denial]]`: denials matching the filters; at least one, or exactly `count`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DenialExpectation {
    #[serde(skip)]
    pub line: usize,
    pub plugin: Option<String>,
    pub operation: Option<String>,
    pub bucket: Option<String>,
    pub key: Option<String>,
    pub count: Option<usize>,
}

/// `[[case.log]]`: plugin log lines containing a text; at least one, or exactly `count`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogExpectation {
    #[serde(skip)]
    pub line: usize,
    pub contains: String,
    pub plugin: Option<String>,
    pub level: Option<String>,
    pub count: Option<usize>,
}

/// One outcome, with the index of the event (of the case) it came from.
#[derive(Debug, Clone)]
pub(crate) struct EventOutcome {
    pub event: usize,
    pub outcome: RecordOutcome,
}

/// Everything a case did.
#[derive(Debug, Clone, Default)]
pub(crate) struct CaseRun {
    pub outcomes: Vec<EventOutcome>,
    /// The store after the case.
    pub store: MemoryStore,
    pub seen: Seen,
    /// What went wrong outside any expectation (an event that does not decode, a chain of
    /// writes that does not end).
    pub problems: Vec<Mismatch>,
}

/// The expectations of one case.
#[derive(Debug, Clone, Default)]
pub(crate) struct Expectations {
    pub outcomes: Vec<OutcomeExpectation>,
    pub objects: Vec<ObjectExpectation>,
    pub denials: Vec<DenialExpectation>,
    pub logs: Vec<LogExpectation>,
}

impl Expectations {
    /// Every expectation that does not hold. An outcome no expectation selects must not
    /// have failed: a case never passes over a failure it did not ask for.
    pub fn check(&self, run: &CaseRun) -> Vec<Mismatch> {
        let mut found = run.problems.clone();
        let mut selected = vec![false; run.outcomes.len()];
        for expectation in &self.outcomes {
            expectation.check(&run.outcomes, &mut selected, &mut found);
        }
        for (outcome, _) in run
            .outcomes
            .iter()
            .zip(&selected)
            .filter(|(outcome, selected)| !**selected && outcome.outcome.is_failed())
        {
            found.push(Mismatch {
                line: None,
                subject: describe(outcome),
                field: "status".to_owned(),
                expected: "not failed (no [[case.outcome]] selects this outcome)".to_owned(),
                actual: status_text(&outcome.outcome),
            });
        }
        for expectation in &self.objects {
            expectation.check(&run.store, &mut found);
        }
        for expectation in &self.denials {
            expectation.check(&run.seen.denials, &mut found);
        }
        for expectation in &self.logs {
            expectation.check(&run.seen.logs, &mut found);
        }
        // In the order of the test file; what no expectation asked for comes last.
        found.sort_by_key(|mismatch| mismatch.line.unwrap_or(usize::MAX));
        found
    }
}

/// The name `status` has in the `run` JSON lines.
pub(crate) fn status_name(status: Status) -> &'static str {
    match status {
        Status::Ok => "ok",
        Status::Failed => "failed",
        Status::Unrouted => "unrouted",
        Status::Ignored => "ignored",
        Status::LoopStopped => "loop-stopped",
    }
}

/// `outcome of event 0, record 1 (photos/a.jpg), plugin "thumbnail"`.
fn describe(outcome: &EventOutcome) -> String {
    let record = &outcome.outcome;
    let mut text = format!(
        "outcome of event {}, record {}",
        outcome.event, record.record
    );
    if let (Some(bucket), Some(key)) = (&record.bucket, &record.key) {
        text.push_str(&format!(" ({bucket}/{key})"));
    }
    if let Some(plugin) = &record.plugin {
        text.push_str(&format!(", plugin {plugin:?}"));
    }
    text
}

/// `"failed" (plugin-error: ...)`: the status, with the error when there is one.
fn status_text(outcome: &RecordOutcome) -> String {
    let status = status_name(outcome.status);
    match &outcome.error {
        Some(error) => format!("{status:?} ({error})"),
        None => format!("{status:?}"),
    }
}

fn quoted(value: Option<&str>) -> String {
    value.map_or_else(|| "none".to_owned(), |v| format!("{v:?}"))
}

/// The first `QUOTED` items, joined, and how many more there are.
fn listing<T: ToString>(items: &[T]) -> String {
    let mut text = items
        .iter()
        .take(QUOTED)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    if items.len() > QUOTED {
        text.push_str(&format!("; and {} more", items.len() - QUOTED));
    }
    text
}

impl OutcomeExpectation {
    fn selects(&self, outcome: &EventOutcome) -> bool {
        let record = &outcome.outcome;
        self.event.is_none_or(|event| event == outcome.event)
            && self.record.is_none_or(|index| index == record.record)
            && self
                .plugin
                .as_ref()
                .is_none_or(|plugin| record.plugin.as_ref() == Some(plugin))
            && self
                .key
                .as_ref()
                .is_none_or(|key| record.key.as_ref() == Some(key))
    }

    /// `outcome (event 0, plugin "thumbnail")`: the selectors, for an outcome not found.
    fn describe_selectors(&self) -> String {
        let mut parts = Vec::new();
        if let Some(event) = self.event {
            parts.push(format!("event {event}"));
        }
        if let Some(record) = self.record {
            parts.push(format!("record {record}"));
        }
        if let Some(key) = &self.key {
            parts.push(format!("key {key:?}"));
        }
        if let Some(plugin) = &self.plugin {
            parts.push(format!("plugin {plugin:?}"));
        }
        if parts.is_empty() {
            "outcome".to_owned()
        } else {
            format!("outcome ({})", parts.join(", "))
        }
    }

    fn check(&self, outcomes: &[EventOutcome], selected: &mut [bool], found: &mut Vec<Mismatch>) {
        let mut any = false;
        for (index, outcome) in outcomes.iter().enumerate() {
            if !self.selects(outcome) {
                continue;
            }
            any = true;
            selected[index] = true;
            for (field, expected, actual) in self.differences(&outcome.outcome) {
                found.push(Mismatch {
                    line: Some(self.line),
                    subject: describe(outcome),
                    field: field.to_owned(),
                    expected,
                    actual,
                });
            }
        }
        if !any {
            let actual = if outcomes.is_empty() {
                "no outcomes at all".to_owned()
            } else {
                let all: Vec<String> = outcomes
                    .iter()
                    .map(|o| format!("{}: {}", describe(o), status_text(&o.outcome)))
                    .collect();
                format!("none; the outcomes were: {}", listing(&all))
            };
            found.push(Mismatch {
                line: Some(self.line),
                subject: self.describe_selectors(),
                field: String::new(),
                expected: "an outcome".to_owned(),
                actual,
            });
        }
    }

    /// (field, expected, actual) for every check that fails on `outcome`.
    fn differences(&self, outcome: &RecordOutcome) -> Vec<(&'static str, String, String)> {
        let mut differences = Vec::new();
        let mut exact = |field, expected: &Option<String>, actual: Option<&str>| {
            if let Some(expected) = expected
                && actual != Some(expected.as_str())
            {
                differences.push((field, format!("{expected:?}"), quoted(actual)));
            }
        };
        let status = status_name(outcome.status);
        exact("status", &self.status, Some(status));
        exact("outcome", &self.outcome, outcome.outcome);
        exact("reason", &self.reason, outcome.reason.map(|r| r.as_str()));
        exact("message", &self.message, outcome.message.as_deref());
        if differences.iter().any(|d| d.0 == "status")
            && let Some(error) = &outcome.error
            && let Some(status) = differences.iter_mut().find(|d| d.0 == "status")
        {
            status.2 = format!("{} ({error})", status.2);
        }
        let mut contains = |field, expected: &Option<String>, actual: Option<&str>| {
            if let Some(expected) = expected
                && !actual.is_some_and(|actual| actual.contains(expected.as_str()))
            {
                differences.push((field, format!("containing {expected:?}"), quoted(actual)));
            }
        };
        contains(
            "message",
            &self.message_contains,
            outcome.message.as_deref(),
        );
        contains("error", &self.error_contains, outcome.error.as_deref());
        let usage = outcome.usage.as_ref();
        let not_run = || "none (the plugin did not run)".to_owned();
        if let Some(writes) = self.writes
            && usage.is_none_or(|u| u.writes != writes)
        {
            let actual = usage.map_or_else(not_run, |u| u.writes.to_string());
            differences.push(("writes", writes.to_string(), actual));
        }
        if let Some(denials) = self.denials
            && usage.is_none_or(|u| u.denials != denials)
        {
            let actual = usage.map_or_else(not_run, |u| u.denials.to_string());
            differences.push(("denials", denials.to_string(), actual));
        }
        differences
    }
}

impl ObjectExpectation {
    fn check(&self, store: &MemoryStore, found: &mut Vec<Mismatch>) {
        let mut mismatch = |field: &str, expected: String, actual: String| {
            found.push(Mismatch {
                line: Some(self.line),
                subject: format!("object {}/{}", self.bucket, self.key),
                field: field.to_owned(),
                expected,
                actual,
            });
        };
        let (info, bytes) = match (store.head(&self.bucket, &self.key), self.exists) {
            (Err(_), false) => return,
            (Ok(info), false) => {
                let by = Lineage::from_metadata(&info.metadata)
                    .origin
                    .map(|plugin| format!(", written by plugin {plugin:?}"))
                    .unwrap_or_default();
                mismatch(
                    "exists",
                    "no object".to_owned(),
                    format!("an object of {} bytes{by}", info.size),
                );
                return;
            }
            (Err(_), true) => {
                mismatch(
                    "exists",
                    "an object".to_owned(),
                    absent(store, &self.bucket),
                );
                return;
            }
            (Ok(info), true) => {
                let bytes = store.bytes(&self.bucket, &self.key).unwrap_or_default();
                (info, bytes)
            }
        };
        if let Some(size) = self.size
            && size != info.size
        {
            mismatch("size", size.to_string(), info.size.to_string());
        }
        if let Some(expected) = &self.content_type
            && info.content_type.as_ref() != Some(expected)
        {
            mismatch(
                "content_type",
                format!("{expected:?}"),
                quoted(info.content_type.as_deref()),
            );
        }
        for (name, expected) in &self.metadata {
            let actual = info
                .metadata
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str());
            if actual != Some(expected.as_str()) {
                mismatch(
                    &format!("metadata.{name}"),
                    format!("{expected:?}"),
                    quoted(actual),
                );
            }
        }
        if let Some(expected) = &self.sha256 {
            let actual = sha256_hex(&bytes);
            if &actual != expected {
                mismatch("sha256", expected.clone(), actual);
            }
        }
        match &self.content {
            Some(Content::Text(expected)) if expected.as_bytes() != bytes.as_slice() => {
                let (expected, actual) = text_difference(expected, &bytes);
                mismatch("text", expected, actual);
            }
            Some(Content::File {
                name,
                bytes: expected,
            }) if *expected != bytes => {
                let at = expected
                    .iter()
                    .zip(&bytes)
                    .position(|(a, b)| a != b)
                    .unwrap_or(expected.len().min(bytes.len()));
                mismatch(
                    "bytes",
                    format!(
                        "the {} bytes of {name} (sha256 {})",
                        expected.len(),
                        sha256_hex(expected)
                    ),
                    format!(
                        "{} bytes (sha256 {}), first difference at byte {at}",
                        bytes.len(),
                        sha256_hex(&bytes)
                    ),
                );
            }
            _ => {}
        }
    }
}

/// What is there instead of a missing object: the bucket's keys, or no bucket.
fn absent(store: &MemoryStore, bucket: &str) -> String {
    let keys: Vec<String> = store
        .keys()
        .into_iter()
        .filter(|(b, _)| b == bucket)
        .map(|(_, key)| key)
        .collect();
    if keys.is_empty() {
        format!("none; bucket {bucket:?} holds no objects")
    } else {
        format!("none; bucket {bucket:?} holds: {}", listing(&keys))
    }
}

pub(crate) use s3plug_host::digest::sha256_hex;

/// Expected and actual text, side by side: whole when short and on one line, else the
/// first line that differs.
fn text_difference(expected: &str, actual: &[u8]) -> (String, String) {
    let Ok(actual) = std::str::from_utf8(actual) else {
        return (
            format!("{expected:?}"),
            format!("{} bytes that are not UTF-8 text", actual.len()),
        );
    };
    let short = |text: &str| text.len() <= SHORT_TEXT && !text.contains('\n');
    if short(expected) && short(actual) {
        return (format!("{expected:?}"), format!("{actual:?}"));
    }
    let (expected_lines, actual_lines): (Vec<&str>, Vec<&str>) =
        (expected.split('\n').collect(), actual.split('\n').collect());
    let at = expected_lines
        .iter()
        .zip(&actual_lines)
        .position(|(a, b)| a != b)
        .unwrap_or(expected_lines.len().min(actual_lines.len()));
    let line = |lines: &[&str]| match lines.get(at) {
        Some(text) => format!("line {}: {text:?} (of {})", at + 1, lines.len()),
        None => format!("no line {} (only {})", at + 1, lines.len()),
    };
    (line(&expected_lines), line(&actual_lines))
}

impl DenialExpectation {
    fn matches(&self, denial: &Denial) -> bool {
        let is = |expected: &Option<String>, actual: &String| {
            expected.as_ref().is_none_or(|expected| expected == actual)
        };
        is(&self.plugin, &denial.plugin)
            && is(&self.operation, &denial.operation)
            && is(&self.bucket, &denial.bucket)
            && is(&self.key, &denial.key)
    }

    fn check(&self, denials: &[Denial], found: &mut Vec<Mismatch>) {
        let matching = denials.iter().filter(|d| self.matches(d)).count();
        let Some(expected) = expected_count(self.count, matching) else {
            return;
        };
        let mut filters = Vec::new();
        for (name, value) in [
            ("plugin", &self.plugin),
            ("operation", &self.operation),
            ("bucket", &self.bucket),
            ("key", &self.key),
        ] {
            if let Some(value) = value {
                filters.push(format!("{name} {value:?}"));
            }
        }
        let subject = if filters.is_empty() {
            "denials".to_owned()
        } else {
            format!("denials ({})", filters.join(", "))
        };
        let actual = if denials.is_empty() {
            format!("{matching}; nothing was denied")
        } else {
            format!("{matching}; the denials were: {}", listing(denials))
        };
        found.push(Mismatch {
            line: Some(self.line),
            subject,
            field: "count".to_owned(),
            expected,
            actual,
        });
    }
}

impl LogExpectation {
    fn matches(&self, line: &LogLine) -> bool {
        line.message.contains(&self.contains)
            && self.plugin.as_ref().is_none_or(|p| *p == line.plugin)
            && self.level.as_ref().is_none_or(|l| *l == line.level)
    }

    fn check(&self, logs: &[LogLine], found: &mut Vec<Mismatch>) {
        let matching = logs.iter().filter(|l| self.matches(l)).count();
        let Some(expected) = expected_count(self.count, matching) else {
            return;
        };
        let mut subject = format!("log lines containing {:?}", self.contains);
        if let Some(plugin) = &self.plugin {
            subject.push_str(&format!(" from plugin {plugin:?}"));
        }
        if let Some(level) = &self.level {
            subject.push_str(&format!(" at level {level}"));
        }
        let actual = if logs.is_empty() {
            format!("{matching}; no plugin logged anything")
        } else {
            format!("{matching}; the lines were: {}", listing(logs))
        };
        found.push(Mismatch {
            line: Some(self.line),
            subject,
            field: "count".to_owned(),
            expected,
            actual,
        });
    }
}

/// The expected count as text when `actual` does not meet it: exactly `count`, or at least
/// one.
fn expected_count(count: Option<usize>, actual: usize) -> Option<String> {
    match count {
        Some(count) if count != actual => Some(count.to_string()),
        None if actual == 0 => Some("at least 1".to_owned()),
        _ => None,
    }
}
