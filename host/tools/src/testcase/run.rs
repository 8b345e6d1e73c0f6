//! Running the cases of a test file: the plugins are loaded once per file, and each case
//! gets a fresh in-memory store with the seeded objects.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Instant;

use super::capture::Capture;
use super::events::{EventInput, RecordSpec, Seed};
use super::expect::{CaseRun, EventOutcome};
use super::file::{Case, TestFile, TestFileError};
use super::report::{CaseReport, Mismatch, Report};
use s3plug_host::event::DecodedEvent;
use s3plug_host::plugin::CompileCache;
use s3plug_host::store::{
    ByteRange, ListPage, MemoryStore, ObjectBody, ObjectInfo, ObjectStore, ObjectWriter,
    PutOptions, StoreError,
};
use s3plug_host::{Pipeline, Request};

use crate::eventgen::ObjectAction;

/// The most events `follow_writes` adds to a case: far more than a chain the loop guards
/// allow (`max_depth` is at most 16), few enough to stop a runaway case quickly.
const MAX_FOLLOWED_EVENTS: usize = 256;

impl TestFile {
    /// Sets where compiled plugins are cached; by default where `s3plug run` caches them
    /// (`S3PLUG_CACHE_DIR`, else the user's cache folder). `None` compiles them every run.
    pub fn with_compile_cache(mut self, cache: Option<CompileCache>) -> Self {
        self.cache = cache;
        self
    }

    /// Runs every case.
    pub fn run(&self) -> Result<Report, TestFileError> {
        self.run_cases(None, |_| {})
    }

    /// Runs the cases whose name contains `filter` (all without one), calling `each` with
    /// each case's report as soon as it is done. `Err` when the plugins do not load.
    ///
    /// Runs on a runtime of its own, on this thread: call it from synchronous code (a
    /// `#[test]`, not a `#[tokio::test]`).
    pub fn run_cases(
        &self,
        filter: Option<&str>,
        mut each: impl FnMut(&CaseReport),
    ) -> Result<Report, TestFileError> {
        let path = self.path.display().to_string();
        let seeded = || {
            Seed::store(&self.seeds).map_err(|err| TestFileError::Store {
                path: path.clone(),
                message: err.to_string(),
            })
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| TestFileError::Runtime {
                path: path.clone(),
                source,
            })?;
        let store = Arc::new(CaseStore::new(seeded()?));
        // The configuration as written, `[host] concurrency` included: what a case sees is
        // observed per call, and the outcomes come in record order whatever ran first.
        let pipeline = runtime
            .block_on(Pipeline::load_with(
                &self.config,
                store.clone(),
                self.cache.clone(),
            ))
            .map_err(|source| TestFileError::Start {
                path: path.clone(),
                source,
            })?;
        let mut report = Report {
            path: self.path.clone(),
            cases: Vec::new(),
            filtered_out: 0,
        };
        for case in &self.cases {
            if filter.is_some_and(|text| !case.name.contains(text)) {
                report.filtered_out += 1;
                continue;
            }
            let started = Instant::now();
            store.replace(seeded()?);
            let run = runtime.block_on(run_case(&pipeline, &store.current(), case));
            let case_report = CaseReport {
                name: case.name.clone(),
                mismatches: case.expect.check(&run),
                duration: started.elapsed(),
            };
            each(&case_report);
            report.cases.push(case_report);
        }
        Ok(report)
    }
}

/// Sends a case's events, one after the other; with `follow_writes`, each event is
/// followed by the events of what it wrote, breadth first, before the next event of the case.
async fn run_case(pipeline: &Pipeline, store: &MemoryStore, case: &Case) -> CaseRun {
    let mut run = CaseRun {
        store: store.clone(),
        ..CaseRun::default()
    };
    let capture = Arc::new(Capture::default());
    let request = Request::local().observed_by(capture.clone());
    let mut index = 0;
    for event in &case.events {
        let mut pending = VecDeque::from([event.clone()]);
        let mut followed = 0;
        while let Some(event) = pending.pop_front() {
            let this = index;
            index += 1;
            let decoded = match decode(&event, store) {
                Ok(decoded) => decoded,
                Err(why) => {
                    run.problems.push(Mismatch {
                        line: Some(case.line),
                        subject: format!("event {this}"),
                        field: String::new(),
                        expected: "an event the host decodes".to_owned(),
                        actual: why,
                    });
                    continue;
                }
            };
            // After the event's own change to the store (an upload, a delete), before the
            // plugins': only what they write is followed.
            let before = case.follow_writes.then(|| snapshot(store));
            let outcomes = pipeline.process_request(&decoded, &request).await;
            capture.take_into(&mut run.seen);
            run.outcomes
                .extend(outcomes.into_iter().map(|outcome| EventOutcome {
                    event: this,
                    outcome,
                }));
            let Some(before) = before else { continue };
            let changes = changes(&before, &snapshot(store));
            followed += changes.len();
            if followed > MAX_FOLLOWED_EVENTS {
                run.problems.push(Mismatch {
                    line: Some(case.line),
                    subject: "follow_writes".to_owned(),
                    field: String::new(),
                    expected: format!("writes that end within {MAX_FOLLOWED_EVENTS} events"),
                    actual: format!("still writing at event {this}"),
                });
                break;
            }
            pending.extend(changes.into_iter().map(|r| EventInput::Records(vec![r])));
        }
    }
    run
}

