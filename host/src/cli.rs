//! The `s3plug` command line: what each command takes, and which front end runs it. The
//! commands of a front end left out of the build (a feature) are not offered.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
#[cfg(feature = "tools")]
use s3plug_tools::eventgen::{self, Delivery, EventSpec, ObjectAction, Via};

use crate::commands;
use crate::logging::{self, LogFormat};

/// The name of the runtime's threads (`/proc/PID/task/*/comm` shows it).
const RUNTIME_THREAD_NAME: &str = "s3plug-runtime";

/// Exit status when every record succeeded (or needed nothing).
pub(crate) const EXIT_OK: u8 = 0;
/// Exit status when at least one record failed.
pub(crate) const EXIT_FAILED: u8 = 1;
/// Exit status for bad usage, a bad config or a bad event.
pub(crate) const EXIT_USAGE: u8 = 2;

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
    #[cfg(feature = "tools")]
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
    #[cfg(feature = "serve")]
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
    #[cfg(feature = "dev")]
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
        #[arg(long, default_value = s3plug_tools::dev::DEFAULT_ACCESS_KEY)]
        access_key: String,
        /// The secret access key clients sign with.
        #[arg(long, default_value = s3plug_tools::dev::DEFAULT_SECRET_KEY)]
        secret_key: String,
        /// The region clients sign for and events name.
        #[arg(long, default_value = "us-east-1")]
        region: String,
    },
    #[cfg(feature = "tools")]
    /// Make a plugin project (source, config entry, test cases) that builds and passes its own
    /// test with the commands it prints.
    New {
        /// The plugin's name: its folder, crate and `[[plugin]]` name.
        name: String,
        #[arg(long, value_enum, default_value = "rust")]
        lang: s3plug_tools::scaffold::Lang,
        /// Where the `s3plug-guest` crate is, for Rust projects [default: the guest SDK of the
        /// s3plug source this binary was built from].
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    #[cfg(feature = "lambda")]
    /// Run as the Lambda function: config from S3PLUG_CONFIG (default
    /// $LAMBDA_TASK_ROOT/s3plug.toml), store from S3PLUG_STORE (default s3).
    Lambda,
    /// Print the IAM policy the function's execution role needs for a configuration's
    /// triggers, grants and plugin locations, and nothing more.
    Policy {
        #[arg(long)]
        config: PathBuf,
    },
    #[cfg(feature = "tools")]
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
    #[cfg(feature = "lambda")]
    let started_as_bootstrap = std::env::args_os().next().is_some_and(|arg0| {
        std::path::Path::new(&arg0)
            .file_name()
            .is_some_and(|name| name == "bootstrap")
    });
    #[cfg(feature = "lambda")]
    let in_lambda = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() || started_as_bootstrap;
    let command = match cli.command {
        Some(command) => command,
        #[cfg(feature = "lambda")]
        None if in_lambda => Command::Lambda,
        None => {
            let _ = Cli::command().print_help();
            return ExitCode::from(EXIT_USAGE);
        }
    };
    #[cfg(feature = "lambda")]
    let serves_lambda = matches!(command, Command::Lambda);
    #[cfg(not(feature = "lambda"))]
    let serves_lambda = false;
    if serves_lambda {
        #[cfg(feature = "lambda")]
        crate::lambda::provide_runtime_defaults();
        logging::init_logging(cli.log_format.unwrap_or(LogFormat::Json), "info");
    } else {
        logging::init_logging(
            cli.log_format.unwrap_or(LogFormat::Text),
            "warn,plugin=info",
        );
    }
    // The one runtime of the process: every store, plugin call and server runs on it. Its
    // threads are named, so that another runtime (whose threads keep tokio's default name)
    // would show in the process's thread list.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name(RUNTIME_THREAD_NAME)
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
        } => runtime.block_on(commands::run(&config, &event, &store, stats)),
        #[cfg(feature = "tools")]
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
        } => crate::tools::print_event(
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
        } => runtime.block_on(commands::check(&config, &store, function_timeout)),
        #[cfg(feature = "lambda")]
        Command::Lambda => crate::lambda::run(&runtime),
        #[cfg(feature = "tools")]
        Command::New { name, lang, sdk } => crate::tools::new_project(name, lang, sdk),
        #[cfg(feature = "serve")]
        Command::Serve {
            config,
            listen,
            store,
            no_auth,
            max_requests,
        } => runtime.block_on(crate::serve::command(
            &config,
            listen,
            &store,
            no_auth,
            max_requests,
        )),
        #[cfg(feature = "dev")]
        Command::Dev {
            config,
            dir,
            listen,
            json,
            access_key,
            secret_key,
            region,
        } => runtime.block_on(s3plug_tools::dev::run(
            &config,
            &s3plug_tools::dev::DevOptions {
                dir,
                listen,
                json,
                access_key,
                secret_key,
                region,
            },
        )),
        Command::Compile { plugin, output } => commands::compile(&plugin, output),
        Command::Policy { config } => commands::print_policy(&config),
        #[cfg(feature = "tools")]
        Command::Test { cases, filter } => crate::tools::run_tests(&cases, filter.as_deref()),
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
