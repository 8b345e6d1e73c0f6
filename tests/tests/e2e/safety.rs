//! The safety contract against a hostile plugin, through the `s3plug` binary: a call's wall
//! time is bounded whatever it waits on, open handles are bounded, what the host copies or
//! logs for a plugin is bounded, and loops through deletes stop at `max_depth`. Each hostile
//! record sits between good records of the same event, and those must succeed.
//!
//! Every run of the binary is killed after [`HARD_KILL`], so that a host that hangs fails
//! its test instead of hanging the suite.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use s3plug_host::store::{DirStore, ObjectStore, PutOptions};
use s3plug_tests::dev::DevServer;
use s3plug_tests::moto::MotoServer;
use s3plug_tests::{COMPILE_CACHE, RawRecord, TESTGUEST, block_on, s3_event, s3plug_bin};
use serde_json::Value;

/// How long any one run of the binary may take before it is killed.
const HARD_KILL: Duration = Duration::from_secs(60);

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;

// ---------------------------------------------------------------------------------------
// Running the binary

/// What a run printed, how it ended, and how long it took.
struct Finished {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    elapsed: Duration,
}

impl Finished {
    /// The outcome lines on stdout; a run that printed none (a refused config, a crash)
    /// fails the test with its stderr.
    fn outcomes(&self) -> Vec<Value> {
        let lines: Vec<Value> = String::from_utf8_lossy(&self.stdout)
            .lines()
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|err| {
                    panic!("not JSON ({err}): {}", cut_for_message(line.as_bytes()))
                })
            })
            .collect();
        assert!(
            !lines.is_empty(),
            "s3plug printed no outcome ({}); stderr: {}",
            self.status,
            cut_for_message(&self.stderr)
        );
        lines
    }

    fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// At most the first and last 2 KiB of some output, for an assertion message.
fn cut_for_message(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.len() <= 4 * KIB {
        return text.into_owned();
    }
    let head = text.floor_char_boundary(2 * KIB);
    let tail = text.ceil_char_boundary(text.len() - 2 * KIB);
    format!(
        "{} [... {} bytes ...] {}",
        &text[..head],
        tail - head,
        &text[tail..]
    )
}

/// Reads a pipe to its end on a thread of its own.
fn drain(pipe: Option<impl Read + Send + 'static>) -> JoinHandle<Vec<u8>> {
    let mut pipe = pipe.expect("piped");
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    })
}

/// Runs a command to its end, killing it after [`HARD_KILL`].
fn finish(mut command: Command) -> Finished {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = command.spawn().expect("s3plug starts");
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let status = loop {
        if let Some(status) = child.try_wait().expect("the child can be waited for") {
            break status;
        }
        if started.elapsed() > HARD_KILL {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = stderr.join().unwrap_or_default();
            panic!(
                "s3plug did not end within {HARD_KILL:?} and was killed; stderr: {}",
                cut_for_message(&stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = started.elapsed();
    Finished {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
        elapsed,
    }
}

/// A folder with a config, an event and a `dir:` store, for runs of the binary.
struct Scene {
    dir: tempfile::TempDir,
}

impl Scene {
    fn new(config: &str) -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        std::fs::write(dir.path().join("s3plug.toml"), config).expect("the config is written");
        Self { dir }
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("s3plug.toml")
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The `dir:` store the runs use.
    fn store(&self) -> DirStore {
        DirStore::new(self.data()).expect("the data folder opens")
    }

    fn put(&self, bucket: &str, key: &str, body: &[u8]) {
        block_on(self.store().put(bucket, key, body, &PutOptions::default()))
            .unwrap_or_else(|err| panic!("cannot store {bucket}/{key}: {err}"));
    }

    /// The `dir:` store argument.
    fn dir_store(&self) -> String {
        format!("dir:{}", self.data().display())
    }

    /// `s3plug ARGS` with the tests' compile cache and no log filter of the caller's.
    fn s3plug(&self, args: &[&str]) -> Command {
        let mut command = Command::new(s3plug_bin());
        command.args(args);
        with_test_env(&mut command);
        command
    }

    /// The arguments of `s3plug run` on `event` (written beside the config) and `store`.
    fn run_args(&self, event: &Value, store: &str) -> Vec<String> {
        let path = self.dir.path().join("event.json");
        std::fs::write(&path, event.to_string()).expect("the event is written");
        vec![
            "run".into(),
            "--config".into(),
            self.config().display().to_string(),
            "--event".into(),
            path.display().to_string(),
            "--store".into(),
            store.into(),
        ]
    }

    /// `s3plug run` on `event` and `store`.
    fn run(&self, event: &Value, store: &str) -> Command {
        let mut command = Command::new(s3plug_bin());
        command.args(self.run_args(event, store));
        with_test_env(&mut command);
        command
    }

    /// `s3plug run` in a shell that first lowers the open-file limit to `max_files`.
    fn run_with_fd_limit(&self, max_files: u32, event: &Value, store: &str) -> Command {
        let mut shell = Command::new("sh");
        shell
            .arg("-c")
            .arg(format!("ulimit -n {max_files} && exec \"$0\" \"$@\""))
            .arg(s3plug_bin())
            .args(self.run_args(event, store));
        with_test_env(&mut shell);
        shell
    }
}

/// The tests' compile cache, and no log settings of the caller's.
fn with_test_env(command: &mut Command) {
    command
        .env("S3PLUG_CACHE_DIR", COMPILE_CACHE)
        .env_remove("S3PLUG_LOG")
        .env_remove("NO_COLOR");
}

/// The outcome line of `key` (each key appears once in these events).
fn outcome<'a>(lines: &'a [Value], key: &str) -> &'a Value {
    let mut matching = lines.iter().filter(|line| line["key"] == key);
    let line = matching
        .next()
        .unwrap_or_else(|| panic!("no outcome for {key:?} in\n{}", brief(lines)));
    assert!(matching.next().is_none(), "two outcomes for {key:?}");
    line
}

/// Outcome lines for an assertion message, each cut to 300 bytes (a hostile one may be huge).
fn brief(lines: &[Value]) -> String {
    lines
        .iter()
        .map(|line| {
            let line = line.to_string();
            let end = line.floor_char_boundary(300);
            format!(
                "{}{}\n",
                &line[..end],
                if end < line.len() { "..." } else { "" }
            )
        })
        .collect()
}

fn text<'a>(line: &'a Value, field: &str) -> &'a str {
    line[field].as_str().unwrap_or_default()
}

