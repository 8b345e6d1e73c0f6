use serde_json::json;

use super::*;

fn only_record(decoded: &DecodedEvent) -> &S3Record {
    assert_eq!(decoded.items.len(), 1, "{decoded:#?}");
    match &decoded.items[0].kind {
        ItemKind::Record(record) => record,
        other => panic!("not a record: {other:?}"),
    }
}

fn s3_notification(key: &str) -> Value {
    json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-26T08:00:00.123Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "203.0.113.9"},
        "responseElements": {"x-amz-request-id": "R", "x-amz-id-2": "I"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "c",
               "bucket": {"name": "photos", "ownerIdentity": {"principalId": "O"}, "arn": "arn:aws:s3:::photos"},
               "object": {"key": key, "size": 1024, "eTag": "\"abc\"", "versionId": "v1", "sequencer": "0055AED6DCD90281E5"}}
    }]})
}

#[test]
fn decodes_every_field_of_a_direct_notification() {
    let decoded = decode_value(s3_notification("in/my+photo%2B1.jpg")).unwrap();
    assert_eq!(decoded.envelope, Envelope::S3);
    let record = only_record(&decoded);
    assert_eq!(
        record,
        &S3Record {
            event_name: "ObjectCreated:Put".into(),
            event_time: "2026-11-26T08:00:00.123Z".into(),
            bucket: "photos".into(),
            key: "in/my photo+1.jpg".into(),
            raw_key: "in/my+photo%2B1.jpg".into(),
            size: Some(1024),
            etag: Some("abc".into()),
            version_id: Some("v1".into()),
            sequencer: Some("0055AED6DCD90281E5".into()),
            region: Some("us-east-1".into()),
            principal: Some("AWS:AIDAEXAMPLE".into()),
            source_ip: Some("203.0.113.9".into()),
        }
    );
}

#[test]
fn decodes_the_crates_own_fixture() {
    let fixture = include_str!("../../tests/fixtures/aws-s3-put.json");
    let record = only_record(&decode(fixture.as_bytes()).unwrap()).clone();
    assert_eq!(record.bucket, "sourcebucket");
    assert_eq!(record.key, "Happy Face.jpg");
}

#[test]
fn accepts_records_from_senders_that_omit_fields() {
    // What moto and other emulators send: no userIdentity, requestParameters,
    // responseElements or sequencer, and an encoded slash.
    let event = json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-26T08:00:00.000Z", "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": "photos"}, "object": {"key": "a%2Fb.txt", "size": 3}}
    }]});
    let record = only_record(&decode_value(event).unwrap()).clone();
    assert_eq!(record.key, "a/b.txt");
    assert_eq!(record.principal, None);
    assert_eq!(record.sequencer, None);
}

#[test]
fn minio_records_and_wrapper_decode() {
    let event = json!({
        "EventName": "s3:ObjectCreated:Put",
        "Key": "photos/in/a b.jpg",
        "Records": [{
            "eventVersion": "2.0", "eventSource": "minio:s3", "awsRegion": "",
            "eventTime": "2026-11-26T08:00:00.000Z", "eventName": "s3:ObjectCreated:Put",
            "userIdentity": {"principalId": "minioadmin"},
            "requestParameters": {"principalId": "minioadmin", "region": "", "sourceIPAddress": "127.0.0.1"},
            "responseElements": {"x-amz-request-id": "1", "x-minio-origin-endpoint": "http://127.0.0.1:9000"},
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "Config",
                   "bucket": {"name": "photos", "ownerIdentity": {"principalId": "minioadmin"}, "arn": "arn:aws:s3:::photos"},
                   "object": {"key": "in%2Fa+b.jpg", "size": 5, "eTag": "e", "contentType": "image/jpeg", "sequencer": "17A"}},
            "source": {"host": "127.0.0.1", "port": "", "userAgent": "MinIO"}
        }]
    });
    let record = only_record(&decode_value(event).unwrap()).clone();
    assert_eq!(record.event_name, "ObjectCreated:Put");
    assert_eq!(record.key, "in/a b.jpg");
    assert_eq!(record.region, None);
}

#[test]
fn the_test_event_is_recognised() {
    let event = json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-11-26T08:00:00.000Z",
                       "Bucket": "photos", "RequestId": "R", "HostId": "H"});
    let decoded = decode_value(event).unwrap();
    assert_eq!(
        decoded.items,
        vec![EventItem {
            message_id: None,
            kind: ItemKind::Test
        }]
    );
}

#[test]
fn a_record_without_bucket_or_key_is_invalid_alone() {
    let mut event = s3_notification("a");
    let second = event["Records"][0].clone();
    event["Records"].as_array_mut().unwrap().push(second);
    event["Records"][0]["s3"]["bucket"]
        .as_object_mut()
        .unwrap()
        .remove("name");
    let decoded = decode_value(event).unwrap();
    assert!(
        matches!(&decoded.items[0].kind, ItemKind::Invalid(why) if why.contains("s3.bucket.name"))
    );
    assert!(matches!(&decoded.items[1].kind, ItemKind::Record(_)));
}

