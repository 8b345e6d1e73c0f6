//! Objects in Amazon S3 or an S3-compatible server, through aws-sdk-s3.
//!
//! The [`ObjectStore`] trait is synchronous and the SDK is async: every call blocks its
//! thread on a tokio runtime, the store's own (2 workers, built by [`S3Store::connect`]) or
//! one it was given ([`S3Store::with_handle`], [`S3Store::from_env`]).
//!
//! **Which threads may call it.** Plugins call the store from their own threads, which have
//! no runtime: the call simply blocks there. A blocking-pool thread (`spawn_blocking`) of a
//! multi-thread runtime may call it too, and so may a worker of a multi-thread runtime (the
//! call goes through `block_in_place`, which hands the worker's other tasks to another
//! thread first). A thread inside a *current-thread* runtime cannot block on anything
//! without stalling that runtime, so there every call fails with a `Backend` error naming
//! the rule instead of panicking; this also refuses `spawn_blocking` threads of such a
//! runtime, which cannot be told apart from its own.
//!
//! Endpoints: the explicit one, else `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`, else
//! AWS. With an endpoint of its own, requests use path-style addresses
//! (`http://host/bucket/key`), which servers on an IP address need; set
//! `S3PLUG_S3_VIRTUAL_HOSTED=1` to keep virtual-hosted ones.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::io::{self, Read};
use std::sync::Arc;

use anyhow::Context as _;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::{ByteStream, DateTime, DateTimeFormat};
use aws_sdk_s3::types::{
    ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, MetadataDirective,
};
use bytes::{Buf, Bytes};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use tokio::runtime::{Handle, Runtime, RuntimeFlavor};

use super::{
    ByteRange, ListPage, ObjectBody, ObjectInfo, ObjectStore, ObjectWriter, PutOptions, StoreError,
    normalise_metadata,
};

/// How much a streaming write buffers before it becomes a multipart upload, and the size of
/// each part but the last. S3 refuses parts under 5 MiB (but the last) and allows 10 000
/// parts, so objects written this way can reach 80 000 MiB; each open writer holds up to
/// this much memory.
pub const PART_BYTES: usize = 8 << 20;

/// S3's limit on the parts of one upload.
const MAX_PARTS: i32 = 10_000;

/// Worker threads of the runtime [`S3Store::connect`] builds. The workers only drive
/// sockets; the blocking happens on the callers' threads, so two are plenty.
const RUNTIME_WORKERS: usize = 2;

/// Everything but RFC 3986's unreserved characters and `/` is percent-encoded in a copy
/// source, as S3 expects (`+` literally means `+`, a space is `%20`).
const COPY_SOURCE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// Static credentials, instead of the default chain (environment, profile, web identity,
/// container, instance metadata). For tests and local servers.
#[derive(Clone)]
pub struct StaticCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"** redacted **")
            .finish()
    }
}

/// How to reach S3. The default is the standard AWS configuration read from the
/// environment and profile files.
#[derive(Debug, Clone, Default)]
pub struct S3Settings {
    /// An S3-compatible server, such as `http://127.0.0.1:9000`; `None` reads
    /// `AWS_ENDPOINT_URL_S3`, then `AWS_ENDPOINT_URL`, then uses AWS.
    pub endpoint: Option<String>,
    /// The region; `None` uses the standard chain (`AWS_REGION`, profile, ...).
    pub region: Option<String>,
    /// Credentials; `None` uses the standard chain.
    pub credentials: Option<StaticCredentials>,
}

impl S3Settings {
    /// The endpoint in force: the explicit one, else the environment's.
    fn resolved_endpoint(&self) -> Option<String> {
        self.endpoint.clone().or_else(|| {
            ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
                .into_iter()
                .filter_map(|name| std::env::var(name).ok())
                .find(|value| !value.trim().is_empty())
        })
    }
}

/// Objects in S3. Cheap to share behind an `Arc`; one client serves every thread.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    /// The overridden endpoint, if any: for `describe` and error messages.
    endpoint: Option<String>,
    blocker: Blocker,
}

