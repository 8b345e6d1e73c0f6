//! Parsing test files and checking expectations, without running a plugin.

use std::path::Path;
use std::time::Duration;

use super::capture::{Capture, Denial, LogLine, Seen};
use super::events::{EventInput, generated_bytes};
use super::expect::{
    CaseRun, Content, DenialExpectation, EventOutcome, Expectations, LogExpectation,
    ObjectExpectation, OutcomeExpectation, sha256_hex,
};
use super::inline_config::config_text;
use super::report::{CaseReport, Mismatch, Report};
use super::{TestFile, TestFileError};
use s3plug_host::config::ConfigError;
use s3plug_host::outcome::{FailureKind, RecordOutcome, Status, UsageReport};
use s3plug_host::store::{MemoryStore, PutOptions, etag_of};

const PLUGIN: &str = r#"
[[plugin]]
name = "thumbnail"
wasm = "thumbnail.wasm"
trigger = { bucket = "photos", prefix = "in/" }
write = ["photos-thumbs/"]
config = { target_bucket = "photos-thumbs" }
"#;

fn parse(text: &str) -> Result<TestFile, TestFileError> {
    TestFile::parse(text, "t.test.toml", Path::new("."))
}

fn parsed(text: &str) -> TestFile {
    parse(text).unwrap_or_else(|err| panic!("refused: {err}"))
}

/// The line and message of an `Invalid` or `Syntax` error.
fn error_line(text: &str) -> (usize, String) {
    match parse(text) {
        Err(TestFileError::Invalid { line, message, .. })
        | Err(TestFileError::Syntax { line, message, .. }) => (line, message),
        Err(TestFileError::Config(ConfigError::Syntax { line, message, .. })) => (line, message),
        other => panic!("expected an error with a line, got {other:?}"),
    }
}

/// The line of `needle` in `text`, from 1.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|line| line.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not in the text"))
        + 1
}

#[test]
fn a_full_file_parses_into_seeds_cases_and_expectations() {
    let text = format!(
        r#"{PLUGIN}
[[object]]
bucket = "photos"
key = "in/a.txt"
text = "hello"
content_type = "text/plain"
metadata = {{ Owner = "me" }}

[[object]]
bucket = "photos"
key = "in/noise.bin"
bytes = 100

[[case]]
name = "text is skipped"
events = ["put photos/in/a.txt", {{ action = "delete", bucket = "photos", key = "in/a.txt" }}]

  [[case.outcome]]
  event = 0
  plugin = "thumbnail"
  status = "ok"
  outcome = "skipped"
  message_contains = "not a JPEG"

  [[case.object]]
  bucket = "photos-thumbs"
  key = "thumbnails/in/a.txt"
  exists = false

  [[case.denial]]
  count = 0

  [[case.log]]
  contains = "resized"
  level = "info"
  count = 0

[[case]]
name = "two records in one event, then S3's test event"
follow_writes = true
events = [
  {{ records = ["put photos/in/a.txt", {{ action = "put", bucket = "photos", key = "in/b.txt", text = "b" }}] }},
  {{ json = '''
{{ "Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "photos" }}
''' }},
]
"#
    );
    let file = parsed(&text);
    assert_eq!(file.config.plugins[0].name, "thumbnail");
    assert_eq!(file.seeds.len(), 2);
    assert_eq!(&*file.seeds[0].body.bytes, b"hello");
    assert_eq!(
        file.seeds[0].body.content_type.as_deref(),
        Some("text/plain")
    );
    assert_eq!(file.seeds[1].body.bytes.len(), 100);
    assert_eq!(file.cases.len(), 2);

    let first = &file.cases[0];
    assert_eq!(first.name, "text is skipped");
    assert_eq!(first.line, line_of(&text, "name = \"text is skipped\"") - 1);
    assert_eq!(first.events.len(), 2);
    assert!(!first.follow_writes);
    let outcome = &first.expect.outcomes[0];
    assert_eq!(outcome.line, line_of(&text, "[[case.outcome]]"));
    assert_eq!(outcome.status.as_deref(), Some("ok"));
    assert_eq!(outcome.message_contains.as_deref(), Some("not a JPEG"));
    assert!(!first.expect.objects[0].exists);
    assert_eq!(first.expect.denials[0].count, Some(0));
    assert_eq!(first.expect.logs[0].contains, "resized");

    let second = &file.cases[1];
    assert!(second.follow_writes);
    match &second.events[0] {
        EventInput::Records(records) => {
            assert_eq!(records.len(), 2);
            assert_eq!(records[1].key, "in/b.txt");
            assert!(records[1].body.is_some());
        }
        other => panic!("not shorthand: {other:?}"),
    }
    assert!(matches!(second.events[1], EventInput::Json(_)));
}

