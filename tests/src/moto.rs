//! A real S3-compatible server for the tests: moto's, from PyPI, installed in
//! `target/test-venv` by `scripts/install-test-deps` (which scripts/test runs).
//!
//! Each test starts its own server on a free port of 127.0.0.1 (about a second) and the
//! server is killed when the [`MotoServer`] is dropped, so tests share no state. Moto does
//! not check signatures, which lets the helpers here speak plain HTTP to it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use s3plug_host::store::{S3Settings, S3Store, StaticCredentials};

use crate::repo_root;

/// How long moto may take to answer after it starts: it imports every AWS service it
/// emulates, about a second on an idle machine, more on one busy compiling.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// The credentials and region moto is given; it accepts any.
const ACCESS_KEY_ID: &str = "testing";
const SECRET_ACCESS_KEY: &str = "testing";
const REGION: &str = "us-east-1";

/// A moto server, killed on drop.
#[derive(Debug)]
pub struct MotoServer {
    child: Child,
    port: u16,
    log: tempfile::NamedTempFile,
    startup: Duration,
}

/// Where `scripts/install-test-deps` puts moto's server.
pub fn moto_server_bin() -> PathBuf {
    repo_root().join("target/test-venv/bin/moto_server")
}

impl MotoServer {
    /// Starts a server and waits until it answers.
    pub fn start() -> Self {
        Self::start_with_env(&[])
    }

    /// Starts a server that authorises every request against IAM once its first
    /// `free_actions` requests are done (moto's `INITIAL_NO_AUTH_ACTION_COUNT`): those set up
    /// buckets, users and policies; [`MotoServer::enforce_iam_now`] spends the rest.
    pub fn start_enforcing_iam(free_actions: u32) -> Self {
        Self::start_with_env(&[("INITIAL_NO_AUTH_ACTION_COUNT", free_actions.to_string())])
    }

    /// Spends the free requests of [`MotoServer::start_enforcing_iam`] until one is refused,
    /// so that every request from here on is checked against IAM.
    pub fn enforce_iam_now(&self) {
        for _ in 0..10_000 {
            // Unsigned, a checked request is refused (403, or 500 from moto's checker).
            match self.request("GET", "/") {
                Ok((200, _)) => continue,
                Ok(_) => return,
                Err(err) => panic!("moto did not answer while its free requests ran out: {err}"),
            }
        }
        panic!("moto never started enforcing IAM");
    }

    fn start_with_env(env: &[(&str, String)]) -> Self {
        let bin = moto_server_bin();
        assert!(
            bin.is_file(),
            "{} is missing: run scripts/install-test-deps (scripts/test does) to install \
             moto's S3 server",
            bin.display()
        );
        // The port is free when probed; another process may take it before moto binds it,
        // so a server that exits at once is started again on another port.
        let mut attempts = 0;
        loop {
            attempts += 1;
            let started = Instant::now();
            let port = free_port();
            let log = tempfile::NamedTempFile::new().expect("a log file for moto");
            let child = Command::new(&bin)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .envs(env.iter().map(|(name, value)| (name, value)))
                .stdin(Stdio::null())
                .stdout(log.reopen().expect("the log reopens"))
                .stderr(log.reopen().expect("the log reopens"))
                .spawn()
                .unwrap_or_else(|err| panic!("cannot start {}: {err}", bin.display()));
            let mut server = Self {
                child,
                port,
                log,
                startup: Duration::ZERO,
            };
            match server.wait_until_ready(started) {
                Ok(()) => {
                    server.startup = started.elapsed();
                    return server;
                }
                Err(why) if attempts < 3 => drop(why),
                Err(why) => panic!("moto did not start: {why}\n{}", server.log_text()),
            }
        }
    }

