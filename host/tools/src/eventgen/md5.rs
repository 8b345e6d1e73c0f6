//! MD5, for the `md5OfBody` of generated SQS messages: SQS sends the digest of the body,
//! and a consumer may check it. Not for anything that needs a secure hash.

use md5::{Digest, Md5};

/// The MD5 digest of `data`, as lower-case hex.
pub(crate) fn md5_hex(data: &[u8]) -> String {
    super::ids::hex(&Md5::digest(data))
}

#[cfg(test)]
mod tests {
    use super::md5_hex;

    #[test]
    fn matches_rfc_1321_vectors() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            md5_hex(b"message digest"),
            "f96b697d7cb7938d525a2f31aaf161d0"
        );
    }
}
