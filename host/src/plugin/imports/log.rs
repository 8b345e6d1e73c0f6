//! `s3plug:plugin/log`: levelled lines, tagged with the plugin and the object.

use crate::plugin::PluginState;
use crate::plugin::bindings::log::{Host, Level};

/// The longest log line kept, in bytes; longer lines are cut.
const MAX_LINE_BYTES: usize = 4096;

impl Host for PluginState {
    fn log(&mut self, level: Level, mut message: String) -> wasmtime::Result<()> {
        let limits = &self.spec.limits;
        let bytes = message.len().min(MAX_LINE_BYTES) as u64;
        if self.usage.log_lines >= limits.max_log_lines
            || self.usage.log_bytes + bytes > limits.max_log_bytes
        {
            self.usage.logs_dropped += 1;
            return Ok(());
        }
        self.usage.log_lines += 1;
        self.usage.log_bytes += bytes;
        if message.len() > MAX_LINE_BYTES {
            let cut = message.floor_char_boundary(MAX_LINE_BYTES);
            message.truncate(cut);
            message.push_str("...");
        }
        let (plugin, bucket, key) = (&self.spec.name, &self.trigger_bucket, &self.trigger_key);
        match level {
            Level::Trace => tracing::trace!(target: "plugin", plugin, bucket, key, "{message}"),
            Level::Debug => tracing::debug!(target: "plugin", plugin, bucket, key, "{message}"),
            Level::Info => tracing::info!(target: "plugin", plugin, bucket, key, "{message}"),
            Level::Warn => tracing::warn!(target: "plugin", plugin, bucket, key, "{message}"),
            Level::Error => tracing::error!(target: "plugin", plugin, bucket, key, "{message}"),
        }
        Ok(())
    }
}
