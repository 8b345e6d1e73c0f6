//! Modes that attack the host's safety contract: waits the host cannot see into, handles
//! held open, output too large to copy or log, and loops through deletes. Each returns what
//! it saw, so that a test can tell the host's answer from the plugin's.

use std::hint::black_box;
use std::time::{Duration, Instant};

use s3plug_guest::{Error, ObjectError, Outcome, PutOptions, Record, config, log, objects};

use crate::Output;

/// How long the `sleep` mode sleeps: far past any time limit of the tests.
const SLEEP: Duration = Duration::from_secs(30);

/// The most readers the `hold-readers` mode opens.
const MAX_HELD_READERS: usize = 2000;

/// How many denied calls the `deny-long-names` mode makes, and the length of the name each
/// one carries.
const DENIED_CALLS: usize = 200;
const LONG_NAME_BYTES: usize = 1 << 20;

/// The size of the message of `huge-message` and of the error of `huge-error`, in MiB,
/// when the key does not give one.
const HUGE_TEXT_MIB: usize = 100;

/// The body of the `put-huge` mode.
const HUGE_PUT_BYTES: usize = 200 << 20;

/// `sleep`: one WASI sleep of 30 s, in which no guest code runs.
pub fn sleep() -> Outcome {
    std::thread::sleep(SLEEP);
    Outcome::processed(format!("slept {} s", SLEEP.as_secs()))
}

/// `nap`: sleeps N ms (the key's second segment, `nap/300/x`), then succeeds: a slow but
/// well-behaved plugin.
pub fn nap(record: &Record) -> Outcome {
    let ms: u64 = record
        .key
        .split('/')
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(100);
    std::thread::sleep(Duration::from_millis(ms));
    Outcome::processed(format!("napped {ms} ms"))
}

/// `busy-poll`: sleeps 1 ms and reads the clock, forever: each sleep returns to guest code.
pub fn busy_poll() -> ! {
    let started = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(1));
        black_box(started.elapsed());
    }
}

/// `hold-readers`: opens readers on the triggering object without dropping any, until a call
/// fails or 2000 are open; then keeps them `hold_ms` (default 0) longer, so that records
/// running beside it meet whatever they hold.
pub fn hold_readers(record: &Record) -> Result<Outcome, Error> {
    let mut readers = Vec::new();
    let mut failure = None;
    while readers.len() < MAX_HELD_READERS {
        match objects::get(&record.bucket, &record.key) {
            Ok(reader) => readers.push(reader),
            Err(err) => {
                failure = Some(err);
                break;
            }
        }
    }
    let hold_ms = config::get("hold_ms").and_then(|ms| ms.parse().ok());
    std::thread::sleep(Duration::from_millis(hold_ms.unwrap_or(0)));
    let held = readers.len();
    drop(readers);
    match failure {
        Some(err) => {
            Err(Error::from(err).context(format!("opening reader {} with {held} open", held + 1)))
        }
        None => Ok(Outcome::processed(format!("held {held} readers"))),
    }
}

/// `deny-long-names`: 200 listings of `forbidden-bucket` under a 1 MiB prefix, each denied
/// (a listing takes no key check, so the long name reaches the denial and its log line).
pub fn deny_long_names() -> Outcome {
    let prefix = "p".repeat(LONG_NAME_BYTES);
    let mut denied = 0;
    let mut other = Vec::new();
    for _ in 0..DENIED_CALLS {
        match objects::list_page("forbidden-bucket", &prefix, None, 1) {
            Err(ObjectError::Denied(_)) => denied += 1,
            Err(err) => other.push(short(&err.to_string())),
            Ok(_) => other.push("listed".to_owned()),
        }
    }
    Outcome::processed(format!(
        "{denied} of {DENIED_CALLS} calls denied; other answers: {other:?}"
    ))
}

/// The size the key gives as its second segment, in MiB (`huge-message/20/x`), else 100.
fn huge_text_bytes(record: &Record) -> usize {
    let mib = record
        .key
        .split('/')
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(HUGE_TEXT_MIB);
    mib << 20
}

