//! `s3plug event` piped into `s3plug run`: every envelope reaches the plugin with the key
//! decoded and the event named as S3 names it, and repeated or out-of-order deliveries are
//! what a route's duplicate skipping has to sort out.

use std::collections::HashSet;
use std::path::Path;

use s3plug_tests::{TESTGUEST, run_s3plug as s3plug, stderr_text as stderr};
use serde_json::Value;

/// `s3plug event ARGS`, which must succeed: the payload, as text and parsed.
fn event(args: &[&str]) -> (Vec<u8>, Value) {
    let output = s3plug(&[&["event"], args].concat(), None);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{args:?}: {}",
        stderr(&output)
    );
    let parsed = serde_json::from_slice(&output.stdout).expect("the event is JSON");
    (output.stdout, parsed)
}

/// `s3plug run` on a payload, which must succeed: one JSON value per outcome.
fn run(config: &Path, payload: &[u8]) -> Vec<Value> {
    let config = config.display().to_string();
    let args = [
        "run", "--config", &config, "--event", "-", "--store", "memory",
    ];
    let output = s3plug(&args, Some(payload));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("an outcome is JSON"))
        .collect()
}

/// The test guest in `echo/` mode, for every event type `s3plug event` makes; `extra` goes
/// into the plugin's table.
fn echo_config(dir: &Path, host: &str, extra: &str) -> std::path::PathBuf {
    let path = dir.join("s3plug.toml");
    let events = [
        "s3:ObjectCreated:*",
        "s3:ObjectRemoved:*",
        "s3:ObjectRestore:*",
        "s3:ObjectTagging:*",
        "s3:LifecycleExpiration:*",
        "s3:LifecycleTransition",
    ]
    .map(|e| format!("{e:?}"))
    .join(", ");
    let config = format!(
        r#"{host}
[[plugin]]
name = "echo"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "inbox", prefix = "echo/", events = [{events}] }}
{extra}
"#
    );
    std::fs::write(&path, config).expect("config written");
    path
}

/// The sequencer of each S3 event of an SQS batch from S3, in delivery order.
fn sqs_sequencers(payload: &Value) -> Vec<String> {
    payload["Records"]
        .as_array()
        .expect("a batch")
        .iter()
        .map(|message| {
            let body: Value =
                serde_json::from_str(message["body"].as_str().expect("a body")).expect("JSON");
            body["Records"][0]["s3"]["object"]["sequencer"]
                .as_str()
                .expect("a sequencer")
                .to_owned()
        })
        .collect()
}

#[test]
fn every_via_reaches_the_plugin_with_the_decoded_key_and_event_name() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = echo_config(dir.path(), "", "");
    let key = "echo/in/my photo+1 é~.txt";
    // S3 keeps `/` and escapes `~`; MinIO escapes `/` and keeps `~`; EventBridge escapes nothing.
    let aws = "echo/in/my+photo%2B1+%C3%A9%7E.txt";
    let minio = "echo%2Fin%2Fmy+photo%2B1+%C3%A9~.txt";
    #[rustfmt::skip]
    let cases = [
        ("s3", "put", "ObjectCreated:Put", aws, "7"),
        ("s3", "lifecycle", "LifecycleExpiration:Delete", aws, "-"),
        ("sns", "copy", "ObjectCreated:Copy", aws, "7"),
        ("sns", "restore-post", "ObjectRestore:Post", aws, "7"),
        ("sqs", "multipart", "ObjectCreated:CompleteMultipartUpload", aws, "7"),
        ("sqs", "lifecycle-transition", "LifecycleTransition", aws, "7"),
        ("sqs-sns", "delete-marker", "ObjectRemoved:DeleteMarkerCreated", aws, "-"),
        ("eventbridge", "restore", "ObjectRestore:Completed", key, "7"),
        ("eventbridge", "tagging-delete", "ObjectTagging:Delete", key, "-"),
        ("eventbridge-sqs", "tagging", "ObjectTagging:Put", key, "-"),
        ("minio", "post", "ObjectCreated:Post", minio, "7"),
        ("minio", "delete", "ObjectRemoved:Delete", minio, "-"),
    ];
    for (via, action, event_name, raw, size) in cases {
        let what = format!("{action} via {via}");
        let (payload, _) = event(&[
            action, "--bucket", "inbox", "--key", key, "--size", "7", "--via", via,
        ]);
        let outcomes = run(&config, &payload);
        assert_eq!(outcomes.len(), 1, "{what}: {outcomes:#?}");
        let outcome = &outcomes[0];
        assert_eq!(outcome["status"], "ok", "{what}: {outcome:#}");
        assert_eq!(outcome["plugin"], "echo", "{what}");
        assert_eq!(outcome["event"], event_name, "{what}");
        assert_eq!(outcome["key"], key, "{what}");
        assert_eq!(
            outcome["message"],
            format!("{event_name}|inbox|{key}|{raw}|{size}"),
            "{what}: the plugin sees the decoded key, and the raw key as the sender wrote it"
        );
        assert_eq!(
            outcome.get("message_id").is_some(),
            via.contains("sqs"),
            "{what}"
        );
    }
}