impl S3Store {
    /// Connects with the standard AWS configuration and `endpoint` (see [`S3Settings`]).
    /// Inside a tokio runtime, uses it; elsewhere builds a small runtime of its own.
    pub fn connect(endpoint: Option<&str>) -> anyhow::Result<Self> {
        Self::connect_with(S3Settings {
            endpoint: endpoint.map(str::to_owned),
            ..S3Settings::default()
        })
    }

    /// Connects with explicit settings; the runtime is chosen as by [`S3Store::connect`].
    pub fn connect_with(settings: S3Settings) -> anyhow::Result<Self> {
        let blocker = match Handle::try_current() {
            Ok(handle) => Blocker::borrowed(handle),
            Err(_) => Blocker::own_runtime()?,
        };
        Self::load(blocker, settings)
    }

    /// Connects on an existing runtime, for a front end that already runs one. Blocks while
    /// the configuration loads (see the module docs for the threads that may do so).
    pub fn with_handle(handle: Handle, endpoint: Option<&str>) -> anyhow::Result<Self> {
        Self::connect_on(
            handle,
            S3Settings {
                endpoint: endpoint.map(str::to_owned),
                ..S3Settings::default()
            },
        )
    }

    /// Connects with explicit settings on an existing runtime (see [`S3Store::with_handle`]).
    pub fn connect_on(handle: Handle, settings: S3Settings) -> anyhow::Result<Self> {
        Self::load(Blocker::borrowed(handle), settings)
    }

    /// Connects from async code, on the current runtime.
    pub async fn from_env(endpoint: Option<&str>) -> Self {
        let settings = S3Settings {
            endpoint: endpoint.map(str::to_owned),
            ..S3Settings::default()
        };
        let (client, endpoint) = build_client(settings).await;
        Self {
            client,
            endpoint,
            blocker: Blocker::borrowed(Handle::current()),
        }
    }

    fn load(blocker: Blocker, settings: S3Settings) -> anyhow::Result<Self> {
        let (client, endpoint) = blocker
            .block_on(build_client(settings))
            .context("cannot load the AWS configuration")?;
        Ok(Self {
            client,
            endpoint,
            blocker,
        })
    }

    /// Where requests go, for messages.
    fn target(&self) -> &str {
        self.endpoint.as_deref().unwrap_or("AWS S3")
    }

    fn error<E>(&self, err: SdkError<E, HttpResponse>, bucket: &str, key: &str) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        sdk_error(err, bucket, key, self.target())
    }

    /// Whether a bucket surely does not exist, to tell a missing bucket from a missing
    /// object after a `HEAD`, whose 404 has no body to say which. Any doubt (the role may
    /// not be allowed `HeadBucket`) answers `false`.
    async fn bucket_is_missing(&self, bucket: &str) -> bool {
        match self.client.head_bucket().bucket(bucket).send().await {
            Ok(_) => false,
            Err(err) => err
                .raw_response()
                .is_some_and(|r| r.status().as_u16() == 404),
        }
    }

    async fn head_async(&self, bucket: &str, key: &str) -> Result<ObjectInfo, StoreError> {
        match self
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Ok(ObjectInfo {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                size: size_of(out.content_length()),
                etag: out.e_tag().map(unquote),
                content_type: out.content_type().map(str::to_owned),
                last_modified: out.last_modified().and_then(rfc3339),
                metadata: metadata_of(out.metadata()),
            }),
            Err(err) => match self.error(err, bucket, key) {
                StoreError::NotFound { .. } if self.bucket_is_missing(bucket).await => {
                    Err(StoreError::NoSuchBucket(bucket.to_owned()))
                }
                other => Err(other),
            },
        }
    }

    async fn put_async(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        options: &PutOptions,
    ) -> Result<ObjectInfo, StoreError> {
        let size = body.len() as u64;
        let out = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(body))
            .set_content_type(options.content_type.clone())
            .set_metadata(metadata_map(&options.metadata))
            .send()
            .await
            .map_err(|err| self.error(err, bucket, key))?;
        Ok(written_info(bucket, key, size, out.e_tag(), options))
    }
}

