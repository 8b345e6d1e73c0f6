//! Which events S3 makes, and in what order a destination receives them. S3 delivers each
//! event at least once and not always in order; the sequencer orders the events of one key.

use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, TimeDelta, Utc};
use sha2::{Digest, Sha256};

use super::action::{EMPTY_ETAG, ObjectAction};
use super::ids::{Ids, hex};
use super::record::ObjectEvent;
use super::{Delivery, EventSpec, GenerateError};

/// Time between two events made one after the other.
const STEP_NANOS: u64 = 1_000_000;

/// Multipart uploads: the part size that the entity tag's part count assumes (8 MiB, the
/// AWS CLI's default).
const PART_BYTES: u64 = 8 << 20;

/// The events in the order S3 makes them: `count` rounds over the keys, one millisecond
/// apart, so that each key's sequencers strictly increase.
pub(crate) fn create(
    spec: &EventSpec,
    count: u32,
    start: SystemTime,
    ids: &mut Ids,
) -> Vec<ObjectEvent> {
    let since_epoch = start.duration_since(UNIX_EPOCH).unwrap_or_default();
    let start_nanos = u64::try_from(since_epoch.as_nanos()).unwrap_or_default();
    let start_time = DateTime::<Utc>::from(start);
    let mut events = Vec::new();
    for round in 0..u64::from(count) {
        for (k, key) in (0u64..).zip(&spec.keys) {
            let index = round * spec.keys.len() as u64 + k;
            let offset = index * STEP_NANOS;
            let versioned = spec.versioned || spec.action.always_versioned();
            events.push(ObjectEvent {
                action: spec.action,
                bucket: spec.bucket.clone(),
                key: key.clone(),
                size: spec.size,
                etag: etag(spec, key),
                version_id: versioned.then(|| ids.version_id()),
                sequencer: start_nanos + offset,
                time: start_time + TimeDelta::nanoseconds(offset as i64),
                region: spec.region.clone(),
                request_id: ids.hex_upper(16),
                host_id: ids.base64(48),
                eventbridge_id: ids.uuid(),
            });
        }
    }
    events
}

/// The entity tag: the given one, or one derived from key and size; multipart uploads end
/// theirs with `-<parts>` as S3 does, and delete markers have the empty object's.
fn etag(spec: &EventSpec, key: &str) -> String {
    if spec.action == ObjectAction::DeleteMarker {
        return EMPTY_ETAG.to_owned();
    }
    if let Some(etag) = &spec.etag {
        return etag.clone();
    }
    let digest = Sha256::digest(format!("{key}/{}", spec.size));
    let etag = hex(&digest[..16]);
    if spec.action == ObjectAction::Multipart {
        format!("{etag}-{}", spec.size.div_ceil(PART_BYTES).max(1))
    } else {
        etag
    }
}

/// The order of delivery: shuffled when asked, with every key that has two or more events
/// out of sequencer order, then with one event delivered a second time, later.
pub(crate) fn deliver(
    mut events: Vec<ObjectEvent>,
    delivery: &Delivery,
) -> Result<Vec<ObjectEvent>, GenerateError> {
    let mut rng = Rng(delivery.seed);
    if delivery.out_of_order {
        reorder(&mut events, &mut rng)?;
    }
    if delivery.duplicate && !events.is_empty() {
        let original = rng.below(events.len());
        let at = original + 1 + rng.below(events.len() - original);
        events.insert(at, events[original].clone());
    }
    Ok(events)
}

fn reorder(events: &mut [ObjectEvent], rng: &mut Rng) -> Result<(), GenerateError> {
    let mut keys: Vec<String> = Vec::new();
    for event in events.iter() {
        if !keys.contains(&event.key) {
            keys.push(event.key.clone());
        }
    }
    if keys.len() == events.len() {
        return Err(GenerateError::NothingToReorder);
    }
    for i in (1..events.len()).rev() {
        events.swap(i, rng.below(i + 1));
    }
    // A shuffle may leave a key in order (half the time for two events): swapping its
    // first two fixes that without moving any other key's events.
    for key in &keys {
        let positions: Vec<usize> = (0..events.len())
            .filter(|&i| &events[i].key == key)
            .collect();
        let in_order = positions
            .windows(2)
            .all(|pair| events[pair[0]].sequencer < events[pair[1]].sequencer);
        if positions.len() >= 2 && in_order {
            events.swap(positions[0], positions[1]);
        }
    }
    Ok(())
}

/// SplitMix64: small and seedable, enough to shuffle deliveries reproducibly.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`; `n` is at least 1.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}