/// Asserts that each `ok/...` key of the event was copied to `outbox/out/KEY`.
fn assert_copied(lines: &[Value], keys: &[&str], copied: impl Fn(&str) -> bool) {
    for key in keys {
        let line = outcome(lines, key);
        assert_eq!(
            (text(line, "status"), text(line, "plugin")),
            ("ok", "guest"),
            "a good record of the same event failed: {line:#}"
        );
        assert!(text(line, "message").starts_with("copied "), "{line:#}");
        assert!(copied(key), "{key} was not copied to outbox/out/{key}");
    }
}

/// The one plugin of these tests: the test guest on `inbox`, writing to `outbox/out/`.
fn guest_config(host: &str, limits: &str, settings: &str) -> String {
    format!(
        r#"
{host}
[[plugin]]
name = "guest"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "inbox" }}
write = ["outbox/out/"]
limits = {{ {limits} }}
config = {{ out_bucket = "outbox"{settings} }}
"#
    )
}

/// The good records around each hostile one.
const BEFORE: &str = "ok/before.txt";
const AFTER: &str = "ok/after.txt";

/// Runs `hostile` keys between [`BEFORE`] and [`AFTER`] in one event on a `dir:` store,
/// checks that both good records were copied, and returns the run.
fn run_between_good_records(
    scene: &Scene,
    hostile: &[&str],
    prepare: impl FnOnce(&mut Command),
) -> (Finished, Vec<Value>) {
    scene.put("inbox", BEFORE, b"before");
    for key in hostile {
        scene.put("inbox", key, b"payload");
    }
    scene.put("inbox", AFTER, b"after");
    let mut keys = vec![BEFORE];
    keys.extend_from_slice(hostile);
    keys.push(AFTER);
    let records: Vec<_> = keys.iter().map(|k| RawRecord::put("inbox", k)).collect();
    let mut command = scene.run(&s3_event(&records), &scene.dir_store());
    prepare(&mut command);
    let finished = finish(command);
    let lines = finished.outcomes();
    assert_eq!(lines.len(), keys.len(), "{}", brief(&lines));
    let store = scene.store();
    assert_copied(&lines, &[BEFORE, AFTER], |key| {
        block_on(store.head("outbox", &format!("out/{key}"))).is_ok()
    });
    (finished, lines)
}

/// Asserts a `timeout` failure of a call stopped past `timeout_ms`, and prints how long the
/// call took.
fn assert_timed_out(line: &Value, timeout_ms: u64) {
    assert_eq!(text(line, "status"), "failed", "{line:#}");
    assert_eq!(text(line, "reason"), "timeout", "{line:#}");
    let error = text(line, "error");
    assert!(
        error.starts_with("timeout: stopped after ")
            && error.ends_with(&format!(" ms, past limits.timeout_ms = {timeout_ms}")),
        "{error}"
    );
    let ms = line["duration_ms"].as_f64().unwrap_or_default();
    println!(
        "{}: stopped after {ms:.1} ms with timeout_ms = {timeout_ms}",
        text(line, "key")
    );
    assert!(
        ms >= timeout_ms as f64 - 10.0,
        "stopped before its time-out: {ms} ms"
    );
}

// ---------------------------------------------------------------------------------------
// A. Time: `timeout_ms` bounds the wall time of a call, whatever it waits on

