//! The S3 store against a real S3-compatible server (moto, on 127.0.0.1, over HTTP with
//! the real SDK): the backend contract, the pipeline over S3, and the `s3plug` binary with
//! `--store s3`, up to a large object streamed through a plugin.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Instant;

use image::GenericImageView;
use s3plug_host::outcome::{FailureKind, RecordOutcome, Status};
use s3plug_host::store::{ByteRange, ObjectStore, PART_BYTES, PutOptions, S3Store, StoreError};
use s3plug_host::{Config, Pipeline, event};
use s3plug_tests::moto::MotoServer;
use s3plug_tests::{
    BlockingRead, COMPILE_CACHE, RawRecord, TESTGUEST, THUMBNAIL, block_on, compile_cache, engine,
    json_lines, outcome_of, repo_root, s3_event, s3plug_bin, stderr_text as stderr,
};
use serde_json::Value;

const MIB: usize = 1 << 20;

/// A moto server with buckets, and a store on it.
fn moto_with(buckets: &[&str]) -> (MotoServer, S3Store) {
    let moto = MotoServer::start();
    moto.create_buckets(buckets);
    let store = moto.store();
    (moto, store)
}

fn read_all(store: &dyn ObjectStore, bucket: &str, key: &str, range: Option<ByteRange>) -> Vec<u8> {
    let mut out = Vec::new();
    let object = block_on(store.get(bucket, key, range))
        .unwrap_or_else(|err| panic!("get {bucket}/{key}: {err}"));
    BlockingRead(object.body)
        .read_to_end(&mut out)
        .unwrap_or_else(|err| panic!("reading {bucket}/{key}: {err}"));
    out
}

fn keys_of(store: &dyn ObjectStore, bucket: &str, prefix: &str) -> Vec<String> {
    block_on(store.list(bucket, prefix, None, 1000))
        .unwrap_or_else(|err| panic!("list {bucket}/{prefix}: {err}"))
        .objects
        .into_iter()
        .map(|o| o.key)
        .collect()
}

/// Deterministic bytes (xorshift64*), so that large objects are made and checked a chunk at
/// a time, never held whole. The same seed and the same chunk sizes give the same bytes.
struct Pattern(u64);

impl Pattern {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn fill(&mut self, buf: &mut [u8]) {
        for word in buf.chunks_mut(8) {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            let bytes = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
            word.copy_from_slice(&bytes[..word.len()]);
        }
    }
}

/// Writes `len` pattern bytes through a streaming writer, 1 MiB at a time.
fn write_pattern(
    store: &dyn ObjectStore,
    bucket: &str,
    key: &str,
    seed: u64,
    len: usize,
) -> s3plug_host::store::ObjectInfo {
    let mut writer = block_on(store.create(bucket, key, &PutOptions::default()))
        .unwrap_or_else(|err| panic!("create {bucket}/{key}: {err}"));
    let mut pattern = Pattern::new(seed);
    let mut chunk = vec![0; MIB];
    let mut left = len;
    while left > 0 {
        let n = left.min(MIB);
        pattern.fill(&mut chunk[..n]);
        block_on(writer.write(&chunk[..n]))
            .unwrap_or_else(|err| panic!("write {bucket}/{key}: {err}"));
        left -= n;
    }
    block_on(writer.finish()).unwrap_or_else(|err| panic!("finish {bucket}/{key}: {err}"))
}

/// Streams an object back and checks it is exactly `len` pattern bytes.
fn assert_pattern(store: &dyn ObjectStore, bucket: &str, key: &str, seed: u64, len: usize) {
    let mut body = BlockingRead(
        block_on(store.get(bucket, key, None))
            .unwrap_or_else(|err| panic!("get {bucket}/{key}: {err}"))
            .body,
    );
    let mut pattern = Pattern::new(seed);
    let (mut expected, mut actual) = (vec![0; MIB], vec![0; MIB]);
    let mut offset = 0;
    while offset < len {
        let n = (len - offset).min(MIB);
        pattern.fill(&mut expected[..n]);
        body.read_exact(&mut actual[..n])
            .unwrap_or_else(|err| panic!("{bucket}/{key} ends early, at {offset}: {err}"));
        assert!(
            expected[..n] == actual[..n],
            "{bucket}/{key} differs in the MiB at {offset}"
        );
        offset += n;
    }
    assert_eq!(
        body.read(&mut actual).expect("the end reads"),
        0,
        "{bucket}/{key} is longer than {len}"
    );
}

