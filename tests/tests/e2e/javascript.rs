//! A plugin written in JavaScript (plugins/js-upper, made a component by componentize-js)
//! runs against the same contract as the Rust ones, under the same grants and limits.
//!
//! The component is built here, on first use (see `s3plug_tests::tool_build`), by the
//! componentize-js that scripts/install-test-deps puts in target/test-node; its first load
//! compiles it into the shared compile cache (seconds).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use s3plug::Config;
use s3plug::outcome::{FailureKind, RecordOutcome, Status};
use s3plug::store::{ObjectStore, PutOptions};
use s3plug_tests::tool_build::built_once;
use s3plug_tests::{
    Harness, RawRecord, TESTGUEST, compile_cache, engine, load_error, outcome_of, repo_root,
    s3_event,
};

/// The plugin's chunk size (`CHUNK` in app.js).
const CHUNK: usize = 256 * 1024;

fn tools() -> PathBuf {
    repo_root().join("target/test-node/node_modules")
}

fn componentize_js_version() -> String {
    let package = tools().join("@bytecodealliance/componentize-js/package.json");
    let text = std::fs::read_to_string(&package).unwrap_or_else(|err| {
        panic!(
            "{}: {err}; run scripts/install-test-deps (it installs componentize-js into \
             target/test-node)",
            package.display()
        )
    });
    let package: serde_json::Value = serde_json::from_str(&text).expect("package.json is JSON");
    package["version"].as_str().expect("a version").to_owned()
}

/// The JavaScript plugin's component, built if its inputs changed and compiled into the
/// compile cache, once per process.
fn js_upper() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let root = repo_root();
        let source = root.join("plugins/js-upper/app.js");
        let (wasm, _) = built_once(
            "js",
            "js-upper",
            std::slice::from_ref(&source),
            &componentize_js_version(),
            |work| componentize(&source, &root.join("wit"), work),
        );
        let bytes = std::fs::read(&wasm).expect("the component is readable");
        compile_cache()
            .component(engine(), &bytes)
            .unwrap_or_else(|err| panic!("{} does not compile: {err:#}", wasm.display()));
        wasm
    })
}

