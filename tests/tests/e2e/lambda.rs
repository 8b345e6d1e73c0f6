//! The Lambda front end: the real `s3plug` binary run as a function against a local Runtime
//! API, over a folder store, with every envelope Lambda delivers S3 events in.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use s3plug_tests::runtime_api::{Reply, RuntimeApi};
use s3plug_tests::{COMPILE_CACHE, RawRecord, TESTGUEST, s3_event, s3plug_bin};
use serde_json::{Value, json};

/// How long one invocation may take, init included: the first one may compile every plugin
/// when the compile cache is cold, on a 2-core machine that runs other tests at the same time.
const INVOCATION_TIMEOUT: Duration = Duration::from_secs(240);

/// How long a function whose init fails may take to exit: it loads nothing that takes long.
const EXIT_TIMEOUT: Duration = Duration::from_secs(60);

/// How often a wait looks whether the process died.
const POLL: Duration = Duration::from_millis(100);

const NEXT: &str = "/2018-06-01/runtime/invocation/next";

/// One route per testguest mode used here, all on the bucket `inbox`.
fn config() -> String {
    format!(
        r#"
[[plugin]]
name = "copier"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "inbox", prefix = "ok/" }}
write = ["inbox/out/"]

[[plugin]]
name = "failing"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "inbox", prefix = "fail/" }}

[[plugin]]
name = "echo"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "inbox", prefix = "echo/" }}

[[plugin]]
name = "outsider"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "inbox", prefix = "write-outside/" }}
"#
    )
}

/// A deployment: `s3plug.toml`, an empty task root, and the folder the store serves.
struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    fn new(config: &str) -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        std::fs::write(dir.path().join("s3plug.toml"), config).expect("the config is written");
        std::fs::create_dir_all(dir.path().join("task")).expect("the task root");
        std::fs::create_dir_all(dir.path().join("data")).expect("the data folder");
        Self { dir }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn task_root(&self) -> PathBuf {
        self.dir.path().join("task")
    }

    /// Stores an object as the file `<data>/<bucket>/<key>`.
    fn put(&self, bucket: &str, key: &str, body: &str) {
        let path = self.data().join(bucket).join(key);
        std::fs::create_dir_all(path.parent().expect("a key has a folder")).expect("folders");
        std::fs::write(&path, body).expect("the object is written");
    }

    /// The text of an object, if it exists.
    fn object(&self, bucket: &str, key: &str) -> Option<String> {
        std::fs::read_to_string(self.data().join(bucket).join(key)).ok()
    }

    /// The binary with the environment Lambda gives a function (and nothing from the test's
    /// own environment but `PATH`), pointed at `api` and at this site's store.
    fn command(&self, api: &RuntimeApi) -> Command {
        let mut command = Command::new(s3plug_bin());
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", api.addr())
            .env("AWS_LAMBDA_FUNCTION_NAME", "s3plug-e2e")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_REGION", "us-east-1")
            .env("LAMBDA_TASK_ROOT", self.task_root())
            .env("S3PLUG_STORE", format!("dir:{}", self.data().display()))
            .env("S3PLUG_CACHE_DIR", COMPILE_CACHE);
        if let Some(backtrace) = std::env::var_os("RUST_BACKTRACE") {
            command.env("RUST_BACKTRACE", backtrace);
        }
        command
    }

    /// `s3plug lambda` with `S3PLUG_CONFIG` naming the config.
    fn start(&self) -> Function {
        self.start_with(|command| {
            command
                .arg("lambda")
                .env("S3PLUG_CONFIG", self.dir.path().join("s3plug.toml"));
        })
    }

    fn start_with(&self, adjust: impl FnOnce(&mut Command)) -> Function {
        let api = RuntimeApi::start();
        let mut command = self.command(&api);
        adjust(&mut command);
        Function::spawn(command, api)
    }
}

/// A running `s3plug` process and the Runtime API it talks to; killed on drop.
struct Function {
    child: Child,
    api: RuntimeApi,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
    readers: Vec<JoinHandle<()>>,
}

impl Function {
    fn spawn(mut command: Command, api: RuntimeApi) -> Self {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("s3plug starts");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let readers = vec![
            collect_lines(child.stdout.take().expect("piped"), Arc::clone(&stdout)),
            collect_lines(child.stderr.take().expect("piped"), Arc::clone(&stderr)),
        ];
        Self {
            child,
            api,
            stdout,
            stderr,
            readers,
        }
    }