/// The notification of an event, decoded; its shorthand's change is made to the store.
fn decode(event: &EventInput, store: &MemoryStore) -> Result<DecodedEvent, String> {
    let value = event.notification(store).map_err(|err| err.to_string())?;
    s3plug_host::event::decode_value(value).map_err(|err| err.to_string())
}

/// What identifies an object's version: entity tag, time and metadata.
pub(super) type Version = (Option<String>, Option<String>, Vec<(String, String)>);

pub(super) fn snapshot(store: &MemoryStore) -> BTreeMap<(String, String), Version> {
    store
        .keys()
        .into_iter()
        .filter_map(|(bucket, key)| {
            let info = store.head(&bucket, &key).ok()?;
            Some((
                (bucket, key),
                (info.etag, info.last_modified, info.metadata),
            ))
        })
        .collect()
}

/// The events S3 would send for the difference between two snapshots, in key order: a put
/// for every new or changed object, a delete for every one gone.
pub(super) fn changes(
    before: &BTreeMap<(String, String), Version>,
    after: &BTreeMap<(String, String), Version>,
) -> Vec<RecordSpec> {
    let record = |action, (bucket, key): &(String, String)| RecordSpec {
        action,
        bucket: bucket.clone(),
        key: key.clone(),
        size: None,
        region: super::events::DEFAULT_REGION.to_owned(),
        body: None,
    };
    let mut records: Vec<(&(String, String), RecordSpec)> = after
        .iter()
        .filter(|(object, version)| before.get(*object) != Some(*version))
        .map(|(object, _)| (object, record(ObjectAction::Put, object)))
        .chain(
            before
                .keys()
                .filter(|object| !after.contains_key(*object))
                .map(|object| (object, record(ObjectAction::Delete, object))),
        )
        .collect();
    records.sort_by(|a, b| a.0.cmp(b.0));
    records.into_iter().map(|(_, record)| record).collect()
}

/// The store the pipeline holds: a memory store that is replaced by a fresh one before
/// each case, so that the plugins are loaded once per file.
#[derive(Debug, Default)]
struct CaseStore {
    current: RwLock<MemoryStore>,
}

impl CaseStore {
    fn new(store: MemoryStore) -> Self {
        Self {
            current: RwLock::new(store),
        }
    }

    fn current(&self) -> MemoryStore {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn replace(&self, store: MemoryStore) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = store;
    }
}

#[async_trait::async_trait]
impl ObjectStore for CaseStore {
    fn describe(&self) -> String {
        "memory".to_owned()
    }

    async fn head(&self, bucket: &str, key: &str) -> Result<ObjectInfo, StoreError> {
        ObjectStore::head(&self.current(), bucket, key).await
    }

    async fn get(
        &self,
        bucket: &str,
        key: &str,
        range: Option<ByteRange>,
    ) -> Result<ObjectBody, StoreError> {
        ObjectStore::get(&self.current(), bucket, key, range).await
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: &[u8],
        options: &PutOptions,
    ) -> Result<ObjectInfo, StoreError> {
        ObjectStore::put(&self.current(), bucket, key, body, options).await
    }

    async fn create(
        &self,
        bucket: &str,
        key: &str,
        options: &PutOptions,
    ) -> Result<Box<dyn ObjectWriter>, StoreError> {
        ObjectStore::create(&self.current(), bucket, key, options).await
    }

    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        next: Option<&str>,
        max: u32,
    ) -> Result<ListPage, StoreError> {
        ObjectStore::list(&self.current(), bucket, prefix, next, max).await
    }

    async fn copy(
        &self,
        from_bucket: &str,
        from_key: &str,
        to_bucket: &str,
        to_key: &str,
        replace: Option<&PutOptions>,
    ) -> Result<ObjectInfo, StoreError> {
        ObjectStore::copy(
            &self.current(),
            from_bucket,
            from_key,
            to_bucket,
            to_key,
            replace,
        )
        .await
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), StoreError> {
        ObjectStore::delete(&self.current(), bucket, key).await
    }
}
