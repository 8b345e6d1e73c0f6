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

mod client;
mod convert;
mod errors;
mod reader;
mod writer;

#[cfg(test)]
mod tests;

use std::fmt;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::MetadataDirective;
use bytes::Bytes;

use super::{
    ByteRange, ListPage, ObjectBody, ObjectInfo, ObjectStore, ObjectWriter, PutOptions, StoreError,
    normalise_metadata,
};
use client::build_client;
use convert::{copy_source, metadata_map, metadata_of, rfc3339, size_of, unquote, written_info};
use writer::S3Writer;

/// How much a streaming write buffers before it becomes a multipart upload, and the size of
/// each part but the last. S3 refuses parts under 5 MiB (but the last) and allows 10 000
/// parts, so objects written this way can reach 80 000 MiB; each open writer holds up to
/// this much memory.
pub const PART_BYTES: usize = 8 << 20;

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
        self.get_async(bucket, key, range).await
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
        Ok(Box::new(S3Writer::new(self.clone(), bucket, key, options)))
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
