//! Amazon SQS: the Lambda event for a batch of queue messages. S3, SNS and EventBridge each
//! send one event per message, so a batch holds one S3 event per message.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::ids::Ids;
use super::md5::md5_hex;
use super::record::ACCOUNT;

/// The queue's name.
const QUEUE: &str = "s3plug-events";

/// Who sent a message to the queue (its `SenderId` attribute).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sender {
    S3,
    Sns,
    EventBridge,
}

impl Sender {
    /// The principal SQS records for each service.
    fn id(self) -> &'static str {
        match self {
            Sender::S3 => "AIDAJHIPRHEMV73VRJEBU",
            Sender::Sns => "AIDAIT2UOQQY3AUEKVGXU",
            Sender::EventBridge => "AIDAIE6VAXUQU2DKHA7DK",
        }
    }
}

/// One message of the batch, sent at `sent`.
pub(crate) fn message(
    body: String,
    sender: Sender,
    sent: DateTime<Utc>,
    region: &str,
    ids: &mut Ids,
) -> Value {
    let sent_ms = sent.timestamp_millis();
    json!({
        "messageId": ids.uuid(),
        "receiptHandle": format!("AQEB{}", ids.base64(96)),
        "md5OfBody": md5_hex(body.as_bytes()),
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": sent_ms.to_string(),
            "SenderId": sender.id(),
            "ApproximateFirstReceiveTimestamp": (sent_ms + 9).to_string(),
        },
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": format!("arn:aws:sqs:{region}:{ACCOUNT}:{QUEUE}"),
        "awsRegion": region,
    })
}

/// The Lambda event for a batch.
pub(crate) fn lambda_event(messages: Vec<Value>) -> Value {
    json!({ "Records": messages })
}
