//! `s3plug test`: the example test files of the thumbnail plugin through the binary
//! (passing, failing, malformed), a file written here for the test guest (logs, denials,
//! the loop guard), and the library API a plugin's own `cargo test` uses.

use std::path::Path;
use std::process::{Command, Output};

use s3plug_host::plugin::CompileCache;
use s3plug_tests::{COMPILE_CACHE, TESTGUEST, repo_root, s3plug_bin};
use s3plug_tools::testcase::TestFile;

/// `s3plug test ARGS...` in `dir`.
fn s3plug_test(dir: &Path, args: &[&str]) -> Output {
    Command::new(s3plug_bin())
        .arg("test")
        .args(args)
        .current_dir(dir)
        .env("S3PLUG_CACHE_DIR", COMPILE_CACHE)
        .env_remove("S3PLUG_LOG")
        .output()
        .expect("s3plug runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn both(output: &Output) -> String {
    format!("stdout:\n{}\nstderr:\n{}", stdout(output), stderr(output))
}

/// The line of the `nth` (from 0) line of `file` that contains `needle`, from 1.
fn line_of(file: &Path, needle: &str, nth: usize) -> usize {
    let text = std::fs::read_to_string(file).expect("readable");
    text.lines()
        .enumerate()
        .filter(|(_, line)| line.contains(needle))
        .nth(nth)
        .map(|(index, _)| index + 1)
        .unwrap_or_else(|| panic!("{needle:?} not in {}", file.display()))
}

/// Whether `lines` has `ok   NAME (N ms)`.
fn has_ok_line(lines: &[&str], name: &str) -> bool {
    lines.iter().any(|line| {
        line.strip_prefix("ok   ")
            .and_then(|rest| rest.strip_prefix(name))
            .and_then(|rest| rest.strip_prefix(" ("))
            .and_then(|rest| rest.strip_suffix(" ms)"))
            .is_some_and(|ms| ms.parse::<u64>().is_ok())
    })
}

#[test]
fn with_no_arguments_the_tests_folder_runs_and_the_thumbnail_examples_pass() {
    let output = s3plug_test(&repo_root().join("examples"), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    let out = stdout(&output);
    let lines: Vec<&str> = out.lines().collect();
    // Only *.test.toml files are found: not the deliberately failing and malformed ones.
    assert_eq!(
        lines.first(),
        Some(&"running 7 cases from tests/thumbnail.test.toml"),
        "{out}"
    );
    for name in [
        "a JPEG upload becomes a 200x150 thumbnail",
        "an upload into a folder keeps its path and its spaces",
        "what is not a JPEG or PNG is skipped and nothing is written",
        "a deleted photo is not routed to the plugin",
        "the thumbnail's own event does not reach the plugin",
        "an object gone before its event arrives fails the record",
        "S3's test event is acknowledged",
    ] {
        assert!(has_ok_line(&lines, name), "no ok line for {name:?}:\n{out}");
    }
    assert_eq!(lines.len(), 9, "{out}");
    assert_eq!(lines.last(), Some(&"7 passed, 0 failed"), "{out}");
}

#[test]
fn a_failing_expectation_exits_1_with_a_diff_field_by_field() {
    let examples = repo_root().join("examples");
    let file = examples.join("tests/deliberately-failing.toml");
    let output = s3plug_test(&examples, &["tests/deliberately-failing.toml"]);
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    let out = stdout(&output);
    let lines: Vec<&str> = out.lines().collect();
    assert!(has_ok_line(&lines, "a text file is skipped"), "{out}");
    assert!(
        lines
            .iter()
            .any(|line| line.starts_with("FAIL the thumbnail is half the size it is (")),
        "{out}"
    );
    let outcome_line = line_of(&file, "[[case.outcome]]", 1);
    let message_diff = format!(
        "    line {outcome_line}: outcome of event 0, record 0 (sourcebucket/HappyFace.jpg), plugin \"thumbnail\": message\n      \
         expected: \"wrote sourcebucket-resized/thumbnails/HappyFace.jpg 100x75\"\n      \
         actual:   \"wrote sourcebucket-resized/thumbnails/HappyFace.jpg 200x150\"\n"
    );
    assert!(out.contains(&message_diff), "{out}");
    let object_line = line_of(&file, "[[case.object]]", 0);
    let type_diff = format!(
        "    line {object_line}: object sourcebucket-resized/thumbnails/HappyFace.jpg: content_type\n      \
         expected: \"image/png\"\n      \
         actual:   \"image/jpeg\"\n"
    );
    assert!(out.contains(&type_diff), "{out}");
    assert_eq!(lines.last(), Some(&"1 passed, 1 failed"), "{out}");
}

#[test]
fn a_malformed_file_exits_2_naming_its_line() {
    let examples = repo_root().join("examples");
    let output = s3plug_test(&examples, &["tests/deliberately-malformed.toml"]);
    assert_eq!(output.status.code(), Some(2), "{}", both(&output));
    let line = line_of(
        &examples.join("tests/deliberately-malformed.toml"),
        "stauts",
        0,
    );
    let err = stderr(&output);
    assert!(
        err.contains(&format!(
            "s3plug: tests/deliberately-malformed.toml:{line}:3: unknown field `stauts`"
        )),
        "{err}"
    );
    assert!(!stdout(&output).contains("FAIL"), "{}", both(&output));

    let nowhere = tempfile::tempdir().expect("temp dir");
    let output = s3plug_test(nowhere.path(), &[]);
    assert_eq!(output.status.code(), Some(2), "{}", both(&output));
    assert!(
        stderr(&output).contains("no tests/ folder"),
        "{}",
        both(&output)
    );
}

/// A test file for the test guest: its modes log, get denied and write onto their own
/// trigger.
fn guest_test_file() -> String {
    format!(
        r#"
[[plugin]]
name = "guest"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "inbox" }}
write = ["outbox/"]
limits = {{ max_log_lines = 3 }}
config = {{ out_bucket = "outbox" }}

[[plugin]]
name = "again"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "loopy" }}
write = ["loopy/"]
max_depth = 2
config = {{ mode = "self-write" }}

