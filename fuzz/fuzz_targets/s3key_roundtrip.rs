//! Any UTF-8 text, as an object key: both encodings use only the characters S3 emits and
//! decode back to the key; decoding arbitrary text never panics.

#![no_main]

use libfuzzer_sys::fuzz_target;
use s3plug_host::s3key::{self, KeyStyle};

fuzz_target!(|bytes: &[u8]| {
    let Ok(key) = std::str::from_utf8(bytes) else {
        return;
    };
    for style in [KeyStyle::Aws, KeyStyle::EncodedSlash] {
        let encoded = s3key::encode(key, style);
        assert!(
            encoded.bytes().all(|b| b.is_ascii_alphanumeric()
                || b".-_*+%".contains(&b)
                || (b == b'/' && style == KeyStyle::Aws)),
            "{key:?} {style:?} encoded as {encoded:?}"
        );
        assert_eq!(
            s3key::decode(&encoded).as_deref(),
            Ok(key),
            "{key:?} {style:?} encoded as {encoded:?}"
        );
    }
    // A raw key from an event is any text: it decodes or is refused with itself quoted.
    if let Err(err) = s3key::decode(key) {
        assert_eq!(err.raw, key);
    }
});