#[test]
fn a_plugin_asleep_in_a_wasi_wait_is_stopped_at_its_timeout() {
    let scene = Scene::new(&guest_config("", "timeout_ms = 200", ""));
    let (finished, lines) = run_between_good_records(&scene, &["sleep/x"], |_| {});
    assert_timed_out(outcome(&lines, "sleep/x"), 200);
    println!("the whole run took {:?}", finished.elapsed);
    assert!(
        finished.elapsed < Duration::from_secs(10),
        "the run took {:?}: the 30 s sleep was waited out",
        finished.elapsed
    );
}

#[test]
fn a_plugin_polling_the_clock_between_short_sleeps_is_stopped_at_its_timeout() {
    let scene = Scene::new(&guest_config("", "timeout_ms = 200", ""));
    let (finished, lines) = run_between_good_records(&scene, &["busy-poll/x"], |_| {});
    assert_timed_out(outcome(&lines, "busy-poll/x"), 200);
    assert!(
        finished.elapsed < Duration::from_secs(10),
        "{:?}",
        finished.elapsed
    );
}

/// A TCP server that accepts every connection and never answers, holding the connections
/// open until it is dropped.
struct StalledServer {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl StalledServer {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port on 127.0.0.1");
        let port = listener.local_addr().expect("bound").port();
        listener.set_nonblocking(true).expect("non-blocking");
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut held: Vec<TcpStream> = Vec::new();
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => held.push(stream),
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Self {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for StalledServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[test]
fn a_store_that_never_answers_is_cut_off_at_the_timeout() {
    let stalled = StalledServer::start();
    let scene = Scene::new(&guest_config("", "timeout_ms = 1500", ""));
    // `echo` needs no object: those records succeed with a store that never answers.
    let keys = ["echo/before", "ok/x", "echo/after"];
    let records: Vec<_> = keys.iter().map(|k| RawRecord::put("inbox", k)).collect();
    let mut command = scene.run(
        &s3_event(&records),
        &format!("s3:http://127.0.0.1:{}", stalled.port),
    );
    command
        .env("AWS_ACCESS_KEY_ID", "stalled-test-key")
        .env("AWS_SECRET_ACCESS_KEY", "stalled-test-secret")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
    for name in [
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "S3PLUG_S3_VIRTUAL_HOSTED",
    ] {
        command.env_remove(name);
    }
    let finished = finish(command);
    println!("the run took {:?}", finished.elapsed);
    let lines = finished.outcomes();
    for key in ["echo/before", "echo/after"] {
        let line = outcome(&lines, key);
        assert_eq!(text(line, "status"), "ok", "{line:#}");
    }
    assert_timed_out(outcome(&lines, "ok/x"), 1500);
    assert!(
        finished.elapsed < Duration::from_secs(15),
        "the run took {:?}",
        finished.elapsed
    );
}

// ---------------------------------------------------------------------------------------
// B. Open handles: `limits.max_open` bounds the readers and writers open at once

/// Asserts the `hold-readers` record failed at `max_open`, after exactly `max_open` readers.
fn assert_stopped_at_max_open(line: &Value, max_open: u32) {
    assert_eq!(text(line, "status"), "failed", "{line:#}");
    assert_eq!(text(line, "reason"), "limit-exceeded", "{line:#}");
    let error = text(line, "error");
    assert!(error.contains(&format!("max_open ({max_open})")), "{error}");
    assert!(
        error.contains(&format!(
            "opening reader {} with {max_open} open",
            max_open + 1
        )),
        "the reader past max_open is the one refused: {error}"
    );
}

#[test]
fn holding_readers_open_is_stopped_at_the_default_max_open() {
    let scene = Scene::new(&guest_config("", "", ""));
    let (_, lines) = run_between_good_records(&scene, &["hold-readers/x"], |_| {});
    assert_stopped_at_max_open(outcome(&lines, "hold-readers/x"), 64);
}

#[test]
fn a_lower_max_open_is_obeyed() {
    let scene = Scene::new(&guest_config("", "max_open = 5", ""));
    let (_, lines) = run_between_good_records(&scene, &["hold-readers/x"], |_| {});
    assert_stopped_at_max_open(outcome(&lines, "hold-readers/x"), 5);
}

/// The event of the file-limit tests: the reader hog second, then good records that run,
/// two calls at a time, while the hog holds what it opened.
const HOG: &str = "hold-readers/x";
const GOOD: [&str; 6] = ["ok/1", "ok/2", "ok/3", "ok/4", "ok/5", "ok/6"];

fn fd_limit_event() -> Value {
    let mut keys = vec![GOOD[0], HOG];
    keys.extend_from_slice(&GOOD[1..]);
    s3_event(
        &keys
            .iter()
            .map(|k| RawRecord::put("inbox", k))
            .collect::<Vec<_>>(),
    )
}

/// Two calls at a time, and a hog that keeps its readers 2 s before it returns.
fn fd_limit_config() -> String {
    guest_config("[host]\nconcurrency = 2\n", "", r#", hold_ms = "2000""#)
}

/// Asserts the hog failed at `max_open` and every good record was copied.
fn assert_hog_failed_alone(finished: &Finished, copied: impl Fn(&str) -> bool) {
    let lines = finished.outcomes();
    assert_eq!(lines.len(), 1 + GOOD.len(), "{}", brief(&lines));
    let hog = outcome(&lines, HOG);
    assert_stopped_at_max_open(hog, 64);
    assert_copied(&lines, &GOOD, copied);
}

#[test]
fn a_reader_hog_under_a_low_file_limit_fails_alone_on_a_dir_store() {
    let scene = Scene::new(&fd_limit_config());
    for key in GOOD.iter().chain([&HOG]) {
        scene.put("inbox", key, &[b'x'; 64 * KIB]);
    }
    let finished = finish(scene.run_with_fd_limit(256, &fd_limit_event(), &scene.dir_store()));
    let store = scene.store();
    assert_hog_failed_alone(&finished, |key| {
        block_on(store.head("outbox", &format!("out/{key}"))).is_ok()
    });
}

#[test]
fn a_reader_hog_under_a_low_file_limit_fails_alone_on_s3() {
    let moto = MotoServer::start();
    moto.create_buckets(&["inbox", "outbox"]);
    let s3 = moto.store();
    for key in GOOD.iter().chain([&HOG]) {
        block_on(s3.put("inbox", key, &[b'x'; 64 * KIB], &PutOptions::default()))
            .expect("stored in moto");
    }
    let scene = Scene::new(&fd_limit_config());
    let mut command =
        scene.run_with_fd_limit(256, &fd_limit_event(), &format!("s3:{}", moto.endpoint()));
    moto.apply_env(&mut command);
    let finished = finish(command);
    assert_hog_failed_alone(&finished, |key| {
        block_on(s3.head("outbox", &format!("out/{key}"))).is_ok()
    });
}

// ---------------------------------------------------------------------------------------
// C. Bounded output: what the host copies, logs or stores for a plugin

/// The most an outcome line may take on stdout, whatever the plugin returned.
const MAX_OUTCOME_LINE: usize = 64 * KIB;

/// Asserts that `value` is the start of a text of repeated `fill` characters, cut with a
/// short marker that says so.
fn assert_cut(value: &str, fill: char) {
    let rest = value.trim_start_matches(fill);
    let kept = value.len() - rest.len();
    assert!(kept > 0, "nothing of the text was kept: {value:.200}");
    assert!(
        rest.contains("cut") && rest.len() < 200,
        "the text does not end with a short marker that says it was cut: ...{:?}",
        &value[value.floor_char_boundary(value.len().saturating_sub(200))..]
    );
}

/// The outcome line of `key` on stdout, checked to be under [`MAX_OUTCOME_LINE`].
fn bounded_line(finished: &Finished, key: &str) -> Value {
    let stdout = String::from_utf8_lossy(&finished.stdout);
    let line = stdout
        .lines()
        .find(|line| line.contains(&format!("\"key\":\"{key}\"")))
        .unwrap_or_else(|| panic!("no outcome line for {key}"));
    assert!(
        line.len() < MAX_OUTCOME_LINE,
        "the outcome line of {key} is {} bytes",
        line.len()
    );
    serde_json::from_str(line).expect("an outcome line is JSON")
}

#[test]
fn denials_of_long_names_are_counted_but_never_logged_whole() {
    let scene = Scene::new(&guest_config("", "", ""));
    let (finished, lines) = run_between_good_records(&scene, &["deny-long-names/x"], |_| {});
    let line = outcome(&lines, "deny-long-names/x");
    assert_eq!(text(line, "status"), "ok", "{line:#}");
    assert!(
        text(line, "message").starts_with("200 of 200 calls denied"),
        "{line:#}"
    );
    assert_eq!(line["usage"]["denials"], 200, "{line:#}");
    assert!(
        finished.stderr.len() < MIB,
        "200 denials of a 1 MiB name wrote {} bytes to stderr",
        finished.stderr.len()
    );
    assert!(
        finished.stderr_text().contains("denied"),
        "the denials are logged: {}",
        cut_for_message(&finished.stderr)
    );
}

#[test]
fn a_huge_message_is_cut_in_the_outcome_line() {
    // Room for the guest to build the text.
    let scene = Scene::new(&guest_config("", "memory_mib = 1024", ""));
    let (finished, _) = run_between_good_records(&scene, &["huge-message/20/x"], |_| {});
    let line = bounded_line(&finished, "huge-message/20/x");
    assert_eq!(text(&line, "status"), "ok", "{line:.300}");
    assert_cut(text(&line, "message"), 'm');
}

#[test]
fn a_huge_error_is_cut_in_the_outcome_line_and_the_log() {
    // Room for the guest to build the text and format it as an error, three copies at once.
    let scene = Scene::new(&guest_config("", "memory_mib = 1024", ""));
    let (finished, _) = run_between_good_records(&scene, &["huge-error/20/x"], |_| {});
    let line = bounded_line(&finished, "huge-error/20/x");
    assert_eq!(text(&line, "status"), "failed", "{line:.300}");
    assert_eq!(text(&line, "reason"), "plugin-error", "{line:.300}");
    let error = text(&line, "error");
    let cut = error
        .strip_prefix("plugin-error: ")
        .unwrap_or_else(|| panic!("{error:.300}"));
    assert_cut(cut, 'e');
    assert!(
        finished.stderr.len() < MAX_OUTCOME_LINE,
        "the failure's log took {} bytes of stderr",
        finished.stderr.len()
    );
}

/// Past the host's copy limit (32 MiB in one call) a result is not even copied: the record
/// fails as a limit, and the line and the log stay small.
#[test]
fn a_result_past_the_hosts_copy_limit_fails_alone_as_a_limit() {
    let scene = Scene::new(&guest_config("", "memory_mib = 1024", ""));
    for key in ["huge-message/100/x", "huge-error/100/x"] {
        let (finished, _) = run_between_good_records(&scene, &[key], |_| {});
        let line = bounded_line(&finished, key);
        assert_eq!(text(&line, "status"), "failed", "{line:.300}");
        assert_eq!(text(&line, "reason"), "limit-exceeded", "{line:.300}");
        assert!(
            text(&line, "error").contains("more than 32 MiB"),
            "{line:.300}"
        );
        assert!(
            finished.stderr.len() < MAX_OUTCOME_LINE,
            "{key}: stderr too large"
        );
    }
}

#[test]
fn user_metadata_past_s3s_2_kib_is_too_large_and_writes_nothing() {
    let scene = Scene::new(&guest_config("", "", ""));
    let huge = format!("big-metadata/{}/x", 20 * MIB);
    let (huge, over, under) = (huge.as_str(), "big-metadata/3072/x", "big-metadata/1536/x");
    let (_, lines) = run_between_good_records(&scene, &[huge, over, under], |_| {});
    let store = scene.store();
    for key in [huge, over] {
        let line = outcome(&lines, key);
        assert_eq!(
            text(line, "message"),
            "put: too-large",
            "{:.300}",
            line.to_string()
        );
        assert!(
            block_on(store.head("outbox", &format!("out/{key}"))).is_err(),
            "{key}: the refused put left an object"
        );
    }
    let line = outcome(&lines, under);
    assert_eq!(text(line, "message"), "put: stored", "{line:#}");
    let stored = block_on(store.head("outbox", &format!("out/{under}")))
        .expect("1.5 KiB of metadata is stored");
    let pad = stored
        .metadata
        .iter()
        .find(|(name, _)| name == "pad")
        .map(|(_, value)| value.len());
    assert_eq!(pad, Some(1536 - "pad".len()), "{stored:?}");
}

#[test]
fn a_forged_log_line_and_escape_codes_never_reach_stderr_raw() {
    let scene = Scene::new(&guest_config("", "", ""));
    let (finished, lines) = run_between_good_records(&scene, &["log-inject/x"], |command| {
        command.args(["--log-format", "text"]);
    });
    let line = outcome(&lines, "log-inject/x");
    assert_eq!(text(line, "message"), "logged", "{line:#}");
    let stderr = finished.stderr_text();
    assert!(
        stderr.contains("forged host line"),
        "the plugin's line is logged: {stderr}"
    );
    for printed in stderr.lines() {
        assert!(
            !printed.starts_with("2026-01-01T00:00:00.000000Z"),
            "a plugin forged a host log line: {stderr}"
        );
    }
    assert!(
        !stderr.contains("\x1b[31mred"),
        "the plugin's escape sequence is on stderr raw: {stderr:?}"
    );
    assert!(
        !finished.stderr.contains(&0x1b),
        "stderr holds an escape byte (the host's own colours on a pipe count too): {stderr:?}"
    );
}

#[test]
fn a_put_of_200_mib_is_too_large_and_not_a_trap() {
    let scene = Scene::new(&guest_config("", "memory_mib = 512", ""));
    let (_, lines) = run_between_good_records(&scene, &["put-huge/x"], |_| {});
    let line = outcome(&lines, "put-huge/x");
    assert_eq!(text(line, "status"), "ok", "{line:#}");
    assert_eq!(text(line, "message"), "put: too-large", "{line:#}");
    assert!(
        block_on(scene.store().head("outbox", "out/put-huge/x")).is_err(),
        "the refused put left an object"
    );
}

#[test]
fn a_put_past_the_hosts_copy_limit_through_the_wit_fails_alone_as_a_limit() {
    let scene = Scene::new(&guest_config("", "memory_mib = 512", ""));
    let (_, lines) = run_between_good_records(&scene, &["put-huge-raw/x"], |_| {});
    let line = outcome(&lines, "put-huge-raw/x");
    assert_eq!(text(line, "status"), "failed", "{line:#}");
    assert_eq!(text(line, "reason"), "limit-exceeded", "{line:#}");
    assert!(
        text(line, "error").contains("more than 32 MiB to the host in one call"),
        "{line:#}"
    );
    assert!(block_on(scene.store().head("outbox", "out/put-huge-raw/x")).is_err());
}

// ---------------------------------------------------------------------------------------
// D. Loops through deletes: the depth of a deletion is kept under `[host] state`

/// Where the host keeps its state in the loop tests.
const HOST_STATE: &str = "[host]\nstate = \"s3plug-state/s3plug/\"\n";

/// One plugin that deletes what triggered it and puts it back when told of the deletion.
fn ping_pong_config(host: &str) -> String {
    format!(
        r#"
{host}
[[plugin]]
name = "pingpong"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "loop", prefix = "ping-pong/", events = ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"] }}
write = ["loop/ping-pong/"]
max_depth = 2
"#
    )
}

/// `a` deletes `b/KEY` when `a/KEY` is created; `b` puts `a/KEY` when `b/KEY` is removed.
fn delete_cycle_config(host: &str) -> String {
    format!(
        r#"
{host}
[[plugin]]
name = "a"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "loop", prefix = "a/" }}
write = ["loop/b/"]
max_depth = 2
config = {{ mode = "ping-pong", peer_prefix = "b/" }}

[[plugin]]
name = "b"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "loop", prefix = "b/", events = ["s3:ObjectRemoved:*"] }}
write = ["loop/a/"]
max_depth = 2
config = {{ mode = "ping-pong", peer_prefix = "a/" }}
"#
    )
}

