//! `s3plug dev`: a local S3 endpoint whose writes run the plugins live, as S3 notifications
//! would, plugin writes and loop guards included. The uploads use the AWS CLI, as a plugin
//! author would, or s3plug's own S3 client.

use std::path::Path;
use std::time::Duration;

use s3plug_host::store::{ObjectStore, PutOptions};
use s3plug_tests::dev::DevServer;
use s3plug_tests::{TESTGUEST, THUMBNAIL, block_on, repo_root};
use serde_json::Value;

/// A config file in `dir`, and a `data` folder beside it for the buckets.
fn dev_with(dir: &Path, config: &str) -> DevServer {
    let path = dir.join("s3plug.toml");
    std::fs::write(&path, config).expect("config written");
    DevServer::start(&path, &dir.join("data"))
}

fn status(line: &Value) -> &str {
    line["status"].as_str().unwrap_or_default()
}

#[test]
fn an_aws_cli_upload_runs_the_thumbnailer_live_and_its_write_notifies_in_turn() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dev = dev_with(
        dir.path(),
        &format!(
            r#"
[[plugin]]
name = "thumbnail"
wasm = "{THUMBNAIL}"
trigger = {{ bucket = "photos", prefix = "incoming/" }}
write = ["photos/thumbnails/"]
config = {{ target_bucket = "photos", max_width = 200, max_height = 200 }}
"#
        ),
    );
    assert_eq!(dev.banner["buckets"], serde_json::json!(["photos"]));
    assert!(
        dir.path().join("data/photos").is_dir(),
        "the config's bucket is made"
    );

    let photo = repo_root().join("examples/HappyFace.jpg");
    dev.aws(&[
        "s3",
        "cp",
        &photo.display().to_string(),
        "s3://photos/incoming/Happy Face.jpg",
    ]);
    let ran = dev.outcome("photos", "incoming/Happy Face.jpg", Some("thumbnail"));
    assert_eq!(status(&ran), "ok", "{ran:#}");
    assert_eq!(ran["event"], "ObjectCreated:Put", "{ran:#}");
    assert_eq!(ran["outcome"], "processed", "{ran:#}");
    assert!(ran["duration_ms"].as_f64().is_some_and(|ms| ms > 0.0));
    // The thumbnail is a write to the endpoint too: S3 would notify it, and no route takes it.
    let follow_on = dev.outcome("photos", "thumbnails/incoming/Happy Face.jpg", None);
    assert_eq!(status(&follow_on), "unrouted", "{follow_on:#}");

    let thumb = std::fs::read(
        dir.path()
            .join("data/photos/thumbnails/incoming/Happy Face.jpg"),
    )
    .expect("the thumbnail is in the folder");
    let image = image::load_from_memory(&thumb).expect("a picture");
    assert_eq!((image.width(), image.height()), (200, 150));
    let listed = dev.aws(&["s3", "ls", "--recursive", "s3://photos/"]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains("thumbnails/incoming/Happy Face.jpg"),
        "{listed}"
    );

    let (tally, exit) = dev.stop();
    assert!(exit.success(), "{exit:?}");
    assert_eq!(tally["ok"], 1, "{tally}");
    assert_eq!(tally["other"], 1, "{tally}");
    assert_eq!(tally["failed"], 0, "{tally}");
}

#[test]
fn plugin_writes_trigger_further_routes_until_the_loop_guard_stops_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The two-plugin cycle of the loop tests, each allowed 3 writes deep.
    let dev = dev_with(dir.path(), &crate::loops::chain(Some(3), Some(3)));
    block_on(
        dev.store()
            .put("loop", "a/x", b"payload", &PutOptions::default()),
    )
    .expect("uploaded");
    // a (depth 0) → b (1) → a (2) → b at depth 3: stopped, and nothing after it.
    for (key, plugin, expected) in [
        ("a/x", "a", "ok"),
        ("b/a/x", "b", "ok"),
        ("a/b/a/x", "a", "ok"),
        ("b/a/b/a/x", "b", "loop-stopped"),
    ] {
        let line = dev.outcome("loop", key, Some(plugin));
        assert_eq!(status(&line), expected, "{line:#}");
        if expected == "loop-stopped" {
            assert!(
                line["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("3 s3plug writes deep, max_depth = 3")),
                "{line:#}"
            );
        }
    }
    let after = dev.lines_until_quiet(Duration::from_millis(1500));
    assert!(after.is_empty(), "nothing runs after the stop: {after:#?}");
    let deepest =
        block_on(dev.store().head("loop", "b/a/b/a/x")).expect("the third write is there");
    let depth = deepest
        .metadata
        .iter()
        .find(|(name, _)| name == "s3plug-depth")
        .map(|(_, value)| value.as_str());
    assert_eq!(
        depth,
        Some("3"),
        "lineage travels through the endpoint: {deepest:?}"
    );
    let (tally, _) = dev.stop();
    assert_eq!(tally["ok"], 3, "{tally}");
    assert_eq!(tally["loop_stopped"], 1, "{tally}");
}

