//! The `s3plug` binary: the seed example end to end, JSON lines and exit codes.

use std::path::Path;

use image::GenericImageView;
use s3plug_tests::{
    TESTGUEST, THUMBNAIL, json_lines, repo_root, run_s3plug as s3plug, stderr_text as stderr,
};
use serde_json::Value;

fn write_config(dir: &Path, body: &str) -> String {
    let path = dir.join("s3plug.toml");
    std::fs::write(&path, body).expect("config written");
    path.display().to_string()
}

#[test]
fn the_seed_example_makes_a_thumbnail_in_a_folder() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("sourcebucket")).expect("bucket folder");
    std::fs::copy(
        repo_root().join("examples/HappyFace.jpg"),
        data.join("sourcebucket/HappyFace.jpg"),
    )
    .expect("copied");
    let config = write_config(
        dir.path(),
        &format!(
            r#"
[[plugin]]
name = "thumbnail"
wasm = "{THUMBNAIL}"
trigger = {{ bucket = "sourcebucket", events = ["s3:ObjectCreated:*"] }}
write = ["sourcebucket-resized/thumbnails/"]
config = {{ target_bucket = "sourcebucket-resized" }}
"#
        ),
    );
    let event = repo_root().join("examples/events/s3-put-HappyFace.json");
    let store = format!("dir:{}", data.display());
    let output = s3plug(
        &[
            "run",
            "--config",
            &config,
            "--event",
            &event.display().to_string(),
            "--store",
            &store,
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let line = &lines[0];
    assert_eq!(line["status"], "ok");
    assert_eq!(line["bucket"], "sourcebucket");
    assert_eq!(line["key"], "HappyFace.jpg");
    assert_eq!(line["event"], "ObjectCreated:Put");
    assert_eq!(line["plugin"], "thumbnail");
    assert!(line["duration_ms"].as_f64().is_some_and(|ms| ms > 0.0));

    let thumb_path = data.join("sourcebucket-resized/thumbnails/HappyFace.jpg");
    let thumb =
        image::open(&thumb_path).unwrap_or_else(|err| panic!("{}: {err}", thumb_path.display()));
    let original =
        image::open(data.join("sourcebucket/HappyFace.jpg")).expect("the original decodes");
    let (w, h) = thumb.dimensions();
    assert!(w <= 200 && h <= 200 && (w == 200 || h == 200), "{w}x{h}");
    let (ow, oh) = original.dimensions();
    let expected_h = (f64::from(oh) * f64::from(w) / f64::from(ow)).round() as u32;
    assert!(
        h.abs_diff(expected_h) <= 1,
        "aspect kept: {ow}x{oh} -> {w}x{h}"
    );
    let sidecar: Value = serde_json::from_slice(
        &std::fs::read(data.join("sourcebucket-resized/thumbnails/HappyFace.jpg.s3meta.json"))
            .expect("sidecar"),
    )
    .expect("JSON");
    assert_eq!(sidecar["content_type"], "image/jpeg");
}

fn guest_config(dir: &Path) -> String {
    write_config(
        dir,
        &format!(
            r#"
[[plugin]]
name = "guest"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "inbox", prefix = "ok/" }}
write = ["inbox/out/"]

[[plugin]]
name = "failing"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "inbox", prefix = "fail/" }}
"#
        ),
    )
}

fn event_json(args: &[&str]) -> Vec<u8> {
    let output = s3plug(&[&["event"], args].concat(), None);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    output.stdout
}

#[test]
fn run_reads_events_from_stdin_and_exits_1_when_a_record_fails() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = guest_config(dir.path());
    let good = event_json(&["put", "--bucket", "inbox", "--key", "ok/missing.txt"]);
    let output = s3plug(
        &[
            "run", "--config", &config, "--event", "-", "--store", "memory",
        ],
        Some(&good),
    );
    // The object is not in the (empty) store: the plugin's read fails, so the record fails.
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let lines = json_lines(&output);
    assert_eq!(lines[0]["status"], "failed");
    assert!(
        lines[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("no such bucket or object")),
        "{lines:#?}"
    );

    let unrouted = event_json(&["put", "--bucket", "inbox", "--key", "elsewhere/x"]);
    let output = s3plug(
        &[
            "run", "--config", &config, "--event", "-", "--store", "memory",
        ],
        Some(&unrouted),
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let lines = json_lines(&output);
    assert_eq!(lines[0]["status"], "unrouted");
    assert_eq!(lines[0]["plugin"], Value::Null);
}

