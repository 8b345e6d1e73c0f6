//! Logs and metrics: JSON log lines, and per-plugin metrics in CloudWatch's Embedded Metric
//! Format, which CloudWatch turns into metrics straight from the function's log stream.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::format::Writer;

use crate::bounded::EscapeWriter;
use crate::outcome::{FailureKind, RecordOutcome, Status};

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// For people at a terminal.
    Text,
    /// One JSON object a line, with the fields of the event and of its spans.
    Json,
}

/// Installs the process's log subscriber, writing to stderr. `S3PLUG_LOG` sets the filter
/// (`tracing` directives, default `default`).
pub fn init_logging(format: LogFormat, default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("S3PLUG_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colours only for a person at a terminal: in a pipe or a log file they are noise.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(io::IsTerminal::is_terminal(&io::stderr()))
        .with_writer(io::stderr);
    let _ = match format {
        LogFormat::Text => builder.fmt_fields(TextFields).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    };
}

/// How the text log format writes fields: like `tracing-subscriber`'s default (the
/// message, then `name=value`), but every value, the message included, written through
/// [`EscapeWriter`]: a newline, a carriage return, ESC or any other control character in
/// a plugin's line (or in a key, or an error) comes out escaped (`\n`, `\u{1b}`), so one
/// event is one line and nothing a plugin logs can start a forged host line or reach the
/// terminal as an escape sequence. The JSON format escapes as JSON does.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextFields;

impl<'writer> FormatFields<'writer> for TextFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = TextVisitor {
            writer,
            result: Ok(()),
            first: true,
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct TextVisitor<'writer> {
    writer: Writer<'writer>,
    result: fmt::Result,
    first: bool,
}

impl Visit for TextVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.record_debug(field, &format_args!("{value}"));
        } else {
            self.record_debug(field, &value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_err() {
            return;
        }
        if !std::mem::take(&mut self.first) {
            self.result = self.writer.write_char(' ');
        }
        let name = field.name();
        if name != "message" {
            let name = name.strip_prefix("r#").unwrap_or(name);
            self.result = self.result.and_then(|()| write!(self.writer, "{name}="));
        }
        self.result = self
            .result
            .and_then(|()| write!(EscapeWriter(&mut self.writer), "{value:?}"));
    }
}

/// The CloudWatch namespace of s3plug's metrics.
pub const NAMESPACE: &str = "s3plug";

#[derive(Debug, Default)]
struct PluginFigures {
    invocations: u64,
    failures: u64,
    denials: u64,
    limit_stops: u64,
    loop_stops: u64,
    bytes_read: u64,
    bytes_written: u64,
    durations: Vec<f64>,
}

/// The most values one metric may carry in an EMF document, as CloudWatch accepts them.
const MAX_EMF_VALUES: usize = 100;

/// EMF documents for the plugins that ran: per plugin, one with its invocations, failures,
/// denials, time (every duration, so CloudWatch can compute percentiles) and bytes, and as
/// many more carrying only durations as it takes to keep every metric within CloudWatch's
/// 100 values (8 metrics a document, one dimension set: far within the other limits).
pub fn emf_documents(outcomes: &[RecordOutcome], function: Option<&str>) -> Vec<Value> {
    let mut plugins: BTreeMap<&str, PluginFigures> = BTreeMap::new();
    for outcome in outcomes {
        let Some(plugin) = outcome.plugin.as_deref() else {
            continue;
        };
        let figures = plugins.entry(plugin).or_default();
        figures.invocations += 1;
        if outcome.status == Status::Failed {
            figures.failures += 1;
        }
        if outcome.reason == Some(FailureKind::LimitExceeded) {
            figures.limit_stops += 1;
        }
        if outcome.status == Status::LoopStopped {
            figures.loop_stops += 1;
        }
        if let Some(usage) = &outcome.usage {
            figures.denials += u64::from(usage.denials);
            figures.bytes_read += usage.bytes_read;
            figures.bytes_written += usage.bytes_written;
        }
        figures.durations.push(outcome.duration_ms);
    }
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    let mut documents = Vec::new();
    for (plugin, f) in plugins {
        let mut chunks = f.durations.chunks(MAX_EMF_VALUES);
        let first = chunks.next().unwrap_or_default();
        let mut document = json!({
            "_aws": directive(timestamp, &[
                ("Invocations", "Count"),
                ("Failures", "Count"),
                ("Denials", "Count"),
                ("LimitStops", "Count"),
                ("LoopStops", "Count"),
                ("Duration", "Milliseconds"),
                ("BytesRead", "Bytes"),
                ("BytesWritten", "Bytes"),
            ]),
            "Plugin": plugin,
            "Invocations": f.invocations,
            "Failures": f.failures,
            "Denials": f.denials,
            "LimitStops": f.limit_stops,
            "LoopStops": f.loop_stops,
            "Duration": first,
            "BytesRead": f.bytes_read,
            "BytesWritten": f.bytes_written,
        });
        if let Some(function) = function {
            document["FunctionName"] = json!(function);
        }
        documents.push(document);
        for rest in chunks {
            let mut document = json!({
                "_aws": directive(timestamp, &[("Duration", "Milliseconds")]),
                "Plugin": plugin,
                "Duration": rest,
            });
            if let Some(function) = function {
                document["FunctionName"] = json!(function);
            }
            documents.push(document);
        }
    }
    documents
}

