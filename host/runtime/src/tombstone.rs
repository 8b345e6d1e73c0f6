//! Tombstones: the lineage of objects that plugins deleted, kept under `[host] state`, so
//! that a write loop through a delete is bounded like one through a write.
//!
//! An object's depth travels in its metadata, which goes with the object when it is
//! deleted. So before a plugin on an allowed cycle through a delete deletes an object, the
//! host writes a tombstone, `<state>.tombstones/<sha256 of bucket/key>.json`, holding the
//! lineage the deleted object would carry had it been written: the deleting call's depth
//! plus one. When an `ObjectRemoved` record of that object arrives, the host reads the
//! tombstone as the record's lineage.
//!
//! A tombstone speaks for the deletions that follow it closely: it applies to a record
//! whose event time is within [`TOMBSTONE_WINDOW`] after it was written (less
//! [`CLOCK_SKEW`]). A later deletion by someone else (the key made again and deleted by a
//! person an hour later) starts at depth 0 again, as it should; an old delivery retried past
//! the window also starts at 0, which bounds each retry by `max_depth` on its own.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::event::S3Record;
use crate::grant::Grant;
use crate::guard::Lineage;
use crate::host_state::HostState;
use crate::store::{ObjectStore, StoreError};

/// How long after its deletion a removal event is still taken to be that deletion's: S3
/// delivers notifications within seconds, SQS and EventBridge retries within minutes.
pub(crate) const TOMBSTONE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// How much earlier than the tombstone an event may be stamped and still be its deletion:
/// the store's clock and the host's differ a little.
pub(crate) const CLOCK_SKEW: Duration = Duration::from_secs(30);

/// The folder of tombstones under `[host] state`: a name no plugin can have (plugin names
/// have no `.`), so it never meets a plugin's duplicate markers.
const TOMBSTONES: &str = ".tombstones";

/// What a tombstone holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Stone {
    /// The lineage metadata the deleted object would carry (`s3plug-depth`, ...).
    lineage: Vec<(String, String)>,
    /// When the plugin deleted it, by the host's clock.
    deleted_at: DateTime<Utc>,
}

/// The tombstones under `[host] state`.
#[derive(Debug, Clone)]
pub(crate) struct Tombstones {
    state: HostState,
}

impl Tombstones {
    pub fn new(objects: Arc<dyn ObjectStore>, location: Grant) -> Self {
        Self {
            state: HostState::new(objects, location),
        }
    }

    /// Records that `writer`, handling an object of `lineage` in `request_id`, is about to
    /// delete `bucket/key`. Called before the delete, so its notification cannot arrive
    /// first.
    pub(crate) async fn bury(
        &self,
        bucket: &str,
        key: &str,
        lineage: &Lineage,
        writer: &str,
        request_id: &str,
    ) -> Result<(), StoreError> {
        let stone = Stone {
            lineage: lineage.stamp(writer, request_id).to_vec(),
            deleted_at: Utc::now(),
        };
        let key = self.state.key(TOMBSTONES, bucket, key);
        self.state.write(&key, &stone).await
    }

    /// The lineage of the object an `ObjectRemoved` record is about: its tombstone's, when
    /// a plugin deleted it within the window before the event; else none (depth 0).
    pub(crate) async fn lineage_of(
        &self,
        record: &S3Record,
    ) -> Result<Option<Lineage>, StoreError> {
        let key = self.state.key(TOMBSTONES, &record.bucket, &record.key);
        let Some(stone) = self.state.read::<Stone>(&key).await? else {
            return Ok(None);
        };
        let happened = DateTime::parse_from_rfc3339(&record.event_time)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|_| Utc::now());
        let earliest = stone.deleted_at - CLOCK_SKEW;
        let latest = stone.deleted_at + TOMBSTONE_WINDOW;
        Ok((earliest..=latest)
            .contains(&happened)
            .then(|| Lineage::from_metadata(&stone.lineage)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    fn removed(key: &str, at: DateTime<Utc>) -> S3Record {
        S3Record {
            event_name: "ObjectRemoved:Delete".into(),
            event_time: at.to_rfc3339(),
            bucket: "photos".into(),
            key: key.into(),
            raw_key: key.into(),
            size: None,
            etag: None,
            version_id: None,
            sequencer: None,
            region: None,
            principal: None,
            source_ip: None,
        }
    }

    #[tokio::test]
    async fn a_deletion_carries_its_depth_within_the_window_only() {
        let stones = Tombstones::new(Arc::new(MemoryStore::new()), "state/host/".parse().unwrap());
        let parent = Lineage {
            depth: 2,
            origin: Some("a".into()),
            request: Some("r1".into()),
        };
        stones
            .bury("photos", "x", &parent, "b", "r2")
            .await
            .unwrap();
        let now = Utc::now();
        let carried = stones
            .lineage_of(&removed("x", now))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(carried.depth, 3);
        assert_eq!(carried.origin.as_deref(), Some("b"));
        assert_eq!(
            carried.request.as_deref(),
            Some("r1"),
            "the chain's first request"
        );

        let late = now
            + chrono::Duration::from_std(TOMBSTONE_WINDOW).unwrap()
            + chrono::Duration::seconds(5);
        assert_eq!(stones.lineage_of(&removed("x", late)).await.unwrap(), None);
        let early =
            now - chrono::Duration::from_std(CLOCK_SKEW).unwrap() - chrono::Duration::seconds(5);
        assert_eq!(stones.lineage_of(&removed("x", early)).await.unwrap(), None);
        assert_eq!(
            stones.lineage_of(&removed("y", now)).await.unwrap(),
            None,
            "another key has no tombstone"
        );
    }
}
