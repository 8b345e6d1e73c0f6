//! A store whose reads wait, to make records I/O-bound as they are on S3.

use std::sync::Arc;
use std::time::Duration;

use s3plug::store::{
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

impl ObjectStore for SlowStore {
    fn describe(&self) -> String {
        format!("slow({}, {:?} per get)", self.inner.describe(), self.delay)
    }

    fn head(&self, bucket: &str, key: &str) -> Result<ObjectInfo, StoreError> {
        self.inner.head(bucket, key)
    }

    fn get(
        &self,
        bucket: &str,
        key: &str,
        range: Option<ByteRange>,
    ) -> Result<ObjectBody, StoreError> {
        std::thread::sleep(self.delay);
        self.inner.get(bucket, key, range)
    }

    fn put(
        &self,
        bucket: &str,
        key: &str,
        body: &[u8],
        options: &PutOptions,
    ) -> Result<ObjectInfo, StoreError> {
        self.inner.put(bucket, key, body, options)
    }

    fn create(
        &self,
        bucket: &str,
        key: &str,
        options: &PutOptions,
    ) -> Result<Box<dyn ObjectWriter>, StoreError> {
        self.inner.create(bucket, key, options)
    }

    fn list(
        &self,
        bucket: &str,
        prefix: &str,
        next: Option<&str>,
        max: u32,
    ) -> Result<ListPage, StoreError> {
        self.inner.list(bucket, prefix, next, max)
    }

    fn copy(
        &self,
        from_bucket: &str,
        from_key: &str,
        to_bucket: &str,
        to_key: &str,
        replace: Option<&PutOptions>,
    ) -> Result<ObjectInfo, StoreError> {
        self.inner
            .copy(from_bucket, from_key, to_bucket, to_key, replace)
    }

    fn delete(&self, bucket: &str, key: &str) -> Result<(), StoreError> {
        self.inner.delete(bucket, key)
    }
}
