//! The one wasmtime [`Engine`] of a process, and the clock that makes guest code yield.

use std::thread;
use std::time::Duration;

use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances. Guest code yields to the runtime at every tick, which is
/// when a call past its deadline can be stopped: a plugin that never waits overruns its
/// `timeout_ms` by at most one tick. A shorter tick costs a wake-up (and a fiber switch per
/// running call) per tick.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Stack available to guest code. Deep recursion past it traps with a stack overflow
/// instead of crashing the host.
pub(crate) const MAX_WASM_STACK: usize = 1 << 20;

/// How instances get their memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Allocator {
    /// Pre-reserved slots, reused from one record to the next: instantiation is a few
    /// microseconds, at the cost of reserving address space (not memory) up front.
    Pooling,
    /// Memory mapped per instance: slower to instantiate, reserves nothing.
    OnDemand,
}

/// What the engine is sized for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineOptions {
    /// Instances alive at once (calls in flight); the pool holds this many slots.
    pub instances: u32,
    /// The largest `memory_mib` of any plugin, in bytes: the size of a memory slot.
    pub max_memory_bytes: usize,
    /// Try the pooling allocator first (`S3PLUG_POOLING=0` turns it off).
    pub pooling: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            instances: 64,
            max_memory_bytes: crate::config::DEFAULT_LIMITS.memory_bytes,
            pooling: std::env::var("S3PLUG_POOLING").map_or(true, |v| v != "0"),
        }
    }
}

impl EngineOptions {
    /// Sized for a configuration: every call of one event in flight, twice over (two
    /// events at once), and the largest memory any plugin may use.
    pub fn for_config(config: &crate::Config) -> Self {
        let max_memory_bytes = config
            .plugins
            .iter()
            .map(|p| p.limits.memory_bytes)
            .max()
            .unwrap_or(0);
        Self {
            instances: u32::try_from(config.host.concurrency * 2)
                .unwrap_or(u32::MAX)
                .max(16),
            max_memory_bytes: max_memory_bytes.max(1 << 20),
            ..Self::default()
        }
    }
}

/// Builds the engine every plugin of the process shares, with default sizes.
pub fn new_engine() -> anyhow::Result<Engine> {
    Ok(new_engine_with(&EngineOptions::default())?.0)
}

/// Builds the engine, with the pooling allocator when the system lets it reserve the
/// address space (some refuse: limited `ulimit -v`, small `vm.max_map_count`), else with
/// the on-demand one, and starts the epoch clock. Says which allocator it got.
pub fn new_engine_with(options: &EngineOptions) -> anyhow::Result<(Engine, Allocator)> {
    let mut engine = None;
    if options.pooling {
        let mut config = engine_config();
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool_config(options)));
        match Engine::new(&config) {
            Ok(pooled) => engine = Some((pooled, Allocator::Pooling)),
            Err(err) => {
                tracing::warn!("pooling allocator unavailable, allocating on demand: {err:#}")
            }
        }
    }
    let (engine, allocator) = match engine {
        Some(engine) => engine,
        None => (Engine::new(&engine_config())?, Allocator::OnDemand),
    };
    start_epoch_clock(&engine)?;
    Ok((engine, allocator))
}

/// The pool: enough slots for `instances` components of up to 14 core instances each (a
/// Python guest has 14; a Rust one has 1 or 2), two memories and tables each.
fn pool_config(options: &EngineOptions) -> PoolingAllocationConfig {
    let mut pool = PoolingAllocationConfig::default();
    let instances = options.instances.max(1);
    pool.total_component_instances(instances)
        .total_core_instances(instances * 16)
        .max_core_instances_per_component(32)
        .total_memories(instances * 2)
        .max_memories_per_component(4)
        .total_tables(instances * 2)
        .max_tables_per_component(4)
        .total_stacks(instances)
        .max_memory_size(options.max_memory_bytes)
        // Keep the first 1 MiB of each freed memory resident: most plugins touch little
        // more, and resetting it is cheaper than faulting it in again...
        .linear_memory_keep_resident(1 << 20)
        // ...when only the pages an instance dirtied are reset (Linux 6.7+ PAGEMAP_SCAN;
        // elsewhere the whole region is): 52 → 20 µs per record at p50 (BENCHMARKS.md).
        .pagemap_scan(Enabled::Auto)
        .table_keep_resident(64 << 10);
    pool
}

/// The engine configuration. Precompiled plugins must have been compiled with the same one
/// (the allocator is not part of it).
pub fn engine_config() -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    // Deadlines: the generated code checks the epoch at loop headers and function entries
    // (a few percent of guest speed), so that any loop yields to the runtime and can be
    // stopped.
    config.epoch_interruption(true);
    config.max_wasm_stack(MAX_WASM_STACK);
    config
}

/// Advances the engine's epoch every [`EPOCH_TICK`] on a thread of its own, until the
/// engine is dropped. Without the clock no deadline would ever fire, so failing to start it
/// fails the engine.
fn start_epoch_clock(engine: &Engine) -> anyhow::Result<()> {
    let weak = engine.weak();
    thread::Builder::new()
        .name("s3plug-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                thread::sleep(EPOCH_TICK);
            }
        })?;
    Ok(())
}