/// One hop of a chain: the record an earlier write caused, and how each plugin took it.
#[derive(Debug)]
struct Hop {
    event: &'static str,
    key: String,
    lines: Vec<Value>,
}

/// The most hops a chain is followed: past any `max_depth` of these tests.
const MAX_HOPS: usize = 8;

/// `config` with a plugin beside the loop that copies `loop/ok/KEY` to
/// `copies/out/ok/KEY`: the good records around each record of a chain.
fn with_copier(config: &str) -> String {
    format!(
        r#"{config}
[[plugin]]
name = "copier"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "loop", prefix = "ok/" }}
write = ["copies/out/"]
config = {{ mode = "ok", out_bucket = "copies" }}
"#
    )
}

/// Plays S3's part with `s3plug run`: the write each call reports (`deleted loop/KEY` or
/// `put loop/KEY`) becomes the record of the next run, until no call writes. Every run has
/// the chain's record between two good records, which must be copied.
fn follow_chain(scene: &Scene, first_key: &str) -> Vec<Hop> {
    scene.put("loop", BEFORE, b"before");
    scene.put("loop", AFTER, b"after");
    let mut hops: Vec<Hop> = Vec::new();
    let mut next = Some(("ObjectCreated:Put", first_key.to_owned()));
    while let Some((event, key)) = next.take() {
        if hops.len() == MAX_HOPS {
            break;
        }
        let mut record = RawRecord::put("loop", &key);
        record.event_name = event;
        if event.starts_with("ObjectRemoved:") {
            record.size = None;
        }
        let records = [
            RawRecord::put("loop", BEFORE),
            record,
            RawRecord::put("loop", AFTER),
        ];
        let finished = finish(scene.run(&s3_event(&records), &scene.dir_store()));
        let (good, lines): (Vec<Value>, Vec<Value>) = finished
            .outcomes()
            .into_iter()
            .partition(|line| line["plugin"] == "copier");
        let store = scene.store();
        for key in [BEFORE, AFTER] {
            let line = outcome(&good, key);
            assert_eq!(text(line, "status"), "ok", "a good record failed: {line:#}");
            block_on(store.head("copies", &format!("out/{key}")))
                .unwrap_or_else(|err| panic!("{key} was not copied: {err}"));
        }
        for line in &lines {
            let message = text(line, "message");
            if text(line, "status") != "ok" {
                continue;
            }
            let written = if let Some(object) = message.strip_prefix("deleted loop/") {
                Some(("ObjectRemoved:Delete", object))
            } else {
                message
                    .strip_prefix("put loop/")
                    .map(|object| ("ObjectCreated:Put", object))
            };
            if let Some((event, object)) = written {
                assert!(next.is_none(), "one write per hop: {lines:#?}");
                next = Some((event, object.to_owned()));
            }
        }
        hops.push(Hop { event, key, lines });
    }
    hops
}

