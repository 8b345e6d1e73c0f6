//! Modes that call the `objects` interface, inside and outside the plugin's grants.

use std::io::{Read, Write};

use s3plug_guest::{Error, Outcome, PutOptions, Record, objects};

use crate::Output;

/// The chunk size of the `stream` mode.
const STREAM_CHUNK_BYTES: usize = 64 * 1024;

/// How many objects the `many-writes` mode writes.
const MANY_WRITES: usize = 100;

/// `ok`: a whole-object read and a single `put`.
pub fn copy_with_put(record: &Record, output: &Output) -> Result<Outcome, Error> {
    let body = objects::read_all(&record.bucket, &record.key)?;
    let options = PutOptions::new().metadata("source", format!("{}/{}", record.bucket, record.key));
    objects::put(&output.bucket, &output.key(&record.key), &body, &options)?;
    Ok(Outcome::processed(format!("copied {} bytes", body.len())))
}

/// `server-copy`: a copy made by the store, to `out_prefix` + key.
pub fn server_copy(record: &Record, output: &Output) -> Result<Outcome, Error> {
    let info = objects::copy(
        &record.bucket,
        &record.key,
        &output.bucket,
        &output.key(&record.key),
    )?;
    Ok(Outcome::processed(format!("copied {} bytes", info.size)))
}

/// `stream`: a reader and a writer, 64 KiB at a time.
pub fn copy_with_stream(record: &Record, output: &Output) -> Result<Outcome, Error> {
    let mut reader = objects::get(&record.bucket, &record.key)?;
    let mut writer = objects::create(&output.bucket, &output.key(&record.key), &PutOptions::new())?;
    let mut chunk = vec![0; STREAM_CHUNK_BYTES];
    let mut total = 0_u64;
    loop {
        let n = reader.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        writer.write_all(&chunk[..n])?;
        total += n as u64;
    }
    writer.finish()?;
    Ok(Outcome::processed(format!("streamed {total} bytes")))
}

/// `range`: bytes 2 to 5 of the triggering object.
pub fn read_range(record: &Record) -> Result<Outcome, Error> {
    let mut bytes = Vec::new();
    objects::get_range(&record.bucket, &record.key, 2, 5)?.read_to_end(&mut bytes)?;
    Ok(Outcome::processed(String::from_utf8_lossy(&bytes)))
}

/// `head`: the size and content type of the triggering object.
pub fn head(record: &Record) -> Result<Outcome, Error> {
    let info = objects::head(&record.bucket, &record.key)?;
    let content_type = info.content_type.as_deref().unwrap_or("-");
    Ok(Outcome::processed(format!("{}|{content_type}", info.size)))
}

/// `source`: the `source` metadata of the triggering object, as the plugin reads it.
pub fn source(record: &Record) -> Result<Outcome, Error> {
    let info = objects::head(&record.bucket, &record.key)?;
    let source = info
        .metadata
        .iter()
        .find(|(name, _)| name == "source")
        .map_or("-", |(_, value)| value.as_str());
    Ok(Outcome::processed(source))
}

/// `read-outside`: a read that no grant allows.
pub fn read_outside() -> Result<Outcome, Error> {
    let body = objects::read_all("forbidden-bucket", "secret.txt")?;
    Ok(Outcome::processed(format!("read {} bytes", body.len())))
}

/// `write-outside`: a write that no grant allows.
pub fn write_outside() -> Result<Outcome, Error> {
    objects::put("forbidden-bucket", "x.txt", b"x", &PutOptions::new())?;
    Ok(Outcome::processed("wrote 1 byte"))
}

/// `list-outside`: a listing of the record's whole bucket.
pub fn list_bucket(record: &Record) -> Result<Outcome, Error> {
    let mut count = 0_u64;
    for object in objects::list(&record.bucket, "") {
        object?;
        count += 1;
    }
    Ok(Outcome::processed(format!("listed {count}")))
}

/// `delete-trigger`: deletes the object that triggered the plugin.
pub fn delete_trigger(record: &Record) -> Result<Outcome, Error> {
    objects::delete(&record.bucket, &record.key)?;
    Ok(Outcome::processed("deleted"))
}

/// `many-writes`: more small objects than a write limit may allow.
pub fn many_writes(record: &Record, output: &Output) -> Result<Outcome, Error> {
    let base = output.key(&record.key);
    for i in 0..MANY_WRITES {
        objects::put(
            &output.bucket,
            &format!("{base}/{i}"),
            b"x",
            &PutOptions::new(),
        )?;
    }
    Ok(Outcome::processed(format!("wrote {MANY_WRITES}")))
}

/// `self-write`: writes next to the triggering object, where the plugin's own trigger
/// usually matches.
pub fn write_onto_own_trigger(record: &Record) -> Result<Outcome, Error> {
    let key = format!("{}.again", record.key);
    objects::put(&record.bucket, &key, b"again", &PutOptions::new())?;
    Ok(Outcome::processed(format!("wrote {key}")))
}

/// How much the `write-bytes` mode writes.
const WRITE_BYTES: usize = 64 << 20;

/// `write-bytes`: streams 64 MiB of zeros.
pub fn write_bytes(record: &Record, output: &Output) -> Result<Outcome, Error> {
    let mut writer = objects::create(&output.bucket, &output.key(&record.key), &PutOptions::new())?;
    let chunk = vec![0; STREAM_CHUNK_BYTES];
    let mut total = 0;
    while total < WRITE_BYTES {
        writer.write_all(&chunk)?;
        total += chunk.len();
    }
    writer.finish()?;
    Ok(Outcome::processed(format!("wrote {total} bytes")))
}

/// `dotdot`: a key with a `..` segment.
pub fn write_dotdot(output: &Output) -> Result<Outcome, Error> {
    objects::put(
        &output.bucket,
        &output.key("../escape.txt"),
        b"x",
        &PutOptions::new(),
    )?;
    Ok(Outcome::processed("wrote it"))
}

/// `forge`: a copy that claims to be at depth 0.
pub fn forge_lineage(record: &Record, output: &Output) -> Result<Outcome, Error> {
    let body = objects::read_all(&record.bucket, &record.key)?;
    let options = PutOptions::new()
        .metadata("s3plug-depth", "0")
        .metadata("S3plug-Origin", "nobody");
    objects::put(&output.bucket, &output.key(&record.key), &body, &options)?;
    Ok(Outcome::processed(format!("copied {} bytes", body.len())))
}
