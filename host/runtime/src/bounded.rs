//! Bounds on what a plugin makes the host print or store.
//!
//! Everything a guest chooses (a bucket or key it asks for, the text it returns, a line it
//! logs, the metadata it writes) is bounded here before the host copies it into a log line,
//! a report or a store request:
//!
//! - a name quoted in a host line: [`name`], at most [`NAME_QUOTED_BYTES`] of it, escaped;
//! - a message or error text: [`cut`] / `Cut`, at most [`MAX_MESSAGE_BYTES`];
//! - a plugin log line: cut at [`MAX_LOG_LINE_BYTES`], and [`Escaped`] in the text log;
//! - user metadata: `check_metadata`, S3's [`MAX_METADATA_BYTES`], names HTTP tokens;
//! - a content type: `check_content_type`, at most [`MAX_CONTENT_TYPE_BYTES`].

use std::fmt::{self, Write as _};

/// The most of a guest-chosen name (bucket, key, prefix) quoted in a host log line or
/// denial text, in bytes of the name; a longer name is cut there and its length given.
pub const NAME_QUOTED_BYTES: usize = 256;

/// The longest outcome `message` or `error` text, and Lambda error body, in bytes, the cut
/// marker included.
pub const MAX_MESSAGE_BYTES: usize = 4096;

/// The longest plugin log line kept, in bytes, the cut marker included.
pub const MAX_LOG_LINE_BYTES: usize = 4096;

/// S3's limit on the user metadata of one object: "Within the PUT request header, the
/// user-defined metadata is limited to 2 KB in size. The size of user-defined metadata is
/// measured by taking the sum of the number of bytes in the UTF-8 encoding of each key and
/// value." (Amazon S3 User Guide, "Working with object metadata", user-defined object
/// metadata). Keys are the names without the `x-amz-meta-` prefix.
pub const MAX_METADATA_BYTES: u64 = 2048;

/// The longest `Content-Type` a plugin may store; S3 documents the same bound for the
/// content type of an object's metadata (`S3ObjectMetadata.ContentType`: 1 to 1024).
pub const MAX_CONTENT_TYPE_BYTES: usize = 1024;

/// Whether a character is written escaped in host lines: control characters (C0, DEL, C1:
/// newlines and ESC among them) and the characters that break or reorder a line as shown
/// (line and paragraph separators, bidirectional overrides and isolates).
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// A [`fmt::Write`] that escapes what it is given on the way: `\n`, `\r`, `\t`, and every
/// other character of `needs_escape` as `\u{1b}`. A backslash is written as it is.
#[derive(Debug)]
pub struct EscapeWriter<W>(pub W);

impl<W: fmt::Write> fmt::Write for EscapeWriter<W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut plain = 0;
        for (at, c) in s.char_indices() {
            if !needs_escape(c) {
                continue;
            }
            self.0.write_str(&s[plain..at])?;
            match c {
                '\n' => self.0.write_str("\\n")?,
                '\r' => self.0.write_str("\\r")?,
                '\t' => self.0.write_str("\\t")?,
                c => write!(self.0, "\\u{{{:x}}}", u32::from(c))?,
            }
            plain = at + c.len_utf8();
        }
        self.0.write_str(&s[plain..])
    }
}

/// A text shown with [`EscapeWriter`]'s escapes: always one line, no terminal sequences.
#[derive(Debug, Clone, Copy)]
pub struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        EscapeWriter(f).write_str(self.0)
    }
}

/// A guest-chosen name as quoted in host lines: see [`name`].
#[derive(Debug, Clone, Copy)]
pub struct Name<'a>(pub &'a str);

/// A guest-chosen name (bucket, key, prefix) for a host log line or denial text: at most
/// its first [`NAME_QUOTED_BYTES`] bytes (cut on a character boundary), escaped, and when
/// cut, its length: `photos/aaaa… (1048583 bytes)`. Formatting copies nothing else.
pub fn name(name: &str) -> Name<'_> {
    Name(name)
}

