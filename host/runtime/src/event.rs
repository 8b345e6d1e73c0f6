//! Decoding every envelope that carries S3 events into one record type.
//!
//! S3 notifications arrive directly, inside SNS notifications, inside SQS messages (also
//! SQS carrying SNS), as EventBridge events, or as the webhook bodies of S3-compatible
//! stores (MinIO). [`decode`] turns any of them into [`EventItem`]s: one per S3 record, one
//! per `s3:TestEvent`, and one per piece that could not be decoded, so that a bad message is
//! reported instead of lost.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::s3::S3EventRecord;
use aws_lambda_events::event::sns::SnsEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize as _, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use std::borrow::Cow;

use crate::s3key;

/// One S3 object event, whichever envelope carried it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct S3Record {
    /// The event type without `s3:`: `ObjectCreated:Put`, `ObjectRemoved:Delete`, ...
    pub event_name: String,
    /// RFC 3339, milliseconds, UTC.
    pub event_time: String,
    pub bucket: String,
    /// The decoded key.
    pub key: String,
    /// The key as it arrived.
    pub raw_key: String,
    pub size: Option<u64>,
    pub etag: Option<String>,
    pub version_id: Option<String>,
    pub sequencer: Option<String>,
    pub region: Option<String>,
    pub principal: Option<String>,
    pub source_ip: Option<String>,
}

/// The envelope an event arrived in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Envelope {
    /// An S3 notification (`{"Records": [...]}`), or S3's test message.
    S3,
    /// An SQS batch: failures are reported per message.
    Sqs,
    /// An SNS notification.
    Sns,
    /// An EventBridge event from `aws.s3`.
    EventBridge,
}

/// What one piece of an event turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemKind {
    /// An S3 object event.
    Record(std::sync::Arc<S3Record>),
    /// S3's `s3:TestEvent`, sent when a notification is configured: acknowledged only.
    Test,
    /// A piece that is not a usable S3 event; the text says why.
    Invalid(String),
}

/// One piece of a decoded event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventItem {
    /// The SQS message it came from, when it came from SQS: failures are reported with it.
    pub message_id: Option<String>,
    pub kind: ItemKind,
}

/// A decoded invocation payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedEvent {
    pub envelope: Envelope,
    pub items: Vec<EventItem>,
}

/// A payload that is not an event s3plug understands at all.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("event is not JSON: {0}")]
    NotJson(#[from] serde_json::Error),
    #[error("event is not an S3 notification, nor SQS, SNS or EventBridge carrying one: {0}")]
    Unrecognised(String),
}

/// Decodes an invocation payload.
pub fn decode(payload: &[u8]) -> Result<DecodedEvent, DecodeError> {
    match s3_notification(payload) {
        Some(Notification::S3(items)) => {
            return Ok(DecodedEvent {
                envelope: Envelope::S3,
                items: items.into_iter().map(EventItem::from).collect(),
            });
        }
        Some(Notification::Sqs) => {
            if let Ok(event) = serde_json::from_slice::<SqsEvent>(payload) {
                return Ok(sqs_items(event));
            }
        }
        None => {}
    }
    let value: Value = serde_json::from_slice(payload)?;
    decode_value(value)
}

/// What [`s3_notification`] found.
enum Notification {
    /// An S3 notification, decoded.
    S3(Vec<ItemKind>),
    /// An SQS batch, left to decode.
    Sqs,
}

/// The top of an S3 notification, its records left as text.
#[derive(serde::Deserialize)]
struct RawNotification<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<&'a RawValue>,
}

/// Where a record says it comes from (`eventSource`; SNS spells it `EventSource`).
#[derive(serde::Deserialize)]
struct RawSource<'a> {
    #[serde(rename = "eventSource", borrow)]
    lower: Option<Cow<'a, str>>,
    #[serde(rename = "EventSource", borrow)]
    upper: Option<Cow<'a, str>>,
}

/// The fast way for the most common payload, an S3 notification: each record is parsed
/// straight into its typed form, with no tree of JSON values built for the event. `None`
/// when `payload` is anything else (SQS, SNS, EventBridge, not JSON), which [`decode_value`]
/// then decodes. A record that is not as AWS sends it takes the general way on its own.
fn s3_notification(payload: &[u8]) -> Option<Notification> {
    let notification: RawNotification = serde_json::from_slice(payload).ok()?;
    if let Some(first) = notification.records.first() {
        let source: RawSource = serde_json::from_str(first.get()).ok()?;
        match source.lower.or(source.upper).as_deref() {
            Some("aws:sqs") => return Some(Notification::Sqs),
            Some("aws:sns") => return None,
            _ => {}
        }
    }
    Some(Notification::S3(
        notification
            .records
            .into_iter()
            .map(|raw| {
                let decoded = match serde_json::from_str::<S3EventRecord>(raw.get()) {
                    Ok(parsed) => typed_s3_record(parsed),
                    Err(_) => None,
                };
                let decoded = decoded.unwrap_or_else(|| {
                    serde_json::from_str::<Value>(raw.get())
                        .map_err(|err| format!("malformed S3 record: {err}"))
                        .and_then(|value| decode_s3_record(&value))
                });
                match decoded {
                    Ok(record) => ItemKind::Record(std::sync::Arc::new(record)),
                    Err(reason) => ItemKind::Invalid(reason),
                }
            })
            .collect(),
    ))
}