#[test]
fn sqs_with_three_events_and_a_duplicate_makes_four_messages() {
    let (payload, parsed) = event(&[
        "put",
        "--bucket",
        "inbox",
        "--key",
        "echo/a.txt",
        "--via",
        "sqs",
        "--count",
        "3",
        "--duplicate",
    ]);
    let messages = parsed["Records"].as_array().expect("a batch");
    assert_eq!(messages.len(), 4);
    let ids: HashSet<&str> = messages
        .iter()
        .map(|m| m["messageId"].as_str().expect("an id"))
        .collect();
    assert_eq!(ids.len(), 4, "each message has its own id");
    let sequencers = sqs_sequencers(&parsed);
    let distinct: HashSet<&String> = sequencers.iter().collect();
    assert_eq!(distinct.len(), 3, "one sequencer twice: {sequencers:?}");
    let mut sorted = sequencers.clone();
    sorted.sort();
    assert_eq!(
        sorted, sequencers,
        "in order, the duplicate after its original"
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let outcomes = run(&echo_config(dir.path(), "", ""), &payload);
    assert_eq!(outcomes.len(), 4, "{outcomes:#?}");
    let reported: HashSet<&str> = outcomes
        .iter()
        .map(|o| o["message_id"].as_str().expect("a message id"))
        .collect();
    assert_eq!(reported, ids);
    for outcome in &outcomes {
        assert_eq!(outcome["status"], "ok", "{outcome:#}");
        assert_eq!(
            outcome["message"],
            "ObjectCreated:Put|inbox|echo/a.txt|echo/a.txt|1024"
        );
    }
}

/// What a route with `skip_duplicates` does with each delivery: it runs on a sequencer
/// newer than any it processed, and skips the others.
fn expected_skips(sequencers: &[String]) -> Vec<&'static str> {
    let mut newest: Option<&String> = None;
    sequencers
        .iter()
        .map(|sequencer| match newest {
            Some(seen) if sequencer == seen => "duplicate",
            Some(seen) if sequencer < seen => "stale",
            _ => {
                newest = Some(sequencer);
                "processed"
            }
        })
        .collect()
}

#[test]
fn a_route_that_skips_duplicates_skips_the_repeated_and_the_late_deliveries() {
    let dir = tempfile::tempdir().expect("temp dir");
    // One call at a time, so that each delivery sees the markers of the ones before it.
    let config = echo_config(
        dir.path(),
        "[host]\nconcurrency = 1\nstate = \"s3plug-state/markers/\"\n",
        "skip_duplicates = true",
    );
    let cases: [&[&str]; 3] = [
        &["--count", "3", "--duplicate"],
        &["--count", "4", "--out-of-order", "--seed", "3"],
        &["--count", "4", "--shuffle", "--duplicate", "--seed", "11"],
    ];
    for options in cases {
        let args = [
            &[
                "put",
                "--bucket",
                "inbox",
                "--key",
                "echo/a.txt",
                "--via",
                "sqs",
            ],
            options,
        ]
        .concat();
        let (payload, parsed) = event(&args);
        let expected = expected_skips(&sqs_sequencers(&parsed));
        let outcomes = run(&config, &payload);
        let seen: Vec<&str> = outcomes
            .iter()
            .map(|o| {
                o["outcome"]
                    .as_str()
                    .expect("the plugin ran or was skipped")
            })
            .collect();
        assert_eq!(seen, expected, "{options:?}: {outcomes:#?}");
        let skipped = seen.iter().filter(|s| **s != "processed").count();
        assert!(skipped >= 1, "{options:?}: something to skip");
    }
}

#[test]
fn out_of_order_delivery_is_the_same_for_the_same_seed() {
    let order = |seed: &str| {
        let (_, parsed) = event(&[
            "put",
            "--bucket",
            "inbox",
            "--key",
            "echo/a.txt",
            "--via",
            "sqs",
            "--count",
            "5",
            "--out-of-order",
            "--seed",
            seed,
        ]);
        let sequencers = sqs_sequencers(&parsed);
        let mut sorted = sequencers.clone();
        sorted.sort();
        sequencers
            .iter()
            .map(|s| sorted.iter().position(|t| t == s).expect("present"))
            .collect::<Vec<usize>>()
    };
    let first = order("42");
    assert_ne!(first, (0..5).collect::<Vec<_>>(), "out of order");
    assert_eq!(order("42"), first, "reproducible across runs");
}

#[test]
fn deliveries_that_cannot_be_made_are_refused_with_exit_2() {
    let output = s3plug(
        &[
            "event",
            "put",
            "--bucket",
            "inbox",
            "--key",
            "a.txt",
            "--via",
            "eventbridge",
            "--count",
            "2",
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("eventbridge-sqs"),
        "{}",
        stderr(&output)
    );
    let output = s3plug(
        &[
            "event", "put", "--bucket", "inbox", "--key", "a.txt", "--count", "0",
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
}
