//! The checks every "upper" plugin passes: the streaming upper-case copy written in a
//! language other than Rust (plugins/python-upper, plugins/js-upper), against the same
//! contract and under the same grants and limits as the Rust plugins. Each language's module
//! builds its component and runs these with it.

use std::path::Path;

use s3plug_host::Config;
use s3plug_host::outcome::{FailureKind, RecordOutcome, Status};
use s3plug_host::store::PutOptions;
use s3plug_tests::{Harness, RawRecord, TESTGUEST, load_error, outcome_of, s3_event};

/// The plugins' chunk size (`CHUNK` in app.py and app.js).
pub const CHUNK: usize = 256 * 1024;

/// An upper plugin under test: the name its config entries get, and its component.
#[derive(Debug, Clone, Copy)]
pub struct Upper<'a> {
    pub name: &'a str,
    pub wasm: &'a Path,
}

impl Upper<'_> {
    /// Loads `config`, where `NAME` stands for the plugin's name and `WASM` for its component.
    fn harness(&self, config: &str) -> Harness {
        Harness::new(
            &config
                .replace("NAME", self.name)
                .replace("WASM", &self.wasm.display().to_string()),
        )
    }
}

/// `count` bytes of text and binary: ASCII letters of both cases, digits, punctuation,
/// UTF-8 (`é`, `ß`, `ü`), and every byte value, in a pattern that does not line up with the
/// chunk size.
pub fn mixed_body(count: usize) -> Vec<u8> {
    let pattern: Vec<u8> = "The quick brown fox jumps over the lazy dog; été, Straße, über 42!\n"
        .bytes()
        .chain(0..=255u8)
        .collect();
    pattern.iter().copied().cycle().take(count).collect()
}

fn usage(outcome: &RecordOutcome) -> &s3plug_host::outcome::UsageReport {
    outcome
        .usage
        .as_ref()
        .unwrap_or_else(|| panic!("no usage in {outcome:#?}"))
}

pub fn copy_is_upper_cased_and_complete_across_chunks(plugin: Upper<'_>) {
    let h = plugin.harness(
        r#"
[[plugin]]
name = "NAME"
wasm = "WASM"
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
    // An object under the target prefix: the plugin's own output, to be skipped.
    h.put("docs", "upper/notes/old.txt", b"ALREADY DONE");

    let outcomes = h.run(&s3_event(&[
        RawRecord::put("docs", "notes/big.txt"),
        RawRecord::put("docs", "upper/notes/old.txt"),
    ]));

    let copy = outcome_of(&outcomes, 0, plugin.name);
    assert_eq!(copy.status, Status::Ok, "{copy:#?}");
    assert_eq!(copy.outcome, Some("processed"));
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
    // Letters outside ASCII are left as they are.
    let sample = "éTé, STRAßE, üBER".as_bytes();
    assert!(written.windows(sample.len()).any(|w| w == sample));
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
        (
            used.writes,
            used.bytes_read,
            used.bytes_written,
            used.denials
        ),
        (
            1,
            size as u64,
            size as u64 + metadata_bytes(&info.metadata),
            0
        ),
        "user metadata counts as written bytes, as S3 counts it"
    );

    let own = outcome_of(&outcomes, 1, plugin.name);
    assert_eq!(own.status, Status::Ok, "{own:#?}");
    assert_eq!(own.outcome, Some("skipped"));
    assert_eq!(
        own.message.as_deref(),
        Some("upper/notes/old.txt is an upper-cased copy already")
    );
    assert!(h.store.bytes("docs", "upper/upper/notes/old.txt").is_none());
}