[[object]]
bucket = "inbox"
key = "ok/hello.txt"
text = "hello"

[[case]]
name = "ok copies the object"
events = ["put inbox/ok/hello.txt"]

  [[case.outcome]]
  plugin = "guest"
  message = "copied 5 bytes"
  writes = 1
  denials = 0

  [[case.object]]
  bucket = "outbox"
  key = "out/ok/hello.txt"
  text = "hello"
  size = 5
  sha256 = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
  metadata = {{ source = "inbox/ok/hello.txt", s3plug-depth = "1" }}

[[case]]
name = "log lines are captured up to the limit"
events = ["put inbox/log-flood/x"]

  [[case.outcome]]
  message = "logged 100000 lines"

  [[case.log]]
  contains = "log flood line 0"
  plugin = "guest"
  level = "info"
  count = 1

  [[case.log]]
  contains = "log flood line"
  count = 3

[[case]]
name = "a read outside the grants is denied"
events = ["put inbox/read-outside/x"]

  [[case.outcome]]
  status = "failed"
  reason = "denied"
  denials = 1

  [[case.denial]]
  plugin = "guest"
  operation = "get"
  bucket = "forbidden-bucket"
  key = "secret.txt"
  count = 1

[[case]]
name = "a plugin writing onto its own trigger stops at max_depth"
follow_writes = true
events = [{{ action = "put", bucket = "loopy", key = "a", text = "start" }}]

  [[case.outcome]]
  event = 0
  message = "wrote a.again"

  [[case.outcome]]
  event = 1
  message = "wrote a.again.again"

  [[case.outcome]]
  event = 2
  key = "a.again.again"
  status = "loop-stopped"

  [[case.object]]
  bucket = "loopy"
  key = "a.again.again"
  metadata = {{ s3plug-depth = "2", s3plug-origin = "again" }}

  [[case.object]]
  bucket = "loopy"
  key = "a.again.again.again"
  exists = false

[[case]]
name = "wrong: the denied call was a put"
events = ["put inbox/read-outside/x"]

  [[case.outcome]]
  status = "failed"

  [[case.denial]]
  operation = "put"
"#
    )
}

#[test]
fn logs_denials_and_loop_guards_of_the_test_guest_are_checked() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("guest.test.toml"), guest_test_file()).expect("written");

    let output = s3plug_test(dir.path(), &["guest.test.toml"]);
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    let out = stdout(&output);
    let lines: Vec<&str> = out.lines().collect();
    for name in [
        "ok copies the object",
        "log lines are captured up to the limit",
        "a read outside the grants is denied",
        "a plugin writing onto its own trigger stops at max_depth",
    ] {
        assert!(has_ok_line(&lines, name), "no ok line for {name:?}:\n{out}");
    }
    let denial_line = line_of(&dir.path().join("guest.test.toml"), "[[case.denial]]", 1);
    let fail = lines
        .iter()
        .position(|line| line.starts_with("FAIL wrong: the denied call was a put ("))
        .unwrap_or_else(|| panic!("no FAIL line:\n{out}"));
    assert_eq!(
        lines[fail + 1..fail + 4],
        [
            format!("    line {denial_line}: denials (operation \"put\"): count").as_str(),
            "      expected: at least 1",
            "      actual:   0; the denials were: get forbidden-bucket/secret.txt (plugin \"guest\")",
        ],
        "{out}"
    );
    assert_eq!(lines.last(), Some(&"4 passed, 1 failed"), "{out}");

    let output = s3plug_test(
        dir.path(),
        &["--filter", "log lines", dir.path().to_str().expect("UTF-8")],
    );
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    assert!(
        stdout(&output).ends_with("1 passed, 0 failed, 4 filtered out\n"),
        "{}",
        both(&output)
    );
}

