//! Modes the benchmarks run (`tests/benches/`): each has a native twin in the bench that
//! does the same work, so the figures compare the sandbox with plain Rust.

use std::io::{Read, Write};

use s3plug_guest::{Error, Outcome, PutOptions, Record, objects};

use crate::Output;

/// The chunk size of the `upper` mode: the SDK's reader and writer move 256 KiB per host
/// call, so one chunk is one call each way.
const UPPER_CHUNK_BYTES: usize = 256 * 1024;

/// `noop`: nothing at all, to measure what the host adds to a record.
pub fn noop() -> Outcome {
    Outcome::done()
}

/// `upper`: streams the object through a reader and a writer, ASCII-uppercasing each
/// chunk, in bounded memory whatever the object's size.
pub fn upper(record: &Record, output: &Output) -> Result<Outcome, Error> {
    let mut reader = objects::get(&record.bucket, &record.key)?;
    let mut writer = objects::create(&output.bucket, &output.key(&record.key), &PutOptions::new())?;
    let mut chunk = vec![0; UPPER_CHUNK_BYTES];
    let mut total = 0_u64;
    loop {
        let n = reader.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        chunk[..n].make_ascii_uppercase();
        writer.write_all(&chunk[..n])?;
        total += n as u64;
    }
    writer.finish()?;
    Ok(Outcome::processed(format!("uppercased {total} bytes")))
}
