//! The plugin's settings, read from its `config` table.

use std::num::NonZeroU32;

use s3plug_guest::{Error, config};

/// The default bound of both thumbnail sides, in pixels.
const DEFAULT_MAX_SIDE: NonZeroU32 = NonZeroU32::new(200).expect("200 is not zero");

/// The default prefix of thumbnail keys.
const DEFAULT_TARGET_PREFIX: &str = "thumbnails/";

/// Where thumbnails go and how large they may be.
#[derive(Debug)]
pub struct Settings {
    /// `target_bucket`, required: the bucket thumbnails are written to.
    pub target_bucket: String,
    /// `target_prefix`, default `thumbnails/`: put before the source key.
    pub target_prefix: String,
    /// `max_width`, default 200: the widest a thumbnail may be, in pixels.
    pub max_width: NonZeroU32,
    /// `max_height`, default 200: the tallest a thumbnail may be, in pixels.
    pub max_height: NonZeroU32,
}

impl Settings {
    /// Reads the settings; the error names a setting that is missing or invalid.
    pub fn from_config() -> Result<Self, Error> {
        Ok(Self {
            target_bucket: config::require("target_bucket")?,
            target_prefix: config::get_or("target_prefix", DEFAULT_TARGET_PREFIX),
            max_width: config::parse_or("max_width", DEFAULT_MAX_SIDE)?,
            max_height: config::parse_or("max_height", DEFAULT_MAX_SIDE)?,
        })
    }

    /// The key of the thumbnail of `source_key`.
    pub fn target_key(&self, source_key: &str) -> String {
        format!("{}{source_key}", self.target_prefix)
    }

    /// Whether an object is itself one of our thumbnails, which must not get a thumbnail of
    /// its own (writing thumbnails would trigger the plugin again, without end).
    pub fn is_thumbnail(&self, bucket: &str, key: &str) -> bool {
        bucket == self.target_bucket && key.starts_with(&self.target_prefix)
    }
}