    /// Invokes the function with `payload`; returns the request id and the reply. Panics
    /// with the traffic and the logs if the process dies or takes too long.
    fn call(&mut self, payload: Value) -> (String, Reply) {
        let invocation = self.api.invoke(payload);
        let start = Instant::now();
        loop {
            if let Some(reply) = invocation.try_wait(POLL) {
                return (invocation.request_id().to_owned(), reply);
            }
            if let Some(status) = self.child.try_wait().expect("the child can be polled") {
                self.finish_output();
                panic!(
                    "s3plug exited ({status}) before answering {:?}\n{}",
                    invocation.request_id(),
                    self.diagnostics()
                );
            }
            assert!(
                start.elapsed() < INVOCATION_TIMEOUT,
                "no answer to {:?} within {INVOCATION_TIMEOUT:?}\n{}",
                invocation.request_id(),
                self.diagnostics()
            );
        }
    }

    /// The body posted to `/response`; panics if the function answered `/error`.
    fn response(&mut self, payload: Value) -> Value {
        match self.call(payload).1 {
            Reply::Response(body) => body,
            error => panic!(
                "expected a response, got {error:#?}\n{}",
                self.diagnostics()
            ),
        }
    }

    /// The `errorType` and `errorMessage` posted to `/error`; panics on a response.
    fn error(&mut self, payload: Value) -> (String, String) {
        match self.call(payload).1 {
            Reply::Error {
                error_type,
                message,
                ..
            } => (error_type, message),
            response => panic!(
                "expected an error, got {response:#?}\n{}",
                self.diagnostics()
            ),
        }
    }

    /// Waits for the process to exit on its own.
    fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("the child can be polled") {
                self.finish_output();
                return status;
            }
            assert!(
                start.elapsed() < timeout,
                "s3plug still runs after {timeout:?}\n{}",
                self.diagnostics()
            );
            std::thread::sleep(POLL);
        }
    }

    /// Reads the output to its end; only once the process has exited.
    fn finish_output(&mut self) {
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
    }

    /// Every line the process wrote so far, stdout first.
    fn log_lines(&self) -> Vec<String> {
        let mut lines = lock(&self.stdout).clone();
        lines.extend(lock(&self.stderr).iter().cloned());
        lines
    }

    /// Asserts that every line written so far is a JSON object.
    fn assert_json_logs(&self) {
        for line in self.log_lines() {
            assert!(
                serde_json::from_str::<Value>(&line).is_ok_and(|v| v.is_object()),
                "a log line that is not a JSON object: {line:?}\n{}",
                self.diagnostics()
            );
        }
    }

    fn diagnostics(&self) -> String {
        format!(
            "{}stdout:\n{}\nstderr:\n{}",
            self.api.traffic(),
            lock(&self.stdout).join("\n"),
            lock(&self.stderr).join("\n")
        )
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lock(lines: &Mutex<Vec<String>>) -> std::sync::MutexGuard<'_, Vec<String>> {
    lines
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn collect_lines(
    stream: impl Read + Send + 'static,
    lines: Arc<Mutex<Vec<String>>>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        while matches!(reader.read_until(b'\n', &mut line), Ok(n) if n > 0) {
            let text = String::from_utf8_lossy(&line).trim_end().to_owned();
            if !text.is_empty() {
                lock(&lines).push(text);
            }
            line.clear();
        }
    })
}

/// The counts of a summary, without its failures.
fn counts(summary: &Value) -> Value {
    let mut counts = serde_json::Map::new();
    for key in ["records", "ok", "failed", "unrouted", "ignored"] {
        counts.insert(key.to_owned(), summary[key].clone());
    }
    Value::Object(counts)
}

/// The SNS message of an S3 notification, as SNS publishes it (and as SQS carries it when
/// raw delivery is off).
fn sns_message(notification: &Value) -> Value {
    json!({
        "Type": "Notification",
        "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:s3-events",
        "Subject": "Amazon S3 Notification",
        "Message": notification.to_string(),
        "Timestamp": "2026-11-26T08:00:00.123Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLEpH+DcEwjAPg8O9mY8dReBSwksfg2S7WKQcikcNKWLQjwu6A4VbeS0QHVCkhRS7fUQvi2egU3N858fiTDN6bkkOxYDVrY0Ad8L10Hs3zH81mtnPk5uvvolIC1CXGu43obcgFxeL3khZl8IKvO61GWB6jI9b5+gLPoBc1Q=",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-east-1:123456789012:s3-events:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55"
    })
}