#[test]
fn put_head_get_ranges_metadata_and_errors() {
    let (moto, store) = moto_with(&["photos"]);
    println!("moto answered after {:?}", moto.startup());
    let options = PutOptions {
        content_type: Some("text/plain".into()),
        metadata: vec![("Origin".into(), "test".into())],
    };
    let key = "in/a b+c é.txt";
    let put = block_on(store.put("photos", key, b"0123456789", &options)).expect("put");
    assert_eq!(put.size, 10);
    let etag = put.etag.clone().expect("an entity tag");
    assert!(
        etag.len() == 32 && !etag.contains('"'),
        "a single put's tag is an MD5, unquoted: {etag:?}"
    );

    let head = block_on(store.head("photos", key)).expect("head");
    assert_eq!(head.size, 10);
    assert_eq!(head.etag, put.etag);
    assert_eq!(head.content_type.as_deref(), Some("text/plain"));
    assert_eq!(head.metadata, [("origin".to_owned(), "test".to_owned())]);
    let modified = head.last_modified.expect("a date");
    assert!(
        modified.len() >= 20 && modified.as_bytes()[10] == b'T' && modified.ends_with('Z'),
        "{modified:?} is not RFC 3339 in UTC"
    );

    let whole = block_on(store.get("photos", key, None)).expect("get");
    assert_eq!(whole.info.content_type.as_deref(), Some("text/plain"));
    assert_eq!(whole.info.metadata, head.metadata);
    assert_eq!(read_all(&store, "photos", key, None), b"0123456789");

    let range = |first, last| Some(ByteRange { first, last });
    let ranged = block_on(store.get("photos", key, range(2, 5))).expect("ranged get");
    assert_eq!(ranged.info.size, 10, "the size is the whole object's");
    assert_eq!(read_all(&store, "photos", key, range(2, 5)), b"2345");
    assert_eq!(read_all(&store, "photos", key, range(8, 100)), b"89");
    assert_eq!(
        block_on(store.get("photos", key, range(10, 12))).unwrap_err(),
        StoreError::InvalidRange
    );

    let missing = StoreError::NotFound {
        bucket: "photos".into(),
        key: "nope".into(),
    };
    assert_eq!(block_on(store.head("photos", "nope")).unwrap_err(), missing);
    assert_eq!(
        block_on(store.get("photos", "nope", None)).unwrap_err(),
        missing
    );
    let no_bucket = StoreError::NoSuchBucket("nobucket".into());
    assert_eq!(
        block_on(store.head("nobucket", "x")).unwrap_err(),
        no_bucket
    );
    assert_eq!(
        block_on(store.get("nobucket", "x", None)).unwrap_err(),
        no_bucket
    );
    assert_eq!(
        block_on(store.put("nobucket", "x", b"x", &PutOptions::default())).unwrap_err(),
        no_bucket
    );
    assert_eq!(
        block_on(store.list("nobucket", "", None, 10)).unwrap_err(),
        no_bucket
    );
    assert_eq!(
        block_on(store.delete("nobucket", "x")).unwrap_err(),
        no_bucket
    );
    assert_eq!(store.describe(), format!("s3:{}", moto.endpoint()));
}

