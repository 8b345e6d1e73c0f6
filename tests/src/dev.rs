//! A running `s3plug dev`, its live log, and the S3 clients that talk to it: the AWS CLI
//! (from `scripts/install-test-deps`), as a plugin author would, and s3plug's own client.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use s3plug_host::store::{S3Settings, S3Store, StaticCredentials};
use serde_json::Value;

use crate::{COMPILE_CACHE, repo_root, s3plug_bin};

const ACCESS_KEY: &str = "dev-test-key";
const SECRET_KEY: &str = "dev-test-secret";
const REGION: &str = "eu-west-1";

/// Where `scripts/install-test-deps` puts the AWS CLI.
pub fn aws_cli_bin() -> PathBuf {
    repo_root().join("target/test-venv/bin/aws")
}

/// `s3plug dev --json` on a folder, stopped (SIGTERM) on drop.
#[derive(Debug)]
pub struct DevServer {
    child: Child,
    lines: Receiver<Value>,
    /// Lines read but not taken by [`DevServer::wait_for`] yet.
    backlog: Mutex<Vec<Value>>,
    /// The first line: the endpoint, buckets and plugins.
    pub banner: Value,
    pub endpoint: String,
    pub dir: PathBuf,
}

impl DevServer {
    /// Starts `s3plug dev` on `config`, with buckets in `dir`, and waits for its banner.
    pub fn start(config: &Path, dir: &Path) -> Self {
        let mut child = Command::new(s3plug_bin())
            .args([
                "dev",
                "--json",
                "--listen",
                "127.0.0.1:0",
                "--access-key",
                ACCESS_KEY,
                "--secret-key",
                SECRET_KEY,
                "--region",
                REGION,
            ])
            .arg("--config")
            .arg(config)
            .arg("--dir")
            .arg(dir)
            .env("S3PLUG_CACHE_DIR", COMPILE_CACHE)
            .env_remove("S3PLUG_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("s3plug dev starts");
        let stdout = child.stdout.take().expect("piped");
        let (sender, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let value: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|err| panic!("s3plug dev printed non-JSON {line:?}: {err}"));
                if sender.send(value).is_err() {
                    break;
                }
            }
        });
        let banner = match lines.recv_timeout(Duration::from_secs(120)) {
            Ok(banner) => banner,
            Err(err) => {
                let _ = child.kill();
                let status = child.wait();
                panic!("s3plug dev printed no banner ({err}); it ended with {status:?}")
            }
        };
        let endpoint = banner["listening"]
            .as_str()
            .unwrap_or_else(|| panic!("no endpoint in {banner}"))
            .to_owned();
        Self {
            child,
            lines,
            backlog: Mutex::new(Vec::new()),
            banner,
            endpoint,
            dir: dir.to_path_buf(),
        }
    }

    /// The first live-log line that `matches`, in the order printed; lines passed over
    /// are kept for later calls. Panics after `timeout`, quoting the lines not taken.
    pub fn wait_for(&self, timeout: Duration, matches: impl Fn(&Value) -> bool) -> Value {
        let mut backlog = self.backlog.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(at) = backlog.iter().position(&matches) {
            return backlog.remove(at);
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if matches(&line) => return line,
                Ok(line) => backlog.push(line),
                Err(RecvTimeoutError::Timeout) => {
                    panic!("no matching line within {timeout:?}; not taken: {backlog:#?}")
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("s3plug dev ended; not taken: {backlog:#?}")
                }
            }
        }
    }

    /// The outcome of `plugin` (`None`: a record no plugin took) for `bucket/key`.
    pub fn outcome(&self, bucket: &str, key: &str, plugin: Option<&str>) -> Value {
        self.wait_for(Duration::from_secs(60), |line| {
            line["bucket"] == bucket
                && line["key"] == key
                && line["plugin"].as_str() == plugin
                && line.get("status").is_some()
        })
    }

    /// The lines not taken yet, and every line printed within `quiet` of the one before.
    pub fn lines_until_quiet(&self, quiet: Duration) -> Vec<Value> {
        let mut lines: Vec<Value> = self
            .backlog
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
            .collect();
        lines.extend(std::iter::from_fn(|| self.lines.recv_timeout(quiet).ok()));
        lines
    }

    /// The environment the AWS CLI needs for this endpoint, and nothing of the machine's.
    pub fn apply_client_env<'a>(&self, command: &'a mut Command) -> &'a mut Command {
        for name in [
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_S3",
            "AWS_CA_BUNDLE",
        ] {
            command.env_remove(name);
        }
        command
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_DEFAULT_REGION", REGION)
            .env("AWS_REGION", REGION)
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
    }

    /// Runs `aws ARGS --endpoint-url ENDPOINT` and insists that it succeeds.
    pub fn aws(&self, args: &[&str]) -> Output {
        let bin = aws_cli_bin();
        assert!(
            bin.is_file(),
            "{} is missing: run scripts/install-test-deps (scripts/test does)",
            bin.display()
        );
        let mut command = Command::new(bin);
        command.args(args).args(["--endpoint-url", &self.endpoint]);
        let output = self
            .apply_client_env(&mut command)
            .output()
            .expect("the AWS CLI runs");
        assert!(
            output.status.success(),
            "aws {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// s3plug's own S3 client on this endpoint.
    pub fn store(&self) -> S3Store {
        crate::block_on(S3Store::connect_with(S3Settings {
            endpoint: Some(self.endpoint.clone()),
            region: Some(REGION.to_owned()),
            credentials: Some(StaticCredentials {
                access_key_id: ACCESS_KEY.to_owned(),
                secret_access_key: SECRET_KEY.to_owned(),
            }),
        }))
        .expect("the S3 client connects")
    }

    /// Sends SIGTERM, as Ctrl-C would send SIGINT.
    pub fn terminate(&self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "cannot signal {pid}");
    }

    /// Stops it with SIGTERM and returns the last line (the tally) and the exit status.
    pub fn stop(mut self) -> (Value, std::process::ExitStatus) {
        self.terminate();
        let tally = self.wait_for(Duration::from_secs(60), |line| line["stopped"] == true);
        let status = self.child.wait().expect("s3plug dev ends");
        (tally, status)
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
