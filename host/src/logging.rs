//! The process's log: text for people at a terminal, one JSON object a line for Lambda and
//! log pipelines, every field escaped so that nothing a plugin logs breaks a line.

use std::fmt::{self, Write as _};
use std::io;

use s3plug_host::bounded::EscapeWriter;
use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::format::Writer;

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// For people at a terminal.
    Text,
    /// One JSON object a line, with the fields of the event and of its spans.
    Json,
}

/// Installs the process's log subscriber, writing to stderr. `S3PLUG_LOG` sets the filter
/// (`tracing` directives, default `default`).
pub(crate) fn init_logging(format: LogFormat, default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("S3PLUG_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colours only for a person at a terminal: in a pipe or a log file they are noise.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(io::IsTerminal::is_terminal(&io::stderr()))
        .with_writer(io::stderr);
    let _ = match format {
        LogFormat::Text => builder.fmt_fields(TextFields).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    };
}

/// How the text log format writes fields: like `tracing-subscriber`'s default (the
/// message, then `name=value`), but every value, the message included, written through
/// [`EscapeWriter`]: a newline, a carriage return, ESC or any other control character in
/// a plugin's line (or in a key, or an error) comes out escaped (`\n`, `\u{1b}`), so one
/// event is one line and nothing a plugin logs can start a forged host line or reach the
/// terminal as an escape sequence. The JSON format escapes as JSON does.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TextFields;

impl<'writer> FormatFields<'writer> for TextFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = TextVisitor {
            writer,
            result: Ok(()),
            first: true,
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct TextVisitor<'writer> {
    writer: Writer<'writer>,
    result: fmt::Result,
    first: bool,
}

impl Visit for TextVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.record_debug(field, &format_args!("{value}"));
        } else {
            self.record_debug(field, &value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_err() {
            return;
        }
        if !std::mem::take(&mut self.first) {
            self.result = self.writer.write_char(' ');
        }
        let name = field.name();
        if name != "message" {
            let name = name.strip_prefix("r#").unwrap_or(name);
            self.result = self.result.and_then(|()| write!(self.writer, "{name}="));
        }
        self.result = self
            .result
            .and_then(|()| write!(EscapeWriter(&mut self.writer), "{value:?}"));
    }
}

/// For tests: what `run` logs in the text format (all levels, no colours, no time).
#[cfg(test)]
pub(crate) fn text_log_of(run: impl FnOnce()) -> String {
    use std::sync::{Arc, Mutex, PoisonError};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            let mut buffer = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            buffer.extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .without_time()
        .with_max_level(tracing::Level::TRACE)
        .fmt_fields(TextFields)
        .finish();
    tracing::subscriber::with_default(subscriber, run);
    let bytes = buffer
        .0
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    String::from_utf8(bytes).unwrap_or_else(|err| panic!("{err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_log_line_stays_one_line_whatever_a_plugin_puts_in_it() {
        let hostile = "done\n2026-01-01T00:00:00Z INFO forged\r\x1b[31mred\x1b[0m";
        let log = text_log_of(|| {
            tracing::info!(target: "plugin", plugin = "p", key = %"a\nb", "{hostile}");
            tracing::warn!(bucket = "in\x1bbox", "denied");
        });
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(lines.len(), 2, "{log}");
        assert!(!log.contains('\x1b') && !log.contains('\r'), "{log:?}");
        assert_eq!(
            lines[0],
            " INFO plugin: done\\n2026-01-01T00:00:00Z INFO forged\\r\\u{1b}[31mred\\u{1b}[0m \
             plugin=\"p\" key=a\\nb"
        );
        assert!(
            lines[1].ends_with("denied bucket=\"in\\u{1b}box\""),
            "{}",
            lines[1]
        );
    }

    #[test]
    fn a_plain_text_log_line_is_written_as_the_default_format_writes_it() {
        let log = text_log_of(|| tracing::info!(plugin = "p", count = 3, "record done"));
        assert!(
            log.ends_with("record done plugin=\"p\" count=3\n"),
            "{log:?}"
        );
    }
}