/// A Lambda SNS event with one record carrying `notification`.
fn sns_event(notification: &Value) -> Value {
    json!({ "Records": [{
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:s3-events:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55",
        "Sns": {
            "Type": "Notification",
            "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:s3-events",
            "Subject": "Amazon S3 Notification",
            "Message": notification.to_string(),
            "Timestamp": "2026-11-26T08:00:00.123Z",
            "SignatureVersion": "1",
            "Signature": "EXAMPLE",
            "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem",
            "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-east-1:123456789012:s3-events:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55",
            "MessageAttributes": {}
        }
    }]})
}

/// One SQS message as Lambda delivers it; the body is a string.
fn sqs_message(message_id: &str, body: &str) -> Value {
    json!({
        "messageId": message_id,
        "receiptHandle": format!("AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...{message_id}"),
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1795766400000",
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": "1795766400010"
        },
        "messageAttributes": {},
        "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:s3-events",
        "awsRegion": "us-east-1"
    })
}

fn sqs_event(messages: Vec<Value>) -> Value {
    json!({ "Records": messages })
}

/// S3's test message, sent when a notification is configured.
fn s3_test_event() -> Value {
    json!({
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": "2026-11-26T08:00:00.000Z",
        "Bucket": "inbox",
        "RequestId": "5582815E1AEA5ADF",
        "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"
    })
}

/// An EventBridge `Object Created` event from S3; EventBridge does not encode keys.
fn eventbridge_object_created(bucket: &str, key: &str, size: u64) -> Value {
    json!({
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-11-26T08:00:00Z",
        "region": "us-east-1",
        "resources": [format!("arn:aws:s3:::{bucket}")],
        "detail": {
            "version": "0",
            "bucket": { "name": bucket },
            "object": {
                "key": key,
                "size": size,
                "etag": "b1946ac92492d2347c6235b4d2611184",
                "sequencer": "617f08299329d189"
            },
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "123456789012",
            "source-ip-address": "1.2.3.4",
            "reason": "PutObject"
        }
    })
}

#[test]
fn a_direct_s3_notification_is_answered_with_a_summary() {
    let site = Site::new(&config());
    site.put("inbox", "ok/q3 report.txt", "quarterly numbers");
    let mut function = site.start();
    let summary = function.response(s3_event(&[
        RawRecord::put("inbox", "ok/q3+report.txt"),
        RawRecord::put("inbox", "elsewhere/x.txt"),
    ]));
    assert_eq!(
        counts(&summary),
        json!({ "records": 2, "ok": 1, "failed": 0, "unrouted": 1, "ignored": 0 }),
        "{summary:#}"
    );
    assert_eq!(summary["failures"], json!([]), "{summary:#}");
    assert_eq!(
        site.object("inbox", "out/ok/q3 report.txt").as_deref(),
        Some("quarterly numbers")
    );
    let paths = function.api.paths();
    assert!(
        paths[0] == NEXT && paths[1].ends_with("/response"),
        "{paths:?}"
    );
}

#[test]
fn an_sns_notification_carrying_s3_is_answered_with_a_summary() {
    let site = Site::new(&config());
    site.put("inbox", "ok/via-sns.txt", "from a topic");
    let mut function = site.start();
    let summary = function.response(sns_event(&s3_event(&[RawRecord::put(
        "inbox",
        "ok/via-sns.txt",
    )])));
    assert_eq!(
        counts(&summary),
        json!({ "records": 1, "ok": 1, "failed": 0, "unrouted": 0, "ignored": 0 }),
        "{summary:#}"
    );
    assert_eq!(summary["failures"], json!([]), "{summary:#}");
    assert_eq!(
        site.object("inbox", "out/ok/via-sns.txt").as_deref(),
        Some("from a topic")
    );
}