impl ObjectStore for S3Store {
    fn describe(&self) -> String {
        match &self.endpoint {
            Some(endpoint) => format!("s3:{endpoint}"),
            None => "s3".to_owned(),
        }
    }

    fn head(&self, bucket: &str, key: &str) -> Result<ObjectInfo, StoreError> {
        self.blocker.block_on(self.head_async(bucket, key))?
    }

    /// Streams the object: the body is pulled from the connection as the caller reads.
    /// For a ranged read, `info.size` is the size of the whole object, not of the range.
    fn get(
        &self,
        bucket: &str,
        key: &str,
        range: Option<ByteRange>,
    ) -> Result<ObjectBody, StoreError> {
        let request = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_range(range.map(|r| format!("bytes={}-{}", r.first, r.last)));
        let out = self
            .blocker
            .block_on(request.send())?
            .map_err(|err| self.error(err, bucket, key))?;
        let size = out
            .content_range()
            .and_then(total_of_content_range)
            .unwrap_or_else(|| size_of(out.content_length()));
        let info = ObjectInfo {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            size,
            etag: out.e_tag().map(unquote),
            content_type: out.content_type().map(str::to_owned),
            last_modified: out.last_modified().and_then(rfc3339),
            metadata: metadata_of(out.metadata()),
        };
        let body = BodyReader {
            stream: out.body,
            chunk: Bytes::new(),
            blocker: self.blocker.clone(),
            what: format!("{bucket}/{key}"),
        };
        Ok(ObjectBody {
            info,
            body: Box::new(body),
        })
    }

    fn put(
        &self,
        bucket: &str,
        key: &str,
        body: &[u8],
        options: &PutOptions,
    ) -> Result<ObjectInfo, StoreError> {
        let body = Bytes::copy_from_slice(body);
        self.blocker
            .block_on(self.put_async(bucket, key, body, options))?
    }

    fn create(
        &self,
        bucket: &str,
        key: &str,
        options: &PutOptions,
    ) -> Result<Box<dyn ObjectWriter>, StoreError> {
        Ok(Box::new(S3Writer {
            store: self.clone(),
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            options: options.clone(),
            buffer: Vec::new(),
            upload: None,
            written: 0,
        }))
    }

    /// Listings carry size, entity tag and date; S3 does not list content types or
    /// metadata, so those are empty.
    fn list(
        &self,
        bucket: &str,
        prefix: &str,
        next: Option<&str>,
        max: u32,
    ) -> Result<ListPage, StoreError> {
        let request = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(next.map(str::to_owned))
            .max_keys(i32::try_from(max).unwrap_or(i32::MAX));
        let out = self
            .blocker
            .block_on(request.send())?
            .map_err(|err| self.error(err, bucket, prefix))?;
        let objects = out
            .contents()
            .iter()
            .filter_map(|object| {
                Some(ObjectInfo {
                    bucket: bucket.to_owned(),
                    key: object.key()?.to_owned(),
                    size: size_of(object.size()),
                    etag: object.e_tag().map(unquote),
                    content_type: None,
                    last_modified: object.last_modified().and_then(rfc3339),
                    metadata: Vec::new(),
                })
            })
            .collect();
        let next = if out.is_truncated() == Some(true) {
            out.next_continuation_token().map(str::to_owned)
        } else {
            None
        };
        Ok(ListPage { objects, next })
    }

