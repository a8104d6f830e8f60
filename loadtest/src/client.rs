//! A typed client for one stocklock instance, over the shared API types.
//!
//! Admin calls (a handful per phase) go through `reqwest` and return errors
//! that name the URL, so "target unreachable" is a clear message. Orders —
//! the hot path — go through the lean connection pool of [`crate::http`].
//! [`Target::order`] never fails: every answer, and every missing answer, is
//! an [`Answer`] to be counted (`order.rs` says what each one means).

use std::time::Duration;

use hyper::{Method, StatusCode};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde::de::DeserializeOwned;
use stocklock_api::{
    Audit, Drained, Faults, Health, LedgerPage, LockSettings, LockSettingsUpdate, OrderList, Product,
    ResetProduct,
};

use crate::http::{ConnPool, authority_of};
use crate::order::{self, Answer, OrderRequest};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{url} is unreachable: {source}")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url} answered {status}: {body}")]
    Status {
        url: String,
        status: StatusCode,
        body: String,
    },
    #[error("{url} answered with an unexpected body: {source}")]
    Body {
        url: String,
        #[source]
        source: reqwest::Error,
    },
}

/// One service instance.
#[derive(Debug)]
pub struct Target {
    pub base: String,
    http: reqwest::Client,
    orders: ConnPool,
}

/// The client for every call but the orders (which go through the lean
/// [`ConnPool`]), shared by every target; it carries the admin token, if
/// the targets need one, marked sensitive so it is never logged.
pub fn http_client(
    request_timeout: Duration,
    admin_token: Option<&str>,
) -> Result<reqwest::Client, InvalidToken> {
    let mut headers = HeaderMap::new();
    if let Some(token) = admin_token {
        let mut bearer = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| InvalidToken)?;
        bearer.set_sensitive(true);
        headers.insert(AUTHORIZATION, bearer);
    }
    Ok(reqwest::Client::builder()
        .timeout(request_timeout)
        .tcp_nodelay(true)
        .default_headers(headers)
        .build()
        .expect("a plain-HTTP client builds"))
}

/// An admin token that cannot be sent in a header.
#[derive(Debug, thiserror::Error)]
#[error("the admin token must be printable ASCII")]
pub struct InvalidToken;

impl Target {
    /// `None` unless `base` is a plain `http://host:port` URL.
    pub fn new(base: &str, http: reqwest::Client, request_timeout: Duration) -> Option<Self> {
        let base = base.trim_end_matches('/').to_owned();
        let orders = ConnPool::new(authority_of(&base)?, request_timeout);
        Some(Target { base, http, orders })
    }

    pub async fn health(&self) -> Result<Health, ClientError> {
        self.call(self.http.get(self.url("/health"))).await
    }

    pub async fn reset(&self, sku: &str, stock: i64) -> Result<Product, ClientError> {
        let request = self.http.put(self.url(&format!("/admin/products/{sku}")));
        self.call(request.json(&ResetProduct { stock })).await
    }

    pub async fn lock_settings(&self) -> Result<LockSettings, ClientError> {
        self.call(self.http.get(self.url("/admin/lock"))).await
    }

    /// Switches the lock, however long the request timeout: a switch waits
    /// for the orders in flight.
    pub async fn set_lock(
        &self,
        update: &LockSettingsUpdate,
        limit: Duration,
    ) -> Result<LockSettings, ClientError> {
        self.call(self.http.put(self.url("/admin/lock")).json(update).timeout(limit))
            .await
    }

    pub async fn audit(&self, sku: &str) -> Result<Audit, ClientError> {
        self.call(self.http.get(self.url(&format!("/admin/audit/{sku}"))))
            .await
    }

    pub async fn faults(&self) -> Result<Faults, ClientError> {
        self.call(self.http.get(self.url("/admin/faults"))).await
    }

    pub async fn set_faults(&self, faults: &Faults) -> Result<Faults, ClientError> {
        self.call(self.http.put(self.url("/admin/faults")).json(faults))
            .await
    }

    /// The orders written since the cursor `after`, and the next cursor.
    pub async fn ledger_page(&self, sku: &str, after: i64) -> Result<LedgerPage, ClientError> {
        self.call(
            self.http
                .get(self.url(&format!("/admin/ledger/{sku}?after={after}"))),
        )
        .await
    }

    pub async fn orders(&self, sku: &str) -> Result<OrderList, ClientError> {
        self.call(self.http.get(self.url(&format!("/admin/orders/{sku}"))))
            .await
    }

    /// Waits until the instance has no order in flight, however long the
    /// request timeout: an order whose client gave up may still commit.
    pub async fn drain(&self, limit: Duration) -> Result<Drained, ClientError> {
        self.call(self.http.post(self.url("/admin/drain")).timeout(limit))
            .await
    }

    /// Sends one attempt at `request` and says what it came to — never an
    /// error: every answer, and every missing one, is counted. Whether to
    /// send it again is `retry.rs`'s call.
    pub async fn order(&self, request: &OrderRequest) -> Answer {
        let body = Some(request.body.clone());
        match self
            .orders
            .send(Method::POST, "/orders", &request.headers(), body)
            .await
        {
            Ok(answer) => order::classify(request, answer.status, &answer.headers, &answer.body),
            Err(err) => Answer::Transport {
                may_have_arrived: err.may_have_arrived(),
            },
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    async fn call<T: DeserializeOwned>(&self, request: reqwest::RequestBuilder) -> Result<T, ClientError> {
        let request = request.build().map_err(|source| ClientError::Unreachable {
            url: self.base.clone(),
            source,
        })?;
        let url = request.url().to_string();
        let response = self
            .http
            .execute(request)
            .await
            .map_err(|source| ClientError::Unreachable {
                url: url.clone(),
                source,
            })?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(ClientError::Status { url, status, body });
        }
        response
            .json()
            .await
            .map_err(|source| ClientError::Body { url, source })
    }
}

/// Shared with the other tests that talk to a stand-in server.
#[cfg(test)]
pub(crate) mod tests {
    use std::time::Duration;

    use tokio::net::TcpListener;

    use super::{Target, http_client};
    use crate::order::{Answer, OrderRequest};

    /// A target at `address` (`host:port`) that waits 300 ms for answers.
    pub(crate) fn target(address: &str) -> Target {
        let timeout = Duration::from_millis(300);
        let http = http_client(timeout, None).unwrap();
        Target::new(&format!("http://{address}"), http, timeout).expect("a plain URL")
    }

    /// Nothing listens: the request never left, so it can explain nothing.
    #[tokio::test]
    async fn a_refused_connection_is_not_sent() {
        let address = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap();
        // The listener is dropped: connections to it are refused.
        let answer = target(&address.to_string())
            .order(&OrderRequest::new("s", 1))
            .await;
        assert_eq!(
            answer,
            Answer::Transport {
                may_have_arrived: false
            }
        );
    }

    /// Connected and sent, never answered: the order's fate is unknown.
    #[tokio::test]
    async fn a_request_without_answer_is_no_answer() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let silent = tokio::spawn(async move {
            let (connection, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
            drop(connection);
        });
        let answer = target(&address).order(&OrderRequest::new("s", 1)).await;
        assert_eq!(
            answer,
            Answer::Transport {
                may_have_arrived: true
            }
        );
        silent.abort();
    }
}
