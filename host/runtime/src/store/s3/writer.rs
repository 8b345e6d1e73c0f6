//! Streaming writes: a buffer, then a multipart upload, aborted if dropped unfinished.

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use tokio::runtime::Handle;

use crate::store::{ObjectInfo, ObjectWriter, PutOptions, StoreError};

use super::convert::{metadata_map, written_info};
use super::{PART_BYTES, S3Store};

/// S3's limit on the parts of one upload.
const MAX_PARTS: i32 = 10_000;

/// A multipart upload in progress.
#[derive(Debug)]
struct Upload {
    id: String,
    parts: Vec<CompletedPart>,
}

/// A streaming write: up to [`PART_BYTES`] in memory, then a multipart upload with a part
/// per [`PART_BYTES`]. An object that fits in one part is a single `PutObject`. Dropped
/// without `finish`, it aborts its upload, so S3 keeps (and bills) no orphan parts.
pub(super) struct S3Writer {
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
    /// A writer of `bucket/key` that has written nothing yet. An upload it starts is
    /// aborted, if dropped unfinished, on the runtime this is called on.
    pub(super) fn new(store: S3Store, bucket: &str, key: &str, options: &PutOptions) -> Self {
        Self {
            store,
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            options: options.clone(),
            buffer: Vec::new(),
            upload: None,
            written: 0,
            runtime: Handle::try_current().ok(),
        }
    }

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