#[test]
fn run_exits_0_for_the_test_event() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = guest_config(dir.path());
    let event = repo_root().join("examples/events/s3-test-event.json");
    let output = s3plug(
        &[
            "run",
            "--config",
            &config,
            "--event",
            &event.display().to_string(),
            "--store",
            "memory",
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(json_lines(&output)[0]["status"], "ignored");
}

#[test]
fn bad_usage_config_and_events_exit_2_with_one_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = guest_config(dir.path());
    let good_event = dir.path().join("event.json");
    std::fs::write(
        &good_event,
        event_json(&["put", "--bucket", "inbox", "--key", "ok/a"]),
    )
    .expect("written");
    let good_event = good_event.display().to_string();

    let not_json = s3plug(
        &[
            "run", "--config", &config, "--event", "-", "--store", "memory",
        ],
        Some(b"{nope"),
    );
    assert_eq!(not_json.status.code(), Some(2));
    assert!(
        stderr(&not_json).contains("bad event: event is not JSON"),
        "{}",
        stderr(&not_json)
    );
    assert_eq!(
        stderr(&not_json).trim().lines().count(),
        1,
        "{}",
        stderr(&not_json)
    );

    let bad_config = dir.path().join("bad.toml");
    std::fs::write(
        &bad_config,
        format!("[[plugin]]\nname = \"guest\"\nwasm = \"{TESTGUEST}\"\ntrigger = {{ bucket = \"inbox\" }}\nlimitz = {{}}\n"),
    )
    .expect("written");
    let bad_config = bad_config.display().to_string();
    let output = s3plug(
        &[
            "run",
            "--config",
            &bad_config,
            "--event",
            &good_event,
            "--store",
            "memory",
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains("plugin \"guest\"")
            && message.contains("limitz")
            && message.contains(":5:"),
        "{message}"
    );

    let missing_flag = s3plug(&["run", "--event", &good_event], None);
    assert_eq!(missing_flag.status.code(), Some(2));

    let bad_store = s3plug(
        &[
            "run",
            "--config",
            &config,
            "--event",
            &good_event,
            "--store",
            "ftp:x",
        ],
        None,
    );
    assert_eq!(bad_store.status.code(), Some(2));
    assert!(
        stderr(&bad_store).contains("unknown store"),
        "{}",
        stderr(&bad_store)
    );
}

#[test]
fn check_loads_every_plugin_and_refuses_what_is_not_a_component() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = guest_config(dir.path());
    let output = s3plug(&["check", "--config", &config], None);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let listing = String::from_utf8_lossy(&output.stdout);
    assert!(
        listing.contains("guest") && listing.contains("failing"),
        "{listing}"
    );

    std::fs::write(dir.path().join("fake.wasm"), b"not wasm at all").expect("written");
    let fake = write_config(
        dir.path(),
        "[[plugin]]\nname = \"fake\"\nwasm = \"fake.wasm\"\ntrigger = { bucket = \"inbox\" }\n",
    );
    let output = s3plug(&["check", "--config", &fake], None);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("plugin \"fake\"")
            && stderr(&output).contains("not a WebAssembly file"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn check_lists_the_plugins_whose_triggers_can_share_a_record() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(
        dir.path(),
        &format!(
            r#"
[[plugin]]
name = "all-of-in"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "inbox", prefix = "in/" }}

[[plugin]]
name = "jpegs"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "inbox", prefix = "in/photos/", suffix = ".jpg" }}