#[test]
fn copies_multipart_uploads_and_deletes_arrive_under_their_own_event_names() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dev = dev_with(
        dir.path(),
        &format!(
            r#"
[[plugin]]
name = "echo"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "inbox", events = ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"] }}
config = {{ mode = "echo" }}
"#
        ),
    );
    // Above the AWS CLI's 8 MiB threshold: a multipart upload.
    let big = dir.path().join("big.bin");
    std::fs::write(&big, vec![7u8; 9 << 20]).expect("written");
    let key = "in/big file+1.bin";
    dev.aws(&[
        "s3",
        "cp",
        &big.display().to_string(),
        &format!("s3://inbox/{key}"),
    ]);
    let uploaded = dev.outcome("inbox", key, Some("echo"));
    assert_eq!(
        uploaded["event"], "ObjectCreated:CompleteMultipartUpload",
        "{uploaded:#}"
    );
    assert_eq!(status(&uploaded), "ok", "{uploaded:#}");
    // event|bucket|key|raw key|size: the key is encoded as S3 encodes it, the size is real.
    assert_eq!(
        uploaded["message"],
        format!(
            "ObjectCreated:CompleteMultipartUpload|inbox|{key}|in/big+file%2B1.bin|{}",
            9 << 20
        ),
        "{uploaded:#}"
    );

    // A small object, which the CLI copies with CopyObject (a large one, part by part).
    block_on(
        dev.store()
            .put("inbox", "small.txt", b"small", &PutOptions::default()),
    )
    .expect("uploaded");
    let put = dev.outcome("inbox", "small.txt", Some("echo"));
    assert_eq!(put["event"], "ObjectCreated:Put", "{put:#}");
    dev.aws(&[
        "s3",
        "cp",
        "s3://inbox/small.txt",
        "s3://inbox/copied/x.bin",
    ]);
    let copied = dev.outcome("inbox", "copied/x.bin", Some("echo"));
    assert_eq!(copied["event"], "ObjectCreated:Copy", "{copied:#}");

    dev.aws(&["s3", "rm", "s3://inbox/copied/x.bin"]);
    let removed = dev.outcome("inbox", "copied/x.bin", Some("echo"));
    assert_eq!(removed["event"], "ObjectRemoved:Delete", "{removed:#}");
    assert_eq!(status(&removed), "ok", "{removed:#}");
    assert!(!dir.path().join("data/inbox/copied/x.bin").exists());
}

#[test]
fn a_plugin_that_writes_outside_its_grants_fails_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dev = dev_with(
        dir.path(),
        &format!(
            r#"
[[plugin]]
name = "sneaky"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "photos", prefix = "write-outside/" }}
write = ["photos/out/"]
"#
        ),
    );
    block_on(
        dev.store()
            .put("photos", "write-outside/x", b"x", &PutOptions::default()),
    )
    .expect("uploaded");
    let line = dev.outcome("photos", "write-outside/x", Some("sneaky"));
    assert_eq!(status(&line), "failed", "{line:#}");
    assert_eq!(line["reason"], "denied", "{line:#}");
    let after = dev.lines_until_quiet(Duration::from_millis(1000));
    assert!(
        after.is_empty(),
        "a denied write notifies nothing: {after:#?}"
    );
    let (tally, _) = dev.stop();
    assert_eq!(tally["failed"], 1, "{tally}");
}

