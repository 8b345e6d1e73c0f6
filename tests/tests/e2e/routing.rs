//! Routes, the test event, and what plugins can ask of the host.

use s3plug_host::outcome::{FailureKind, Status};
use s3plug_tests::{Harness, RawRecord, TESTGUEST, outcome_of, s3_event};
use serde_json::json;

fn two_plugins() -> Harness {
    Harness::new(&format!(
        r#"
[[plugin]]
name = "first"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "inbox", prefix = "echo/" }}

[[plugin]]
name = "txt-only"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "inbox", suffix = ".txt", events = ["s3:ObjectCreated:Put"] }}

[[plugin]]
name = "settings"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "inbox", prefix = "config/" }}
config = {{ colour = "blue", size = 3, on = true }}
"#
    ))
}

#[test]
fn every_matching_plugin_runs_in_config_order() {
    let h = two_plugins();
    let outcomes = h.run(&s3_event(&[RawRecord::put("inbox", "echo/a.txt")]));
    let plugins: Vec<_> = outcomes.iter().map(|o| o.plugin.as_deref()).collect();
    assert_eq!(plugins, vec![Some("first"), Some("txt-only")]);
    assert!(
        outcomes.iter().all(|o| o.status == Status::Ok),
        "{outcomes:#?}"
    );
}

#[test]
fn event_types_filter_routes() {
    let h = two_plugins();
    let copy = RawRecord {
        event_name: "ObjectCreated:Copy",
        ..RawRecord::put("inbox", "echo/a.txt")
    };
    let outcomes = h.run(&s3_event(&[copy]));
    let plugins: Vec<_> = outcomes.iter().map(|o| o.plugin.as_deref()).collect();
    assert_eq!(
        plugins,
        vec![Some("first")],
        "txt-only takes Put events only"
    );
}

#[test]
fn a_record_no_route_matches_is_unrouted_not_failed() {
    let h = two_plugins();
    let outcomes = h.run(&s3_event(&[
        RawRecord::put("inbox", "elsewhere/a.bin"),
        RawRecord::put("other-bucket", "echo/a"),
    ]));
    assert_eq!(outcomes.len(), 2);
    for outcome in &outcomes {
        assert_eq!(outcome.status, Status::Unrouted, "{outcome:#?}");
        assert_eq!(outcome.plugin, None);
        assert_eq!(outcome.error, None);
    }
    assert_eq!(outcomes[0].key.as_deref(), Some("elsewhere/a.bin"));
}

#[test]
fn the_s3_test_event_is_ignored() {
    let h = two_plugins();
    let outcomes = h.run(&json!({
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": "2026-11-26T08:00:00.000Z",
        "Bucket": "inbox",
        "RequestId": "5582815E1AEA5ADF",
        "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR"
    }));
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].status, Status::Ignored);
}

#[test]
fn a_record_without_a_key_fails_alone() {
    let h = two_plugins();
    let mut event = s3_event(&[
        RawRecord::put("inbox", "echo/a"),
        RawRecord::put("inbox", "echo/b"),
    ]);
    event["Records"][0]["s3"]["object"]
        .as_object_mut()
        .map(|o| o.remove("key"));
    let outcomes = h.run(&event);
    assert_eq!(outcomes[0].status, Status::Failed);
    assert_eq!(outcomes[0].reason, Some(FailureKind::InvalidEvent));
    assert!(
        outcomes[0]
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("s3.object.key")
    );
    assert_eq!(outcome_of(&outcomes, 1, "first").status, Status::Ok);
}

#[test]
fn plugins_read_their_own_config() {
    let h = two_plugins();
    let outcomes = h.run(&s3_event(&[RawRecord::put("inbox", "config/x")]));
    let outcome = outcome_of(&outcomes, 0, "settings");
    assert_eq!(
        outcome.message.as_deref(),
        Some("colour=blue;on=true;size=3"),
        "{outcome:#?}"
    );
}

#[test]
fn plugins_can_skip_head_and_read_ranges_of_their_trigger() {
    let h = Harness::new(&format!(
        r#"
[[plugin]]
name = "guest"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "inbox" }}
"#
    ));
    h.put("inbox", "range/x", b"0123456789");
    h.put("inbox", "head/x", b"0123456789");
    let outcomes = h.run(&s3_event(&[
        RawRecord::put("inbox", "skip/x"),
        RawRecord::put("inbox", "range/x"),
        RawRecord::put("inbox", "head/x"),
    ]));
    let skip = outcome_of(&outcomes, 0, "guest");
    assert_eq!((skip.status, skip.outcome), (Status::Ok, Some("skipped")));
    assert_eq!(skip.message.as_deref(), Some("not interested"));
    assert_eq!(
        outcome_of(&outcomes, 1, "guest").message.as_deref(),
        Some("2345")
    );
    assert_eq!(
        outcome_of(&outcomes, 2, "guest").message.as_deref(),
        Some("10|-")
    );
}

#[test]
fn reading_a_missing_trigger_object_is_not_found() {
    let h2 = Harness::new(&format!(
        r#"
[[plugin]]
name = "copy"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "inbox", prefix = "ok/" }}
write = ["inbox/out/"]
"#
    ));
    let outcomes = h2.run(&s3_event(&[RawRecord::put("inbox", "ok/never-stored")]));
    let outcome = outcome_of(&outcomes, 0, "copy");
    assert_eq!(
        outcome.reason,
        Some(FailureKind::PluginError),
        "{outcome:#?}"
    );
    assert!(
        outcome
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("no such bucket or object"),
        "{outcome:#?}"
    );
}
