//! The pipeline every front end shares: decoded event → routes → plugin calls → outcomes.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::time::Instant;
use tracing::Instrument;

use crate::config::Config;
use crate::dedupe::{DedupeState, Verdict};
use crate::event::{DecodedEvent, EventItem, ItemKind, S3Record};
use crate::guard::{Lineage, LoopGraph};
use crate::observe::{Observer, Observers};
use crate::outcome::{Failure, FailureKind, PluginOutcome, RecordOutcome, Status, UsageReport};
use crate::plugin::{
    CallDeadline, CallScope, CompileCache, EngineOptions, LoadError, PluginRegistry,
    new_engine_with,
};
use crate::route::RouteTable;
use crate::store::ObjectStore;
use crate::tombstone::Tombstones;

/// Everything a front end needs to process events: loaded once, used for every event.
/// Cheap to clone: clones share the loaded plugins.
#[derive(Debug, Clone)]
pub struct Pipeline {
    inner: Arc<Loaded>,
}

#[derive(Debug)]
struct Loaded {
    registry: PluginRegistry,
    routes: RouteTable,
    objects: Arc<dyn ObjectStore>,
    concurrency: usize,
    /// Per plugin: whether its trigger's lineage must be read before it runs, because it
    /// sits on an allowed write cycle or writes into one.
    needs_lineage: Vec<bool>,
    /// The markers of routes with `skip_duplicates`.
    dedupe: Option<DedupeState>,
    /// The depths of deleted objects, for write cycles through a delete.
    tombstones: Option<Tombstones>,
    /// Per plugin: whether the lineage of an `ObjectRemoved` record is its tombstone's.
    reads_tombstones: Vec<bool>,
    /// Per plugin: whether its deletes leave tombstones.
    writes_tombstones: Vec<bool>,
    /// Calls in flight across every request at once: what the engine's instance pool holds,
    /// so that concurrent requests (a webhook server's, overlapping invocations) wait for a
    /// slot instead of failing to instantiate.
    call_slots: Arc<tokio::sync::Semaphore>,
}

/// Why a pipeline did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot start the WebAssembly engine")]
    Engine(#[source] anyhow::Error),
    #[error(transparent)]
    Plugin(#[from] LoadError),
}

/// One request to answer: the id that goes into the lineage of every object its plugins
/// write, and the time by which it must be answered, if any (a Lambda invocation's
/// deadline less a margin). No call of the request runs past it.
#[derive(Debug, Clone)]
pub struct Request {
    pub id: Arc<str>,
    pub deadline: Option<Instant>,
    /// The `X-Amzn-Trace-Id` its S3 calls carry (a Lambda invocation's `xray_trace_id`).
    pub trace_id: Option<Arc<str>>,
    /// Who sees what happens inside its calls, besides the log.
    pub observer: Option<Arc<dyn Observer>>,
}

impl Request {
    /// A request with a local id and no deadline: `s3plug run`, `test`, `dev`, `serve`.
    pub fn local() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        Self {
            id: Arc::from(format!("local-{nanos:x}")),
            deadline: None,
            trace_id: None,
            observer: None,
        }
    }

    /// This request, with `observer` seeing what happens inside its calls.
    pub fn observed_by(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = Some(observer);
        self
    }
}

/// One (record, plugin) call to make.
#[derive(Debug)]
struct Job {
    slot: usize,
    record_index: usize,
    message_id: Option<String>,
    record: Arc<S3Record>,
    plugin: usize,
}

impl Pipeline {
    /// The one way every front end starts: an engine sized for `config`, the compile cache
    /// of the environment (`S3PLUG_CACHE_DIR`, else the user's cache folder), and every
    /// plugin loaded on them.
    pub async fn load(config: &Config, objects: Arc<dyn ObjectStore>) -> Result<Self, StartError> {
        Self::load_with(config, objects, CompileCache::from_env()).await
    }

