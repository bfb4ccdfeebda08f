//! The listener loop, in place of `axum::serve` (which takes no settings):
//! HTTP/1.1 with the limits of `http.*` and a graceful stop.
//!
//! - A client must send a request's headers within `http.header_timeout`,
//!   and an idle keep-alive connection is closed after it (hyper's header
//!   read timeout runs while the connection waits for the next request), so
//!   trickling or idle clients cannot hold connections. A request's body and
//!   its handling are bounded by `http.request_timeout` (408) in the router.
//! - At most `http.max_connections` connections are served at once; one more
//!   is answered `503` naming the limit and closed at once, so the server
//!   keeps answering instead of running out of file descriptors.
//! - On [`Shutdown`] the listener closes (new connections are refused), each
//!   connection finishes the request it is serving and closes, and the loop
//!   returns once every connection is gone.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::settings::HttpLimits;
use crate::shutdown::Shutdown;

/// Serves `router` on `listener` until `shutdown`, then waits for the
/// connections in flight.
pub async fn serve(listener: TcpListener, router: Router, limits: HttpLimits, shutdown: Shutdown) {
    let max = u32::try_from(limits.max_connections)
        .unwrap_or(u32::MAX)
        .max(1);
    let slots = Arc::new(Semaphore::new(max as usize));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let busy = busy_answer(max);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // out of file descriptors, or a connection reset before
                    // it was accepted: wait a little instead of spinning
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.triggered() => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            metrics::counter!("shipmate_http_connections_refused_total").increment(1);
            // into the socket's send buffer, without waiting on the client
            let _ = stream.try_write(busy.as_bytes());
            continue;
        };
        let _ = stream.set_nodelay(true);
        let conn = http.serve_connection(
            TokioIo::new(stream),
            TowerToHyperService::new(router.clone()),
        );
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                }
                _ = shutdown.triggered() => {
                    // finish the request in flight, then close
                    conn.as_mut().graceful_shutdown();
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                }
            }
            drop(slot);
        });
    }
    drop(listener);
    // every slot back means every connection has closed
    let _ = slots.acquire_many(max).await;
}

/// The whole answer to a connection past the limit.
fn busy_answer(max: u32) -> String {
    let body = format!(
        "too many connections: this server serves at most {max} at once (http.max_connections); try again shortly\n"
    );
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}
