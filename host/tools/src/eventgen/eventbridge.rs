//! Amazon EventBridge: S3 sends every object event of a bucket with EventBridge enabled
//! as one event from `aws.s3`. The detail uses its own names (`detail-type`
//! `Object Created`, `reason` `PutObject`, kebab-case fields) and does not URL-encode keys.

use chrono::SecondsFormat;
use serde_json::{Value, json};

use super::action::{ARCHIVE_CLASS, ObjectAction};
use super::record::{ACCOUNT, ObjectEvent, S3_ITSELF, SOURCE_IP};

/// The EventBridge event for an object event.
pub(crate) fn event(event: &ObjectEvent) -> Value {
    let action = event.action;
    let mut object = json!({ "key": event.key });
    if action.carries_size() {
        object["size"] = json!(event.size);
    }
    if action.carries_etag() {
        object["etag"] = json!(event.etag);
    }
    if let Some(version) = &event.version_id {
        object["version-id"] = json!(version);
    }
    if action.is_write() {
        // EventBridge writes the sequencer in lower case, 16 digits (`617f08299329d189`).
        object["sequencer"] = json!(format!("{:016x}", event.sequencer));
    }
    let mut detail = json!({
        "version": "0",
        "bucket": { "name": event.bucket },
        "object": object,
        "request-id": event.request_id,
        "requester": if action.by_s3() { S3_ITSELF } else { ACCOUNT },
    });
    if !action.by_s3() {
        detail["source-ip-address"] = json!(SOURCE_IP);
    }
    let created = |reason: &str| ("Object Created", json!({ "reason": reason }));
    let deleted = |reason: &str, deletion: &str| {
        let fields = json!({ "reason": reason, "deletion-type": deletion });
        ("Object Deleted", fields)
    };
    let (detail_type, fields) = match action {
        ObjectAction::Put => created("PutObject"),
        ObjectAction::Copy => created("CopyObject"),
        ObjectAction::Multipart => created("CompleteMultipartUpload"),
        ObjectAction::Post => created("POST Object"),
        ObjectAction::Delete => deleted("DeleteObject", "Permanently Deleted"),
        ObjectAction::DeleteMarker => deleted("DeleteObject", "Delete Marker Created"),
        ObjectAction::Lifecycle => deleted("Lifecycle Expiration", "Permanently Deleted"),
        ObjectAction::Restore => (
            "Object Restore Completed",
            json!({
                "restore-expiry-time": event
                    .restore_expiry()
                    .to_rfc3339_opts(SecondsFormat::Secs, true),
                "source-storage-class": ARCHIVE_CLASS,
            }),
        ),
        ObjectAction::RestorePost => (
            "Object Restore Initiated",
            json!({ "source-storage-class": ARCHIVE_CLASS }),
        ),
        ObjectAction::Tagging => ("Object Tags Added", json!({})),
        ObjectAction::TaggingDelete => ("Object Tags Deleted", json!({})),
        ObjectAction::LifecycleTransition => (
            "Object Storage Class Changed",
            json!({ "destination-storage-class": ARCHIVE_CLASS }),
        ),
    };
    if let (Value::Object(detail), Value::Object(fields)) = (&mut detail, fields) {
        detail.extend(fields);
    }
    json!({
        "version": "0",
        "id": event.eventbridge_id,
        "detail-type": detail_type,
        "source": "aws.s3",
        "account": ACCOUNT,
        "time": event.time.to_rfc3339_opts(SecondsFormat::Secs, true),
        "region": event.region,
        "resources": [format!("arn:aws:s3:::{}", event.bucket)],
        "detail": detail,
    })
}
