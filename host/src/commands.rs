//! The commands every build has: `run`, `check`, `compile`, `policy`.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use s3plug_host::config::Config;
use s3plug_host::pipeline::Pipeline;
use s3plug_host::{plugin, store};

use crate::cli::{EXIT_FAILED, EXIT_OK};

pub(crate) async fn run(
    config_path: &Path,
    event: &str,
    store: &str,
    stats: bool,
) -> anyhow::Result<u8> {
    let started = std::time::Instant::now();
    let config = Config::load(config_path)?;
    let payload = if event == "-" {
        let mut buf = Vec::new();
        io::stdin()
            .read_to_end(&mut buf)
            .context("cannot read the event from stdin")?;
        buf
    } else {
        std::fs::read(event).with_context(|| format!("cannot read the event {event:?}"))?
    };
    let decoded = s3plug_host::event::decode(&payload).context("bad event")?;
    let objects = store::open(store).await?;
    let pipeline = Pipeline::load(&config, objects).await?;
    let outcomes = pipeline.process(&decoded).await;
    // Stdout writes each line as it ends; one write per 64 KiB of lines instead.
    let mut stdout = io::BufWriter::with_capacity(64 << 10, io::stdout().lock());
    for outcome in &outcomes {
        serde_json::to_writer(&mut stdout, outcome)?;
        stdout.write_all(b"\n")?;
    }
    stdout.flush()?;
    let failed = outcomes.iter().filter(|o| o.is_failed()).count();
    if stats {
        let figures = serde_json::json!({
            "stats": {
                "outcomes": outcomes.len(),
                "failed": failed,
                "wall_ms": started.elapsed().as_secs_f64() * 1e3,
                "peak_rss_bytes": peak_rss_bytes(),
            }
        });
        let mut stderr = io::stderr().lock();
        writeln!(stderr, "{figures}")?;
    }
    Ok(if failed > 0 { EXIT_FAILED } else { EXIT_OK })
}

pub(crate) async fn check(
    config_path: &Path,
    store: &str,
    function_timeout: Option<f64>,
) -> anyhow::Result<u8> {
    let config = Config::load(config_path)?;
    if let Some(seconds) = function_timeout {
        let mut stderr = io::stderr().lock();
        for warning in crate::deadline::timeout_warnings(&config, seconds) {
            writeln!(stderr, "warning: {warning}")?;
        }
    }
    let pipeline = Pipeline::load(&config, store::open(store).await?).await?;
    let mut stdout = io::stdout().lock();
    for plugin in pipeline.registry().plugins() {
        let spec = &plugin.spec;
        writeln!(
            stdout,
            "ok  {:<20} {}  trigger {} on {}  ({:?}, {:.1} ms)",
            spec.name,
            spec.wasm,
            spec.trigger,
            spec.trigger
                .events
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(","),
            plugin.load_kind,
            plugin.load_time.as_secs_f64() * 1e3,
        )?;
    }
    for overlap in s3plug_host::guard::overlapping_routes(&config.plugins) {
        let (first, second) = (
            &config.plugins[overlap.first],
            &config.plugins[overlap.second],
        );
        writeln!(
            stdout,
            "overlap  {:?} ({}) and {:?} ({}) can both run on one record: each runs in its \
             own sandbox and has its own outcome",
            first.name, first.trigger, second.name, second.trigger,
        )?;
    }
    Ok(EXIT_OK)
}

/// The peak resident set size of this process (`VmHWM`), where the system reports it.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

pub(crate) fn print_policy(config_path: &Path) -> anyhow::Result<u8> {
    let config = Config::load(config_path)?;
    let policy = s3plug_host::iam_policy::execution_role_policy(&config);
    let mut stdout = io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, &policy)?;
    stdout.write_all(b"\n")?;
    Ok(EXIT_OK)
}

pub(crate) fn compile(plugin: &Path, output: Option<PathBuf>) -> anyhow::Result<u8> {
    let started = std::time::Instant::now();
    let wasm = std::fs::read(plugin).with_context(|| format!("cannot read {plugin:?}"))?;
    anyhow::ensure!(
        wasm.get(..4) == Some(b"\0asm") && wasm.get(4..8) != Some(&[1, 0, 0, 0]),
        "{plugin:?} is not a WebAssembly component"
    );
    let options = plugin::EngineOptions {
        pooling: false,
        ..plugin::EngineOptions::default()
    };
    let (engine, _) = plugin::new_engine_with(&options)?;
    let compiled = engine
        .precompile_component(&wasm)
        .map_err(|err| anyhow::anyhow!("{err:#}"))?;
    let output = output.unwrap_or_else(|| plugin.with_extension("cwasm"));
    std::fs::write(&output, &compiled).with_context(|| format!("cannot write {output:?}"))?;
    let mut stdout = io::stdout().lock();
    writeln!(
        stdout,
        "compiled {} -> {} ({} bytes, {:.0} ms)",
        plugin.display(),
        output.display(),
        compiled.len(),
        started.elapsed().as_secs_f64() * 1e3
    )?;
    Ok(EXIT_OK)
}
