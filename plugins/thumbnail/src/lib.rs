//! Makes a thumbnail of every JPEG or PNG image uploaded to a bucket: the job of the AWS
//! Lambda tutorial "Using an Amazon S3 trigger to create thumbnail images", as an s3plug
//! plugin.
//!
//! For each `ObjectCreated:*` record the plugin reads the object, recognises its format from
//! its bytes (not from its key), scales it down to fit in `max_width` x `max_height` with its
//! aspect ratio kept, and writes the result in the same format, with the same content type
//! (`image/jpeg` or `image/png`), to `target_bucket` at `target_prefix` + the source key, with
//! the metadata `source` = `bucket/key`. A JPEG's EXIF orientation is applied first. An image
//! that already fits is never upscaled: it is copied as it is.
//!
//! # Settings
//!
//! | key | default | meaning |
//! | --- | --- | --- |
//! | `target_bucket` | required | the bucket thumbnails are written to |
//! | `target_prefix` | `thumbnails/` | put before the source key to make the thumbnail's key |
//! | `max_width` | `200` | the widest a thumbnail may be, in pixels (a whole number above 0) |
//! | `max_height` | `200` | the tallest a thumbnail may be, in pixels (a whole number above 0) |
//!
//! The plugin needs a `write` grant on `target_bucket` for `target_prefix`.
//!
//! # Outcomes
//!
//! - processed, `wrote BUCKET/KEY WxH`: the thumbnail was written.
//! - skipped: the event is not an object creation; the object is itself a thumbnail (in
//!   `target_bucket` under `target_prefix`, so that writing thumbnails does not trigger the
//!   plugin without end); or the object is not a JPEG or PNG image (the reason says what it
//!   looks like instead).
//! - error: a setting is missing or invalid (the error names it); the object could not be
//!   read or the thumbnail written; or the object looks like a JPEG or PNG but cannot be
//!   decoded (corrupt or truncated), which is worth a retry and a look.
//!
//! # Build
//!
//! ```text
//! cargo build --release --target wasm32-wasip2 -p thumbnail
//! # -> target/wasm32-wasip2/release/thumbnail.wasm
//! ```

mod render;
mod settings;

use s3plug_guest::{Context, Error, Outcome, Plugin, PutOptions, Record, objects};

use crate::render::Format;
use crate::settings::Settings;

/// The thumbnail plugin.
struct ThumbnailPlugin;

impl Plugin for ThumbnailPlugin {
    fn handle(record: Record) -> Result<Outcome, Error> {
        let settings = Settings::from_config()?;
        if !record.event_name.starts_with("ObjectCreated:") {
            return Ok(Outcome::skipped(format!(
                "{} events make no thumbnails",
                record.event_name
            )));
        }
        if settings.is_thumbnail(&record.bucket, &record.key) {
            return Ok(Outcome::skipped(format!(
                "{:?} is a thumbnail already",
                record.key
            )));
        }

        let source = objects::read_all(&record.bucket, &record.key)
            .with_context(|| format!("reading {}/{}", record.bucket, record.key))?;
        let format = match Format::detect(&source) {
            Ok(format) => format,
            Err(unsupported) => {
                return Ok(Outcome::skipped(format!(
                    "{:?} is {unsupported}",
                    record.key
                )));
            }
        };
        let thumbnail = render::render(&source, format, settings.max_width, settings.max_height)
            .with_context(|| format!("decoding {:?} as {format}", record.key))?;

        let target_key = settings.target_key(&record.key);
        let options = PutOptions::new()
            .content_type(format.content_type())
            .metadata("source", format!("{}/{}", record.bucket, record.key));
        objects::put(
            &settings.target_bucket,
            &target_key,
            &thumbnail.bytes,
            &options,
        )
        .with_context(|| format!("writing {}/{target_key}", settings.target_bucket))?;
        Ok(Outcome::processed(format!(
            "wrote {}/{target_key} {}x{}",
            settings.target_bucket, thumbnail.width, thumbnail.height
        )))
    }
}

s3plug_guest::export!(ThumbnailPlugin);
