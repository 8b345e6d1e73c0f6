//! Realistic S3 notification events, as S3 itself would send them.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::s3key::{self, KeyStyle};

/// What happened to the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ObjectAction {
    /// `ObjectCreated:Put`.
    Put,
    /// `ObjectRemoved:Delete`.
    Delete,
}

/// One object event to generate.
#[derive(Debug, Clone)]
pub struct EventSpec {
    pub action: ObjectAction,
    pub bucket: String,
    /// The key as stored (decoded); it is encoded the way S3 encodes it.
    pub key: String,
    pub size: u64,
    /// Without quotes; derived from the key and size when absent.
    pub etag: Option<String>,
    pub region: String,
}

/// The notification S3 sends for one event: `{"Records": [...]}` with one record.
pub fn notification(spec: &EventSpec) -> Value {
    json!({ "Records": [record(spec)] })
}

fn record(spec: &EventSpec) -> Value {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let seed = Sha256::digest(format!("{}/{}/{}", spec.bucket, spec.key, now.as_nanos()));
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02X}")).collect::<String>();
    let time = chrono::DateTime::<chrono::Utc>::from(SystemTime::now())
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    // S3's sequencer grows with time for each key: hex of the time in nanoseconds.
    let sequencer = format!("{:018X}", now.as_nanos() & ((1u128 << 72) - 1));
    let mut object = json!({
        "key": s3key::encode(&spec.key, KeyStyle::Aws),
        "sequencer": sequencer,
    });
    let event_name = match spec.action {
        ObjectAction::Put => {
            let etag = spec.etag.clone().unwrap_or_else(|| {
                hex(&Sha256::digest(format!("{}/{}", spec.key, spec.size))[..16]).to_lowercase()
            });
            object["size"] = json!(spec.size);
            object["eTag"] = json!(etag);
            "ObjectCreated:Put"
        }
        ObjectAction::Delete => "ObjectRemoved:Delete",
    };
    json!({
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": spec.region,
        "eventTime": time,
        "eventName": event_name,
        "userIdentity": { "principalId": "AWS:AIDAJDPLRKLG7UEXAMPLE" },
        "requestParameters": { "sourceIPAddress": "127.0.0.1" },
        "responseElements": {
            "x-amz-request-id": hex(&seed[..8]),
            "x-amz-id-2": format!("{}/{}", hex(&seed[8..24]), hex(&seed[24..32])),
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "s3plug-local",
            "bucket": {
                "name": spec.bucket,
                "ownerIdentity": { "principalId": "A3NL1KOZZKExample" },
                "arn": format!("arn:aws:s3:::{}", spec.bucket),
            },
            "object": object,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{self, ItemKind};

    #[test]
    fn generated_events_decode_back_to_the_same_object() {
        let spec = EventSpec {
            action: ObjectAction::Put,
            bucket: "photos".into(),
            key: "in/my photo+1 é.jpg".into(),
            size: 42,
            etag: None,
            region: "eu-west-1".into(),
        };
        let value = notification(&spec);
        assert_eq!(
            value.pointer("/Records/0/s3/object/key").unwrap(),
            "in/my+photo%2B1+%C3%A9.jpg"
        );
        let decoded = event::decode_value(value).unwrap();
        let ItemKind::Record(record) = &decoded.items[0].kind else {
            panic!("not a record")
        };
        assert_eq!(record.key, "in/my photo+1 é.jpg");
        assert_eq!(record.event_name, "ObjectCreated:Put");
        assert_eq!(record.size, Some(42));
        assert_eq!(record.region.as_deref(), Some("eu-west-1"));
        assert_eq!(record.etag.as_ref().map(String::len), Some(32));
    }

    #[test]
    fn delete_events_carry_no_size() {
        let spec = EventSpec {
            action: ObjectAction::Delete,
            bucket: "photos".into(),
            key: "a.txt".into(),
            size: 0,
            etag: None,
            region: "us-east-1".into(),
        };
        let decoded = event::decode_value(notification(&spec)).unwrap();
        let ItemKind::Record(record) = &decoded.items[0].kind else {
            panic!("not a record")
        };
        assert_eq!(record.event_name, "ObjectRemoved:Delete");
        assert_eq!(record.size, None);
        assert!(record.sequencer.is_some());
    }
}