#[test]
fn streaming_writes_are_one_put_up_to_a_part_and_multipart_beyond() {
    let (moto, store) = moto_with(&["photos"]);
    let options = PutOptions {
        content_type: Some("application/octet-stream".into()),
        metadata: vec![("kind".into(), "big".into())],
    };

    let mut small = block_on(store.create("photos", "small.txt", &options)).expect("create");
    block_on(small.write(b"hello ")).expect("write");
    block_on(small.write(b"world")).expect("write");
    assert!(
        matches!(
            block_on(store.head("photos", "small.txt")),
            Err(StoreError::NotFound { .. })
        ),
        "visible before finish"
    );
    let info = block_on(small.finish()).expect("finish");
    assert_eq!(info.size, 11);
    assert!(
        info.etag.as_deref().is_some_and(|t| !t.contains('-')),
        "a small object is a single PutObject: {info:?}"
    );
    assert_eq!(
        read_all(&store, "photos", "small.txt", None),
        b"hello world"
    );
    assert_eq!(
        block_on(store.head("photos", "small.txt"))
            .expect("head")
            .metadata,
        [("kind".to_owned(), "big".to_owned())]
    );

    // Exactly one part: still a single PutObject.
    let one_part = write_pattern(&store, "photos", "one-part.bin", 1, PART_BYTES);
    assert!(
        one_part.etag.as_deref().is_some_and(|t| !t.contains('-')),
        "{one_part:?}"
    );
    assert_pattern(&store, "photos", "one-part.bin", 1, PART_BYTES);

    // Two and a half parts: a multipart upload of three parts (S3's tag says how many).
    let len = 2 * PART_BYTES + PART_BYTES / 2 + 3;
    let mut writer = block_on(store.create("photos", "large.bin", &options)).expect("create");
    let mut pattern = Pattern::new(2);
    let mut chunk = vec![0; MIB];
    let mut left = len;
    while left > 0 {
        let n = left.min(MIB);
        pattern.fill(&mut chunk[..n]);
        block_on(writer.write(&chunk[..n])).expect("write");
        left -= n;
    }
    assert!(
        matches!(
            block_on(store.head("photos", "large.bin")),
            Err(StoreError::NotFound { .. })
        ),
        "visible before finish"
    );
    assert_eq!(moto.pending_uploads("photos"), ["large.bin"]);
    let info = block_on(writer.finish()).expect("finish");
    assert_eq!(info.size, len as u64);
    assert!(
        info.etag.as_deref().is_some_and(|t| t.ends_with("-3")),
        "three parts: {info:?}"
    );
    let head = block_on(store.head("photos", "large.bin")).expect("head");
    assert_eq!(head.size, len as u64);
    assert_eq!(
        head.content_type.as_deref(),
        Some("application/octet-stream")
    );
    assert_eq!(head.metadata, [("kind".to_owned(), "big".to_owned())]);
    assert_pattern(&store, "photos", "large.bin", 2, len);
    assert!(moto.pending_uploads("photos").is_empty());
}

