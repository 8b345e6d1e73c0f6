//! The `s3plug` command line: the local harness (`run`, `event`, `check`).

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, Parser, Subcommand};

use super::lambda;
use crate::config::Config;
use crate::eventgen::{self, Delivery, EventSpec, ObjectAction, Via};
use crate::pipeline::Pipeline;
use crate::plugin;
use crate::store;
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
    /// Print the events S3 would send for object events, as a destination receives them:
    /// directly, through SNS, SQS or EventBridge, or from MinIO. Keys are encoded the way
    /// each sender encodes them; each key's sequencers increase in the order the events
    /// were made.
    Event {
        /// What happened to the object.
        #[arg(value_enum)]
        action: ObjectAction,
        /// The bucket's name.
        #[arg(long)]
        bucket: String,
        /// The object key, as stored (it is encoded the way the sender encodes it). Repeat
        /// it for several objects.
        #[arg(long = "key", value_name = "KEY", required = true)]
        keys: Vec<String>,
        /// The object size in bytes (default: the size of --file, or 1024).
        #[arg(long)]
        size: Option<u64>,
        /// A local file the object stands for: its size and entity tag go into the event.
        #[arg(long)]
        file: Option<PathBuf>,
        #[arg(long, default_value = "us-east-1")]
        region: String,
        /// How the events arrive.
        #[arg(long, value_enum, default_value_t = Via::S3)]
        via: Via,
        /// Events per key, one millisecond apart.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        count: u32,
        /// Deliver one event a second time, later and exactly repeated, as S3's at-least-once
        /// delivery sometimes does.
        #[arg(long)]
        duplicate: bool,
        /// Deliver each key's events out of sequencer order (needs --count 2 or more).
        #[arg(long, visible_alias = "shuffle")]
        out_of_order: bool,
        /// Drives --out-of-order and --duplicate: the same seed, the same delivery order.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The bucket has versioning enabled: every event names an object version.
        #[arg(long)]
        versioned: bool,
    },
    /// Load and check a configuration and every plugin it names.
    Check {
        #[arg(long)]
        config: PathBuf,
        /// Where `s3://` plugins are fetched from, as for `run`.
        #[arg(long, default_value = "dir:s3plug-data")]
        store: String,
        /// The Lambda function's timeout, in seconds (its `Timeout`): warns about plugins
        /// whose `timeout_ms` cannot fit in it.
        #[arg(long, value_name = "SECONDS")]
        function_timeout: Option<f64>,
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
    /// Serve webhook notifications from S3-compatible stores (MinIO, Ceph RGW) over HTTP.
    /// The shared secret comes from S3PLUG_WEBHOOK_TOKEN; requests without it are refused.
    Serve {
        #[arg(long)]
        config: PathBuf,
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// Where objects live, as for `run` (`s3:ENDPOINT` for the store that sends the events).
        #[arg(long, default_value = "s3")]
        store: String,
        /// Accept requests without a token (only for a trusted network).
        #[arg(long)]
        no_auth: bool,
        /// Notifications processed at once; more are answered 503 with `Retry-After`
        /// [default: the instance pool's calls over `[host] concurrency`, at least 1].
        #[arg(long, value_name = "N")]
        max_requests: Option<usize>,
    },
    /// A local S3-compatible endpoint over a folder, for trying plugins live: every
    /// successful write (put, copy, multipart upload, delete) is routed through the plugins
    /// as S3 would notify it, plugin writes included, with the loop guards, grants and limits
    /// of production. Prints one line per record and plugin as each finishes.
    Dev {
        /// The configuration file.
        #[arg(long, default_value = "s3plug.toml")]
        config: PathBuf,
        /// The folder of buckets (one folder each); the buckets the config names are made.
        #[arg(long, default_value = "s3plug-data")]
        dir: PathBuf,
        /// The address to listen on (`127.0.0.1:0` picks a free port).
        #[arg(long, default_value = "127.0.0.1:9000")]
        listen: std::net::SocketAddr,
        /// Print JSON lines (the endpoint first, then one per record and plugin).
        #[arg(long)]
        json: bool,
        /// The access key id clients sign with.
        #[arg(long, default_value = super::dev::DEFAULT_ACCESS_KEY)]
        access_key: String,
        /// The secret access key clients sign with.
        #[arg(long, default_value = super::dev::DEFAULT_SECRET_KEY)]
        secret_key: String,
        /// The region clients sign for and events name.
        #[arg(long, default_value = "us-east-1")]
        region: String,
    },
    /// Make a plugin project (source, config entry, test cases) that builds and passes its own
    /// test with the commands it prints.
    New {
        /// The plugin's name: its folder, crate and `[[plugin]]` name.
        name: String,
        #[arg(long, value_enum, default_value = "rust")]
        lang: crate::scaffold::Lang,
        /// Where the `s3plug-guest` crate is, for Rust projects [default: the guest SDK of the
        /// s3plug source this binary was built from].
        #[arg(long)]
        sdk: Option<PathBuf>,
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
    /// Run declarative test cases (`*.test.toml`) against the in-memory store, with the
    /// grants, limits and loop guards of production. Exit 0 when every case passed, 1 when
    /// one failed, 2 for a bad test file.
    Test {
        /// Test files, or folders searched for `*.test.toml` [default: ./tests].
        cases: Vec<PathBuf>,
        /// Run only the cases whose name contains this text.
        #[arg(long)]
        filter: Option<String>,
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
    // The one runtime of the process: every store, plugin call and server runs on it.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            let _ = writeln!(
                io::stderr().lock(),
                "s3plug: cannot start the runtime: {err}"
            );
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let result = match command {
        Command::Run {
            config,
            event,
            store,
            stats,
        } => runtime.block_on(run(&config, &event, &store, stats)),
        Command::Event {
            action,
            bucket,
            keys,
            size,
            file,
            region,
            via,
            count,
            duplicate,
            out_of_order,
            seed,
            versioned,
        } => print_event(
            EventSpec {
                action,
                bucket,
                keys,
                size: size.unwrap_or(eventgen::DEFAULT_SIZE),
                etag: None,
                region,
                versioned,
            },
            size.is_some(),
            file.as_deref(),
            &Delivery {
                via,
                count,
                duplicate,
                out_of_order,
                seed,
            },
        ),
        Command::Check {
            config,
            store,
            function_timeout,
        } => runtime.block_on(check(&config, &store, function_timeout)),
        Command::Lambda => lambda::run(&runtime),
        Command::New { name, lang, sdk } => new_project(name, lang, sdk),
        Command::Serve {
            config,
            listen,
            store,
            no_auth,
            max_requests,
        } => runtime.block_on(serve(&config, listen, &store, no_auth, max_requests)),
        Command::Dev {
            config,
            dir,
            listen,
            json,
            access_key,
            secret_key,
            region,
        } => runtime.block_on(super::dev::run(
            &config,
            &super::dev::DevOptions {
                dir,
                listen,
                json,
                access_key,
                secret_key,
                region,
            },
        )),
        Command::Compile { plugin, output } => compile(&plugin, output),
        Command::Policy { config } => print_policy(&config),
        Command::Test { cases, filter } => run_tests(&cases, filter.as_deref()),
    };
    // Tasks still running (an abort of an unfinished upload, a connection being closed)
    // get a moment, not forever.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            let mut stderr = io::stderr().lock();
            let _ = writeln!(stderr, "s3plug: {err:#}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

async fn run(config_path: &Path, event: &str, store: &str, stats: bool) -> anyhow::Result<u8> {
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
    let objects = store::open(store).await?;
    let pipeline = Pipeline::load(&config, objects).await?;
    let outcomes = pipeline.process(&decoded).await;
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
    mut spec: EventSpec,
    size_given: bool,
    file: Option<&Path>,
    delivery: &Delivery,
) -> anyhow::Result<u8> {
    anyhow::ensure!(
        crate::grant::valid_bucket_name(&spec.bucket),
        "{:?} is not a valid bucket name",
        spec.bucket
    );
    for key in &spec.keys {
        store::check_key(key).map_err(anyhow::Error::msg)?;
    }
    if let Some(path) = file {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {path:?}"))?;
        if !size_given {
            spec.size = bytes.len() as u64;
        }
        spec.etag = Some(store::etag_of(&bytes));
    }
    let payload = eventgen::generate(&spec, delivery)?;
    let mut stdout = io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, &payload)?;
    stdout.write_all(b"\n")?;
    Ok(EXIT_OK)
}

async fn check(
    config_path: &Path,
    store: &str,
    function_timeout: Option<f64>,
) -> anyhow::Result<u8> {
    let config = Config::load(config_path)?;
    if let Some(seconds) = function_timeout {
        let mut stderr = io::stderr().lock();
        for warning in lambda::timeout_warnings(&config, seconds) {
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

async fn serve(
    config_path: &Path,
    listen: std::net::SocketAddr,
    store_spec: &str,
    no_auth: bool,
    max_requests: Option<usize>,
) -> anyhow::Result<u8> {
    let token = std::env::var("S3PLUG_WEBHOOK_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    anyhow::ensure!(
        token.is_some() || no_auth,
        "set S3PLUG_WEBHOOK_TOKEN to the store's webhook token (or pass --no-auth on a trusted network)"
    );
    let config = Config::load(config_path)?;
    let pipeline = Pipeline::load(&config, store::open(store_spec).await?).await?;
    // By default as many requests as can run all their calls at once; more would wait.
    let instances = plugin::EngineOptions::for_config(&config).instances as usize;
    let max_requests =
        max_requests.unwrap_or_else(|| (instances / config.host.concurrency.max(1)).max(1));
    super::http::serve(pipeline, listen, token, max_requests).await
}

/// `s3plug test`: every case of every file, one line each, a diff under each failure.
fn run_tests(paths: &[PathBuf], filter: Option<&str>) -> anyhow::Result<u8> {
    let default = [PathBuf::from("tests")];
    anyhow::ensure!(
        !paths.is_empty() || default[0].is_dir(),
        "no tests/ folder here: name test files or folders, as `s3plug test tests/thumbnail.test.toml`"
    );
    let roots = if paths.is_empty() {
        &default[..]
    } else {
        paths
    };
    let mut files = Vec::new();
    for root in roots {
        if root.is_dir() {
            let found = crate::testcase::discover(root)
                .with_context(|| format!("cannot search {:?} for test files", root.display()))?;
            anyhow::ensure!(
                !found.is_empty(),
                "no *{} files under {:?}",
                crate::testcase::TEST_FILE_SUFFIX,
                root.display()
            );
            files.extend(found);
        } else {
            files.push(root.clone());
        }
    }
    let (mut passed, mut failed, mut filtered_out, mut bad) = (0, 0, 0, 0);
    for path in &files {
        let report = crate::testcase::TestFile::load(path).and_then(|file| {
            let mut stdout = io::stdout().lock();
            let _ = writeln!(
                stdout,
                "running {} cases from {}",
                file.cases.len(),
                path.display()
            );
            file.run_cases(filter, |case| {
                let _ = writeln!(stdout, "{case}");
            })
        });
        match report {
            Ok(report) => {
                passed += report.passed();
                failed += report.failed();
                filtered_out += report.filtered_out;
            }
            Err(err) => {
                let _ = writeln!(io::stderr().lock(), "s3plug: {err}");
                bad += 1;
            }
        }
    }
    let mut summary = crate::testcase::summary(passed, failed, filtered_out);
    if bad > 0 {
        summary.push_str(&format!(", {bad} test file(s) with errors"));
    }
    writeln!(io::stdout().lock(), "{summary}")?;
    Ok(if bad > 0 {
        EXIT_USAGE
    } else if failed > 0 {
        EXIT_FAILED
    } else {
        EXIT_OK
    })
}

fn new_project(
    name: String,
    lang: crate::scaffold::Lang,
    sdk: Option<PathBuf>,
) -> anyhow::Result<u8> {
    let project = crate::scaffold::NewProject {
        name,
        lang,
        dir: std::env::current_dir()?,
        sdk: sdk.unwrap_or_else(crate::scaffold::default_sdk_path),
    };
    let (root, commands) = project.create()?;
    let mut stdout = io::stdout().lock();
    writeln!(
        stdout,
        "created {}; build and test it with:\n",
        root.display()
    )?;
    for command in commands {
        writeln!(stdout, "    {command}")?;
    }
    writeln!(stdout, "\nthen run it live on a local S3 endpoint:\n")?;
    for command in crate::scaffold::NewProject::live_commands() {
        writeln!(stdout, "    {command}")?;
    }
    Ok(EXIT_OK)
}
