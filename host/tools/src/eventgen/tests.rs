use std::cmp::Ordering;
use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::ValueEnum;
use serde_json::Value;

use super::*;
use s3plug_host::dedupe::compare_sequencers;
use s3plug_host::event::{self, ItemKind, S3Record};
use s3plug_host::s3key::{self, KeyStyle};

/// A key every sender encodes differently: a slash, a space, a plus, `~`, `*`, non-ASCII.
const TRICKY_KEY: &str = "in/my photo+1 ~*é.jpg";

fn start() -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(1_790_000_000_123_456_789)
}

fn spec(action: ObjectAction, keys: &[&str]) -> EventSpec {
    EventSpec {
        action,
        bucket: "photos".into(),
        keys: keys.iter().map(|k| (*k).to_owned()).collect(),
        size: 42,
        etag: None,
        region: "eu-west-1".into(),
        versioned: false,
    }
}

fn delivered_by(via: Via) -> Delivery {
    Delivery {
        via,
        ..Delivery::default()
    }
}

fn generated(spec: &EventSpec, delivery: &Delivery) -> Value {
    generate_at(spec, delivery, start()).unwrap_or_else(|err| panic!("{spec:?}: {err}"))
}

/// The records of a payload, with the SQS message each came in, through the real decoder.
fn decoded(payload: &Value) -> Vec<(Option<String>, S3Record)> {
    let bytes = serde_json::to_vec(payload).unwrap();
    event::decode(&bytes)
        .unwrap()
        .items
        .into_iter()
        .map(|item| match item.kind {
            ItemKind::Record(record) => (item.message_id, S3Record::clone(&record)),
            other => panic!("not a record: {other:?} in {payload:#}"),
        })
        .collect()
}

fn actions() -> &'static [ObjectAction] {
    ObjectAction::value_variants()
}

fn vias() -> &'static [Via] {
    Via::value_variants()
}

#[test]
fn every_action_decodes_back_through_every_via() {
    for &action in actions() {
        for &via in vias() {
            let what = format!("{action:?} via {via:?}");
            let payload = generated(&spec(action, &[TRICKY_KEY]), &delivered_by(via));
            let records = decoded(&payload);
            assert_eq!(records.len(), 1, "{what}: {payload:#}");
            let (message_id, record) = &records[0];
            assert_eq!(record.bucket, "photos", "{what}");
            assert_eq!(record.key, TRICKY_KEY, "{what}");
            assert_eq!(record.event_name, action.event_name(), "{what}");
            let sized = match via {
                Via::Minio => !action.removes(),
                _ => action.carries_size(),
            };
            assert_eq!(record.size, sized.then_some(42), "{what}");
            let raw = match via {
                Via::EventBridge | Via::EventBridgeSqs => TRICKY_KEY.to_owned(),
                Via::Minio => minio::encode_key(TRICKY_KEY),
                _ => s3key::encode(TRICKY_KEY, KeyStyle::Aws),
            };
            assert_eq!(record.raw_key, raw, "{what}");
            let from_sqs = matches!(via, Via::Sqs | Via::SqsSns | Via::EventBridgeSqs);
            assert_eq!(message_id.is_some(), from_sqs, "{what}");
            assert_eq!(
                record.version_id.is_some(),
                action == ObjectAction::DeleteMarker,
                "{what}"
            );
            if action.is_write() || !matches!(via, Via::EventBridge | Via::EventBridgeSqs) {
                assert!(record.sequencer.is_some(), "{what}");
            }
            assert_eq!(record.region.as_deref(), Some("eu-west-1"), "{what}");
        }
    }
}

#[test]
fn keys_are_encoded_exactly_as_each_sender_does() {
    let spec = spec(ObjectAction::Put, &["a/b c+~*%.txt"]);
    let key_of = |via: Via| {
        decoded(&generated(&spec, &delivered_by(via)))[0]
            .1
            .raw_key
            .clone()
    };
    assert_eq!(key_of(Via::S3), "a/b+c%2B%7E*%25.txt");
    assert_eq!(key_of(Via::Sqs), "a/b+c%2B%7E*%25.txt");
    assert_eq!(key_of(Via::Minio), "a%2Fb+c%2B~%2A%25.txt");
    assert_eq!(key_of(Via::EventBridge), "a/b c+~*%.txt");
}

