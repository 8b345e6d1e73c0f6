//! User metadata values as S3 defines them: HTTP header values are ASCII, so S3 expects a
//! value with other characters RFC 2047-encoded (`=?UTF-8?B?...?=`) and returns it so.
//!
//! The host encodes what a plugin writes and decodes what it reads, the same for every
//! store, so that a plugin reads back exactly what it wrote and a value that S3 would refuse
//! (or sign wrongly) never reaches it. A value that already looks like an encoded word is
//! encoded too, so that it also comes back as written.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The most bytes of UTF-8 one encoded word carries: `=?UTF-8?B?` + 60 base64 characters +
/// `?=` is 72, within RFC 2047's 75.
const WORD_BYTES: usize = 45;

/// The value as a header carries it: as it is when it is printable ASCII, else as RFC 2047
/// encoded words (base64 of UTF-8, split on character boundaries, joined by spaces).
pub(crate) fn encode(value: &str) -> String {
    let plain = value.bytes().all(|b| (0x20..0x7f).contains(&b)) && !value.contains("=?");
    if plain {
        return value.to_owned();
    }
    let mut words = Vec::new();
    let mut rest = value;
    while !rest.is_empty() {
        let mut end = rest.len().min(WORD_BYTES);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (word, tail) = rest.split_at(end);
        words.push(format!("=?UTF-8?B?{}?=", STANDARD.encode(word)));
        rest = tail;
    }
    words.join(" ")
}

/// The value a header carries, decoded: encoded words (B or Q, any length) become their
/// text; anything else, or a value that does not decode, is kept as it is.
pub(crate) fn decode(value: &str) -> String {
    if !value.contains("=?") {
        return value.to_owned();
    }
    rfc2047_decoder::Decoder::new()
        .too_long_encoded_word_strategy(rfc2047_decoder::RecoverStrategy::Decode)
        .decode(value.as_bytes())
        .unwrap_or_else(|_| value.to_owned())
}

/// Encodes every value of a write's metadata.
pub(crate) fn encode_all(metadata: &[(String, String)]) -> Vec<(String, String)> {
    metadata
        .iter()
        .map(|(name, value)| (name.clone(), encode(value)))
        .collect()
}

/// Decodes every value of an object's metadata.
pub(crate) fn decode_all(metadata: Vec<(String, String)>) -> Vec<(String, String)> {
    metadata
        .into_iter()
        .map(|(name, value)| (name, decode(&value)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_ascii_stays_as_it_is() {
        for value in [
            "",
            "plain ascii, with spaces",
            "in/Zürich café 東京.jpg",
            "tab\there",
            "=?UTF-8?B?aGk=?= looks encoded",
            &"ü".repeat(200),
            "😀 emoji and \u{7f}",
        ] {
            let encoded = encode(value);
            assert!(
                encoded.bytes().all(|b| (0x20..0x7f).contains(&b)),
                "{encoded:?} is not printable ASCII"
            );
            assert!(
                encoded
                    .split(' ')
                    .all(|word| word.len() <= 75 || !word.starts_with("=?")),
                "an encoded word past 75 characters: {encoded}"
            );
            assert_eq!(decode(&encoded), value, "{encoded}");
        }
        assert_eq!(encode("photos/a.jpg"), "photos/a.jpg");
    }

    #[test]
    fn what_s3_and_other_clients_send_is_decoded() {
        // S3's own form of a non-ASCII value, and the Q encoding another client may use.
        assert_eq!(decode("=?UTF-8?B?WsO8cmljaA==?="), "Zürich");
        assert_eq!(decode("=?UTF-8?Q?caf=C3=A9?="), "café");
        assert_eq!(decode("not =? encoded"), "not =? encoded");
    }
}
