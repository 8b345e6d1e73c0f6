//! Per-plugin metrics in CloudWatch's Embedded Metric Format, which CloudWatch turns into
//! metrics straight from the function's log stream.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::outcome::{FailureKind, RecordOutcome, Status};
use crate::plugin::LoadedPlugin;

/// The CloudWatch namespace of s3plug's metrics.
pub(crate) const NAMESPACE: &str = "s3plug";

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
pub(crate) fn emf_documents(outcomes: &[RecordOutcome], function: Option<&str>) -> Vec<Value> {
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
    let timestamp = now_ms();
    let mut documents = Vec::new();
    for (plugin, f) in plugins {
        let mut chunks = f.durations.chunks(MAX_EMF_VALUES);
        let first = chunks.next().unwrap_or_default();
        let mut document = json!({
            "_aws": directive(timestamp, "Plugin", &[
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
                "_aws": directive(timestamp, "Plugin", &[("Duration", "Milliseconds")]),
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
fn directive(timestamp: u64, dimension: &str, metrics: &[(&str, &str)]) -> Value {
    json!({
        "Timestamp": timestamp,
        "CloudWatchMetrics": [{
            "Namespace": NAMESPACE,
            "Dimensions": [[dimension]],
            "Metrics": metrics
                .iter()
                .map(|(name, unit)| json!({ "Name": name, "Unit": unit }))
                .collect::<Vec<_>>(),
        }],
    })
}

/// Milliseconds since the epoch, as EMF's `Timestamp`.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// EMF documents for the plugins loaded at init, one per way they were loaded (`compiled`
/// from the `.wasm` now, `cached` from the compile cache, `precompiled` from a `.cwasm`):
/// how many, and how long loading them took. A cold start that compiled plugins it was
/// shipped precompiled (an artifact this host refused) shows as `compiled`.
pub fn load_documents(plugins: &[LoadedPlugin], function: Option<&str>) -> Vec<Value> {
    let mut kinds: BTreeMap<&'static str, (u64, f64)> = BTreeMap::new();
    for plugin in plugins {
        let entry = kinds.entry(plugin.load_kind.as_str()).or_default();
        entry.0 += 1;
        entry.1 += plugin.load_time.as_secs_f64() * 1e3;
    }
    let timestamp = now_ms();
    kinds
        .into_iter()
        .map(|(kind, (count, ms))| {
            let mut document = json!({
                "_aws": directive(
                    timestamp,
                    "LoadKind",
                    &[("PluginsLoaded", "Count"), ("PluginLoadTime", "Milliseconds")],
                ),
                "LoadKind": kind,
                "PluginsLoaded": count,
                "PluginLoadTime": ms,
            });
            if let Some(function) = function {
                document["FunctionName"] = json!(function);
            }
            document
        })
        .collect()
}

/// How each plugin was loaded, for the one init log line: `name=kind`, space separated.
pub fn load_summary(plugins: &[LoadedPlugin]) -> String {
    let mut summary = String::new();
    for plugin in plugins {
        if !summary.is_empty() {
            summary.push(' ');
        }
        summary.push_str(&format!(
            "{}={}",
            plugin.spec.name,
            plugin.load_kind.as_str()
        ));
    }
    summary
}

/// Writes documents to stdout, one a line, where Lambda hands them to CloudWatch.
pub fn emit_documents(documents: &[Value]) {
    let mut stdout = io::stdout().lock();
    for document in documents {
        let _ = writeln!(stdout, "{document}");
    }
    let _ = stdout.flush();
}

/// Writes the EMF documents of an invocation's outcomes to stdout (see [`emit_documents`]).
pub fn emit_metrics(outcomes: &[RecordOutcome], function: Option<&str>) {
    emit_documents(&emf_documents(outcomes, function));
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