#[test]
fn an_sqs_batch_lists_exactly_the_messages_with_a_failed_record() {
    const GOOD: &str = "059f36b4-87a3-44ab-83d2-661975830a7d";
    const FAILING: &str = "2e1424d4-f796-459a-8184-9c92662be6da";
    const NOT_JSON: &str = "4f1e2b5c-9a8d-4c3b-a7e6-1d2c3b4a5f60";
    const NOT_AN_EVENT: &str = "6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d";
    const TEST_EVENT: &str = "8b9c0d1e-2f3a-4b4c-9d5e-6f7a8b9c0d1e";
    const VIA_SNS: &str = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d";
    const UNROUTED: &str = "c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f";

    let site = Site::new(&config());
    site.put("inbox", "ok/sqs-good.txt", "good");
    site.put("inbox", "ok/sqs-via-sns.txt", "relayed");
    let mut function = site.start();
    let one = |key: &str| s3_event(&[RawRecord::put("inbox", key)]).to_string();
    let response = function.response(sqs_event(vec![
        sqs_message(GOOD, &one("ok/sqs-good.txt")),
        sqs_message(FAILING, &one("fail/sqs.txt")),
        sqs_message(NOT_JSON, "this is not JSON {"),
        sqs_message(NOT_AN_EVENT, r#"{"hello": "world"}"#),
        sqs_message(TEST_EVENT, &s3_test_event().to_string()),
        sqs_message(
            VIA_SNS,
            &sns_message(&s3_event(&[RawRecord::put("inbox", "ok/sqs-via-sns.txt")])).to_string(),
        ),
        sqs_message(UNROUTED, &one("elsewhere/sqs.txt")),
    ]));

    let failures = response["batchItemFailures"]
        .as_array()
        .unwrap_or_else(|| panic!("no batchItemFailures list: {response:#}"));
    let mut ids: Vec<&str> = failures
        .iter()
        .map(|f| {
            f["itemIdentifier"]
                .as_str()
                .unwrap_or_else(|| panic!("no itemIdentifier: {response:#}"))
        })
        .collect();
    ids.sort_unstable();
    let mut expected = [FAILING, NOT_JSON, NOT_AN_EVENT];
    expected.sort_unstable();
    assert_eq!(ids, expected, "{response:#}");
    assert_eq!(
        site.object("inbox", "out/ok/sqs-good.txt").as_deref(),
        Some("good")
    );
    assert_eq!(
        site.object("inbox", "out/ok/sqs-via-sns.txt").as_deref(),
        Some("relayed")
    );
}

#[test]
fn an_eventbridge_object_created_event_is_answered_with_a_summary() {
    let site = Site::new(&config());
    site.put("inbox", "ok/from eventbridge.txt", "bridged");
    let mut function = site.start();
    let summary = function.response(eventbridge_object_created(
        "inbox",
        "ok/from eventbridge.txt",
        7,
    ));
    assert_eq!(
        counts(&summary),
        json!({ "records": 1, "ok": 1, "failed": 0, "unrouted": 0, "ignored": 0 }),
        "{summary:#}"
    );
    assert_eq!(summary["failures"], json!([]), "{summary:#}");
    assert_eq!(
        site.object("inbox", "out/ok/from eventbridge.txt")
            .as_deref(),
        Some("bridged")
    );
}

#[test]
fn a_retryable_failure_answers_with_a_retryable_error() {
    let site = Site::new(&config());
    site.put("inbox", "ok/before.txt", "kept");
    let mut function = site.start();
    let (error_type, message) = function.error(s3_event(&[
        RawRecord::put("inbox", "ok/before.txt"),
        RawRecord::put("inbox", "fail/x.txt"),
    ]));
    assert_eq!(error_type, "Retryable", "{message}");
    assert!(!message.is_empty());
    let requests = function.api.requests();
    let posted = requests
        .iter()
        .find(|r| r.path.ends_with("/error"))
        .expect("the error was posted");
    assert!(
        posted
            .header("Lambda-Runtime-Function-Error-Type")
            .is_some(),
        "{posted:#?}"
    );
    // The other record was still processed: a retry runs it again, which a copy allows.
    assert_eq!(
        site.object("inbox", "out/ok/before.txt").as_deref(),
        Some("kept")
    );
}

/// A config whose `spin` plugin would run for a minute: only the invocation's deadline
/// stops it.
fn config_with_a_spinner() -> String {
    format!(
        r#"{}
[[plugin]]
name = "spin"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "inbox", prefix = "loop/" }}
limits = {{ timeout_ms = 60000 }}

[[plugin]]
name = "sleeper"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "inbox", prefix = "sleep/" }}
limits = {{ timeout_ms = 60000 }}
"#,
        config()
    )
}

/// Invokes with a deadline `deadline` away; returns the reply and how long before the
/// deadline it came (negative: after).
fn call_before(function: &mut Function, payload: Value, deadline: Duration) -> (Reply, f64) {
    let invoked = Instant::now();
    let invocation = function.api.invoke_with_deadline(payload, deadline);
    let reply = invocation.wait(deadline + Duration::from_secs(30));
    let spare = deadline.as_secs_f64() - invoked.elapsed().as_secs_f64();
    println!("answered {:.0} ms before the deadline", spare * 1e3);
    (reply, spare)
}

