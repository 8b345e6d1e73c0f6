//! A local Lambda Runtime API, for running the real `s3plug lambda` process the way Lambda
//! does: the process long-polls `/next`, gets an event, and posts its answer back.
//!
//! It is a small HTTP/1.1 server on 127.0.0.1 (a thread per connection) that speaks the
//! documented endpoints:
//!
//! - `GET /2018-06-01/runtime/invocation/next`: blocks until a test queues an event with
//!   [`RuntimeApi::invoke`], then answers it with the headers Lambda sends.
//! - `POST /2018-06-01/runtime/invocation/{id}/response` and `.../{id}/error`: the answer,
//!   seen by the test as a [`Reply`].
//! - `POST /2018-06-01/runtime/init/error`: seen with [`RuntimeApi::init_error`].
//!
//! Connections are kept alive; request bodies come with `Content-Length` or
//! `Transfer-Encoding: chunked` (trailers are recorded as headers); responses always carry
//! `Content-Length`. Every request is recorded ([`RuntimeApi::requests`]) so tests can
//! assert on paths and headers, and every wait is bounded and panics with the traffic so far.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// The longest request line or header line accepted, in bytes: far above what any runtime
/// client sends, low enough that a broken client cannot make the server buffer without end.
const MAX_LINE_BYTES: usize = 16 * 1024;

/// The most header (or trailer) lines accepted in one request.
const MAX_HEADERS: usize = 100;

/// The largest request body accepted, in bytes. Lambda's own limit for a response is 6 MB;
/// anything above this is a client bug, answered with 413.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// How far in the future the `Lambda-Runtime-Deadline-Ms` of an invocation is: 15 minutes,
/// Lambda's longest function timeout, so a slow test machine never meets it.
const DEADLINE: Duration = Duration::from_secs(15 * 60);

/// How often a blocked `/next` looks whether the server is shutting down.
const SHUTDOWN_POLL: Duration = Duration::from_millis(100);

/// The function ARN sent with every invocation.
pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:s3plug-e2e";

const NEXT_PATH: &str = "/2018-06-01/runtime/invocation/next";
const INVOCATION_PREFIX: &str = "/2018-06-01/runtime/invocation/";
const INIT_ERROR_PATH: &str = "/2018-06-01/runtime/init/error";

/// A running Runtime API. Dropping it stops the server and closes its connections.
#[derive(Debug)]
pub struct RuntimeApi {
    shared: Arc<Shared>,
    addr: SocketAddr,
    acceptor: Option<JoinHandle<()>>,
}

/// What the function answered for one invocation (or at init).
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `POST .../{id}/response`: the body, parsed as JSON (a body that is not JSON is kept
    /// as a JSON string, so an assertion on it fails showing the text).
    Response(Value),
    /// `POST .../{id}/error` or `/init/error`: `errorType` and `errorMessage` of the body
    /// (`errorType` falls back to the `Lambda-Runtime-Function-Error-Type` header), and the
    /// whole body.
    Error {
        error_type: String,
        message: String,
        body: Value,
    },
}

impl Reply {
    /// The response body; panics if the function answered with an error.
    pub fn response(self) -> Value {
        match self {
            Reply::Response(value) => value,
            Reply::Error { .. } => panic!("expected a response, got {self:#?}"),
        }
    }

    /// The `errorType` and `errorMessage`; panics if the function answered with a response.
    pub fn error(self) -> (String, String) {
        match self {
            Reply::Error {
                error_type,
                message,
                ..
            } => (error_type, message),
            Reply::Response(_) => panic!("expected an error, got {self:#?}"),
        }
    }
}

/// One request the server received, as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenRequest {
    pub method: String,
    pub path: String,
    /// Headers in arrival order, then chunked trailers; names as sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Whether the body came with `Transfer-Encoding: chunked`.
    pub chunked: bool,
}

impl SeenRequest {
    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        header_value(&self.headers, name)
    }
}

