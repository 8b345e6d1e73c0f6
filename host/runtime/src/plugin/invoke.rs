//! One call: a fresh store and instance for one (record, plugin), with its limits.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use wasmtime::{Store, Trap};

use super::bindings::types::{Outcome, S3Record as WitRecord};
use super::registry::LoadedPlugin;
use super::state::{PluginState, Usage};
use crate::event::S3Record;
use crate::guard::Lineage;
use crate::observe::Observers;
use crate::outcome::{Failure, FailureKind, PluginOutcome};
use crate::store::ObjectStore;
use crate::tombstone::Tombstones;

/// The most bytes a guest may pass the host in one call (wasmtime's "hostcall fuel"):
/// what the host copies for it before an import even runs, so what one call can pin of the
/// host's memory. It bounds the handler's result too. `put` takes 16 MiB and a writer's
/// chunk is smaller still; more stops the call with `limit-exceeded` (wasmtime's default
/// is 128 MiB).
pub(crate) const MAX_CALL_COPY_BYTES: usize = 32 << 20;

/// The most of a guest's stderr quoted in a failure.
const STDERR_QUOTED: usize = 600;

/// Whom a call serves: the request, the record, and who watches what happens inside it.
#[derive(Debug, Clone)]
pub(crate) struct CallScope {
    /// The request this call serves (the Lambda request id, or a local one).
    pub(crate) request_id: Arc<str>,
    /// The record's index in its event.
    pub(crate) record: usize,
    pub(crate) observers: Observers,
}

/// When a call must be over: its plugin's `timeout_ms` after it starts, or sooner when the
/// request it serves must be answered first (a Lambda invocation's deadline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CallDeadline {
    pub at: Instant,
    /// Whether `at` is the request's deadline rather than the plugin's own limit.
    pub by_request: bool,
}

impl CallDeadline {
    /// The deadline of a call that starts at `started` with a time limit of `timeout`,
    /// within a request that must be answered by `request` (if it must).
    pub fn new(started: Instant, timeout: Duration, request: Option<Instant>) -> Self {
        let own = started + timeout;
        match request {
            Some(request) if request < own => Self {
                at: request,
                by_request: true,
            },
            _ => Self {
                at: own,
                by_request: false,
            },
        }
    }

    /// The failure of a call stopped at this deadline after `ran`.
    pub fn failure(&self, ran: Duration, timeout: Duration) -> Failure {
        let message = if self.by_request {
            format!(
                "stopped after {} ms: the request had to be answered before its deadline \
                 (limits.timeout_ms = {})",
                ran.as_millis(),
                timeout.as_millis()
            )
        } else {
            format!(
                "stopped after {} ms, past limits.timeout_ms = {}",
                ran.as_millis(),
                timeout.as_millis()
            )
        };
        Failure::new(FailureKind::Timeout, message)
    }
}

/// What happened inside the time limit.
enum Ran {
    NotInstantiated(wasmtime::Error),
    Returned(wasmtime::Result<Result<Outcome, String>>),
}

/// The result of one call.
#[derive(Debug, Clone)]
pub(crate) struct CallReport {
    pub result: Result<PluginOutcome, Failure>,
    pub usage: Usage,
}

impl LoadedPlugin {
    /// Runs the plugin on one record, in a store of its own, until `deadline`. Nothing the
    /// guest does can fail anything but this call.
    ///
    /// The time limit holds wherever the call waits: guest code yields at every epoch tick,
    /// and WASI sleeps and object calls are futures; at the deadline the call's future is
    /// dropped, which drops its instance and aborts its unfinished writes.
    pub(crate) async fn call(
        &self,
        objects: Arc<dyn ObjectStore>,
        record: &S3Record,
        lineage: Lineage,
        scope: CallScope,
        tombstones: Option<Tombstones>,
        deadline: CallDeadline,
    ) -> CallReport {
        let started = Instant::now();
        let mut state = PluginState::new(self.spec.clone(), objects, record, lineage, scope);
        state.tombstones = tombstones;
        let mut store = Store::new(self.pre.engine(), state);
        store.limiter(|state| &mut state.memory);
        store.set_hostcall_fuel(MAX_CALL_COPY_BYTES);
        // Yield to the runtime at every tick, so that the deadline below can stop a guest
        // that never waits; the deadline, not the epoch, ends the call.
        store.set_epoch_deadline(1);
        store.epoch_deadline_async_yield_and_update(1);
        let wit = wit_record(record);
        let ran = tokio::time::timeout_at(deadline.at, async {
            match self.pre.instantiate_async(&mut store).await {
                Ok(plugin) => Ran::Returned(plugin.call_handle(&mut store, &wit).await),
                Err(err) => Ran::NotInstantiated(err),
            }
        })
        .await;
        let returned = match ran {
            Err(_elapsed) => {
                let duration = started.elapsed();
                // Dropping the store drops the instance and its open readers and writers.
                let state = store.into_data();
                return CallReport {
                    result: Err(deadline.failure(duration, self.spec.limits.timeout)),
                    usage: state.usage,
                };
            }
            Ok(Ran::Returned(returned)) => returned,
            // Not the guest's doing (a full instance pool, say): worth a retry.
            Ok(Ran::NotInstantiated(err))
                if err.downcast_ref::<Trap>().is_none()
                    && store.data().memory.refused.is_none() =>
            {
                let failure = Failure::new(
                    FailureKind::Internal,
                    format!("cannot instantiate the plugin: {err:#}"),
                );
                return CallReport {
                    result: Err(failure),
                    usage: store.into_data().usage,
                };
            }
            Ok(Ran::NotInstantiated(err)) => Err(err),
        };
        let state = store.into_data();
        let result = match returned {
            Ok(Ok(outcome)) => match &state.usage.limit_hit {
                Some(limit) => Err(Failure::new(FailureKind::LimitExceeded, limit.clone())),
                None => Ok(match outcome {
                    Outcome::Processed(message) => PluginOutcome::processed(message),
                    Outcome::Skipped(message) => PluginOutcome::skipped(message),
                }),
            },
            Ok(Err(message)) => Err(returned_error(
                &state,
                crate::bounded::cut(message, crate::bounded::MAX_MESSAGE_BYTES),
            )),
            Err(err) => Err(trapped(&state, &err)),
        };
        CallReport {
            result,
            usage: state.usage,
        }
    }
}

