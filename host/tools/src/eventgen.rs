//! Realistic S3 events, as each sender delivers them, for local runs and tests.
//!
//! An [`EventSpec`] says what happened to which objects; a [`Delivery`] says how it arrives:
//! the envelope ([`Via`]), how many events per key, whether one is delivered twice and
//! whether a key's events arrive out of order. [`generate`] returns the payload a handler
//! would receive.
//!
//! What each sender does differently, and what is kept here:
//! - Keys: S3 notifications URL-encode keys like Java's `URLEncoder` (space `+`, `/` kept);
//!   MinIO escapes them with Go's `url.QueryEscape` (`/` becomes `%2F`); EventBridge does not
//!   encode them at all.
//! - Sequencers grow with time for each key: events are made one millisecond apart, and the
//!   sequencer is the event time in nanoseconds, in fixed-width hex (so that comparing after
//!   right-padding, as S3 documents, and comparing as text agree).
//! - S3 sends one record per notification, and SQS carries one notification per message: a
//!   batch from SQS has one message per event. Folding several events into one payload for
//!   `--via s3`, `sns` and `minio` is a convenience for piping into `s3plug run`; an
//!   EventBridge event carries exactly one, so several need `eventbridge-sqs`.
//! - A duplicate repeats the event exactly (same request id, sequencer and time) in a
//!   message of its own, as at-least-once delivery does.

mod action;
mod eventbridge;
mod ids;
mod md5;
mod minio;
mod record;
mod schedule;
mod sns;
mod sqs;
#[cfg(test)]
mod tests;

use std::time::{SystemTime, UNIX_EPOCH};

use chrono::TimeDelta;
use serde_json::{Value, json};

pub use action::ObjectAction;
use ids::Ids;
use record::ObjectEvent;
use sqs::Sender;

/// The object size events carry when none is given.
pub const DEFAULT_SIZE: u64 = 1024;

/// How the events reach the handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Via {
    /// The notification S3 sends a Lambda function: `{"Records": [...]}`.
    S3,
    /// An SNS event: the notification, as text, is the message of an SNS notification.
    Sns,
    /// An SQS batch: one message per event, the notification as its body.
    Sqs,
    /// S3 to SNS to SQS without raw delivery: each body is SNS's JSON around the notification.
    SqsSns,
    /// The EventBridge event S3 sends (keys not URL-encoded); one event only.
    #[value(name = "eventbridge")]
    EventBridge,
    /// EventBridge events delivered by a rule to an SQS queue: one message per event.
    #[value(name = "eventbridge-sqs")]
    EventBridgeSqs,
    /// The body of a MinIO webhook (`/` in keys encoded as `%2F`).
    Minio,
}

/// What happened, to which objects.
#[derive(Debug, Clone)]
pub struct EventSpec {
    pub action: ObjectAction,
    pub bucket: String,
    /// The keys as stored (decoded); each sender encodes them its own way.
    pub keys: Vec<String>,
    /// Written only in the events that carry a size.
    pub size: u64,
    /// Without quotes; derived from the key and size when absent.
    pub etag: Option<String>,
    pub region: String,
    /// The bucket has versioning enabled: every event names a version.
    pub versioned: bool,
}

/// How the events are delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    pub via: Via,
    /// Events per key, at least 1.
    pub count: u32,
    /// Deliver one event twice.
    pub duplicate: bool,
    /// Deliver each key's events out of sequencer order.
    pub out_of_order: bool,
    /// Drives the choices of `duplicate` and `out_of_order`: the same seed, the same choices.
    pub seed: u64,
}

impl Default for Delivery {
    fn default() -> Self {
        Self {
            via: Via::S3,
            count: 1,
            duplicate: false,
            out_of_order: false,
            seed: 1,
        }
    }
}

/// A request that cannot be delivered as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenerateError {
    #[error("no object key given")]
    NoKeys,
    #[error("the event count must be at least 1")]
    NoEvents,
    #[error(
        "an EventBridge event carries one S3 event, not {events}: use --via eventbridge-sqs for several"
    )]
    OneEventOnly { events: usize },
    #[error("out-of-order delivery needs two or more events of a key: add --count 2 or more")]
    NothingToReorder,
}