/// An event queued with [`RuntimeApi::invoke`].
#[derive(Debug)]
pub struct Invocation {
    shared: Arc<Shared>,
    request_id: String,
}

impl Invocation {
    /// The `Lambda-Runtime-Aws-Request-Id` the event is delivered with.
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// Whether the function has fetched the event from `/next`.
    pub fn delivered(&self) -> bool {
        self.shared.lock().delivered.contains(&self.request_id)
    }

    /// The reply, once the function posts one within `timeout`.
    pub fn try_wait(&self, timeout: Duration) -> Option<Reply> {
        let state = self.shared.wait_until(timeout, |state| {
            state.replies.contains_key(&self.request_id)
        });
        state.replies.get(&self.request_id).cloned()
    }

    /// The reply; panics with the traffic seen so far if none comes within `timeout`.
    pub fn wait(&self, timeout: Duration) -> Reply {
        self.try_wait(timeout).unwrap_or_else(|| {
            panic!(
                "no reply to invocation {:?} within {timeout:?} (delivered: {});\n{}",
                self.request_id,
                self.delivered(),
                self.shared.lock().traffic()
            )
        })
    }
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking connection thread must not hide the traffic from the test.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits until `done` holds or `timeout` passes; returns the state either way.
    fn wait_until(
        &self,
        timeout: Duration,
        mut done: impl FnMut(&State) -> bool,
    ) -> MutexGuard<'_, State> {
        let start = Instant::now();
        let mut state = self.lock();
        while !done(&state) {
            let Some(left) = timeout.checked_sub(start.elapsed()) else {
                break;
            };
            state = self
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
        state
    }

    fn update<T>(&self, change: impl FnOnce(&mut State) -> T) -> T {
        let result = change(&mut self.lock());
        self.changed.notify_all();
        result
    }
}

#[derive(Debug, Default)]
struct State {
    /// Events queued and not yet fetched.
    queue: VecDeque<Queued>,
    /// Request ids handed out by `/next`.
    delivered: HashSet<String>,
    replies: HashMap<String, Reply>,
    init_error: Option<Reply>,
    requests: Vec<SeenRequest>,
    /// Requests the server could not parse, and why.
    protocol_errors: Vec<String>,
    next_id: u64,
    /// A clone of every open connection, by number, closed at shutdown.
    connections: HashMap<u64, TcpStream>,
    next_connection: u64,
    shutting_down: bool,
}

impl State {
    /// Every request seen so far, one per line, with the bodies of posts.
    fn traffic(&self) -> String {
        let mut text = format!("Runtime API traffic ({} requests):\n", self.requests.len());
        for request in &self.requests {
            let _ = write!(text, "  {} {}", request.method, request.path);
            if !request.body.is_empty() {
                let body = String::from_utf8_lossy(&request.body);
                let shown: String = body.chars().take(600).collect();
                let _ = write!(text, " {shown}");
            }
            text.push('\n');
        }
        for error in &self.protocol_errors {
            let _ = writeln!(text, "  protocol error: {error}");
        }
        if !self.queue.is_empty() {
            let waiting: Vec<&str> = self.queue.iter().map(|q| q.request_id.as_str()).collect();
            let _ = writeln!(text, "  not fetched yet: {waiting:?}");
        }
        text
    }
}

#[derive(Debug)]
struct Queued {
    request_id: String,
    payload: Vec<u8>,
    deadline_ms: u128,
    trace_id: String,
}

