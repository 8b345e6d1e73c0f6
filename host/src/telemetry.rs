//! Logs and metrics: JSON log lines, and per-plugin metrics in CloudWatch's Embedded Metric
//! Format, which CloudWatch turns into metrics straight from the function's log stream.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

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
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    };
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

/// One EMF document per plugin that ran, with its invocations, failures, denials, time
/// (every duration, so CloudWatch can compute percentiles) and bytes.
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
    plugins
        .into_iter()
        .map(|(plugin, f)| {
            let mut document = json!({
                "_aws": {
                    "Timestamp": timestamp,
                    "CloudWatchMetrics": [{
                        "Namespace": NAMESPACE,
                        "Dimensions": [["Plugin"]],
                        "Metrics": [
                            { "Name": "Invocations", "Unit": "Count" },
                            { "Name": "Failures", "Unit": "Count" },
                            { "Name": "Denials", "Unit": "Count" },
                            { "Name": "LimitStops", "Unit": "Count" },
                            { "Name": "LoopStops", "Unit": "Count" },
                            { "Name": "Duration", "Unit": "Milliseconds" },
                            { "Name": "BytesRead", "Unit": "Bytes" },
                            { "Name": "BytesWritten", "Unit": "Bytes" },
                        ],
                    }],
                },
                "Plugin": plugin,
                "Invocations": f.invocations,
                "Failures": f.failures,
                "Denials": f.denials,
                "LimitStops": f.limit_stops,
                "LoopStops": f.loop_stops,
                "Duration": f.durations,
                "BytesRead": f.bytes_read,
                "BytesWritten": f.bytes_written,
            });
            if let Some(function) = function {
                document["FunctionName"] = json!(function);
            }
            document
        })
        .collect()
}

/// Writes EMF documents to stdout, one a line, where Lambda hands them to CloudWatch.
pub fn emit_metrics(outcomes: &[RecordOutcome], function: Option<&str>) {
    let mut stdout = io::stdout().lock();
    for document in emf_documents(outcomes, function) {
        let _ = writeln!(stdout, "{document}");
    }
    let _ = stdout.flush();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::UsageReport;

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
}
