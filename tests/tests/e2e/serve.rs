//! `s3plug serve`: webhook notifications over HTTP, as MinIO and Ceph RGW send them.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use s3plug_tests::{COMPILE_CACHE, TESTGUEST, s3plug_bin};
use serde_json::{Value, json};

const TOKEN: &str = "s3cr3t-token";

struct Served {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve() -> Served {
    serve_with(&[])
}

/// `s3plug serve` with more arguments.
fn serve_with(args: &[&str]) -> Served {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("s3plug.toml");
    std::fs::write(
        &config,
        format!(
            "[[plugin]]\nname = \"echo\"\nwasm = \"{TESTGUEST}\"\ntrigger = {{ bucket = \"photos\", prefix = \"echo/\" }}\n\n\
             [[plugin]]\nname = \"failing\"\nwasm = \"{TESTGUEST}\"\ntrigger = {{ bucket = \"photos\", prefix = \"fail/\" }}\n\n\
             [[plugin]]\nname = \"napper\"\nwasm = \"{TESTGUEST}\"\ntrigger = {{ bucket = \"photos\", prefix = \"nap/\" }}\n"
        ),
    )
    .expect("written");
    let mut child = Command::new(s3plug_bin())
        .args([
            "serve",
            "--config",
            &config.display().to_string(),
            "--listen",
            "127.0.0.1:0",
            "--store",
            "memory",
        ])
        .args(args)
        .env("S3PLUG_CACHE_DIR", COMPILE_CACHE)
        .env("S3PLUG_WEBHOOK_TOKEN", TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("s3plug serve starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped"))
        .read_line(&mut line)
        .expect("a first line");
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected {line:?}"))
        .to_owned();
    Served {
        child,
        addr,
        _dir: dir,
    }
}

/// Sends one request and returns the status code and the JSON body.
fn request(addr: &str, method: &str, token: Option<&str>, body: &str) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).expect("connects");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("sent");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("a response");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// A MinIO webhook body: its wrapper, `minio:s3` records and `%2F` in keys.
fn minio_event(key: &str) -> String {
    let encoded = key.replace('/', "%2F");
    json!({
        "EventName": "s3:ObjectCreated:Put",
        "Key": format!("photos/{key}"),
        "Records": [{
            "eventVersion": "2.0", "eventSource": "minio:s3", "awsRegion": "",
            "eventTime": "2026-11-26T08:00:00.000Z", "eventName": "s3:ObjectCreated:Put",
            "userIdentity": {"principalId": "minioadmin"},
            "requestParameters": {"principalId": "minioadmin", "region": "", "sourceIPAddress": "127.0.0.1"},
            "responseElements": {"x-amz-request-id": "17A", "x-minio-origin-endpoint": "http://127.0.0.1:9000"},
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "Config",
                   "bucket": {"name": "photos", "ownerIdentity": {"principalId": "minioadmin"}, "arn": "arn:aws:s3:::photos"},
                   "object": {"key": encoded, "size": 5, "eTag": "e", "contentType": "text/plain", "sequencer": "17A"}},
            "source": {"host": "127.0.0.1", "port": "", "userAgent": "MinIO (linux; amd64)"}
        }]
    })
    .to_string()
}

#[test]
fn webhook_notifications_run_the_pipeline_behind_the_shared_secret() {
    let served = serve();
    let (status, body) = request(
        &served.addr,
        "POST",
        Some(TOKEN),
        &minio_event("echo/a b.txt"),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (
            body["records"].as_u64(),
            body["ok"].as_u64(),
            body["failed"].as_u64()
        ),
        (Some(1), Some(1), Some(0))
    );

    let (status, _) = request(&served.addr, "POST", None, &minio_event("echo/x"));
    assert_eq!(status, 401);
    let (status, _) = request(&served.addr, "POST", Some("wrong"), &minio_event("echo/x"));
    assert_eq!(status, 401);

    // A failure a retry may fix: the store is asked to deliver it again.
    let (status, body) = request(&served.addr, "POST", Some(TOKEN), &minio_event("fail/x"));
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["failed"], 1);

    let (status, body) = request(&served.addr, "POST", Some(TOKEN), "{\"hello\": 1}");
    assert_eq!(status, 400, "{body}");
    let (status, _) = request(&served.addr, "GET", None, "");
    assert_eq!(status, 401);
}

#[test]
fn serve_refuses_to_start_without_a_token() {
    let output = Command::new(s3plug_bin())
        .args([
            "serve",
            "--config",
            "/nonexistent.toml",
            "--listen",
            "127.0.0.1:0",
        ])
        .env_remove("S3PLUG_WEBHOOK_TOKEN")
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("S3PLUG_WEBHOOK_TOKEN"));
}

/// Sends one notification and returns the status and the whole response, headers included.
fn raw_post(addr: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connects");
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Authorization: Bearer {TOKEN}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("sent");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("a response");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {response:?}"));
    (status, response)
}

#[test]
fn past_its_bound_serve_answers_503_with_retry_after_and_loses_nothing() {
    let served = serve_with(&["--max-requests", "2"]);
    let addr = served.addr.clone();
    let answers: Vec<(u16, String)> = std::thread::scope(|scope| {
        let sent: Vec<_> = (0..8)
            .map(|i| {
                let addr = addr.clone();
                scope.spawn(move || raw_post(&addr, &minio_event(&format!("nap/400/{i}.txt"))))
            })
            .collect();
        sent.into_iter()
            .map(|s| s.join().expect("a client"))
            .collect()
    });
    let statuses: Vec<u16> = answers.iter().map(|(status, _)| *status).collect();
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 503),
        "every request gets an answer a store acts on: {statuses:?}"
    );
    assert!(statuses.contains(&503), "past the bound: {statuses:?}");
    assert!(
        statuses.iter().filter(|s| **s == 200).count() >= 2,
        "{statuses:?}"
    );
    for (status, response) in &answers {
        if *status == 503 {
            assert!(
                response.to_ascii_lowercase().contains("retry-after: 1"),
                "{response}"
            );
        }
    }
    // As a store's webhook would: each refused notification is sent again until accepted.
    for (i, (status, _)) in answers.iter().enumerate() {
        if *status != 503 {
            continue;
        }
        let mut accepted = false;
        for _ in 0..50 {
            let (again, response) = raw_post(&addr, &minio_event(&format!("nap/400/{i}.txt")));
            if again == 200 {
                accepted = true;
                break;
            }
            assert_eq!(again, 503, "{response}");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert!(accepted, "notification {i} was never accepted");
    }
}

#[test]
fn a_client_that_never_sends_its_headers_is_cut_off() {
    let served = serve();
    let mut stream = TcpStream::connect(&served.addr).expect("connects");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .expect("a timeout");
    write!(stream, "POST / HTTP/1.1\r\nHost: x\r\n").expect("half a request");
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    // The server closes the connection (with or without a 408) instead of holding it.
    let _ = stream.read_to_end(&mut rest);
    let waited = started.elapsed();
    assert!(
        waited < std::time::Duration::from_secs(25),
        "the connection was held {waited:?}"
    );
}
