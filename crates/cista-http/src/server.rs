//! Serving: the HTTPS listener (TLS through rustls, every connection's parameters recorded),
//! the optional plain-HTTP redirect listener, and graceful shutdown that lets requests in
//! flight finish.

use crate::AppState;
use crate::redirect;
use crate::tls::DetailedTlsAcceptor;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

/// Sockets bound by the caller, so it can report the address (or a clear "in use" error)
/// before serving starts.
#[derive(Debug)]
pub struct Listeners {
    pub https: std::net::TcpListener,
    pub http_redirect: Option<std::net::TcpListener>,
}

/// Serves until `shutdown` completes, then stops accepting and gives requests in flight up to
/// `grace` to finish.
pub async fn serve(
    state: AppState,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let handle = axum_server::Handle::new();
    let app = crate::app(state.clone());
    listeners.https.set_nonblocking(true)?;
    let acceptor = DetailedTlsAcceptor::new(state.tls.rustls_config(), state.tls_stats.clone());
    let mut https = axum_server::from_tcp(listeners.https)?
        .acceptor(acceptor)
        .handle(handle.clone());
    // A connection that never sends its first request is closed rather than held open.
    https = https.first_request_timeout(Duration::from_secs(30));
    let https_task =
        tokio::spawn(https.serve(app.into_make_service_with_connect_info::<SocketAddr>()));

    let redirect_handle = axum_server::Handle::new();
    let redirect_task = match listeners.http_redirect {
        Some(listener) => {
            listener.set_nonblocking(true)?;
            let server = axum_server::from_tcp(listener)?
                .acceptor(axum_server::accept::NoDelayAcceptor::new())
                .handle(redirect_handle.clone());
            Some(tokio::spawn(server.serve(
                redirect::app(state.public_origin.clone()).into_make_service(),
            )))
        }
        None => None,
    };

    tokio::spawn(async move {
        shutdown.await;
        tracing::info!(grace_seconds = grace.as_secs(), "shutting down gracefully");
        handle.graceful_shutdown(Some(grace));
        redirect_handle.graceful_shutdown(Some(grace));
    });

    let joined = https_task.await.map_err(std::io::Error::other)?;
    if let Some(task) = redirect_task {
        task.await.map_err(std::io::Error::other)??;
    }
    joined
}
