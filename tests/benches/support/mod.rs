//! What the benchmarks share: configurations of the test guest, events, a native twin of
//! the pipeline, a slow store, and the figures they print.
//!
//! Each bench binary uses part of it.
#![allow(dead_code, reason = "each bench binary uses a different part")]

pub mod figures;
pub mod native;
pub mod native_run;
pub mod slow_store;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use s3plug_host::Config;
use s3plug_host::plugin::{Allocator, CompileCache, EngineOptions};
use s3plug_host::store::ObjectStore;
use s3plug_tests::{RawRecord, s3_event};

/// The bucket every bench works in: objects under `in/` trigger, outputs go to `out/`.
pub const BUCKET: &str = "bench";

/// One `[[plugin]]` of the test guest in a given mode, triggered by `BUCKET/prefix`.
#[derive(Debug, Clone)]
pub struct GuestPlugin {
    pub name: String,
    /// The component: the test guest's `.wasm`, or a `.cwasm` compiled from it.
    pub wasm: PathBuf,
    pub prefix: String,
    /// `noop` or `upper`.
    pub mode: &'static str,
}

impl GuestPlugin {
    pub fn new(name: &str, wasm: &Path, prefix: &str, mode: &'static str) -> Self {
        Self {
            name: name.to_owned(),
            wasm: wasm.to_owned(),
            prefix: prefix.to_owned(),
            mode,
        }
    }

    fn toml(&self) -> String {
        format!(
            "[[plugin]]\n\
             name = {name:?}\n\
             wasm = {wasm:?}\n\
             trigger = {{ bucket = {BUCKET:?}, prefix = {prefix:?} }}\n\
             write = [\"{BUCKET}/out/\"]\n\
             limits = {{ timeout_ms = 600000 }}\n\
             config = {{ mode = {mode:?}, out_prefix = \"out/\" }}\n\n",
            name = self.name,
            wasm = self.wasm.display().to_string(),
            prefix = self.prefix,
            mode = self.mode,
        )
    }
}

/// The text of a configuration with these plugins.
pub fn config_text(concurrency: usize, plugins: &[GuestPlugin]) -> String {
    let mut text = format!("[host]\nconcurrency = {concurrency}\n\n");
    for plugin in plugins {
        text.push_str(&plugin.toml());
    }
    text
}

/// Writes a configuration into `dir` as `name` and loads it, as `s3plug run` would.
pub fn write_config(dir: &Path, name: &str, text: &str) -> (PathBuf, Config) {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("the config is written");
    let config = Config::load(&path).unwrap_or_else(|err| panic!("config refused: {err}"));
    (path, config)
}

/// An S3 notification for `keys` in [`BUCKET`], as the bytes a front end receives.
pub fn payload(keys: &[String]) -> Vec<u8> {
    let records: Vec<RawRecord<'_>> = keys.iter().map(|key| RawRecord::put(BUCKET, key)).collect();
    serde_json::to_vec(&s3_event(&records)).expect("an event serialises")
}

/// The engine `s3plug run` would build for `config`: pooling allocator when the system
/// allows it.
pub fn engine_for(config: &Config) -> (wasmtime::Engine, Allocator) {
    s3plug_host::plugin::new_engine_with(&EngineOptions::for_config(config))
        .expect("the engine starts")
}

/// The compile cache the tests share, so the benches do not compile the guest again.
pub fn compile_cache() -> CompileCache {
    CompileCache::new(s3plug_tests::COMPILE_CACHE)
}

/// The test guest precompiled for the host's engine, as `s3plug compile` makes it.
pub fn precompile_guest(dir: &Path) -> PathBuf {
    let wasm = std::fs::read(s3plug_tests::TESTGUEST).expect("the test guest is built");
    let options = EngineOptions {
        pooling: false,
        ..EngineOptions::default()
    };
    let (engine, _) = s3plug_host::plugin::new_engine_with(&options).expect("the engine starts");
    let compiled = engine
        .precompile_component(&wasm)
        .expect("the test guest compiles");
    let path = dir.join("testguest.cwasm");
    std::fs::write(&path, compiled).expect("the .cwasm is written");
    path
}

/// The report a front end prints: one JSON line per outcome.
pub fn report(outcomes: &[s3plug_host::outcome::RecordOutcome]) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 * outcomes.len());
    for outcome in outcomes {
        serde_json::to_writer(&mut out, outcome).expect("an outcome serialises");
        out.push(b'\n');
    }
    out
}

/// Asserts that every outcome is `ok`: a benchmark of failures measures nothing.
pub fn assert_all_ok(outcomes: &[s3plug_host::outcome::RecordOutcome], what: &str) {
    assert!(!outcomes.is_empty(), "{what}: no outcome");
    for outcome in outcomes {
        assert_eq!(
            outcome.status,
            s3plug_host::outcome::Status::Ok,
            "{what}: {outcome:?}"
        );
    }
}

/// A store shared by the pipeline and its native twin.
pub fn shared(store: &s3plug_host::store::MemoryStore) -> Arc<dyn ObjectStore> {
    Arc::new(store.clone())
}
