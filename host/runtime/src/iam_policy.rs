//! The IAM policy the function's execution role needs: S3 access for exactly the triggers,
//! grants and plugin locations of a configuration, with no wildcard beyond the `*` that
//! stands for "any key under this prefix".

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::config::{Config, PluginSource};

fn object_arn(bucket: &str, pattern: &str) -> String {
    format!("arn:aws:s3:::{bucket}/{pattern}")
}

/// The policy document, as JSON.
pub fn execution_role_policy(config: &Config) -> Value {
    let mut read_triggers = BTreeSet::new();
    let mut read = BTreeSet::new();
    let mut write = BTreeSet::new();
    let mut load = BTreeSet::new();
    // Bucket → prefixes that may be listed.
    let mut list: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for plugin in &config.plugins {
        let trigger = &plugin.trigger;
        read_triggers.insert(object_arn(
            &trigger.bucket,
            &format!("{}*{}", trigger.prefix, trigger.suffix),
        ));
        for grant in &plugin.grants.read {
            read.insert(object_arn(&grant.bucket, &format!("{}*", grant.prefix)));
            list.entry(grant.bucket.clone())
                .or_default()
                .insert(format!("{}*", grant.prefix));
        }
        for grant in &plugin.grants.write {
            write.insert(object_arn(&grant.bucket, &format!("{}*", grant.prefix)));
        }
        if let PluginSource::S3 { bucket, key } = &plugin.wasm {
            load.insert(object_arn(bucket, key));
        }
    }
    let mut state = BTreeSet::new();
    if let Some(location) = &config.host.state {
        state.insert(object_arn(
            &location.bucket,
            &format!("{}*", location.prefix),
        ));
    }
    let mut statements = Vec::new();
    let mut objects = |sid: &str, actions: &[&str], resources: BTreeSet<String>| {
        if !resources.is_empty() {
            statements.push(json!({
                "Sid": sid,
                "Effect": "Allow",
                "Action": actions,
                "Resource": resources.into_iter().collect::<Vec<_>>(),
            }));
        }
    };
    // GetObject also covers HeadObject.
    objects("ReadTriggeringObjects", &["s3:GetObject"], read_triggers);
    objects("ReadGrants", &["s3:GetObject"], read);
    objects(
        "WriteGrants",
        &["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
        write,
    );
    objects("LoadPlugins", &["s3:GetObject"], load);
    objects("HostState", &["s3:GetObject", "s3:PutObject"], state);
    // Without `s3:ListBucket`, S3 answers a read of a missing object with 403, not 404: a
    // missing duplicate marker or tombstone would look like a refused one. The condition
    // key `s3:prefix` is absent from a read, so the bucket is granted without one; the
    // host lists nothing there, and plugins reach it only through their own grants.
    if let Some(location) = &config.host.state {
        statements.push(json!({
            "Sid": "HostStateMissingObjects",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [format!("arn:aws:s3:::{}", location.bucket)],
        }));
    }
    for (bucket, prefixes) in list {
        statements.push(json!({
            "Sid": format!("List{}", sid_word(&bucket)),
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [format!("arn:aws:s3:::{bucket}")],
            "Condition": { "StringLike": { "s3:prefix": prefixes.into_iter().collect::<Vec<_>>() } },
        }));
    }
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// A bucket name as letters and digits only, as a statement id requires.
fn sid_word(bucket: &str) -> String {
    bucket
        .split(['-', '.'])
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// The statement of `policy` with this `Sid`.
    fn statement<'a>(policy: &'a Value, sid: &str) -> &'a Value {
        policy["Statement"]
            .as_array()
            .and_then(|statements| statements.iter().find(|s| s["Sid"] == sid))
            .unwrap_or_else(|| panic!("no statement {sid}: {policy:#}"))
    }

    #[test]
    fn grants_become_exactly_these_statements() {
        let config = Config::parse(
            r#"
[[plugin]]
name = "thumbnail"
wasm = "s3://deploy-bucket/plugins/thumbnail.wasm"
sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
trigger = { bucket = "photos", prefix = "incoming/", suffix = ".jpg" }
read = ["photos/incoming/", "shared-assets/fonts/"]
write = ["photos-thumbs/small/"]

[[plugin]]
name = "indexer"
wasm = "indexer.wasm"
trigger = { bucket = "photos" }
read = ["photos/"]
"#,
            "s3plug.toml",
            Path::new("/task"),
        )
        .unwrap();
        let policy = execution_role_policy(&config);
        let statements = policy["Statement"].as_array().unwrap();
        let by_sid = |sid: &str| statement(&policy, sid);
        assert_eq!(
            by_sid("ReadTriggeringObjects")["Resource"],
            json!([
                "arn:aws:s3:::photos/*",
                "arn:aws:s3:::photos/incoming/*.jpg"
            ])
        );
        assert_eq!(
            by_sid("ReadGrants")["Resource"],
            json!([
                "arn:aws:s3:::photos/*",
                "arn:aws:s3:::photos/incoming/*",
                "arn:aws:s3:::shared-assets/fonts/*"
            ])
        );
        assert_eq!(
            by_sid("WriteGrants")["Resource"],
            json!(["arn:aws:s3:::photos-thumbs/small/*"])
        );
        assert_eq!(
            by_sid("LoadPlugins")["Resource"],
            json!(["arn:aws:s3:::deploy-bucket/plugins/thumbnail.wasm"])
        );
        let list = by_sid("ListPhotos");
        assert_eq!(list["Resource"], json!(["arn:aws:s3:::photos"]));
        assert_eq!(
            list["Condition"]["StringLike"]["s3:prefix"],
            json!(["*", "incoming/*"])
        );
        assert_eq!(
            by_sid("ListSharedAssets")["Condition"]["StringLike"]["s3:prefix"],
            json!(["fonts/*"])
        );
        // Nothing grants more than the config says.
        let text = policy.to_string();
        assert!(
            !text.contains("s3:*") && !text.contains("arn:aws:s3:::*"),
            "{text}"
        );
        assert_eq!(statements.len(), 6);
    }

    #[test]
    fn host_state_is_read_written_and_its_missing_objects_are_404s() {
        let config = Config::parse(
            r#"
[host]
state = "ops/s3plug/"

[[plugin]]
name = "p"
wasm = "p.wasm"
trigger = { bucket = "photos" }
skip_duplicates = true
"#,
            "s3plug.toml",
            Path::new("/task"),
        )
        .unwrap();
        let policy = execution_role_policy(&config);
        let by_sid = |sid: &str| statement(&policy, sid);
        assert_eq!(
            by_sid("HostState")["Resource"],
            json!(["arn:aws:s3:::ops/s3plug/*"])
        );
        assert_eq!(
            by_sid("HostStateMissingObjects"),
            &json!({
                "Sid": "HostStateMissingObjects",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": ["arn:aws:s3:::ops"],
            })
        );
    }
}