    /// A server-side copy (content type and metadata kept, or replaced by `replace`).
    /// Objects over 5 GiB need a multipart copy, which this does not do: S3 answers
    /// `InvalidRequest`.
    fn copy(
        &self,
        from_bucket: &str,
        from_key: &str,
        to_bucket: &str,
        to_key: &str,
        replace: Option<&PutOptions>,
    ) -> Result<ObjectInfo, StoreError> {
        self.blocker.block_on(async {
            let mut request = self
                .client
                .copy_object()
                .copy_source(copy_source(from_bucket, from_key))
                .bucket(to_bucket)
                .key(to_key);
            request = match replace {
                None => request.metadata_directive(MetadataDirective::Copy),
                Some(options) => {
                    let mut request = request
                        .metadata_directive(MetadataDirective::Replace)
                        .set_content_type(options.content_type.clone());
                    for (name, value) in &options.metadata {
                        request = request.metadata(name, value);
                    }
                    request
                }
            };
            let copied = request.send().await;
            match copied {
                Ok(_) => self.head_async(to_bucket, to_key).await,
                Err(err) => match self.error(err, from_bucket, from_key) {
                    StoreError::NoSuchBucket(_) if !self.bucket_is_missing(from_bucket).await => {
                        Err(StoreError::NoSuchBucket(to_bucket.to_owned()))
                    }
                    other => Err(other),
                },
            }
        })?
    }

    fn delete(&self, bucket: &str, key: &str) -> Result<(), StoreError> {
        let request = self.client.delete_object().bucket(bucket).key(key);
        self.blocker
            .block_on(request.send())?
            .map(drop)
            .map_err(|err| self.error(err, bucket, key))
    }
}

/// Loads the configuration the standard way and builds the client; returns it with the
/// overridden endpoint, if any.
async fn build_client(settings: S3Settings) -> (Client, Option<String>) {
    let endpoint = settings.resolved_endpoint();
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(region) = settings.region {
        loader = loader.region(Region::new(region));
    }
    if let Some(credentials) = settings.credentials {
        loader = loader.credentials_provider(Credentials::new(
            credentials.access_key_id,
            credentials.secret_access_key,
            None,
            None,
            "s3plug-static",
        ));
    }
    let shared = loader.load().await;
    let mut config = aws_sdk_s3::config::Builder::from(&shared);
    if let Some(endpoint) = &endpoint {
        let virtual_hosted = std::env::var("S3PLUG_S3_VIRTUAL_HOSTED").is_ok_and(|v| v == "1");
        config = config
            .endpoint_url(endpoint)
            .force_path_style(!virtual_hosted);
    }
    (Client::from_conf(config.build()), endpoint)
}

/// Runs futures to completion on the store's runtime from synchronous code.
#[derive(Clone)]
struct Blocker {
    handle: Handle,
    /// The runtime, when the store built its own; shared with open readers and writers so
    /// that it outlives them.
    owned: Option<Arc<OwnedRuntime>>,
}

impl fmt::Debug for Blocker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Blocker")
            .field("owned", &self.owned.is_some())
            .finish_non_exhaustive()
    }
}

impl Blocker {
    fn borrowed(handle: Handle) -> Self {
        Self {
            handle,
            owned: None,
        }
    }

    fn own_runtime() -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(RUNTIME_WORKERS)
            .thread_name("s3plug-s3")
            .enable_all()
            .build()
            .context("cannot start the S3 store's runtime")?;
        Ok(Self {
            handle: runtime.handle().clone(),
            owned: Some(Arc::new(OwnedRuntime(Some(runtime)))),
        })
    }

    /// Blocks the calling thread until `future` completes; see the module docs for which
    /// threads may call it.
    fn block_on<F: Future>(&self, future: F) -> Result<F::Output, StoreError> {
        match Handle::try_current() {
            Err(_) => Ok(self.handle.block_on(future)),
            Ok(current) => match current.runtime_flavor() {
                RuntimeFlavor::MultiThread => {
                    Ok(tokio::task::block_in_place(|| self.handle.block_on(future)))
                }
                _ => Err(StoreError::Backend(
                    "the s3 store blocks its caller and cannot be called from a \
                     current-thread tokio runtime: call it from a plain thread"
                        .into(),
                )),
            },
        }
    }
}