/// The plugin returned `err`: a refused memory grow, a limit or a denial that came first is
/// the real cause (a JavaScript engine, for one, turns a refused grow into an exception the
/// plugin may catch and throw on).
fn returned_error(state: &PluginState, message: String) -> Failure {
    if let Some(memory) = memory_failure(state) {
        return Failure::new(
            FailureKind::Memory,
            format!("{}; plugin error: {message}", memory.message),
        );
    }
    if let Some(limit) = &state.usage.limit_hit {
        return Failure::new(
            FailureKind::LimitExceeded,
            format!("{limit}; plugin error: {message}"),
        );
    }
    if let Some(denial) = state.usage.denials.first() {
        return Failure::new(
            FailureKind::Denied,
            format!("{denial} is not granted; plugin error: {message}"),
        );
    }
    Failure::new(FailureKind::PluginError, message)
}

/// A memory failure, when the memory cap refused a grow during the call.
fn memory_failure(state: &PluginState) -> Option<Failure> {
    let asked = state.memory.refused?;
    Some(Failure::new(
        FailureKind::Memory,
        format!(
            "the plugin needed {} MiB of linear memory, past limits.memory_mib = {}",
            asked.div_ceil(1 << 20),
            state.spec.limits.memory_bytes >> 20
        ),
    ))
}

/// The call trapped: name the cause from what the host saw, not from the trap text alone.
fn trapped(state: &PluginState, err: &wasmtime::Error) -> Failure {
    let trap = err.downcast_ref::<Trap>().copied();
    // wasmtime names this refusal only in its text (the error type is private).
    if trap.is_none() && format!("{err:#}").contains("fuel allocated for hostcalls") {
        return Failure::new(
            FailureKind::LimitExceeded,
            format!(
                "the plugin passed more than {} MiB to the host in one call (an object \
                 call's arguments or the handler's result), which the host does not copy \
                 (put takes 16 MiB; stream larger objects with create)",
                MAX_CALL_COPY_BYTES >> 20
            ),
        );
    }
    if let Some(memory) = memory_failure(state) {
        return memory;
    }
    if trap == Some(Trap::StackOverflow) {
        return Failure::new(
            FailureKind::StackOverflow,
            "the plugin recursed past its stack limit".to_owned(),
        );
    }
    let what = match trap {
        Some(trap) => trap.to_string(),
        None => format!("{err:#}"),
    };
    let stderr = state.stderr_text();
    let mut message = if stderr.is_empty() {
        what
    } else {
        format!("{what}; stderr: {}", one_line(&stderr))
    };
    if let Some(denial) = state.usage.denials.first() {
        message.push_str(&format!(" (after a denied {denial})"));
    }
    Failure::new(FailureKind::Trap, message)
}

/// Collapses a guest's stderr to one line of bounded length, keeping the end (where a panic
/// message is).
fn one_line(text: &str) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if joined.len() <= STDERR_QUOTED {
        return joined;
    }
    let start = joined.ceil_char_boundary(joined.len() - STDERR_QUOTED);
    format!("...{}", &joined[start..])
}

fn wit_record(record: &S3Record) -> WitRecord {
    WitRecord {
        event_name: record.event_name.clone(),
        event_time: record.event_time.clone(),
        bucket: record.bucket.clone(),
        key: record.key.clone(),
        raw_key: record.raw_key.clone(),
        size: record.size,
        etag: record.etag.clone(),
        version_id: record.version_id.clone(),
        sequencer: record.sequencer.clone(),
        region: record.region.clone(),
        principal: record.principal.clone(),
        source_ip: record.source_ip.clone(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::MemoryStore;

    fn state() -> PluginState {
        PluginState::for_tests(
            "[[plugin]]\nname = \"p\"\nwasm = \"p.wasm\"\ntrigger = { bucket = \"inbox\" }\n\
             limits = { memory_mib = 16 }\n",
            Arc::new(MemoryStore::new()),
        )
    }

    #[test]
    fn a_returned_error_names_the_cause_the_host_saw_first() {
        let plain = returned_error(&state(), "bad input".into());
        assert_eq!(
            (plain.kind, plain.message.as_str()),
            (FailureKind::PluginError, "bad input")
        );

        let mut denied = state();
        denied.usage.record_denial("put other/x".into());
        let failure = returned_error(&denied, "cannot write".into());
        assert_eq!(failure.kind, FailureKind::Denied);
        assert_eq!(
            failure.message,
            "put other/x is not granted; plugin error: cannot write"
        );

        // A refused grow that the guest turned into an error of its own (JavaScript's
        // "out of memory") is a memory failure, whatever else happened.
        let mut starved = denied;
        starved.memory.refused = Some(17 << 20);
        let failure = returned_error(&starved, "out of memory".into());
        assert_eq!(failure.kind, FailureKind::Memory);
        assert_eq!(
            failure.message,
            "the plugin needed 17 MiB of linear memory, past limits.memory_mib = 16; \
             plugin error: out of memory"
        );
    }
}