#[test]
fn unfinished_writes_leave_no_object_and_no_upload() {
    let (moto, store) = moto_with(&["photos"]);
    let mut small = block_on(store.create("photos", "aborted-small.bin", &PutOptions::default()))
        .expect("create");
    block_on(small.write(b"partial")).expect("write");
    drop(small);

    let mut large = block_on(store.create("photos", "aborted-large.bin", &PutOptions::default()))
        .expect("create");
    let chunk = vec![7; MIB];
    for _ in 0..(PART_BYTES / MIB + 1) {
        block_on(large.write(&chunk)).expect("write");
    }
    assert_eq!(
        moto.pending_uploads("photos"),
        ["aborted-large.bin"],
        "past one part, the multipart upload has begun"
    );
    block_on(large.abort());
    assert!(
        moto.pending_uploads("photos").is_empty(),
        "the upload was aborted"
    );

    // A writer dropped unfinished (a call cancelled at its deadline) aborts in the
    // background, on the runtime it was made on.
    let mut dropped = block_on(store.create("photos", "dropped-large.bin", &PutOptions::default()))
        .expect("create");
    for _ in 0..(PART_BYTES / MIB + 1) {
        block_on(dropped.write(&chunk)).expect("write");
    }
    assert_eq!(moto.pending_uploads("photos"), ["dropped-large.bin"]);
    drop(dropped);
    let waited = Instant::now();
    while !moto.pending_uploads("photos").is_empty() {
        assert!(
            waited.elapsed() < std::time::Duration::from_secs(10),
            "a dropped writer's upload was never aborted"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(keys_of(&store, "photos", "").is_empty());
}

#[test]
fn listing_pages_through_continuation_tokens() {
    let (_moto, store) = moto_with(&["photos"]);
    for key in ["a/1", "a/2", "a/3", "b/1", "a0"] {
        block_on(store.put("photos", key, key.as_bytes(), &PutOptions::default())).expect("put");
    }
    let page = block_on(store.list("photos", "a/", None, 2)).expect("list");
    let keys: Vec<_> = page.objects.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys, ["a/1", "a/2"]);
    assert!(page.objects.iter().all(|o| o.size == 3 && o.etag.is_some()));
    assert!(page.objects.iter().all(|o| o.last_modified.is_some()));
    let next = page.next.expect("more to come");
    let rest = block_on(store.list("photos", "a/", Some(&next), 2)).expect("list");
    let keys: Vec<_> = rest.objects.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys, ["a/3"]);
    assert_eq!(rest.next, None);
    assert_eq!(
        keys_of(&store, "photos", ""),
        ["a/1", "a/2", "a/3", "a0", "b/1"]
    );
    assert!(keys_of(&store, "photos", "zzz").is_empty());
}

#[test]
fn copies_keep_metadata_and_survive_tricky_keys() {
    let (_moto, store) = moto_with(&["photos", "other"]);
    let options = PutOptions {
        content_type: Some("x/y".into()),
        metadata: vec![("k".into(), "v".into())],
    };
    for (from, to) in [
        ("in/my photo+1 é.jpg", "out/my photo+1 é.jpg"),
        ("100% & ?#=;,.txt", "plus+only"),
        ("日本語/ファイル.txt", "a%2Fb"),
    ] {
        block_on(store.put("photos", from, from.as_bytes(), &options)).expect("put");
        let copied = block_on(store.copy("photos", from, "other", to, None)).expect("copy");
        assert_eq!(copied.key, to);
        assert_eq!(copied.size, from.len() as u64, "{from:?}");
        assert_eq!(copied.content_type.as_deref(), Some("x/y"), "{from:?}");
        assert_eq!(
            copied.metadata,
            [("k".to_owned(), "v".to_owned())],
            "{from:?}"
        );
        assert_eq!(read_all(&store, "other", to, None), from.as_bytes());
    }
    assert_eq!(
        block_on(store.copy("photos", "nope", "other", "x", None)).unwrap_err(),
        StoreError::NotFound {
            bucket: "photos".into(),
            key: "nope".into()
        }
    );
    assert_eq!(
        block_on(store.copy("nobucket", "x", "other", "x", None)).unwrap_err(),
        StoreError::NoSuchBucket("nobucket".into())
    );
    assert_eq!(
        block_on(store.copy("photos", "100% & ?#=;,.txt", "nobucket", "x", None)).unwrap_err(),
        StoreError::NoSuchBucket("nobucket".into())
    );
}

#[test]
fn deleting_is_idempotent() {
    let (_moto, store) = moto_with(&["photos"]);
    block_on(store.put("photos", "a/1", b"1", &PutOptions::default())).expect("put");
    block_on(store.delete("photos", "a/1")).expect("delete");
    block_on(store.delete("photos", "a/1")).expect("deleting a missing object succeeds");
    block_on(store.delete("photos", "never/was")).expect("deleting a missing object succeeds");
    assert!(matches!(
        block_on(store.head("photos", "a/1")),
        Err(StoreError::NotFound { .. })
    ));
}

/// A pipeline over the store, with the config given as TOML.
fn pipeline(config: &str, store: &S3Store) -> (tempfile::TempDir, Pipeline) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("s3plug.toml");
    std::fs::write(&path, config).expect("the config is written");
    let config = Config::load(&path).unwrap_or_else(|err| panic!("config refused: {err}"));
    let objects: Arc<dyn ObjectStore> = Arc::new(store.clone());
    let pipeline = block_on(Pipeline::new(
        engine(),
        &config,
        objects,
        Some(&compile_cache()),
    ))
    .unwrap_or_else(|err| panic!("plugins did not load: {err}"));
    (dir, pipeline)
}

