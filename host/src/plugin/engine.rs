//! The one wasmtime [`Engine`] of a process, and the clock that bounds plugin run time.

use std::thread;
use std::time::Duration;

use wasmtime::{Config, Engine};

/// How often the epoch advances. A plugin's deadline is counted in these ticks, so a plugin
/// overruns its `timeout_ms` by at most one tick; a shorter tick costs a wake-up per tick.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Stack available to guest code. Deep recursion past it traps with a stack overflow
/// instead of crashing the host.
pub const MAX_WASM_STACK: usize = 1 << 20;

/// Builds the engine every plugin of the process shares, and starts its epoch clock.
pub fn new_engine() -> anyhow::Result<Engine> {
    let engine = Engine::new(&engine_config())?;
    start_epoch_clock(&engine)?;
    Ok(engine)
}

/// The engine configuration. Precompiled plugins must have been compiled with the same one.
pub fn engine_config() -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    // Deadlines: the generated code checks the epoch at loop headers and function entries,
    // which costs a few percent of guest speed and stops any loop.
    config.epoch_interruption(true);
    config.max_wasm_stack(MAX_WASM_STACK);
    config
}

/// Advances the engine's epoch every [`EPOCH_TICK`] on a thread of its own, until the
/// engine is dropped.
/// Without the clock no deadline would ever fire, so failing to start it fails the engine.
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

/// The number of ticks that covers `timeout`, at least one.
pub fn deadline_ticks(timeout: Duration) -> u64 {
    let ticks = timeout.as_nanos().div_ceil(EPOCH_TICK.as_nanos());
    u64::try_from(ticks).unwrap_or(u64::MAX).max(1)
}