#[test]
fn an_sqs_batch_is_answered_before_its_deadline_with_the_unfinished_records_failed() {
    const GOOD: &str = "0a0b0c0d-87a3-44ab-83d2-661975830a7d";
    const SPINNING: &str = "1a1b1c1d-f796-459a-8184-9c92662be6da";
    const SLEEPING: &str = "2a2b2c2d-f796-459a-8184-9c92662be6da";
    let site = Site::new(&config_with_a_spinner());
    site.put("inbox", "ok/warm.txt", "warm");
    site.put("inbox", "ok/deadline.txt", "done in time");
    let mut function = site.start();
    // Init (and any compile) before the invocation whose deadline counts.
    function.response(s3_event(&[RawRecord::put("inbox", "ok/warm.txt")]));
    let one = |key: &str| s3_event(&[RawRecord::put("inbox", key)]).to_string();
    let deadline = Duration::from_secs(3);
    let (reply, spare) = call_before(
        &mut function,
        sqs_event(vec![
            sqs_message(GOOD, &one("ok/deadline.txt")),
            sqs_message(SPINNING, &one("loop/forever.txt")),
            sqs_message(SLEEPING, &one("sleep/forever.txt")),
        ]),
        deadline,
    );
    assert!(
        spare > 0.0,
        "answered {:.0} ms after the deadline",
        -spare * 1e3
    );
    let response = reply.response();
    let mut ids: Vec<&str> = response["batchItemFailures"]
        .as_array()
        .unwrap_or_else(|| panic!("no batchItemFailures: {response:#}"))
        .iter()
        .filter_map(|f| f["itemIdentifier"].as_str())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, [SPINNING, SLEEPING], "{response:#}");
    assert_eq!(
        site.object("inbox", "out/ok/deadline.txt").as_deref(),
        Some("done in time")
    );
    let stopped = function
        .log_lines()
        .into_iter()
        .filter(|line| line.contains("the request had to be answered before its deadline"))
        .count();
    assert!(stopped >= 2, "{}", function.diagnostics());
}

#[test]
fn a_direct_invocation_is_answered_retryable_before_its_deadline() {
    let site = Site::new(&config_with_a_spinner());
    site.put("inbox", "ok/warm.txt", "warm");
    let mut function = site.start();
    function.response(s3_event(&[RawRecord::put("inbox", "ok/warm.txt")]));
    let (reply, spare) = call_before(
        &mut function,
        s3_event(&[RawRecord::put("inbox", "loop/forever.txt")]),
        Duration::from_secs(2),
    );
    assert!(
        spare > 0.0,
        "answered {:.0} ms after the deadline",
        -spare * 1e3
    );
    let (error_type, message) = reply.error();
    assert_eq!(error_type, "Retryable", "{message}");
    assert!(message.contains("timeout"), "{message}");
}