pub fn writes_to_the_configured_bucket_and_prefix(plugin: Upper<'_>) {
    let h = plugin.harness(
        r#"
[[plugin]]
name = "NAME"
wasm = "WASM"
trigger = { bucket = "inbox" }
write = ["archive/caps/"]
config = { target_bucket = "archive", target_prefix = "caps/" }
"#,
    );
    h.put("inbox", "a b.txt", b"hello, world\n");
    h.put("inbox", "empty.txt", b"");
    let outcomes = h.run(&s3_event(&[
        RawRecord::put("inbox", "a+b.txt"),
        RawRecord::put("inbox", "empty.txt"),
    ]));
    assert!(
        outcomes.iter().all(|o| o.status == Status::Ok),
        "{outcomes:#?}"
    );
    assert_eq!(
        h.store.bytes("archive", "caps/a b.txt").as_deref(),
        Some(&b"HELLO, WORLD\n"[..])
    );
    assert_eq!(
        h.store.bytes("archive", "caps/empty.txt").as_deref(),
        Some(&b""[..])
    );
}

pub fn write_outside_the_grants_is_denied(plugin: Upper<'_>) {
    let h = plugin.harness(
        r#"
[[plugin]]
name = "NAME"
wasm = "WASM"
trigger = { bucket = "inbox" }
write = ["archive/elsewhere/"]
config = { target_bucket = "archive", target_prefix = "caps/" }
"#,
    );
    h.put("inbox", "secret.txt", b"text");
    let outcomes = h.run(&s3_event(&[RawRecord::put("inbox", "secret.txt")]));
    let outcome = outcome_of(&outcomes, 0, plugin.name);
    assert_eq!(outcome.status, Status::Failed, "{outcome:#?}");
    assert_eq!(outcome.reason, Some(FailureKind::Denied), "{outcome:#?}");
    let error = outcome.error.as_deref().unwrap_or_default();
    assert!(
        error.starts_with("denied: create archive/caps/secret.txt is not granted"),
        "{error}"
    );
    // The plugin's own error text follows the host's cause, with the error variant in it.
    assert!(
        error.contains(
            "plugin error: cannot upper-case inbox/secret.txt into archive/caps/secret.txt: denied: "
        ),
        "{error}"
    );
    assert_eq!(usage(outcome).denials, 1);
    assert_eq!(usage(outcome).writes, 0);
    assert!(
        h.store.keys().iter().all(|(bucket, _)| bucket == "inbox"),
        "nothing is written: {:?}",
        h.store.keys()
    );
}

/// The plugin's own error (Python's `raise Err(...)`, a thrown string in JavaScript).
pub fn its_error_is_a_plugin_error(plugin: Upper<'_>) {
    let h = plugin.harness(
        r#"
[[plugin]]
name = "NAME"
wasm = "WASM"
trigger = { bucket = "inbox", prefix = "in/" }
write = ["inbox/out/"]
config = { target_prefix = "" }
"#,
    );
    h.put("inbox", "in/x.txt", b"x");
    let outcomes = h.run(&s3_event(&[RawRecord::put("inbox", "in/x.txt")]));
    let outcome = outcome_of(&outcomes, 0, plugin.name);
    assert_eq!(
        outcome.reason,
        Some(FailureKind::PluginError),
        "{outcome:#?}"
    );
    assert_eq!(
        outcome.error.as_deref(),
        Some(
            "plugin-error: target_prefix must not be empty when target_bucket is the source bucket"
        )
    );
}

