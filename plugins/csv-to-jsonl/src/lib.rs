//! Converts every CSV object uploaded to a bucket into JSON Lines, streaming.
//!
//! For each `ObjectCreated:*` record the plugin reads the object as CSV whose first row
//! names the fields, and writes one JSON object per row, on a line of its own, with the
//! fields in column order and every value a string:
//!
//! ```text
//! name,age           {"name":"Ada","age":"36"}
//! Ada,36        ->   {"name":"Bob","age":"7"}
//! Bob,7
//! ```
//!
//! The output goes to `target_bucket` at `target_prefix` + the source key with a trailing
//! `.csv` (in any case) replaced by `.jsonl` (`.jsonl` is added to a key without `.csv`),
//! with the content type `application/x-ndjson` and the metadata `source` = `bucket/key`.
//!
//! The object streams through: the plugin holds one row and a few hundred KiB of buffers,
//! whatever the size of the object, so its memory is bounded by the longest row. The output
//! becomes visible only once complete; a failed conversion leaves no output behind.
//!
//! # Settings
//!
//! | key | default | meaning |
//! | --- | --- | --- |
//! | `target_bucket` | the source object's bucket | the bucket the JSON Lines are written to |
//! | `target_prefix` | `jsonl/` | put before the output key |
//!
//! The plugin needs a `write` grant on `target_bucket` for `target_prefix`.
//!
//! # Outcomes
//!
//! - processed, `N rows → BUCKET/KEY`: the JSON Lines were written.
//! - skipped: the event is not an object creation, or the object is itself an output (in
//!   `target_bucket` under `target_prefix`, so that writing outputs does not trigger the
//!   plugin without end).
//! - error: the object could not be read or the output written; or the CSV is malformed (a
//!   row with a different number of fields than the header, invalid UTF-8, a repeated
//!   column name): the error names the line.
//!
//! # Build
//!
//! ```text
//! cargo build --release --target wasm32-wasip2 -p csv-to-jsonl
//! # -> target/wasm32-wasip2/release/csv_to_jsonl.wasm
//! ```

mod convert;
mod target;

use s3plug_guest::{Context, Error, Outcome, PutOptions, Record, handler, objects};

use crate::target::Target;

/// The content type of JSON Lines.
const CONTENT_TYPE: &str = "application/x-ndjson";

/// Converts the object of one record; the crate docs say what it does.
#[handler]
fn handle(record: Record) -> Result<Outcome, Error> {
    if !record.event_name.starts_with("ObjectCreated:") {
        return Ok(Outcome::skipped(format!(
            "{} events have nothing to convert",
            record.event_name
        )));
    }
    let target = Target::from_config(&record);
    if target.is_output(&record.bucket, &record.key) {
        return Ok(Outcome::skipped(format!(
            "{:?} is an output already",
            record.key
        )));
    }
    let source = format!("{}/{}", record.bucket, record.key);
    let target_key = target.key(&record.key);
    let output = format!("{}/{target_key}", target.bucket);

    let reader =
        objects::get(&record.bucket, &record.key).with_context(|| format!("reading {source}"))?;
    let options = PutOptions::new()
        .content_type(CONTENT_TYPE)
        .metadata("source", &source);
    let mut writer = objects::create(&target.bucket, &target_key, &options)
        .with_context(|| format!("creating {output}"))?;
    // On an error the writer is dropped unfinished, which leaves no output behind.
    let rows = convert::csv_to_jsonl(reader, &mut writer)
        .with_context(|| format!("converting {source}"))?;
    writer
        .finish()
        .with_context(|| format!("writing {output}"))?;
    Ok(Outcome::processed(format!("{rows} rows → {output}")))
}