    /// [`Pipeline::load`] with the compile cache given (`None`: compile every plugin).
    pub async fn load_with(
        config: &Config,
        objects: Arc<dyn ObjectStore>,
        cache: Option<CompileCache>,
    ) -> Result<Self, StartError> {
        let (engine, allocator) =
            new_engine_with(&EngineOptions::for_config(config)).map_err(StartError::Engine)?;
        tracing::debug!(?allocator, "engine ready");
        Ok(Self::new(&engine, config, objects, cache.as_ref()).await?)
    }

    /// Loads every plugin of `config` on an engine of the caller's (benchmarks and tests
    /// share one between pipelines); front ends start with [`Pipeline::load`].
    pub async fn new(
        engine: &wasmtime::Engine,
        config: &Config,
        objects: Arc<dyn ObjectStore>,
        cache: Option<&CompileCache>,
    ) -> Result<Self, LoadError> {
        let registry =
            PluginRegistry::load(engine, &config.plugins, cache, objects.as_ref()).await?;
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
        let reads_tombstones: Vec<bool> = (0..config.plugins.len())
            .map(|i| graph.needs_tombstones(i))
            .collect();
        let writes_tombstones: Vec<bool> = (0..config.plugins.len())
            .map(|i| graph.writes_tombstones(i))
            .collect();
        // The load check refuses a cycle through a delete without a state location.
        let tombstones = config
            .host
            .state
            .clone()
            .filter(|_| writes_tombstones.iter().any(|w| *w))
            .map(|location| Tombstones::new(objects.clone(), location));
        Ok(Self {
            inner: Arc::new(Loaded {
                registry,
                routes,
                objects,
                concurrency: config.host.concurrency,
                needs_lineage,
                dedupe,
                tombstones,
                reads_tombstones,
                writes_tombstones,
                call_slots: Arc::new(tokio::sync::Semaphore::new(
                    EngineOptions::for_config(config).instances as usize,
                )),
            }),
        })
    }

    pub fn registry(&self) -> &PluginRegistry {
        &self.inner.registry
    }

    /// Processes an event for a local request; see [`Pipeline::process_request`].
    pub async fn process(&self, event: &DecodedEvent) -> Vec<RecordOutcome> {
        self.process_request(event, &Request::local()).await
    }

    /// Processes every item of an event and reports each (record, plugin) in event order,
    /// then config order. Calls run concurrently, up to `[host] concurrency` at once, on
    /// the runtime's worker threads. Every call ends by the request's deadline; a call that
    /// could not finish by then is reported `timeout`, so that every (record, plugin) has an
    /// outcome when this returns.
    pub async fn process_request(
        &self,
        event: &DecodedEvent,
        request: &Request,
    ) -> Vec<RecordOutcome> {
        let mut outcomes: Vec<Option<RecordOutcome>> = Vec::new();
        let mut jobs = VecDeque::new();
        for (index, item) in event.items.iter().enumerate() {
            self.plan(index, item, &mut outcomes, &mut jobs);
        }
        // Where each job's outcome goes, kept to report a job whose task died without one.
        let planned: Vec<(usize, usize, usize)> = jobs
            .iter()
            .map(|job| (job.slot, job.record_index, job.plugin))
            .collect();
        let workers = self.inner.concurrency.min(jobs.len());
        if workers <= 1 {
            while let Some(job) = jobs.pop_front() {
                outcomes[job.slot] = Some(self.run_job(&job, request).await);
            }
        } else {
            // Each outcome is kept as soon as its call ends, so that a worker that dies
            // loses no outcome but the one of the call it was running.
            let finished = Arc::new(Mutex::new(outcomes));
            let queue = Arc::new(Mutex::new(jobs));
            let mut tasks = tokio::task::JoinSet::new();
            // Log lines of the calls belong to the caller's span (the Lambda request).
            let span = tracing::Span::current();
            for _ in 0..workers {
                let (pipeline, queue, request) = (self.clone(), queue.clone(), request.clone());
                let finished = finished.clone();
                tasks.spawn(
                    async move {
                        loop {
                            let job = queue
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .pop_front();
                            let Some(job) = job else { break };
                            let outcome = pipeline.run_job(&job, &request).await;
                            finished.lock().unwrap_or_else(PoisonError::into_inner)[job.slot] =
                                Some(outcome);
                        }
                    }
                    .instrument(span.clone()),
                );
            }
            while let Some(ended) = tasks.join_next().await {
                if let Err(err) = ended {
                    tracing::error!("a call's task failed: {err}");
                }
            }
            outcomes =
                std::mem::take(&mut *finished.lock().unwrap_or_else(PoisonError::into_inner));
        }
        for (slot, record_index, plugin) in planned {
            if outcomes[slot].is_none() {
                outcomes[slot] = Some(self.lost_outcome(event, record_index, plugin));
            }
        }
        outcomes.into_iter().flatten().collect()
    }

