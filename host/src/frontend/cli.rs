//! The `s3plug` command line: the local harness (`run`, `event`, `check`).

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{CommandFactory, Parser, Subcommand};

use super::lambda;
use crate::config::Config;
use crate::eventgen::{self, EventSpec, ObjectAction};
use crate::pipeline::Pipeline;
use crate::plugin::{self, CompileCache};
use crate::store::{self, ObjectStore};
use crate::telemetry::{self, LogFormat};

/// Exit status when every record succeeded (or needed nothing).
const EXIT_OK: u8 = 0;
/// Exit status when at least one record failed.
const EXIT_FAILED: u8 = 1;
/// Exit status for bad usage, a bad config or a bad event.
const EXIT_USAGE: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "s3plug",
    version,
    about = "Run S3-event handlers as sandboxed WebAssembly plugins"
)]
struct Cli {
    /// Log format on stderr [default: text; json for `lambda`].
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormat>,
    /// What to do; with none, `lambda` when AWS_LAMBDA_RUNTIME_API is set (as in Lambda).
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run an event through the configured plugins and print one JSON line per
    /// (record, plugin). Exit 0 when nothing failed, 1 when a record failed, 2 for bad
    /// usage, config or event.
    Run {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
        /// The event JSON, or `-` for stdin.
        #[arg(long)]
        event: String,
        /// Where objects live: `dir:PATH` (a folder of buckets), `memory`, or `s3`
        /// (S3 or an S3-compatible server, `s3:ENDPOINT` to name one).
        #[arg(long, default_value = "dir:s3plug-data")]
        store: String,
        /// After the run, print one JSON line of figures to stderr: records, failures,
        /// wall time and the process's peak resident memory.
        #[arg(long)]
        stats: bool,
    },
    /// Print the notification S3 would send for an object event.
    Event {
        /// What happened to the object.
        #[arg(value_enum)]
        action: ObjectAction,
        #[arg(long)]
        bucket: String,
        /// The object key, as stored (it is encoded the way S3 encodes it).
        #[arg(long)]
        key: String,
        /// The object size in bytes (default: the size of --file, or 1024).
        #[arg(long)]
        size: Option<u64>,
        /// A local file the object stands for: its size and entity tag go into the event.
        #[arg(long)]
        file: Option<PathBuf>,
        #[arg(long, default_value = "us-east-1")]
        region: String,
    },
    /// Load and check a configuration and every plugin it names.
    Check {
        #[arg(long)]
        config: PathBuf,
        /// Where `s3://` plugins are fetched from, as for `run`.
        #[arg(long, default_value = "dir:s3plug-data")]
        store: String,
    },
    /// Precompile a plugin for this s3plug's engine: a config's `wasm` may name the result,
    /// which then loads in microseconds instead of being compiled at every start.
    Compile {
        /// The component (`.wasm`).
        plugin: PathBuf,
        /// Where to write the artifact [default: the plugin's path with `.cwasm`].
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Run as the Lambda function: config from S3PLUG_CONFIG (default
    /// $LAMBDA_TASK_ROOT/s3plug.toml), store from S3PLUG_STORE (default s3).
    Lambda,
    /// Print the IAM policy the function's execution role needs for a configuration's
    /// triggers, grants and plugin locations, and nothing more.
    Policy {
        #[arg(long)]
        config: PathBuf,
    },
}

/// Runs the command line; returns the process exit status.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() {
                EXIT_USAGE
            } else {
                EXIT_OK
            });
        }
    };
    let started_as_bootstrap = std::env::args_os().next().is_some_and(|arg0| {
        Path::new(&arg0)
            .file_name()
            .is_some_and(|name| name == "bootstrap")
    });
    let in_lambda = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() || started_as_bootstrap;
    let command = match cli.command {
        Some(command) => command,
        None if in_lambda => Command::Lambda,
        None => {
            let _ = Cli::command().print_help();
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if matches!(command, Command::Lambda) {
        lambda::provide_runtime_defaults();
        telemetry::init_logging(cli.log_format.unwrap_or(LogFormat::Json), "info");
    } else {
        telemetry::init_logging(
            cli.log_format.unwrap_or(LogFormat::Text),
            "warn,plugin=info",
        );
    }
    let result = match command {
        Command::Run {
            config,
            event,
            store,
            stats,
        } => run(&config, &event, &store, stats),
        Command::Event {
            action,
            bucket,
            key,
            size,
            file,
            region,
        } => print_event(action, bucket, key, size, file.as_deref(), region),
        Command::Check { config, store } => check(&config, &store),
        Command::Lambda => lambda::run(),
        Command::Compile { plugin, output } => compile(&plugin, output),
        Command::Policy { config } => print_policy(&config),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            let mut stderr = io::stderr().lock();
            let _ = writeln!(stderr, "s3plug: {err:#}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn load_pipeline(config: &Config, objects: Arc<dyn ObjectStore>) -> anyhow::Result<Pipeline> {
    let (engine, allocator) = plugin::new_engine_with(&plugin::EngineOptions::for_config(config))
        .context("cannot start the WebAssembly engine")?;
    tracing::debug!(?allocator, "engine ready");
    let cache = CompileCache::from_env();
    Ok(Pipeline::new(&engine, config, objects, cache.as_ref())?)
}

fn run(config_path: &Path, event: &str, store: &str, stats: bool) -> anyhow::Result<u8> {
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
    let decoded = crate::event::decode(&payload).context("bad event")?;
    let objects = store::open(store)?;
    let pipeline = load_pipeline(&config, objects)?;
    let outcomes = pipeline.process(&decoded);
    let mut stdout = io::stdout().lock();
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

fn print_event(
    action: ObjectAction,
    bucket: String,
    key: String,
    size: Option<u64>,
    file: Option<&Path>,
    region: String,
) -> anyhow::Result<u8> {
    anyhow::ensure!(
        crate::grant::valid_bucket_name(&bucket),
        "{bucket:?} is not a valid bucket name"
    );
    store::check_key(&key).map_err(anyhow::Error::msg)?;
    let (file_size, etag) = match file {
        Some(path) => {
            let bytes = std::fs::read(path).with_context(|| format!("cannot read {path:?}"))?;
            (Some(bytes.len() as u64), Some(store::etag_of(&bytes)))
        }
        None => (None, None),
    };
    let spec = EventSpec {
        action,
        bucket,
        key,
        size: size.or(file_size).unwrap_or(1024),
        etag,
        region,
    };
    let mut stdout = io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, &eventgen::notification(&spec))?;
    stdout.write_all(b"\n")?;
    Ok(EXIT_OK)
}

fn check(config_path: &Path, store: &str) -> anyhow::Result<u8> {
    let config = Config::load(config_path)?;
    let pipeline = load_pipeline(&config, store::open(store)?)?;
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
    Ok(EXIT_OK)
}

/// The peak resident set size of this process (`VmHWM`), where the system reports it.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn print_policy(config_path: &Path) -> anyhow::Result<u8> {
    let config = Config::load(config_path)?;
    let policy = crate::policy::execution_role_policy(&config);
    let mut stdout = io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, &policy)?;
    stdout.write_all(b"\n")?;
    Ok(EXIT_OK)
}

fn compile(plugin: &Path, output: Option<PathBuf>) -> anyhow::Result<u8> {
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
