//! The accept loop of s3plug's HTTP servers (`s3plug serve`'s webhooks, `s3plug dev`'s S3
//! endpoint): HTTP/1 on each accepted socket, with a bound on how long a client may take to
//! send its headers, until told to stop. A crate of its own so that neither the runtime nor
//! the author tooling carries the other's server.

use std::time::Duration;

use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::service::HttpService;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

/// How long a client may take to send a request's headers: a slow or stalled client holds a
/// connection only this long.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `service` on every connection `listener` accepts, until `stop` completes.
pub async fn accept_until<S>(listener: TcpListener, service: S, stop: impl Future<Output = ()>)
where
    S: HttpService<Incoming> + Clone + Send + 'static,
    S::Future: Send,
    S::ResBody: Send + 'static,
    <S::ResBody as Body>::Data: Send,
    <S::ResBody as Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut stop = std::pin::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    tracing::warn!("accept failed: {err}");
                    continue;
                }
            },
            () = &mut stop => return,
        };
        // Small responses must not wait for delayed ACKs (40 ms a round trip on Linux).
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        tokio::spawn(async move {
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            if let Err(err) = connection.await {
                tracing::debug!(%peer, "connection ended: {err}");
            }
        });
    }
}
