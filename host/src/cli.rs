//! The `s3plug` command line: the local harness (`run`, `event`, `check`).

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

use crate::config::Config;
use crate::eventgen::{self, EventSpec, ObjectAction};
use crate::pipeline::Pipeline;
use crate::plugin::{self, CompileCache};
use crate::store::{DirStore, MemoryStore, ObjectStore};

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
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
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
        /// Where objects live: `dir:PATH` (a folder of buckets) or `memory`.
        #[arg(long, default_value = "dir:s3plug-data")]
        store: String,
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
    init_logging(cli.log_format);
    let result = match cli.command {
        Command::Run {
            config,
            event,
            store,
        } => run(&config, &event, &store),
        Command::Event {
            action,
            bucket,
            key,
            size,
            file,
            region,
        } => print_event(action, bucket, key, size, file.as_deref(), region),
        Command::Check { config } => check(&config),
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

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("S3PLUG_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,plugin=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Opens a store named on the command line.
pub fn open_store(spec: &str) -> anyhow::Result<Arc<dyn ObjectStore>> {
    if spec == "memory" {
        return Ok(Arc::new(MemoryStore::new()));
    }
    if let Some(path) = spec.strip_prefix("dir:") {
        anyhow::ensure!(!path.is_empty(), "--store dir: needs a folder, as dir:PATH");
        let store =
            DirStore::new(path).with_context(|| format!("cannot open the folder {path:?}"))?;
        return Ok(Arc::new(store));
    }
    anyhow::bail!("unknown store {spec:?}: use dir:PATH or memory")
}

fn load_pipeline(config: &Config, objects: Arc<dyn ObjectStore>) -> anyhow::Result<Pipeline> {
    let engine = plugin::new_engine().context("cannot start the WebAssembly engine")?;
    let cache = CompileCache::from_env();
    Ok(Pipeline::new(&engine, config, objects, cache.as_ref())?)
}

fn run(config_path: &Path, event: &str, store: &str) -> anyhow::Result<u8> {
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
    let objects = open_store(store)?;
    let pipeline = load_pipeline(&config, objects)?;
    let outcomes = pipeline.process(&decoded);
    let mut stdout = io::stdout().lock();
    for outcome in &outcomes {
        serde_json::to_writer(&mut stdout, outcome)?;
        stdout.write_all(b"\n")?;
    }
    stdout.flush()?;
    Ok(if outcomes.iter().any(|o| o.is_failed()) {
        EXIT_FAILED
    } else {
        EXIT_OK
    })
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
    crate::store::check_key(&key).map_err(anyhow::Error::msg)?;
    let (file_size, etag) = match file {
        Some(path) => {
            let bytes = std::fs::read(path).with_context(|| format!("cannot read {path:?}"))?;
            (
                Some(bytes.len() as u64),
                Some(crate::store::etag_of(&bytes)),
            )
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

fn check(config_path: &Path) -> anyhow::Result<u8> {
    let config = Config::load(config_path)?;
    let pipeline = load_pipeline(&config, Arc::new(MemoryStore::new()))?;
    let mut stdout = io::stdout().lock();
    for plugin in pipeline.registry().plugins() {
        let spec = &plugin.spec;
        writeln!(
            stdout,
            "ok  {:<20} {}  trigger {} on {}  ({:?}, {:.1} ms)",
            spec.name,
            spec.wasm.display(),
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