impl RuntimeApi {
    /// Starts a server on a free port of 127.0.0.1.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port on 127.0.0.1");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let shared = Arc::new(Shared::default());
        let acceptor = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("runtime-api-accept".into())
                .spawn(move || accept_loop(&listener, &shared))
                .expect("the accept thread starts")
        };
        Self {
            shared,
            addr,
            acceptor: Some(acceptor),
        }
    }

    /// `127.0.0.1:PORT`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// Queues an event under a fresh request id; the next `/next` gets it.
    pub fn invoke(&self, payload: Value) -> Invocation {
        self.invoke_with_deadline(payload, DEADLINE)
    }

    /// Queues an event whose deadline is `deadline` from now, as a function timeout of that
    /// length gives it.
    pub fn invoke_with_deadline(&self, payload: Value, deadline: Duration) -> Invocation {
        let payload = serde_json::to_vec(&payload).expect("a JSON value serialises");
        let request_id = self.shared.update(|state| {
            state.next_id += 1;
            let n = state.next_id;
            let request_id = format!("8476a536-e9f4-11e8-9739-{n:012x}");
            state.queue.push_back(Queued {
                request_id: request_id.clone(),
                payload,
                deadline_ms: epoch_ms() + deadline.as_millis(),
                trace_id: format!("Root=1-5bef4de7-ad49b0e87f6ef6c87fc2{n:04x};Sampled=0"),
            });
            request_id
        });
        Invocation {
            shared: Arc::clone(&self.shared),
            request_id,
        }
    }

    /// The error posted to `/init/error`, if any (always a [`Reply::Error`]).
    pub fn init_error(&self) -> Option<Reply> {
        self.shared.lock().init_error.clone()
    }

    /// Every request received so far, in order of arrival.
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.shared.lock().requests.clone()
    }

    /// The paths of the requests received so far, in order of arrival.
    pub fn paths(&self) -> Vec<String> {
        let state = self.shared.lock();
        state.requests.iter().map(|r| r.path.clone()).collect()
    }

    /// Requests the server refused as malformed HTTP, and why.
    pub fn protocol_errors(&self) -> Vec<String> {
        self.shared.lock().protocol_errors.clone()
    }

    /// Every request seen so far, for failure messages.
    pub fn traffic(&self) -> String {
        self.shared.lock().traffic()
    }

    /// Waits until `count` requests to `/next` have arrived (the last one may still be
    /// blocked); panics with the traffic if they do not come within `timeout`.
    pub fn wait_for_next_polls(&self, count: usize, timeout: Duration) {
        let state = self.shared.wait_until(timeout, |state| {
            state
                .requests
                .iter()
                .filter(|r| r.path == NEXT_PATH)
                .count()
                >= count
        });
        let seen = state
            .requests
            .iter()
            .filter(|r| r.path == NEXT_PATH)
            .count();
        assert!(
            seen >= count,
            "{seen} of {count} polls of /next within {timeout:?};\n{}",
            state.traffic()
        );
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        let connections = self.shared.update(|state| {
            state.shutting_down = true;
            std::mem::take(&mut state.connections)
        });
        for connection in connections.values() {
            let _ = connection.shutdown(Shutdown::Both);
        }
        // Wake the accept loop, which then sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn epoch_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_millis()
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for stream in listener.incoming() {
        let registered = stream.and_then(|stream| {
            let clone = stream.try_clone()?;
            Ok(shared.update(|state| {
                (!state.shutting_down).then(|| {
                    state.next_connection += 1;
                    state.connections.insert(state.next_connection, clone);
                    (state.next_connection, stream)
                })
            }))
        });
        let (number, stream) = match registered {
            Ok(Some(registered)) => registered,
            Ok(None) => return,
            Err(_) if shared.lock().shutting_down => return,
            Err(_) => continue,
        };
        let shared = Arc::clone(shared);
        std::thread::Builder::new()
            .name("runtime-api-conn".into())
            .spawn(move || {
                serve_connection(&stream, &shared);
                // Close it now: the clone kept for shutdown would hold the socket open.
                let _ = stream.shutdown(Shutdown::Both);
                shared.update(|state| state.connections.remove(&number));
            })
            .expect("a connection thread starts");
    }
}

