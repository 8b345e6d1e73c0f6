//! Between S3's fields and the store's: entity tags, sizes, dates, metadata, and the
//! copy source of a server-side copy.

use std::collections::HashMap;

use aws_sdk_s3::primitives::{DateTime, DateTimeFormat};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::store::{ObjectInfo, PutOptions, normalise_metadata};

/// Everything but RFC 3986's unreserved characters and `/` is percent-encoded in a copy
/// source, as S3 expects (`+` literally means `+`, a space is `%20`).
const COPY_SOURCE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

pub(super) fn written_info(
    bucket: &str,
    key: &str,
    size: u64,
    etag: Option<&str>,
    options: &PutOptions,
) -> ObjectInfo {
    ObjectInfo {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        size,
        etag: etag.map(unquote),
        content_type: options.content_type.clone(),
        // S3 does not return the date of a write; a `head` has it.
        last_modified: None,
        metadata: normalise_metadata(&options.metadata),
    }
}

/// `x-amz-copy-source`: the bucket and the percent-encoded key.
pub(super) fn copy_source(bucket: &str, key: &str) -> String {
    format!("{bucket}/{}", utf8_percent_encode(key, COPY_SOURCE))
}

pub(super) fn unquote(etag: &str) -> String {
    etag.trim_matches('"').to_owned()
}

pub(super) fn size_of(length: Option<i64>) -> u64 {
    length
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or_default()
}

pub(super) fn rfc3339(date: &DateTime) -> Option<String> {
    date.fmt(DateTimeFormat::DateTime).ok()
}

pub(super) fn metadata_of(metadata: Option<&HashMap<String, String>>) -> Vec<(String, String)> {
    let pairs: Vec<(String, String)> = metadata
        .into_iter()
        .flatten()
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    normalise_metadata(&pairs)
}

pub(super) fn metadata_map(metadata: &[(String, String)]) -> Option<HashMap<String, String>> {
    (!metadata.is_empty()).then(|| normalise_metadata(metadata).into_iter().collect())
}
