//! Loop guards: cycles refused at load, allowed ones stopped at `max_depth`, lineage the
//! plugins cannot forge, and the byte and key guards.

use s3plug_host::Config;
use s3plug_host::outcome::{FailureKind, RecordOutcome, Status};
use s3plug_tests::{Harness, RawRecord, TESTGUEST, outcome_of, s3_event};

fn metadata(h: &Harness, key: &str) -> Vec<(String, String)> {
    h.store
        .head("loop", key)
        .unwrap_or_else(|err| panic!("{key}: {err}"))
        .metadata
}

fn meta<'a>(metadata: &'a [(String, String)], name: &str) -> Option<&'a str> {
    metadata
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Plays S3's part: every object the plugins write becomes the next event, until no plugin
/// writes. Returns the outcomes of every hop.
fn run_until_quiet(h: &Harness, first_key: &str) -> Vec<Vec<RecordOutcome>> {
    let mut hops = Vec::new();
    let mut pending = vec![first_key.to_owned()];
    while !pending.is_empty() && hops.len() < 20 {
        let before = h.store.keys();
        let records: Vec<_> = pending.iter().map(|k| RawRecord::put("loop", k)).collect();
        hops.push(h.run(&s3_event(&records)));
        pending = h
            .store
            .keys()
            .into_iter()
            .filter(|k| !before.contains(k))
            .map(|(_, key)| key)
            .collect();
    }
    hops
}

/// Plugin `a` on `loop/a/` writes to `loop/b/`, and `b` on `loop/b/` back to `loop/a/`.
pub(crate) fn chain(max_depth_a: Option<u32>, max_depth_b: Option<u32>) -> String {
    let depth = |d: Option<u32>| d.map(|d| format!("max_depth = {d}")).unwrap_or_default();
    format!(
        r#"
[[plugin]]
name = "a"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "loop", prefix = "a/" }}
write = ["loop/b/"]
config = {{ mode = "ok", out_prefix = "b/" }}
{}

[[plugin]]
name = "b"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "loop", prefix = "b/" }}
write = ["loop/a/"]
config = {{ mode = "ok", out_prefix = "a/" }}
{}
"#,
        depth(max_depth_a),
        depth(max_depth_b)
    )
}

#[test]
fn a_cycle_without_max_depth_on_every_plugin_is_refused() {
    for (a, b, missing) in [(None, None, "(a, b)"), (Some(2), None, "(b)")] {
        let err = Config::parse(&chain(a, b), "s3plug.toml", std::path::Path::new("/"))
            .expect_err("a cycle")
            .to_string();
        assert!(
            err.contains(
                "write loop: a writes loop/b/ → triggers b → b writes loop/a/ → triggers a"
            ),
            "{err}"
        );
        assert!(err.contains(missing), "{err}");
    }
}

#[test]
fn an_allowed_two_plugin_cycle_stops_at_max_depth() {
    let h = Harness::new(&chain(Some(3), Some(3)));
    h.put("loop", "a/x", b"payload");
    let hops = run_until_quiet(&h, "a/x");
    // a (depth 0) → b (1) → a (2) → b at depth 3: stopped.
    assert_eq!(hops.len(), 4, "{hops:#?}");
    for hop in &hops[..3] {
        assert_eq!(hop[0].status, Status::Ok, "{hop:#?}");
    }
    let stopped = &hops[3][0];
    assert_eq!(stopped.status, Status::LoopStopped, "{stopped:#?}");
    assert_eq!(stopped.plugin.as_deref(), Some("b"));
    assert!(
        stopped
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("3 s3plug writes deep, max_depth = 3"),
        "{stopped:#?}"
    );
    assert_eq!(
        stopped.error, None,
        "a loop stop is a decision, not a failure"
    );

    let third = metadata(&h, "b/a/b/a/x");
    assert_eq!(meta(&third, "s3plug-depth"), Some("3"));
    assert_eq!(meta(&third, "s3plug-origin"), Some("a"));
    let first = metadata(&h, "b/a/x");
    assert_eq!(meta(&first, "s3plug-depth"), Some("1"));
    assert_eq!(
        meta(&third, "s3plug-request"),
        meta(&first, "s3plug-request"),
        "the chain keeps its first request"
    );
}

#[test]
fn max_depth_one_writes_once_and_never_reacts_to_its_own_output() {
    let h = Harness::new(&format!(
        r#"
[[plugin]]
name = "self"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "loop" }}
write = ["loop/out/"]
max_depth = 1
config = {{ mode = "ok", out_prefix = "out/" }}
"#
    ));
    h.put("loop", "photo.jpg", b"payload");
    let hops = run_until_quiet(&h, "photo.jpg");
    assert_eq!(hops.len(), 2, "{hops:#?}");
    assert_eq!(hops[0][0].status, Status::Ok);
    assert_eq!(hops[1][0].status, Status::LoopStopped);
    assert_eq!(h.store.keys().len(), 2, "one write: {:?}", h.store.keys());
}

#[test]
fn a_write_onto_its_own_trigger_is_denied_at_run_time_without_max_depth() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = format!(
        r#"
[[plugin]]
name = "guest"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "loop", prefix = "self-write/" }}
write = ["loop/out/"]
"#
    );
    let mut config = Config::parse(&text, "s3plug.toml", dir.path()).expect("valid");
    // A grant the load-time check would have refused: the run-time guard still holds.
    config.plugins[0]
        .grants
        .write
        .push("loop/".parse().expect("a grant"));
    let h = Harness::from_config(dir, &config);
    h.put("loop", "self-write/x", b"x");
    let outcomes = h.run(&s3_event(&[RawRecord::put("loop", "self-write/x")]));
    let outcome = outcome_of(&outcomes, 0, "guest");
    assert_eq!(outcome.reason, Some(FailureKind::Denied), "{outcome:#?}");
    assert!(
        outcome
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("would trigger this plugin again"),
        "{outcome:#?}"
    );
    assert!(h.store.bytes("loop", "self-write/x.again").is_none());
}

