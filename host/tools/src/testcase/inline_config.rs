//! The `[host]` and `[[plugin]]` tables of a test file, for the config parser: every other
//! line is blanked rather than removed, so that the parser's errors name the test file's
//! own lines and columns.

/// The test file's text with only its `[host]` and `[plugin...]` tables left.
pub(crate) fn config_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut scanner = Scanner::default();
    let mut keep = false;
    for line in text.split_inclusive('\n') {
        if scanner.at_top_level()
            && let Some(table) = header_table(line)
        {
            keep = table == "plugin" || table == "host";
        }
        scanner.scan(line);
        if keep {
            out.push_str(line);
        } else if line.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// The first key of a table header line (`[[plugin]]` → `plugin`, `[case.log]` → `case`).
fn header_table(line: &str) -> Option<&str> {
    let inner = line.trim_start().strip_prefix('[')?;
    let inner = inner.strip_prefix('[').unwrap_or(inner);
    let name = inner.split([']', '.']).next()?.trim();
    Some(name.trim_matches(|c| c == '"' || c == '\''))
}

/// Where a line ends up: inside an array or inline table, or a multi-line string, a line
/// that starts with `[` is not a table header.
#[derive(Debug, Default)]
struct Scanner {
    /// Open `[` and `{` outside strings and comments.
    depth: usize,
    /// The delimiter of the multi-line string that is open.
    multiline: Option<&'static [u8]>,
}

const BASIC_MULTILINE: &[u8] = b"\"\"\"";
const LITERAL_MULTILINE: &[u8] = b"'''";

impl Scanner {
    fn at_top_level(&self) -> bool {
        self.depth == 0 && self.multiline.is_none()
    }

    fn scan(&mut self, line: &str) {
        let bytes = line.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if let Some(delimiter) = self.multiline {
                if delimiter == BASIC_MULTILINE && bytes[i] == b'\\' {
                    i += 2;
                } else if bytes[i..].starts_with(delimiter) {
                    self.multiline = None;
                    i += delimiter.len();
                    // Up to two quotes may end the string's content right before it.
                    while bytes.get(i) == Some(&delimiter[0]) {
                        i += 1;
                    }
                } else {
                    i += 1;
                }
                continue;
            }
            match bytes[i] {
                b'#' => return,
                quote @ (b'"' | b'\'') => {
                    let triple = if quote == b'"' {
                        BASIC_MULTILINE
                    } else {
                        LITERAL_MULTILINE
                    };
                    if bytes[i..].starts_with(triple) {
                        self.multiline = Some(triple);
                        i += triple.len();
                        continue;
                    }
                    i += 1;
                    while i < bytes.len() && bytes[i] != quote && bytes[i] != b'\n' {
                        i += if quote == b'"' && bytes[i] == b'\\' {
                            2
                        } else {
                            1
                        };
                    }
                    i += 1;
                }
                b'[' | b'{' => {
                    self.depth += 1;
                    i += 1;
                }
                b']' | b'}' => {
                    self.depth = self.depth.saturating_sub(1);
                    i += 1;
                }
                _ => i += 1,
            }
        }
    }
}