/// A runtime that is shut down without waiting, so that dropping the store is safe
/// anywhere, even inside another runtime (where a plain drop panics).
struct OwnedRuntime(Option<Runtime>);

impl Drop for OwnedRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// An object's body, pulled from the connection chunk by chunk as it is read.
struct BodyReader {
    stream: ByteStream,
    chunk: Bytes,
    blocker: Blocker,
    what: String,
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.chunk.is_empty() {
            match self
                .blocker
                .block_on(self.stream.next())
                .map_err(io::Error::other)?
            {
                None => return Ok(0),
                Some(Ok(chunk)) => self.chunk = chunk,
                Some(Err(err)) => {
                    return Err(io::Error::other(format!(
                        "reading {}: {}",
                        self.what,
                        DisplayErrorContext(&err)
                    )));
                }
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        self.chunk.advance(n);
        Ok(n)
    }
}

/// A multipart upload in progress.
#[derive(Debug)]
struct Upload {
    id: String,
    parts: Vec<CompletedPart>,
}

/// A streaming write: up to [`PART_BYTES`] in memory, then a multipart upload with a part
/// per [`PART_BYTES`]. An object that fits in one part is a single `PutObject`. Dropped
/// without `finish`, it aborts its upload, so S3 keeps (and bills) no orphan parts.
struct S3Writer {
    store: S3Store,
    bucket: String,
    key: String,
    options: PutOptions,
    /// At most [`PART_BYTES`]: a full buffer is uploaded when more data comes.
    buffer: Vec<u8>,
    upload: Option<Upload>,
    written: u64,
}

impl S3Writer {
    /// Starts the multipart upload; returns its id.
    fn start_upload(&self) -> Result<String, StoreError> {
        let store = &self.store;
        let (bucket, key) = (self.bucket.as_str(), self.key.as_str());
        let request = store
            .client
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .set_content_type(self.options.content_type.clone())
            .set_metadata(metadata_map(&self.options.metadata));
        let out = store
            .blocker
            .block_on(request.send())?
            .map_err(|err| store.error(err, bucket, key))?;
        out.upload_id()
            .map(str::to_owned)
            .ok_or_else(|| StoreError::Backend(format!("{bucket}/{key}: the upload has no id")))
    }

    /// Uploads the buffer as the next part, starting the upload first if needed.
    fn upload_part(&mut self) -> Result<&Upload, StoreError> {
        let upload = match self.upload.take() {
            Some(upload) => upload,
            None => Upload {
                id: self.start_upload()?,
                parts: Vec::new(),
            },
        };
        let upload = self.upload.insert(upload);
        let (store, bucket, key) = (&self.store, self.bucket.as_str(), self.key.as_str());
        let number = i32::try_from(upload.parts.len() + 1).unwrap_or(i32::MAX);
        if number > MAX_PARTS {
            return Err(StoreError::TooLarge(format!(
                "{bucket}/{key}: more than {MAX_PARTS} parts of {PART_BYTES} bytes"
            )));
        }
        let part = Bytes::from(std::mem::take(&mut self.buffer));
        let request = store
            .client
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(&upload.id)
            .part_number(number)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .body(ByteStream::from(part));
        let out = store
            .blocker
            .block_on(request.send())?
            .map_err(|err| store.error(err, bucket, key))?;
        upload.parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(out.e_tag().map(str::to_owned))
                .set_checksum_crc32(out.checksum_crc32().map(str::to_owned))
                .build(),
        );
        Ok(upload)
    }
}