/// Asserts one hop: its record, the plugin that took it, its status and its message.
fn assert_hop(hop: &Hop, expected: Step) {
    let (event, key, plugin, status, message) = expected;
    assert_eq!((hop.event, hop.key.as_str()), (event, key), "{hop:#?}");
    let [line] = hop.lines.as_slice() else {
        panic!("one outcome per hop: {hop:#?}");
    };
    assert_eq!(
        (text(line, "plugin"), text(line, "status")),
        (plugin, status),
        "{hop:#?}"
    );
    assert!(text(line, "message").starts_with(message), "{hop:#?}");
}

/// The message of a stop at depth 2.
const STOPPED_AT_2: &str = "object is 2 s3plug writes deep, max_depth = 2";

const CREATED: &str = "ObjectCreated:Put";
const REMOVED: &str = "ObjectRemoved:Delete";

/// One expected step of a chain: the record's event and key, the plugin that takes it, its
/// status, and the start of its message (the next step's record is the object written).
type Step = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

const PING: &str = "ping-pong/x";

/// The ping-pong chain from the user's `ping-pong/x` (depth 0): the call at depth 0 deletes
/// it, a deletion 1 deep; putting it back makes an object 2 deep, which is stopped.
const PING_PONG_CHAIN: [Step; 3] = [
    (CREATED, PING, "pingpong", "ok", "deleted loop/"),
    (REMOVED, PING, "pingpong", "ok", "put loop/"),
    (CREATED, PING, "pingpong", "loop-stopped", STOPPED_AT_2),
];

