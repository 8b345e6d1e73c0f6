//! Where objects live: one trait, several backends.
//!
//! - [`MemoryStore`]: in process, for tests and `s3plug run --store memory`;
//! - [`DirStore`]: a local folder, `<root>/<bucket>/<key>`;
//! - [`S3Store`]: Amazon S3 or an S3-compatible server.
//!
//! The trait is async: a plugin's object call is a future that its (record, plugin) time
//! limit can cancel wherever it waits, on a socket or on a slow disk. The local backends do
//! their small file and memory operations inline; what may wait long (a body being read, a
//! file being written) goes through tokio.

mod dir;
mod memory;
pub(crate) mod metadata;
mod s3;

use std::fmt;
use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use tokio::io::AsyncRead;

pub use dir::DirStore;
pub use memory::MemoryStore;
pub use s3::{PART_BYTES, S3Settings, S3Store, StaticCredentials};

/// What a store knows about one object.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectInfo {
    pub bucket: String,
    pub key: String,
    pub size: u64,
    pub etag: Option<String>,
    pub content_type: Option<String>,
    /// RFC 3339.
    pub last_modified: Option<String>,
    /// User metadata, names in lower case without `x-amz-meta-`, sorted by name.
    pub metadata: Vec<(String, String)>,
}

/// How to store a new object.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PutOptions {
    pub content_type: Option<String>,
    pub metadata: Vec<(String, String)>,
}

/// An inclusive byte range, as HTTP's `Range: bytes=first-last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub first: u64,
    pub last: u64,
}

impl ByteRange {
    /// The part of an object of `size` bytes this range covers, as a start and a length;
    /// `None` when the range starts past the end (S3's `InvalidRange`).
    pub fn clamp(self, size: u64) -> Option<(u64, u64)> {
        (self.first < size && self.first <= self.last)
            .then(|| (self.first, self.last.min(size - 1) - self.first + 1))
    }
}

/// An object being read.
pub struct ObjectBody {
    /// The object, as it was when the read began.
    pub info: ObjectInfo,
    /// The bytes (of the range, when one was asked for).
    pub body: Box<dyn AsyncRead + Send + Unpin>,
}

impl fmt::Debug for ObjectBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectBody")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// A new object being written. Dropping it without [`ObjectWriter::finish`] (a cancelled
/// call drops it too) aborts the write and leaves nothing behind.
#[async_trait]
pub trait ObjectWriter: Send {
    /// Appends bytes.
    async fn write(&mut self, chunk: &[u8]) -> Result<(), StoreError>;
    /// Completes the object and makes it visible.
    async fn finish(self: Box<Self>) -> Result<ObjectInfo, StoreError>;
    /// Abandons the write and waits until nothing of it is left (a dropped writer cleans up
    /// too, but in the background where that needs a request).
    async fn abort(self: Box<Self>) {
        drop(self);
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListPage {
    pub objects: Vec<ObjectInfo>,
    /// Pass it back to get the next page.
    pub next: Option<String>,
}

/// Why a store call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("no such object {bucket}/{key}")]
    NotFound { bucket: String, key: String },
    #[error("no such bucket {0:?}")]
    NoSuchBucket(String),
    #[error("invalid key: {0}")]
    InvalidKey(String),
    #[error("range not satisfiable")]
    InvalidRange,
    #[error("too large: {0}")]
    TooLarge(String),
    #[error("access denied by the store: {0}")]
    AccessDenied(String),
    #[error("the store is throttling requests")]
    Throttled,
    #[error("{0}")]
    Backend(String),
}

impl StoreError {
    pub(crate) fn not_found(bucket: &str, key: &str) -> Self {
        Self::NotFound {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        }
    }
}

/// Objects by bucket and key.
#[async_trait]
pub trait ObjectStore: Send + Sync + fmt::Debug {
    /// What the store is, for logs: `memory`, `dir:/path`, ...
    fn describe(&self) -> String;
    async fn head(&self, bucket: &str, key: &str) -> Result<ObjectInfo, StoreError>;
    async fn get(
        &self,
        bucket: &str,
        key: &str,
        range: Option<ByteRange>,
    ) -> Result<ObjectBody, StoreError>;
    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: &[u8],
        options: &PutOptions,
    ) -> Result<ObjectInfo, StoreError>;
    async fn create(
        &self,
        bucket: &str,
        key: &str,
        options: &PutOptions,
    ) -> Result<Box<dyn ObjectWriter>, StoreError>;
    /// Keys starting with `prefix`, in byte order, after the token of the previous page.
    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        next: Option<&str>,
        max: u32,
    ) -> Result<ListPage, StoreError>;
    /// Copies an object. With `replace`, the copy gets that content type and metadata (S3's
    /// `MetadataDirective: REPLACE`); without, the source's.
    async fn copy(
        &self,
        from_bucket: &str,
        from_key: &str,
        to_bucket: &str,
        to_key: &str,
        replace: Option<&PutOptions>,
    ) -> Result<ObjectInfo, StoreError>;
    /// Deleting a missing object succeeds, as in S3.
    async fn delete(&self, bucket: &str, key: &str) -> Result<(), StoreError>;
}

