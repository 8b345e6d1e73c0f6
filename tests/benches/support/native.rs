//! The native twin of the pipeline: the same decode → route → dispatch → report path, with
//! plain Rust functions where the pipeline runs plugins.
//!
//! It is built from the host's public pieces ([`RouteTable::plugins_for`], the
//! configuration's triggers, [`RecordOutcome`]), runs the same number of calls at once as
//! `[host] concurrency` says, and does what the test guest's `noop` and `upper` modes do.

use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use s3plug::Config;
use s3plug::event::{DecodedEvent, ItemKind, S3Record};
use s3plug::outcome::{FailureKind, RecordOutcome, Status, UsageReport};
use s3plug::route::RouteTable;
use s3plug::store::{ObjectStore, PutOptions, StoreError};

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

    fn handle(
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
                let mut object = objects.get(&record.bucket, &record.key, None)?;
                let target = format!("{out_prefix}{}", record.key);
                let mut writer = objects.create(&record.bucket, &target, &PutOptions::default())?;
                usage.writes = 1;
                let mut chunk = vec![0; UPPER_CHUNK_BYTES];
                loop {
                    let n = read_full(&mut object.body, &mut chunk)
                        .map_err(|err| StoreError::Backend(err.to_string()))?;
                    if n == 0 {
                        break;
                    }
                    chunk[..n].make_ascii_uppercase();
                    writer.write(&chunk[..n])?;
                    usage.bytes_read += n as u64;
                    usage.bytes_written += n as u64;
                }
                writer.finish()?;
                let message = format!("uppercased {} bytes", usage.bytes_read);
                Ok((Some(message), usage))
            }
        }
    }
}

/// Fills `buf` as far as the body goes, like the host's reader does for a guest.
fn read_full(body: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match body.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(filled)
}

/// The pipeline with native handlers in place of plugins.
#[derive(Debug)]
pub struct NativePipeline {
    routes: RouteTable,
    handlers: Vec<(String, NativeHandler)>,
    objects: Arc<dyn ObjectStore>,
    concurrency: usize,
}

/// One (record, handler) call to make.
struct Job<'a> {
    slot: usize,
    record_index: usize,
    record: &'a S3Record,
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
            routes,
            handlers,
            objects,
            concurrency: config.host.concurrency,
        }
    }

    /// Every (record, handler) in event order, then config order; calls run on up to
    /// `concurrency` threads, as in the pipeline.
    pub fn process(&self, event: &DecodedEvent) -> Vec<RecordOutcome> {
        let mut outcomes: Vec<Option<RecordOutcome>> = Vec::new();
        let mut jobs = Vec::new();
        for (index, item) in event.items.iter().enumerate() {
            let ItemKind::Record(record) = &item.kind else {
                outcomes.push(Some(blank(index, None, Status::Ignored)));
                continue;
            };
            let record: &S3Record = record;
            let mut routed = false;
            for handler in self.routes.plugins_for(record) {
                routed = true;
                jobs.push(Job {
                    slot: outcomes.len(),
                    record_index: index,
                    record,
                    handler,
                });
                outcomes.push(None);
            }
            if !routed {
                outcomes.push(Some(blank(index, Some(record), Status::Unrouted)));
            }
        }
        let finished = Mutex::new(outcomes);
        let run = |job: &Job<'_>| {
            let outcome = self.run_job(job);
            finished.lock().unwrap_or_else(PoisonError::into_inner)[job.slot] = Some(outcome);
        };
        let workers = self.concurrency.min(jobs.len());
        if workers <= 1 {
            jobs.iter().for_each(run);
        } else {
            let next = AtomicUsize::new(0);
            std::thread::scope(|scope| {
                for _ in 0..workers {
                    scope.spawn(|| {
                        while let Some(job) = jobs.get(next.fetch_add(1, Ordering::Relaxed)) {
                            run(job);
                        }
                    });
                }
            });
        }
        finished
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
            .into_iter()
            .flatten()
            .collect()
    }

    fn run_job(&self, job: &Job<'_>) -> RecordOutcome {
        let started = Instant::now();
        let (name, handler) = &self.handlers[job.handler];
        let mut outcome = blank(job.record_index, Some(job.record), Status::Failed);
        outcome.plugin = Some(name.clone());
        match handler.handle(self.objects.as_ref(), job.record) {
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
