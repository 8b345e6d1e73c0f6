//! Modes that only report what the plugin sees, or log.

use s3plug_guest::{Outcome, Record, config, log};

/// How many lines the `log-flood` mode logs.
const FLOOD_LINES: u32 = 100_000;

/// `echo`: the record's fields, without any I/O.
pub fn echo(record: &Record) -> Outcome {
    let size = record
        .size
        .map_or_else(|| "-".to_owned(), |size| size.to_string());
    Outcome::processed(format!(
        "{}|{}|{}|{}|{size}",
        record.event_name, record.bucket, record.key, record.raw_key
    ))
}

/// `config`: every setting as `k=v`, sorted, joined by `;`.
pub fn config() -> Outcome {
    let mut entries: Vec<String> = config::all()
        .into_iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    entries.sort();
    Outcome::processed(entries.join(";"))
}

/// `log-flood`: far more log lines than any budget allows.
pub fn log_flood() -> Outcome {
    for line in 0..FLOOD_LINES {
        log::info!("log flood line {line}");
    }
    Outcome::processed(format!("logged {FLOOD_LINES} lines"))
}
