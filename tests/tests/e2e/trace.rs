//! The host's S3 calls carry the invocation's `X-Amzn-Trace-Id`, so that AWS's own recursion
//! detector keeps working as a second line of defence behind the loop guards.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use s3plug_tests::{COMPILE_CACHE, TESTGUEST, s3plug_bin};

/// Answers every request with 404 and sends each request's header lines to the test.
pub(crate) fn capture_server() -> (String, mpsc::Receiver<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
    let endpoint = format!("http://{}", listener.local_addr().expect("an address"));
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(32) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("a clone"));
            let mut headers = Vec::new();
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                headers.push(line.trim_end().to_owned());
                line.clear();
            }
            let _ = sender.send(headers);
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    (endpoint, receiver)
}

#[test]
fn s3_requests_carry_the_invocation_trace_id() {
    let (endpoint, requests) = capture_server();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("s3plug.toml");
    std::fs::write(
        &config,
        format!("[[plugin]]\nname = \"guest\"\nwasm = \"{TESTGUEST}\"\ntrigger = {{ bucket = \"inbox\", prefix = \"head/\" }}\n"),
    )
    .expect("written");
    let event = dir.path().join("event.json");
    let generated = Command::new(s3plug_bin())
        .args(["event", "put", "--bucket", "inbox", "--key", "head/x"])
        .output()
        .expect("s3plug runs");
    std::fs::write(&event, generated.stdout).expect("written");
    let trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let output = Command::new(s3plug_bin())
        .args([
            "run",
            "--config",
            &config.display().to_string(),
            "--event",
            &event.display().to_string(),
        ])
        .args(["--store", &format!("s3:{endpoint}")])
        .env("S3PLUG_CACHE_DIR", COMPILE_CACHE)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_LAMBDA_FUNCTION_NAME", "s3plug")
        .env("_X_AMZN_TRACE_ID", trace)
        .output()
        .expect("s3plug runs");
    // The object does not exist on this server, so the record fails; what matters is the call.
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let headers = requests
        .recv_timeout(Duration::from_secs(10))
        .expect("the plugin's head reached the server");
    let sent = headers.iter().find_map(|h| {
        let (name, value) = h.split_once(':')?;
        name.eq_ignore_ascii_case("x-amzn-trace-id")
            .then(|| value.trim().to_owned())
    });
    assert_eq!(sent.as_deref(), Some(trace), "{headers:#?}");
}