/// The two-plugin chain from the user's `a/x` (depth 0): `a` deletes `b/x` (1 deep), `b`
/// puts `a/x` back (2 deep), and `a` is stopped.
const DELETE_CYCLE_CHAIN: [Step; 3] = [
    (CREATED, "a/x", "a", "ok", "deleted loop/b/x"),
    (REMOVED, "b/x", "b", "ok", "put loop/a/x"),
    (CREATED, "a/x", "a", "loop-stopped", STOPPED_AT_2),
];

fn depth_of(store: &dyn ObjectStore, key: &str) -> Option<String> {
    block_on(store.head("loop", key))
        .ok()?
        .metadata
        .into_iter()
        .find(|(name, _)| name == "s3plug-depth")
        .map(|(_, depth)| depth)
}

#[test]
fn a_plugin_re_creating_what_it_deletes_stops_at_max_depth() {
    let scene = Scene::new(&with_copier(&ping_pong_config(HOST_STATE)));
    scene.put("loop", PING, b"ping");
    let hops = follow_chain(&scene, PING);
    assert_eq!(hops.len(), PING_PONG_CHAIN.len(), "{hops:#?}");
    for (hop, expected) in hops.iter().zip(PING_PONG_CHAIN) {
        assert_hop(hop, expected);
    }
    assert_eq!(depth_of(&scene.store(), PING).as_deref(), Some("2"));
}