fn run(pipeline: &Pipeline, records: &[RawRecord<'_>]) -> Vec<RecordOutcome> {
    let decoded = event::decode_value(s3_event(records)).expect("the event decodes");
    block_on(pipeline.process(&decoded))
}

/// Non-ASCII metadata values go to S3 RFC 2047-encoded, as S3 expects them (sent raw, the
/// request's signature does not match), and come back to the plugin as it wrote them.
#[test]
fn non_ascii_metadata_is_encoded_for_s3_and_read_back_as_written() {
    let (_moto, store) = moto_with(&["inbox", "outbox"]);
    let (_dir, pipeline) = pipeline(
        &format!(
            r#"
[[plugin]]
name = "copier"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "inbox", prefix = "ok/" }}
write = ["outbox/out/"]
config = {{ out_bucket = "outbox" }}

[[plugin]]
name = "reader"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "outbox", prefix = "out/" }}
read = ["outbox/out/"]
config = {{ mode = "source" }}
"#
        ),
        &store,
    );
    let key = "ok/Zürich café 東京.txt";
    block_on(store.put("inbox", key, b"0123456789", &PutOptions::default())).expect("put");
    let outcomes = run(
        &pipeline,
        &[RawRecord::put(
            "inbox",
            "ok/Z%C3%BCrich+caf%C3%A9+%E6%9D%B1%E4%BA%AC.txt",
        )],
    );
    let copied = outcome_of(&outcomes, 0, "copier");
    assert_eq!(copied.status, Status::Ok, "{copied:#?}");

    // As S3 keeps it: encoded.
    let written = format!("out/{key}");
    let stored = block_on(store.head("outbox", &written)).expect("the copy exists");
    let source = stored
        .metadata
        .iter()
        .find(|(name, _)| name == "source")
        .map(|(_, value)| value.as_str())
        .unwrap_or_else(|| panic!("{:?}", stored.metadata));
    assert!(source.starts_with("=?UTF-8?B?"), "{source:?}");
    assert!(source.is_ascii());

    // As a plugin reads it: decoded, exactly as written.
    let outcomes = run(
        &pipeline,
        &[RawRecord::put(
            "outbox",
            "out/ok/Z%C3%BCrich+caf%C3%A9+%E6%9D%B1%E4%BA%AC.txt",
        )],
    );
    let read = outcome_of(&outcomes, 0, "reader");
    assert_eq!(read.status, Status::Ok, "{read:#?}");
    assert_eq!(
        read.message.as_deref(),
        Some(format!("inbox/{key}").as_str())
    );
}

