//! Objects in Amazon S3 or an S3-compatible server, through aws-sdk-s3.
//!
//! Every call is a future on the caller's tokio runtime: a plugin's time limit cancels it
//! wherever it waits (connecting, sending, a server that never answers), and dropping an
//! unfinished [`ObjectWriter`] aborts its multipart upload.
//!
//! Endpoints: the explicit one, else `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`, else
//! AWS. With an endpoint of its own, requests use path-style addresses
//! (`http://host/bucket/key`), which servers on an IP address need; set
//! `S3PLUG_S3_VIRTUAL_HOSTED=1` to keep virtual-hosted ones.

use std::collections::HashMap;
use std::fmt;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_s3::config::{
    BehaviorVersion, ConfigBag, Credentials, Intercept, Region, RuntimeComponents,
};
use aws_sdk_s3::error::BoxError;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::{ByteStream, DateTime, DateTimeFormat};
use aws_sdk_s3::types::{
    ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, MetadataDirective,
};
use bytes::Bytes;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use tokio::runtime::Handle;

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

/// Objects in S3. Cheap to share behind an `Arc`; one client serves every task.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    /// The overridden endpoint, if any: for `describe` and error messages.
    endpoint: Option<String>,
}

impl S3Store {
    /// Connects with the standard AWS configuration and `endpoint` (see [`S3Settings`]).
    pub async fn connect(endpoint: Option<&str>) -> anyhow::Result<Self> {
        Self::connect_with(S3Settings {
            endpoint: endpoint.map(str::to_owned),
            ..S3Settings::default()
        })
        .await
    }

    /// Connects with explicit settings.
    pub async fn connect_with(settings: S3Settings) -> anyhow::Result<Self> {
        let (client, endpoint) = build_client(settings).await;
        Ok(Self { client, endpoint })
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

#[async_trait]
impl ObjectStore for S3Store {
    fn describe(&self) -> String {
        match &self.endpoint {
            Some(endpoint) => format!("s3:{endpoint}"),
            None => "s3".to_owned(),
        }
    }

    async fn head(&self, bucket: &str, key: &str) -> Result<ObjectInfo, StoreError> {
        self.head_async(bucket, key).await
    }

    /// Streams the object: the body is pulled from the connection as the caller reads.
    /// For a ranged read, `info.size` is the size of the whole object, not of the range.
    async fn get(
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
        let out = request
            .send()
            .await
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
        // The body is pulled from the connection as the caller reads.
        Ok(ObjectBody {
            info,
            body: Box::new(Box::pin(out.body.into_async_read())),
        })
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: &[u8],
        options: &PutOptions,
    ) -> Result<ObjectInfo, StoreError> {
        let body = Bytes::copy_from_slice(body);
        self.put_async(bucket, key, body, options).await
    }

    async fn create(
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
            runtime: Handle::try_current().ok(),
        }))
    }

    /// Listings carry size, entity tag and date; S3 does not list content types or
    /// metadata, so those are empty.
    async fn list(
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
        let out = request
            .send()
            .await
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
    async fn copy(
        &self,
        from_bucket: &str,
        from_key: &str,
        to_bucket: &str,
        to_key: &str,
        replace: Option<&PutOptions>,
    ) -> Result<ObjectInfo, StoreError> {
        // What the copy is, from the source (which the copy reads anyway) and S3's answer:
        // reading the target back would need `s3:GetObject` where only writes are granted.
        let source = self.head_async(from_bucket, from_key).await?;
        {
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
                Ok(out) => {
                    let result = out.copy_object_result();
                    let (content_type, metadata) = match replace {
                        Some(options) => (
                            options.content_type.clone(),
                            normalise_metadata(&options.metadata),
                        ),
                        None => (source.content_type, source.metadata),
                    };
                    Ok(ObjectInfo {
                        bucket: to_bucket.to_owned(),
                        key: to_key.to_owned(),
                        size: source.size,
                        etag: result.and_then(|r| r.e_tag()).map(unquote),
                        content_type,
                        last_modified: result.and_then(|r| r.last_modified()).and_then(rfc3339),
                        metadata,
                    })
                }
                Err(err) => match self.error(err, from_bucket, from_key) {
                    StoreError::NoSuchBucket(_) if !self.bucket_is_missing(from_bucket).await => {
                        Err(StoreError::NoSuchBucket(to_bucket.to_owned()))
                    }
                    other => Err(other),
                },
            }
        }
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), StoreError> {
        let request = self.client.delete_object().bucket(bucket).key(key);
        request
            .send()
            .await
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
    let mut config = aws_sdk_s3::config::Builder::from(&shared).interceptor(RequestTraceId);
    if let Some(endpoint) = &endpoint {
        let virtual_hosted = std::env::var("S3PLUG_S3_VIRTUAL_HOSTED").is_ok_and(|v| v == "1");
        config = config
            .endpoint_url(endpoint)
            .force_path_style(!virtual_hosted);
    }
    (Client::from_conf(config.build()), endpoint)
}

/// Sends the trace id of the request a call serves ([`crate::trace`]) as `X-Amzn-Trace-Id`,
/// in place of the one the SDK takes from the process's `_X_AMZN_TRACE_ID`, which is only
/// right while one invocation runs at a time.
#[derive(Debug)]
struct RequestTraceId;

impl Intercept for RequestTraceId {
    fn name(&self) -> &'static str {
        "RequestTraceId"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _config: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(trace_id) = crate::trace::current() {
            context
                .request_mut()
                .headers_mut()
                .insert("x-amzn-trace-id", trace_id.to_string());
        }
        Ok(())
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
    /// Where an upload dropped unfinished is aborted: the runtime it was created on.
    runtime: Option<Handle>,
}