#[test]
fn payloads_that_are_no_event_are_refused() {
    assert!(matches!(decode(b"{nope"), Err(DecodeError::NotJson(_))));
    assert!(
        matches!(decode(b"[1,2]"), Err(DecodeError::Unrecognised(m)) if m.contains("an array"))
    );
    assert!(
        matches!(decode(br#"{"hello": 1}"#), Err(DecodeError::Unrecognised(m)) if m.contains("hello"))
    );
}

#[test]
fn sqs_messages_keep_their_ids_and_fail_alone() {
    let body = serde_json::to_string(&s3_notification("a.txt")).unwrap();
    let test = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"photos"}"#;
    let sns = serde_json::to_string(&json!({
        "Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:us-east-1:1:t",
        "Message": serde_json::to_string(&s3_notification("via%2Fsns.txt")).unwrap(),
        "Timestamp": "2026-11-26T08:00:00.000Z"
    }))
    .unwrap();
    let message = |id: &str, body: &str| {
        json!({
            "messageId": id, "receiptHandle": "h", "body": body, "attributes": {}, "messageAttributes": {},
            "md5OfBody": "x", "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:1:q", "awsRegion": "us-east-1"
        })
    };
    let event = json!({"Records": [
        message("m1", &body), message("m2", "not json"), message("m3", test), message("m4", &sns)
    ]});
    let decoded = decode_value(event).unwrap();
    assert_eq!(decoded.envelope, Envelope::Sqs);
    let ids: Vec<_> = decoded
        .items
        .iter()
        .map(|i| i.message_id.as_deref().unwrap())
        .collect();
    assert_eq!(ids, ["m1", "m2", "m3", "m4"]);
    assert!(matches!(&decoded.items[0].kind, ItemKind::Record(r) if r.key == "a.txt"));
    assert!(matches!(&decoded.items[1].kind, ItemKind::Invalid(why) if why.contains("not JSON")));
    assert_eq!(decoded.items[2].kind, ItemKind::Test);
    assert!(matches!(&decoded.items[3].kind, ItemKind::Record(r) if r.key == "via/sns.txt"));
}

#[test]
fn eventbridge_events_map_onto_notification_names() {
    let event = json!({
        "version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103", "detail-type": "Object Deleted",
        "source": "aws.s3", "account": "111122223333", "time": "2026-11-26T08:00:00Z", "region": "ca-central-1",
        "resources": ["arn:aws:s3:::photos"],
        "detail": {"version": "0", "bucket": {"name": "photos"},
                   "object": {"key": "in/a b.jpg", "etag": "d41d8cd98f00b204e9800998ecf8427e", "sequencer": "617f08299329d189"},
                   "request-id": "N4N7GDK58NMKJ12R", "requester": "123456789012", "source-ip-address": "1.2.3.4",
                   "reason": "DeleteObject", "deletion-type": "Delete Marker Created"}
    });
    let decoded = decode_value(event).unwrap();
    assert_eq!(decoded.envelope, Envelope::EventBridge);
    let record = only_record(&decoded);
    assert_eq!(record.event_name, "ObjectRemoved:DeleteMarkerCreated");
    assert_eq!(record.key, "in/a b.jpg");
    assert_eq!(record.region.as_deref(), Some("ca-central-1"));
    assert_eq!(record.event_time, "2026-11-26T08:00:00.000Z");
}

/// `decode` reads S3 notifications and SQS batches without building a JSON tree; whatever
/// the payload, it must decode exactly as the general way (`decode_value`) does.
#[test]
fn the_fast_way_decodes_every_payload_as_the_general_way_does() {
    let aws = s3_notification("in/my+photo%2B1.jpg");
    let mut minio = aws.clone();
    for field in [
        "userIdentity",
        "requestParameters",
        "responseElements",
        "eventTime",
    ] {
        minio["Records"][0].as_object_mut().unwrap().remove(field);
    }
    let mut nulls = aws.clone();
    nulls["Records"][0]["userIdentity"] = Value::Null;
    let mut bad_size = aws.clone();
    bad_size["Records"][0]["s3"]["object"]["size"] = json!("big");
    let mut bad_time = aws.clone();
    bad_time["Records"][0]["eventTime"] = json!("yesterday");
    let mut no_key = aws.clone();
    no_key["Records"][0]["s3"]["object"]
        .as_object_mut()
        .unwrap()
        .remove("key");
    let mut empty_bucket = aws.clone();
    empty_bucket["Records"][0]["s3"]["bucket"]["name"] = json!("");
    let mut bad_escape = aws.clone();
    bad_escape["Records"][0]["s3"]["object"]["key"] = json!("in/%zz");
    let mixed = json!({"Records": [
        aws["Records"][0], minio["Records"][0], bad_size["Records"][0], 7, no_key["Records"][0]
    ]});
    let body = |v: &Value| v.to_string();
    let sqs = json!({"Records": [
        {"messageId": "m1", "eventSource": "aws:sqs", "body": body(&aws)},
        {"messageId": "m2", "eventSource": "aws:sqs", "body": body(&mixed)},
        {"messageId": "m3", "eventSource": "aws:sqs", "body": "not json"},
        {"messageId": "m4", "eventSource": "aws:sqs", "body": body(&json!({
            "Type": "Notification", "Message": body(&minio)
        }))},
        {"messageId": "m5", "eventSource": "aws:sqs"}
    ]});
    let bad_sqs = json!({"Records": [{"eventSource": "aws:sqs", "messageId": 5}]});
    let payloads = [
        aws,
        minio,
        nulls,
        bad_size,
        bad_time,
        no_key,
        empty_bucket,
        bad_escape,
        mixed,
        sqs,
        bad_sqs,
        json!({"Records": []}),
        json!({"Records": [1, 2]}),
        json!({"Records": "none"}),
        json!({"Event": "s3:TestEvent"}),
    ];
    for payload in payloads {
        let fast = decode(payload.to_string().as_bytes()).map_err(|err| err.to_string());
        let general = decode_value(payload.clone()).map_err(|err| err.to_string());
        assert_eq!(fast, general, "{payload:#}");
    }
}