impl fmt::Display for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.0;
        if name.len() <= NAME_QUOTED_BYTES {
            return Escaped(name).fmt(f);
        }
        let kept = &name[..name.floor_char_boundary(NAME_QUOTED_BYTES)];
        write!(f, "{}… ({} bytes)", Escaped(kept), name.len())
    }
}

/// The marker that ends a cut text: `…[cut: 104857600 bytes in all]`.
fn marker(len: usize) -> String {
    format!("…[cut: {len} bytes in all]")
}

/// Where a text longer than `max` bytes is cut, and the marker after it; `None` when it
/// fits. The kept start and the marker together take at most `max` bytes (`max` leaves
/// room for a marker: at least 64).
fn cut_point(text: &str, max: usize) -> Option<(usize, String)> {
    if text.len() <= max {
        return None;
    }
    let marker = marker(text.len());
    let kept = text.floor_char_boundary(max.saturating_sub(marker.len()));
    Some((kept, marker))
}

/// `text` if it is at most `max` bytes; else its start, cut on a character boundary, and a
/// marker with its length, `…[cut: 104857600 bytes in all]`, at most `max` bytes in all.
/// A cut text gives back its spare memory.
pub fn cut(mut text: String, max: usize) -> String {
    if let Some((kept, marker)) = cut_point(&text, max) {
        text.truncate(kept);
        text.push_str(&marker);
        text.shrink_to_fit();
    }
    text
}

/// [`cut`] of a borrowed text, copying nothing: for `Display` and serialisers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cut<'a> {
    pub text: &'a str,
    pub max: usize,
}

impl fmt::Display for Cut<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match cut_point(self.text, self.max) {
            None => f.write_str(self.text),
            Some((kept, marker)) => {
                f.write_str(&self.text[..kept])?;
                f.write_str(&marker)
            }
        }
    }
}

/// Why the metadata or content type of a write is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum MetadataError {
    /// More user metadata than S3 stores.
    #[error(
        "the user metadata is {bytes} bytes (names and values, s3plug's own included), \
         more than S3's {MAX_METADATA_BYTES}"
    )]
    TooLarge { bytes: u64 },
    /// A name that cannot be an HTTP header name.
    #[error(
        "metadata name \"{name}\" is not an HTTP header token (letters, digits and \
         !#$%&'*+-.^_`|~)"
    )]
    BadName {
        /// The name, quoted with [`name`].
        name: String,
    },
    /// A value with a character no header value can carry.
    #[error("the value of metadata {name:?} has a control character")]
    BadValue {
        /// The name, quoted with [`name`].
        name: String,
    },
    /// A content type longer than S3 takes.
    #[error("the content type is {bytes} bytes, more than {MAX_CONTENT_TYPE_BYTES}")]
    LongContentType { bytes: usize },
    /// A content type with a character no header value can carry.
    #[error("content type \"{content_type}\" has a control character")]
    BadContentType {
        /// The content type, quoted with [`name`].
        content_type: String,
    },
}

/// The size of user metadata as S3 counts it: the UTF-8 bytes of every name and value.
/// This is what a write adds to the bytes it counts against `max_write_bytes`.
pub(crate) fn metadata_bytes(metadata: &[(String, String)]) -> u64 {
    metadata
        .iter()
        .map(|(name, value)| (name.len() + value.len()) as u64)
        .fold(0, u64::saturating_add)
}