    /// The outcome of a call whose task ended without one (a host fault): failed, as
    /// `internal`, which a retry may fix.
    fn lost_outcome(
        &self,
        event: &DecodedEvent,
        record_index: usize,
        plugin: usize,
    ) -> RecordOutcome {
        let item = &event.items[record_index];
        let mut outcome = match &item.kind {
            ItemKind::Record(record) => {
                self.outcome_before_run(record_index, item.message_id.as_deref(), record, plugin)
            }
            // Only records are planned as jobs.
            ItemKind::Test | ItemKind::Invalid(_) => RecordOutcome {
                record: record_index,
                message_id: item.message_id.clone(),
                bucket: None,
                key: None,
                event: None,
                plugin: None,
                status: Status::Failed,
                outcome: None,
                message: None,
                error: None,
                reason: None,
                duration_ms: 0.0,
                usage: None,
            },
        };
        let failure = Failure::new(
            FailureKind::Internal,
            "the call's task ended without an outcome".to_owned(),
        );
        tracing::error!(record = record_index, plugin = ?outcome.plugin, "{failure}");
        outcome.error = Some(failure.to_string());
        outcome.reason = Some(failure.kind);
        outcome
    }

    /// Reports what needs no plugin at once, and plans a job per matching plugin.
    fn plan(
        &self,
        index: usize,
        item: &EventItem,
        outcomes: &mut Vec<Option<RecordOutcome>>,
        jobs: &mut VecDeque<Job>,
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
                for plugin in self.inner.routes.plugins_for(record) {
                    routed = true;
                    jobs.push_back(Job {
                        slot: outcomes.len(),
                        record_index: index,
                        message_id: message_id.map(str::to_owned),
                        record: Arc::clone(record),
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

    /// The outcome of a call before it ran: failed, with nothing said yet.
    fn outcome_before_run(
        &self,
        record_index: usize,
        message_id: Option<&str>,
        record: &S3Record,
        plugin: usize,
    ) -> RecordOutcome {
        RecordOutcome {
            record: record_index,
            message_id: message_id.map(str::to_owned),
            bucket: Some(record.bucket.clone()),
            key: Some(record.key.clone()),
            event: Some(record.event_name.clone()),
            plugin: self.inner.registry.get(plugin).map(|p| p.spec.name.clone()),
            status: Status::Failed,
            outcome: None,
            message: None,
            error: None,
            reason: None,
            duration_ms: 0.0,
            usage: None,
        }
    }

    /// The lineage of a job's triggering object: its metadata while it exists; for an
    /// object a plugin deleted, the tombstone it left (see [`crate::tombstone`]).
    async fn lineage_of(&self, job: &Job) -> Lineage {
        let record = &job.record;
        let head = self.inner.objects.head(&record.bucket, &record.key).await;
        if let Ok(info) = head {
            return Lineage::from_metadata(&info.metadata);
        }
        let tombstones = self
            .inner
            .tombstones
            .as_ref()
            .filter(|_| self.inner.reads_tombstones.get(job.plugin) == Some(&true))
            .filter(|_| record.event_name.starts_with("ObjectRemoved:"));
        let Some(tombstones) = tombstones else {
            // Gone, and not by a plugin on a cycle: no lineage left.
            return Lineage::default();
        };
        match tombstones.lineage_of(record).await {
            Ok(lineage) => lineage.unwrap_or_default(),
            Err(err) => {
                // An unknown depth on a cycle: the deepest is the safe guess.
                tracing::warn!(bucket = %record.bucket, key = %record.key, "cannot read the tombstone of a deleted object; taking it as too deep: {err}");
                Lineage {
                    depth: u32::MAX,
                    origin: None,
                    request: None,
                }
            }
        }
    }

    /// Runs one job with its request's trace id on its S3 calls.
    async fn run_job(&self, job: &Job, request: &Request) -> RecordOutcome {
        crate::trace::scope(request.trace_id.clone(), self.run_traced(job, request)).await
    }

    async fn run_traced(&self, job: &Job, request: &Request) -> RecordOutcome {
        let started = Instant::now();
        let record = &job.record;
        let mut outcome = self.outcome_before_run(
            job.record_index,
            job.message_id.as_deref(),
            record,
            job.plugin,
        );
        let Some(plugin) = self.inner.registry.get(job.plugin) else {
            let failure = Failure::new(
                FailureKind::Internal,
                format!("no plugin at index {}", job.plugin),
            );
            outcome.error = Some(failure.to_string());
            outcome.reason = Some(failure.kind);
            return outcome;
        };
        let timeout = plugin.spec.limits.timeout;
        let deadline = CallDeadline::new(started, timeout, request.deadline);
        let finish = |mut outcome: RecordOutcome| {
            outcome.duration_ms = started.elapsed().as_secs_f64() * 1e3;
            log_outcome(&outcome);
            outcome
        };
        let timed_out = |mut outcome: RecordOutcome| {
            let failure = deadline.failure(started.elapsed(), timeout);
            outcome.error = Some(failure.to_string());
            outcome.reason = Some(failure.kind);
            finish(outcome)
        };
        // The host's own lookups before the call count against the call's time too.
        let lineage = if self
            .inner
            .needs_lineage
            .get(job.plugin)
            .copied()
            .unwrap_or(false)
        {
            match tokio::time::timeout_at(deadline.at, self.lineage_of(job)).await {
                Err(_elapsed) => return timed_out(outcome),
                Ok(lineage) => lineage,
            }
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
        let dedupe = self
            .inner
            .dedupe
            .as_ref()
            .filter(|_| plugin.spec.skip_duplicates);
        if let Some(dedupe) = dedupe {
            let verdict = match tokio::time::timeout_at(
                deadline.at,
                dedupe.verdict(&plugin.spec.name, record),
            )
            .await
            {
                Ok(verdict) => verdict,
                Err(_elapsed) => return timed_out(outcome),
            };
            let skip = match verdict {
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
        // A slot of the instance pool, waited for within the call's own time.
        let slot = tokio::time::timeout_at(deadline.at, self.inner.call_slots.acquire()).await;
        let Ok(Ok(_slot)) = slot else {
            return timed_out(outcome);
        };
        let report = plugin
            .call(
                self.inner.objects.clone(),
                record,
                lineage,
                CallScope {
                    request_id: request.id.clone(),
                    record: job.record_index,
                    observers: Observers::new(request.observer.clone()),
                },
                self.inner
                    .tombstones
                    .clone()
                    .filter(|_| self.inner.writes_tombstones.get(job.plugin) == Some(&true)),
                deadline,
            )
            .await;
        if let (Some(dedupe), Ok(_)) = (dedupe, &report.result) {
            // Bounded too: a marker that cannot be written in time only risks a duplicate.
            let remembered =
                tokio::time::timeout_at(deadline.at, dedupe.remember(&plugin.spec.name, record))
                    .await;
            if remembered.is_err() {
                tracing::warn!(plugin = %plugin.spec.name, bucket = %record.bucket, key = %record.key, "the duplicate marker was not written in time");
            }
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
        finish(outcome)
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