[[plugin]]
name = "elsewhere"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "inbox", prefix = "out/" }}
"#
        ),
    );
    let output = s3plug(&["check", "--config", &config], None);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let listing = String::from_utf8_lossy(&output.stdout);
    let overlaps: Vec<&str> = listing
        .lines()
        .filter(|line| line.starts_with("overlap"))
        .collect();
    assert_eq!(overlaps.len(), 1, "{listing}");
    assert!(
        overlaps[0].contains("\"all-of-in\"") && overlaps[0].contains("\"jpegs\""),
        "{listing}"
    );

    // Disjoint triggers: no overlap line.
    let output = s3plug(&["check", "--config", &guest_config(dir.path())], None);
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains("overlap"),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

/// Every `needle` in `haystack` replaced by `with`, of the same length.
fn replace_all(haystack: &[u8], needle: &[u8], with: &[u8]) -> (Vec<u8>, usize) {
    assert_eq!(needle.len(), with.len());
    let mut out = haystack.to_vec();
    let mut count = 0;
    let mut at = 0;
    while let Some(found) = out[at..].windows(needle.len()).position(|w| w == needle) {
        let start = at + found;
        out[start..start + with.len()].copy_from_slice(with);
        count += 1;
        at = start + with.len();
    }
    (out, count)
}

#[test]
fn a_plugin_built_against_another_contract_version_is_refused_naming_both() {
    // The test guest, as if built against contract 0.9.0: its import names say so. The
    // names keep their length, so the component stays well formed.
    let guest = std::fs::read(TESTGUEST).expect("the test guest is built");
    let (other, replaced) = replace_all(&guest, b"@0.1.0", b"@0.9.0");
    assert!(replaced >= 3, "the guest imports objects, log and config");
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("old.wasm"), other).expect("written");
    let config = write_config(
        dir.path(),
        "[[plugin]]\nname = \"old\"\nwasm = \"old.wasm\"\ntrigger = { bucket = \"inbox\" }\n",
    );
    let output = s3plug(&["check", "--config", &config], None);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("plugin \"old\"")
            && message.contains("built against s3plug:plugin@0.9.0")
            && message.contains("this host serves s3plug:plugin@0.1.0"),
        "{message}"
    );
}

#[test]
fn a_memory_limit_below_the_plugins_initial_memory_is_refused_at_load() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cwasm = dir.path().join("guest.cwasm");
    let compiled = s3plug(
        &["compile", TESTGUEST, "-o", &cwasm.display().to_string()],
        None,
    );
    assert_eq!(compiled.status.code(), Some(0), "{}", stderr(&compiled));
    // The test guest's memory starts at 1.1 MiB (Rust's 1 MiB shadow stack and its data).
    for wasm in [TESTGUEST.to_owned(), cwasm.display().to_string()] {
        let config = write_config(
            dir.path(),
            &format!(
                "[[plugin]]\nname = \"small\"\nwasm = \"{wasm}\"\ntrigger = {{ bucket = \"inbox\" }}\n\
                 limits = {{ memory_mib = 1 }}\n"
            ),
        );
        let output = s3plug(&["check", "--config", &config], None);
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        assert!(
            stderr(&output).contains("plugin \"small\"")
                && stderr(&output).contains(
                    "its linear memory starts at 1.1 MiB, more than limits.memory_mib = 1 allows: \
                 give it a memory_mib of at least 2"
                ),
            "{wasm}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn event_generates_s3_encoded_keys() {
    let event: Value = serde_json::from_slice(&event_json(&[
        "put",
        "--bucket",
        "photos",
        "--key",
        "in/my photo+1.jpg",
        "--size",
        "7",
    ]))
    .expect("JSON");
    let record = &event["Records"][0];
    assert_eq!(record["s3"]["object"]["key"], "in/my+photo%2B1.jpg");
    assert_eq!(record["s3"]["object"]["size"], 7);
    assert_eq!(record["eventName"], "ObjectCreated:Put");
    let delete: Value =
        serde_json::from_slice(&event_json(&["delete", "--bucket", "photos", "--key", "a"]))
            .expect("JSON");
    assert_eq!(delete["Records"][0]["eventName"], "ObjectRemoved:Delete");
}
