//! `s3plug:plugin/log`: levelled lines, tagged with the plugin and the object.

use crate::bounded::{self, MAX_LOG_LINE_BYTES};
use crate::observe::{self, Observation};
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
        let level = match level {
            Level::Trace => observe::Level::Trace,
            Level::Debug => observe::Level::Debug,
            Level::Info => observe::Level::Info,
            Level::Warn => observe::Level::Warn,
            Level::Error => observe::Level::Error,
        };
        self.observe(&Observation::Log {
            level,
            message: &message,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::observe::{Call, Observer, Observers};
    use crate::store::MemoryStore;

    /// The lines observed, as `level: message`.
    #[derive(Debug, Default)]
    struct Lines(Mutex<Vec<String>>);

    impl Observer for Lines {
        fn observe(&self, call: &Call<'_>, what: &Observation<'_>) {
            assert_eq!(
                (call.plugin, call.bucket, call.key),
                ("p", "inbox", "a.bin")
            );
            if let Observation::Log { level, message } = what {
                self.0.lock().unwrap().push(format!("{level}: {message}"));
            }
        }
    }

    impl Lines {
        fn take(&self) -> Vec<String> {
            std::mem::take(&mut self.0.lock().unwrap())
        }
    }

    fn state(limits: &str) -> (PluginState, Arc<Lines>) {
        let mut state = PluginState::for_tests(
            &format!(
                "[[plugin]]\nname = \"p\"\nwasm = \"p.wasm\"\ntrigger = {{ bucket = \"inbox\" }}\n\
                 limits = {{ {limits} }}\n"
            ),
            Arc::new(MemoryStore::new()),
        );
        let lines = Arc::new(Lines::default());
        state.scope.observers = Observers::new(Some(lines.clone()));
        (state, lines)
    }

    #[test]
    fn a_line_within_the_bound_is_observed_whole() {
        let (mut state, lines) = state("max_log_bytes = 100");
        state.log(Level::Info, "hello".into()).unwrap();
        assert_eq!(lines.take(), ["info: hello"]);
        assert_eq!((state.usage.log_lines, state.usage.log_bytes), (1, 5));
    }

    #[test]
    fn a_long_line_is_cut_but_the_budget_counts_all_the_plugin_sent() {
        let (mut state, lines) = state("max_log_bytes = \"1MiB\"");
        state.log(Level::Warn, "a".repeat(100_000)).unwrap();
        let seen = lines.take();
        assert_eq!(seen.len(), 1);
        assert!(
            seen[0].ends_with("…[cut: 100000 bytes in all]"),
            "{}",
            seen[0]
        );
        assert!(seen[0].len() <= MAX_LOG_LINE_BYTES + "warn: ".len());
        assert_eq!((state.usage.log_lines, state.usage.log_bytes), (1, 100_000));

        // What is left of the budget no longer holds another such line.
        for _ in 0..10 {
            state.log(Level::Info, "b".repeat(100_000)).unwrap();
        }
        assert_eq!(lines.take().len(), 9);
        assert_eq!(state.usage.log_bytes, 1_000_000);
        assert_eq!(state.usage.logs_dropped, 1);
    }

    #[test]
    fn a_line_past_the_budget_is_dropped_and_counted() {
        let (mut state, lines) = state("max_log_bytes = 10, max_log_lines = 2");
        for line in ["12345678901", "one", "two", "three"] {
            state.log(Level::Info, line.into()).unwrap();
        }
        assert_eq!(lines.take(), ["info: one", "info: two"]);
        assert_eq!(state.usage.logs_dropped, 2);
        assert_eq!((state.usage.log_lines, state.usage.log_bytes), (2, 6));
    }

    #[test]
    fn every_level_is_observed_as_the_plugin_chose_it() {
        let (mut state, lines) = state("max_log_lines = 10");
        for level in [
            Level::Trace,
            Level::Debug,
            Level::Info,
            Level::Warn,
            Level::Error,
        ] {
            state.log(level, "x".into()).unwrap();
        }
        assert_eq!(
            lines.take(),
            ["trace: x", "debug: x", "info: x", "warn: x", "error: x"]
        );
    }
}
