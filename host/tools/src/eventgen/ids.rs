//! Identifiers that look like the senders' own (request ids, message ids, receipt handles,
//! version ids), drawn from a hash chain: the same nonce gives the same identifiers.

use sha2::{Digest, Sha256};

/// A source of random-looking identifiers.
#[derive(Debug, Clone)]
pub(crate) struct Ids {
    nonce: [u8; 32],
    counter: u64,
}

impl Ids {
    pub(crate) fn new(nonce: &[u8]) -> Self {
        Self {
            nonce: Sha256::digest(nonce).into(),
            counter: 0,
        }
    }

    /// `len` fresh bytes.
    pub(crate) fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 32);
        while out.len() < len {
            self.counter += 1;
            let mut hasher = Sha256::new();
            hasher.update(self.nonce);
            hasher.update(self.counter.to_le_bytes());
            out.extend_from_slice(&hasher.finalize());
        }
        out.truncate(len);
        out
    }

    /// `len` upper-case hex digits, as in S3 request ids (`C3D13FE58DE4C810`).
    pub(crate) fn hex_upper(&mut self, len: usize) -> String {
        hex(&self.bytes(len.div_ceil(2)))[..len].to_ascii_uppercase()
    }

    /// A version 4 UUID, as SQS message ids and EventBridge event ids are.
    pub(crate) fn uuid(&mut self) -> String {
        let mut b = self.bytes(16);
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h = hex(&b);
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }

    /// Base64 of `len` fresh bytes (signatures, receipt handles, `x-amz-id-2`).
    pub(crate) fn base64(&mut self, len: usize) -> String {
        base64(&self.bytes(len))
    }

    /// An S3 version id: 32 characters of letters, digits, `.` and `_`.
    pub(crate) fn version_id(&mut self) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._";
        self.bytes(32)
            .iter()
            .map(|b| char::from(ALPHABET[usize::from(b & 63)]))
            .collect()
    }
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// Standard base64 with padding.
pub(crate) fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected, "{input:?}");
        }
    }

    #[test]
    fn identifiers_repeat_for_a_nonce_and_differ_between_draws() {
        let (mut a, mut b) = (Ids::new(b"n"), Ids::new(b"n"));
        assert_eq!(a.uuid(), b.uuid());
        let uuid = a.uuid();
        assert_ne!(uuid, b.hex_upper(16));
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4");
        assert_eq!(a.hex_upper(16).len(), 16);
        assert_eq!(a.hex_upper(5).len(), 5);
        assert_eq!(a.version_id().len(), 32);
    }
}