#[test]
fn inline_plugin_errors_name_the_test_files_line() {
    let text = format!(
        "[[object]]\nbucket = \"photos\"\nkey = \"a\"\ntext = \"x\"\n{PLUGIN}limitz = {{}}\n\n[[case]]\nname = \"c\"\nevents = [\"put photos/in/a\"]\n"
    );
    let (line, message) = error_line(&text);
    assert_eq!(line, line_of(&text, "limitz"));
    assert!(message.contains("limitz"), "{message}");
}

#[test]
fn config_text_keeps_plugin_and_host_tables_on_their_lines() {
    let text = "config_note = 1\n[host]\nconcurrency = 2\n[[object]]\ntext = '''\n[[plugin]]\nname = \"fake\"\n'''\n[[plugin]]\nname = \"a\"\nread = [\n  \"x/\",\n]\n[plugin.limits]\ntimeout_ms = 5\n[[case]]\nname = \"c\"\n";
    let kept = config_text(text);
    assert_eq!(kept.lines().count(), text.lines().count());
    let lines: Vec<&str> = kept.lines().collect();
    assert_eq!(lines[0], "");
    assert_eq!(lines[1], "[host]");
    assert_eq!(lines[2], "concurrency = 2");
    assert!(lines[3..8].iter().all(|l| l.is_empty()), "{lines:?}");
    assert_eq!(lines[8], "[[plugin]]");
    assert_eq!(lines[11], "  \"x/\",");
    assert_eq!(lines[14], "timeout_ms = 5");
    assert_eq!(lines[15], "");
    assert_eq!(lines[16], "");
}

#[test]
fn unknown_keys_and_bad_values_are_errors_with_lines() {
    let case = "\n[[case]]\nname = \"c\"\nevents = [\"put photos/in/a.txt\"]\n";
    let unknown = format!("{PLUGIN}{case}[[case.outcome]]\nstatuss = \"ok\"\n");
    let (line, message) = error_line(&unknown);
    assert_eq!(line, line_of(&unknown, "statuss"));
    assert!(message.contains("statuss"), "{message}");

    let bad_status = format!("{PLUGIN}{case}[[case.outcome]]\nstatus = \"okay\"\n");
    let (line, message) = error_line(&bad_status);
    assert_eq!(line, line_of(&bad_status, "[[case.outcome]]"));
    assert!(
        message.contains("\"okay\"") && message.contains("\"loop-stopped\""),
        "{message}"
    );

    let two_bodies = format!(
        "{PLUGIN}\n[[object]]\nbucket = \"photos\"\nkey = \"a\"\ntext = \"x\"\nbytes = 3\n{case}"
    );
    let (line, message) = error_line(&two_bodies);
    assert_eq!(line, line_of(&two_bodies, "[[object]]"));
    assert!(message.contains("one of text, file and bytes"), "{message}");

    let no_body = format!("{PLUGIN}\n[[object]]\nbucket = \"photos\"\nkey = \"a\"\n{case}");
    assert!(error_line(&no_body).1.contains("text, file or bytes"));

    let unknown_plugin =
        format!("{PLUGIN}{case}[[case.log]]\ncontains = \"x\"\nplugin = \"thumb\"\n");
    let (line, message) = error_line(&unknown_plugin);
    assert_eq!(line, line_of(&unknown_plugin, "[[case.log]]"));
    assert!(
        message.contains("\"thumb\"") && message.contains("\"thumbnail\""),
        "{message}"
    );

    let bad_action = format!("{PLUGIN}\n[[case]]\nname = \"c\"\nevents = [\"upload photos/a\"]\n");
    let (line, message) = error_line(&bad_action);
    assert_eq!(line, line_of(&bad_action, "events"));
    assert!(
        message.contains("unknown action \"upload\"") && message.contains("\"put\""),
        "{message}"
    );

    let two_forms = format!(
        "{PLUGIN}\n[[case]]\nname = \"c\"\nevents = [{{ action = \"put\", bucket = \"photos\", key = \"a\", json = \"{{}}\" }}]\n"
    );
    assert!(error_line(&two_forms).1.contains("give one of action"));

    let missing_event_file = format!(
        "{PLUGIN}\n[[case]]\nname = \"c\"\nevents = [{{ event = \"no-such-event.json\" }}]\n"
    );
    assert!(
        error_line(&missing_event_file)
            .1
            .contains("no-such-event.json")
    );

    let bad_key = format!("{PLUGIN}\n[[case]]\nname = \"c\"\nevents = [\"put photos/a/../b\"]\n");
    assert!(error_line(&bad_key).1.contains("\"..\""));

    let absent_with_checks = format!(
        "{PLUGIN}{case}[[case.object]]\nbucket = \"photos\"\nkey = \"a\"\nexists = false\nsize = 3\n"
    );
    assert!(error_line(&absent_with_checks).1.contains("exists = false"));

    let duplicate = format!("{PLUGIN}{case}{case}");
    let (line, message) = error_line(&duplicate);
    assert_eq!(
        line,
        duplicate
            .match_indices("[[case]]")
            .nth(1)
            .map(|(i, _)| duplicate[..i].lines().count() + 1)
            .unwrap_or(0)
    );
    assert!(message.contains("another case"), "{message}");
}

