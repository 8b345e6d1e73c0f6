//! Cold start, in process: from reading the configuration to the first record done
//! (engine, loading every plugin, decode, route, call, report), with 1 and 20 plugins, from
//! the `.wasm` (compiled at start, no cache), the `.wasm` with a warm compile cache, and a
//! `.cwasm` (`s3plug compile`). The native baseline loads the same configuration and runs
//! the record with a native no-op handler.
//!
//! The binary is also the native `s3plug run` of scripts/bench (`native-run`), which
//! measures the same thing for whole processes.

mod support;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group};
use s3plug_host::plugin::CompileCache;
use s3plug_host::store::MemoryStore;
use s3plug_host::{Config, Pipeline};

use support::native::NativePipeline;
use support::{GuestPlugin, native_run};

/// How the plugins' code is obtained at start.
#[derive(Clone, Copy)]
enum Load {
    /// `.wasm`, compiled now: a first start on a fresh machine.
    Compile,
    /// `.wasm`, found in the compile cache (a later start on the same machine).
    Cached,
    /// `.cwasm` from `s3plug compile`.
    Precompiled,
}

impl Load {
    fn name(self) -> &'static str {
        match self {
            Load::Compile => "wasm_compile",
            Load::Cached => "wasm_cached",
            Load::Precompiled => "cwasm",
        }
    }
}

/// `count` plugins in `noop` mode, plugin `i` triggered by `in/i/`; the record is `in/0/x`.
fn config(dir: &Path, wasm: &Path, count: usize, name: &str) -> PathBuf {
    let plugins: Vec<GuestPlugin> = (0..count)
        .map(|i| GuestPlugin::new(&format!("noop-{i}"), wasm, &format!("in/{i}/"), "noop"))
        .collect();
    support::write_config(dir, name, &support::config_text(8, &plugins)).0
}

/// Config to first record done, as `s3plug run` does it after process start.
fn plugin_start(path: &Path, payload: &[u8], cache: Option<&CompileCache>) -> Vec<u8> {
    let config = Config::load(path).expect("the config loads");
    let decoded = s3plug_host::event::decode(payload).expect("the event decodes");
    let (engine, _) = support::engine_for(&config);
    let pipeline = s3plug_tests::block_on(Pipeline::new(
        &engine,
        &config,
        support::shared(&MemoryStore::new()),
        cache,
    ))
    .expect("the plugins load");
    let outcomes = s3plug_tests::block_on(pipeline.process(&decoded));
    support::report(&outcomes)
}

fn native_start(path: &Path, payload: &[u8]) -> Vec<u8> {
    let config = Config::load(path).expect("the config loads");
    let decoded = s3plug_host::event::decode(payload).expect("the event decodes");
    let pipeline = NativePipeline::new(&config, support::shared(&MemoryStore::new()));
    support::report(&s3plug_tests::block_on(pipeline.process(&decoded)))
}

fn cold_start(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let wasm = PathBuf::from(s3plug_tests::TESTGUEST);
    let cwasm = support::precompile_guest(dir.path());
    let cache = CompileCache::new(dir.path().join("cache"));
    let payload = support::payload(&["in/0/x".to_owned()]);

    let mut group = c.benchmark_group("cold_start");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    for count in [1, 20] {
        let native = config(dir.path(), &wasm, count, &format!("native-{count}.toml"));
        let first = native_start(&native, &payload);
        assert!(
            String::from_utf8_lossy(&first).contains(r#""status":"ok""#),
            "native: {}",
            String::from_utf8_lossy(&first)
        );
        group.bench_function(BenchmarkId::new("native", count), |b| {
            b.iter(|| black_box(native_start(&native, &payload)));
        });
        for load in [Load::Compile, Load::Cached, Load::Precompiled] {
            let component = match load {
                Load::Precompiled => &cwasm,
                Load::Compile | Load::Cached => &wasm,
            };
            let path = config(
                dir.path(),
                component,
                count,
                &format!("{}-{count}.toml", load.name()),
            );
            let cache = match load {
                Load::Cached => Some(&cache),
                Load::Compile | Load::Precompiled => None,
            };
            let first = plugin_start(&path, &payload, cache);
            assert!(
                String::from_utf8_lossy(&first).contains(r#""status":"ok""#),
                "{}: {}",
                load.name(),
                String::from_utf8_lossy(&first)
            );
            group.bench_function(BenchmarkId::new(load.name(), count), |b| {
                b.iter(|| black_box(plugin_start(&path, &payload, cache)));
            });
        }
    }
    group.finish();
}

criterion_group!(benches, cold_start);

fn main() -> ExitCode {
    if let Some(code) = native_run::from_args() {
        return code;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
    ExitCode::SUCCESS
}