/// Whether `c` may appear in an HTTP header name: RFC 9110 `tchar`.
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// Checks the user metadata of a write, as it will be stored (with s3plug's own entries):
/// at most [`MAX_METADATA_BYTES`] as S3 counts them, every name a non-empty HTTP token,
/// no value with a control character (S3 does not return unprintable metadata). Returns
/// [`metadata_bytes`]. The size is checked first, so a huge value is never scanned.
pub(crate) fn check_metadata(metadata: &[(String, String)]) -> Result<u64, MetadataError> {
    let bytes = metadata_bytes(metadata);
    if bytes > MAX_METADATA_BYTES {
        return Err(MetadataError::TooLarge { bytes });
    }
    for (key, value) in metadata {
        if key.is_empty() || !key.chars().all(is_tchar) {
            return Err(MetadataError::BadName {
                name: name(key).to_string(),
            });
        }
        if value.chars().any(char::is_control) {
            return Err(MetadataError::BadValue {
                name: name(key).to_string(),
            });
        }
    }
    Ok(bytes)
}

/// Checks the content type of a write: at most [`MAX_CONTENT_TYPE_BYTES`], no control
/// character (a header value cannot carry one).
pub(crate) fn check_content_type(content_type: &str) -> Result<(), MetadataError> {
    if content_type.len() > MAX_CONTENT_TYPE_BYTES {
        return Err(MetadataError::LongContentType {
            bytes: content_type.len(),
        });
    }
    if content_type.chars().any(char::is_control) {
        return Err(MetadataError::BadContentType {
            content_type: name(content_type).to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_short_name_is_quoted_whole_and_a_long_one_cut_with_its_length() {
        assert_eq!(name("photos/a.jpg").to_string(), "photos/a.jpg");
        let exact = "k".repeat(NAME_QUOTED_BYTES);
        assert_eq!(name(&exact).to_string(), exact);

        let long = format!("photos/{}", "a".repeat(1 << 20));
        let quoted = name(&long).to_string();
        let expected = format!("photos/{}… (1048583 bytes)", "a".repeat(249));
        assert_eq!(quoted, expected);
    }

    #[test]
    fn a_name_is_cut_on_a_character_boundary_and_escaped() {
        // 255 bytes, then a 4-byte character across the bound.
        let long = format!("{}🦀{}", "a".repeat(255), "b".repeat(300));
        let quoted = name(&long).to_string();
        assert_eq!(quoted, format!("{}… (559 bytes)", "a".repeat(255)));

        assert_eq!(name("in/x\ny\u{1b}[31m").to_string(), "in/x\\ny\\u{1b}[31m");
    }

    #[test]
    fn escaping_leaves_ordinary_text_and_escapes_line_breaks_and_terminal_codes() {
        let plain = r"résumé: C:\tmp 100% done 🦀";
        assert_eq!(Escaped(plain).to_string(), plain);
        let hostile = "ok\n2026-01-01T00:00:00Z INFO forged\r\t\u{1b}[31mred\u{7}\u{9b}\u{202e}";
        let escaped = Escaped(hostile).to_string();
        assert_eq!(
            escaped,
            "ok\\n2026-01-01T00:00:00Z INFO forged\\r\\t\\u{1b}[31mred\\u{7}\\u{9b}\\u{202e}"
        );
        assert!(!escaped.chars().any(needs_escape));
    }

    #[test]
    fn a_text_within_the_bound_is_kept_and_a_longer_one_cut_with_a_marker() {
        let fits = "x".repeat(MAX_MESSAGE_BYTES);
        assert_eq!(cut(fits.clone(), MAX_MESSAGE_BYTES), fits);

        let huge = "y".repeat(100 << 20);
        let cut_text = cut(huge.clone(), MAX_MESSAGE_BYTES);
        assert!(cut_text.len() <= MAX_MESSAGE_BYTES, "{}", cut_text.len());
        assert!(cut_text.ends_with("…[cut: 104857600 bytes in all]"));
        assert!(cut_text.starts_with("yyyy"));
        assert!(cut_text.capacity() < 2 * MAX_MESSAGE_BYTES);
        // The borrowed form writes the same text.
        let borrowed = Cut {
            text: &huge,
            max: MAX_MESSAGE_BYTES,
        };
        assert_eq!(borrowed.to_string(), cut_text);
        let short = Cut {
            text: "short",
            max: MAX_MESSAGE_BYTES,
        };
        assert_eq!(short.to_string(), "short");
    }

    #[test]
    fn a_cut_falls_on_a_character_boundary() {
        let text = "é".repeat(5000);
        for max in [64, 65, 100, 4096, 4097] {
            let cut_text = cut(text.clone(), max);
            assert!(cut_text.len() <= max, "{max}: {}", cut_text.len());
            assert!(cut_text.ends_with("…[cut: 10000 bytes in all]"), "{max}");
        }
    }

    #[test]
    fn metadata_within_s3s_limit_passes_and_counts_names_and_values() {
        let metadata = pairs(&[("source", "photos/a.jpg"), ("s3plug-depth", "1")]);
        assert_eq!(metadata_bytes(&metadata), 6 + 12 + 12 + 1);
        assert_eq!(check_metadata(&metadata), Ok(31));
        assert_eq!(check_metadata(&[]), Ok(0));
        // Exactly 2048 bytes, a multi-byte value counted in UTF-8 bytes.
        let value = "é".repeat((2048 - 4) / 2);
        let at_limit = pairs(&[("note", &value)]);
        assert_eq!(check_metadata(&at_limit), Ok(2048));
    }

    #[test]
    fn metadata_past_s3s_limit_is_refused_naming_its_size() {
        let value = "é".repeat(1023);
        let over = pairs(&[("note", &value)]);
        let err = check_metadata(&over).unwrap_err();
        assert_eq!(err, MetadataError::TooLarge { bytes: 2050 });
        assert_eq!(
            err.to_string(),
            "the user metadata is 2050 bytes (names and values, s3plug's own included), \
             more than S3's 2048"
        );
        // Many small entries count too.
        let many: Vec<_> = (0..500).map(|i| (format!("k{i:03}"), "v".into())).collect();
        assert_eq!(
            check_metadata(&many),
            Err(MetadataError::TooLarge { bytes: 500 * 5 })
        );
    }

    #[test]
    fn metadata_names_must_be_header_tokens_and_values_printable() {
        assert!(check_metadata(&pairs(&[("x_Y-1.2~!#$%&'*+^`|", "v")])).is_ok());
        for bad in ["", "a b", "a:b", "a\nb", "é", "a/b", "(a)"] {
            let err = check_metadata(&pairs(&[(bad, "v")])).unwrap_err();
            assert!(
                matches!(err, MetadataError::BadName { .. }),
                "{bad:?}: {err}"
            );
        }
        assert_eq!(
            check_metadata(&pairs(&[("a\nb", "v")]))
                .unwrap_err()
                .to_string(),
            "metadata name \"a\\nb\" is not an HTTP header token (letters, digits and \
             !#$%&'*+-.^_`|~)"
        );
        for bad in ["a\r\nx-amz-acl: public-read", "\u{1b}[31m", "\0"] {
            let err = check_metadata(&pairs(&[("note", bad)])).unwrap_err();
            assert_eq!(
                err,
                MetadataError::BadValue {
                    name: "note".into()
                }
            );
        }
        assert!(check_metadata(&pairs(&[("note", "café au lait")])).is_ok());
    }

    #[test]
    fn content_types_are_bounded_and_printable() {
        assert_eq!(check_content_type("image/jpeg; charset=binary"), Ok(()));
        assert_eq!(
            check_content_type(&"a".repeat(MAX_CONTENT_TYPE_BYTES)),
            Ok(())
        );
        let long = "a".repeat(MAX_CONTENT_TYPE_BYTES + 1);
        let err = check_content_type(&long).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the content type is 1025 bytes, more than 1024"
        );
        let err = check_content_type("text/plain\r\nx-amz-acl: public-read").unwrap_err();
        assert_eq!(
            err.to_string(),
            "content type \"text/plain\\r\\nx-amz-acl: public-read\" has a control character"
        );
    }
}
