//! Opt-in duplicate and stale skipping. S3 delivers each event at least once and not
//! always in order; a route with `skip_duplicates = true` keeps, per (plugin, object), a small
//! marker object under `[host] state` with the sequencer it last processed, and skips a
//! record whose sequencer is not newer.
//!
//! The state lives in S3, not in process memory, so it holds across invocations and
//! execution environments. It is best effort under races: two deliveries of one event that
//! run at the same moment in two environments can both pass the check.

use std::cmp::Ordering;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::event::S3Record;
use crate::grant::Grant;
use crate::host_state::HostState;
use crate::store::ObjectStore;

/// What the last processed record of an object was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Marker {
    event: String,
    sequencer: Option<String>,
    version_id: Option<String>,
    etag: Option<String>,
    /// When the change happened; markers written before it was kept have none.
    #[serde(default)]
    event_time: Option<String>,
}

impl Marker {
    fn of(record: &S3Record) -> Self {
        Self {
            event: record.event_name.clone(),
            sequencer: record.sequencer.clone(),
            version_id: record.version_id.clone(),
            etag: record.etag.clone(),
            event_time: Some(record.event_time.clone()).filter(|t| !t.is_empty()),
        }
    }

    /// Whether two records with the same sequencer are one change delivered twice: the same
    /// event on the same object version, at the same time. A sender whose sequencers do not
    /// tell changes apart (LocalStack sends one for every event) is caught by the rest.
    fn same_change(&self, other: &Self) -> bool {
        let same_time = match (&self.event_time, &other.event_time) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        self.event == other.event
            && self.version_id == other.version_id
            && self.etag == other.etag
            && same_time
    }
}

/// Whether to run a plugin on a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    Fresh,
    /// Already processed: the same event of the same object version.
    Duplicate,
    /// Older than the event already processed for this object.
    Stale {
        processed: String,
    },
}

/// Compares two sequencers as S3 documents it: as hexadecimal numbers, after right-padding
/// the shorter with zeros.
pub fn compare_sequencers(a: &str, b: &str) -> Ordering {
    let width = a.len().max(b.len());
    let pad = |s: &str| format!("{:0<width$}", s.to_ascii_uppercase());
    pad(a).cmp(&pad(b))
}

/// The markers of the routes that skip duplicates.
#[derive(Debug, Clone)]
pub(crate) struct DedupeState {
    state: HostState,
}

impl DedupeState {
    pub fn new(objects: Arc<dyn ObjectStore>, location: Grant) -> Self {
        Self {
            state: HostState::new(objects, location),
        }
    }

    /// Markers are per plugin: `<state><plugin>/<hash>.json`.
    fn marker_key(&self, plugin: &str, record: &S3Record) -> String {
        self.state.key(plugin, &record.bucket, &record.key)
    }

    /// Whether `plugin` should run on `record`. A marker that cannot be read lets it run:
    /// a duplicate is better than a loss.
    pub async fn verdict(&self, plugin: &str, record: &S3Record) -> Verdict {
        let key = self.marker_key(plugin, record);
        let marker = match self.state.read::<Marker>(&key).await {
            Ok(Some(marker)) => marker,
            Ok(None) => return Verdict::Fresh,
            Err(err) => {
                tracing::warn!(
                    plugin,
                    key,
                    "cannot read the duplicate marker, running anyway: {err}"
                );
                return Verdict::Fresh;
            }
        };
        let current = Marker::of(record);
        match (&current.sequencer, &marker.sequencer) {
            (Some(new), Some(old)) => match compare_sequencers(new, old) {
                Ordering::Greater => Verdict::Fresh,
                Ordering::Equal if current.same_change(&marker) => Verdict::Duplicate,
                Ordering::Equal => Verdict::Fresh,
                Ordering::Less => Verdict::Stale {
                    processed: old.clone(),
                },
            },
            // Senders without sequencers: only an identical event is a duplicate.
            _ if current.same_change(&marker) => Verdict::Duplicate,
            _ => Verdict::Fresh,
        }
    }

    /// Records that `plugin` processed `record`.
    pub(crate) async fn remember(&self, plugin: &str, record: &S3Record) {
        let key = self.marker_key(plugin, record);
        if let Err(err) = self.state.write(&key, &Marker::of(record)).await {
            tracing::warn!(plugin, key, "cannot write the duplicate marker: {err}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    fn record(sequencer: Option<&str>) -> S3Record {
        S3Record {
            event_name: "ObjectCreated:Put".into(),
            event_time: "2026-12-01T10:00:00.000Z".into(),
            bucket: "photos".into(),
            key: "a.jpg".into(),
            raw_key: "a.jpg".into(),
            size: Some(1),
            etag: Some("e".into()),
            version_id: None,
            sequencer: sequencer.map(str::to_owned),
            region: None,
            principal: None,
            source_ip: None,
        }
    }

    #[test]
    fn sequencers_compare_as_padded_hex() {
        assert_eq!(
            compare_sequencers("0055AED6DCD90281E5", "0055AED6DCD90281E4"),
            Ordering::Greater
        );
        assert_eq!(
            compare_sequencers("0055AED6DCD9028", "0055AED6DCD90281E5"),
            Ordering::Less
        );
        assert_eq!(compare_sequencers("0A", "0a00"), Ordering::Equal);
    }

    #[tokio::test]
    async fn a_sequencer_shared_by_different_changes_is_no_duplicate() {
        let state = DedupeState::new(
            Arc::new(MemoryStore::new()),
            "state/markers/".parse().unwrap(),
        );
        let first = record(Some("0000000000000001"));
        state.remember("p", &first).await;
        assert_eq!(state.verdict("p", &first).await, Verdict::Duplicate);
        let mut other_upload = first.clone();
        other_upload.etag = Some("another".into());
        assert_eq!(state.verdict("p", &other_upload).await, Verdict::Fresh);
        let mut later = first.clone();
        later.event_time = "2026-12-01T10:00:01.000Z".into();
        assert_eq!(state.verdict("p", &later).await, Verdict::Fresh);
        let mut other_version = first.clone();
        other_version.version_id = Some("v2".into());
        assert_eq!(state.verdict("p", &other_version).await, Verdict::Fresh);
    }

    #[tokio::test]
    async fn duplicates_and_stale_records_are_recognised() {
        let state = DedupeState::new(
            Arc::new(MemoryStore::new()),
            "state/markers/".parse().unwrap(),
        );
        let second = record(Some("0000000000000002"));
        assert_eq!(state.verdict("p", &second).await, Verdict::Fresh);
        state.remember("p", &second).await;
        assert_eq!(state.verdict("p", &second).await, Verdict::Duplicate);
        assert_eq!(
            state.verdict("p", &record(Some("0000000000000001"))).await,
            Verdict::Stale {
                processed: "0000000000000002".into()
            }
        );
        assert_eq!(
            state.verdict("p", &record(Some("0000000000000003"))).await,
            Verdict::Fresh
        );
        assert_eq!(
            state.verdict("other", &second).await,
            Verdict::Fresh,
            "markers are per plugin"
        );
        let unsequenced = record(None);
        state.remember("q", &unsequenced).await;
        assert_eq!(state.verdict("q", &unsequenced).await, Verdict::Duplicate);
    }
}