/// A write that really happened, on a local S3 endpoint (`s3plug dev`).
#[derive(Debug, Clone)]
pub struct Happened {
    pub action: ObjectAction,
    pub bucket: String,
    /// The key as stored (decoded).
    pub key: String,
    pub size: u64,
    /// Without quotes.
    pub etag: String,
    /// Must grow for each key: the endpoint hands them out.
    pub sequencer: u64,
    pub time: SystemTime,
    pub region: String,
}

/// The notification S3 would send for `happened`: `{"Records": [one record]}`, with the key
/// encoded as S3 encodes it.
pub fn notification(happened: &Happened) -> Value {
    let mut ids = Ids::new(
        format!(
            "{}/{}/{}",
            happened.sequencer, happened.bucket, happened.key
        )
        .as_bytes(),
    );
    let event = ObjectEvent {
        action: happened.action,
        bucket: happened.bucket.clone(),
        key: happened.key.clone(),
        size: happened.size,
        etag: happened.etag.clone(),
        version_id: None,
        sequencer: happened.sequencer,
        time: happened.time.into(),
        region: happened.region.clone(),
        request_id: ids.hex_upper(16),
        host_id: ids.base64(48),
        eventbridge_id: ids.uuid(),
    };
    json!({ "Records": [record::aws_record(&event)] })
}

/// The payload for `spec` delivered as `delivery`, made now.
pub fn generate(spec: &EventSpec, delivery: &Delivery) -> Result<Value, GenerateError> {
    generate_at(spec, delivery, SystemTime::now())
}

/// The payload for `spec` delivered as `delivery`, with the first event made at `start`:
/// the same arguments give the same payload.
pub fn generate_at(
    spec: &EventSpec,
    delivery: &Delivery,
    start: SystemTime,
) -> Result<Value, GenerateError> {
    if spec.keys.is_empty() {
        return Err(GenerateError::NoKeys);
    }
    if delivery.count == 0 {
        return Err(GenerateError::NoEvents);
    }
    let nanos = start
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let mut ids = Ids::new(
        format!(
            "{nanos}/{}/{:?}/{}/{:?}",
            delivery.seed, spec.action, spec.bucket, spec.keys
        )
        .as_bytes(),
    );
    let made = schedule::create(spec, delivery.count, start, &mut ids);
    let delivered = schedule::deliver(made, delivery)?;
    wrap(&delivered, delivery.via, &spec.region, &mut ids)
}

fn wrap(
    events: &[ObjectEvent],
    via: Via,
    region: &str,
    ids: &mut Ids,
) -> Result<Value, GenerateError> {
    // What the destination received when: a little after the event, in delivery order.
    let sent = |position: usize, event: &ObjectEvent| {
        event.time + TimeDelta::milliseconds(25 + position as i64)
    };
    let notification =
        |event: &ObjectEvent| json!({ "Records": [record::aws_record(event)] }).to_string();
    Ok(match via {
        Via::S3 => json!({ "Records": events.iter().map(record::aws_record).collect::<Vec<_>>() }),
        Via::Sns => {
            let topic = sns::Topic::new(region, ids);
            let records: Vec<Value> = (0..)
                .zip(events)
                .map(|(i, e)| topic.lambda_record(&notification(e), sent(i, e), ids))
                .collect();
            json!({ "Records": records })
        }
        Via::Sqs => sqs::lambda_event(
            (0..)
                .zip(events)
                .map(|(i, e)| sqs::message(notification(e), Sender::S3, sent(i, e), region, ids))
                .collect(),
        ),
        Via::SqsSns => {
            let topic = sns::Topic::new(region, ids);
            let messages = (0..)
                .zip(events)
                .map(|(i, e)| {
                    let body = topic.sqs_body(&notification(e), sent(i, e), ids);
                    sqs::message(body, Sender::Sns, sent(i, e), region, ids)
                })
                .collect();
            sqs::lambda_event(messages)
        }
        Via::EventBridge => match events {
            [event] => eventbridge::event(event),
            _ => {
                return Err(GenerateError::OneEventOnly {
                    events: events.len(),
                });
            }
        },
        Via::EventBridgeSqs => sqs::lambda_event(
            (0..)
                .zip(events)
                .map(|(i, e)| {
                    let body = eventbridge::event(e).to_string();
                    sqs::message(body, Sender::EventBridge, sent(i, e), region, ids)
                })
                .collect(),
        ),
        Via::Minio => minio::webhook_body(events, &ids.uuid()),
    })
}