/// `huge-message`: a processed outcome whose message is N MiB (100 by default).
pub fn huge_message(record: &Record) -> Outcome {
    Outcome::processed("m".repeat(huge_text_bytes(record)))
}

/// `huge-error`: an error whose text is N MiB (100 by default).
pub fn huge_error(record: &Record) -> Error {
    Error::msg("e".repeat(huge_text_bytes(record)))
}

/// `big-metadata`: `put`s a 1-byte object at `out_prefix` + key with user metadata of N
/// bytes, name and value together, N the key's second segment (`big-metadata/3072/x`).
pub fn big_metadata(record: &Record, output: &Output) -> Result<Outcome, Error> {
    let size: usize = record
        .key
        .split('/')
        .nth(1)
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| Error::msg("the key's second segment is not a size"))?;
    let name = "pad";
    let value = "v".repeat(size.saturating_sub(name.len()));
    let options = PutOptions::new().metadata(name, value);
    let put = objects::put(&output.bucket, &output.key(&record.key), b"x", &options);
    Ok(Outcome::processed(put_answer(&put)))
}

/// `put-huge`: one `put` of 200 MiB of zeros to `out_prefix` + key.
pub fn put_huge(record: &Record, output: &Output) -> Outcome {
    let body = vec![0_u8; HUGE_PUT_BYTES];
    let put = objects::put(
        &output.bucket,
        &output.key(&record.key),
        black_box(&body),
        &PutOptions::new(),
    );
    Outcome::processed(put_answer(&put))
}

/// `put-huge-raw`: the same `put`, through the WIT import itself, as a plugin built from
/// `wit/` without the SDK (which refuses the body before calling) would make it.
pub fn put_huge_raw(record: &Record, output: &Output) -> Outcome {
    use s3plug_guest::wit::s3plug::plugin::{objects as raw, types};
    let body = vec![0_u8; HUGE_PUT_BYTES];
    let options = types::PutOptions {
        content_type: None,
        metadata: Vec::new(),
    };
    let put = raw::put(
        &output.bucket,
        &output.key(&record.key),
        black_box(&body),
        &options,
    );
    Outcome::processed(match put {
        Ok(_) => "put: stored".to_owned(),
        Err(err) => format!("put: error: {}", short(&format!("{err:?}"))),
    })
}

/// `log-inject`: one log line that holds a line break, a forged host line and a terminal
/// escape sequence.
pub fn log_inject() -> Outcome {
    log::info!(
        "plugin line\n2026-01-01T00:00:00.000000Z  INFO forged host line \x1b[31mred\x1b[0m"
    );
    Outcome::processed("logged")
}

/// `ping-pong`: re-creates what it deletes. On `ObjectCreated` it deletes the target, on
/// `ObjectRemoved` it `put`s it again; the target is `peer_prefix` + the key after its first
/// segment, or the triggering key itself without `peer_prefix`.
pub fn ping_pong(record: &Record) -> Result<Outcome, Error> {
    let target = match config::get("peer_prefix") {
        Some(prefix) => {
            let rest = record.key.split_once('/').map_or("", |(_, rest)| rest);
            format!("{prefix}{rest}")
        }
        None => record.key.clone(),
    };
    let object = format!("{}/{target}", record.bucket);
    if record.event_name.starts_with("ObjectRemoved:") {
        objects::put(&record.bucket, &target, b"pong", &PutOptions::new())?;
        Ok(Outcome::processed(format!("put {object}")))
    } else {
        objects::delete(&record.bucket, &target)?;
        Ok(Outcome::processed(format!("deleted {object}")))
    }
}

/// How a `put` ended, in a word a test can match: `stored`, `too-large`, or `error: ...`.
fn put_answer(put: &Result<objects::ObjectInfo, ObjectError>) -> String {
    match put {
        Ok(_) => "put: stored".to_owned(),
        Err(ObjectError::TooLarge) => "put: too-large".to_owned(),
        Err(err) => format!("put: error: {}", short(&err.to_string())),
    }
}

/// At most the first 200 bytes of a text, so that an answer never carries a long name back.
fn short(text: &str) -> String {
    match text.char_indices().nth(200) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}