#[test]
fn sequencers_strictly_increase_per_key() {
    for via in [
        Via::S3,
        Via::Sqs,
        Via::SqsSns,
        Via::EventBridgeSqs,
        Via::Minio,
    ] {
        let delivery = Delivery {
            via,
            count: 5,
            ..Delivery::default()
        };
        let records = decoded(&generated(
            &spec(ObjectAction::Put, &["a.txt", "b.txt"]),
            &delivery,
        ));
        assert_eq!(records.len(), 10, "{via:?}");
        for key in ["a.txt", "b.txt"] {
            let sequencers: Vec<String> = records
                .iter()
                .filter(|(_, r)| r.key == key)
                .map(|(_, r)| r.sequencer.clone().unwrap())
                .collect();
            assert_eq!(sequencers.len(), 5);
            for pair in sequencers.windows(2) {
                assert_eq!(
                    compare_sequencers(&pair[0], &pair[1]),
                    Ordering::Less,
                    "{via:?} {sequencers:?}"
                );
            }
        }
    }
}

/// The rank of each delivered event's sequencer among its key's, in delivery order.
fn delivery_ranks(payload: &Value) -> Vec<(String, usize)> {
    let records = decoded(payload);
    records
        .iter()
        .map(|(_, record)| {
            let rank = records
                .iter()
                .filter(|(_, r)| {
                    r.key == record.key
                        && compare_sequencers(
                            r.sequencer.as_deref().unwrap(),
                            record.sequencer.as_deref().unwrap(),
                        ) == Ordering::Less
                })
                .count();
            (record.key.clone(), rank)
        })
        .collect()
}

#[test]
fn out_of_order_delivery_breaks_sequencer_order_reproducibly() {
    let spec = spec(ObjectAction::Put, &["a.txt", "b.txt"]);
    for seed in 0..20 {
        for count in [2, 3, 6] {
            let delivery = Delivery {
                count,
                out_of_order: true,
                seed,
                ..Delivery::default()
            };
            let payload = generated(&spec, &delivery);
            let ranks = delivery_ranks(&payload);
            assert_eq!(ranks.len(), 2 * count as usize);
            for key in ["a.txt", "b.txt"] {
                let order: Vec<usize> = ranks
                    .iter()
                    .filter(|(k, _)| k == key)
                    .map(|(_, rank)| *rank)
                    .collect();
                assert!(
                    order.windows(2).any(|pair| pair[0] > pair[1]),
                    "seed {seed}, count {count}: {key} arrives in order {order:?}"
                );
            }
            // The same seed gives the same payload at the same time, and the same order at
            // another time.
            assert_eq!(generated(&spec, &delivery), payload);
            let later = generate_at(&spec, &delivery, start() + Duration::from_secs(3600)).unwrap();
            assert_eq!(delivery_ranks(&later), ranks);
        }
    }
    let order_for = |seed| {
        let delivery = Delivery {
            count: 6,
            out_of_order: true,
            seed,
            ..Delivery::default()
        };
        delivery_ranks(&generated(&spec, &delivery))
    };
    assert_ne!(order_for(1), order_for(2), "the seed changes the order");
}

#[test]
fn in_order_delivery_keeps_creation_order() {
    let delivery = Delivery {
        count: 3,
        ..Delivery::default()
    };
    let ranks = delivery_ranks(&generated(&spec(ObjectAction::Put, &["a", "b"]), &delivery));
    let expected: Vec<(String, usize)> = (0..3)
        .flat_map(|rank| [("a".to_owned(), rank), ("b".to_owned(), rank)])
        .collect();
    assert_eq!(ranks, expected);
}

