//! The host's own small objects under `[host] state`: duplicate markers and loop tombstones.
//! One JSON object per (kind, object), named by a hash of the object's bucket and key, so
//! that any key fits and no plugin-chosen text becomes part of a path.

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::AsyncReadExt;

use crate::grant::Grant;
use crate::store::{ObjectStore, PutOptions, StoreError};

/// The most of one state object read: they are a few hundred bytes of the host's own JSON.
const MAX_STATE_OBJECT_BYTES: u64 = 64 << 10;

/// Where the host keeps its state, and the store it is in.
#[derive(Debug, Clone)]
pub(crate) struct HostState {
    objects: Arc<dyn ObjectStore>,
    location: Grant,
}

impl HostState {
    pub(crate) fn new(objects: Arc<dyn ObjectStore>, location: Grant) -> Self {
        Self { objects, location }
    }

    /// The key of the state object of `kind` (a folder such as `tombstones`) about
    /// `bucket/key`.
    pub(crate) fn key(&self, kind: &str, bucket: &str, key: &str) -> String {
        let hex = crate::digest::sha256_hex(format!("{bucket}/{key}"));
        format!("{}{kind}/{hex}.json", self.location.prefix)
    }

    /// Reads a state object; `None` when there is none, or it is not what the host wrote.
    pub(crate) async fn read<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        let object = match self.objects.get(&self.location.bucket, key, None).await {
            Ok(object) => object,
            Err(StoreError::NotFound { .. } | StoreError::NoSuchBucket(_)) => return Ok(None),
            Err(err) => return Err(err),
        };
        let mut bytes = Vec::new();
        object
            .body
            .take(MAX_STATE_OBJECT_BYTES)
            .read_to_end(&mut bytes)
            .await
            .map_err(|err| StoreError::Backend(format!("reading {key}: {err}")))?;
        Ok(serde_json::from_slice(&bytes).ok())
    }

    /// Writes a state object.
    pub(crate) async fn write<T: Serialize>(&self, key: &str, value: &T) -> Result<(), StoreError> {
        let body = serde_json::to_vec(value).map_err(|err| StoreError::Backend(err.to_string()))?;
        let options = PutOptions {
            content_type: Some("application/json".into()),
            metadata: Vec::new(),
        };
        self.objects
            .put(&self.location.bucket, key, &body, &options)
            .await
            .map(drop)
    }
}
