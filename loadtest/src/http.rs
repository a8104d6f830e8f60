//! The hot path's HTTP client: plain HTTP/1.1 keep-alive connections on
//! hyper's low-level `client::conn` API, pooled per target.
//!
//! Why not `reqwest` here, as for the admin calls? A load tester must never
//! be the bottleneck, and on a 2-core laptop it shares the CPU with the
//! service, PostgreSQL and the lock servers: every microsecond it spends per
//! request is taken from what it measures. A general-purpose client does
//! more per request (URL parsing, redirect and proxy policy, a shared pool
//! with its own bookkeeping). Here each buyer effectively owns one
//! connection, as each of wrk's connections does, and a request is little
//! more than writing bytes and reading bytes. `loadtest/bench-vs-wrk`
//! measures the difference.

use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{CONTENT_TYPE, HOST, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// No HTTP answer: connecting, sending or reading failed, or timed out.
/// `Connect` and `Handshake` happen before a request is written, so such a
/// request provably never reached the server; after the others its fate is
/// unknown.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("connecting to {authority} failed: {source}")]
    Connect {
        authority: String,
        source: std::io::Error,
    },
    /// The HTTP/1 handshake on a new connection failed: like `Connect`,
    /// before any request was written.
    #[error("HTTP handshake with {authority} failed: {source}")]
    Handshake { authority: String, source: hyper::Error },
    #[error("HTTP exchange failed: {0}")]
    Http(#[from] hyper::Error),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

impl TransportError {
    /// Whether the request may have reached the server: false only when
    /// it failed before a byte of it was written.
    pub fn may_have_arrived(&self) -> bool {
        !matches!(
            self,
            TransportError::Connect { .. } | TransportError::Handshake { .. }
        )
    }
}

/// A whole HTTP answer.
#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Idle connections to one `host:port`, reused one request at a time.
#[derive(Debug)]
pub struct ConnPool {
    authority: String,
    timeout: Duration,
    /// A std mutex: held only to push or pop, never across an `.await`.
    idle: Mutex<Vec<SendRequest<Full<Bytes>>>>,
}

impl ConnPool {
    /// `authority` is `host:port` of a plain-HTTP server.
    pub fn new(authority: String, timeout: Duration) -> Self {
        ConnPool {
            authority,
            timeout,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Sends one request, with `headers` besides `Host` and (with a body)
    /// `Content-Type`, and reads the whole answer.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(HeaderName, HeaderValue)],
        body: Option<Bytes>,
    ) -> Result<Response, TransportError> {
        let exchange = async {
            let mut sender = self.checkout().await?;
            let request = self.request(method, path, headers, body);
            let (head, body) = sender.send_request(request).await?.into_parts();
            let body = body.collect().await?.to_bytes();
            self.checkin(sender);
            Ok(Response {
                status: head.status,
                headers: head.headers,
                body,
            })
        };
        // A connection that timed out is dropped with the future, not reused.
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| TransportError::Timeout(self.timeout))?
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(HeaderName, HeaderValue)],
        body: Option<Bytes>,
    ) -> Request<Full<Bytes>> {
        let builder = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, &self.authority);
        let builder = headers
            .iter()
            .fold(builder, |builder, (name, value)| builder.header(name, value));
        let request = match body {
            Some(body) => builder
                .header(CONTENT_TYPE, "application/json")
                .body(Full::new(body)),
            None => builder.body(Full::new(Bytes::new())),
        };
        request.expect("method, path and headers are valid")
    }

    /// An idle connection that is still open, or a new one.
    async fn checkout(&self) -> Result<SendRequest<Full<Bytes>>, TransportError> {
        loop {
            let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
            match idle {
                Some(mut sender) => {
                    if sender.ready().await.is_ok() {
                        return Ok(sender);
                    }
                }
                None => return self.connect().await,
            }
        }
    }

    fn checkin(&self, sender: SendRequest<Full<Bytes>>) {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).push(sender);
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, TransportError> {
        let connect_error = |source| TransportError::Connect {
            authority: self.authority.clone(),
            source,
        };
        let stream = TcpStream::connect(&self.authority).await.map_err(connect_error)?;
        stream.set_nodelay(true).map_err(connect_error)?;
        let (sender, connection) =
            http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|source| TransportError::Handshake {
                    authority: self.authority.clone(),
                    source,
                })?;
        // The connection's I/O runs in its own task; it ends when the
        // sender is dropped or the server closes the connection.
        tokio::spawn(connection);
        Ok(sender)
    }
}

/// `host:port` of a `http://host:port` base URL.
pub fn authority_of(base: &str) -> Option<String> {
    let rest = base.strip_prefix("http://")?;
    let authority = rest.split('/').next().filter(|a| !a.is_empty())?;
    Some(if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    })
}

#[cfg(test)]
mod tests {
    use super::authority_of;

    #[test]
    fn authorities_come_from_plain_http_urls_only() {
        assert_eq!(
            authority_of("http://127.0.0.1:58081").as_deref(),
            Some("127.0.0.1:58081")
        );
        assert_eq!(authority_of("http://localhost/").as_deref(), Some("localhost:80"));
        assert_eq!(authority_of("https://example.test"), None);
        assert_eq!(authority_of("http://"), None);
    }
}
