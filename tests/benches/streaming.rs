//! Streaming throughput: the test guest's `upper` mode (reader → ASCII-uppercase → writer,
//! 256 KiB chunks) against the same transform in native code, through the whole path, on
//! the memory store, at 1 KiB, 1 MiB and 64 MiB. The 1 GiB case, and peak memory at every
//! size, are whole-process figures: scripts/bench.

mod support;

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use s3plug_host::Pipeline;
use s3plug_host::store::{MemoryStore, PutOptions};

use support::native::NativePipeline;
use support::{BUCKET, GuestPlugin};

/// The sizes measured here, with their labels.
const SIZES: &[(&str, usize)] = &[("1KiB", 1 << 10), ("1MiB", 1 << 20), ("64MiB", 64 << 20)];

/// Lower-case text, so the transform has something to do on every byte.
fn body(size: usize) -> Vec<u8> {
    b"the quick brown fox jumps over the lazy dog 0123456789\n"
        .iter()
        .copied()
        .cycle()
        .take(size)
        .collect()
}

fn streaming(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let guest = std::path::Path::new(s3plug_tests::TESTGUEST);
    let plugin = GuestPlugin::new("upper", guest, "in/", "upper");
    let (_, config) = support::write_config(
        dir.path(),
        "s3plug.toml",
        &support::config_text(8, &[plugin]),
    );
    let store = MemoryStore::new();
    let (engine, _) = support::engine_for(&config);
    let pipeline = s3plug_tests::block_on(Pipeline::new(
        &engine,
        &config,
        support::shared(&store),
        Some(&support::compile_cache()),
    ))
    .expect("the plugin loads");
    let native = NativePipeline::new(&config, support::shared(&store));

    let mut group = c.benchmark_group("streaming");
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    for &(label, size) in SIZES {
        let key = format!("in/{label}.txt");
        let source = body(size);
        store
            .put(BUCKET, &key, &source, &PutOptions::default())
            .expect("the memory store takes any object");
        let payload = support::payload(std::slice::from_ref(&key));
        let run_plugin = || {
            let decoded = s3plug_host::event::decode(&payload).expect("the event decodes");
            support::report(&s3plug_tests::block_on(pipeline.process(&decoded)))
        };
        let run_native = || {
            let decoded = s3plug_host::event::decode(&payload).expect("the event decodes");
            support::report(&s3plug_tests::block_on(native.process(&decoded)))
        };
        for (what, run) in [
            ("plugin", &run_plugin as &dyn Fn() -> Vec<u8>),
            ("native", &run_native),
        ] {
            let report = String::from_utf8_lossy(&run()).into_owned();
            assert!(report.contains(r#""status":"ok""#), "{what}: {report}");
            let output = store
                .bytes(BUCKET, &format!("out/{key}"))
                .expect("the output is written");
            assert_eq!(output, source.to_ascii_uppercase(), "{what}: wrong output");
        }
        if size >= 64 << 20 {
            group.sample_size(10);
        }
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(BenchmarkId::new("plugin_upper", label), |b| {
            b.iter(|| black_box(run_plugin()));
        });
        group.bench_function(BenchmarkId::new("native_upper", label), |b| {
            b.iter(|| black_box(run_native()));
        });
        store.delete(BUCKET, &key).expect("delete");
        store.delete(BUCKET, &format!("out/{key}")).expect("delete");
    }
    group.finish();
}

criterion_group!(benches, streaming);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