/// A typed record with its bucket and key, as [`decode_s3_record`] would decode it; `None`
/// when either is missing, for the general way to name what is.
fn typed_s3_record(mut parsed: S3EventRecord) -> Option<Result<S3Record, String>> {
    let bucket = parsed.s3.bucket.name.take()?;
    let raw_key = parsed.s3.object.key.take()?;
    Some(check_names(&bucket, &raw_key).and_then(|()| s3_record(parsed, bucket, raw_key)))
}

impl From<ItemKind> for EventItem {
    fn from(kind: ItemKind) -> Self {
        EventItem {
            message_id: None,
            kind,
        }
    }
}

/// Decodes an invocation payload that is already parsed.
pub fn decode_value(value: Value) -> Result<DecodedEvent, DecodeError> {
    let Value::Object(map) = value else {
        return Err(DecodeError::Unrecognised(format!(
            "expected an object, got {}",
            kind_of(&value)
        )));
    };
    if let Some(records) = map.get("Records").and_then(Value::as_array) {
        let first_source = records.first().and_then(record_source);
        return Ok(match first_source.as_deref() {
            Some("aws:sqs") => decode_sqs(Value::Object(map)),
            Some("aws:sns") => decode_sns(Value::Object(map)),
            _ => DecodedEvent {
                envelope: Envelope::S3,
                items: decode_s3_records(records, None),
            },
        });
    }
    if is_test_event(&map) {
        return Ok(DecodedEvent {
            envelope: Envelope::S3,
            items: vec![EventItem {
                message_id: None,
                kind: ItemKind::Test,
            }],
        });
    }
    if map.get("source").and_then(Value::as_str) == Some("aws.s3")
        && map.contains_key("detail-type")
    {
        return Ok(DecodedEvent {
            envelope: Envelope::EventBridge,
            items: vec![EventItem {
                message_id: None,
                kind: decode_eventbridge(Value::Object(map)),
            }],
        });
    }
    let keys: Vec<&str> = map.keys().map(String::as_str).take(8).collect();
    Err(DecodeError::Unrecognised(format!(
        "top-level keys {keys:?}"
    )))
}

