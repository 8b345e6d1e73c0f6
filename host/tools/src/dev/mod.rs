//! `s3plug dev`: a local S3-compatible endpoint on a folder, where every successful write
//! becomes an S3 event notification routed through the pipeline, as in production.
//!
//! The endpoint is `s3s-fs` (a folder per bucket) behind `s3s`'s S3 protocol layer, with
//! signature checks against one key pair. Plugins reach objects through the same endpoint,
//! with the production S3 client: their writes notify in turn, carry their lineage metadata,
//! and meet the same loop guards, grants and limits as in Lambda. Each (record, plugin) is
//! printed as it finishes.

mod endpoint;
mod live;
mod reload;

use std::collections::BTreeSet;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::eventgen::{self, Happened};
use live::LiveLog;
use reload::{Current, Fingerprint, Watch};
use s3plug_host::config::Config;
use s3plug_host::pipeline::Pipeline;
use s3plug_host::store::{ObjectStore, S3Settings, S3Store, StaticCredentials};

pub use crate::dev_credentials::{
    ACCESS_KEY as DEFAULT_ACCESS_KEY, SECRET_KEY as DEFAULT_SECRET_KEY,
};

/// How long records still running at Ctrl-C may take to finish.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// What `s3plug dev` serves, and how.
#[derive(Debug, Clone)]
pub struct DevOptions {
    /// The folder of buckets; made if missing.
    pub dir: PathBuf,
    pub listen: SocketAddr,
    /// Print JSON lines instead of text.
    pub json: bool,
    pub access_key: String,
    pub secret_key: String,
    /// The region requests are signed for and events name.
    pub region: String,
}

/// Serves until Ctrl-C (or SIGTERM). The plugins load at start and again whenever the
/// config file or a plugin's component changes.
pub async fn run(config_path: &Path, options: &DevOptions) -> anyhow::Result<u8> {
    let config = Config::load(config_path)?;
    std::fs::create_dir_all(&options.dir)
        .with_context(|| format!("cannot make the folder {}", options.dir.display()))?;
    let buckets = make_buckets(&config, &options.dir)?;
    let listener = TcpListener::bind(options.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (another s3plug dev? pick one with --listen, or 127.0.0.1:0 for any port)",
                options.listen
            )
        })?;
    let bound = listener.local_addr()?;
    let endpoint_url = format!("http://{bound}");
    let (notices, received) = unbounded_channel();
    let mut builder = S3ServiceBuilder::new(endpoint::NotifyingStore::new(
        &options.dir,
        &options.region,
        notices,
    )?);
    builder.set_auth(SimpleAuth::from_single(
        options.access_key.clone(),
        options.secret_key.clone(),
    ));
    let (stop_serving, serving) = watch::channel(false);
    let server = tokio::spawn(s3plug_http::accept_until(
        listener,
        builder.build(),
        stop_requested(serving),
    ));

    // The endpoint serves from here on, so plugins kept in it (`s3://`) can load.
    let objects: Arc<dyn ObjectStore> = Arc::new(
        S3Store::connect_with(S3Settings {
            endpoint: Some(endpoint_url.clone()),
            region: Some(options.region.clone()),
            credentials: Some(StaticCredentials {
                access_key_id: options.access_key.clone(),
                secret_access_key: options.secret_key.clone(),
            }),
        })
        .await?,
    );
    let current = Arc::new(Current::new(
        Pipeline::load(&config, objects.clone()).await?,
    ));
    print_banner(&config, options, &endpoint_url, &buckets)?;

    let log = Arc::new(LiveLog::new(options.json));
    let watcher = tokio::spawn(reload::watch(
        Fingerprint::of(config_path, &config),
        Watch {
            config_path: config_path.to_path_buf(),
            data_dir: options.dir.clone(),
            objects,
            current: current.clone(),
            log: log.clone(),
        },
    ));
    let unfinished = dispatch(received, current, log.clone(), config.host.concurrency).await;
    watcher.abort();
    let _ = stop_serving.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(1), server).await;
    let tally = log.tally();
    if options.json {
        println!(
            "{}",
            json!({ "stopped": true, "ok": tally.ok, "failed": tally.failed,
                    "loop_stopped": tally.loop_stopped, "other": tally.other,
                    "not_run": unfinished.not_run, "abandoned": unfinished.abandoned })
        );
    } else {
        println!(
            "stopped: {} ok, {} failed, {} loop-stopped, {} unrouted or ignored{}",
            tally.ok,
            tally.failed,
            tally.loop_stopped,
            tally.other,
            unfinished.describe()
        );
    }
    Ok(0)
}

/// The buckets the config names (triggers, grants, host state), made as folders if missing.
/// Returns each with whether it was made.
fn make_buckets(config: &Config, dir: &Path) -> anyhow::Result<Vec<(String, bool)>> {
    let mut names = BTreeSet::new();
    for plugin in &config.plugins {
        names.insert(plugin.trigger.bucket.clone());
        for grant in plugin.grants.read.iter().chain(&plugin.grants.write) {
            names.insert(grant.bucket.clone());
        }
    }
    if let Some(state) = &config.host.state {
        names.insert(state.bucket.clone());
    }
    names
        .into_iter()
        .filter(|name| !name.is_empty() && name != "*")
        .map(|name| {
            let path = dir.join(&name);
            let made = !path.is_dir();
            std::fs::create_dir_all(&path)
                .with_context(|| format!("cannot make the bucket folder {}", path.display()))?;
            Ok((name, made))
        })
        .collect()
}