/// Serves requests on one connection until the client closes it, asks to close it, or the
/// server shuts down.
fn serve_connection(stream: &TcpStream, shared: &Shared) {
    let mut reader = BufReader::new(stream);
    let mut writer = stream;
    loop {
        let head = match read_head(&mut reader) {
            Ok(Some(head)) => head,
            Ok(None) => return,
            Err(err) => {
                refuse(shared, &mut writer, &err);
                return;
            }
        };
        let Some((method, path)) = head.request_line() else {
            let err = io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad request line {:?}", head.start_line),
            );
            refuse(shared, &mut writer, &err);
            return;
        };
        if head
            .header("expect")
            .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
            && writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").is_err()
        {
            return;
        }
        let body = match read_body(&mut reader, &head) {
            Ok(body) => body,
            Err(err) => {
                refuse(shared, &mut writer, &err);
                return;
            }
        };
        let mut headers = head.headers.clone();
        headers.extend(body.trailers);
        let request = SeenRequest {
            method: method.to_owned(),
            path: path.to_owned(),
            headers,
            body: body.bytes,
            chunked: body.chunked,
        };
        let close = head
            .header("connection")
            .is_some_and(|c| c.eq_ignore_ascii_case("close"));
        shared.update(|state| state.requests.push(request.clone()));
        let Some(answer) = route(shared, &request) else {
            // Shutting down while /next waited: no answer, the connection closes.
            return;
        };
        if write_answer(&mut writer, &answer, close).is_err() || close {
            return;
        }
    }
}

/// Records a malformed request and answers it with a 400 (or 413), then the caller closes.
fn refuse(shared: &Shared, writer: &mut impl Write, err: &io::Error) {
    if err.kind() != io::ErrorKind::InvalidData {
        // The client went away (or the server is shutting down): nothing to answer.
        return;
    }
    let message = err.to_string();
    let status = if message.contains("too large") {
        413
    } else {
        400
    };
    shared.update(|state| state.protocol_errors.push(message.clone()));
    let body = serde_json::json!({ "errorType": "InvalidRequest", "errorMessage": message });
    let _ = write_answer(writer, &Answer::json(status, &body), true);
}

/// What the server sends back.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn json(status: u16, body: &Value) -> Self {
        Self {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }

    fn accepted() -> Self {
        Self::json(202, &serde_json::json!({ "status": "OK" }))
    }
}

fn route(shared: &Shared, request: &SeenRequest) -> Option<Answer> {
    let method = request.method.as_str();
    let path = request.path.as_str();
    if method == "GET" && path == NEXT_PATH {
        return next_event(shared);
    }
    if method == "POST" && path == INIT_ERROR_PATH {
        let reply = error_reply(request);
        shared.update(|state| state.init_error = Some(reply));
        return Some(Answer::accepted());
    }
    if method == "POST"
        && let Some(rest) = path.strip_prefix(INVOCATION_PREFIX)
        && let Some((id, kind)) = rest.split_once('/')
        && (kind == "response" || kind == "error")
    {
        let reply = if kind == "response" {
            Reply::Response(json_or_text(&request.body))
        } else {
            error_reply(request)
        };
        let taken = shared.update(|state| {
            if !state.delivered.contains(id) {
                Err(format!("request id {id:?} was never delivered by /next"))
            } else if state.replies.contains_key(id) {
                Err(format!("request id {id:?} already has a reply"))
            } else {
                state.replies.insert(id.to_owned(), reply);
                Ok(())
            }
        });
        return Some(match taken {
            Ok(()) => Answer::accepted(),
            Err(message) => Answer::json(
                400,
                &serde_json::json!({ "errorType": "InvalidRequestID", "errorMessage": message }),
            ),
        });
    }
    Some(Answer::json(
        404,
        &serde_json::json!({ "errorType": "NotFound", "errorMessage": format!("no endpoint {method} {path}") }),
    ))
}

