//! The real plugins: the thumbnailer and the streaming CSV converter.

use std::io::Cursor;

use image::{GenericImageView, ImageFormat, RgbImage};
use s3plug_host::outcome::Status;
use s3plug_tests::{CSV_TO_JSONL, Harness, RawRecord, THUMBNAIL, outcome_of, s3_event};

fn thumbnail_harness() -> Harness {
    Harness::new(&format!(
        r#"
[[plugin]]
name = "thumbnail"
wasm = "{THUMBNAIL}"
trigger = {{ bucket = "photos", prefix = "incoming/" }}
write = ["photos-thumbs/small/"]
limits = {{ memory_mib = 128, max_writes = 1 }}
config = {{ target_bucket = "photos-thumbs", target_prefix = "small/", max_width = 100, max_height = 80 }}
"#
    ))
}

fn image_bytes(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let img = RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).expect("encodes");
    out.into_inner()
}

#[test]
fn thumbnails_keep_aspect_and_format() {
    let h = thumbnail_harness();
    h.put(
        "photos",
        "incoming/wide.png",
        &image_bytes(400, 100, ImageFormat::Png),
    );
    h.put(
        "photos",
        "incoming/tall photo.jpg",
        &image_bytes(300, 600, ImageFormat::Jpeg),
    );
    h.put(
        "photos",
        "incoming/tiny.png",
        &image_bytes(20, 10, ImageFormat::Png),
    );
    let outcomes = h.run(&s3_event(&[
        RawRecord::put("photos", "incoming/wide.png"),
        RawRecord::put("photos", "incoming/tall+photo.jpg"),
        RawRecord::put("photos", "incoming/tiny.png"),
    ]));
    for (index, key, format, dims) in [
        (0, "small/incoming/wide.png", ImageFormat::Png, (100, 25)),
        (
            1,
            "small/incoming/tall photo.jpg",
            ImageFormat::Jpeg,
            (40, 80),
        ),
        (2, "small/incoming/tiny.png", ImageFormat::Png, (20, 10)),
    ] {
        assert_eq!(
            outcome_of(&outcomes, index, "thumbnail").status,
            Status::Ok,
            "{outcomes:#?}"
        );
        let bytes = h
            .store
            .bytes("photos-thumbs", key)
            .unwrap_or_else(|| panic!("{key} missing"));
        assert_eq!(
            image::guess_format(&bytes).expect("an image"),
            format,
            "{key}"
        );
        let thumb = image::load_from_memory(&bytes).expect("decodes");
        assert_eq!(thumb.dimensions(), dims, "{key}");
    }
}

#[test]
fn a_corrupt_image_fails_and_a_non_image_is_skipped() {
    let h = thumbnail_harness();
    let mut corrupt = image_bytes(50, 50, ImageFormat::Png);
    corrupt.truncate(60);
    h.put("photos", "incoming/broken.png", &corrupt);
    h.put("photos", "incoming/notes.txt", b"just text");
    let outcomes = h.run(&s3_event(&[
        RawRecord::put("photos", "incoming/broken.png"),
        RawRecord::put("photos", "incoming/notes.txt"),
    ]));
    assert_eq!(
        outcome_of(&outcomes, 0, "thumbnail").status,
        Status::Failed,
        "{outcomes:#?}"
    );
    let skipped = outcome_of(&outcomes, 1, "thumbnail");
    assert_eq!(
        (skipped.status, skipped.outcome),
        (Status::Ok, Some("skipped")),
        "{skipped:#?}"
    );
    assert!(
        h.store
            .keys()
            .iter()
            .all(|(bucket, _)| bucket != "photos-thumbs"),
        "nothing written"
    );
}

#[test]
fn csv_streams_to_json_lines_in_bounded_guest_memory() {
    // 16 MiB of guest memory for a CSV of about 40 MiB: only streaming fits.
    let h = Harness::new(&format!(
        r#"
[[plugin]]
name = "csv"
wasm = "{CSV_TO_JSONL}"
trigger = {{ bucket = "data", prefix = "in/", suffix = ".csv" }}
write = ["data/jsonl/"]
limits = {{ memory_mib = 16, timeout_ms = 60000 }}
"#
    ));
    let rows = 750_000;
    let mut csv = String::from("id,name,comment\n");
    for i in 0..rows {
        csv.push_str(&format!(
            "{i},name-{i},\"a comment, with a comma, number {i}\"\n"
        ));
    }
    assert!(csv.len() > 40 << 20, "the CSV is {} bytes", csv.len());
    h.put("data", "in/big.csv", csv.as_bytes());
    let outcomes = h.run(&s3_event(&[RawRecord::put("data", "in/big.csv")]));
    let outcome = outcome_of(&outcomes, 0, "csv");
    assert_eq!(outcome.status, Status::Ok, "{outcome:#?}");
    let jsonl = h
        .store
        .bytes("data", "jsonl/in/big.jsonl")
        .expect("the output exists");
    let text = String::from_utf8(jsonl).expect("UTF-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), rows);
    let last: serde_json::Value = serde_json::from_str(lines[rows - 1]).expect("JSON");
    assert_eq!(last["id"], format!("{}", rows - 1));
    assert_eq!(
        last["comment"],
        format!("a comment, with a comma, number {}", rows - 1)
    );
    let usage = outcome.usage.as_ref().expect("usage");
    assert_eq!(usage.bytes_read, csv.len() as u64);
    let metadata: u64 = h
        .store
        .head("data", "jsonl/in/big.jsonl")
        .expect("the output exists")
        .metadata
        .iter()
        .map(|(k, v)| (k.len() + v.len()) as u64)
        .sum();
    assert_eq!(
        usage.bytes_written,
        text.len() as u64 + metadata,
        "user metadata counts as written bytes"
    );
}
