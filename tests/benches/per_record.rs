//! Per-record overhead: one record through decode → route → dispatch → report, to the
//! test guest's `noop` mode (a fresh store and instance per record, memory store) and to a
//! native no-op handler. Criterion measures the mean; a second pass times single records,
//! interleaved with the native ones, for p50 and p99.
//!
//! A third pass, `engine variants`, runs the same path on engines built from the host's
//! public `engine_config()` with other instance-allocation settings, to show where the time
//! goes and what would close the gap (BENCHMARKS.md).

mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use s3plug_host::store::MemoryStore;
use s3plug_host::{Config, Pipeline};
use serde_json::json;
use wasmtime::{Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use support::native::NativePipeline;
use support::{GuestPlugin, figures};

/// Single records timed per path for the percentiles.
const TIMED_RECORDS: usize = 20_000;

/// Single records timed per engine variant.
const VARIANT_RECORDS: usize = 10_000;

struct Paths {
    payload: Vec<u8>,
    pipeline: Pipeline,
    native: NativePipeline,
}

impl Paths {
    fn new(config: &Config, engine: &Engine) -> Self {
        let store = MemoryStore::new();
        let pipeline = s3plug_tests::block_on(Pipeline::new(
            engine,
            config,
            support::shared(&store),
            Some(&support::compile_cache()),
        ))
        .expect("the plugin loads");
        let native = NativePipeline::new(config, support::shared(&store));
        let paths = Self {
            payload: support::payload(&["in/object.txt".to_owned()]),
            pipeline,
            native,
        };
        support::assert_all_ok(&paths.plugin_outcomes(), "plugin noop");
        support::assert_all_ok(&paths.native_outcomes(), "native noop");
        paths
    }

    fn plugin_outcomes(&self) -> Vec<s3plug_host::outcome::RecordOutcome> {
        let decoded = s3plug_host::event::decode(&self.payload).expect("the event decodes");
        s3plug_tests::block_on(self.pipeline.process(&decoded))
    }

    fn native_outcomes(&self) -> Vec<s3plug_host::outcome::RecordOutcome> {
        let decoded = s3plug_host::event::decode(&self.payload).expect("the event decodes");
        s3plug_tests::block_on(self.native.process(&decoded))
    }

    /// The whole path, report included.
    fn plugin(&self) -> Vec<u8> {
        support::report(&self.plugin_outcomes())
    }

    fn native(&self) -> Vec<u8> {
        support::report(&self.native_outcomes())
    }

    /// `records` single records of each path, alternately so both see the same noise;
    /// sorted (plugin, native).
    fn time(&self, records: usize) -> (Vec<Duration>, Vec<Duration>) {
        let mut plugin = Vec::with_capacity(records);
        let mut native = Vec::with_capacity(records);
        for _ in 0..records / 10 {
            black_box(self.plugin());
            black_box(self.native());
        }
        for _ in 0..records {
            let started = Instant::now();
            black_box(self.plugin());
            plugin.push(started.elapsed());
            let started = Instant::now();
            black_box(self.native());
            native.push(started.elapsed());
        }
        plugin.sort();
        native.sort();
        (plugin, native)
    }
}

fn noop_config(dir: &std::path::Path) -> Config {
    let guest = std::path::Path::new(s3plug_tests::TESTGUEST);
    let plugin = GuestPlugin::new("noop", guest, "in/", "noop");
    support::write_config(dir, "s3plug.toml", &support::config_text(8, &[plugin])).1
}

fn per_record(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let config = noop_config(dir.path());
    let (engine, allocator) = support::engine_for(&config);
    let paths = Paths::new(&config, &engine);
    let mut group = c.benchmark_group("per_record");
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    group.bench_function("plugin_noop", |b| b.iter(|| black_box(paths.plugin())));
    group.bench_function("native_noop", |b| b.iter(|| black_box(paths.native())));
    group.finish();

    let (plugin, native) = paths.time(TIMED_RECORDS);
    let (p50, p99) = (
        figures::percentile_us(&plugin, 50.0),
        figures::percentile_us(&plugin, 99.0),
    );
    let (n50, n99) = (
        figures::percentile_us(&native, 50.0),
        figures::percentile_us(&native, 99.0),
    );
    println!(
        "per_record: {TIMED_RECORDS} records each ({allocator:?} allocator)\n  \
         plugin noop  p50 {p50:8.2} µs  p99 {p99:8.2} µs\n  \
         native noop  p50 {n50:8.2} µs  p99 {n99:8.2} µs\n  \
         ratio        p50 {:8.1}x    p99 {:8.1}x\n  \
         host overhead (plugin - native)  p50 {:.2} µs  p99 {:.2} µs",
        p50 / n50,
        p99 / n99,
        p50 - n50,
        p99 - n99,
    );
    figures::print(&json!({
        "bench": "per_record",
        "records": TIMED_RECORDS,
        "allocator": format!("{allocator:?}"),
        "plugin_p50_us": p50, "plugin_p99_us": p99,
        "native_p50_us": n50, "native_p99_us": n99,
    }));
    engine_variants(&config);
}

/// The host's pool (`plugin/engine.rs`, sized for this config) with another amount of
/// linear memory kept resident, and so reset by `memset` instead of `madvise`, when an
/// instance is freed; with `pagemap`, only the pages the instance touched are reset
/// (the `PAGEMAP_SCAN` ioctl, Linux 6.7+).
fn pooled_engine(keep_resident: usize, pagemap: bool) -> Engine {
    let instances = 16;
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(instances)
        .total_core_instances(instances * 16)
        .max_core_instances_per_component(32)
        .total_memories(instances * 2)
        .max_memories_per_component(4)
        .total_tables(instances * 2)
        .max_tables_per_component(4)
        .total_stacks(instances)
        .max_memory_size(256 << 20)
        .linear_memory_keep_resident(keep_resident)
        .table_keep_resident(keep_resident.min(64 << 10))
        .pagemap_scan(if pagemap { Enabled::Auto } else { Enabled::No });
    let mut config = s3plug_host::plugin::engine_config();
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config).expect("the engine starts")
}