/// Runs `tight/big.txt` (`body`) through the plugin with `limits` (TOML inline table text),
/// and in the same event a record for the same plugin without them (`free/`) and one for
/// the Rust test guest (`ok/`); checks that the later two succeed, and returns the first
/// one's outcome.
fn run_limited(plugin: Upper<'_>, limits: &str, body: &[u8]) -> RecordOutcome {
    let h = plugin.harness(&format!(
        r#"
[[plugin]]
name = "NAME"
wasm = "WASM"
trigger = {{ bucket = "inbox", prefix = "tight/" }}
write = ["outbox/"]
limits = {limits}
config = {{ target_bucket = "outbox" }}

[[plugin]]
name = "free"
wasm = "WASM"
trigger = {{ bucket = "inbox", prefix = "free/" }}
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
    h.put("inbox", "tight/big.txt", body);
    h.put("inbox", "free/after.txt", b"free after");
    h.put("inbox", "ok/after.txt", b"rust after");
    let outcomes = h.run(&s3_event(&[
        RawRecord::put("inbox", "tight/big.txt"),
        RawRecord::put("inbox", "free/after.txt"),
        RawRecord::put("inbox", "ok/after.txt"),
    ]));
    assert_eq!(outcomes.len(), 3, "{outcomes:#?}");
    let free = outcome_of(&outcomes, 1, "free");
    assert_eq!(free.status, Status::Ok, "{free:#?}");
    assert_eq!(
        h.store.bytes("outbox", "upper/free/after.txt").as_deref(),
        Some(&b"FREE AFTER"[..])
    );
    let rust = outcome_of(&outcomes, 2, "rust");
    assert_eq!(rust.status, Status::Ok, "{rust:#?}");
    assert_eq!(
        h.store.bytes("outbox", "out/ok/after.txt").as_deref(),
        Some(&b"rust after"[..])
    );
    assert!(
        h.store.bytes("outbox", "upper/tight/big.txt").is_none(),
        "the stopped call left no object"
    );
    outcome_of(&outcomes, 0, plugin.name).clone()
}

pub fn past_its_timeout_fails_alone(plugin: Upper<'_>) {
    // 16 MiB through 64 chunks: far more work than the one 10 ms tick the budget allows.
    let outcome = run_limited(plugin, "{ timeout_ms = 1 }", &mixed_body(64 * CHUNK));
    assert_eq!(outcome.status, Status::Failed, "{outcome:#?}");
    assert_eq!(outcome.reason, Some(FailureKind::Timeout), "{outcome:#?}");
    let error = outcome.error.as_deref().unwrap_or_default();
    assert!(error.contains("past limits.timeout_ms = 1"), "{error}");
    assert!(outcome.duration_ms < 1000.0, "stopped late: {outcome:#?}");
}

/// Copies 16 MiB with `memory_mib = 16`: these runtimes' memory grows with what a call
/// copies, past 20 MiB for Python and 32 MiB for JavaScript.
pub fn past_its_memory_fails_alone(plugin: Upper<'_>) {
    let outcome = run_limited(plugin, "{ memory_mib = 16 }", &mixed_body(64 * CHUNK));
    assert_eq!(outcome.status, Status::Failed, "{outcome:#?}");
    assert_eq!(outcome.reason, Some(FailureKind::Memory), "{outcome:#?}");
    let error = outcome.error.as_deref().unwrap_or_default();
    assert!(error.contains("past limits.memory_mib = 16"), "{error}");
}

/// A `memory_mib` below the memory the runtime starts with is refused at load, with the
/// size the plugin needs (`expected`: the end of the message).
pub fn below_its_initial_memory_is_refused_at_load(
    plugin: Upper<'_>,
    memory_mib: u32,
    expected: &str,
) {
    let config = Config::parse(
        &format!(
            "[[plugin]]\nname = \"{}\"\nwasm = \"{}\"\ntrigger = {{ bucket = \"inbox\" }}\n\
             write = [\"outbox/\"]\nlimits = {{ memory_mib = {memory_mib} }}\n",
            plugin.name,
            plugin.wasm.display()
        ),
        "s3plug.toml",
        Path::new("/"),
    )
    .expect("the config itself is fine");
    let err = load_error(&config);
    assert!(
        err.contains(&format!("plugin \"{}\"", plugin.name)) && err.contains(expected),
        "{err}"
    );
}

/// The size of user metadata as S3 counts it: every name and value.
fn metadata_bytes(metadata: &[(String, String)]) -> u64 {
    metadata
        .iter()
        .map(|(k, v)| (k.len() + v.len()) as u64)
        .sum()
}
