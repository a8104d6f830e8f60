//! The dashboard's server, inside the load tester: the page, uPlot, the
//! events as server-sent events (history first, so a page opened late —
//! or reloaded — misses nothing), and the instructor's button.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{Html, IntoResponse};
use axum::routing::{get, post};
use futures_util::stream::{self, Stream, StreamExt};
use tokio::sync::broadcast::error::RecvError;

use super::Dashboard;
use super::page;

/// Serves `dashboard` on `addr`; returns the address bound (port 0 picks one).
pub async fn serve(dashboard: Arc<Dashboard>, addr: SocketAddr) -> std::io::Result<SocketAddr> {
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
        .with_state(dashboard);
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

async fn events(
    State(dashboard): State<Arc<Dashboard>>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let (history, receiver) = dashboard.events.subscribe();
    let rest = stream::unfold(receiver, |mut receiver| async move {
        loop {
            match receiver.recv().await {
                Ok(json) => return Some((json, receiver)),
                // A page too slow to keep up skips ahead rather than
                // holding the run back; a reload gets the whole history.
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return None,
            }
        }
    });
    let all = stream::iter(history)
        .chain(rest)
        .map(|json| Ok(SseEvent::default().data(json)));
    Sse::new(all).keep_alive(KeepAlive::default())
}

/// The page's "start this phase" button.
async fn go(State(dashboard): State<Arc<Dashboard>>) -> StatusCode {
    match &dashboard.pace {
        Some(pace) => {
            pace.go();
            StatusCode::NO_CONTENT
        }
        None => StatusCode::CONFLICT,
    }
}
