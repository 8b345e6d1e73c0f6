//! What a plugin may touch: `read` and `write` lists of `bucket/prefix`.
//!
//! A grant `photos/incoming/` covers every key of bucket `photos` that starts with
//! `incoming/`; `photos` or `photos/` covers the whole bucket. There are no wildcards: a
//! prefix is a plain string prefix of the decoded key.

use std::fmt;
use std::str::FromStr;

/// One `bucket/prefix` grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub bucket: String,
    pub prefix: String,
}

impl Grant {
    /// Whether the grant covers one object.
    pub(crate) fn covers(&self, bucket: &str, key: &str) -> bool {
        self.bucket == bucket && key.starts_with(&self.prefix)
    }

    /// Whether the grant covers every key a listing of `prefix` can return.
    pub(crate) fn covers_prefix(&self, bucket: &str, prefix: &str) -> bool {
        self.bucket == bucket && prefix.starts_with(&self.prefix)
    }
}

impl FromStr for Grant {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (bucket, prefix) = text.split_once('/').unwrap_or((text, ""));
        if bucket.is_empty() {
            return Err(format!(
                "grant {text:?} has no bucket: write it as \"bucket/prefix\""
            ));
        }
        if bucket.contains(['*', '?']) || prefix.contains('*') {
            return Err(format!(
                "grant {text:?} has a wildcard: grants are plain bucket/prefix strings"
            ));
        }
        if !valid_bucket_name(bucket) {
            return Err(format!(
                "grant {text:?}: {bucket:?} is not a valid bucket name"
            ));
        }
        Ok(Self {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        })
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.bucket, self.prefix)
    }
}

/// Bucket names as S3 allows them: 3 to 63 of `a-z`, `0-9`, `.` and `-`, starting and
/// ending with a letter or digit. Local stores follow the same rule so that a plugin that
/// works locally works on S3.
pub fn valid_bucket_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (3..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'.' || *b == b'-')
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
        && !name.contains("..")
}

/// The kind of access an object call needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    Read,
    Write,
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Access::Read => "read",
            Access::Write => "write",
        })
    }
}

/// A plugin's grants, plus the one object it may always read: the one that triggered it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    pub read: Vec<Grant>,
    pub write: Vec<Grant>,
}

impl Grants {
    fn list(&self, access: Access) -> &[Grant] {
        match access {
            Access::Read => &self.read,
            Access::Write => &self.write,
        }
    }

    /// Whether `access` to one object is granted (the triggering object aside).
    pub(crate) fn allows(&self, access: Access, bucket: &str, key: &str) -> bool {
        self.list(access)
            .iter()
            .any(|grant| grant.covers(bucket, key))
    }

    /// Whether listing `bucket` under `prefix` is granted: only when a read grant covers
    /// every key the listing could return.
    pub(crate) fn allows_list(&self, bucket: &str, prefix: &str) -> bool {
        self.read
            .iter()
            .any(|grant| grant.covers_prefix(bucket, prefix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants(read: &[&str], write: &[&str]) -> Grants {
        Grants {
            read: read.iter().map(|g| g.parse().unwrap()).collect(),
            write: write.iter().map(|g| g.parse().unwrap()).collect(),
        }
    }

    #[test]
    fn parses_bucket_and_prefix() {
        assert_eq!(
            "photos/in/".parse::<Grant>().unwrap(),
            Grant {
                bucket: "photos".into(),
                prefix: "in/".into()
            }
        );
        assert_eq!(
            "photos".parse::<Grant>().unwrap(),
            Grant {
                bucket: "photos".into(),
                prefix: "".into()
            }
        );
        assert_eq!("photos/".parse::<Grant>().unwrap().prefix, "");
    }

    #[test]
    fn refuses_bad_grants() {
        assert!("/x".parse::<Grant>().unwrap_err().contains("no bucket"));
        assert!(
            "photos/*"
                .parse::<Grant>()
                .unwrap_err()
                .contains("wildcard")
        );
        assert!("*/x".parse::<Grant>().unwrap_err().contains("wildcard"));
        assert!(
            "Photos/x"
                .parse::<Grant>()
                .unwrap_err()
                .contains("not a valid bucket name")
        );
        assert!(
            "ab/x"
                .parse::<Grant>()
                .unwrap_err()
                .contains("not a valid bucket name")
        );
    }

    #[test]
    fn objects_are_covered_by_prefix_only() {
        let g = grants(&["photos/in/"], &["thumbs"]);
        assert!(g.allows(Access::Read, "photos", "in/a.jpg"));
        assert!(!g.allows(Access::Read, "photos", "inx/a.jpg"));
        assert!(!g.allows(Access::Read, "photos", "out/a.jpg"));
        assert!(!g.allows(Access::Write, "photos", "in/a.jpg"));
        assert!(g.allows(Access::Write, "thumbs", "anything"));
        assert!(!g.allows(Access::Read, "thumbs", "anything"));
        assert!(!g.allows(Access::Read, "photos-other", "in/a.jpg"));
    }

    #[test]
    fn listing_needs_a_grant_covering_the_whole_prefix() {
        let g = grants(&["photos/in/"], &[]);
        assert!(g.allows_list("photos", "in/"));
        assert!(g.allows_list("photos", "in/2024/"));
        assert!(!g.allows_list("photos", "i"));
        assert!(!g.allows_list("photos", ""));
    }
}
