//! The pipeline every front end shares: decoded event → routes → plugin calls → outcomes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use crate::config::Config;
use crate::dedupe::{DedupeState, Verdict};
use crate::event::{DecodedEvent, EventItem, ItemKind, S3Record};
use crate::guard::{Lineage, LoopGraph};
use crate::outcome::{Failure, FailureKind, PluginOutcome, RecordOutcome, Status, UsageReport};
use crate::plugin::{CompileCache, LoadError, PluginRegistry};
use crate::route::RouteTable;
use crate::store::ObjectStore;

/// Everything a front end needs to process events: loaded once, used for every event.
#[derive(Debug)]
pub struct Pipeline {
    registry: PluginRegistry,
    routes: RouteTable,
    objects: Arc<dyn ObjectStore>,
    concurrency: usize,
    /// Per plugin: whether its trigger's lineage must be read before it runs, because it
    /// sits on an allowed write cycle or writes into one.
    needs_lineage: Vec<bool>,
    /// The markers of routes with `skip_duplicates`.
    dedupe: Option<DedupeState>,
}

/// One (record, plugin) call to make.
struct Job<'a> {
    slot: usize,
    record_index: usize,
    message_id: Option<&'a str>,
    record: &'a S3Record,
    plugin: usize,
}

impl Pipeline {
    /// Loads every plugin of `config` on `engine`.
    pub fn new(
        engine: &wasmtime::Engine,
        config: &Config,
        objects: Arc<dyn ObjectStore>,
        cache: Option<&CompileCache>,
    ) -> Result<Self, LoadError> {
        let registry = PluginRegistry::load(engine, &config.plugins, cache, objects.as_ref())?;
        let routes = RouteTable::new(config.plugins.iter().map(|p| p.trigger.clone()).collect());
        let graph = LoopGraph::new(&config.plugins);
        let needs_lineage = (0..config.plugins.len())
            .map(|i| {
                config.plugins[i].max_depth.is_some()
                    || graph
                        .edges()
                        .iter()
                        .any(|e| e.from == i && config.plugins[e.to].max_depth.is_some())
            })
            .collect();
        let dedupe = config
            .host
            .state
            .clone()
            .map(|location| DedupeState::new(objects.clone(), location));
        Ok(Self {
            registry,
            routes,
            objects,
            concurrency: config.host.concurrency,
            needs_lineage,
            dedupe,
        })
    }

    pub fn registry(&self) -> &PluginRegistry {
        &self.registry
    }

    pub fn objects(&self) -> &Arc<dyn ObjectStore> {
        &self.objects
    }

