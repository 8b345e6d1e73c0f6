//! The state of one plugin instance: one per (record, plugin), dropped with its store.

use std::sync::Arc;

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::invoke::CallScope;
use crate::config::PluginSpec;
use crate::event::S3Record;
use crate::guard::Lineage;
use crate::observe::{Call, Observation};
use crate::store::ObjectStore;
use crate::tombstone::Tombstones;

/// How much of a guest's stderr is kept: enough for a panic message, which is what a
/// plugin's stderr is used for; writes past it fail in the guest.
const STDERR_CAPACITY: usize = 8 << 10;

/// Denials kept per call for the report; all of them are logged and counted.
const DENIALS_KEPT: usize = 8;

/// What a plugin instance can reach, and what it has used.
///
/// WASI is linked, but grants nothing:
/// - no preopened directories, so no files;
/// - no environment variables (on Lambda they hold the function's credentials);
/// - no arguments;
/// - no sockets and no name lookup;
/// - stdin closed, stdout discarded, stderr kept (bounded) for panic messages;
/// - clocks and random numbers only.
///
/// Objects are reached only through the `objects` import, checked against `spec.grants`.
pub(crate) struct PluginState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) stderr: MemoryOutputPipe,
    pub(crate) memory: MemoryCap,
    pub(crate) spec: Arc<PluginSpec>,
    pub(crate) store: Arc<dyn ObjectStore>,
    /// The object that triggered the call: always readable.
    pub(crate) trigger_bucket: String,
    pub(crate) trigger_key: String,
    /// The triggering object's lineage: what this plugin's writes build on.
    pub(crate) lineage: Lineage,
    /// Whom the call serves: its request, its record, its observers.
    pub(crate) scope: CallScope,
    pub(crate) usage: Usage,
    /// Readers and writers open now, against `limits.max_open`.
    pub(crate) open: u32,
    /// Writers not yet finished or dropped, against `MAX_OPEN_WRITERS`.
    pub(crate) open_writers: u32,
    /// Where this plugin's deletes leave the depth of what they delete, when one of its
    /// deletes can close an allowed write cycle.
    pub(crate) tombstones: Option<Tombstones>,
}

impl std::fmt::Debug for PluginState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginState")
            .field("plugin", &self.spec.name)
            .field(
                "trigger",
                &format_args!("{}/{}", self.trigger_bucket, self.trigger_key),
            )
            .field("usage", &self.usage)
            .finish_non_exhaustive()
    }
}

/// What one call used, and the limit it hit, if any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Usage {
    /// Object calls of any kind.
    pub calls: u32,
    /// Object mutations: put, create, copy, delete.
    pub writes: u32,
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub log_lines: u32,
    pub log_bytes: u64,
    pub logs_dropped: u32,
    pub denial_count: u32,
    /// The first few denials, as `read forbidden/secret.txt`.
    pub denials: Vec<String>,
    /// The first limit the call ran into, as `max_writes (4)`: the call fails with it.
    pub limit_hit: Option<String>,
}

impl Usage {
    pub(crate) fn record_denial(&mut self, what: String) {
        self.denial_count += 1;
        if self.denials.len() < DENIALS_KEPT {
            self.denials.push(what);
        }
    }

    pub(crate) fn record_limit(&mut self, limit: String) {
        self.limit_hit.get_or_insert(limit);
    }
}

impl PluginState {
    pub(crate) fn new(
        spec: Arc<PluginSpec>,
        store: Arc<dyn ObjectStore>,
        record: &S3Record,
        lineage: Lineage,
        scope: CallScope,
    ) -> Self {
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        let wasi = WasiCtxBuilder::new()
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        Self {
            wasi,
            table: ResourceTable::new(),
            stderr,
            memory: MemoryCap {
                limit: spec.limits.memory_bytes,
                refused: None,
            },
            spec,
            store,
            trigger_bucket: record.bucket.clone(),
            trigger_key: record.key.clone(),
            lineage,
            scope,
            usage: Usage::default(),
            open: 0,
            open_writers: 0,
            tombstones: None,
        }
    }

    /// A state for unit tests: the one plugin of `config` (TOML), triggered by
    /// `inbox/a.bin`.
    #[cfg(test)]
    pub(crate) fn for_tests(config: &str, store: Arc<dyn ObjectStore>) -> Self {
        let config = crate::Config::parse(config, "test", std::path::Path::new("/"))
            .unwrap_or_else(|err| panic!("{err}"));
        let record = S3Record {
            event_name: "ObjectCreated:Put".into(),
            event_time: String::new(),
            bucket: "inbox".into(),
            key: "a.bin".into(),
            raw_key: "a.bin".into(),
            size: None,
            etag: None,
            version_id: None,
            sequencer: None,
            region: None,
            principal: None,
            source_ip: None,
        };
        Self::new(
            Arc::new(config.plugins[0].clone()),
            store,
            &record,
            Lineage::default(),
            CallScope {
                request_id: Arc::from("test"),
                record: 0,
                observers: crate::observe::Observers::default(),
            },
        )
    }

    /// Hands `what` to the call's observers.
    pub(crate) fn observe(&self, what: &Observation<'_>) {
        let call = Call {
            record: self.scope.record,
            plugin: &self.spec.name,
            bucket: &self.trigger_bucket,
            key: &self.trigger_key,
        };
        self.scope.observers.observe(&call, what);
    }

    /// What the guest wrote to stderr, trimmed.
    pub(crate) fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents())
            .trim()
            .to_owned()
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Caps an instance's linear memory at the plugin's `memory_mib`.
///
/// A grow past the cap is refused rather than trapped, so a guest that can cope with a
/// failed allocation may; one that cannot (Rust aborts) traps, and the refusal recorded here
/// names the cause.
#[derive(Debug)]
pub(crate) struct MemoryCap {
    pub(crate) limit: usize,
    /// The size of the first refused grow.
    pub(crate) refused: Option<usize>,
}

/// Table elements per instance: far more than any compiled Rust, Python or JavaScript
/// guest uses, far less than could hurt the host.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.refused.get_or_insert(desired);
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}