fn componentize(source: &Path, wit: &Path, work: &Path) -> PathBuf {
    let output = work.join("js-upper.wasm");
    let result = Command::new(tools().join(".bin/componentize-js"))
        .current_dir(work)
        .arg(source)
        .arg("--wit")
        .arg(wit)
        .args([
            "--world-name",
            "plugin",
            "--disable",
            "http",
            "fetch-event",
            "--out",
        ])
        .arg(&output)
        .output()
        .expect("componentize-js runs: run scripts/install-test-deps");
    assert!(
        result.status.success() && output.is_file(),
        "componentize-js failed on plugins/js-upper/app.js:\n{}{}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
    output
}

/// `count` bytes: ASCII of both cases, UTF-8 (`é`, `ß`) and every byte value, in a pattern
/// that does not line up with the chunk size.
fn mixed_body(count: usize) -> Vec<u8> {
    let pattern: Vec<u8> = "The quick brown fox; été, Straße, über 42!\n"
        .bytes()
        .chain(0..=255u8)
        .collect();
    pattern.iter().copied().cycle().take(count).collect()
}

fn usage(outcome: &RecordOutcome) -> &s3plug::outcome::UsageReport {
    outcome
        .usage
        .as_ref()
        .unwrap_or_else(|| panic!("no usage in {outcome:#?}"))
}

fn harness(body: &str) -> Harness {
    Harness::new(&body.replace("JS_UPPER", &js_upper().display().to_string()))
}

#[test]
fn js_copy_is_upper_cased_and_complete_across_chunks() {
    let h = harness(
        r#"
[[plugin]]
name = "js-upper"
wasm = "JS_UPPER"
trigger = { bucket = "docs" }
write = ["docs/upper/"]
max_depth = 1
"#,
    );
    let size = 4 * CHUNK + 12_345;
    let body = mixed_body(size);
    h.store
        .put(
            "docs",
            "notes/big.txt",
            &body,
            &PutOptions {
                content_type: Some("text/plain; charset=utf-8".into()),
                metadata: Vec::new(),
            },
        )
        .expect("stored");
    h.put("docs", "upper/notes/old.txt", b"ALREADY DONE");
    let outcomes = h.run(&s3_event(&[
        RawRecord::put("docs", "notes/big.txt"),
        RawRecord::put("docs", "upper/notes/old.txt"),
    ]));

    let copy = outcome_of(&outcomes, 0, "js-upper");
    assert_eq!(copy.status, Status::Ok, "{copy:#?}");
    assert_eq!(
        copy.message.as_deref(),
        Some(format!("wrote docs/upper/notes/big.txt ({size} bytes, 5 chunks)").as_str())
    );
    let written = h
        .store
        .bytes("docs", "upper/notes/big.txt")
        .expect("the copy is written");
    assert_eq!(written.len(), size, "the copy is complete");
    assert!(
        written == body.to_ascii_uppercase(),
        "the copy is the source with its ASCII letters upper-cased"
    );
    let info = h
        .store
        .head("docs", "upper/notes/big.txt")
        .expect("the copy exists");
    assert_eq!(
        info.content_type.as_deref(),
        Some("text/plain; charset=utf-8")
    );
    assert!(
        info.metadata
            .iter()
            .any(|(k, v)| k == "upper-cased-from" && v == "docs/notes/big.txt"),
        "{:?}",
        info.metadata
    );
    let used = usage(copy);
    assert_eq!(
        (used.writes, used.bytes_read, used.bytes_written),
        (1, size as u64, size as u64)
    );

    let own = outcome_of(&outcomes, 1, "js-upper");
    assert_eq!(own.outcome, Some("skipped"), "{own:#?}");
    assert_eq!(
        own.message.as_deref(),
        Some("upper/notes/old.txt is an upper-cased copy already")
    );
}

#[test]
fn js_write_outside_the_grants_is_denied() {
    let h = harness(
        r#"
[[plugin]]
name = "js-upper"
wasm = "JS_UPPER"
trigger = { bucket = "inbox" }
write = ["archive/elsewhere/"]
config = { target_bucket = "archive", target_prefix = "caps/" }
"#,
    );
    h.put("inbox", "secret.txt", b"text");
    let outcomes = h.run(&s3_event(&[RawRecord::put("inbox", "secret.txt")]));
    let outcome = outcome_of(&outcomes, 0, "js-upper");
    assert_eq!(outcome.status, Status::Failed, "{outcome:#?}");
    assert_eq!(outcome.reason, Some(FailureKind::Denied), "{outcome:#?}");
    let error = outcome.error.as_deref().unwrap_or_default();
    assert!(
        error.starts_with("denied: create archive/caps/secret.txt is not granted"),
        "{error}"
    );
    // The plugin's thrown text follows the host's cause, with the error variant in it.
    assert!(
        error.contains(
            "plugin error: cannot upper-case inbox/secret.txt into archive/caps/secret.txt: denied: "
        ),
        "{error}"
    );
    assert_eq!(usage(outcome).denials, 1);
    assert!(
        h.store.keys().iter().all(|(bucket, _)| bucket == "inbox"),
        "nothing is written: {:?}",
        h.store.keys()
    );
}

#[test]
fn js_thrown_string_is_a_plugin_error() {
    let h = harness(
        r#"
[[plugin]]
name = "js-upper"
wasm = "JS_UPPER"
trigger = { bucket = "inbox", prefix = "in/" }
write = ["inbox/out/"]
config = { target_prefix = "" }
"#,
    );
    h.put("inbox", "in/x.txt", b"x");
    let outcomes = h.run(&s3_event(&[RawRecord::put("inbox", "in/x.txt")]));
    let outcome = outcome_of(&outcomes, 0, "js-upper");
    assert_eq!(
        outcome.error.as_deref(),
        Some(
            "plugin-error: target_prefix must not be empty when target_bucket is the source bucket"
        ),
        "{outcome:#?}"
    );
}

/// A limited JavaScript plugin on `tight/`, an unlimited one on `js/` and the Rust test guest
/// on `ok/`; runs one record of each in one event, checks that the last two succeed, and
/// returns the first one's outcome.
fn run_limited(limits: &str, body: &[u8]) -> RecordOutcome {
    let h = harness(&format!(
        r#"
[[plugin]]
name = "js-tight"
wasm = "JS_UPPER"
trigger = {{ bucket = "inbox", prefix = "tight/" }}
write = ["outbox/"]
limits = {limits}
config = {{ target_bucket = "outbox" }}

[[plugin]]
name = "js"
wasm = "JS_UPPER"
trigger = {{ bucket = "inbox", prefix = "js/" }}
write = ["outbox/"]
config = {{ target_bucket = "outbox" }}

[[plugin]]
name = "rust"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "inbox", prefix = "ok/" }}
write = ["outbox/out/"]
config = {{ out_bucket = "outbox" }}
"#
    ));
    h.put("inbox", "tight/x.txt", body);
    h.put("inbox", "js/after.txt", b"js after");
    h.put("inbox", "ok/after.txt", b"rust after");
    let outcomes = h.run(&s3_event(&[
        RawRecord::put("inbox", "tight/x.txt"),
        RawRecord::put("inbox", "js/after.txt"),
        RawRecord::put("inbox", "ok/after.txt"),
    ]));
    assert_eq!(outcome_of(&outcomes, 1, "js").status, Status::Ok);
    assert_eq!(
        h.store.bytes("outbox", "upper/js/after.txt").as_deref(),
        Some(&b"JS AFTER"[..])
    );
    assert_eq!(outcome_of(&outcomes, 2, "rust").status, Status::Ok);
    assert!(
        h.store.bytes("outbox", "upper/tight/x.txt").is_none(),
        "the stopped call left no object"
    );
    outcome_of(&outcomes, 0, "js-tight").clone()
}

