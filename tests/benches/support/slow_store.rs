//! A store whose reads wait, to make records I/O-bound as they are on S3.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use s3plug_host::store::{
    ByteRange, ListPage, ObjectBody, ObjectInfo, ObjectStore, ObjectWriter, PutOptions, StoreError,
};

/// Wraps a store; every `get` first sleeps for `delay` (a first-byte latency), the rest
/// passes through untouched.
#[derive(Debug)]
pub struct SlowStore {
    inner: Arc<dyn ObjectStore>,
    delay: Duration,
}

impl SlowStore {
    pub fn new(inner: Arc<dyn ObjectStore>, delay: Duration) -> Self {
        Self { inner, delay }
    }
}

#[async_trait]
impl ObjectStore for SlowStore {
    fn describe(&self) -> String {
        format!("slow({}, {:?} per get)", self.inner.describe(), self.delay)
    }

    async fn head(&self, bucket: &str, key: &str) -> Result<ObjectInfo, StoreError> {
        self.inner.head(bucket, key).await
    }

    async fn get(
        &self,
        bucket: &str,
        key: &str,
        range: Option<ByteRange>,
    ) -> Result<ObjectBody, StoreError> {
        tokio::time::sleep(self.delay).await;
        self.inner.get(bucket, key, range).await
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: &[u8],
        options: &PutOptions,
    ) -> Result<ObjectInfo, StoreError> {
        self.inner.put(bucket, key, body, options).await
    }

    async fn create(
        &self,
        bucket: &str,
        key: &str,
        options: &PutOptions,
    ) -> Result<Box<dyn ObjectWriter>, StoreError> {
        self.inner.create(bucket, key, options).await
    }

    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        next: Option<&str>,
        max: u32,
    ) -> Result<ListPage, StoreError> {
        self.inner.list(bucket, prefix, next, max).await
    }

    async fn copy(
        &self,
        from_bucket: &str,
        from_key: &str,
        to_bucket: &str,
        to_key: &str,
        replace: Option<&PutOptions>,
    ) -> Result<ObjectInfo, StoreError> {
        self.inner
            .copy(from_bucket, from_key, to_bucket, to_key, replace)
            .await
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), StoreError> {
        self.inner.delete(bucket, key).await
    }
}
