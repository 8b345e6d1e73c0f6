//! Where the JSON Lines go: the plugin's settings and the output key.

use s3plug_guest::{Record, config};

/// The default prefix of output keys.
const DEFAULT_TARGET_PREFIX: &str = "jsonl/";

/// Where the output of a record goes.
#[derive(Debug)]
pub struct Target {
    /// `target_bucket`, default: the source object's bucket.
    pub bucket: String,
    /// `target_prefix`, default `jsonl/`: put before the output key.
    pub prefix: String,
}

impl Target {
    /// Reads the settings, with the record's bucket as the default bucket.
    pub fn from_config(record: &Record) -> Self {
        Self {
            bucket: config::get_or("target_bucket", &record.bucket),
            prefix: config::get_or("target_prefix", DEFAULT_TARGET_PREFIX),
        }
    }

    /// The output key of `source_key`: the prefix, then the key with a trailing `.csv` (in
    /// any case) replaced by `.jsonl`, or with `.jsonl` added when it has none.
    pub fn key(&self, source_key: &str) -> String {
        let stem = strip_csv_extension(source_key).unwrap_or(source_key);
        format!("{}{stem}.jsonl", self.prefix)
    }

    /// Whether an object is itself one of our outputs, which must not be converted again
    /// (writing outputs would trigger the plugin without end).
    pub fn is_output(&self, bucket: &str, key: &str) -> bool {
        bucket == self.bucket && key.starts_with(&self.prefix)
    }
}

fn strip_csv_extension(key: &str) -> Option<&str> {
    let start = key.len().checked_sub(".csv".len())?;
    let extension = key.get(start..)?;
    extension
        .eq_ignore_ascii_case(".csv")
        .then(|| &key[..start])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target {
            bucket: "b".to_owned(),
            prefix: "jsonl/".to_owned(),
        }
    }

    #[test]
    fn the_csv_extension_becomes_jsonl() {
        assert_eq!(target().key("in/people.csv"), "jsonl/in/people.jsonl");
        assert_eq!(target().key("PEOPLE.CSV"), "jsonl/PEOPLE.jsonl");
    }

    #[test]
    fn other_keys_get_jsonl_added() {
        assert_eq!(target().key("export.txt"), "jsonl/export.txt.jsonl");
        assert_eq!(target().key("csv"), "jsonl/csv.jsonl");
        assert_eq!(target().key("é.csvé"), "jsonl/é.csvé.jsonl");
    }

    #[test]
    fn outputs_are_recognised() {
        assert!(target().is_output("b", "jsonl/a.jsonl"));
        assert!(!target().is_output("other", "jsonl/a.jsonl"));
        assert!(!target().is_output("b", "in/a.csv"));
    }
}