#[test]
fn a_two_plugin_cycle_through_a_delete_stops_at_max_depth() {
    let scene = Scene::new(&with_copier(&delete_cycle_config(HOST_STATE)));
    scene.put("loop", "a/x", b"a");
    scene.put("loop", "b/x", b"b");
    let hops = follow_chain(&scene, "a/x");
    assert_eq!(hops.len(), DELETE_CYCLE_CHAIN.len(), "{hops:#?}");
    for (hop, expected) in hops.iter().zip(DELETE_CYCLE_CHAIN) {
        assert_hop(hop, expected);
    }
    let store = scene.store();
    assert_eq!(depth_of(&store, "a/x").as_deref(), Some("2"));
    assert!(
        block_on(store.head("loop", "b/x")).is_err(),
        "b/x stays deleted"
    );
}

#[test]
fn a_cycle_through_a_delete_without_host_state_is_refused_by_check() {
    for (name, config) in [
        ("ping-pong", ping_pong_config("")),
        ("delete cycle", delete_cycle_config("")),
    ] {
        let scene = Scene::new(&config);
        let config = scene.config().display().to_string();
        let finished = finish(scene.s3plug(&["check", "--config", &config]));
        let stderr = finished.stderr_text();
        assert_eq!(
            finished.status.code(),
            Some(2),
            "{name}: check accepted a cycle through a delete without [host] state: {}{stderr}",
            String::from_utf8_lossy(&finished.stdout)
        );
        assert!(stderr.contains("[host] state"), "{name}: {stderr}");
    }
    // The same cycle through puts alone needs no state: its depth is in every object.
    let scene = Scene::new(&crate::loops::chain(Some(3), Some(3)));
    let config = scene.config().display().to_string();
    let finished = finish(scene.s3plug(&["check", "--config", &config]));
    assert!(
        finished.status.success(),
        "a cycle of puts is refused: {}",
        finished.stderr_text()
    );
}

/// `s3plug dev` on `config`, with a `data` folder beside it.
fn dev_with(dir: &Path, config: &str) -> DevServer {
    let path = dir.join("s3plug.toml");
    std::fs::write(&path, config).expect("config written");
    DevServer::start(&path, &dir.join("data"))
}