    fn wait_until_ready(&mut self, started: Instant) -> Result<(), String> {
        while started.elapsed() < STARTUP_TIMEOUT {
            if let Some(status) = self.child.try_wait().map_err(|err| err.to_string())? {
                return Err(format!("moto exited with {status}"));
            }
            if matches!(self.request("GET", "/"), Ok((200, _))) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        Err(format!(
            "moto did not answer on port {} within {STARTUP_TIMEOUT:?}",
            self.port
        ))
    }

    /// How long the server took to answer its first request.
    pub fn startup(&self) -> Duration {
        self.startup
    }

    /// The server's URL, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The environment a child `s3plug` needs to use this server with `--store s3`:
    /// `(name, Some(value))` to set, `(name, None)` to remove, so that no profile,
    /// session token or instance metadata of the machine takes part.
    pub fn env(&self) -> Vec<(&'static str, Option<String>)> {
        let mut env = vec![
            ("AWS_ENDPOINT_URL", Some(self.endpoint())),
            ("AWS_ACCESS_KEY_ID", Some(ACCESS_KEY_ID.to_owned())),
            ("AWS_SECRET_ACCESS_KEY", Some(SECRET_ACCESS_KEY.to_owned())),
            ("AWS_REGION", Some(REGION.to_owned())),
            ("AWS_EC2_METADATA_DISABLED", Some("true".to_owned())),
        ];
        for name in [
            "AWS_ENDPOINT_URL_S3",
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_DEFAULT_REGION",
            "AWS_SESSION_TOKEN",
            "AWS_SECURITY_TOKEN",
            "AWS_ROLE_ARN",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "S3PLUG_S3_VIRTUAL_HOSTED",
        ] {
            env.push((name, None));
        }
        env
    }

    /// Applies [`MotoServer::env`] to a command.
    pub fn apply_env<'a>(&self, command: &'a mut Command) -> &'a mut Command {
        for (name, value) in self.env() {
            match value {
                Some(value) => command.env(name, value),
                None => command.env_remove(name),
            };
        }
        command
    }

    /// An [`S3Store`] on this server, with the test credentials (the test process's own
    /// environment is not read for them).
    pub fn store(&self) -> S3Store {
        crate::block_on(S3Store::connect_with(S3Settings {
            endpoint: Some(self.endpoint()),
            region: Some(REGION.to_owned()),
            credentials: Some(StaticCredentials {
                access_key_id: ACCESS_KEY_ID.to_owned(),
                secret_access_key: SECRET_ACCESS_KEY.to_owned(),
            }),
        }))
        .expect("the S3 store connects to moto")
    }

    /// Creates buckets.
    pub fn create_buckets(&self, names: &[&str]) {
        for name in names {
            let (status, body) = self
                .request("PUT", &format!("/{name}"))
                .unwrap_or_else(|err| panic!("cannot create bucket {name:?}: {err}"));
            assert_eq!(status, 200, "cannot create bucket {name:?}: {body}");
        }
    }

    /// The keys of the multipart uploads started and neither completed nor aborted in
    /// `bucket` (ListMultipartUploads).
    pub fn pending_uploads(&self, bucket: &str) -> Vec<String> {
        let (status, body) = self
            .request("GET", &format!("/{bucket}?uploads"))
            .unwrap_or_else(|err| panic!("cannot list the uploads of {bucket:?}: {err}"));
        assert_eq!(status, 200, "cannot list the uploads of {bucket:?}: {body}");
        body.split("<Upload>")
            .skip(1)
            .filter_map(|upload| {
                let start = upload.find("<Key>")? + "<Key>".len();
                let end = upload[start..].find("</Key>")? + start;
                Some(upload[start..end].to_owned())
            })
            .collect()
    }

    /// One unsigned HTTP/1.1 request; the status and body of the answer.
    fn request(&self, method: &str, path: &str) -> std::io::Result<(u16, String)> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\n\
             Connection: close\r\n\r\n",
            self.port
        )?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer)?;
        let answer = String::from_utf8_lossy(&answer);
        let status = answer
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("not HTTP: {answer:?}")))?;
        let body = answer
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned())
            .unwrap_or_default();
        Ok((status, body))
    }

    /// What moto printed.
    fn log_text(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port on 127.0.0.1")
        .port()
}