#[test]
fn a_denied_write_alone_is_answered_with_a_summary_not_retried() {
    let site = Site::new(&config());
    let mut function = site.start();
    let summary = function.response(s3_event(&[RawRecord::put("inbox", "write-outside/x.txt")]));
    assert_eq!(
        counts(&summary),
        json!({ "records": 1, "ok": 0, "failed": 1, "unrouted": 0, "ignored": 0 }),
        "{summary:#}"
    );
    let failures = summary["failures"].as_array().expect("a failures list");
    assert_eq!(failures.len(), 1, "{summary:#}");
    assert_eq!(failures[0]["record"], 0, "{summary:#}");
    assert_eq!(failures[0]["plugin"], "outsider", "{summary:#}");
    assert!(
        failures[0]["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("denied")),
        "{summary:#}"
    );
    assert!(!site.data().join("forbidden-bucket").exists());
}

#[test]
fn a_payload_that_is_no_s3_event_is_refused_as_non_retryable() {
    let site = Site::new(&config());
    let mut function = site.start();
    for payload in [json!({ "hello": "world" }), json!([1, 2, 3]), json!("text")] {
        let (error_type, message) = function.error(payload.clone());
        assert_eq!(error_type, "NonRetryable", "{payload}: {message}");
        assert!(!message.is_empty(), "{payload}");
    }
    // The process outlives bad payloads.
    let summary = function.response(s3_event(&[RawRecord::put("inbox", "echo/after.txt")]));
    assert_eq!(summary["ok"], 1, "{summary:#}");
}

#[test]
fn one_process_serves_invocations_in_a_row() {
    let site = Site::new(&config());
    site.put("inbox", "ok/first.txt", "one");
    let mut function = site.start();

    let (first, reply) = function.call(s3_event(&[RawRecord::put("inbox", "ok/first.txt")]));
    assert_eq!(counts(&reply.response())["ok"], 1);
    let (second, reply) = function.call(sqs_event(vec![sqs_message(
        "d4e5f6a7-b8c9-4d0e-9f1a-2b3c4d5e6f70",
        &s3_event(&[RawRecord::put("inbox", "echo/second.txt")]).to_string(),
    )]));
    assert_eq!(reply.response(), json!({ "batchItemFailures": [] }));
    let (third, reply) = function.call(sns_event(&s3_event(&[RawRecord::put(
        "inbox",
        "echo/third.txt",
    )])));
    assert_eq!(counts(&reply.response())["ok"], 1);

    // One poll per invocation, each answered before the next poll, and a fourth poll
    // waiting: the same process, with its plugins loaded once, served all three.
    function.api.wait_for_next_polls(4, EXIT_TIMEOUT);
    let expected: Vec<String> = [&first, &second, &third]
        .iter()
        .flat_map(|id| {
            [
                NEXT.to_owned(),
                format!("/2018-06-01/runtime/invocation/{id}/response"),
            ]
        })
        .chain([NEXT.to_owned()])
        .collect();
    assert_eq!(function.api.paths(), expected);
    assert!(
        function.child.try_wait().expect("pollable").is_none(),
        "s3plug exited\n{}",
        function.diagnostics()
    );
    assert_eq!(
        site.object("inbox", "out/ok/first.txt").as_deref(),
        Some("one")
    );
    // At init: one log line and one metric say how the plugins were loaded.
    let lines = function.log_lines();
    let init = lines
        .iter()
        .find(|line| line.contains("init done"))
        .unwrap_or_else(|| panic!("no init line\n{}", function.diagnostics()));
    let init: Value = serde_json::from_str(init).expect("a JSON log line");
    let loaded = init["loaded"].as_str().unwrap_or_default();
    assert!(
        ["copier", "failing", "echo", "outsider"]
            .iter()
            .all(|name| loaded.contains(&format!("{name}="))),
        "{init:#}"
    );
    let loads: Vec<Value> = lines
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|doc| doc.get("LoadKind").is_some())
        .collect();
    let total: u64 = loads
        .iter()
        .map(|doc| doc["PluginsLoaded"].as_u64().unwrap_or_default())
        .sum();
    assert_eq!(total, 4, "{loads:#?}\n{}", function.diagnostics());
    for doc in &loads {
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Dimensions"], json!([["LoadKind"]]), "{doc:#}");
        assert_eq!(doc["FunctionName"], "s3plug-e2e", "{doc:#}");
    }
    assert!(function.api.protocol_errors().is_empty());
    function.assert_json_logs();
}

#[test]
fn without_a_subcommand_it_runs_as_lambda_with_the_config_in_the_task_root() {
    let site = Site::new(&config());
    std::fs::write(site.task_root().join("s3plug.toml"), config()).expect("the config");
    let mut function = site.start_with(|_| {});
    let summary = function.response(s3_test_event());
    assert_eq!(
        counts(&summary),
        json!({ "records": 1, "ok": 0, "failed": 0, "unrouted": 0, "ignored": 1 }),
        "{summary:#}"
    );
    let summary = function.response(s3_event(&[RawRecord::put("inbox", "echo/a.txt")]));
    assert_eq!(
        counts(&summary),
        json!({ "records": 1, "ok": 1, "failed": 0, "unrouted": 0, "ignored": 0 }),
        "{summary:#}"
    );
}

#[test]
fn a_bad_config_or_store_fails_init_and_exits_non_zero() {
    // The unknown key lands in the last plugin's table.
    let bad_config = format!("{}limitz = {{}}\n", config());
    let cases: [(&str, Site, Option<&str>); 2] = [
        ("limitz", Site::new(&bad_config), None),
        ("ftp:x", Site::new(&config()), Some("ftp:x")),
    ];
    // `AWS_LAMBDA_RUNTIME_API` as Lambda sets it (`host:port`) and as emulators do (a URL).
    for ((named, site, store), as_url) in cases.into_iter().flat_map(|c| {
        let again = (
            c.0,
            Site::new(
                &std::fs::read_to_string(c.1.dir.path().join("s3plug.toml")).expect("config"),
            ),
            c.2,
        );
        [(c, false), (again, true)]
    }) {
        let mut function = site.start_with(|command| {
            command
                .arg("lambda")
                .env("S3PLUG_CONFIG", site.dir.path().join("s3plug.toml"));
            if let Some(store) = store {
                command.env("S3PLUG_STORE", store);
            }
            if as_url {
                let api = command
                    .get_envs()
                    .find(|(name, _)| *name == "AWS_LAMBDA_RUNTIME_API")
                    .and_then(|(_, value)| value)
                    .map(|value| value.to_string_lossy().into_owned())
                    .expect("the Runtime API is set");
                command.env("AWS_LAMBDA_RUNTIME_API", format!("http://{api}"));
            }
        });
        let status = function.wait_exit(EXIT_TIMEOUT);
        assert!(
            !status.success(),
            "{named}: {status}\n{}",
            function.diagnostics()
        );
        assert!(
            !function.api.paths().iter().any(|p| p == NEXT),
            "{named}: polled for events after a failed init\n{}",
            function.diagnostics()
        );
        let reply = function.api.init_error().unwrap_or_else(|| {
            panic!(
                "{named} (as a URL: {as_url}): no /init/error\n{}",
                function.diagnostics()
            )
        });
        let (error_type, message) = reply.error();
        assert!(!error_type.is_empty(), "{named}: {message}");
        assert!(message.contains(named), "{named}: {message}");
        assert!(
            function.log_lines().iter().any(|line| line.contains(named)),
            "{named}: the logs do not say what failed\n{}",
            function.diagnostics()
        );
        function.assert_json_logs();
    }
}

/// Lambda Managed Instances run invocations side by side in one process: each one's S3
/// calls carry its own `X-Amzn-Trace-Id` (no process-wide variable can be right for both).
#[test]
fn overlapping_invocations_send_their_own_trace_ids() {
    let (endpoint, requests) = crate::trace::capture_server();
    let site = Site::new(&format!(
        r#"{}
[[plugin]]
name = "header"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "inbox", prefix = "head/" }}

[[plugin]]
name = "napper"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "inbox", prefix = "nap/" }}
"#,
        config()
    ));
    let function = site.start_with(|command| {
        command
            .arg("lambda")
            .env("S3PLUG_CONFIG", site.dir.path().join("s3plug.toml"))
            .env("S3PLUG_STORE", format!("s3:{endpoint}"))
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_LAMBDA_MAX_CONCURRENCY", "2");
    });
    // Two pollers at once: the runtime runs concurrently (one would poll again only after
    // answering).
    function.api.wait_for_next_polls(2, Duration::from_secs(60));
    // Both delivered at once; each keeps running (the nap) after its head was sent.
    let event = |i: usize| {
        s3_event(&[
            RawRecord::put("inbox", &format!("head/{i}")),
            RawRecord::put("inbox", &format!("nap/700/{i}")),
        ])
    };
    let first = function.api.invoke(event(1));
    let second = function.api.invoke(event(2));
    let _ = first.wait(INVOCATION_TIMEOUT);
    let _ = second.wait(INVOCATION_TIMEOUT);
    // One tokio runtime in the process, S3 calls and WASI included: its threads are named
    // `s3plug-runtime`; another runtime's would keep tokio's `tokio-runtime-worker`.
    let threads = thread_names(function.child.id());
    assert!(
        threads.iter().any(|name| name == "s3plug-runtime"),
        "{threads:?}"
    );
    assert!(
        !threads.iter().any(|name| name.starts_with("tokio-runtime")),
        "a second runtime: {threads:?}"
    );
    let traced: Vec<String> = requests
        .try_iter()
        .filter_map(|headers| {
            headers
                .into_iter()
                .find(|h| h.to_ascii_lowercase().starts_with("x-amzn-trace-id:"))
        })
        .map(|h| {
            h.split_once(':')
                .map(|(_, v)| v.trim().to_owned())
                .unwrap_or_default()
        })
        .collect();
    let mut roots: Vec<&str> = traced
        .iter()
        .filter_map(|t| t.split(';').find(|p| p.starts_with("Root=")))
        .collect();
    roots.sort_unstable();
    roots.dedup();
    // The Runtime API numbers its trace ids: the two invocations' own.
    assert_eq!(
        roots,
        [
            "Root=1-5bef4de7-ad49b0e87f6ef6c87fc20001",
            "Root=1-5bef4de7-ad49b0e87f6ef6c87fc20002"
        ],
        "each invocation's calls carry its own trace id: {traced:?}\n{}",
        function.diagnostics()
    );
}

