//! Least privilege, enforced: an S3 that checks every request against IAM (moto with
//! `INITIAL_NO_AUTH_ACTION_COUNT`), a user whose only policy is the one `s3plug policy`
//! prints, and every object call a plugin can make, run through the binary with that user's
//! keys. A request the policy does not allow fails its record.

use std::path::Path;
use std::process::{Command, Output};

use s3plug_host::store::{ObjectStore, PutOptions, S3Settings, S3Store, StaticCredentials};
use s3plug_tests::dev::aws_cli_bin;
use s3plug_tests::moto::MotoServer;
use s3plug_tests::{RawRecord, TESTGUEST, block_on, json_lines, s3_event, s3plug_bin};
use serde_json::Value;

const REGION: &str = "us-east-1";

/// One triggering object per plugin of [`config`].
const TRIGGERS: [&str; 8] = [
    "ok/a.txt",
    BIG,
    "range/r.txt",
    "head/h.txt",
    "list-outside/l.txt",
    "server-copy/c.txt",
    "delete-trigger/d.txt",
    "write-bytes/w",
];

/// The object streamed past one part: a multipart upload.
const BIG: &str = "stream/big.bin";

/// Requests moto serves unchecked: the setup below, with room to spare.
const FREE_ACTIONS: u32 = 400;

/// One plugin per object call, each in a mode of the test guest, and the host's state.
fn config() -> String {
    let plugin = |name: &str, prefix: &str, extra: &str| {
        format!(
            "[[plugin]]\nname = \"{name}\"\nwasm = \"s3://code/testguest.wasm\"\n\
             trigger = {{ bucket = \"inbox\", prefix = \"{prefix}/\" }}\n\
             config = {{ out_bucket = \"outbox\" }}\n{extra}\n"
        )
    };
    let mut text = String::from("[host]\nstate = \"ops/s3plug/\"\n\n");
    text += &plugin(
        "getter",
        "ok",
        "write = [\"outbox/out/ok/\"]\nskip_duplicates = true",
    );
    text += &plugin("streamer", "stream", "write = [\"outbox/out/stream/\"]");
    text += &plugin("ranger", "range", "");
    text += &plugin("header", "head", "");
    text += &plugin("lister", "list-outside", "read = [\"inbox/\"]");
    text += &plugin(
        "copier",
        "server-copy",
        "write = [\"outbox/out/server-copy/\"]",
    );
    text += &plugin(
        "deleter",
        "delete-trigger",
        "write = [\"inbox/delete-trigger/\"]\nmax_depth = 1",
    );
    text += &plugin(
        "aborter",
        "write-bytes",
        "write = [\"outbox/out/write-bytes/\"]\nlimits = { max_write_bytes = \"9MiB\" }",
    );
    text
}