/// The `_aws` member of an EMF document declaring `metrics` (name, unit) by plugin.
fn directive(timestamp: u64, metrics: &[(&str, &str)]) -> Value {
    json!({
        "Timestamp": timestamp,
        "CloudWatchMetrics": [{
            "Namespace": NAMESPACE,
            "Dimensions": [["Plugin"]],
            "Metrics": metrics
                .iter()
                .map(|(name, unit)| json!({ "Name": name, "Unit": unit }))
                .collect::<Vec<_>>(),
        }],
    })
}

/// Writes EMF documents to stdout, one a line, where Lambda hands them to CloudWatch.
pub fn emit_metrics(outcomes: &[RecordOutcome], function: Option<&str>) {
    let mut stdout = io::stdout().lock();
    for document in emf_documents(outcomes, function) {
        let _ = writeln!(stdout, "{document}");
    }
    let _ = stdout.flush();
}

/// For tests: what `run` logs in the text format (all levels, no colours, no time).
#[cfg(test)]
pub(crate) fn text_log_of(run: impl FnOnce()) -> String {
    use std::sync::{Arc, Mutex, PoisonError};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            let mut buffer = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            buffer.extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .without_time()
        .with_max_level(tracing::Level::TRACE)
        .fmt_fields(TextFields)
        .finish();
    tracing::subscriber::with_default(subscriber, run);
    let bytes = buffer
        .0
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    String::from_utf8(bytes).unwrap_or_else(|err| panic!("{err}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::UsageReport;

    #[test]
    fn a_text_log_line_stays_one_line_whatever_a_plugin_puts_in_it() {
        let hostile = "done\n2026-01-01T00:00:00Z INFO forged\r\x1b[31mred\x1b[0m";
        let log = text_log_of(|| {
            tracing::info!(target: "plugin", plugin = "p", key = %"a\nb", "{hostile}");
            tracing::warn!(bucket = "in\x1bbox", "denied");
        });
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(lines.len(), 2, "{log}");
        assert!(!log.contains('\x1b') && !log.contains('\r'), "{log:?}");
        assert_eq!(
            lines[0],
            " INFO plugin: done\\n2026-01-01T00:00:00Z INFO forged\\r\\u{1b}[31mred\\u{1b}[0m \
             plugin=\"p\" key=a\\nb"
        );
        assert!(
            lines[1].ends_with("denied bucket=\"in\\u{1b}box\""),
            "{}",
            lines[1]
        );
    }

    #[test]
    fn a_plain_text_log_line_is_written_as_the_default_format_writes_it() {
        let log = text_log_of(|| tracing::info!(plugin = "p", count = 3, "record done"));
        assert!(
            log.ends_with("record done plugin=\"p\" count=3\n"),
            "{log:?}"
        );
    }

    fn outcome(plugin: Option<&str>, status: Status, denials: u32) -> RecordOutcome {
        RecordOutcome {
            record: 0,
            message_id: None,
            bucket: Some("b".into()),
            key: Some("k".into()),
            event: None,
            plugin: plugin.map(str::to_owned),
            status,
            outcome: None,
            message: None,
            error: None,
            reason: (status == Status::Failed).then_some(FailureKind::Denied),
            duration_ms: 2.5,
            usage: Some(UsageReport {
                writes: 1,
                bytes_read: 10,
                bytes_written: 20,
                denials,
                logs_dropped: 0,
            }),
        }
    }

    #[test]
    fn one_document_per_plugin_with_its_figures() {
        let outcomes = vec![
            outcome(Some("a"), Status::Ok, 0),
            outcome(Some("a"), Status::Failed, 1),
            outcome(Some("b"), Status::Ok, 0),
            outcome(None, Status::Unrouted, 0),
        ];
        let docs = emf_documents(&outcomes, Some("fn"));
        assert_eq!(docs.len(), 2);
        let a = &docs[0];
        assert_eq!(a["Plugin"], "a");
        assert_eq!(a["Invocations"], 2);
        assert_eq!(a["Failures"], 1);
        assert_eq!(a["Denials"], 1);
        assert_eq!(a["BytesRead"], 20);
        assert_eq!(a["BytesWritten"], 40);
        assert_eq!(a["Duration"], json!([2.5, 2.5]));
        assert_eq!(a["FunctionName"], "fn");
        // Every metric named in the directive is present at the top level.
        for metric in a["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
        {
            let name = metric["Name"].as_str().unwrap();
            assert!(a.get(name).is_some(), "{name} missing");
        }
        assert_eq!(a["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE);
    }

    #[test]
    fn large_invocations_keep_every_metric_within_100_values() {
        let outcomes: Vec<RecordOutcome> = (0..250)
            .map(|i| outcome(Some("a"), Status::Ok, i % 2))
            .collect();
        let docs = emf_documents(&outcomes, None);
        assert_eq!(docs.len(), 3, "100 + 100 + 50 durations");
        let mut durations = 0;
        for doc in &docs {
            let directive = &doc["_aws"]["CloudWatchMetrics"][0];
            let metrics = directive["Metrics"].as_array().unwrap();
            assert!(metrics.len() <= 100);
            for metric in metrics {
                let name = metric["Name"].as_str().unwrap();
                let values = doc[name].as_array().map_or(1, Vec::len);
                assert!(values <= 100, "{name} has {values} values");
                assert!(doc.get(name).is_some(), "{name} missing");
            }
            assert_eq!(doc["Plugin"], "a");
            durations += doc["Duration"].as_array().unwrap().len();
        }
        assert_eq!(durations, 250, "every duration is reported once");
        assert_eq!(
            docs[0]["Invocations"], 250,
            "the counts are in the first document only"
        );
        assert!(docs[1].get("Invocations").is_none());
    }
}