/// The long poll: waits for a queued event, or returns `None` when the server shuts down.
fn next_event(shared: &Shared) -> Option<Answer> {
    let queued = loop {
        let mut state = shared.wait_until(SHUTDOWN_POLL, |state| {
            state.shutting_down || !state.queue.is_empty()
        });
        if state.shutting_down {
            return None;
        }
        if let Some(queued) = state.queue.pop_front() {
            state.delivered.insert(queued.request_id.clone());
            drop(state);
            shared.changed.notify_all();
            break queued;
        }
    };
    Some(Answer {
        status: 200,
        headers: vec![
            ("Content-Type".into(), "application/json".into()),
            ("Lambda-Runtime-Aws-Request-Id".into(), queued.request_id),
            (
                "Lambda-Runtime-Deadline-Ms".into(),
                queued.deadline_ms.to_string(),
            ),
            (
                "Lambda-Runtime-Invoked-Function-Arn".into(),
                FUNCTION_ARN.into(),
            ),
            ("Lambda-Runtime-Trace-Id".into(), queued.trace_id),
        ],
        body: queued.payload,
    })
}

fn error_reply(request: &SeenRequest) -> Reply {
    let body = json_or_text(&request.body);
    let error_type = body
        .get("errorType")
        .and_then(Value::as_str)
        .or_else(|| request.header("lambda-runtime-function-error-type"))
        .unwrap_or_default()
        .to_owned();
    let message = body
        .get("errorMessage")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Reply::Error {
        error_type,
        message,
        body,
    }
}

fn json_or_text(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

fn write_answer(writer: &mut impl Write, answer: &Answer, close: bool) -> io::Result<()> {
    let reason = match answer.status {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        404 => "Not Found",
        413 => "Payload Too Large",
        _ => "Unknown",
    };
    let mut head = format!("HTTP/1.1 {} {reason}\r\n", answer.status);
    for (name, value) in &answer.headers {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    let _ = write!(head, "Content-Length: {}\r\n", answer.body.len());
    if close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&answer.body);
    writer.write_all(&bytes)?;
    writer.flush()
}

/// The start line and headers of an HTTP/1.1 message.
#[derive(Debug, Clone, PartialEq, Eq)]
struct MessageHead {
    /// `GET /path HTTP/1.1` or `HTTP/1.1 200 OK`.
    start_line: String,
    headers: Vec<(String, String)>,
}

impl MessageHead {
    /// The first value of a header, by case-insensitive name.
    fn header(&self, name: &str) -> Option<&str> {
        header_value(&self.headers, name)
    }

    /// The method and path of a request line.
    fn request_line(&self) -> Option<(&str, &str)> {
        let mut parts = self.start_line.split(' ');
        let (method, path, version) = (parts.next()?, parts.next()?, parts.next()?);
        (parts.next().is_none() && version.starts_with("HTTP/1.") && path.starts_with('/'))
            .then_some((method, path))
    }
}

/// A message body as read: its bytes, how it was framed, and chunked trailers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct MessageBody {
    bytes: Vec<u8>,
    chunked: bool,
    trailers: Vec<(String, String)>,
}

fn header_value<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

/// One line without its CRLF (a bare LF is accepted), or `None` at the end of the stream.
fn read_line(reader: &mut impl BufRead) -> io::Result<Option<String>> {
    let mut line = Vec::new();
    let limit = u64::try_from(MAX_LINE_BYTES).unwrap_or(u64::MAX) + 1;
    reader.take(limit).read_until(b'\n', &mut line)?;
    if line.is_empty() {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return Err(if line.len() > MAX_LINE_BYTES {
            invalid(format!("line too large: over {MAX_LINE_BYTES} bytes"))
        } else {
            io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed mid-line")
        });
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line)
        .map(Some)
        .map_err(|_| invalid("a line that is not UTF-8"))
}