#[test]
fn a_file_needs_plugins_from_one_place_and_cases() {
    let case = "\n[[case]]\nname = \"c\"\nevents = [\"put photos/in/a.txt\"]\n";
    assert!(error_line(case).1.contains("no plugins"));
    let both = format!("config = \"s3plug.toml\"\n{PLUGIN}{case}");
    let (line, message) = error_line(&both);
    assert_eq!(line, 1);
    assert!(message.contains("not both"), "{message}");
    assert!(error_line(PLUGIN).1.contains("no [[case]]"));
    match parse(&format!("config = \"no-such-config.toml\"\n{case}")) {
        Err(TestFileError::Config(ConfigError::Read { path, .. })) => {
            assert!(path.ends_with("no-such-config.toml"))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn generated_bytes_are_the_same_everywhere() {
    let bytes = generated_bytes(20);
    assert_eq!(bytes.len(), 20);
    // SplitMix64 from state 0: the first output is 0xE220A8397B1DCDAF.
    assert_eq!(bytes[..8], 0xE220_A839_7B1D_CDAF_u64.to_le_bytes());
    assert_eq!(generated_bytes(9)[..], bytes[..9]);
    assert!(generated_bytes(0).is_empty());
}

#[test]
fn shorthand_events_do_what_s3_did_before_sending_them() {
    let file = parsed(&format!(
        "{PLUGIN}\n[[case]]\nname = \"c\"\nevents = [{{ action = \"put\", bucket = \"photos\", key = \"in/my photo.txt\", text = \"hello\", content_type = \"text/plain\" }}, \"delete photos/in/my photo.txt\"]\n"
    ));
    let store = MemoryStore::new();
    let events = &file.cases[0].events;
    let put = events[0].notification(&store).expect("made");
    let record = &put["Records"][0];
    assert_eq!(record["eventName"], "ObjectCreated:Put");
    assert_eq!(record["s3"]["object"]["key"], "in/my+photo.txt");
    assert_eq!(record["s3"]["object"]["size"], 5);
    assert_eq!(record["s3"]["object"]["eTag"], etag_of(b"hello"));
    let info = store.head("photos", "in/my photo.txt").expect("stored");
    assert_eq!(info.content_type.as_deref(), Some("text/plain"));

    let delete = events[1].notification(&store).expect("made");
    assert_eq!(delete["Records"][0]["eventName"], "ObjectRemoved:Delete");
    assert!(
        store.head("photos", "in/my photo.txt").is_err(),
        "deleted first"
    );
}

fn outcome(record: usize, plugin: &str, status: Status) -> RecordOutcome {
    RecordOutcome {
        record,
        message_id: None,
        bucket: Some("photos".into()),
        key: Some("in/a.jpg".into()),
        event: Some("ObjectCreated:Put".into()),
        plugin: Some(plugin.into()),
        status,
        outcome: (status == Status::Ok).then_some("processed"),
        message: Some("wrote photos-thumbs/thumbnails/in/a.jpg 200x150".into()),
        error: (status == Status::Failed).then(|| "plugin-error: boom".into()),
        reason: (status == Status::Failed).then_some(FailureKind::PluginError),
        duration_ms: 1.0,
        usage: Some(UsageReport {
            writes: 1,
            bytes_read: 10,
            bytes_written: 5,
            denials: 0,
            logs_dropped: 0,
        }),
    }
}

fn run_of(outcomes: Vec<RecordOutcome>) -> CaseRun {
    CaseRun {
        outcomes: outcomes
            .into_iter()
            .map(|outcome| EventOutcome { event: 0, outcome })
            .collect(),
        ..CaseRun::default()
    }
}

fn only(mismatches: &[Mismatch]) -> &Mismatch {
    assert_eq!(mismatches.len(), 1, "{mismatches:#?}");
    &mismatches[0]
}

#[test]
fn outcome_mismatches_name_the_field_expected_and_actual() {
    let run = run_of(vec![outcome(0, "thumbnail", Status::Ok)]);
    let expect = Expectations {
        outcomes: vec![OutcomeExpectation {
            line: 7,
            plugin: Some("thumbnail".into()),
            status: Some("ok".into()),
            message: Some("wrote photos-thumbs/thumbnails/in/a.jpg 100x75".into()),
            writes: Some(1),
            ..OutcomeExpectation::default()
        }],
        ..Expectations::default()
    };
    let mismatch = only(&expect.check(&run)).clone();
    assert_eq!(mismatch.line, Some(7));
    assert_eq!(
        mismatch.subject,
        "outcome of event 0, record 0 (photos/in/a.jpg), plugin \"thumbnail\""
    );
    assert_eq!(mismatch.field, "message");
    assert_eq!(
        mismatch.expected,
        "\"wrote photos-thumbs/thumbnails/in/a.jpg 100x75\""
    );
    assert_eq!(
        mismatch.actual,
        "\"wrote photos-thumbs/thumbnails/in/a.jpg 200x150\""
    );

    let failed = run_of(vec![outcome(0, "thumbnail", Status::Failed)]);
    let expect = Expectations {
        outcomes: vec![OutcomeExpectation {
            status: Some("ok".into()),
            error_contains: Some("denied".into()),
            ..OutcomeExpectation::default()
        }],
        ..Expectations::default()
    };
    let found = expect.check(&failed);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!(found[0].field, "status");
    assert_eq!(found[0].actual, "\"failed\" (plugin-error: boom)");
    assert_eq!(found[1].field, "error");
    assert_eq!(found[1].expected, "containing \"denied\"");
}

#[test]
fn every_outcome_selector_must_match_and_failures_must_be_expected() {
    let run = run_of(vec![
        outcome(0, "thumbnail", Status::Ok),
        outcome(1, "thumbnail", Status::Failed),
    ]);
    let expect = Expectations {
        outcomes: vec![OutcomeExpectation {
            line: 3,
            record: Some(2),
            ..OutcomeExpectation::default()
        }],
        ..Expectations::default()
    };
    let found = expect.check(&run);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!(found[0].subject, "outcome (record 2)");
    assert_eq!(found[0].expected, "an outcome");
    assert!(
        found[0]
            .actual
            .starts_with("none; the outcomes were: outcome of event 0, record 0"),
        "{}",
        found[0].actual
    );
    assert_eq!(found[1].line, None);
    assert!(
        found[1].subject.contains("record 1"),
        "{}",
        found[1].subject
    );
    assert!(found[1].expected.starts_with("not failed"));

    // Selecting the failure with an expectation that accepts it passes the case.
    let expect = Expectations {
        outcomes: vec![OutcomeExpectation {
            record: Some(1),
            status: Some("failed".into()),
            reason: Some("plugin-error".into()),
            ..OutcomeExpectation::default()
        }],
        ..Expectations::default()
    };
    assert_eq!(expect.check(&run), vec![]);
}

fn object_check(store: &MemoryStore, expectation: ObjectExpectation) -> Vec<Mismatch> {
    let run = CaseRun {
        store: store.clone(),
        ..CaseRun::default()
    };
    Expectations {
        objects: vec![expectation],
        ..Expectations::default()
    }
    .check(&run)
}

#[test]
fn object_mismatches_compare_field_by_field() {
    let store = MemoryStore::new();
    let options = PutOptions {
        content_type: Some("image/jpeg".into()),
        metadata: vec![("source".into(), "photos/in/a.jpg".into())],
    };
    store
        .put(
            "photos-thumbs",
            "t/a.jpg",
            b"line one\nline two\n",
            &options,
        )
        .expect("stored");
    let base = ObjectExpectation {
        line: 9,
        bucket: "photos-thumbs".into(),
        key: "t/a.jpg".into(),
        exists: true,
        ..ObjectExpectation::default()
    };
    assert_eq!(object_check(&store, base.clone()), vec![]);

    let found = object_check(
        &store,
        ObjectExpectation {
            content_type: Some("image/png".into()),
            size: Some(18),
            metadata: [("source".to_owned(), "photos/in/b.jpg".to_owned())].into(),
            sha256: Some(sha256_hex(b"line one\nline two\n")),
            content: Some(Content::Text("line one\nline 2\n".into())),
            ..base.clone()
        },
    );
    let fields: Vec<&str> = found.iter().map(|m| m.field.as_str()).collect();
    assert_eq!(
        fields,
        ["content_type", "metadata.source", "text"],
        "{found:#?}"
    );
    assert_eq!(found[0].subject, "object photos-thumbs/t/a.jpg");
    assert_eq!(found[0].expected, "\"image/png\"");
    assert_eq!(found[0].actual, "\"image/jpeg\"");
    assert_eq!(found[2].expected, "line 2: \"line 2\" (of 3)");
    assert_eq!(found[2].actual, "line 2: \"line two\" (of 3)");

    let bytes = object_check(
        &store,
        ObjectExpectation {
            content: Some(Content::File {
                name: "expected.bin".into(),
                bytes: b"line one\nline TWO\n".to_vec(),
            }),
            ..base.clone()
        },
    );
    assert!(
        only(&bytes).actual.ends_with("first difference at byte 14"),
        "{bytes:#?}"
    );

    let missing = object_check(
        &store,
        ObjectExpectation {
            key: "t/b.jpg".into(),
            ..base.clone()
        },
    );
    assert_eq!(only(&missing).field, "exists");
    assert_eq!(
        only(&missing).actual,
        "none; bucket \"photos-thumbs\" holds: t/a.jpg"
    );

    let unwanted = object_check(
        &store,
        ObjectExpectation {
            exists: false,
            ..base
        },
    );
    assert_eq!(only(&unwanted).expected, "no object");
    assert_eq!(only(&unwanted).actual, "an object of 18 bytes");
}

#[test]
fn denials_and_logs_are_counted() {
    let denial = Denial {
        plugin: "guest".into(),
        operation: "get".into(),
        bucket: "forbidden-bucket".into(),
        key: "secret.txt".into(),
        why: "plugin has no read grant for it".into(),
    };
    let line = LogLine {
        plugin: "guest".into(),
        level: "info".into(),
        message: "log flood line 0".into(),
    };
    let run = CaseRun {
        seen: Seen {
            logs: vec![line.clone(), line],
            denials: vec![denial],
        },
        ..CaseRun::default()
    };
    let expect = Expectations {
        denials: vec![
            DenialExpectation {
                operation: Some("get".into()),
                key: Some("secret.txt".into()),
                ..DenialExpectation::default()
            },
            DenialExpectation {
                line: 4,
                operation: Some("put".into()),
                count: Some(1),
                ..DenialExpectation::default()
            },
        ],
        logs: vec![
            LogExpectation {
                contains: "flood".into(),
                count: Some(2),
                ..LogExpectation::default()
            },
            LogExpectation {
                line: 5,
                contains: "flood".into(),
                level: Some("warn".into()),
                ..LogExpectation::default()
            },
        ],
        ..Expectations::default()
    };
    let found = expect.check(&run);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!(found[0].subject, "denials (operation \"put\")");
    assert_eq!(found[0].field, "count");
    assert_eq!(found[0].expected, "1");
    assert_eq!(
        found[0].actual,
        "0; the denials were: get forbidden-bucket/secret.txt (plugin \"guest\")"
    );
    assert_eq!(
        found[1].subject,
        "log lines containing \"flood\" at level warn"
    );
    assert_eq!(found[1].expected, "at least 1");
    assert!(
        found[1]
            .actual
            .starts_with("0; the lines were: [info] guest: log flood line 0")
    );
}

#[test]
fn capture_keeps_plugin_lines_and_denials_in_record_order() {
    use s3plug_host::bounded::name;
    use s3plug_host::observe::{Call, Level, Observation, Observer};
    let capture = Capture::default();
    let call = |record| Call {
        record,
        plugin: "guest",
        bucket: "inbox",
        key: "ok/a",
    };
    // Record 1's call ends first, as calls running at once may.
    capture.observe(
        &call(1),
        &Observation::Log {
            level: Level::Info,
            message: "second record",
        },
    );
    capture.observe(
        &call(0),
        &Observation::Log {
            level: Level::Warn,
            message: "careful: 42",
        },
    );
    capture.observe(
        &call(0),
        &Observation::Denied {
            operation: "put",
            bucket: name("other"),
            key: name("x.txt"),
            why: "plugin has no write grant for it",
        },
    );
    capture.observe(
        &call(0),
        &Observation::Wrote {
            operation: "put",
            bucket: name("inbox"),
            key: name("out/a"),
            bytes: 3,
        },
    );
    let mut seen = Seen::default();
    capture.take_into(&mut seen);
    assert_eq!(
        seen.logs,
        vec![
            LogLine {
                plugin: "guest".into(),
                level: "warn".into(),
                message: "careful: 42".into(),
            },
            LogLine {
                plugin: "guest".into(),
                level: "info".into(),
                message: "second record".into(),
            }
        ]
    );
    assert_eq!(seen.denials.len(), 1);
    assert_eq!(
        seen.denials[0].to_string(),
        "put other/x.txt (plugin \"guest\")"
    );
    assert_eq!(seen.denials[0].why, "plugin has no write grant for it");
    capture.take_into(&mut seen);
    assert_eq!(seen.logs.len(), 2, "taken once");
}

#[test]
fn reports_read_as_one_line_per_case_with_the_diff_indented() {
    let passed = CaseReport {
        name: "a JPEG becomes a thumbnail".into(),
        duration: Duration::from_millis(12),
        mismatches: vec![],
    };
    assert_eq!(
        passed.to_string(),
        "ok   a JPEG becomes a thumbnail (12 ms)"
    );
    let failed = CaseReport {
        name: "sizes".into(),
        duration: Duration::from_millis(3),
        mismatches: vec![Mismatch {
            line: Some(30),
            subject: "object b/k".into(),
            field: "size".into(),
            expected: "10".into(),
            actual: "12".into(),
        }],
    };
    assert_eq!(
        failed.to_string(),
        "FAIL sizes (3 ms)\n    line 30: object b/k: size\n      expected: 10\n      actual:   12"
    );
    let report = Report {
        path: "t.test.toml".into(),
        cases: vec![passed, failed],
        filtered_out: 2,
    };
    assert_eq!(report.summary(), "1 passed, 1 failed, 2 filtered out");
    let panic = std::panic::catch_unwind(|| report.assert_passed()).expect_err("panics");
    let message = panic.downcast_ref::<String>().expect("a message");
    assert!(
        message.contains("FAIL sizes") && message.contains("expected: 10"),
        "{message}"
    );
    assert!(!message.contains("ok   a JPEG"), "{message}");
}

#[test]
fn discover_finds_test_files_in_nested_folders() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("a/b")).expect("folders");
    for name in [
        "z.test.toml",
        "a/b/x.test.toml",
        "a/notes.toml",
        "a/s3plug.toml",
    ] {
        std::fs::write(dir.path().join(name), "").expect("written");
    }
    let found = super::discover(dir.path()).expect("searched");
    let names: Vec<String> = found
        .iter()
        .map(|p| {
            p.strip_prefix(dir.path())
                .expect("inside")
                .display()
                .to_string()
        })
        .collect();
    assert_eq!(names, ["a/b/x.test.toml", "z.test.toml"]);
}

#[test]
fn follow_writes_sees_new_changed_and_removed_objects() {
    let store = MemoryStore::new();
    store
        .put("b", "same", b"1", &PutOptions::default())
        .expect("stored");
    store
        .put("b", "changed", b"1", &PutOptions::default())
        .expect("stored");
    store
        .put("b", "gone", b"1", &PutOptions::default())
        .expect("stored");
    let before = super::run::snapshot(&store);
    store
        .put("b", "changed", b"2", &PutOptions::default())
        .expect("stored");
    store
        .put("b", "added", b"3", &PutOptions::default())
        .expect("stored");
    store.delete("b", "gone").expect("deleted");
    let changes = super::run::changes(&before, &super::run::snapshot(&store));
    let names: Vec<(String, &str)> = changes
        .iter()
        .map(|r| (format!("{:?}", r.action), r.key.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("Put".to_owned(), "added"),
            ("Put".to_owned(), "changed"),
            ("Delete".to_owned(), "gone")
        ]
    );
}