#[test]
fn a_duplicate_repeats_one_event_exactly_in_a_message_of_its_own() {
    let delivery = Delivery {
        via: Via::Sqs,
        count: 3,
        duplicate: true,
        ..Delivery::default()
    };
    let payload = generated(&spec(ObjectAction::Put, &["a.txt"]), &delivery);
    let messages = payload["Records"].as_array().unwrap();
    assert_eq!(messages.len(), 4);
    let ids: HashSet<&str> = messages
        .iter()
        .map(|m| m["messageId"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 4, "distinct message ids");
    let bodies: Vec<&str> = messages
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    let repeated: Vec<(usize, usize)> = (0..4)
        .flat_map(|i| (i + 1..4).map(move |j| (i, j)))
        .filter(|&(i, j)| bodies[i] == bodies[j])
        .collect();
    assert_eq!(repeated.len(), 1, "one body twice: {bodies:#?}");
    let sequencers: HashSet<String> = decoded(&payload)
        .into_iter()
        .map(|(_, r)| r.sequencer.unwrap())
        .collect();
    assert_eq!(sequencers.len(), 3, "the duplicate shares its sequencer");

    // Through SNS and EventBridge too: the event is the same, the envelope is new.
    for via in [
        Via::S3,
        Via::Sns,
        Via::SqsSns,
        Via::EventBridgeSqs,
        Via::Minio,
    ] {
        let delivery = Delivery {
            via,
            count: 1,
            duplicate: true,
            ..Delivery::default()
        };
        let records = decoded(&generated(&spec(ObjectAction::Put, &["a.txt"]), &delivery));
        assert_eq!(records.len(), 2, "{via:?}");
        assert_eq!(records[0].1, records[1].1, "{via:?}");
    }
}

#[test]
fn sqs_messages_carry_what_lambda_receives() {
    let delivery = Delivery {
        via: Via::Sqs,
        count: 2,
        ..Delivery::default()
    };
    let payload = generated(&spec(ObjectAction::Copy, &["a.txt"]), &delivery);
    for message in payload["Records"].as_array().unwrap() {
        let body = message["body"].as_str().unwrap();
        assert_eq!(message["md5OfBody"], md5::md5_hex(body.as_bytes()));
        assert_eq!(message["eventSource"], "aws:sqs");
        assert_eq!(message["awsRegion"], "eu-west-1");
        assert!(
            message["eventSourceARN"]
                .as_str()
                .unwrap()
                .starts_with("arn:aws:sqs:eu-west-1:")
        );
        assert!(
            message["receiptHandle"]
                .as_str()
                .unwrap()
                .starts_with("AQEB")
        );
        for attribute in [
            "ApproximateReceiveCount",
            "SentTimestamp",
            "SenderId",
            "ApproximateFirstReceiveTimestamp",
        ] {
            assert!(message["attributes"][attribute].is_string(), "{attribute}");
        }
        // One S3 notification per message, with one record.
        let notification: Value = serde_json::from_str(body).unwrap();
        assert_eq!(notification["Records"].as_array().unwrap().len(), 1);
    }
    let parsed: aws_lambda_events::event::sqs::SqsEvent = serde_json::from_value(payload).unwrap();
    assert_eq!(parsed.records.len(), 2);
}

#[test]
fn sns_messages_carry_the_notification_as_text() {
    let payload = generated(
        &spec(ObjectAction::Put, &["a.txt"]),
        &delivered_by(Via::Sns),
    );
    let parsed: aws_lambda_events::event::sns::SnsEvent =
        serde_json::from_value(payload.clone()).unwrap();
    let sns = &parsed.records[0].sns;
    assert_eq!(sns.sns_message_type, "Notification");
    assert_eq!(sns.subject.as_deref(), Some("Amazon S3 Notification"));
    assert!(sns.topic_arn.starts_with("arn:aws:sns:eu-west-1:"));
    let notification: Value = serde_json::from_str(&sns.message).unwrap();
    assert_eq!(notification["Records"][0]["eventSource"], "aws:s3");
    assert_eq!(
        payload["Records"][0]["Sns"]["SigningCertUrl"],
        sns.signing_cert_url
    );

    // Through SQS without raw delivery: SNS's own layout, with `URL` spelled in capitals.
    let payload = generated(
        &spec(ObjectAction::Put, &["a.txt"]),
        &delivered_by(Via::SqsSns),
    );
    let body = payload["Records"][0]["body"].as_str().unwrap();
    assert!(
        body.starts_with("{\n  \"Type\" : \"Notification\",\n  \"MessageId\" : \""),
        "{body}"
    );
    let envelope: Value = serde_json::from_str(body).unwrap();
    assert!(envelope["SigningCertURL"].is_string() && envelope["UnsubscribeURL"].is_string());
    let inner: Value = serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap();
    assert_eq!(inner["Records"][0]["eventName"], "ObjectCreated:Put");
    assert_eq!(
        payload["Records"][0]["attributes"]["SenderId"],
        "AIDAIT2UOQQY3AUEKVGXU"
    );
}

#[test]
fn eventbridge_events_use_the_detail_names_s3_sends() {
    #[rustfmt::skip]
    let cases = [
        (ObjectAction::Put, "Object Created", "reason", "PutObject"),
        (ObjectAction::Copy, "Object Created", "reason", "CopyObject"),
        (
            ObjectAction::Multipart,
            "Object Created",
            "reason",
            "CompleteMultipartUpload",
        ),
        (
            ObjectAction::Post,
            "Object Created",
            "reason",
            "POST Object",
        ),
        (
            ObjectAction::Delete,
            "Object Deleted",
            "deletion-type",
            "Permanently Deleted",
        ),
        (
            ObjectAction::DeleteMarker,
            "Object Deleted",
            "deletion-type",
            "Delete Marker Created",
        ),
        (
            ObjectAction::Lifecycle,
            "Object Deleted",
            "reason",
            "Lifecycle Expiration",
        ),
        (
            ObjectAction::Restore,
            "Object Restore Completed",
            "source-storage-class",
            "GLACIER",
        ),
        (
            ObjectAction::RestorePost,
            "Object Restore Initiated",
            "source-storage-class",
            "GLACIER",
        ),
        (
            ObjectAction::Tagging,
            "Object Tags Added",
            "requester",
            "123456789012",
        ),
        (
            ObjectAction::TaggingDelete,
            "Object Tags Deleted",
            "requester",
            "123456789012",
        ),
        (
            ObjectAction::LifecycleTransition,
            "Object Storage Class Changed",
            "destination-storage-class",
            "GLACIER",
        ),
    ];
    assert_eq!(cases.len(), actions().len());
    for (action, detail_type, field, value) in cases {
        let event = generated(&spec(action, &["a b.txt"]), &delivered_by(Via::EventBridge));
        assert_eq!(event["detail-type"], detail_type, "{action:?}");
        assert_eq!(event["detail"][field], value, "{action:?}");
        assert_eq!(event["source"], "aws.s3");
        assert_eq!(event["detail"]["object"]["key"], "a b.txt");
    }
    let restore = generated(
        &spec(ObjectAction::Restore, &["a"]),
        &delivered_by(Via::EventBridge),
    );
    assert!(
        restore["detail"]["restore-expiry-time"]
            .as_str()
            .unwrap()
            .ends_with("T00:00:00Z")
    );
}

#[test]
fn restores_carry_glacier_event_data_and_transitions_their_class() {
    let payload = generated(&spec(ObjectAction::Restore, &["a"]), &delivered_by(Via::S3));
    let record = &payload["Records"][0];
    let restore = &record["glacierEventData"]["restoreEventData"];
    assert_eq!(restore["lifecycleRestoreStorageClass"], "GLACIER");
    let expiry = restore["lifecycleRestorationExpiryTime"].as_str().unwrap();
    assert!(expiry.ends_with("T00:00:00.000Z"), "{expiry}");
    assert!(expiry > record["eventTime"].as_str().unwrap());
    assert_eq!(record["userIdentity"]["principalId"], "s3.amazonaws.com");

    let payload = generated(
        &spec(ObjectAction::LifecycleTransition, &["a"]),
        &delivered_by(Via::S3),
    );
    let record = &payload["Records"][0];
    assert_eq!(
        record["lifecycleEventData"]["transitionEventData"]["destinationStorageClass"],
        "GLACIER"
    );
    assert_eq!(record["eventVersion"], "2.3");
    assert!(record.get("glacierEventData").is_none());
}

#[test]
fn object_fields_are_the_ones_s3_sends_for_each_action() {
    let object_of = |action| {
        generated(&spec(action, &["a"]), &delivered_by(Via::S3))["Records"][0]["s3"]["object"]
            .clone()
    };
    let put = object_of(ObjectAction::Put);
    assert_eq!(put["size"], 42);
    assert_eq!(put["eTag"].as_str().unwrap().len(), 32);
    assert!(put.get("versionId").is_none());
    let delete = object_of(ObjectAction::Delete);
    assert!(delete.get("size").is_none() && delete.get("eTag").is_none());
    assert_eq!(delete["sequencer"].as_str().unwrap().len(), 18);
    let marker = object_of(ObjectAction::DeleteMarker);
    assert_eq!(marker["eTag"], "d41d8cd98f00b204e9800998ecf8427e");
    assert_eq!(marker["versionId"].as_str().unwrap().len(), 32);
    assert!(marker.get("size").is_none());
    let tagging = object_of(ObjectAction::Tagging);
    assert!(tagging.get("size").is_none() && tagging.get("eTag").is_some());
    let lifecycle = object_of(ObjectAction::Lifecycle);
    assert!(lifecycle.get("size").is_none() && lifecycle.get("eTag").is_none());

    let mut big = spec(ObjectAction::Multipart, &["a"]);
    big.size = 20 << 20;
    let payload = generated(&big, &delivered_by(Via::S3));
    let etag = payload["Records"][0]["s3"]["object"]["eTag"]
        .as_str()
        .unwrap();
    assert!(etag.ends_with("-3"), "20 MiB in 8 MiB parts: {etag}");

    let mut versioned = spec(ObjectAction::Put, &["a"]);
    versioned.versioned = true;
    let record = &decoded(&generated(&versioned, &delivered_by(Via::Sqs)))[0].1;
    assert_eq!(record.version_id.as_ref().map(String::len), Some(32));

    let mut given = spec(ObjectAction::Put, &["a"]);
    given.etag = Some("0123456789abcdef0123456789abcdef".into());
    let record = &decoded(&generated(&given, &delivered_by(Via::Sns)))[0].1;
    assert_eq!(
        record.etag.as_deref(),
        Some("0123456789abcdef0123456789abcdef")
    );
}

#[test]
fn minio_bodies_name_the_first_event_and_encode_the_slash() {
    let payload = generated(
        &spec(ObjectAction::Delete, &["in/a b.jpg"]),
        &delivered_by(Via::Minio),
    );
    assert_eq!(payload["EventName"], "s3:ObjectRemoved:Delete");
    assert_eq!(payload["Key"], "photos/in/a b.jpg");
    let record = &payload["Records"][0];
    assert_eq!(record["eventSource"], "minio:s3");
    assert_eq!(record["eventVersion"], "2.0");
    assert_eq!(record["s3"]["object"]["key"], "in%2Fa+b.jpg");
    assert!(record["s3"]["object"].get("size").is_none());
}

#[test]
fn requests_that_cannot_be_delivered_are_refused() {
    let put = spec(ObjectAction::Put, &["a"]);
    let refused =
        |spec: &EventSpec, delivery: Delivery| generate_at(spec, &delivery, start()).unwrap_err();
    assert_eq!(
        refused(
            &put,
            Delivery {
                via: Via::EventBridge,
                count: 2,
                ..Delivery::default()
            }
        ),
        GenerateError::OneEventOnly { events: 2 }
    );
    assert_eq!(
        refused(
            &put,
            Delivery {
                via: Via::EventBridge,
                duplicate: true,
                ..Delivery::default()
            }
        ),
        GenerateError::OneEventOnly { events: 2 }
    );
    assert_eq!(
        refused(
            &spec(ObjectAction::Put, &["a", "b"]),
            Delivery {
                out_of_order: true,
                ..Delivery::default()
            }
        ),
        GenerateError::NothingToReorder
    );
    assert_eq!(
        refused(&spec(ObjectAction::Put, &[]), Delivery::default()),
        GenerateError::NoKeys
    );
    assert_eq!(
        refused(
            &put,
            Delivery {
                count: 0,
                ..Delivery::default()
            }
        ),
        GenerateError::NoEvents
    );
    assert!(
        GenerateError::OneEventOnly { events: 2 }
            .to_string()
            .contains("eventbridge-sqs")
    );
}

#[test]
fn event_times_and_request_ids_follow_creation() {
    let delivery = Delivery {
        count: 2,
        ..Delivery::default()
    };
    let records = decoded(&generated(&spec(ObjectAction::Put, &["a"]), &delivery));
    assert!(records[0].1.event_time < records[1].1.event_time);
    let payload = generated(&spec(ObjectAction::Put, &["a"]), &delivery);
    let request_ids: HashSet<&str> = payload["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["responseElements"]["x-amz-request-id"].as_str().unwrap())
        .collect();
    assert_eq!(request_ids.len(), 2);
}

#[test]
fn a_write_that_happened_is_notified_as_s3_would() {
    let happened = Happened {
        action: ObjectAction::Multipart,
        bucket: "photos".into(),
        key: TRICKY_KEY.into(),
        size: 9 << 20,
        etag: "0123456789abcdef0123456789abcdef-2".into(),
        sequencer: 1_790_000_000_123_456_789,
        time: start(),
        region: "us-east-1".into(),
    };
    let payload = notification(&happened);
    let raw_key = payload["Records"][0]["s3"]["object"]["key"]
        .as_str()
        .unwrap();
    assert_eq!(raw_key, s3key::encode(TRICKY_KEY, KeyStyle::Aws));
    let records = decoded(&payload);
    assert_eq!(records.len(), 1, "{payload:#}");
    let (_, record) = &records[0];
    assert_eq!(record.key, TRICKY_KEY);
    assert_eq!(record.event_name, "ObjectCreated:CompleteMultipartUpload");
    assert_eq!(record.size, Some(9 << 20));
    assert_eq!(
        record.sequencer.as_deref(),
        Some(format!("{:018X}", happened.sequencer).as_str())
    );
    let later = notification(&Happened {
        sequencer: happened.sequencer + 1,
        ..happened.clone()
    });
    let (_, later) = &decoded(&later)[0];
    assert_eq!(
        compare_sequencers(
            record.sequencer.as_deref().unwrap(),
            later.sequencer.as_deref().unwrap()
        ),
        Ordering::Less
    );
}
