//! What a case sends: S3 notifications from `s3plug event`-style shorthand, from a JSON
//! file, or inline; and the objects the store holds before a case.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::eventgen::{self, Delivery, EventSpec, ObjectAction};
use s3plug_host::store::{MemoryStore, PutOptions, StoreError};

/// The region of shorthand events, as `s3plug event` defaults to.
pub(crate) const DEFAULT_REGION: &str = "us-east-1";

/// An object's bytes and headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Body {
    pub bytes: Arc<[u8]>,
    pub content_type: Option<String>,
    pub metadata: Vec<(String, String)>,
}

impl Body {
    fn put_into(&self, store: &MemoryStore, bucket: &str, key: &str) -> Result<(), StoreError> {
        let options = PutOptions {
            content_type: self.content_type.clone(),
            metadata: self.metadata.clone(),
        };
        store.put(bucket, key, &self.bytes, &options).map(drop)
    }
}

/// An object in the store when a case starts.
#[derive(Debug, Clone)]
pub(crate) struct Seed {
    pub bucket: String,
    pub key: String,
    pub body: Body,
}

impl Seed {
    /// A fresh store holding these objects.
    pub fn store(seeds: &[Seed]) -> Result<MemoryStore, StoreError> {
        let store = MemoryStore::new();
        for seed in seeds {
            seed.body.put_into(&store, &seed.bucket, &seed.key)?;
        }
        Ok(store)
    }
}

/// One record in shorthand: what `s3plug event ACTION --bucket B --key K` prints, after
/// the action itself was done to the store.
#[derive(Debug, Clone)]
pub(crate) struct RecordSpec {
    pub action: ObjectAction,
    pub bucket: String,
    pub key: String,
    /// The size in the event; by default the object's, as `s3plug event --file`.
    pub size: Option<u64>,
    pub region: String,
    /// Stored before the event is sent (an upload).
    pub body: Option<Body>,
}

/// One event of a case.
#[derive(Debug, Clone)]
pub(crate) enum EventInput {
    /// Shorthand records, sent as one notification.
    Records(Vec<RecordSpec>),
    /// A notification as it is (any envelope the host decodes).
    Json(Value),
}

impl EventInput {
    /// The notification to process. Shorthand records first do to the store what S3 did
    /// before it sent the event: a body is stored, a deleted object removed.
    pub fn notification(&self, store: &MemoryStore) -> Result<Value, StoreError> {
        let specs = match self {
            EventInput::Json(value) => return Ok(value.clone()),
            EventInput::Records(specs) => specs,
        };
        let mut records = Vec::with_capacity(specs.len());
        for spec in specs {
            let mut notification = spec.apply(store)?;
            if let Some(Value::Array(more)) = notification.get_mut("Records").map(Value::take) {
                records.extend(more);
            }
        }
        Ok(json!({ "Records": records }))
    }
}

impl RecordSpec {
    fn apply(&self, store: &MemoryStore) -> Result<Value, StoreError> {
        if let Some(body) = &self.body {
            body.put_into(store, &self.bucket, &self.key)?;
        }
        if removes_object(self.action) {
            match store.delete(&self.bucket, &self.key) {
                Ok(()) | Err(StoreError::NoSuchBucket(_)) => {}
                Err(err) => return Err(err),
            }
        }
        let current = store.head(&self.bucket, &self.key).ok();
        let spec = EventSpec {
            action: self.action,
            bucket: self.bucket.clone(),
            keys: vec![self.key.clone()],
            size: self
                .size
                .or(current.as_ref().map(|info| info.size))
                .unwrap_or(eventgen::DEFAULT_SIZE),
            etag: current.and_then(|info| info.etag),
            region: self.region.clone(),
            versioned: false,
        };
        // One key, one event, delivered by S3 itself: nothing `generate` can refuse.
        eventgen::generate(&spec, &Delivery::default())
            .map_err(|err| StoreError::Backend(format!("cannot make the event: {err}")))
    }
}

/// Whether S3 sends this event after the object is gone.
pub(crate) fn removes_object(action: ObjectAction) -> bool {
    matches!(
        action.event_name().split(':').next(),
        Some("ObjectRemoved" | "LifecycleExpiration")
    )
}

/// `len` bytes that are the same on every run and machine: SplitMix64 from state 0, each
/// 64-bit output little-endian. Pseudo-random, so they neither compress nor look like any
/// file format.
pub(crate) fn generated_bytes(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len.next_multiple_of(8));
    let mut state: u64 = 0;
    while out.len() < len {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        out.extend_from_slice(&z.to_le_bytes());
    }
    out.truncate(len);
    out
}