#[test]
fn the_pipeline_reads_and_writes_s3_within_its_grants() {
    let (moto, store) = moto_with(&["inbox", "outbox", "forbidden-bucket"]);
    let (_dir, pipeline) = pipeline(
        &format!(
            r#"
[[plugin]]
name = "guest"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "inbox" }}
write = ["outbox/out/"]
config = {{ out_bucket = "outbox" }}
"#
        ),
        &store,
    );
    let text = PutOptions {
        content_type: Some("text/plain".into()),
        metadata: Vec::new(),
    };
    for key in [
        "ok/photo 1+.txt",
        "range/r.txt",
        "head/h.txt",
        "write-outside/x",
        "read-outside/x",
    ] {
        block_on(store.put("inbox", key, b"0123456789", &text)).expect("put");
    }
    let streamed = PART_BYTES + MIB + 5;
    write_pattern(&store, "inbox", "stream/big.bin", 3, streamed);
    block_on(store.put(
        "forbidden-bucket",
        "secret.txt",
        b"secret",
        &PutOptions::default(),
    ))
    .expect("put");

    let outcomes = run(
        &pipeline,
        &[
            RawRecord::put("inbox", "ok/photo+1%2B.txt"),
            RawRecord::put("inbox", "stream/big.bin"),
            RawRecord::put("inbox", "range/r.txt"),
            RawRecord::put("inbox", "head/h.txt"),
            RawRecord::put("inbox", "write-outside/x"),
            RawRecord::put("inbox", "read-outside/x"),
            RawRecord::put("inbox", "ok/missing.txt"),
        ],
    );
    let message = |record| outcome_of(&outcomes, record, "guest").message.as_deref();
    for record in 0..4 {
        assert_eq!(
            outcome_of(&outcomes, record, "guest").status,
            Status::Ok,
            "{outcomes:#?}"
        );
    }
    assert_eq!(message(0), Some("copied 10 bytes"));
    assert_eq!(
        message(1),
        Some(format!("streamed {streamed} bytes").as_str())
    );
    assert_eq!(message(2), Some("2345"));
    assert_eq!(message(3), Some("10|text/plain"));

    let copy = block_on(store.head("outbox", "out/ok/photo 1+.txt")).expect("the copy is in S3");
    assert!(
        copy.metadata
            .contains(&("source".to_owned(), "inbox/ok/photo 1+.txt".to_owned())),
        "{copy:?}"
    );
    assert_eq!(
        read_all(&store, "outbox", "out/ok/photo 1+.txt", None),
        b"0123456789"
    );
    assert_pattern(&store, "outbox", "out/stream/big.bin", 3, streamed);
    assert!(moto.pending_uploads("outbox").is_empty());

    for record in [4, 5] {
        let denied = outcome_of(&outcomes, record, "guest");
        assert_eq!(denied.status, Status::Failed, "{denied:#?}");
        assert_eq!(denied.reason, Some(FailureKind::Denied), "{denied:#?}");
    }
    assert_eq!(
        keys_of(&store, "forbidden-bucket", ""),
        ["secret.txt"],
        "a denied write left something"
    );
    let missing = outcome_of(&outcomes, 6, "guest");
    assert_eq!(missing.status, Status::Failed, "{missing:#?}");
    assert!(
        missing
            .error
            .as_deref()
            .is_some_and(|e| e.contains("no such bucket or object")),
        "{missing:#?}"
    );
    assert_eq!(
        keys_of(&store, "outbox", ""),
        ["out/ok/photo 1+.txt", "out/stream/big.bin"]
    );
}

/// Runs the binary against moto; `store` is the `--store` argument.
fn s3plug_run(moto: &MotoServer, config: &Path, event: &Path, store: &str) -> Output {
    let mut command = Command::new(s3plug_bin());
    command
        .args(["run", "--config"])
        .arg(config)
        .arg("--event")
        .arg(event)
        .args(["--store", store, "--stats"])
        .env("S3PLUG_CACHE_DIR", COMPILE_CACHE)
        .env_remove("S3PLUG_LOG")
        .stdin(Stdio::null());
    moto.apply_env(&mut command);
    command.output().expect("s3plug runs")
}

/// The figures `--stats` prints as the last line of stderr.
fn stats(output: &Output) -> Value {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    let line: Value = serde_json::from_str(last)
        .unwrap_or_else(|err| panic!("the last stderr line is not JSON ({err}): {stderr}"));
    line.get("stats")
        .cloned()
        .unwrap_or_else(|| panic!("no stats in {last:?}"))
}