#[test]
fn js_past_its_timeout_fails_alone() {
    // 16 MiB, byte by byte in JavaScript: far more than the one 10 ms tick allowed.
    let outcome = run_limited("{ timeout_ms = 1 }", &mixed_body(64 * CHUNK));
    assert_eq!(outcome.reason, Some(FailureKind::Timeout), "{outcome:#?}");
    assert!(
        outcome
            .error
            .as_deref()
            .is_some_and(|e| e.contains("past limits.timeout_ms = 1")),
        "{outcome:#?}"
    );
    assert!(outcome.duration_ms < 1000.0, "stopped late: {outcome:#?}");
}

#[test]
fn js_past_its_memory_fails_alone() {
    // The engine's memory starts at 9.1 MiB and grows with what a call copies: a 16 MiB copy
    // needs more than 32 MiB.
    let outcome = run_limited("{ memory_mib = 16 }", &mixed_body(64 * CHUNK));
    assert_eq!(outcome.reason, Some(FailureKind::Memory), "{outcome:#?}");
    assert!(
        outcome
            .error
            .as_deref()
            .is_some_and(|e| e.contains("past limits.memory_mib = 16")),
        "{outcome:#?}"
    );
}

#[test]
fn js_below_its_initial_memory_is_refused_at_load() {
    let config = Config::parse(
        &format!(
            "[[plugin]]\nname = \"js-small\"\nwasm = \"{}\"\ntrigger = {{ bucket = \"inbox\" }}\n\
             write = [\"outbox/\"]\nlimits = {{ memory_mib = 2 }}\n",
            js_upper().display()
        ),
        "s3plug.toml",
        Path::new("/"),
    )
    .expect("the config itself is fine");
    let err = load_error(&config);
    assert!(
        err.contains("plugin \"js-small\"")
            && err.contains("its linear memory starts at 9.1 MiB, more than limits.memory_mib = 2 allows: give it a memory_mib of at least 10"),
        "{err}"
    );
}