/// The names of a process's threads (Linux: `/proc/PID/task/*/comm`, at most 15 bytes).
fn thread_names(pid: u32) -> Vec<String> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("the process's threads");
    tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim_end().to_owned())
        .collect()
}

/// cargo-lambda's Runtime API emulator (`cargo lambda watch --only-lambda-apis`), on a free
/// port of 127.0.0.1; killed on drop. It gives `AWS_LAMBDA_RUNTIME_API` as a URL with a
/// path (`http://127.0.0.1:PORT/.rt`), as no hand-written client expects.
struct CargoLambda {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl CargoLambda {
    fn bin() -> PathBuf {
        s3plug_tests::repo_root().join("target/test-venv/bin/cargo-lambda")
    }

    fn start() -> Self {
        let bin = Self::bin();
        assert!(
            bin.is_file(),
            "{} is missing: run scripts/install-test-deps (scripts/test does)",
            bin.display()
        );
        // It wants a crate to watch, and builds nothing with --only-lambda-apis.
        let dir = tempfile::tempdir().expect("a temporary folder");
        std::fs::write(
            dir.path().join("Cargo.toml"),
            "[package]\nname = \"emulated\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
        )
        .expect("a manifest");
        std::fs::create_dir_all(dir.path().join("src")).expect("src");
        std::fs::write(dir.path().join("src/main.rs"), "fn main() {}\n").expect("main.rs");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(&bin)
            .args(["lambda", "watch", "--only-lambda-apis", "-A", "127.0.0.1"])
            .args(["-P", &port.to_string()])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cargo lambda watch starts");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "cargo lambda watch did not listen"
            );
            std::thread::sleep(POLL);
        }
        Self {
            child,
            port,
            _dir: dir,
        }
    }

    /// `AWS_LAMBDA_RUNTIME_API` as the emulator gives it to a function.
    fn runtime_api(&self) -> String {
        format!("http://127.0.0.1:{}/.rt", self.port)
    }

    /// `cargo lambda invoke` with `payload`: the function's answer, as JSON.
    fn invoke(&self, payload: &Value) -> Value {
        let file = tempfile::NamedTempFile::new().expect("a payload file");
        std::fs::write(file.path(), payload.to_string()).expect("the payload");
        let output = Command::new(Self::bin())
            .args([
                "lambda",
                "invoke",
                "-A",
                "127.0.0.1",
                "-P",
                &self.port.to_string(),
            ])
            .arg("--data-file")
            .arg(file.path())
            .output()
            .expect("cargo lambda invoke runs");
        assert!(
            output.status.success(),
            "cargo lambda invoke: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|err| panic!("{err}: {}", String::from_utf8_lossy(&output.stdout)))
    }
}