impl ObjectWriter for S3Writer {
    fn write(&mut self, mut chunk: &[u8]) -> Result<(), StoreError> {
        while !chunk.is_empty() {
            if self.buffer.len() == PART_BYTES {
                self.upload_part()?;
            }
            if self.buffer.capacity() == 0 {
                self.buffer.reserve_exact(PART_BYTES);
            }
            let n = chunk.len().min(PART_BYTES - self.buffer.len());
            self.buffer.extend_from_slice(&chunk[..n]);
            self.written += n as u64;
            chunk = &chunk[n..];
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<ObjectInfo, StoreError> {
        let store = self.store.clone();
        if self.upload.is_none() {
            let body = Bytes::from(std::mem::take(&mut self.buffer));
            return store.blocker.block_on(store.put_async(
                &self.bucket,
                &self.key,
                body,
                &self.options,
            ))?;
        }
        // The buffer holds at least one byte: a full one is uploaded only when more comes.
        let upload = self.upload_part()?;
        let (id, parts) = (upload.id.clone(), upload.parts.clone());
        let (bucket, key) = (self.bucket.as_str(), self.key.as_str());
        let request = store
            .client
            .complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            );
        let out = store
            .blocker
            .block_on(request.send())?
            .map_err(|err| store.error(err, bucket, key))?;
        let info = written_info(bucket, key, self.written, out.e_tag(), &self.options);
        // Complete: nothing for `drop` to abort.
        self.upload = None;
        Ok(info)
    }
}

impl Drop for S3Writer {
    fn drop(&mut self) {
        let Some(upload) = self.upload.take() else {
            return;
        };
        let request = self
            .store
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&upload.id);
        let aborted = match self.store.blocker.block_on(request.send()) {
            Ok(sent) => sent
                .map(drop)
                .map_err(|err| self.store.error(err, &self.bucket, &self.key).to_string()),
            Err(err) => Err(err.to_string()),
        };
        if let Err(err) = aborted {
            tracing::warn!(
                bucket = %self.bucket,
                key = %self.key,
                upload_id = %upload.id,
                error = %err,
                "cannot abort an unfinished multipart upload: its parts stay until a lifecycle rule removes them"
            );
        }
    }
}

fn written_info(
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
fn copy_source(bucket: &str, key: &str) -> String {
    format!("{bucket}/{}", utf8_percent_encode(key, COPY_SOURCE))
}

fn unquote(etag: &str) -> String {
    etag.trim_matches('"').to_owned()
}

fn size_of(length: Option<i64>) -> u64 {
    length
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or_default()
}

fn rfc3339(date: &DateTime) -> Option<String> {
    date.fmt(DateTimeFormat::DateTime).ok()
}

fn metadata_of(metadata: Option<&HashMap<String, String>>) -> Vec<(String, String)> {
    let pairs: Vec<(String, String)> = metadata
        .into_iter()
        .flatten()
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    normalise_metadata(&pairs)
}

fn metadata_map(metadata: &[(String, String)]) -> Option<HashMap<String, String>> {
    (!metadata.is_empty()).then(|| normalise_metadata(metadata).into_iter().collect())
}

/// The object's total size from `Content-Range: bytes 2-5/10`.
fn total_of_content_range(range: &str) -> Option<u64> {
    range.rsplit_once('/')?.1.trim().parse().ok()
}

/// Maps an SDK error onto a [`StoreError`]; `target` names where requests went.
fn sdk_error<E>(err: SdkError<E, HttpResponse>, bucket: &str, key: &str, target: &str) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &err {
        SdkError::ServiceError(_) | SdkError::ResponseError(_) => {
            let status = err.raw_response().map(|r| r.status().as_u16());
            classify(status, err.code(), err.message(), bucket, key)
        }
        SdkError::DispatchFailure(_) => StoreError::Backend(format!(
            "cannot reach {target}: {}",
            DisplayErrorContext(&err)
        )),
        SdkError::TimeoutError(_) => StoreError::Backend(format!(
            "{target} did not answer in time: {}",
            DisplayErrorContext(&err)
        )),
        _ => StoreError::Backend(format!(
            "request to {target} failed: {}",
            DisplayErrorContext(&err)
        )),
    }
}

/// S3's error codes that mean "slow down".
const THROTTLING_CODES: &[&str] = &[
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "BandwidthLimitExceeded",
];