/// `eventSource` (SQS, S3) or `EventSource` (SNS) of one record.
fn record_source(record: &Value) -> Option<String> {
    record
        .get("eventSource")
        .or_else(|| record.get("EventSource"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn is_test_event(map: &Map<String, Value>) -> bool {
    map.get("Event").and_then(Value::as_str) == Some("s3:TestEvent")
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn decode_sqs(value: Value) -> DecodedEvent {
    match serde_json::from_value::<SqsEvent>(value) {
        Ok(event) => sqs_items(event),
        Err(err) => DecodedEvent {
            envelope: Envelope::Sqs,
            items: vec![invalid(None, format!("malformed SQS event: {err}"))],
        },
    }
}

fn sqs_items(event: SqsEvent) -> DecodedEvent {
    let mut items = Vec::new();
    for message in event.records {
        let id = message.message_id.clone();
        let decoded = match message.body.as_deref() {
            Some(body) => decode_body(body),
            None => Err("SQS message has no body".to_owned()),
        };
        push_nested(&mut items, id, decoded);
    }
    DecodedEvent {
        envelope: Envelope::Sqs,
        items,
    }
}

fn decode_sns(value: Value) -> DecodedEvent {
    let mut items = Vec::new();
    match serde_json::from_value::<SnsEvent>(value) {
        Ok(event) => {
            for record in event.records {
                let decoded = decode_body(&record.sns.message);
                push_nested(&mut items, None, decoded);
            }
        }
        Err(err) => items.push(invalid(None, format!("malformed SNS event: {err}"))),
    }
    DecodedEvent {
        envelope: Envelope::Sns,
        items,
    }
}

/// Adds the items of a nested body (an SQS message or an SNS message) under one message id.
fn push_nested(
    items: &mut Vec<EventItem>,
    message_id: Option<String>,
    decoded: Result<Vec<ItemKind>, String>,
) {
    match decoded {
        Ok(kinds) if kinds.is_empty() => items.push(invalid(
            message_id,
            "message carries no S3 records".to_owned(),
        )),
        Ok(kinds) => items.extend(kinds.into_iter().map(|kind| EventItem {
            message_id: message_id.clone(),
            kind,
        })),
        Err(reason) => items.push(invalid(message_id, reason)),
    }
}

fn invalid(message_id: Option<String>, reason: String) -> EventItem {
    EventItem {
        message_id,
        kind: ItemKind::Invalid(reason),
    }
}

/// Decodes the body of an SQS or SNS message: an S3 notification, S3's test message, an SNS
/// notification (SQS subscribed to SNS without raw delivery) or an EventBridge event.
fn decode_body(body: &str) -> Result<Vec<ItemKind>, String> {
    if let Some(Notification::S3(kinds)) = s3_notification(body.as_bytes()) {
        return Ok(kinds);
    }
    let value: Value =
        serde_json::from_str(body).map_err(|err| format!("message body is not JSON: {err}"))?;
    if value.get("Type").and_then(Value::as_str) == Some("Notification") {
        let inner = value
            .get("Message")
            .and_then(Value::as_str)
            .ok_or("SNS notification has no Message")?;
        return decode_body(inner);
    }
    let decoded = decode_value(value).map_err(|err| err.to_string())?;
    Ok(decoded.items.into_iter().map(|item| item.kind).collect())
}

fn decode_s3_records(records: &[Value], message_id: Option<&str>) -> Vec<EventItem> {
    records
        .iter()
        .map(|record| EventItem {
            message_id: message_id.map(str::to_owned),
            kind: match decode_s3_record(record) {
                Ok(record) => ItemKind::Record(std::sync::Arc::new(record)),
                Err(reason) => ItemKind::Invalid(reason),
            },
        })
        .collect()
}

/// Decodes one record of an S3 notification. Senders other than AWS omit fields that AWS
/// always sends (`userIdentity`, `requestParameters`, `responseElements`, `sequencer`,
/// sometimes `eventTime`): those are filled with empty values first, so that only a record
/// without a bucket or a key is refused.
fn decode_s3_record(record: &Value) -> Result<S3Record, String> {
    let Value::Object(fields) = record else {
        return Err(format!("S3 record is {}, not an object", kind_of(record)));
    };
    let bucket = record.pointer("/s3/bucket/name").and_then(Value::as_str);
    let raw_key = record.pointer("/s3/object/key").and_then(Value::as_str);
    let (Some(bucket), Some(raw_key)) = (bucket, raw_key) else {
        let missing = if bucket.is_none() {
            "s3.bucket.name"
        } else {
            "s3.object.key"
        };
        return Err(format!("S3 record has no {missing}"));
    };
    check_names(bucket, raw_key)?;
    // A record as AWS sends it has every field: read it where it is. Only a record from
    // another sender, missing some, is copied to fill them in.
    let parsed = match S3EventRecord::deserialize(record) {
        Ok(parsed) => parsed,
        Err(_) => with_defaults(fields)?,
    };
    s3_record(parsed, bucket.to_owned(), raw_key.to_owned())
}

/// Refuses a record whose bucket name or key is empty.
fn check_names(bucket: &str, raw_key: &str) -> Result<(), String> {
    if bucket.is_empty() || raw_key.is_empty() {
        return Err("S3 record has an empty bucket name or key".to_owned());
    }
    Ok(())
}

/// A record from a sender that omits fields AWS always sends, with those filled in.
fn with_defaults(fields: &Map<String, Value>) -> Result<S3EventRecord, String> {
    let mut filled = fields.clone();
    for (name, empty) in [
        ("userIdentity", json!({})),
        ("requestParameters", json!({})),
        ("responseElements", json!({})),
        ("eventTime", json!("1970-01-01T00:00:00Z")),
    ] {
        if filled.get(name).is_none_or(Value::is_null) {
            filled.insert(name.to_owned(), empty);
        }
    }
    serde_json::from_value(Value::Object(filled))
        .map_err(|err| format!("malformed S3 record: {err}"))
}

/// The record s3plug works with, from a parsed notification record.
fn s3_record(parsed: S3EventRecord, bucket: String, raw_key: String) -> Result<S3Record, String> {
    let key = s3key::decode(&raw_key).map_err(|err| err.to_string())?;
    let size = parsed
        .s3
        .object
        .size
        .and_then(|size| u64::try_from(size).ok());
    Ok(S3Record {
        event_name: normalise_event_name(parsed.event_name.as_deref().unwrap_or_default()),
        event_time: rfc3339(&parsed.event_time),
        bucket,
        key,
        raw_key,
        size,
        etag: parsed
            .s3
            .object
            .e_tag
            .map(|etag| etag.trim_matches('"').to_owned()),
        version_id: parsed.s3.object.version_id.filter(|v| !v.is_empty()),
        sequencer: parsed.s3.object.sequencer,
        region: parsed.aws_region.filter(|r| !r.is_empty()),
        principal: parsed.principal_id.principal_id,
        source_ip: parsed.request_parameters.source_ip_address,
    })
}

/// `s3:ObjectCreated:Put` (MinIO) and `ObjectCreated:Put` (AWS) are the same event.
fn normalise_event_name(name: &str) -> String {
    name.strip_prefix("s3:").unwrap_or(name).to_owned()
}

fn rfc3339(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The `detail` of an EventBridge event from S3.
#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
struct S3Detail {
    bucket: Option<NamedBucket>,
    object: Option<DetailObject>,
    reason: Option<String>,
    deletion_type: Option<String>,
    requester: Option<String>,
    source_ip_address: Option<String>,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
struct NamedBucket {
    name: Option<String>,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
struct DetailObject {
    key: Option<String>,
    size: Option<u64>,
    etag: Option<String>,
    version_id: Option<String>,
    sequencer: Option<String>,
}

/// Decodes an EventBridge event from S3. EventBridge names events by detail type
/// (`Object Created`) and reason (`PutObject`); they are mapped onto the notification event
/// names so that routes need not care how an event arrived. EventBridge does not URL-encode
/// keys, so the raw key is the key.
fn decode_eventbridge(value: Value) -> ItemKind {
    let event: EventBridgeEvent<S3Detail> = match serde_json::from_value(value) {
        Ok(event) => event,
        Err(err) => {
            return ItemKind::Invalid(format!("malformed EventBridge event from aws.s3: {err}"));
        }
    };
    let detail = event.detail;
    let bucket = detail.bucket.and_then(|b| b.name).filter(|b| !b.is_empty());
    let object = detail.object;
    let key = object
        .as_ref()
        .and_then(|o| o.key.clone())
        .filter(|k| !k.is_empty());
    let (Some(bucket), Some(key), Some(object)) = (bucket, key, object) else {
        return ItemKind::Invalid(format!(
            "EventBridge {:?} event has no bucket name or object key",
            event.detail_type
        ));
    };
    let Some(event_name) = eventbridge_event_name(
        &event.detail_type,
        detail.reason.as_deref(),
        detail.deletion_type.as_deref(),
    ) else {
        return ItemKind::Invalid(format!(
            "EventBridge detail type {:?} is not an object event",
            event.detail_type
        ));
    };
    ItemKind::Record(std::sync::Arc::new(S3Record {
        event_name: event_name.to_owned(),
        event_time: event
            .time
            .as_ref()
            .map(rfc3339)
            .unwrap_or_else(|| "1970-01-01T00:00:00.000Z".to_owned()),
        bucket,
        raw_key: key.clone(),
        key,
        size: object.size,
        etag: object.etag,
        version_id: object.version_id,
        sequencer: object.sequencer,
        region: event.region,
        principal: detail.requester,
        source_ip: detail.source_ip_address,
    }))
}

fn eventbridge_event_name(
    detail_type: &str,
    reason: Option<&str>,
    deletion: Option<&str>,
) -> Option<&'static str> {
    let marker = deletion == Some("Delete Marker Created");
    let lifecycle = reason == Some("Lifecycle Expiration");
    Some(match detail_type {
        "Object Created" => match reason {
            Some("POST Object") => "ObjectCreated:Post",
            Some("CopyObject") => "ObjectCreated:Copy",
            Some("CompleteMultipartUpload") => "ObjectCreated:CompleteMultipartUpload",
            _ => "ObjectCreated:Put",
        },
        "Object Deleted" => match (lifecycle, marker) {
            (true, true) => "LifecycleExpiration:DeleteMarkerCreated",
            (true, false) => "LifecycleExpiration:Delete",
            (false, true) => "ObjectRemoved:DeleteMarkerCreated",
            (false, false) => "ObjectRemoved:Delete",
        },
        "Object Restore Initiated" => "ObjectRestore:Post",
        "Object Restore Completed" => "ObjectRestore:Completed",
        "Object Restore Expired" => "ObjectRestore:Delete",
        "Object Tags Added" => "ObjectTagging:Put",
        "Object Tags Deleted" => "ObjectTagging:Delete",
        "Object ACL Updated" => "ObjectAcl:Put",
        "Object Storage Class Changed" => "LifecycleTransition",
        "Object Access Tier Changed" => "IntelligentTiering",
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
