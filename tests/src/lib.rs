//! Support for the end-to-end tests: where the built plugins are, a shared engine, a
//! harness that runs events through the real pipeline, and a local Lambda Runtime API.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use s3plug_host::Config;
use s3plug_host::Pipeline;
use s3plug_host::event;
use s3plug_host::outcome::RecordOutcome;
use s3plug_host::plugin::CompileCache;
use s3plug_host::store::{MemoryStore, ObjectStore, PutOptions};
use serde_json::{Value, json};

include!(concat!(env!("OUT_DIR"), "/guests.rs"));

pub mod dev;
pub mod moto;

pub mod runtime_api;

pub mod tool_build;

/// The runtime of the tests' own async calls (stores, pipelines), shared by every test of
/// the binary, as one process has one runtime.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("the test runtime starts")
    })
}

/// Runs a future to completion on the [`runtime`], from a plain test.
pub fn block_on<F: Future>(future: F) -> F::Output {
    runtime().block_on(future)
}

/// An object body read from plain test code, each read waiting on the [`runtime`].
pub struct BlockingRead(pub Box<dyn tokio::io::AsyncRead + Send + Unpin>);

impl std::fmt::Debug for BlockingRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingRead").finish_non_exhaustive()
    }
}

impl std::io::Read for BlockingRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        block_on(tokio::io::AsyncReadExt::read(&mut self.0, buf))
    }
}

/// One engine for every test of the binary, as in a real process.
pub fn engine() -> &'static wasmtime::Engine {
    static ENGINE: OnceLock<wasmtime::Engine> = OnceLock::new();
    ENGINE.get_or_init(|| s3plug_host::plugin::new_engine().expect("the engine starts"))
}

/// The compile cache shared by test runs, so a plugin is compiled once per change.
pub fn compile_cache() -> CompileCache {
    CompileCache::new(COMPILE_CACHE)
}

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the repository")
        .to_path_buf()
}

/// The `s3plug` binary next to the test binary: `cargo test --workspace` (scripts/test)
/// builds it, for host/tests/binary.rs, with the same features as the tests.
pub fn s3plug_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary has a path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binaries live in <target>/<profile>/deps");
    let bin = profile_dir.join("s3plug");
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo test --workspace` (scripts/test), which builds it",
        bin.display()
    );
    bin
}

/// Why the plugins of `config` do not load (panics when they do).
pub fn load_error(config: &Config) -> String {
    let objects: Arc<dyn ObjectStore> = Arc::new(MemoryStore::new());
    match block_on(Pipeline::new(
        engine(),
        config,
        objects,
        Some(&compile_cache()),
    )) {
        Ok(_) => panic!("the plugins loaded"),
        // The error and its causes, as the command line prints them.
        Err(err) => format!("{:#}", anyhow::Error::new(err)),
    }
}

/// A configuration and an in-memory store, with every plugin loaded.
#[derive(Debug)]
pub struct Harness {
    pub dir: tempfile::TempDir,
    pub store: MemoryStore,
    pub pipeline: Pipeline,
}

impl Harness {
    /// Loads `config` (TOML text) over a fresh in-memory store.
    pub fn new(config: &str) -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("s3plug.toml");
        std::fs::write(&path, config).expect("the config is written");
        let config = Config::load(&path).unwrap_or_else(|err| panic!("config refused: {err}"));
        Self::from_config(dir, &config)
    }

    /// Loads a configuration that was built or changed in code, bypassing the checks of
    /// `Config::load`, to test what the host does at run time when they are not enough.
    pub fn from_config(dir: tempfile::TempDir, config: &Config) -> Self {
        let store = MemoryStore::new();
        let objects: Arc<dyn ObjectStore> = Arc::new(store.clone());
        let pipeline = block_on(Pipeline::new(
            engine(),
            config,
            objects,
            Some(&compile_cache()),
        ))
        .unwrap_or_else(|err| panic!("plugins did not load: {err}"));
        Self {
            dir,
            store,
            pipeline,
        }
    }

    /// Stores an object.
    pub fn put(&self, bucket: &str, key: &str, body: &[u8]) {
        self.store
            .put(bucket, key, body, &PutOptions::default())
            .expect("the memory store takes any object");
    }

    /// Runs an event (JSON) through the pipeline.
    pub fn run(&self, event: &Value) -> Vec<RecordOutcome> {
        let decoded = event::decode_value(event.clone()).expect("the event decodes");
        block_on(self.pipeline.process(&decoded))
    }
}

/// One record of a hand-made S3 notification; `raw_key` is put in the event as it is, so
/// tests choose the encoding.
#[derive(Debug, Clone)]
pub struct RawRecord<'a> {
    pub bucket: &'a str,
    pub raw_key: &'a str,
    pub event_name: &'a str,
    pub size: Option<u64>,
}

impl<'a> RawRecord<'a> {
    /// An `ObjectCreated:Put` of `raw_key`.
    pub fn put(bucket: &'a str, raw_key: &'a str) -> Self {
        Self {
            bucket,
            raw_key,
            event_name: "ObjectCreated:Put",
            size: Some(1),
        }
    }
}

/// An S3 notification with the given records, with every field AWS sends.
pub fn s3_event(records: &[RawRecord<'_>]) -> Value {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let records: Vec<Value> = records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut object = json!({ "key": r.raw_key, "sequencer": format!("{:016X}", i + 1) });
            if let Some(size) = r.size {
                object["size"] = json!(size);
                object["eTag"] = json!("0123456789abcdef0123456789abcdef");
            }
            json!({
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                // Now, as S3 stamps a notification with the time of the change.
                "eventTime": now,
                "eventName": r.event_name,
                "userIdentity": { "principalId": "EXAMPLE" },
                "requestParameters": { "sourceIPAddress": "127.0.0.1" },
                "responseElements": { "x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRj" },
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "test",
                    "bucket": { "name": r.bucket, "ownerIdentity": { "principalId": "EXAMPLE" }, "arn": format!("arn:aws:s3:::{}", r.bucket) },
                    "object": object,
                }
            })
        })
        .collect();
    json!({ "Records": records })
}

/// The outcome of the record at `record` for `plugin`.
pub fn outcome_of<'a>(
    outcomes: &'a [RecordOutcome],
    record: usize,
    plugin: &str,
) -> &'a RecordOutcome {
    outcomes
        .iter()
        .find(|o| o.record == record && o.plugin.as_deref() == Some(plugin))
        .unwrap_or_else(|| {
            panic!("no outcome for record {record} and plugin {plugin:?} in {outcomes:#?}")
        })
}

/// Runs the `s3plug` binary with the tests' compile cache, feeding `stdin` if given, and
/// returns what it printed.
pub fn run_s3plug(args: &[&str], stdin: Option<&[u8]>) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut command = Command::new(s3plug_bin());
    command
        .args(args)
        .env("S3PLUG_CACHE_DIR", COMPILE_CACHE)
        .env_remove("S3PLUG_LOG")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("s3plug starts");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("piped")
            .write_all(input)
            .expect("stdin written");
    }
    child.wait_with_output().expect("s3plug ends")
}

/// The JSON lines a command printed on stdout (`s3plug run`'s outcomes).
pub fn json_lines(output: &std::process::Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|err| panic!("not JSON: {line:?}: {err}"))
        })
        .collect()
}

/// What a command printed on stderr.
pub fn stderr_text(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