/// Maps S3's answer (HTTP status, error code and message) onto a [`StoreError`]. The code
/// decides when there is one; a bare status (a `HEAD` has no body) decides otherwise.
fn classify(
    status: Option<u16>,
    code: Option<&str>,
    message: Option<&str>,
    bucket: &str,
    key: &str,
) -> StoreError {
    let code = code.filter(|c| !c.is_empty());
    let message = message.filter(|m| !m.is_empty());
    let described = || match (code, message) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        (None, Some(message)) => message.to_owned(),
        (None, None) => "no error code".to_owned(),
    };
    match (code, status) {
        (Some("NoSuchKey"), _) | (None | Some("NotFound"), Some(404)) => {
            StoreError::not_found(bucket, key)
        }
        (Some("NoSuchBucket"), _) => StoreError::NoSuchBucket(bucket.to_owned()),
        (Some("AccessDenied"), _) | (_, Some(403)) => StoreError::AccessDenied(described()),
        (Some(code), _) if THROTTLING_CODES.contains(&code) => StoreError::Throttled,
        (_, Some(429 | 503)) => StoreError::Throttled,
        (Some("InvalidRange"), _) | (_, Some(416)) => StoreError::InvalidRange,
        (Some("EntityTooLarge"), _) | (None, Some(413)) => StoreError::TooLarge(described()),
        (_, status) => {
            let status =
                status.map_or_else(|| "no HTTP status".to_owned(), |s| format!("HTTP {s}"));
            StoreError::Backend(format!("{} ({status}) on {bucket}/{key}", described()))
        }
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_s3::error::{ConnectorError, ErrorMetadata};
    use aws_sdk_s3::operation::get_object::GetObjectError;
    use aws_sdk_s3::primitives::SdkBody;

    use super::*;

    fn classified(status: u16, code: Option<&str>) -> StoreError {
        classify(Some(status), code, Some("the message"), "photos", "a.jpg")
    }

    #[test]
    fn s3_answers_map_onto_store_errors() {
        let not_found = StoreError::not_found("photos", "a.jpg");
        assert_eq!(classified(404, Some("NoSuchKey")), not_found);
        assert_eq!(classified(404, None), not_found, "a HEAD's bare 404");
        assert_eq!(classified(404, Some("NotFound")), not_found);
        assert_eq!(
            classified(404, Some("NoSuchBucket")),
            StoreError::NoSuchBucket("photos".into())
        );
        assert_eq!(
            classified(403, Some("AccessDenied")),
            StoreError::AccessDenied("AccessDenied: the message".into())
        );
        assert_eq!(
            classified(403, Some("SignatureDoesNotMatch")),
            StoreError::AccessDenied("SignatureDoesNotMatch: the message".into())
        );
        assert_eq!(
            classify(Some(403), None, None, "photos", "a.jpg"),
            StoreError::AccessDenied("no error code".into())
        );
        for (status, code) in [
            (503, Some("SlowDown")),
            (503, None),
            (400, Some("RequestLimitExceeded")),
            (429, None),
        ] {
            assert_eq!(
                classified(status, code),
                StoreError::Throttled,
                "{status} {code:?}"
            );
        }
        assert_eq!(
            classified(416, Some("InvalidRange")),
            StoreError::InvalidRange
        );
        assert_eq!(classified(416, None), StoreError::InvalidRange);
        assert_eq!(
            classified(400, Some("EntityTooLarge")),
            StoreError::TooLarge("EntityTooLarge: the message".into())
        );
        // A 404 whose code is not about objects is no missing object.
        assert_eq!(
            classified(404, Some("NoSuchUpload")),
            StoreError::Backend("NoSuchUpload: the message (HTTP 404) on photos/a.jpg".into())
        );
        assert_eq!(
            classified(500, Some("InternalError")),
            StoreError::Backend("InternalError: the message (HTTP 500) on photos/a.jpg".into())
        );
    }

    #[test]
    fn sdk_errors_keep_their_status_code_and_target() {
        let service = SdkError::service_error(
            GetObjectError::generic(
                ErrorMetadata::builder()
                    .code("NoSuchBucket")
                    .message("The specified bucket does not exist")
                    .build(),
            ),
            HttpResponse::new(404.try_into().expect("a status"), SdkBody::empty()),
        );
        assert_eq!(
            sdk_error(service, "photos", "a.jpg", "http://127.0.0.1:9"),
            StoreError::NoSuchBucket("photos".into())
        );
        let bare = SdkError::service_error(
            GetObjectError::generic(ErrorMetadata::builder().build()),
            HttpResponse::new(502.try_into().expect("a status"), SdkBody::empty()),
        );
        assert_eq!(
            sdk_error(bare, "photos", "a.jpg", "http://127.0.0.1:9"),
            StoreError::Backend("no error code (HTTP 502) on photos/a.jpg".into())
        );
        let refused = SdkError::<GetObjectError, HttpResponse>::dispatch_failure(
            ConnectorError::io("connection refused".into()),
        );
        let err = sdk_error(refused, "photos", "a.jpg", "http://127.0.0.1:9");
        assert!(
            matches!(&err, StoreError::Backend(why)
                if why.contains("cannot reach http://127.0.0.1:9") && why.contains("connection refused")),
            "{err:?}"
        );
    }

    #[test]
    fn copy_sources_are_percent_encoded() {
        assert_eq!(
            copy_source("photos", "in/my photo+1 é.jpg"),
            "photos/in/my%20photo%2B1%20%C3%A9.jpg"
        );
        assert_eq!(copy_source("b", "a-b_c.d~e/f"), "b/a-b_c.d~e/f");
        assert_eq!(copy_source("b", "100%&?#="), "b/100%25%26%3F%23%3D");
    }

    #[test]
    fn response_details_are_read() {
        assert_eq!(total_of_content_range("bytes 2-5/10"), Some(10));
        assert_eq!(total_of_content_range("bytes */10"), Some(10));
        assert_eq!(total_of_content_range("bytes 2-5/*"), None);
        assert_eq!(unquote("\"abc\""), "abc");
        assert_eq!(unquote("abc"), "abc");
        assert_eq!(size_of(Some(-1)), 0);
        let date = DateTime::from_secs(1_700_000_000);
        assert_eq!(rfc3339(&date).as_deref(), Some("2023-11-14T22:13:20Z"));
    }

    /// A store aimed at a port where nothing listens: no request can succeed, and none
    /// leaves the machine.
    fn unreachable_store() -> S3Store {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        S3Store::connect_with(S3Settings {
            endpoint: Some(format!("http://127.0.0.1:{port}")),
            region: Some("us-east-1".into()),
            credentials: Some(StaticCredentials {
                access_key_id: "testing".into(),
                secret_access_key: "testing".into(),
            }),
        })
        .expect("the store connects lazily")
    }

    #[test]
    fn a_server_that_is_not_there_is_named_in_the_error() {
        let store = unreachable_store();
        assert!(store.describe().starts_with("s3:http://127.0.0.1:"));
        let err = store.head("photos", "a.jpg").unwrap_err();
        assert!(
            matches!(&err, StoreError::Backend(why) if why.contains(&store.describe()[3..])),
            "{err:?}"
        );
    }

    #[test]
    fn runtime_threads_block_in_place_or_are_refused() {
        let store = unreachable_store();
        // A multi-thread runtime's worker: the call runs (and fails to connect), no panic.
        let multi = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime");
        let worker_store = store.clone();
        let err = multi
            .block_on(async move {
                tokio::spawn(async move { worker_store.head("photos", "a.jpg") }).await
            })
            .expect("the task ends")
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::Backend(why) if why.contains("cannot reach")),
            "{err:?}"
        );
        // A current-thread runtime: refused with the rule, no panic.
        let current = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let err = current
            .block_on(async { store.head("photos", "a.jpg") })
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::Backend(why) if why.contains("current-thread")),
            "{err:?}"
        );
        // Dropping the store (and its runtime) inside a runtime does not panic either.
        current.block_on(async { drop(store) });
    }
}
