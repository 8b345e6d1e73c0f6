//! Reading an object: a `GetObject` whose body streams from the connection.

use crate::store::{ByteRange, ObjectBody, ObjectInfo, StoreError};

use super::S3Store;
use super::convert::{metadata_of, rfc3339, size_of, unquote};

impl S3Store {
    pub(super) async fn get_async(
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
}

/// The object's total size from `Content-Range: bytes 2-5/10`.
pub(super) fn total_of_content_range(range: &str) -> Option<u64> {
    range.rsplit_once('/')?.1.trim().parse().ok()
}
