//! Which plugins a record goes to: bucket, key prefix, key suffix and event type, with the
//! semantics of S3's own notification filters.

use std::fmt;

use crate::event::S3Record;

/// The event categories S3 can notify about, as in `s3:<Category>:<Name>`.
const CATEGORIES: &[&str] = &[
    "ObjectCreated",
    "ObjectRemoved",
    "ObjectRestore",
    "ObjectTagging",
    "ObjectAcl",
    "Replication",
    "LifecycleExpiration",
    "LifecycleTransition",
    "IntelligentTiering",
    "ReducedRedundancyLostObject",
];

/// One entry of a trigger's `events` list: `s3:ObjectCreated:*` or `s3:ObjectCreated:Put`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPattern {
    /// The pattern without `s3:` and without a trailing `*`: `ObjectCreated:` or
    /// `ObjectCreated:Put`.
    stem: String,
    wildcard: bool,
}

impl EventPattern {
    /// Parses a pattern as S3 writes it; the `s3:` prefix is optional.
    pub fn parse(text: &str) -> Result<Self, String> {
        let body = text.strip_prefix("s3:").unwrap_or(text);
        let (category, name) = match body.split_once(':') {
            Some((category, name)) => (category, Some(name)),
            None => (body, None),
        };
        if !CATEGORIES.contains(&category) {
            return Err(format!(
                "unknown event type {text:?}: expected s3:<Category>:<Name> or s3:<Category>:*, \
                 with a category among {}",
                CATEGORIES.join(", ")
            ));
        }
        match name {
            Some("*") => Ok(Self {
                stem: format!("{category}:"),
                wildcard: true,
            }),
            Some(name) if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric()) => {
                Ok(Self {
                    stem: body.to_owned(),
                    wildcard: false,
                })
            }
            Some(_) => Err(format!(
                "bad event type {text:?}: the name after the category is a word or *"
            )),
            None => Ok(Self {
                stem: category.to_owned(),
                wildcard: false,
            }),
        }
    }

    /// Whether some event name matches both patterns.
    pub fn overlaps(&self, other: &EventPattern) -> bool {
        match (self.wildcard, other.wildcard) {
            (true, true) => {
                self.stem.starts_with(&other.stem) || other.stem.starts_with(&self.stem)
            }
            (true, false) => other.stem.starts_with(&self.stem),
            (false, true) => self.stem.starts_with(&other.stem),
            (false, false) => self.stem == other.stem,
        }
    }

    /// Whether a record's event name (`ObjectCreated:Put`, no `s3:`) matches.
    pub fn matches(&self, event_name: &str) -> bool {
        if self.wildcard {
            event_name.starts_with(&self.stem)
        } else {
            event_name == self.stem
        }
    }
}

impl fmt::Display for EventPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "s3:{}{}",
            self.stem,
            if self.wildcard { "*" } else { "" }
        )
    }
}

/// What a plugin reacts to. Prefix and suffix match the decoded key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    pub bucket: String,
    pub prefix: String,
    pub suffix: String,
    pub events: Vec<EventPattern>,
}

impl Trigger {
    /// Whether a record falls under this trigger.
    pub fn matches(&self, record: &S3Record) -> bool {
        record.bucket == self.bucket
            && record.key.starts_with(&self.prefix)
            && record.key.ends_with(&self.suffix)
            && self
                .events
                .iter()
                .any(|pattern| pattern.matches(&record.event_name))
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}*{}", self.bucket, self.prefix, self.suffix)
    }
}

/// The routes of a configuration, in config order.
#[derive(Debug, Default)]
pub struct RouteTable {
    triggers: Vec<Trigger>,
}

impl RouteTable {
    /// A table with one trigger per plugin, indexed like the plugins.
    pub fn new(triggers: Vec<Trigger>) -> Self {
        Self { triggers }
    }

    /// The indices of the plugins a record goes to, in config order.
    pub fn plugins_for<'a>(&'a self, record: &'a S3Record) -> impl Iterator<Item = usize> + 'a {
        self.triggers
            .iter()
            .enumerate()
            .filter(|(_, trigger)| trigger.matches(record))
            .map(|(index, _)| index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(bucket: &str, key: &str, event: &str) -> S3Record {
        S3Record {
            event_name: event.to_owned(),
            event_time: String::new(),
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            raw_key: key.to_owned(),
            size: None,
            etag: None,
            version_id: None,
            sequencer: None,
            region: None,
            principal: None,
            source_ip: None,
        }
    }

    fn trigger(prefix: &str, suffix: &str, events: &[&str]) -> Trigger {
        Trigger {
            bucket: "photos".to_owned(),
            prefix: prefix.to_owned(),
            suffix: suffix.to_owned(),
            events: events
                .iter()
                .map(|e| EventPattern::parse(e).unwrap())
                .collect(),
        }
    }

    #[test]
    fn wildcard_matches_every_event_of_its_category() {
        let created = EventPattern::parse("s3:ObjectCreated:*").unwrap();
        assert!(created.matches("ObjectCreated:Put"));
        assert!(created.matches("ObjectCreated:CompleteMultipartUpload"));
        assert!(!created.matches("ObjectRemoved:Delete"));
        assert!(!created.matches("ObjectCreatedX"));
        assert_eq!(created.to_string(), "s3:ObjectCreated:*");
    }

    #[test]
    fn exact_patterns_match_exactly() {
        let put = EventPattern::parse("ObjectCreated:Put").unwrap();
        assert!(put.matches("ObjectCreated:Put"));
        assert!(!put.matches("ObjectCreated:Post"));
        let lost = EventPattern::parse("s3:ReducedRedundancyLostObject").unwrap();
        assert!(lost.matches("ReducedRedundancyLostObject"));
    }

    #[test]
    fn bad_patterns_are_refused_with_the_reason() {
        assert!(
            EventPattern::parse("s3:ObjectMade:*")
                .unwrap_err()
                .contains("unknown event type")
        );
        assert!(
            EventPattern::parse("s3:ObjectCreated:")
                .unwrap_err()
                .contains("bad event type")
        );
        assert!(
            EventPattern::parse("s3:ObjectCreated:P*")
                .unwrap_err()
                .contains("bad event type")
        );
    }

    #[test]
    fn prefix_suffix_bucket_and_event_all_count() {
        let t = trigger("incoming/", ".jpg", &["s3:ObjectCreated:*"]);
        assert!(t.matches(&record("photos", "incoming/a.jpg", "ObjectCreated:Put")));
        assert!(!t.matches(&record("photos", "incoming/a.png", "ObjectCreated:Put")));
        assert!(!t.matches(&record("photos", "other/a.jpg", "ObjectCreated:Put")));
        assert!(!t.matches(&record("other", "incoming/a.jpg", "ObjectCreated:Put")));
        assert!(!t.matches(&record("photos", "incoming/a.jpg", "ObjectRemoved:Delete")));
    }

    #[test]
    fn several_matching_plugins_come_in_config_order() {
        let table = RouteTable::new(vec![
            trigger("", "", &["s3:ObjectRemoved:*"]),
            trigger("in/", "", &["s3:ObjectCreated:*"]),
            trigger("", ".txt", &["s3:ObjectCreated:Put"]),
        ]);
        let rec = record("photos", "in/a.txt", "ObjectCreated:Put");
        assert_eq!(table.plugins_for(&rec).collect::<Vec<_>>(), vec![1, 2]);
        let none = record("photos", "x.bin", "ObjectCreated:Copy");
        assert_eq!(table.plugins_for(&none).count(), 0);
    }
}