/// Twelve records in one notification, calls eight at once: each record's call logs (up to
/// its budget) or is denied, and a case sees every line and denial, in record order.
fn concurrent_test_file() -> String {
    let records: Vec<String> = (0..12)
        .map(|i| {
            if i % 2 == 0 {
                format!("\"put inbox/log-flood/{i:02}\"")
            } else {
                format!("\"put inbox/read-outside/{i:02}\"")
            }
        })
        .collect();
    // Outcomes come in record order: each record's is checked where it must be.
    let outcomes: String = (0..12)
        .map(|i| {
            let check = if i % 2 == 0 {
                "message = \"logged 100000 lines\""
            } else {
                "status = \"failed\"\n  reason = \"denied\""
            };
            format!("\n  [[case.outcome]]\n  record = {i}\n  {check}\n")
        })
        .collect();
    format!(
        r#"
[host]
concurrency = 8

[[plugin]]
name = "guest"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "inbox" }}
limits = {{ max_log_lines = 2 }}

[[case]]
name = "twelve records at once"
events = [{{ records = [{records}] }}]
{outcomes}
  [[case.log]]
  contains = "log flood line 0"
  count = 6

  [[case.log]]
  contains = "log flood line 1"
  count = 6

  [[case.log]]
  contains = "log flood line 2"
  count = 0

  [[case.denial]]
  operation = "get"
  bucket = "forbidden-bucket"
  count = 6

[[case]]
name = "wrong: count the denials as five"
events = [{{ records = [{records}] }}]
{outcomes}
  [[case.denial]]
  count = 5
"#,
        records = records.join(", ")
    )
}

#[test]
fn cases_whose_calls_run_at_once_see_every_line_and_denial_the_same_every_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("many.test.toml"), concurrent_test_file()).expect("written");
    let mut outputs = Vec::new();
    for _ in 0..3 {
        let output = s3plug_test(dir.path(), &["many.test.toml"]);
        assert_eq!(output.status.code(), Some(1), "{}", both(&output));
        let out = stdout(&output);
        let lines: Vec<&str> = out.lines().collect();
        assert!(has_ok_line(&lines, "twelve records at once"), "{out}");
        assert_eq!(lines.last(), Some(&"1 passed, 1 failed"), "{out}");
        // The failure lists the denials in record order, whichever call ended first.
        let listing = lines
            .iter()
            .find(|line| line.contains("the denials were:"))
            .unwrap_or_else(|| panic!("no listing:\n{out}"));
        outputs.push(listing.to_string());
    }
    assert!(outputs.windows(2).all(|w| w[0] == w[1]), "{outputs:#?}");
}

#[test]
fn the_library_api_runs_a_file_for_cargo_test() {
    let cache = Some(CompileCache::new(COMPILE_CACHE));
    let examples = repo_root().join("examples/tests");
    let passing = TestFile::load(&examples.join("thumbnail.test.toml"))
        .expect("a good test file")
        .with_compile_cache(cache.clone())
        .run()
        .expect("the plugin loads");
    passing.assert_passed();
    assert_eq!(passing.summary(), "7 passed, 0 failed");

    let failing = TestFile::load(&examples.join("deliberately-failing.toml"))
        .expect("a good test file")
        .with_compile_cache(cache)
        .run()
        .expect("the plugin loads");
    assert_eq!((failing.passed(), failing.failed()), (1, 1));
    let mismatches = &failing.cases[1].mismatches;
    let fields: Vec<&str> = mismatches.iter().map(|m| m.field.as_str()).collect();
    assert_eq!(fields, ["message", "content_type"], "{mismatches:#?}");
    let panic = std::panic::catch_unwind(|| failing.assert_passed()).expect_err("it panics");
    let message = panic.downcast_ref::<String>().expect("a formatted message");
    assert!(
        message.contains("FAIL the thumbnail is half the size it is")
            && message.contains("actual:   \"image/jpeg\"")
            && message.ends_with("1 passed, 1 failed"),
        "{message}"
    );

    let malformed = TestFile::load(&examples.join("deliberately-malformed.toml"))
        .expect_err("a malformed file");
    assert!(
        malformed.to_string().contains("unknown field `stauts`"),
        "{malformed}"
    );
}
