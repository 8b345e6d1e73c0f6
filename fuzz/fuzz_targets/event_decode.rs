//! Any bytes, as an invocation payload: decoding never panics, and every record it yields
//! has a bucket and a key that S3's own encoding carries back unchanged.

#![no_main]

use libfuzzer_sys::fuzz_target;
use s3plug_host::event::{self, ItemKind};
use s3plug_host::s3key::{self, KeyStyle};

fuzz_target!(|payload: &[u8]| {
    let decoded = match event::decode(payload) {
        Ok(decoded) => decoded,
        Err(err) => {
            assert!(!err.to_string().is_empty());
            return;
        }
    };
    for item in &decoded.items {
        match &item.kind {
            ItemKind::Record(record) => {
                assert!(!record.bucket.is_empty(), "empty bucket: {record:?}");
                assert!(!record.key.is_empty(), "empty key: {record:?}");
                let encoded = s3key::encode(&record.key, KeyStyle::Aws);
                assert_eq!(
                    s3key::decode(&encoded).as_deref(),
                    Ok(record.key.as_str()),
                    "key {:?} encoded as {encoded:?}",
                    record.key
                );
            }
            ItemKind::Invalid(reason) => assert!(!reason.is_empty(), "{item:?}"),
            ItemKind::Test => {}
        }
    }
});
