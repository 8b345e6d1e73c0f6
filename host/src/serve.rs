//! `s3plug serve`: the pipeline behind an HTTP endpoint for the webhook notifications of
//! S3-compatible stores (MinIO, Ceph RGW), so self-hosted users can run it without Lambda.
//!
//! Every request must carry the shared secret (`Authorization: Bearer <token>`, or the
//! token alone, as MinIO's `auth_token` sends it). A notification whose records all
//! succeeded, or failed for good, is answered 200 with the summary; one with a failure a
//! retry may fix is answered 503, so the store delivers it again; a body that is not an S3
//! event is answered 400.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

use s3plug_host::config::Config;
use s3plug_host::event;
use s3plug_host::pipeline::Pipeline;
use s3plug_host::report::Summary;
use s3plug_host::{plugin, store};

/// The largest notification body accepted.
const MAX_BODY_BYTES: usize = 16 << 20;

/// How long a client may take to send a request's body, after its headers (which
/// `s3plug_http::HEADER_READ_TIMEOUT` bounds): a stalled client holds a connection only this
/// long.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// What a store's webhook is told to wait before it sends a refused notification again.
const RETRY_AFTER_SECONDS: u32 = 1;

/// Serves until the process is stopped. Prints `listening on ADDR` on stdout once bound.
pub async fn serve(
    pipeline: Pipeline,
    listen: SocketAddr,
    token: Option<String>,
    max_requests: usize,
) -> anyhow::Result<u8> {
    {
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let bound = listener.local_addr()?;
        println!("listening on {bound}");
        tracing::info!(%bound, auth = token.is_some(), max_requests, "serving webhook notifications");
        let state = Arc::new(Server {
            admitted: Arc::new(tokio::sync::Semaphore::new(max_requests.max(1))),
            pipeline,
            token_digest: token.map(|t| digest(&t)),
        });
        let service = service_fn(move |request| {
            let state = state.clone();
            async move { Ok::<_, Infallible>(state.handle(request).await) }
        });
        s3plug_http::accept_until(listener, service, std::future::pending()).await;
        Ok(0)
    }
}

struct Server {
    pipeline: Pipeline,
    /// Notifications processed at once; past them a request is answered 503 with
    /// `Retry-After`, so the store's webhook sends it again instead of it waiting.
    admitted: Arc<tokio::sync::Semaphore>,
    /// Tokens are compared by digest, so the comparison takes the same time whatever the guess.
    token_digest: Option<[u8; 32]>,
}

fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

fn reply(status: StatusCode, body: serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        "application/json".parse().expect("a valid header value"),
    );
    response
}

impl Server {
    fn authorised(&self, request: &Request<Incoming>) -> bool {
        let Some(expected) = self.token_digest else {
            return true;
        };
        let given = request
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let token = given.strip_prefix("Bearer ").unwrap_or(given);
        digest(token) == expected
    }

    async fn handle(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        if request.method() == Method::GET && request.uri().path() == "/health" {
            return reply(StatusCode::OK, json!({ "status": "ok" }));
        }
        if !self.authorised(&request) {
            tracing::warn!(path = %request.uri().path(), "refused a request without the shared secret");
            return reply(
                StatusCode::UNAUTHORIZED,
                json!({ "error": "missing or wrong token" }),
            );
        }
        if request.method() != Method::POST {
            tracing::warn!(method = %request.method(), "refused a request: not a POST");
            return reply(
                StatusCode::METHOD_NOT_ALLOWED,
                json!({ "error": "POST a notification" }),
            );
        }
        let Ok(_admitted) = self.admitted.clone().try_acquire_owned() else {
            tracing::warn!("busy: a notification is refused with 503 for the store to send again");
            let mut busy = reply(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({ "error": "busy: send it again later" }),
            );
            busy.headers_mut()
                .insert(RETRY_AFTER, RETRY_AFTER_SECONDS.into());
            return busy;
        };
        let read = tokio::time::timeout(
            BODY_READ_TIMEOUT,
            Limited::new(request.into_body(), MAX_BODY_BYTES).collect(),
        )
        .await;
        let body = match read {
            Ok(Ok(body)) => body.to_bytes(),
            Ok(Err(err)) => {
                tracing::warn!("refused a notification: cannot read its body: {err}");
                return reply(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    json!({ "error": format!("cannot read the body: {err}") }),
                );
            }
            Err(_elapsed) => {
                tracing::warn!(
                    "refused a notification: its body took more than {BODY_READ_TIMEOUT:?}"
                );
                return reply(
                    StatusCode::REQUEST_TIMEOUT,
                    json!({ "error": "the body was not sent in time" }),
                );
            }
        };
        let decoded = match event::decode(&body) {
            Ok(decoded) => decoded,
            Err(err) => {
                tracing::warn!("refused a notification that is not an S3 event: {err}");
                return reply(StatusCode::BAD_REQUEST, json!({ "error": err.to_string() }));
            }
        };
        let outcomes = self.pipeline.process(&decoded).await;
        s3plug_host::metrics::emit_metrics(&outcomes, None);
        let summary = Summary::of(&outcomes);
        let status = if summary.has_retryable_failure() {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::OK
        };
        reply(status, serde_json::to_value(&summary).unwrap_or_default())
    }
}

/// `s3plug serve`: the token, the pipeline and the admission bound, then the server.
pub(crate) async fn command(
    config_path: &Path,
    listen: SocketAddr,
    store_spec: &str,
    no_auth: bool,
    max_requests: Option<usize>,
) -> anyhow::Result<u8> {
    let token = std::env::var("S3PLUG_WEBHOOK_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    anyhow::ensure!(
        token.is_some() || no_auth,
        "set S3PLUG_WEBHOOK_TOKEN to the store's webhook token (or pass --no-auth on a trusted network)"
    );
    let config = Config::load(config_path)?;
    let pipeline = Pipeline::load(&config, store::open(store_spec).await?).await?;
    // By default as many requests as can run all their calls at once; more would wait.
    let instances = plugin::EngineOptions::for_config(&config).instances as usize;
    let max_requests =
        max_requests.unwrap_or_else(|| (instances / config.host.concurrency.max(1)).max(1));
    serve(pipeline, listen, token, max_requests).await
}