/// Header lines up to the empty line.
fn read_header_lines(reader: &mut impl BufRead) -> io::Result<Vec<(String, String)>> {
    let mut headers = Vec::new();
    loop {
        let line = read_line(reader)?.ok_or_else(|| {
            io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed in headers")
        })?;
        if line.is_empty() {
            return Ok(headers);
        }
        if headers.len() == MAX_HEADERS {
            return Err(invalid(format!("more than {MAX_HEADERS} header lines")));
        }
        let (name, value) = line
            .split_once(':')
            .filter(|(name, _)| !name.is_empty() && !name.contains([' ', '\t']))
            .ok_or_else(|| invalid(format!("bad header line {line:?}")))?;
        headers.push((name.to_owned(), value.trim().to_owned()));
    }
}

/// The head of the next message, or `None` if the peer closed the connection between
/// messages.
fn read_head(reader: &mut impl BufRead) -> io::Result<Option<MessageHead>> {
    let Some(start_line) = read_line(reader)? else {
        return Ok(None);
    };
    let headers = read_header_lines(reader)?;
    Ok(Some(MessageHead {
        start_line,
        headers,
    }))
}

/// The body that follows `head`: chunked, or `Content-Length` bytes, or none.
fn read_body(reader: &mut impl BufRead, head: &MessageHead) -> io::Result<MessageBody> {
    let chunked = match head.header("transfer-encoding") {
        None => false,
        Some(coding) if coding.eq_ignore_ascii_case("chunked") => true,
        Some(other) => return Err(invalid(format!("unsupported transfer-encoding {other:?}"))),
    };
    if chunked {
        return read_chunked(reader);
    }
    let length = match head.header("content-length") {
        None => 0,
        Some(text) => text
            .parse::<usize>()
            .map_err(|_| invalid(format!("bad content-length {text:?}")))?,
    };
    if length > MAX_BODY_BYTES {
        return Err(invalid(format!(
            "body too large: {length} bytes, over {MAX_BODY_BYTES}"
        )));
    }
    let mut bytes = vec![0; length];
    reader.read_exact(&mut bytes)?;
    Ok(MessageBody {
        bytes,
        chunked: false,
        trailers: Vec::new(),
    })
}