#[test]
fn a_changed_config_or_rebuilt_plugin_is_reloaded_and_a_broken_one_is_not() {
    let dir = tempfile::tempdir().expect("temp dir");
    let wasm = dir.path().join("p.wasm");
    std::fs::copy(TESTGUEST, &wasm).expect("copied");
    let config = |mode: &str| {
        format!(
            "[[plugin]]\nname = \"p\"\nwasm = \"p.wasm\"\ntrigger = {{ bucket = \"inbox\" }}\n\
             config = {{ mode = \"{mode}\", target_bucket = \"inbox\" }}\n"
        )
    };
    let config_path = dir.path().join("s3plug.toml");
    let dev = dev_with(dir.path(), &config("echo"));
    let upload = |key: &str| {
        block_on(dev.store().put("inbox", key, b"x", &PutOptions::default())).expect("uploaded");
        dev.outcome("inbox", key, Some("p"))
    };
    let echoed = upload("in/a");
    assert!(
        echoed["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("ObjectCreated:Put|inbox|in/a|")),
        "{echoed:#}"
    );

    std::fs::write(&config_path, config("skip")).expect("config changed");
    let reloaded = dev.wait_for(Duration::from_secs(60), |line| {
        line.get("reloaded").is_some()
    });
    assert_eq!(reloaded["reloaded"], true, "{reloaded:#}");
    assert_eq!(reloaded["plugins"], serde_json::json!(["p"]));
    assert_eq!(upload("in/b")["message"], "not interested");

    std::fs::write(
        &config_path,
        format!("{}colour = \"blue\"\n", config("echo")),
    )
    .expect("config broken");
    let refused = dev.wait_for(Duration::from_secs(60), |line| {
        line.get("reloaded").is_some()
    });
    assert_eq!(refused["reloaded"], false, "{refused:#}");
    assert!(
        refused["error"]
            .as_str()
            .is_some_and(|e| e.contains("colour")),
        "the reason names the bad key: {refused:#}"
    );
    assert_eq!(
        upload("in/c")["message"],
        "not interested",
        "the previous plugins still run"
    );

    // A rebuild: another component at the same path.
    std::fs::copy(THUMBNAIL, &wasm).expect("replaced");
    std::fs::write(&config_path, config("skip")).expect("config fixed");
    let reloaded = dev.wait_for(Duration::from_secs(120), |line| {
        line.get("reloaded").is_some()
    });
    assert_eq!(reloaded["reloaded"], true, "{reloaded:#}");
    let thumbnail = upload("thumbnails/x.jpg");
    assert_eq!(
        thumbnail["message"], "\"thumbnails/x.jpg\" is a thumbnail already",
        "{thumbnail:#}"
    );
}

/// A plugin that spins until its time-out (`loop/` keys), on `inbox`.
fn spinning(dir: &Path, timeout_ms: u32) -> DevServer {
    dev_with(
        dir,
        &format!(
            "[[plugin]]\nname = \"spin\"\nwasm = \"{TESTGUEST}\"\n\
             trigger = {{ bucket = \"inbox\" }}\nlimits = {{ timeout_ms = {timeout_ms} }}\n"
        ),
    )
}

/// Uploads `loop/x`, and waits until its plugin call has surely begun.
fn start_spinning(dev: &DevServer) {
    block_on(
        dev.store()
            .put("inbox", "loop/x", b"x", &PutOptions::default()),
    )
    .expect("uploaded");
    std::thread::sleep(Duration::from_millis(300));
}

#[test]
fn a_stop_lets_running_records_finish_and_a_second_one_does_not_wait() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dev = spinning(dir.path(), 1500);
    start_spinning(&dev);
    let (tally, exit) = dev.stop();
    assert!(exit.success(), "{exit:?}");
    assert_eq!(
        (&tally["failed"], &tally["abandoned"]),
        (&1.into(), &0.into()),
        "the running record ran to its time-out and was counted: {tally}"
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let dev = spinning(dir.path(), 60_000);
    start_spinning(&dev);
    dev.terminate();
    std::thread::sleep(Duration::from_millis(300));
    let (tally, exit) = dev.stop();
    assert!(exit.success(), "{exit:?}");
    assert_eq!(
        (&tally["failed"], &tally["abandoned"]),
        (&0.into(), &1.into()),
        "{tally}"
    );
}

/// The AWS CLI's `sync` and `rm --recursive` list with `EncodingType=url`: names with a
/// space, `+`, `%`, `&` or non-ASCII letters come back as they are, so a second sync
/// uploads nothing, a sync down gets every file and `rm` removes them all.
#[test]
fn aws_s3_sync_and_rm_see_every_key_as_it_is() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dev = dev_with(
        dir.path(),
        &format!(
            r#"
[[plugin]]
name = "idle"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "sync", prefix = "never/" }}
"#
        ),
    );
    let up = dir.path().join("up");
    let names = [
        "a b.txt",
        "a+b.txt",
        "100%.txt",
        "x&y.txt",
        "Zürich café.txt",
        "sub dir/é+%.txt",
    ];
    for name in names {
        let path = up.join(name);
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("folders");
        std::fs::write(&path, name).expect("written");
    }
    let up_arg = up.display().to_string();
    let first = dev.aws(&["s3", "sync", &up_arg, "s3://sync/"]);
    let uploaded = String::from_utf8_lossy(&first.stdout);
    assert_eq!(
        uploaded.matches("upload:").count(),
        names.len(),
        "{uploaded}"
    );
    let second = dev.aws(&["s3", "sync", &up_arg, "s3://sync/"]);
    let again = String::from_utf8_lossy(&second.stdout);
    assert!(
        !again.contains("upload:"),
        "a second sync uploaded again: {again}"
    );

    let down = dir.path().join("down");
    let down_arg = down.display().to_string();
    dev.aws(&["s3", "sync", "s3://sync/", &down_arg]);
    for name in names {
        let text = std::fs::read_to_string(down.join(name))
            .unwrap_or_else(|err| panic!("{name} was not synced down: {err}"));
        assert_eq!(text, name);
    }

    let removed = dev.aws(&["s3", "rm", "s3://sync/", "--recursive"]);
    let removed = String::from_utf8_lossy(&removed.stdout);
    assert_eq!(removed.matches("delete:").count(), names.len(), "{removed}");
    let left = block_on(dev.store().list("sync", "", None, 100)).expect("a listing");
    assert!(left.objects.is_empty(), "left after rm: {:?}", left.objects);
}
