//! The native twin of the pipeline: the same decode → route → dispatch → report path, with
//! plain Rust functions where the pipeline runs plugins.
//!
//! It is built from the host's public pieces ([`RouteTable::plugins_for`], the
//! configuration's triggers, [`RecordOutcome`]), runs the same number of calls at once as
//! `[host] concurrency` says, and does what the test guest's `noop` and `upper` modes do.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncReadExt};

use s3plug_host::Config;
use s3plug_host::event::{DecodedEvent, ItemKind, S3Record};
use s3plug_host::outcome::{FailureKind, RecordOutcome, Status, UsageReport};
use s3plug_host::route::RouteTable;
use s3plug_host::store::{ObjectStore, PutOptions, StoreError};

/// The chunk size of `upper`, as in the guest: 256 KiB.
const UPPER_CHUNK_BYTES: usize = 256 * 1024;

/// A native handler: what a plugin of the test guest would do, in its mode.
#[derive(Debug, Clone)]
pub enum NativeHandler {
    /// `noop`: nothing.
    Noop,
    /// `upper`: streams the object to `out_prefix` + key, ASCII-uppercased.
    Upper { out_prefix: String },
}

impl NativeHandler {
    /// The handler for a plugin's `mode` setting.
    fn for_mode(mode: &str, out_prefix: &str) -> Self {
        match mode {
            "noop" => Self::Noop,
            "upper" => Self::Upper {
                out_prefix: out_prefix.to_owned(),
            },
            other => panic!("no native twin for mode {other:?}"),
        }
    }

    async fn handle(
        &self,
        objects: &dyn ObjectStore,
        record: &S3Record,
    ) -> Result<(Option<String>, UsageReport), StoreError> {
        let mut usage = UsageReport {
            writes: 0,
            bytes_read: 0,
            bytes_written: 0,
            denials: 0,
            logs_dropped: 0,
        };
        match self {
            Self::Noop => Ok((None, usage)),
            Self::Upper { out_prefix } => {
                let mut object = objects.get(&record.bucket, &record.key, None).await?;
                let target = format!("{out_prefix}{}", record.key);
                let mut writer = objects
                    .create(&record.bucket, &target, &PutOptions::default())
                    .await?;
                usage.writes = 1;
                let mut chunk = vec![0; UPPER_CHUNK_BYTES];
                loop {
                    let n = read_full(&mut object.body, &mut chunk)
                        .await
                        .map_err(|err| StoreError::Backend(err.to_string()))?;
                    if n == 0 {
                        break;
                    }
                    chunk[..n].make_ascii_uppercase();
                    writer.write(&chunk[..n]).await?;
                    usage.bytes_read += n as u64;
                    usage.bytes_written += n as u64;
                }
                writer.finish().await?;
                let message = format!("uppercased {} bytes", usage.bytes_read);
                Ok((Some(message), usage))
            }
        }
    }
}

/// Fills `buf` as far as the body goes, like the host's reader does for a guest.
async fn read_full(
    body: &mut (dyn AsyncRead + Send + Unpin),
    buf: &mut [u8],
) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match body.read(&mut buf[filled..]).await {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(filled)
}

/// The pipeline with native handlers in place of plugins. Cheap to clone, as the pipeline.
#[derive(Debug, Clone)]
pub struct NativePipeline {
    routes: Arc<RouteTable>,
    handlers: Arc<Vec<(String, NativeHandler)>>,
    objects: Arc<dyn ObjectStore>,
    concurrency: usize,
}

/// One (record, handler) call to make.
struct Job {
    slot: usize,
    record_index: usize,
    record: S3Record,
    handler: usize,
}

impl NativePipeline {
    /// A twin of the pipeline of `config`: same routes, same concurrency, each plugin
    /// replaced by the native handler of its `mode`.
    pub fn new(config: &Config, objects: Arc<dyn ObjectStore>) -> Self {
        let routes = RouteTable::new(config.plugins.iter().map(|p| p.trigger.clone()).collect());
        let handlers = config
            .plugins
            .iter()
            .map(|spec| {
                let mode = spec.config.get("mode").map_or("", String::as_str);
                let out_prefix = spec.config.get("out_prefix").map_or("out/", String::as_str);
                (spec.name.clone(), NativeHandler::for_mode(mode, out_prefix))
            })
            .collect();
        Self {
            routes: Arc::new(routes),
            handlers: Arc::new(handlers),
            objects,
            concurrency: config.host.concurrency,
        }
    }

    /// Every (record, handler) in event order, then config order; calls run in up to
    /// `concurrency` tasks on the runtime, as in the pipeline.
    pub async fn process(&self, event: &DecodedEvent) -> Vec<RecordOutcome> {
        let mut outcomes: Vec<Option<RecordOutcome>> = Vec::new();
        let mut jobs = VecDeque::new();
        for (index, item) in event.items.iter().enumerate() {
            let ItemKind::Record(record) = &item.kind else {
                outcomes.push(Some(blank(index, None, Status::Ignored)));
                continue;
            };
            let record: &S3Record = record;
            let mut routed = false;
            for handler in self.routes.plugins_for(record) {
                routed = true;
                jobs.push_back(Job {
                    slot: outcomes.len(),
                    record_index: index,
                    record: record.clone(),
                    handler,
                });
                outcomes.push(None);
            }
            if !routed {
                outcomes.push(Some(blank(index, Some(record), Status::Unrouted)));
            }
        }
        let workers = self.concurrency.min(jobs.len());
        if workers <= 1 {
            while let Some(job) = jobs.pop_front() {
                outcomes[job.slot] = Some(self.run_job(&job).await);
            }
        } else {
            let queue = Arc::new(Mutex::new(jobs));
            let mut tasks = tokio::task::JoinSet::new();
            for _ in 0..workers {
                let (twin, queue) = (self.clone(), queue.clone());
                tasks.spawn(async move {
                    let mut done = Vec::new();
                    loop {
                        let job = queue
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .pop_front();
                        let Some(job) = job else { break };
                        done.push((job.slot, twin.run_job(&job).await));
                    }
                    done
                });
            }
            while let Some(done) = tasks.join_next().await {
                for (slot, outcome) in done.expect("a native call does not panic") {
                    outcomes[slot] = Some(outcome);
                }
            }
        }
        outcomes.into_iter().flatten().collect()
    }

    async fn run_job(&self, job: &Job) -> RecordOutcome {
        let started = Instant::now();
        let (name, handler) = &self.handlers[job.handler];
        let mut outcome = blank(job.record_index, Some(&job.record), Status::Failed);
        outcome.plugin = Some(name.clone());
        match handler.handle(self.objects.as_ref(), &job.record).await {
            Ok((message, usage)) => {
                outcome.status = Status::Ok;
                outcome.outcome = Some("processed");
                outcome.message = message;
                outcome.usage = Some(usage);
            }
            Err(err) => {
                outcome.error = Some(format!("plugin-error: {err}"));
                outcome.reason = Some(FailureKind::PluginError);
            }
        }
        outcome.duration_ms = started.elapsed().as_secs_f64() * 1e3;
        outcome
    }
}

fn blank(record: usize, object: Option<&S3Record>, status: Status) -> RecordOutcome {
    RecordOutcome {
        record,
        message_id: None,
        bucket: object.map(|r| r.bucket.clone()),
        key: object.map(|r| r.key.clone()),
        event: object.map(|r| r.event_name.clone()),
        plugin: None,
        status,
        outcome: None,
        message: None,
        error: None,
        reason: None,
        duration_ms: 0.0,
        usage: None,
    }
}