fn read_chunked(reader: &mut impl BufRead) -> io::Result<MessageBody> {
    let mut bytes = Vec::new();
    loop {
        let line = read_line(reader)?.ok_or_else(|| {
            io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed in a chunk")
        })?;
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| invalid(format!("bad chunk size line {line:?}")))?;
        if size == 0 {
            let trailers = read_header_lines(reader)?;
            return Ok(MessageBody {
                bytes,
                chunked: true,
                trailers,
            });
        }
        if bytes.len().saturating_add(size) > MAX_BODY_BYTES {
            return Err(invalid(format!(
                "body too large: over {MAX_BODY_BYTES} bytes"
            )));
        }
        let start = bytes.len();
        bytes.resize(start + size, 0);
        reader.read_exact(&mut bytes[start..])?;
        let end = read_line(reader)?;
        if end.as_deref() != Some("") {
            return Err(invalid(format!(
                "chunk of {size} bytes not followed by CRLF but {end:?}"
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const WAIT: Duration = Duration::from_secs(10);

    /// A raw HTTP/1.1 client on one connection, as a runtime would hold it.
    struct Client {
        reader: BufReader<TcpStream>,
        writer: TcpStream,
    }

    impl Client {
        fn connect(api: &RuntimeApi) -> Self {
            let writer = TcpStream::connect(api.addr()).expect("the server accepts");
            writer
                .set_read_timeout(Some(WAIT))
                .expect("a timeout is set");
            let reader = BufReader::new(writer.try_clone().expect("the stream clones"));
            Self { reader, writer }
        }

        fn send(&mut self, raw: &str) {
            self.writer
                .write_all(raw.as_bytes())
                .expect("the request is sent");
        }

        /// The next response: status, head and body.
        fn receive(&mut self) -> (u16, MessageHead, Vec<u8>) {
            let head = read_head(&mut self.reader)
                .expect("a response head")
                .expect("the server answers before closing");
            assert!(
                head.header("transfer-encoding").is_none(),
                "responses carry Content-Length: {head:?}"
            );
            assert!(head.header("content-length").is_some(), "{head:?}");
            let body = read_body(&mut self.reader, &head).expect("a response body");
            let status = head
                .start_line
                .strip_prefix("HTTP/1.1 ")
                .and_then(|rest| rest.get(..3))
                .and_then(|code| code.parse().ok())
                .unwrap_or_else(|| panic!("bad status line {:?}", head.start_line));
            (status, head, body.bytes)
        }

        /// Whether the server closed the connection.
        fn closed(&mut self) -> bool {
            matches!(self.reader.fill_buf(), Ok([]))
        }
    }

    fn post(path: &str, body: &str) -> String {
        format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    }

    const GET_NEXT: &str = "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n";

    #[test]
    fn next_blocks_until_an_event_is_queued_and_a_sized_response_is_read() {
        let api = RuntimeApi::start();
        let mut client = Client::connect(&api);
        client.send(GET_NEXT);
        client
            .writer
            .set_read_timeout(Some(Duration::from_millis(300)))
            .expect("a timeout is set");
        let early = client.reader.fill_buf().map(<[u8]>::len);
        assert!(
            early.is_err(),
            "/next answered with nothing queued: {early:?}"
        );
        client
            .writer
            .set_read_timeout(Some(WAIT))
            .expect("a timeout is set");

        let payload = json!({ "Records": [], "note": "hello" });
        let invocation = api.invoke(payload.clone());
        let (status, head, body) = client.receive();
        assert_eq!(status, 200);
        assert_eq!(
            head.header("lambda-runtime-aws-request-id"),
            Some(invocation.request_id())
        );
        assert_eq!(
            head.header("Lambda-Runtime-Invoked-Function-Arn"),
            Some(FUNCTION_ARN)
        );
        let deadline: u128 = head
            .header("lambda-runtime-deadline-ms")
            .and_then(|d| d.parse().ok())
            .expect("an epoch-ms deadline");
        assert!(deadline > epoch_ms(), "{deadline}");
        assert!(
            head.header("lambda-runtime-trace-id")
                .is_some_and(|t| t.starts_with("Root=1-"))
        );
        assert_eq!(
            serde_json::from_slice::<Value>(&body).expect("JSON"),
            payload
        );
        assert!(invocation.delivered());
        assert_eq!(invocation.try_wait(Duration::ZERO), None);

        // The same connection, kept alive, carries the answer.
        let path = format!(
            "/2018-06-01/runtime/invocation/{}/response",
            invocation.request_id()
        );
        client.send(&post(&path, r#"{"batchItemFailures": []}"#));
        let (status, _, _) = client.receive();
        assert_eq!(status, 202);
        assert_eq!(
            invocation.wait(WAIT),
            Reply::Response(json!({ "batchItemFailures": [] }))
        );

        let requests = api.requests();
        assert_eq!(api.paths(), [NEXT_PATH, path.as_str()]);
        assert!(!requests[1].chunked);
        assert_eq!(requests[1].header("content-type"), Some("application/json"));
        assert!(api.protocol_errors().is_empty());
    }

    #[test]
    fn chunked_bodies_with_extensions_and_trailers_and_pipelined_requests_are_read() {
        let api = RuntimeApi::start();
        let invocation = api.invoke(json!({ "x": 1 }));
        let mut client = Client::connect(&api);
        client.send(GET_NEXT);
        assert_eq!(client.receive().0, 200);

        let body = r#"{"errorType":"Retryable","errorMessage":"1 of 2 failed"}"#;
        let (a, rest) = body.split_at(10);
        let (b, c) = rest.split_at(7);
        let chunked = format!(
            "POST /2018-06-01/runtime/invocation/{}/error HTTP/1.1\r\nhost: x\r\n\
             transfer-encoding: chunked\r\ntrailer: Lambda-Runtime-Function-Error-Type\r\n\r\n\
             {:x}\r\n{a}\r\n{:X};name=value\r\n{b}\r\n{:x}\r\n{c}\r\n0\r\n\
             Lambda-Runtime-Function-Error-Type: Retryable\r\n\r\n",
            invocation.request_id(),
            a.len(),
            b.len(),
            c.len()
        );
        // Both requests in one write: the server must not read past the first one's end.
        let init = post(
            INIT_ERROR_PATH,
            r#"{"errorType":"InitError","errorMessage":"bad config"}"#,
        );
        client.send(&format!("{chunked}{init}"));
        assert_eq!(client.receive().0, 202);
        assert_eq!(client.receive().0, 202);

        assert_eq!(
            invocation.wait(WAIT),
            Reply::Error {
                error_type: "Retryable".into(),
                message: "1 of 2 failed".into(),
                body: serde_json::from_str(body).expect("JSON"),
            }
        );
        let seen = &api.requests()[1];
        assert!(seen.chunked);
        assert_eq!(seen.body, body.as_bytes());
        assert_eq!(
            seen.header("lambda-runtime-function-error-type"),
            Some("Retryable")
        );
        assert_eq!(
            api.init_error().map(Reply::error),
            Some(("InitError".to_owned(), "bad config".to_owned()))
        );
        assert!(api.protocol_errors().is_empty());
    }

    #[test]
    fn an_error_type_only_in_the_header_is_used() {
        let api = RuntimeApi::start();
        let mut client = Client::connect(&api);
        client.send(&format!(
            "POST {INIT_ERROR_PATH} HTTP/1.1\r\nLambda-Runtime-Function-Error-Type: Runtime.InitError\r\n\
             Content-Length: 9\r\nConnection: close\r\n\r\nnot json!"
        ));
        let (status, head, _) = client.receive();
        assert_eq!((status, head.header("connection")), (202, Some("close")));
        assert!(client.closed());
        assert_eq!(
            api.init_error(),
            Some(Reply::Error {
                error_type: "Runtime.InitError".into(),
                message: String::new(),
                body: json!("not json!"),
            })
        );
    }

    #[test]
    fn unknown_ids_and_paths_are_answered_and_malformed_requests_refused() {
        let api = RuntimeApi::start();
        let mut client = Client::connect(&api);
        client.send(&post("/2018-06-01/runtime/invocation/nope/response", "{}"));
        let (status, _, body) = client.receive();
        assert_eq!(status, 400);
        assert!(String::from_utf8_lossy(&body).contains("never delivered"));
        client.send("GET /2018-06-01/runtime/elsewhere HTTP/1.1\r\n\r\n");
        assert_eq!(client.receive().0, 404);

        client.send(&format!(
            "POST {INIT_ERROR_PATH} HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
        ));
        let (status, head, _) = client.receive();
        assert_eq!((status, head.header("connection")), (400, Some("close")));
        assert!(client.closed());
        let errors = api.protocol_errors();
        assert!(
            errors.len() == 1 && errors[0].contains("bad chunk size"),
            "{errors:?}"
        );
        assert_eq!(api.init_error(), None);

        let mut client = Client::connect(&api);
        client.send(&format!(
            "POST {INIT_ERROR_PATH} HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY_BYTES + 1
        ));
        assert_eq!(client.receive().0, 413);
    }

    #[test]
    #[should_panic(expected = "no reply to invocation")]
    fn waiting_too_long_panics_with_the_traffic() {
        let api = RuntimeApi::start();
        api.invoke(json!({})).wait(Duration::from_millis(50));
    }

    #[test]
    fn dropping_the_server_releases_a_blocked_poll() {
        let api = RuntimeApi::start();
        let mut client = Client::connect(&api);
        client.send(GET_NEXT);
        api.wait_for_next_polls(1, WAIT);
        drop(api);
        assert!(client.closed());
    }
}
