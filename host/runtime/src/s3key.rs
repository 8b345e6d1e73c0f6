//! Object keys as S3 puts them in event notifications.
//!
//! S3 URL-encodes keys in notifications the way HTML forms do: a space becomes `+`, a `+`
//! becomes `%2B`, other reserved bytes and every non-ASCII byte become `%XX`. AWS leaves `/`
//! alone; MinIO and moto encode it as `%2F`. Decoding accepts both.

use percent_encoding::percent_decode_str;

/// A raw key that cannot be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("key {raw:?} does not decode to UTF-8 text")]
pub struct KeyDecodeError {
    /// The key as it arrived.
    pub raw: String,
}

/// Decodes a key from an event notification: `+` is a space, `%XX` escapes are bytes of
/// UTF-8 text (`%2B` a plus, `%2F` a slash).
pub fn decode(raw: &str) -> Result<String, KeyDecodeError> {
    let spaced = raw.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .map(|key| key.into_owned())
        .map_err(|_| KeyDecodeError {
            raw: raw.to_owned(),
        })
}

/// Who encoded a key: the senders differ on `/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStyle {
    /// Amazon S3: `/` stays as it is.
    Aws,
    /// MinIO and moto: `/` is `%2F`.
    EncodedSlash,
}

/// Encodes a key the way S3 does in notifications: ASCII letters, digits and `.-_*` stay,
/// a space becomes `+`, every other byte becomes `%XX` (upper-case hex).
pub fn encode(key: &str, style: KeyStyle) -> String {
    let mut out = String::with_capacity(key.len() + key.len() / 2);
    for byte in key.bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'_' | b'*' => {
                out.push(char::from(byte));
            }
            b'/' if style == KeyStyle::Aws => out.push('/'),
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_s3_way() {
        assert_eq!(decode("my+photo.jpg").unwrap(), "my photo.jpg");
        assert_eq!(decode("a%2Bb.jpg").unwrap(), "a+b.jpg");
        assert_eq!(decode("dir%2Fsub%2Ffile.txt").unwrap(), "dir/sub/file.txt");
        assert_eq!(decode("dir/sub/file.txt").unwrap(), "dir/sub/file.txt");
        assert_eq!(decode("100%25.txt").unwrap(), "100%.txt");
        assert_eq!(decode("caf%C3%A9+%E2%98%83.txt").unwrap(), "café ☃.txt");
        assert_eq!(decode("Happy%20Face.jpg").unwrap(), "Happy Face.jpg");
    }

    #[test]
    fn rejects_keys_that_are_not_utf8() {
        let err = decode("bad%FF.txt").unwrap_err();
        assert_eq!(err.raw, "bad%FF.txt");
        assert!(err.to_string().contains("bad%FF.txt"));
    }

    #[test]
    fn encodes_as_aws_and_minio_do() {
        assert_eq!(encode("my photo+1.jpg", KeyStyle::Aws), "my+photo%2B1.jpg");
        assert_eq!(encode("a/b c.txt", KeyStyle::Aws), "a/b+c.txt");
        assert_eq!(encode("a/b c.txt", KeyStyle::EncodedSlash), "a%2Fb+c.txt");
        assert_eq!(encode("café", KeyStyle::Aws), "caf%C3%A9");
        assert_eq!(encode("50%~", KeyStyle::Aws), "50%25%7E");
    }

    #[test]
    fn encoding_round_trips() {
        for key in ["plain.txt", "a b+c%d/é/☃", "x=1&y=2?#", "  leading", "a//b"] {
            for style in [KeyStyle::Aws, KeyStyle::EncodedSlash] {
                assert_eq!(
                    decode(&encode(key, style)).unwrap(),
                    key,
                    "{key:?} {style:?}"
                );
            }
        }
    }
}