fn print_banner(
    config: &Config,
    options: &DevOptions,
    endpoint_url: &str,
    buckets: &[(String, bool)],
) -> io::Result<()> {
    let mut out = io::stdout().lock();
    if options.json {
        let line = json!({
            "listening": endpoint_url,
            "dir": options.dir,
            "buckets": buckets.iter().map(|(name, _)| name).collect::<Vec<_>>(),
            "plugins": config.plugins.iter().map(|p| &p.name).collect::<Vec<_>>(),
            "access_key_id": options.access_key,
            "region": options.region,
        });
        writeln!(out, "{line}")?;
        return out.flush();
    }
    writeln!(
        out,
        "s3plug dev: S3 endpoint {endpoint_url}, objects in {}",
        options.dir.display()
    )?;
    let listed: Vec<String> = buckets
        .iter()
        .map(|(name, made)| {
            if *made {
                format!("{name} (new)")
            } else {
                name.clone()
            }
        })
        .collect();
    writeln!(out, "  buckets: {}", listed.join(", "))?;
    for plugin in &config.plugins {
        let trigger = &plugin.trigger;
        writeln!(
            out,
            "  plugin {}: on {}/{}*{}",
            plugin.name, trigger.bucket, trigger.prefix, trigger.suffix
        )?;
    }
    writeln!(out, "Point an S3 client at it:")?;
    writeln!(
        out,
        "  export AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={} AWS_REGION={}",
        options.access_key, options.secret_key, options.region
    )?;
    if let Some(plugin) = config.plugins.first() {
        writeln!(
            out,
            "  aws s3 cp FILE s3://{}/{} --endpoint-url {endpoint_url}",
            plugin.trigger.bucket, plugin.trigger.prefix
        )?;
    }
    writeln!(
        out,
        "Every write is routed as S3 would notify it; one line per record and plugin. Ctrl-C stops."
    )?;
    out.flush()
}

/// Runs the pipeline on each notice, up to `concurrency` at once, until Ctrl-C or SIGTERM;
/// then lets the running records finish.
async fn dispatch(
    mut notices: UnboundedReceiver<Happened>,
    pipelines: Arc<Current>,
    log: Arc<LiveLog>,
    concurrency: usize,
) -> Unfinished {
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut running = JoinSet::new();
    let mut stop = std::pin::pin!(stop_signal());
    loop {
        tokio::select! {
            notice = notices.recv() => {
                let Some(notice) = notice else { break };
                let Ok(permit) = permits.clone().acquire_owned().await else { break };
                let (pipeline, log) = (pipelines.get(), log.clone());
                running.spawn(async move {
                    let _permit = permit;
                    run_notice(&pipeline, &log, &notice).await;
                });
            }
            Some(_) = running.join_next(), if !running.is_empty() => {}
            () = &mut stop => break,
        }
    }
    if !running.is_empty() {
        tracing::warn!(
            running = running.len(),
            "letting the running records finish (Ctrl-C again stops at once)"
        );
    }
    tokio::select! {
        () = async { while running.join_next().await.is_some() {} } => {}
        () = tokio::time::sleep(DRAIN_TIMEOUT) => tracing::warn!(
            "records still running after {DRAIN_TIMEOUT:?}; stopping without their outcome"
        ),
        () = stop_signal() => tracing::warn!("stopping without the outcome of the running records"),
    }
    notices.close();
    let mut not_run = 0;
    while notices.try_recv().is_ok() {
        not_run += 1;
    }
    Unfinished {
        not_run,
        abandoned: running.len(),
    }
}

/// What was left when `s3plug dev` stopped.
#[derive(Debug, Clone, Copy)]
struct Unfinished {
    /// Writes notified after the stop, never run.
    not_run: usize,
    /// Notices still running when a second Ctrl-C or the drain time-out ended the wait.
    abandoned: usize,
}

impl Unfinished {
    fn describe(self) -> String {
        let mut text = String::new();
        if self.not_run > 0 {
            text.push_str(&format!(
                "; {} writes arrived after Ctrl-C and were not run",
                self.not_run
            ));
        }
        if self.abandoned > 0 {
            text.push_str(&format!(
                "; {} still running, stopped without an outcome",
                self.abandoned
            ));
        }
        text
    }
}

/// Decodes the notification S3 would have sent (through the same decoder as any event) and
/// runs it.
async fn run_notice(pipeline: &Pipeline, log: &LiveLog, notice: &Happened) {
    let payload = eventgen::notification(notice).to_string();
    match s3plug_host::event::decode(payload.as_bytes()) {
        Ok(decoded) => log.record(&pipeline.process(&decoded).await),
        Err(err) => log.undecodable(
            &format!("{}/{}", notice.bucket, notice.key),
            &err.to_string(),
        ),
    }
}

/// Completes when `stop` says so (or its sender is gone).
async fn stop_requested(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Ctrl-C, or SIGTERM where there is one.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