#[test]
fn the_binary_makes_a_thumbnail_in_s3() {
    let (moto, store) = moto_with(&["sourcebucket", "sourcebucket-resized"]);
    let photo = std::fs::read(repo_root().join("examples/HappyFace.jpg")).expect("the example");
    let jpeg = PutOptions {
        content_type: Some("image/jpeg".into()),
        metadata: Vec::new(),
    };
    block_on(store.put("sourcebucket", "HappyFace.jpg", &photo, &jpeg)).expect("put");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("s3plug.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[[plugin]]
name = "thumbnail"
wasm = "{THUMBNAIL}"
trigger = {{ bucket = "sourcebucket", events = ["s3:ObjectCreated:*"] }}
write = ["sourcebucket-resized/thumbnails/"]
config = {{ target_bucket = "sourcebucket-resized" }}
"#
        ),
    )
    .expect("config written");
    let event = repo_root().join("examples/events/s3-put-HappyFace.json");
    // `s3` with the endpoint from AWS_ENDPOINT_URL, as a deployment would set it.
    let output = s3plug_run(&moto, &config, &event, "s3");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert_eq!(lines[0]["status"], "ok", "{lines:#?}");
    let stats = stats(&output);
    assert_eq!(stats["outcomes"], 1, "{stats}");
    assert_eq!(stats["failed"], 0, "{stats}");

    let thumb = block_on(store.head("sourcebucket-resized", "thumbnails/HappyFace.jpg"))
        .expect("the thumbnail is in S3");
    assert_eq!(thumb.content_type.as_deref(), Some("image/jpeg"));
    let bytes = read_all(
        &store,
        "sourcebucket-resized",
        "thumbnails/HappyFace.jpg",
        None,
    );
    let (w, h) = image::load_from_memory(&bytes)
        .expect("the thumbnail decodes")
        .dimensions();
    assert!(w <= 200 && h <= 200 && (w == 200 || h == 200), "{w}x{h}");
}

/// The large object: streamed into moto, through the binary's plugin, and back, a chunk
/// at a time everywhere.
const LARGE_OBJECT_BYTES: usize = 256 * MIB;

/// The host's peak resident memory must stay well under the object's size.
const PEAK_RSS_LIMIT_BYTES: u64 = 128 * MIB as u64;

#[test]
fn a_large_object_streams_through_the_binary_in_bounded_memory() {
    let (moto, store) = moto_with(&["big"]);
    let started = Instant::now();
    write_pattern(&store, "big", "stream/huge.bin", 4, LARGE_OBJECT_BYTES);
    let uploaded = started.elapsed();

    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("s3plug.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[[plugin]]
name = "streamer"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "big", prefix = "stream/" }}
write = ["big/out/"]
limits = {{ memory_mib = 64, timeout_ms = 120000 }}
"#
        ),
    )
    .expect("config written");
    let event = dir.path().join("event.json");
    let record = RawRecord {
        size: Some(LARGE_OBJECT_BYTES as u64),
        ..RawRecord::put("big", "stream/huge.bin")
    };
    std::fs::write(&event, s3_event(&[record]).to_string()).expect("event written");

    // `s3:ENDPOINT`, the other way to name the server.
    let started = Instant::now();
    let output = s3plug_run(&moto, &config, &event, &format!("s3:{}", moto.endpoint()));
    let ran = started.elapsed();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let lines = json_lines(&output);
    assert_eq!(lines[0]["status"], "ok", "{lines:#?}");
    assert_eq!(
        lines[0]["message"],
        format!("streamed {LARGE_OBJECT_BYTES} bytes"),
        "{lines:#?}"
    );

    let copy = block_on(store.head("big", "out/stream/huge.bin")).expect("the copy is in S3");
    assert_eq!(copy.size, LARGE_OBJECT_BYTES as u64);
    let started = Instant::now();
    assert_pattern(&store, "big", "out/stream/huge.bin", 4, LARGE_OBJECT_BYTES);
    let checked = started.elapsed();
    assert!(moto.pending_uploads("big").is_empty());

    let stats = stats(&output);
    let peak = stats["peak_rss_bytes"].as_u64().expect("a peak RSS");
    println!(
        "{} MiB: upload {uploaded:?}, s3plug run {ran:?} (peak RSS {:.1} MiB), check {checked:?}",
        LARGE_OBJECT_BYTES / MIB,
        peak as f64 / MIB as f64
    );
    assert!(
        peak < PEAK_RSS_LIMIT_BYTES,
        "the host peaked at {peak} bytes for a {LARGE_OBJECT_BYTES}-byte object"
    );
}
