//! One object event, and the record Amazon S3 writes for it in a notification.

use chrono::{DateTime, Days, NaiveTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::action::{ARCHIVE_CLASS, ObjectAction};
use s3plug_host::s3key::{self, KeyStyle};

/// The account that owns the bucket, the topic and the queue.
pub(crate) const ACCOUNT: &str = "123456789012";
/// Who made the requests that S3 did not make itself.
const PRINCIPAL: &str = "AWS:AIDAJDPLRKLG7UEXAMPLE";
const OWNER: &str = "A3NL1KOZZKExample";
/// Where the requests came from.
pub(crate) const SOURCE_IP: &str = "127.0.0.1";
/// What S3 writes for the principal and source address of what it does itself.
pub(crate) const S3_ITSELF: &str = "s3.amazonaws.com";

/// One event about one object: everything that is the same in every envelope that carries
/// it, so that a repeated delivery repeats it exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObjectEvent {
    pub action: ObjectAction,
    pub bucket: String,
    /// The key as stored (decoded).
    pub key: String,
    pub size: u64,
    /// Without quotes.
    pub etag: String,
    pub version_id: Option<String>,
    /// Grows with `time` for each key (nanoseconds since the epoch).
    pub sequencer: u64,
    pub time: DateTime<Utc>,
    pub region: String,
    /// `x-amz-request-id` (EventBridge `request-id`).
    pub request_id: String,
    /// `x-amz-id-2`.
    pub host_id: String,
    /// The id of the EventBridge event, kept when EventBridge delivers it twice.
    pub eventbridge_id: String,
}

impl ObjectEvent {
    /// The sequencer as notifications write it: 18 upper-case hex digits
    /// (`0055AED6DCD90281E5`). Fixed width, so that plain and right-padded comparison agree.
    pub(crate) fn aws_sequencer(&self) -> String {
        format!("{:018X}", self.sequencer)
    }

    /// `eventTime`: RFC 3339 with milliseconds.
    pub(crate) fn time_millis(&self) -> String {
        millis(&self.time)
    }

    pub(crate) fn principal(&self) -> &'static str {
        if self.action.by_s3() {
            S3_ITSELF
        } else {
            PRINCIPAL
        }
    }

    pub(crate) fn source_ip(&self) -> &'static str {
        if self.action.by_s3() {
            S3_ITSELF
        } else {
            SOURCE_IP
        }
    }

    /// When a restored copy expires: midnight UTC after the restore's days (7) have passed,
    /// as S3 rounds it.
    pub(crate) fn restore_expiry(&self) -> DateTime<Utc> {
        let day = self.time.date_naive() + Days::new(8);
        day.and_time(NaiveTime::MIN).and_utc()
    }
}

pub(crate) fn millis(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The record S3 puts in a notification (`{"Records": [...]}`) for an event.
pub(crate) fn aws_record(event: &ObjectEvent) -> Value {
    let action = event.action;
    let mut object = json!({ "key": s3key::encode(&event.key, KeyStyle::Aws) });
    if action.carries_size() {
        object["size"] = json!(event.size);
    }
    if action.carries_etag() {
        object["eTag"] = json!(event.etag);
    }
    if let Some(version) = &event.version_id {
        object["versionId"] = json!(version);
    }
    object["sequencer"] = json!(event.aws_sequencer());
    let mut record = json!({
        "eventVersion": action.event_version(),
        "eventSource": "aws:s3",
        "awsRegion": event.region,
        "eventTime": event.time_millis(),
        "eventName": action.event_name(),
        "userIdentity": { "principalId": event.principal() },
        "requestParameters": { "sourceIPAddress": event.source_ip() },
        "responseElements": {
            "x-amz-request-id": event.request_id,
            "x-amz-id-2": event.host_id,
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "s3plug-local",
            "bucket": {
                "name": event.bucket,
                "ownerIdentity": { "principalId": OWNER },
                "arn": format!("arn:aws:s3:::{}", event.bucket),
            },
            "object": object,
        },
    });
    match action {
        ObjectAction::Restore => {
            record["glacierEventData"] = json!({
                "restoreEventData": {
                    "lifecycleRestorationExpiryTime": millis(&event.restore_expiry()),
                    "lifecycleRestoreStorageClass": ARCHIVE_CLASS,
                }
            });
        }
        ObjectAction::LifecycleTransition => {
            record["lifecycleEventData"] = json!({
                "transitionEventData": { "destinationStorageClass": ARCHIVE_CLASS }
            });
        }
        _ => {}
    }
    record
}
