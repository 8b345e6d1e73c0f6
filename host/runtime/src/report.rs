//! What an invocation answers, from its outcomes: the shapes Lambda and SQS expect.

use std::collections::BTreeSet;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse};
use serde::Serialize;

use crate::bounded::{Cut, MAX_MESSAGE_BYTES};
use crate::outcome::{RecordOutcome, Status};

/// The answer for an SQS batch: exactly the messages that had a failed record, so that SQS
/// deletes the others and delivers these again (and to the dead-letter queue after
/// `maxReceiveCount`). The event source mapping must enable `ReportBatchItemFailures`.
///
/// A failed record whose message has no id cannot be named: the answer is then one failure
/// with an empty `itemIdentifier`, which Lambda takes as a failure of the whole batch, so
/// that nothing failed is ever deleted from the queue.
pub fn sqs_batch_response(outcomes: &[RecordOutcome]) -> SqsBatchResponse {
    let unnamed = outcomes
        .iter()
        .any(|o| o.is_failed() && o.message_id.as_deref().is_none_or(str::is_empty));
    if unnamed {
        let mut response = SqsBatchResponse::default();
        response
            .batch_item_failures
            .push(BatchItemFailure::default());
        return response;
    }
    let failed: BTreeSet<&str> = outcomes
        .iter()
        .filter(|o| o.is_failed())
        .filter_map(|o| o.message_id.as_deref())
        .collect();
    // Keep the batch's order: SQS cares about the set, people reading logs about the order.
    let mut seen = BTreeSet::new();
    let mut response = SqsBatchResponse::default();
    for id in outcomes.iter().filter_map(|o| o.message_id.as_deref()) {
        if failed.contains(id) && seen.insert(id) {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id.to_owned();
            response.batch_item_failures.push(failure);
        }
    }
    response
}

/// One failed (record, plugin), as listed in a [`Summary`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailureLine {
    pub record: usize,
    pub plugin: Option<String>,
    /// The outcome's `error`, reported cut to [`crate::bounded::MAX_MESSAGE_BYTES`].
    #[serde(serialize_with = "serialize_error")]
    pub error: String,
    pub retryable: bool,
}

fn serialize_error<S: serde::Serializer>(error: &str, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&Cut {
        text: error,
        max: MAX_MESSAGE_BYTES,
    })
}

/// The answer for an asynchronous invocation that needs no retry.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Distinct records (and undecodable pieces) in the event.
    pub records: usize,
    /// (record, plugin) pairs that ended `ok`.
    pub ok: usize,
    pub failed: usize,
    pub unrouted: usize,
    pub ignored: usize,
    pub loop_stopped: usize,
    pub failures: Vec<FailureLine>,
}

impl Summary {
    pub fn of(outcomes: &[RecordOutcome]) -> Self {
        let records: BTreeSet<usize> = outcomes.iter().map(|o| o.record).collect();
        let mut summary = Summary {
            records: records.len(),
            ..Summary::default()
        };
        for outcome in outcomes {
            match outcome.status {
                Status::Ok => summary.ok += 1,
                Status::Failed => {
                    summary.failed += 1;
                    summary.failures.push(FailureLine {
                        record: outcome.record,
                        plugin: outcome.plugin.clone(),
                        error: outcome.error.clone().unwrap_or_default(),
                        retryable: outcome.reason.is_some_and(|r| r.is_retryable()),
                    });
                }
                Status::Unrouted => summary.unrouted += 1,
                Status::Ignored => summary.ignored += 1,
                Status::LoopStopped => summary.loop_stopped += 1,
            }
        }
        summary
    }

    /// Whether some failure may pass on a retry.
    pub fn has_retryable_failure(&self) -> bool {
        self.failures.iter().any(|f| f.retryable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::FailureKind;

    fn outcome(
        record: usize,
        message: &str,
        status: Status,
        reason: Option<FailureKind>,
    ) -> RecordOutcome {
        RecordOutcome {
            record,
            message_id: Some(message.to_owned()),
            bucket: None,
            key: None,
            event: None,
            plugin: Some("p".into()),
            status,
            outcome: None,
            message: None,
            error: reason.map(|r| format!("{}: x", r.as_str())),
            reason,
            duration_ms: 0.0,
            usage: None,
        }
    }

    #[test]
    fn sqs_lists_each_failed_message_once_in_batch_order() {
        let outcomes = vec![
            outcome(0, "m1", Status::Ok, None),
            outcome(1, "m2", Status::Failed, Some(FailureKind::PluginError)),
            outcome(1, "m2", Status::Failed, Some(FailureKind::Trap)),
            outcome(2, "m3", Status::Ignored, None),
            outcome(3, "m4", Status::Unrouted, None),
            outcome(4, "m5", Status::Failed, Some(FailureKind::InvalidEvent)),
            outcome(5, "m5", Status::Ok, None),
        ];
        let ids: Vec<_> = sqs_batch_response(&outcomes)
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect();
        assert_eq!(ids, ["m2", "m5"]);
    }

    #[test]
    fn a_failure_without_a_message_id_fails_the_whole_batch() {
        let mut unnamed = outcome(1, "", Status::Failed, Some(FailureKind::PluginError));
        for message_id in [None, Some(String::new())] {
            unnamed.message_id = message_id;
            let outcomes = vec![
                outcome(0, "m1", Status::Failed, Some(FailureKind::PluginError)),
                unnamed.clone(),
                outcome(2, "m3", Status::Ok, None),
            ];
            let ids: Vec<_> = sqs_batch_response(&outcomes)
                .batch_item_failures
                .into_iter()
                .map(|f| f.item_identifier)
                .collect();
            assert_eq!(
                ids,
                [""],
                "an empty identifier: Lambda retries the whole batch"
            );
        }
        // An unnamed message that succeeded needs nothing.
        let outcomes = vec![outcome(0, "", Status::Ok, None)];
        assert!(sqs_batch_response(&outcomes).batch_item_failures.is_empty());
    }

    #[test]
    fn summary_counts_and_flags_retryable_failures() {
        let outcomes = vec![
            outcome(0, "a", Status::Ok, None),
            outcome(0, "a", Status::Failed, Some(FailureKind::Denied)),
            outcome(1, "b", Status::Unrouted, None),
        ];
        let summary = Summary::of(&outcomes);
        assert_eq!(
            (
                summary.records,
                summary.ok,
                summary.failed,
                summary.unrouted
            ),
            (2, 1, 1, 1)
        );
        assert!(!summary.has_retryable_failure());
        let mut more = outcomes;
        more.push(outcome(2, "c", Status::Failed, Some(FailureKind::Timeout)));
        assert!(Summary::of(&more).has_retryable_failure());
    }

    #[test]
    fn a_summary_reports_each_error_bounded() {
        let mut long = outcome(0, "a", Status::Failed, Some(FailureKind::PluginError));
        long.error = Some("e".repeat(50_000));
        let summary = serde_json::to_value(Summary::of(&[long])).unwrap();
        let error = summary["failures"][0]["error"].as_str().unwrap();
        assert!(error.len() <= MAX_MESSAGE_BYTES, "{}", error.len());
        assert!(error.ends_with("…[cut: 50000 bytes in all]"));
    }
}