impl Drop for CargoLambda {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_function_runs_under_cargo_lambdas_emulator() {
    let emulator = CargoLambda::start();
    let site = Site::new(&config());
    site.put("inbox", "ok/emulated.txt", "emulated");
    let mut function = Command::new(s3plug_bin());
    function
        .arg("lambda")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", emulator.runtime_api())
        .env("AWS_REGION", "us-east-1")
        .env("S3PLUG_CONFIG", site.dir.path().join("s3plug.toml"))
        .env("S3PLUG_STORE", format!("dir:{}", site.data().display()))
        .env("S3PLUG_CACHE_DIR", COMPILE_CACHE)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = function.spawn().expect("s3plug starts");
    let summary = emulator.invoke(&s3_event(&[RawRecord::put("inbox", "ok/emulated.txt")]));
    assert_eq!(
        counts(&summary),
        json!({ "records": 1, "ok": 1, "failed": 0, "unrouted": 0, "ignored": 0 }),
        "{summary:#}"
    );
    assert_eq!(
        site.object("inbox", "out/ok/emulated.txt").as_deref(),
        Some("emulated")
    );
    // An SQS batch: exactly the failed message comes back.
    let one = |key: &str| s3_event(&[RawRecord::put("inbox", key)]).to_string();
    let response = emulator.invoke(&sqs_event(vec![
        sqs_message(
            "11111111-87a3-44ab-83d2-661975830a7d",
            &one("echo/fine.txt"),
        ),
        sqs_message("22222222-f796-459a-8184-9c92662be6da", &one("fail/bad.txt")),
    ]));
    assert_eq!(
        response["batchItemFailures"],
        json!([{ "itemIdentifier": "22222222-f796-459a-8184-9c92662be6da" }]),
        "{response:#}"
    );
    // SNS and EventBridge envelopes, through the same emulated invocations.
    site.put("inbox", "ok/via-sns.txt", "sns");
    let summary = emulator.invoke(&sns_event(&s3_event(&[RawRecord::put(
        "inbox",
        "ok/via-sns.txt",
    )])));
    assert_eq!(counts(&summary)["ok"], 1, "{summary:#}");
    assert_eq!(
        site.object("inbox", "out/ok/via-sns.txt").as_deref(),
        Some("sns")
    );
    site.put("inbox", "ok/via-eventbridge.txt", "eb");
    let summary = emulator.invoke(&eventbridge_object_created(
        "inbox",
        "ok/via-eventbridge.txt",
        2,
    ));
    assert_eq!(counts(&summary)["ok"], 1, "{summary:#}");
    assert_eq!(
        site.object("inbox", "out/ok/via-eventbridge.txt")
            .as_deref(),
        Some("eb")
    );
    let _ = child.kill();
    let _ = child.wait();
}
