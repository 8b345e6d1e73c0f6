//! MinIO's webhook body: `EventName` and `Key` (`bucket/key`, not encoded) over the
//! records, which follow S3's layout with MinIO's values: `eventVersion` 2.0, `eventSource`
//! `minio:s3`, event names with `s3:`, keys escaped by Go's `url.QueryEscape` (so `/` is
//! `%2F`), and size, entity tag and content type on every event that does not remove the
//! object.
//!
//! MinIO names a few events its own way (`s3:ObjectCreated:PutTagging`,
//! `s3:ObjectTransition:Complete`); the records here keep the S3 names, so that a route
//! written for S3 matches them.

use serde_json::{Value, json};

use super::record::ObjectEvent;

/// The user MinIO names as principal by default.
const USER: &str = "minioadmin";
const ENDPOINT: &str = "http://127.0.0.1:9000";

/// The webhook body for the events: `EventName` and `Key` name the first.
pub(crate) fn webhook_body(events: &[ObjectEvent], deployment_id: &str) -> Value {
    let records: Vec<Value> = events
        .iter()
        .map(|event| record(event, deployment_id))
        .collect();
    let (name, key) = events
        .first()
        .map(|first| {
            (
                format!("s3:{}", first.action.event_name()),
                format!("{}/{}", first.bucket, first.key),
            )
        })
        .unwrap_or_default();
    json!({ "EventName": name, "Key": key, "Records": records })
}

fn record(event: &ObjectEvent, deployment_id: &str) -> Value {
    // MinIO's sequencer is the upper-case hex of the object's time in nanoseconds.
    let mut object = json!({
        "key": encode_key(&event.key),
        "sequencer": format!("{:X}", event.sequencer),
    });
    if let Some(version) = &event.version_id {
        object["versionId"] = json!(version);
    }
    if !event.action.removes() {
        object["size"] = json!(event.size);
        object["eTag"] = json!(event.etag);
        object["contentType"] = json!("application/octet-stream");
        object["userMetadata"] = json!({ "content-type": "application/octet-stream" });
    }
    json!({
        "eventVersion": "2.0",
        "eventSource": "minio:s3",
        "awsRegion": event.region,
        "eventTime": event.time_millis(),
        "eventName": format!("s3:{}", event.action.event_name()),
        "userIdentity": { "principalId": USER },
        "requestParameters": {
            "principalId": USER,
            "region": event.region,
            "sourceIPAddress": "127.0.0.1",
        },
        "responseElements": {
            // The SHA-256 of the node's name, as MinIO writes it.
            "x-amz-id-2": "dd9025bab4ad464b049177c95eb6ebf374d3b3fd1af9251148b658df7ac2e3e8",
            "x-amz-request-id": event.request_id,
            "x-minio-deployment-id": deployment_id,
            "x-minio-origin-endpoint": ENDPOINT,
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "Config",
            "bucket": {
                "name": event.bucket,
                "ownerIdentity": { "principalId": USER },
                "arn": format!("arn:aws:s3:::{}", event.bucket),
            },
            "object": object,
        },
        "source": {
            "host": "127.0.0.1",
            "port": "",
            "userAgent": "MinIO (linux; amd64) minio-go/v7.0.70",
        },
    })
}

/// Go's `url.QueryEscape`, which MinIO applies to keys: letters, digits and `-_.~` stay, a
/// space becomes `+`, every other byte `%XX`. Unlike S3 it escapes `/` and `*` and keeps `~`.
pub(crate) fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len() * 3 / 2);
    for byte in key.bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}