/// Waits for the outcomes of `expected` (event, key, plugin, status, message), then asserts
/// that no plugin runs on `loop` after them. Records run side by side, so a line may be
/// printed before the line of the call that led to it: the lines are matched in any order.
fn assert_live_chain(dev: &DevServer, expected: &[Step]) {
    let mut seen: Vec<Value> = expected
        .iter()
        .map(|&(_, key, plugin, _, _)| dev.outcome("loop", key, Some(plugin)))
        .collect();
    for &(event, key, plugin, status, message) in expected {
        let found = seen.iter().position(|line| {
            text(line, "event") == event
                && text(line, "key") == key
                && text(line, "plugin") == plugin
                && text(line, "status") == status
                && text(line, "message").starts_with(message)
        });
        let Some(found) = found else {
            panic!("no outcome {event} {key} {plugin} {status} {message:?} in {seen:#?}");
        };
        seen.remove(found);
    }
    let after = dev.lines_until_quiet(Duration::from_millis(1500));
    let runs: Vec<_> = after
        .iter()
        .filter(|line| line["bucket"] == "loop" || !line["plugin"].is_null())
        .collect();
    assert!(runs.is_empty(), "nothing runs after the stop: {runs:#?}");
}

#[test]
fn a_plugin_re_creating_what_it_deletes_stops_at_max_depth_live() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dev = dev_with(dir.path(), &ping_pong_config(HOST_STATE));
    block_on(
        dev.store()
            .put("loop", PING, b"ping", &PutOptions::default()),
    )
    .expect("uploaded");
    assert_live_chain(&dev, &PING_PONG_CHAIN);
    assert_eq!(depth_of(&dev.store(), PING).as_deref(), Some("2"));
    let (tally, _) = dev.stop();
    assert_eq!(
        (&tally["ok"], &tally["loop_stopped"], &tally["failed"]),
        (&2.into(), &1.into(), &0.into()),
        "{tally}"
    );
}

#[test]
fn a_two_plugin_cycle_through_a_delete_stops_at_max_depth_live() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dev = dev_with(dir.path(), &delete_cycle_config(HOST_STATE));
    block_on(dev.store().put("loop", "b/x", b"b", &PutOptions::default())).expect("uploaded");
    // No plugin takes the creation of b/x.
    let unrouted = dev.outcome("loop", "b/x", None);
    assert_eq!(text(&unrouted, "status"), "unrouted", "{unrouted:#}");
    block_on(dev.store().put("loop", "a/x", b"a", &PutOptions::default())).expect("uploaded");
    assert_live_chain(&dev, &DELETE_CYCLE_CHAIN);
    assert_eq!(depth_of(&dev.store(), "a/x").as_deref(), Some("2"));
    let (tally, _) = dev.stop();
    assert_eq!(
        (&tally["ok"], &tally["loop_stopped"], &tally["failed"]),
        (&2.into(), &1.into(), &0.into()),
        "{tally}"
    );
}

// ---------------------------------------------------------------------------------------
// E. Code and host state are out of plugins' reach

/// A victim loaded from `code/victim.wasm` in the store, and a writer whose grant is
/// `writer_grant`; with `[host] state` when given.
fn code_config(writer_grant: &str, state: &str) -> String {
    format!(
        r#"{state}
[[plugin]]
name = "victim"
wasm = "s3://code/victim.wasm"
trigger = {{ bucket = "inbox", prefix = "victim/" }}

[[plugin]]
name = "writer"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "inbox", prefix = "writer/" }}
write = ["{writer_grant}"]
"#
    )
}

/// `s3plug check` on a scene whose store holds the victim's code.
fn check_code_scene(config: &str) -> (Option<i32>, String) {
    let scene = Scene::new(config);
    std::fs::create_dir_all(scene.data().join("code")).expect("the code bucket");
    std::fs::copy(TESTGUEST, scene.data().join("code/victim.wasm")).expect("the victim");
    let config = scene.config().display().to_string();
    let store = scene.dir_store();
    let finished = finish(scene.s3plug(&["check", "--config", &config, "--store", &store]));
    (finished.status.code(), finished.stderr_text())
}

#[test]
fn a_plugin_that_could_replace_another_plugins_code_is_refused_at_load() {
    let (code, stderr) = check_code_scene(&code_config("code/", ""));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("the code of plugin \"victim\"") && stderr.contains("\"writer\""),
        "{stderr}"
    );
    // Obeyed: a grant beside the code loads, the victim from the store.
    let (code, stderr) = check_code_scene(&code_config("code-out/", ""));
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn a_plugin_that_could_forge_host_state_is_refused_at_load() {
    let state = "[host]\nstate = \"ops/s3plug/\"\n";
    for grant in ["ops/", "ops/s3plug/markers/"] {
        let (code, stderr) = check_code_scene(&code_config(grant, state));
        assert_eq!(code, Some(2), "{grant}: {stderr}");
        assert!(stderr.contains("the host's state"), "{grant}: {stderr}");
    }
    let (code, stderr) = check_code_scene(&code_config("ops-out/", state));
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn precompiled_code_from_a_bucket_is_refused_unless_pinned() {
    let config = code_config("out/", "").replace("s3://code/victim.wasm", "s3://code/victim.cwasm");
    let (code, stderr) = check_code_scene(&config);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("precompiled native code") && stderr.contains("sha256"),
        "{stderr}"
    );
}