/// The same path on engines that differ only in how instances get and give back memory.
/// (These engines have no epoch clock: a no-op never reaches its deadline anyway.)
fn engine_variants(config: &Config) {
    let variants: [(&str, Engine); 6] = [
        (
            "pool, 1 MiB resident (the host's)",
            pooled_engine(1 << 20, false),
        ),
        (
            "pool, 1 MiB resident, pagemap",
            pooled_engine(1 << 20, true),
        ),
        (
            "pool, 16 MiB resident, pagemap",
            pooled_engine(16 << 20, true),
        ),
        ("pool, 64 KiB resident", pooled_engine(64 << 10, false)),
        ("pool, nothing resident", pooled_engine(0, false)),
        (
            "on-demand allocator",
            Engine::new(&s3plug_host::plugin::engine_config()).expect("the engine starts"),
        ),
    ];
    println!(
        "per_record engine variants: {VARIANT_RECORDS} records each (PAGEMAP_SCAN available: {})",
        PoolingAllocationConfig::is_pagemap_scan_available()
    );
    for (name, engine) in variants {
        let paths = Paths::new(config, &engine);
        let (plugin, native) = paths.time(VARIANT_RECORDS);
        let (p50, p99) = (
            figures::percentile_us(&plugin, 50.0),
            figures::percentile_us(&plugin, 99.0),
        );
        let (n50, n99) = (
            figures::percentile_us(&native, 50.0),
            figures::percentile_us(&native, 99.0),
        );
        println!(
            "  {name:<34} plugin p50 {p50:7.2} µs  p99 {p99:7.2} µs | native p50 {n50:6.2} µs  \
             p99 {n99:6.2} µs | overhead p50 {:6.2} µs  p99 {:6.2} µs",
            p50 - n50,
            p99 - n99
        );
        figures::print(&json!({
            "bench": "per_record_variant",
            "variant": name,
            "records": VARIANT_RECORDS,
            "plugin_p50_us": p50, "plugin_p99_us": p99,
            "native_p50_us": n50, "native_p99_us": n99,
        }));
    }
}

criterion_group!(benches, per_record);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