fn guest(extra: &str) -> Harness {
    Harness::new(&format!(
        r#"
[[plugin]]
name = "guest"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "loop", prefix = "in/" }}
write = ["loop/out/"]
{extra}
"#
    ))
}

#[test]
fn plugins_cannot_forge_their_lineage() {
    let h = guest(r#"config = { mode = "forge" }"#);
    h.put("loop", "in/x", b"x");
    let outcomes = h.run(&s3_event(&[RawRecord::put("loop", "in/x")]));
    assert_eq!(
        outcome_of(&outcomes, 0, "guest").status,
        Status::Ok,
        "{outcomes:#?}"
    );
    let written = metadata(&h, "out/in/x");
    assert_eq!(meta(&written, "s3plug-depth"), Some("1"), "{written:?}");
    assert_eq!(
        meta(&written, "s3plug-origin"),
        Some("guest"),
        "{written:?}"
    );
    assert_eq!(
        written
            .iter()
            .filter(|(k, _)| k.starts_with("s3plug-"))
            .count(),
        3,
        "{written:?}"
    );
}

#[test]
fn a_write_byte_bomb_stops_at_max_write_bytes_and_leaves_nothing() {
    let h = guest(
        r#"limits = { max_write_bytes = "1MiB" }
config = { mode = "write-bytes" }"#,
    );
    h.put("loop", "in/x", b"x");
    let outcomes = h.run(&s3_event(&[RawRecord::put("loop", "in/x")]));
    let outcome = outcome_of(&outcomes, 0, "guest");
    assert_eq!(
        outcome.reason,
        Some(FailureKind::LimitExceeded),
        "{outcome:#?}"
    );
    assert!(
        outcome
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("max_write_bytes (1048576)"),
        "{outcome:#?}"
    );
    assert!(
        h.store.bytes("loop", "out/in/x").is_none(),
        "the aborted write left an object"
    );
}

#[test]
fn a_key_with_a_dotdot_segment_is_refused() {
    let h = guest(r#"config = { mode = "dotdot" }"#);
    h.put("loop", "in/x", b"x");
    let outcomes = h.run(&s3_event(&[RawRecord::put("loop", "in/x")]));
    let outcome = outcome_of(&outcomes, 0, "guest");
    assert_eq!(outcome.status, Status::Failed);
    let error = outcome.error.as_deref().unwrap_or_default();
    assert!(
        error.contains("invalid bucket or key") && error.contains("\"..\" path segment"),
        "{error}"
    );
    assert_eq!(
        h.store.keys().len(),
        1,
        "nothing written: {:?}",
        h.store.keys()
    );
}

#[test]
fn duplicate_and_stale_deliveries_are_skipped_when_the_route_asks() {
    let h = Harness::new(&format!(
        r#"
[host]
state = "s3plug-state/markers/"

[[plugin]]
name = "guest"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "loop", prefix = "echo/" }}
skip_duplicates = true
"#
    ));
    let delivery = |sequencer: &str| {
        let mut event = s3_event(&[RawRecord::put("loop", "echo/x")]);
        event["Records"][0]["s3"]["object"]["sequencer"] = sequencer.into();
        // A redelivery is the same notification: one change, at one time.
        event["Records"][0]["eventTime"] = "2026-12-01T10:00:00.000Z".into();
        let outcomes = h.run(&event);
        let outcome = outcome_of(&outcomes, 0, "guest");
        assert_eq!(outcome.status, Status::Ok, "{outcome:#?}");
        outcome.outcome.unwrap_or_default()
    };
    assert_eq!(delivery("0055AED6DCD90281E5"), "processed");
    assert_eq!(delivery("0055AED6DCD90281E5"), "duplicate");
    assert_eq!(delivery("0055AED6DCD90281E4"), "stale");
    // A shorter sequencer compares after right-padding with zeros: newer here.
    assert_eq!(delivery("0055AED6DCD90282"), "processed");
    assert!(
        h.store
            .keys()
            .iter()
            .any(|(bucket, key)| bucket == "s3plug-state" && key.starts_with("markers/guest/"))
    );
}

#[test]
fn the_host_state_location_may_not_trigger_a_plugin() {
    let text = format!(
        "[host]\nstate = \"loop/state/\"\n\n[[plugin]]\nname = \"guest\"\nwasm = \"{TESTGUEST}\"\ntrigger = {{ bucket = \"loop\" }}\nskip_duplicates = true\n"
    );
    let err = Config::parse(&text, "s3plug.toml", std::path::Path::new("/"))
        .expect_err("state triggers")
        .to_string();
    assert!(
        err.contains("host.state") && err.contains("would trigger plugin \"guest\""),
        "{err}"
    );
    let missing = text.replace("[host]\nstate = \"loop/state/\"\n", "");
    let err = Config::parse(&missing, "s3plug.toml", std::path::Path::new("/"))
        .expect_err("no state")
        .to_string();
    assert!(
        err.contains("skip_duplicates") && err.contains("[host] state"),
        "{err}"
    );
}
