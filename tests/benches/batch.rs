//! A batch of 10 I/O-bound records (every `get` waits 20 ms, as a first byte from S3 may):
//! `[host] concurrency = 10` against `= 1`, for the test guest's `upper` mode and for its
//! native twin run with the same concurrency.

mod support;

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group};
use s3plug_host::Pipeline;
use s3plug_host::store::{MemoryStore, ObjectStore, PutOptions};

use support::native::NativePipeline;
use support::slow_store::SlowStore;
use support::{BUCKET, GuestPlugin};

/// Records in the batch.
const RECORDS: usize = 10;

/// What each `get` waits.
const GET_DELAY: Duration = Duration::from_millis(20);

fn batch(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let guest = std::path::Path::new(s3plug_tests::TESTGUEST);
    let plugin = GuestPlugin::new("upper", guest, "in/", "upper");
    let memory = MemoryStore::new();
    let keys: Vec<String> = (0..RECORDS).map(|i| format!("in/{i}.txt")).collect();
    for key in &keys {
        memory
            .put(BUCKET, key, &[b'a'; 1024], &PutOptions::default())
            .expect("the memory store takes any object");
    }
    let store: Arc<dyn ObjectStore> = Arc::new(SlowStore::new(Arc::new(memory), GET_DELAY));
    let payload = support::payload(&keys);

    let mut group = c.benchmark_group("batch10");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    for (label, concurrency) in [("concurrent", RECORDS), ("sequential", 1)] {
        let (_, config) = support::write_config(
            dir.path(),
            &format!("{label}.toml"),
            &support::config_text(concurrency, std::slice::from_ref(&plugin)),
        );
        let (engine, _) = support::engine_for(&config);
        let pipeline = s3plug_tests::block_on(Pipeline::new(
            &engine,
            &config,
            store.clone(),
            Some(&support::compile_cache()),
        ))
        .expect("the plugin loads");
        let native = NativePipeline::new(&config, store.clone());
        let run_plugin = || {
            let decoded = s3plug_host::event::decode(&payload).expect("the event decodes");
            support::report(&s3plug_tests::block_on(pipeline.process(&decoded)))
        };
        let run_native = || {
            let decoded = s3plug_host::event::decode(&payload).expect("the event decodes");
            support::report(&s3plug_tests::block_on(native.process(&decoded)))
        };
        for (what, report) in [("plugin", run_plugin()), ("native", run_native())] {
            let report = String::from_utf8_lossy(&report).into_owned();
            assert_eq!(
                report.matches(r#""status":"ok""#).count(),
                RECORDS,
                "{what} {label}: {report}"
            );
        }
        group.bench_function(format!("plugin_{label}"), |b| {
            b.iter(|| black_box(run_plugin()));
        });
        group.bench_function(format!("native_{label}"), |b| {
            b.iter(|| black_box(run_native()));
        });
    }
    group.finish();
}

criterion_group!(benches, batch);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
