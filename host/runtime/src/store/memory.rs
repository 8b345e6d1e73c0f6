//! Objects in process memory.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use super::{
    ByteRange, ListPage, ObjectBody, ObjectInfo, ObjectStore, ObjectWriter, PutOptions, StoreError,
    etag_of, normalise_metadata, now_rfc3339,
};

#[derive(Debug, Clone)]
struct StoredObject {
    data: Arc<[u8]>,
    info: ObjectInfo,
}

type Buckets = BTreeMap<String, BTreeMap<String, StoredObject>>;

/// Buckets and objects in memory. Buckets come into being with their first object; a read
/// from a bucket that has none reports `NoSuchBucket`.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    buckets: Arc<Mutex<Buckets>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Buckets> {
        // A panic while holding the lock cannot leave a half-written object: every change is
        // a single map insert or remove.
        self.buckets.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn object(&self, bucket: &str, key: &str) -> Result<StoredObject, StoreError> {
        let buckets = self.lock();
        let objects = buckets
            .get(bucket)
            .ok_or_else(|| StoreError::NoSuchBucket(bucket.to_owned()))?;
        objects
            .get(key)
            .cloned()
            .ok_or_else(|| StoreError::not_found(bucket, key))
    }

    fn insert(&self, bucket: &str, key: &str, data: Arc<[u8]>, options: &PutOptions) -> ObjectInfo {
        let info = ObjectInfo {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            size: data.len() as u64,
            etag: Some(etag_of(&data)),
            content_type: options.content_type.clone(),
            last_modified: Some(now_rfc3339()),
            metadata: normalise_metadata(&options.metadata),
        };
        let stored = StoredObject {
            data,
            info: info.clone(),
        };
        self.lock()
            .entry(bucket.to_owned())
            .or_default()
            .insert(key.to_owned(), stored);
        info
    }

    /// What the store knows of an object. The memory store never waits, so tools and tests
    /// may call it without a runtime (the [`ObjectStore`] methods do the same).
    pub fn head(&self, bucket: &str, key: &str) -> Result<ObjectInfo, StoreError> {
        self.object(bucket, key).map(|o| o.info)
    }

    /// Stores an object at once; see [`MemoryStore::head`].
    pub fn put(
        &self,
        bucket: &str,
        key: &str,
        body: &[u8],
        options: &PutOptions,
    ) -> Result<ObjectInfo, StoreError> {
        Ok(self.insert(bucket, key, Arc::from(body), options))
    }

    /// Deletes an object at once; see [`MemoryStore::head`].
    pub fn delete(&self, bucket: &str, key: &str) -> Result<(), StoreError> {
        let mut buckets = self.lock();
        let objects = buckets
            .get_mut(bucket)
            .ok_or_else(|| StoreError::NoSuchBucket(bucket.to_owned()))?;
        objects.remove(key);
        Ok(())
    }

    /// The bytes of an object, for tests and tools.
    pub fn bytes(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        self.object(bucket, key).ok().map(|o| o.data.to_vec())
    }

    /// Every `(bucket, key)` held, sorted.
    pub fn keys(&self) -> Vec<(String, String)> {
        self.lock()
            .iter()
            .flat_map(|(bucket, objects)| {
                objects.keys().map(move |key| (bucket.clone(), key.clone()))
            })
            .collect()
    }
}

#[async_trait]
impl ObjectStore for MemoryStore {
    fn describe(&self) -> String {
        "memory".to_owned()
    }

    async fn head(&self, bucket: &str, key: &str) -> Result<ObjectInfo, StoreError> {
        MemoryStore::head(self, bucket, key)
    }

    async fn get(
        &self,
        bucket: &str,
        key: &str,
        range: Option<ByteRange>,
    ) -> Result<ObjectBody, StoreError> {
        let object = self.object(bucket, key)?;
        let (start, len) = match range {
            Some(range) => range
                .clamp(object.info.size)
                .ok_or(StoreError::InvalidRange)?,
            None => (0, object.info.size),
        };
        let mut cursor = Cursor::new(SharedBytes(object.data));
        cursor.set_position(start);
        Ok(ObjectBody {
            info: object.info,
            body: Box::new(tokio::io::AsyncReadExt::take(cursor, len)),
        })
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: &[u8],
        options: &PutOptions,
    ) -> Result<ObjectInfo, StoreError> {
        MemoryStore::put(self, bucket, key, body, options)
    }

    async fn create(
        &self,
        bucket: &str,
        key: &str,
        options: &PutOptions,
    ) -> Result<Box<dyn ObjectWriter>, StoreError> {
        Ok(Box::new(MemoryWriter {
            store: self.clone(),
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            options: options.clone(),
            data: Vec::new(),
        }))
    }

    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        next: Option<&str>,
        max: u32,
    ) -> Result<ListPage, StoreError> {
        let buckets = self.lock();
        let objects = buckets
            .get(bucket)
            .ok_or_else(|| StoreError::NoSuchBucket(bucket.to_owned()))?;
        let start = next.unwrap_or(prefix);
        let mut page = ListPage::default();
        let mut matching = objects
            .range::<str, _>((std::ops::Bound::Included(start), std::ops::Bound::Unbounded))
            .filter(|(key, _)| Some(key.as_str()) != next)
            .take_while(|(key, _)| key.starts_with(prefix));
        for (_, object) in matching.by_ref().take(max as usize) {
            page.objects.push(object.info.clone());
        }
        if matching.next().is_some() {
            page.next = page.objects.last().map(|o| o.key.clone());
        }
        Ok(page)
    }

    async fn copy(
        &self,
        from_bucket: &str,
        from_key: &str,
        to_bucket: &str,
        to_key: &str,
        replace: Option<&PutOptions>,
    ) -> Result<ObjectInfo, StoreError> {
        let source = self.object(from_bucket, from_key)?;
        let options = replace.cloned().unwrap_or(PutOptions {
            content_type: source.info.content_type,
            metadata: source.info.metadata,
        });
        Ok(self.insert(to_bucket, to_key, source.data, &options))
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), StoreError> {
        MemoryStore::delete(self, bucket, key)
    }
}

/// Shares an object's bytes with a reader without copying them.
struct SharedBytes(Arc<[u8]>);

impl AsRef<[u8]> for SharedBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

struct MemoryWriter {
    store: MemoryStore,
    bucket: String,
    key: String,
    options: PutOptions,
    data: Vec<u8>,
}

#[async_trait]
impl ObjectWriter for MemoryWriter {
    async fn write(&mut self, chunk: &[u8]) -> Result<(), StoreError> {
        self.data.extend_from_slice(chunk);
        Ok(())
    }

    async fn finish(self: Box<Self>) -> Result<ObjectInfo, StoreError> {
        Ok(self
            .store
            .insert(&self.bucket, &self.key, Arc::from(self.data), &self.options))
    }
}
