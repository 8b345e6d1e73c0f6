//! Plugin log lines and denials of a case, taken from the host's own log events.
//!
//! The host already logs both: every plugin line (target `plugin`, with the plugin's name)
//! and every denied object call (`operation`, `bucket`, `key`, message `denied: ...`). A
//! case runs with this layer as its thread's subscriber, so nothing in the host changes
//! for tests, and what a test sees is what production logs.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, Layer};

/// The target of plugin log lines (`plugin/imports/log.rs`).
const PLUGIN_TARGET: &str = "plugin";

/// What the denial log line's message starts with (`plugin/imports/objects.rs`).
const DENIED_PREFIX: &str = "denied: ";

/// One line a plugin logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogLine {
    pub plugin: String,
    /// `trace`, `debug`, `info`, `warn` or `error`.
    pub level: String,
    pub message: String,
}

impl fmt::Display for LogLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}: {}", self.level, self.plugin, self.message)
    }
}

/// One object call the grants or loop guards refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Denial {
    pub plugin: String,
    /// `head`, `get`, `put`, `create`, `list`, `copy from`, `copy to` or `delete`.
    pub operation: String,
    pub bucket: String,
    pub key: String,
    pub why: String,
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}/{} (plugin {:?})",
            self.operation, self.bucket, self.key, self.plugin
        )
    }
}

/// What a case logged.
#[derive(Debug, Clone, Default)]
pub(crate) struct Seen {
    pub logs: Vec<LogLine>,
    pub denials: Vec<Denial>,
}

/// A `tracing` layer that keeps plugin log lines and denials.
#[derive(Debug, Clone, Default)]
pub(crate) struct Capture {
    seen: Arc<Mutex<Seen>>,
}

impl Capture {
    fn lock(&self) -> MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What was seen since the last call.
    pub fn take(&self) -> Seen {
        std::mem::take(&mut *self.lock())
    }
}

impl<S: tracing::Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _context: Context<'_, S>) {
        let metadata = event.metadata();
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut field = |name: &str| fields.0.remove(name).unwrap_or_default();
        if metadata.target() == PLUGIN_TARGET {
            let line = LogLine {
                plugin: field("plugin"),
                level: metadata.level().as_str().to_ascii_lowercase(),
                message: field("message"),
            };
            self.lock().logs.push(line);
            return;
        }
        let message = field("message");
        let operation = field("operation");
        if let Some(why) = message.strip_prefix(DENIED_PREFIX)
            && !operation.is_empty()
        {
            let denial = Denial {
                plugin: field("plugin"),
                operation,
                bucket: field("bucket"),
                key: field("key"),
                why: why.to_owned(),
            };
            self.lock().denials.push(denial);
        }
    }
}

/// An event's fields as text.
#[derive(Debug, Default)]
struct Fields(BTreeMap<&'static str, String>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name(), format!("{value:?}"));
    }
}
