//! The dashboard's server, inside the load tester: the page, uPlot, the
//! events as server-sent events (history first, so a page opened late —
//! or reloaded — misses nothing), and the instructor's button.
//!
//! It subscribes to the run's event log and turns each event into JSON on
//! its way out: the log holds typed events and knows nothing of the wire.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{Html, IntoResponse};
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
}

/// The header the page's button sends with its `POST /continue`.
const GO_HEADER: &str = "x-stocklock-go";

/// Serves the page of the run's event `log` on `addr`, its button pressing
/// `pace` (if the run is paced); returns the address bound (port 0 picks one).
pub async fn serve(
    log: Arc<EventLog>,
    pace: Option<Arc<Pace>>,
    addr: SocketAddr,
) -> std::io::Result<SocketAddr> {
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
        .with_state(Arc::new(Shared { events: log, pace }));
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, app).await {
            eprintln!("the dashboard stopped serving: {err}");
        }
    });
    Ok(bound)
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
    let all = stream::iter(history)
        .chain(rest)
        .map(|event| Ok(SseEvent::default().data(to_json(&event))));
    Sse::new(all).keep_alive(KeepAlive::default())
}

/// The page's "start this phase" button. The page sends a header of our
/// own: another site's page cannot (the browser would have to ask us first,
/// and we do not answer that), so only our page starts a phase.
async fn go(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> StatusCode {
    if !headers.contains_key(GO_HEADER) {
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

/// One event as the page reads it: `{"type":"tick","phase":0,…}`.
fn to_json(event: &Event) -> String {
    serde_json::to_string(event).expect("events serialize")
}
