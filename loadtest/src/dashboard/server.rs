//! The dashboard's server, inside the load tester: the page, uPlot, the
//! events as server-sent events (history first, so a page opened late —
//! or reloaded — misses nothing), and the instructor's button.
//!
//! It subscribes to the run's event log and turns each event into JSON on
//! its way out: the log holds typed events and knows nothing of the wire.
//! Like the service, it answers only to a `Host` that is an address,
//! `localhost` or an allowed name (DNS rebinding), and its button only to
//! our own page: a header of our own, and no foreign `Origin`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::stream::{self, Stream, StreamExt};
use tokio::sync::broadcast::error::RecvError;

use super::page;
use crate::events::{Event, EventLog};
use crate::pace::Pace;

/// What the server's handlers share.
struct Shared {
    /// The run's events, subscribed to by every page.
    events: Arc<EventLog>,
    /// With `--pace`: what the button presses.
    pace: Option<Arc<Pace>>,
    /// Names accepted in `Host` besides addresses and `localhost`.
    allowed_hosts: Vec<String>,
}

/// The header the page's button sends with its `POST /continue`.
const GO_HEADER: &str = "x-stocklock-go";

/// How soon a page reconnects once its stream ends (the browser's default
/// is about three seconds): to the same run after it lagged, or to the next
/// run on the same address.
const RECONNECT: std::time::Duration = std::time::Duration::from_secs(1);

/// Serves the page of the run's event `log` on `addr`, its button pressing
/// `pace` (if the run is paced); returns the address bound (port 0 picks one).
pub async fn serve(
    log: Arc<EventLog>,
    pace: Option<Arc<Pace>>,
    addr: SocketAddr,
    allowed_hosts: Vec<String>,
) -> std::io::Result<SocketAddr> {
    let shared = Arc::new(Shared {
        events: log,
        pace,
        allowed_hosts,
    });
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = Router::new()
        .route("/", get(|| async { Html(page::live()) }))
        .route(
            "/uPlot.iife.min.js",
            get(|| async { asset("text/javascript", page::UPLOT_JS) }),
        )
        .route(
            "/uPlot.min.css",
            get(|| async { asset("text/css", page::UPLOT_CSS) }),
        )
        .route("/events", get(events))
        .route("/continue", post(go))
        .layer(middleware::from_fn_with_state(shared.clone(), check_host))
        .with_state(shared);
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, app).await {
            eprintln!("the dashboard stopped serving: {err}");
        }
    });
    Ok(bound)
}

/// Refuses a `Host` that may be another site's domain (see the module docs).
async fn check_host(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .map(|h| h.to_str().unwrap_or_default());
    match host {
        Some(host) if !stocklock_api::host_allowed(host, &shared.allowed_hosts) => {
            (StatusCode::FORBIDDEN, "host not allowed").into_response()
        }
        _ => next.run(request).await,
    }
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, content_type)], body)
}

async fn events(State(shared): State<Arc<Shared>>) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let (history, receiver) = shared.events.subscribe();
    let rest = stream::unfold(receiver, |mut receiver| async move {
        match receiver.recv().await {
            Ok(event) => Some((event, receiver)),
            // A page too slow to keep up would miss events (a verdict, a
            // phase): the stream ends instead, the browser reconnects by
            // itself and gets the whole history again, and the page starts
            // over from it. The run is never held back.
            Err(RecvError::Lagged(_) | RecvError::Closed) => None,
        }
    });
    // The first event tells the browser to reconnect within a second when
    // the stream ends: when this run is over and the next one serves on the
    // same address, the open tab follows it without a reload.
    let all = stream::iter(history).chain(rest).enumerate().map(|(i, event)| {
        let sse = SseEvent::default().data(to_json(&event));
        Ok(if i == 0 { sse.retry(RECONNECT) } else { sse })
    });
    Sse::new(all).keep_alive(KeepAlive::default())
}

/// The page's "start this phase" button. The page sends a header of our
/// own: another site's page cannot (the browser would have to ask us first,
/// and we do not answer that), so only our page starts a phase.
async fn go(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> StatusCode {
    if !headers.contains_key(GO_HEADER) || !same_origin(&headers) {
        return StatusCode::FORBIDDEN;
    }
    match &shared.pace {
        Some(pace) => {
            pace.go();
            StatusCode::NO_CONTENT
        }
        None => StatusCode::CONFLICT,
    }
}

/// A request without `Origin` (curl, the terminal) or from our own page:
/// `Origin` is `http://` and the very `Host` it was sent to.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    origin.to_str().ok().and_then(|o| o.strip_prefix("http://")) == Some(host)
}

/// One event as the page reads it: `{"type":"tick","phase":0,…}`.
fn to_json(event: &Event) -> String {
    serde_json::to_string(event).expect("events serialize")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A paced dashboard on a free loopback port.
    async fn dashboard() -> String {
        let log = Arc::new(EventLog::default());
        let addr = "127.0.0.1:0".parse().unwrap();
        let bound = serve(log, Some(Pace::new(false)), addr, vec!["projector".to_owned()])
            .await
            .unwrap();
        format!("http://{bound}")
    }

    async fn status(request: reqwest::RequestBuilder) -> reqwest::StatusCode {
        request
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .unwrap()
            .status()
    }

    #[tokio::test]
    async fn a_foreign_host_is_refused_and_listed_names_are_served() {
        let (base, client) = (dashboard().await, reqwest::Client::new());
        let page = |host: &str| client.get(format!("{base}/")).header("host", host);
        assert_eq!(status(page("rebinding.example")).await, StatusCode::FORBIDDEN);
        for host in ["localhost:58080", "projector", "127.0.0.1"] {
            assert_eq!(status(page(host)).await, StatusCode::OK, "{host}");
        }
    }

    #[tokio::test]
    async fn the_button_answers_only_our_own_page() {
        let (base, client) = (dashboard().await, reqwest::Client::new());
        let go = || client.post(format!("{base}/continue")).header(GO_HEADER, "1");
        let foreign = go().header("origin", "http://evil.example");
        assert_eq!(status(foreign).await, StatusCode::FORBIDDEN);
        assert_eq!(
            status(client.post(format!("{base}/continue"))).await,
            StatusCode::FORBIDDEN
        );
        let own = go().header("origin", base.clone());
        assert_eq!(status(own).await, StatusCode::NO_CONTENT);
    }
}
