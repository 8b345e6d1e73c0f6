//! Keys arrive URL-encoded, differently by sender; plugins see them decoded, routes match
//! them decoded.

use s3plug_host::outcome::Status;
use s3plug_tests::{Harness, RawRecord, TESTGUEST, outcome_of, s3_event};

fn echo_harness() -> Harness {
    Harness::new(&format!(
        r#"
[[plugin]]
name = "echo"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "inbox", prefix = "echo/", events = ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"] }}
write = ["inbox/out/"]
"#
    ))
}

#[test]
fn tricky_keys_reach_the_plugin_decoded() {
    let h = echo_harness();
    let cases = [
        ("echo/my+photo.jpg", "echo/my photo.jpg"),
        ("echo/a%2Bb.jpg", "echo/a+b.jpg"),
        ("echo/100%25+sure.txt", "echo/100% sure.txt"),
        ("echo/caf%C3%A9+%E2%98%83.txt", "echo/café ☃.txt"),
        // MinIO and moto encode the slash; the route's prefix still matches.
        ("echo%2Fminio%2Fnested.txt", "echo/minio/nested.txt"),
    ];
    let records: Vec<_> = cases
        .iter()
        .map(|(raw, _)| RawRecord::put("inbox", raw))
        .collect();
    let outcomes = h.run(&s3_event(&records));
    assert_eq!(outcomes.len(), cases.len(), "{outcomes:#?}");
    for (index, (raw, decoded)) in cases.iter().enumerate() {
        let outcome = outcome_of(&outcomes, index, "echo");
        assert_eq!(outcome.status, Status::Ok, "{outcome:#?}");
        assert_eq!(outcome.key.as_deref(), Some(*decoded));
        assert_eq!(
            outcome.message.as_deref(),
            Some(format!("ObjectCreated:Put|inbox|{decoded}|{raw}|1").as_str()),
            "the plugin sees the decoded key and the raw key"
        );
    }
}

#[test]
fn objects_with_tricky_keys_are_read_and_written_by_their_decoded_key() {
    let h = Harness::new(&format!(
        r#"
[[plugin]]
name = "copy"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "inbox", prefix = "ok/" }}
write = ["inbox/out/"]
"#
    ));
    h.put("inbox", "ok/my photo+1 é.txt", b"tricky");
    let outcomes = h.run(&s3_event(&[RawRecord::put(
        "inbox",
        "ok/my+photo%2B1+%C3%A9.txt",
    )]));
    assert_eq!(
        outcome_of(&outcomes, 0, "copy").status,
        Status::Ok,
        "{outcomes:#?}"
    );
    assert_eq!(
        h.store.bytes("inbox", "out/ok/my photo+1 é.txt").as_deref(),
        Some(&b"tricky"[..])
    );
}

#[test]
fn delete_events_reach_plugins_that_ask_for_them() {
    let h = echo_harness();
    let delete = RawRecord {
        bucket: "inbox",
        raw_key: "echo/gone.txt",
        event_name: "ObjectRemoved:Delete",
        size: None,
    };
    let outcomes = h.run(&s3_event(&[delete]));
    let outcome = outcome_of(&outcomes, 0, "echo");
    assert_eq!(outcome.status, Status::Ok, "{outcome:#?}");
    assert_eq!(
        outcome.message.as_deref(),
        Some("ObjectRemoved:Delete|inbox|echo/gone.txt|echo/gone.txt|-")
    );
}

#[test]
fn a_key_that_is_not_utf8_fails_its_record_only() {
    let h = echo_harness();
    let outcomes = h.run(&s3_event(&[
        RawRecord::put("inbox", "echo/bad%FF"),
        RawRecord::put("inbox", "echo/good"),
    ]));
    assert_eq!(outcomes[0].status, Status::Failed, "{outcomes:#?}");
    assert!(
        outcomes[0]
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("echo/bad%FF")
    );
    assert_eq!(outcome_of(&outcomes, 1, "echo").status, Status::Ok);
}
