//! The streaming CSV to JSON Lines conversion, free of any host call.

use std::collections::HashSet;
use std::io::{self, Read, Write};

use s3plug_guest::{Error, bail};

/// Converts CSV read from `input` into JSON Lines written to `output`, one row at a time,
/// and returns the number of rows.
///
/// The header row gives the field names; each following row becomes one JSON object with
/// the fields in column order and every value a string. Memory holds one row, whatever the
/// size of the input. The error of a malformed row names its line.
pub fn csv_to_jsonl(input: impl Read, output: &mut impl Write) -> Result<u64, Error> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(input);
    let keys = json_keys(reader.headers()?)?;
    let mut row = csv::StringRecord::new();
    let mut rows = 0;
    while reader.read_record(&mut row)? {
        write_object(&keys, &row, output)?;
        rows += 1;
    }
    Ok(rows)
}

/// The field names, each encoded once as a JSON string. Duplicates are an error: a JSON
/// object with two equal keys loses one value in most readers.
fn json_keys(headers: &csv::StringRecord) -> Result<Vec<String>, Error> {
    let mut seen = HashSet::new();
    let mut keys = Vec::with_capacity(headers.len());
    for name in headers {
        if !seen.insert(name) {
            let line = headers.position().map_or(1, csv::Position::line);
            bail!("line {line}: the column name {name:?} appears more than once");
        }
        keys.push(serde_json::to_string(name)?);
    }
    Ok(keys)
}

/// Writes one row as a JSON object on a line of its own.
fn write_object(
    keys: &[String],
    row: &csv::StringRecord,
    output: &mut impl Write,
) -> io::Result<()> {
    output.write_all(b"{")?;
    for (index, (key, value)) in keys.iter().zip(row).enumerate() {
        if index > 0 {
            output.write_all(b",")?;
        }
        output.write_all(key.as_bytes())?;
        output.write_all(b":")?;
        serde_json::to_writer(&mut *output, value)?;
    }
    output.write_all(b"}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(csv: &str) -> Result<(u64, String), Error> {
        let mut output = Vec::new();
        let rows = csv_to_jsonl(csv.as_bytes(), &mut output)?;
        Ok((
            rows,
            String::from_utf8(output).expect("JSON Lines are UTF-8"),
        ))
    }

    #[test]
    fn rows_become_objects_of_strings_in_column_order() {
        let (rows, jsonl) =
            convert("name,age,note\nAda,36,\"says \"\"hi\"\"\"\nBob,7,\n").expect("valid CSV");
        assert_eq!(rows, 2);
        assert_eq!(
            jsonl,
            "{\"name\":\"Ada\",\"age\":\"36\",\"note\":\"says \\\"hi\\\"\"}\n\
             {\"name\":\"Bob\",\"age\":\"7\",\"note\":\"\"}\n"
        );
    }

    #[test]
    fn a_header_alone_makes_no_rows() {
        assert_eq!(
            convert("a,b\n").expect("a header alone is valid"),
            (0, String::new())
        );
        assert_eq!(convert("").expect("nothing is valid"), (0, String::new()));
    }

    #[test]
    fn a_short_row_is_an_error_naming_its_line() {
        let error = convert("a,b\n1,2\n3\n")
            .expect_err("a short row is invalid")
            .to_string();
        assert!(error.contains("line: 3"), "{error}");
    }

    #[test]
    fn a_duplicate_column_is_an_error() {
        let error = convert("a,b,a\n1,2,3\n")
            .expect_err("a repeated column is invalid")
            .to_string();
        assert_eq!(
            error,
            "line 1: the column name \"a\" appears more than once"
        );
    }
}