/// Reads a whole body, for the host's own small objects (components, markers) and tests.
pub async fn read_to_end(object: ObjectBody) -> std::io::Result<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut body = object.body;
    let mut bytes = Vec::with_capacity(object.info.size.try_into().unwrap_or(0).min(64 << 20));
    body.read_to_end(&mut bytes).await?;
    Ok(bytes)
}

/// Opens a store by name: `memory`, `dir:PATH` (a folder of buckets), `s3` (the standard
/// AWS configuration) or `s3:ENDPOINT` (an S3-compatible server, such as
/// `s3:http://127.0.0.1:9000`).
pub async fn open(spec: &str) -> anyhow::Result<Arc<dyn ObjectStore>> {
    if spec == "memory" {
        return Ok(Arc::new(MemoryStore::new()));
    }
    if let Some(path) = spec.strip_prefix("dir:") {
        anyhow::ensure!(!path.is_empty(), "store dir: needs a folder, as dir:PATH");
        let store =
            DirStore::new(path).with_context(|| format!("cannot open the folder {path:?}"))?;
        return Ok(Arc::new(store));
    }
    if spec == "s3" {
        return Ok(Arc::new(S3Store::connect(None).await?));
    }
    if let Some(endpoint) = spec.strip_prefix("s3:") {
        anyhow::ensure!(
            endpoint.starts_with("http://") || endpoint.starts_with("https://"),
            "store s3: needs an endpoint URL, as s3:http://HOST:PORT"
        );
        return Ok(Arc::new(S3Store::connect(Some(endpoint)).await?));
    }
    anyhow::bail!("unknown store {spec:?}: use dir:PATH, memory, s3 or s3:ENDPOINT")
}

/// The longest key S3 accepts, in bytes.
pub(crate) const MAX_KEY_BYTES: usize = 1024;

/// Checks a key before any store sees it. S3 itself accepts almost any key, but keys with
/// `.` or `..` segments, a leading `/`, empty segments or control characters mean different
/// objects on S3 and in a folder (or escape it), so they are refused everywhere: a plugin that
/// works locally then works the same on S3.
pub fn check_key(key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err("the key is empty".into());
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(format!(
            "the key is {} bytes long, more than {MAX_KEY_BYTES}",
            key.len()
        ));
    }
    if key.starts_with('/') {
        return Err(format!("key {key:?} starts with '/'"));
    }
    if key.chars().any(char::is_control) {
        return Err(format!("key {key:?} has a control character"));
    }
    if key.ends_with('/') {
        return Err(format!(
            "key {key:?} ends with '/': folder markers cannot be written"
        ));
    }
    for segment in key.split('/') {
        match segment {
            "" => return Err(format!("key {key:?} has an empty path segment ('//')")),
            "." | ".." => return Err(format!("key {key:?} has a {segment:?} path segment")),
            _ => {}
        }
    }
    Ok(())
}

/// An entity tag for content the store hashed itself: 32 hex digits, like S3's MD5 tags.
pub fn etag_of(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    etag_from_digest(&Sha256::digest(bytes))
}

/// The first 16 bytes of a SHA-256 digest, in hex.
pub(crate) fn etag_from_digest(digest: &[u8]) -> String {
    hex::encode(&digest[..16])
}

/// Lower-cases metadata names and sorts them, as S3 returns them.
pub(crate) fn normalise_metadata(metadata: &[(String, String)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = metadata
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value.clone()))
        .collect();
    out.sort();
    out.dedup_by(|a, b| a.0 == b.0);
    out
}

pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests;