/// The AWS CLI against moto with `keys`.
fn aws(moto: &MotoServer, keys: (&str, &str), args: &[&str]) -> Output {
    let output = Command::new(aws_cli_bin())
        .args(args)
        .args(["--endpoint-url", &moto.endpoint(), "--output", "json"])
        .env("AWS_ACCESS_KEY_ID", keys.0)
        .env("AWS_SECRET_ACCESS_KEY", keys.1)
        .env("AWS_REGION", REGION)
        .env("AWS_DEFAULT_REGION", REGION)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("the AWS CLI runs");
    assert!(
        output.status.success(),
        "aws {args:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// An IAM user with `policy` as its only policy; returns its access key pair.
fn user_with(moto: &MotoServer, name: &str, policy: &str) -> (String, String) {
    let root = ("testing", "testing");
    aws(moto, root, &["iam", "create-user", "--user-name", name]);
    aws(
        moto,
        root,
        &[
            "iam",
            "put-user-policy",
            "--user-name",
            name,
            "--policy-name",
            "only",
            "--policy-document",
            policy,
        ],
    );
    let key = aws(
        moto,
        root,
        &["iam", "create-access-key", "--user-name", name],
    );
    let key: Value = serde_json::from_slice(&key.stdout).expect("JSON");
    let text = |field: &str| {
        key["AccessKey"][field]
            .as_str()
            .unwrap_or_else(|| panic!("no {field}: {key}"))
            .to_owned()
    };
    (text("AccessKeyId"), text("SecretAccessKey"))
}

fn store_as(moto: &MotoServer, keys: &(String, String)) -> S3Store {
    block_on(S3Store::connect_with(S3Settings {
        endpoint: Some(moto.endpoint()),
        region: Some(REGION.into()),
        credentials: Some(StaticCredentials {
            access_key_id: keys.0.clone(),
            secret_access_key: keys.1.clone(),
        }),
    }))
    .expect("a store")
}

#[test]
fn every_object_call_works_with_exactly_the_generated_policy() {
    let moto = MotoServer::start_enforcing_iam(FREE_ACTIONS);
    moto.create_buckets(&["inbox", "outbox", "code", "ops"]);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let wasm = std::fs::read(TESTGUEST).expect("the test guest");
    let config_path = dir.path().join("s3plug.toml");
    std::fs::write(&config_path, config()).expect("the config is written");

    // Unchecked still: the objects, the plugin, and two users.
    let root = moto.store();
    let put = |bucket: &str, key: &str, body: &[u8]| {
        block_on(root.put(bucket, key, body, &PutOptions::default()))
            .unwrap_or_else(|err| panic!("{bucket}/{key}: {err}"));
    };
    put("code", "testguest.wasm", &wasm);
    for key in TRIGGERS {
        if key == BIG {
            put("inbox", key, &vec![7; 9 << 20]);
        } else {
            put("inbox", key, b"0123456789");
        }
    }
    let policy = Command::new(s3plug_bin())
        .args(["policy", "--config"])
        .arg(&config_path)
        .output()
        .expect("s3plug policy runs");
    assert!(policy.status.success(), "{policy:?}");
    let policy = String::from_utf8(policy.stdout).expect("UTF-8");
    let plugin_keys = user_with(&moto, "s3plug", &policy);
    let admin_keys = user_with(
        &moto,
        "admin",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
    );
    moto.enforce_iam_now();
    let admin = store_as(&moto, &admin_keys);
    // The check is on: the plugins' user cannot read what the policy leaves out.
    let refused = block_on(store_as(&moto, &plugin_keys).head("outbox", "anything"));
    assert!(refused.is_err(), "an unchecked request: {refused:?}");

    let event = dir.path().join("event.json");
    let records: Vec<RawRecord<'_>> = TRIGGERS
        .into_iter()
        .map(|key| RawRecord::put("inbox", key))
        .collect();
    std::fs::write(&event, s3_event(&records).to_string()).expect("the event is written");
    let run = |event: &Path| {
        Command::new(s3plug_bin())
            .args(["run", "--config"])
            .arg(&config_path)
            .arg("--event")
            .arg(event)
            .args(["--store", &format!("s3:{}", moto.endpoint())])
            .env("AWS_ACCESS_KEY_ID", &plugin_keys.0)
            .env("AWS_SECRET_ACCESS_KEY", &plugin_keys.1)
            .env("AWS_REGION", REGION)
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("S3PLUG_CACHE_DIR", dir.path().join("cache"))
            .output()
            .expect("s3plug runs")
    };
    let first = run(&event);
    let lines = json_lines(&first);
    let stderr = String::from_utf8_lossy(&first.stderr);
    let status_of = |lines: &[Value], plugin: &str| -> (String, String) {
        let line = lines
            .iter()
            .find(|l| l["plugin"] == plugin)
            .unwrap_or_else(|| panic!("no outcome for {plugin}: {lines:#?}\n{stderr}"));
        (
            line["status"].as_str().unwrap_or_default().to_owned(),
            format!("{line}"),
        )
    };
    for plugin in [
        "getter", "streamer", "ranger", "header", "lister", "copier", "deleter",
    ] {
        let (status, line) = status_of(&lines, plugin);
        assert_eq!(status, "ok", "{line}\n{stderr}");
    }
    // Past its byte budget mid-upload: the multipart upload is aborted, which is allowed.
    let (status, line) = status_of(&lines, "aborter");
    assert_eq!(status, "failed", "{line}");
    assert!(line.contains("max_write_bytes"), "{line}");
    assert!(!stderr.contains("AccessDenied"), "{stderr}");

    // What the calls did, seen by a user who may see everything.
    for key in [
        "out/ok/a.txt",
        "out/stream/big.bin",
        "out/server-copy/c.txt",
    ] {
        block_on(admin.head("outbox", key)).unwrap_or_else(|err| panic!("{key}: {err}"));
    }
    assert!(block_on(admin.head("inbox", "delete-trigger/d.txt")).is_err());
    let written = block_on(admin.list("outbox", "out/write-bytes/", None, 10)).expect("list");
    assert!(written.objects.is_empty(), "{written:?}");
    let uploads = aws(
        &moto,
        (&admin_keys.0, &admin_keys.1),
        &["s3api", "list-multipart-uploads", "--bucket", "outbox"],
    );
    let uploads: Value = serde_json::from_slice(&uploads.stdout).unwrap_or(Value::Null);
    assert!(
        uploads["Uploads"].as_array().is_none_or(Vec::is_empty),
        "an upload was left: {uploads}"
    );

    // Again: the duplicate marker written the first time is read under [host] state.
    let again = run(&event);
    let lines = json_lines(&again);
    let getter = lines
        .iter()
        .find(|l| l["plugin"] == "getter")
        .expect("the getter's outcome");
    assert_eq!(getter["outcome"], "duplicate", "{getter}");
}