    /// Processes an event for a local request; see [`Pipeline::process_request`].
    pub fn process(&self, event: &DecodedEvent) -> Vec<RecordOutcome> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        self.process_request(event, &format!("local-{nanos:x}"))
    }

    /// Processes every item of an event and reports each (record, plugin) in event order,
    /// then config order. Calls run concurrently, up to `[host] concurrency` at once.
    /// `request_id` goes into the lineage metadata of every object the plugins write.
    pub fn process_request(&self, event: &DecodedEvent, request_id: &str) -> Vec<RecordOutcome> {
        let request_id: Arc<str> = Arc::from(request_id);
        let mut outcomes: Vec<Option<RecordOutcome>> = Vec::new();
        let mut jobs = Vec::new();
        for (index, item) in event.items.iter().enumerate() {
            self.plan(index, item, &mut outcomes, &mut jobs);
        }
        let finished = Mutex::new(outcomes);
        let run = |job: &Job<'_>| {
            let outcome = self.run_job(job, &request_id);
            finished.lock().unwrap_or_else(PoisonError::into_inner)[job.slot] = Some(outcome);
        };
        let workers = self.concurrency.min(jobs.len());
        if workers <= 1 {
            jobs.iter().for_each(run);
        } else {
            let next = AtomicUsize::new(0);
            // Log lines of the workers belong to the caller's span (the Lambda request).
            let span = tracing::Span::current();
            std::thread::scope(|scope| {
                for _ in 0..workers {
                    scope.spawn(|| {
                        let _entered = span.enter();
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

    /// Reports what needs no plugin at once, and plans a job per matching plugin.
    fn plan<'a>(
        &self,
        index: usize,
        item: &'a EventItem,
        outcomes: &mut Vec<Option<RecordOutcome>>,
        jobs: &mut Vec<Job<'a>>,
    ) {
        let message_id = item.message_id.as_deref();
        let blank = |status| RecordOutcome {
            record: index,
            message_id: message_id.map(str::to_owned),
            bucket: None,
            key: None,
            event: None,
            plugin: None,
            status,
            outcome: None,
            message: None,
            error: None,
            reason: None,
            duration_ms: 0.0,
            usage: None,
        };
        match &item.kind {
            ItemKind::Test => outcomes.push(Some(blank(Status::Ignored))),
            ItemKind::Invalid(why) => {
                let failure = Failure::new(FailureKind::InvalidEvent, why.clone());
                tracing::warn!(record = index, message_id, "{failure}");
                outcomes.push(Some(RecordOutcome {
                    error: Some(failure.to_string()),
                    reason: Some(failure.kind),
                    ..blank(Status::Failed)
                }));
            }
            ItemKind::Record(record) => {
                let mut routed = false;
                for plugin in self.routes.plugins_for(record) {
                    routed = true;
                    jobs.push(Job {
                        slot: outcomes.len(),
                        record_index: index,
                        message_id,
                        record,
                        plugin,
                    });
                    outcomes.push(None);
                }
                if !routed {
                    tracing::debug!(bucket = %record.bucket, key = %record.key, event = %record.event_name, "unrouted");
                    outcomes.push(Some(RecordOutcome {
                        bucket: Some(record.bucket.clone()),
                        key: Some(record.key.clone()),
                        event: Some(record.event_name.clone()),
                        ..blank(Status::Unrouted)
                    }));
                }
            }
        }
    }

    fn run_job(&self, job: &Job<'_>, request_id: &Arc<str>) -> RecordOutcome {
        let started = Instant::now();
        let record = job.record;
        let mut outcome = RecordOutcome {
            record: job.record_index,
            message_id: job.message_id.map(str::to_owned),
            bucket: Some(record.bucket.clone()),
            key: Some(record.key.clone()),
            event: Some(record.event_name.clone()),
            plugin: None,
            status: Status::Failed,
            outcome: None,
            message: None,
            error: None,
            reason: None,
            duration_ms: 0.0,
            usage: None,
        };
        let Some(plugin) = self.registry.get(job.plugin) else {
            let failure = Failure::new(
                FailureKind::Internal,
                format!("no plugin at index {}", job.plugin),
            );
            outcome.error = Some(failure.to_string());
            outcome.reason = Some(failure.kind);
            return outcome;
        };
        outcome.plugin = Some(plugin.spec.name.clone());
        let lineage = if self.needs_lineage.get(job.plugin).copied().unwrap_or(false) {
            // An object that is gone has no lineage left; the plugin will find it gone too.
            self.objects
                .head(&record.bucket, &record.key)
                .map(|info| Lineage::from_metadata(&info.metadata))
                .unwrap_or_default()
        } else {
            Lineage::default()
        };
        if let Some(max) = plugin.spec.max_depth.filter(|max| lineage.depth >= *max) {
            outcome.status = Status::LoopStopped;
            let chain = format!(
                "object is {} s3plug writes deep, max_depth = {max}; last written by plugin {:?} in request {:?}",
                lineage.depth,
                lineage.origin.as_deref().unwrap_or("?"),
                lineage.request.as_deref().unwrap_or("?"),
            );
            tracing::warn!(plugin = %plugin.spec.name, bucket = %record.bucket, key = %record.key, depth = lineage.depth, "loop stopped: {chain}");
            outcome.message = Some(chain);
            outcome.duration_ms = started.elapsed().as_secs_f64() * 1e3;
            return outcome;
        }
        let dedupe = self.dedupe.as_ref().filter(|_| plugin.spec.skip_duplicates);
        if let Some(dedupe) = dedupe {
            let skip = match dedupe.verdict(&plugin.spec.name, record) {
                Verdict::Fresh => None,
                Verdict::Duplicate => Some((
                    "duplicate",
                    "already processed: same object version and sequencer".to_owned(),
                )),
                Verdict::Stale { processed } => Some((
                    "stale",
                    format!("older than the event already processed (sequencer {processed})"),
                )),
            };
            if let Some((kind, why)) = skip {
                tracing::info!(plugin = %plugin.spec.name, bucket = %record.bucket, key = %record.key, "skipped: {why}");
                outcome.status = Status::Ok;
                outcome.outcome = Some(kind);
                outcome.message = Some(why);
                outcome.duration_ms = started.elapsed().as_secs_f64() * 1e3;
                return outcome;
            }
        }
        let report = plugin.call(self.objects.clone(), record, lineage, request_id.clone());
        if let (Some(dedupe), Ok(_)) = (dedupe, &report.result) {
            dedupe.remember(&plugin.spec.name, record);
        }
        outcome.usage = Some(UsageReport::from(&report.usage));
        match report.result {
            Ok(PluginOutcome::Processed(message)) => {
                outcome.status = Status::Ok;
                outcome.outcome = Some("processed");
                outcome.message = message;
            }
            Ok(PluginOutcome::Skipped(message)) => {
                outcome.status = Status::Ok;
                outcome.outcome = Some("skipped");
                outcome.message = message;
            }
            Err(failure) => {
                outcome.error = Some(failure.to_string());
                outcome.reason = Some(failure.kind);
            }
        }
        outcome.duration_ms = started.elapsed().as_secs_f64() * 1e3;
        log_outcome(&outcome);
        outcome
    }
}

fn log_outcome(outcome: &RecordOutcome) {
    let (plugin, bucket, key) = (
        outcome.plugin.as_deref(),
        outcome.bucket.as_deref(),
        outcome.key.as_deref(),
    );
    match &outcome.error {
        Some(error) => tracing::warn!(
            plugin,
            bucket,
            key,
            duration_ms = outcome.duration_ms,
            status = "failed",
            "{error}"
        ),
        None => tracing::info!(
            plugin,
            bucket,
            key,
            duration_ms = outcome.duration_ms,
            status = "ok",
            "record done"
        ),
    }
}
