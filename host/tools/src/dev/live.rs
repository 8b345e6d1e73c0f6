//! The live log of `s3plug dev`: one line per (record, plugin) as each finishes, as text
//! for a terminal or as JSON lines for tools, and a tally for the end.

use std::io::{self, Write};
use std::sync::Mutex;

use chrono::{DateTime, Local, SecondsFormat, Utc};
use serde_json::Value;

use s3plug_host::outcome::{RecordOutcome, Status};

/// The time of day at the start of text lines.
const CLOCK: &str = "%H:%M:%S%.3f";

/// How many records ended in each status.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Tally {
    pub ok: u64,
    pub failed: u64,
    pub loop_stopped: u64,
    /// Unrouted and ignored records.
    pub other: u64,
}

impl Tally {
    fn count(&mut self, status: Status) {
        match status {
            Status::Ok => self.ok += 1,
            Status::Failed => self.failed += 1,
            Status::LoopStopped => self.loop_stopped += 1,
            _ => self.other += 1,
        }
    }
}

/// Writes the lines; shared by the threads that run records.
#[derive(Debug)]
pub(super) struct LiveLog {
    json: bool,
    tally: Mutex<Tally>,
}

impl LiveLog {
    pub(super) fn new(json: bool) -> Self {
        Self {
            json,
            tally: Mutex::new(Tally::default()),
        }
    }

    /// Prints the outcomes of one notice.
    pub(super) fn record(&self, outcomes: &[RecordOutcome]) {
        let now = Utc::now();
        let mut tally = self.tally.lock().unwrap_or_else(|p| p.into_inner());
        let mut stdout = io::stdout().lock();
        for outcome in outcomes {
            tally.count(outcome.status);
            let line = if self.json {
                json_line(outcome, now)
            } else {
                text_line(outcome, now.with_timezone(&Local))
            };
            // A closed stdout must not stop the endpoint.
            let _ = writeln!(stdout, "{line}");
        }
        let _ = stdout.flush();
    }

    /// Prints that a notice could not be turned into records (which would be a bug).
    pub(super) fn undecodable(&self, what: &str, error: &str) {
        let mut tally = self.tally.lock().unwrap_or_else(|p| p.into_inner());
        tally.failed += 1;
        tracing::error!(%what, "the endpoint made a notification it cannot decode: {error}");
    }

    /// Says that the plugins were reloaded.
    pub(super) fn reloaded(&self, plugins: &[&str]) {
        self.event(
            serde_json::json!({ "reloaded": true, "plugins": plugins }),
            format!("reloaded: {}", plugins.join(", ")),
        );
    }

    /// Says that a reload failed, and that the previous plugins still run.
    pub(super) fn reload_failed(&self, error: &str) {
        self.event(
            serde_json::json!({ "reloaded": false, "error": error }),
            format!("reload failed, still running the previous plugins: {error}"),
        );
    }

    /// Prints a line about the endpoint itself: `json`, or the time and `text`.
    fn event(&self, json: Value, text: String) {
        let line = if self.json {
            json.to_string()
        } else {
            format!("{} {text}", Local::now().format(CLOCK))
        };
        let mut stdout = io::stdout().lock();
        let _ = writeln!(stdout, "{line}");
        let _ = stdout.flush();
    }

    pub(super) fn tally(&self) -> Tally {
        *self.tally.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// `10:58:01.123 ok           thumbnail     photos/in/a.jpg (ObjectCreated:Put) 21.3 ms: made a thumbnail`
pub(super) fn text_line(outcome: &RecordOutcome, at: DateTime<Local>) -> String {
    let object = match (&outcome.bucket, &outcome.key) {
        (Some(bucket), Some(key)) => format!("{bucket}/{key}"),
        (Some(bucket), None) => format!("{bucket}/?"),
        _ => "?".to_owned(),
    };
    let mut line = format!(
        "{} {:<12} {:<14} {object} ({}) {:.1} ms",
        at.format(CLOCK),
        outcome.status.as_str(),
        outcome.plugin.as_deref().unwrap_or("-"),
        outcome.event.as_deref().unwrap_or("?"),
        outcome.duration_ms,
    );
    if let Some(detail) = outcome.error.as_deref().or(outcome.message.as_deref()) {
        line.push_str(": ");
        line.push_str(detail);
    }
    line
}

/// The outcome as `s3plug run` prints it, with the time it finished.
pub(super) fn json_line(outcome: &RecordOutcome, at: DateTime<Utc>) -> String {
    let mut value = serde_json::to_value(outcome).unwrap_or(Value::Null);
    if let Value::Object(fields) = &mut value {
        fields.insert(
            "time".to_owned(),
            Value::String(at.to_rfc3339_opts(SecondsFormat::Millis, true)),
        );
    }
    value.to_string()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use s3plug_host::outcome::FailureKind;

    fn outcome(status: Status) -> RecordOutcome {
        RecordOutcome {
            record: 0,
            message_id: None,
            bucket: Some("photos".into()),
            key: Some("incoming/my photo.jpg".into()),
            event: Some("ObjectCreated:Put".into()),
            plugin: Some("thumbnail".into()),
            status,
            outcome: None,
            message: None,
            error: None,
            reason: None,
            duration_ms: 21.34,
            usage: None,
        }
    }

    #[test]
    fn a_text_line_names_the_record_plugin_outcome_and_duration() {
        let at = Local.with_ymd_and_hms(2026, 11, 26, 10, 58, 1).unwrap();
        let mut ok = outcome(Status::Ok);
        ok.message = Some("wrote thumbnails/my photo.jpg".into());
        assert_eq!(
            text_line(&ok, at),
            "10:58:01.000 ok           thumbnail      photos/incoming/my photo.jpg \
             (ObjectCreated:Put) 21.3 ms: wrote thumbnails/my photo.jpg"
        );
        let mut failed = outcome(Status::Failed);
        failed.message = Some("ignored when there is an error".into());
        failed.error = Some("timeout: stopped after 300 ms".into());
        failed.reason = Some(FailureKind::Timeout);
        assert!(
            text_line(&failed, at).ends_with("21.3 ms: timeout: stopped after 300 ms"),
            "{}",
            text_line(&failed, at)
        );
        let mut unrouted = outcome(Status::Unrouted);
        unrouted.plugin = None;
        assert!(
            text_line(&unrouted, at).contains("unrouted     -              photos/"),
            "{}",
            text_line(&unrouted, at)
        );
    }

    #[test]
    fn a_json_line_is_the_run_output_with_the_time() {
        let at = Utc.with_ymd_and_hms(2026, 11, 26, 10, 58, 1).unwrap();
        let line: Value = serde_json::from_str(&json_line(&outcome(Status::Ok), at)).unwrap();
        assert_eq!(line["status"], "ok");
        assert_eq!(line["plugin"], "thumbnail");
        assert_eq!(line["key"], "incoming/my photo.jpg");
        assert_eq!(line["time"], "2026-11-26T10:58:01.000Z");
    }

    #[test]
    fn the_tally_counts_each_status() {
        let log = LiveLog::new(true);
        let mut tally = Tally::default();
        for status in [Status::Ok, Status::Ok, Status::Failed, Status::LoopStopped] {
            tally.count(status);
        }
        tally.count(Status::Unrouted);
        assert_eq!(
            tally,
            Tally {
                ok: 2,
                failed: 1,
                loop_stopped: 1,
                other: 1
            }
        );
        assert_eq!(log.tally(), Tally::default());
    }
}