impl S3Writer {
    /// Starts the multipart upload; returns its id.
    async fn start_upload(&self) -> Result<String, StoreError> {
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
        let out = request
            .send()
            .await
            .map_err(|err| store.error(err, bucket, key))?;
        out.upload_id()
            .map(str::to_owned)
            .ok_or_else(|| StoreError::Backend(format!("{bucket}/{key}: the upload has no id")))
    }

    /// Uploads the buffer as the next part, starting the upload first if needed.
    async fn upload_part(&mut self) -> Result<&Upload, StoreError> {
        let upload = match self.upload.take() {
            Some(upload) => upload,
            None => Upload {
                id: self.start_upload().await?,
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
        let out = request
            .send()
            .await
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

#[async_trait]
impl ObjectWriter for S3Writer {
    async fn write(&mut self, mut chunk: &[u8]) -> Result<(), StoreError> {
        while !chunk.is_empty() {
            if self.buffer.len() == PART_BYTES {
                self.upload_part().await?;
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

    async fn finish(mut self: Box<Self>) -> Result<ObjectInfo, StoreError> {
        let store = self.store.clone();
        if self.upload.is_none() {
            let body = Bytes::from(std::mem::take(&mut self.buffer));
            return store
                .put_async(&self.bucket, &self.key, body, &self.options)
                .await;
        }
        // The buffer holds at least one byte: a full one is uploaded only when more comes.
        let upload = self.upload_part().await?;
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
        let out = request
            .send()
            .await
            .map_err(|err| store.error(err, bucket, key))?;
        let info = written_info(bucket, key, self.written, out.e_tag(), &self.options);
        // Complete: nothing for `drop` to abort.
        self.upload = None;
        Ok(info)
    }

    async fn abort(mut self: Box<Self>) {
        if let Some(abort) = self.abort_request() {
            abort.await;
        }
    }
}

impl S3Writer {
    /// The request that aborts the unfinished upload, if one was started.
    fn abort_request(&mut self) -> Option<impl Future<Output = ()> + Send + 'static> {
        let upload = self.upload.take()?;
        let request = self
            .store
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&upload.id);
        let (store, bucket, key) = (self.store.clone(), self.bucket.clone(), self.key.clone());
        Some(async move {
            if let Err(err) = request.send().await {
                let err = store.error(err, &bucket, &key);
                tracing::warn!(
                    bucket = %bucket,
                    key = %key,
                    upload_id = %upload.id,
                    error = %err,
                    "cannot abort an unfinished multipart upload: its parts stay until a lifecycle rule removes them"
                );
            }
        })
    }
}

impl Drop for S3Writer {
    /// An unfinished upload (the plugin failed, or ran out of time) is aborted in the
    /// background on the runtime it was made on: `drop` cannot wait, and the parts of an
    /// unfinished upload are never visible as an object meanwhile.
    fn drop(&mut self) {
        let Some(abort) = self.abort_request() else {
            return;
        };
        match self.runtime.clone().or_else(|| Handle::try_current().ok()) {
            Some(runtime) => drop(runtime.spawn(abort)),
            None => tracing::warn!(
                bucket = %self.bucket,
                key = %self.key,
                "an unfinished multipart upload was dropped with no runtime to abort it on"
            ),
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
        (Some("AccessDenied"), _) | (_, Some(403)) => {
            // Say what S3 answered, and to what: a bare 403 (a HEAD has no body) is a
            // missing permission as often as a refused one.
            let status = status.map_or_else(String::new, |s| format!(" (HTTP {s})"));
            StoreError::AccessDenied(format!("{}{status} on {bucket}/{key}", described()))
        }
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
            StoreError::AccessDenied("AccessDenied: the message (HTTP 403) on photos/a.jpg".into())
        );
        assert_eq!(
            classified(403, Some("SignatureDoesNotMatch")),
            StoreError::AccessDenied(
                "SignatureDoesNotMatch: the message (HTTP 403) on photos/a.jpg".into()
            )
        );
        assert_eq!(
            classify(Some(403), None, None, "photos", "a.jpg"),
            StoreError::AccessDenied("no error code (HTTP 403) on photos/a.jpg".into()),
            "what S3 answered, and to what, even with no body"
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

    /// A store on a server of this machine's, with test credentials.
    async fn store_on(port: u16) -> S3Store {
        S3Store::connect_with(S3Settings {
            endpoint: Some(format!("http://127.0.0.1:{port}")),
            region: Some("us-east-1".into()),
            credentials: Some(StaticCredentials {
                access_key_id: "testing".into(),
                secret_access_key: "testing".into(),
            }),
        })
        .await
        .expect("the store connects lazily")
    }

    /// A store aimed at a port where nothing listens: no request can succeed, and none
    /// leaves the machine.
    async fn unreachable_store() -> S3Store {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        store_on(port).await
    }

    #[tokio::test]
    async fn a_server_that_is_not_there_is_named_in_the_error() {
        let store = unreachable_store().await;
        assert!(store.describe().starts_with("s3:http://127.0.0.1:"));
        let err = store.head("photos", "a.jpg").await.unwrap_err();
        assert!(
            matches!(&err, StoreError::Backend(why) if why.contains(&store.describe()[3..])),
            "{err:?}"
        );
    }

    /// A server that accepts connections and never answers: a call waits until it is
    /// cancelled, and cancelling it is immediate.
    #[tokio::test]
    async fn a_call_to_a_stalled_server_is_cancelled_by_a_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let held = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                open.push(socket);
            }
        });
        let store = store_on(port).await;
        let started = std::time::Instant::now();
        let call = tokio::time::timeout(
            std::time::Duration::from_millis(300),
            store.head("photos", "a.jpg"),
        )
        .await;
        assert!(call.is_err(), "the stalled call returned: {call:?}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        held.abort();
    }
}
