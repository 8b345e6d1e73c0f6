//! `BENCH native-run --config C --event E --store S`: a native `s3plug run`, for the
//! whole-process figures of scripts/bench.
//!
//! It does what `s3plug run --stats` does (load the config, read and decode the event, open
//! the store, route, run, print one JSON line per outcome and a `stats` line on stderr)
//! with the native twins of the plugins and without an engine, so that process start, cold
//! start and peak memory have a baseline measured the same way.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use s3plug_host::Config;

use super::native::NativePipeline;

/// The first argument that selects this mode.
pub const COMMAND: &str = "native-run";

/// Runs the native `s3plug run` when the process was started for it; `None` otherwise.
pub fn from_args() -> Option<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) != Some(COMMAND) {
        return None;
    }
    Some(match run(&args[1..]) {
        Ok(failed) => ExitCode::from(u8::from(failed)),
        Err(err) => {
            let _ = writeln!(std::io::stderr(), "native-run: {err:#}");
            ExitCode::from(2)
        }
    })
}

/// Returns whether a record failed.
fn run(args: &[String]) -> anyhow::Result<bool> {
    let started = Instant::now();
    let value = |name: &str| -> anyhow::Result<&str> {
        let at = args
            .iter()
            .position(|a| a == name)
            .with_context(|| format!("{name} is missing"))?;
        args.get(at + 1)
            .map(String::as_str)
            .with_context(|| format!("{name} needs a value"))
    };
    let config = Config::load(&PathBuf::from(value("--config")?))?;
    let payload = std::fs::read(value("--event")?).context("cannot read the event")?;
    let decoded = s3plug_host::event::decode(&payload).context("bad event")?;
    let objects = s3plug_tests::block_on(s3plug_host::store::open(value("--store")?))?;
    let pipeline = NativePipeline::new(&config, objects);
    let outcomes = s3plug_tests::block_on(pipeline.process(&decoded));
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&super::report(&outcomes))?;
    stdout.flush()?;
    let failed = outcomes.iter().filter(|o| o.is_failed()).count();
    let figures = serde_json::json!({
        "stats": {
            "outcomes": outcomes.len(),
            "failed": failed,
            "wall_ms": started.elapsed().as_secs_f64() * 1e3,
            "peak_rss_bytes": peak_rss_bytes(),
        }
    });
    writeln!(std::io::stderr(), "{figures}")?;
    Ok(failed > 0)
}

/// `VmHWM` of this process, as `s3plug run --stats` reports it.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
