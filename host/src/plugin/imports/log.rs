//! `s3plug:plugin/log`: levelled lines, tagged with the plugin and the object.

use crate::bounded::{self, MAX_LOG_LINE_BYTES};
use crate::plugin::PluginState;
use crate::plugin::bindings::log::{Host, Level};

impl Host for PluginState {
    /// Logs one line of the plugin. The budget (`max_log_lines`, `max_log_bytes`) counts
    /// what the plugin sent; a line past it is dropped and counted. A kept line longer than
    /// [`MAX_LOG_LINE_BYTES`] is cut, with a marker giving its length, before it is
    /// formatted into a log line (the text format then escapes what is left).
    fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let limits = &self.spec.limits;
        let sent = message.len() as u64;
        if self.usage.log_lines >= limits.max_log_lines
            || self.usage.log_bytes.saturating_add(sent) > limits.max_log_bytes
        {
            self.usage.logs_dropped += 1;
            return Ok(());
        }
        self.usage.log_lines += 1;
        self.usage.log_bytes += sent;
        let message = bounded::cut(message, MAX_LOG_LINE_BYTES);
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::MemoryStore;
    use crate::telemetry::text_log_of;

    fn state(limits: &str) -> PluginState {
        PluginState::for_tests(
            &format!(
                "[[plugin]]\nname = \"p\"\nwasm = \"p.wasm\"\ntrigger = {{ bucket = \"inbox\" }}\n\
                 limits = {{ {limits} }}\n"
            ),
            Arc::new(MemoryStore::new()),
        )
    }

    #[test]
    fn a_line_within_the_bound_is_logged_whole() {
        let mut state = state("max_log_bytes = 100");
        let log = text_log_of(|| state.log(Level::Info, "hello".into()).unwrap());
        assert!(log.contains("plugin: hello plugin="), "{log}");
        assert_eq!((state.usage.log_lines, state.usage.log_bytes), (1, 5));
    }

    #[test]
    fn a_long_line_is_cut_but_the_budget_counts_all_the_plugin_sent() {
        let mut state = state("max_log_bytes = \"1MiB\"");
        let log = text_log_of(|| state.log(Level::Warn, "a".repeat(100_000)).unwrap());
        assert_eq!(log.lines().count(), 1, "{log}");
        assert!(log.contains("…[cut: 100000 bytes in all] plugin="), "{log}");
        assert!(log.len() < MAX_LOG_LINE_BYTES + 200, "{}", log.len());
        assert_eq!((state.usage.log_lines, state.usage.log_bytes), (1, 100_000));

        // What is left of the budget no longer holds another such line.
        let log = text_log_of(|| {
            for _ in 0..10 {
                state.log(Level::Info, "b".repeat(100_000)).unwrap();
            }
        });
        assert_eq!(log.lines().count(), 9, "{log}");
        assert_eq!(state.usage.log_bytes, 1_000_000);
        assert_eq!(state.usage.logs_dropped, 1);
    }

    #[test]
    fn a_line_past_the_budget_is_dropped_and_counted() {
        let mut state = state("max_log_bytes = 10, max_log_lines = 2");
        let log = text_log_of(|| {
            state.log(Level::Info, "12345678901".into()).unwrap();
            state.log(Level::Info, "one".into()).unwrap();
            state.log(Level::Info, "two".into()).unwrap();
            state.log(Level::Info, "three".into()).unwrap();
        });
        assert_eq!(log.lines().count(), 2, "{log}");
        assert_eq!(state.usage.logs_dropped, 2);
        assert_eq!((state.usage.log_lines, state.usage.log_bytes), (2, 6));
    }
}
