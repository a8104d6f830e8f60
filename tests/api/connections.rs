//! Connections that misbehave: headers that never finish, a body shorter
//! than its `Content-Length`, a client that stops reading its answers, a
//! half-open connection at shutdown. None may
//! hold the instance's resources, or its shutdown, beyond its timeouts.

use std::time::{Duration, Instant};

use stocklock::config::Config;
use stocklock::startup::Application;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use crate::helpers::spawn_app_with;

fn short_timeouts(config: &mut Config) {
    config.header_read_timeout_ms = 300;
    config.body_read_timeout_ms = 300;
    config.write_timeout_ms = 300;
}

/// Sends `partial`, then waits (up to 10 s) for the server to answer or
/// close; returns what it said and when.
async fn send_and_wait(address: &str, partial: &str) -> (String, Duration) {
    let mut stream = TcpStream::connect(address.trim_start_matches("http://"))
        .await
        .unwrap();
    stream.write_all(partial.as_bytes()).await.unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the connection was still open after 10 s");
    (String::from_utf8_lossy(&answer).into_owned(), started.elapsed())
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    let app = spawn_app_with(short_timeouts).await;
    let (_, took) = send_and_wait(&app.address, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n").await;
    assert!(took < Duration::from_secs(5), "closed after {took:?}");
}

#[tokio::test]
async fn a_body_shorter_than_its_length_times_out() {
    let app = spawn_app_with(short_timeouts).await;
    let request = "POST /orders HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
                   Content-Length: 100\r\nConnection: close\r\n\r\n{\"sku\":";
    let (answer, took) = send_and_wait(&app.address, request).await;
    assert!(took < Duration::from_secs(5), "answered after {took:?}");
    assert!(answer.contains("\"error\""), "not our error shape: {answer}");
}

/// A client that sends request after request and never reads an answer
/// fills the socket's buffers; the server must give up on it within its
/// write timeout rather than keep its connection, and the answers it could
/// not send, forever. Counted by what the client can read afterwards: fewer
/// answers than requests means the server hung up.
#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off() {
    let app = spawn_app_with(short_timeouts).await;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4_096).unwrap();
    let address = app.address.trim_start_matches("http://").parse().unwrap();
    let mut stream = socket.connect(address).await.unwrap();
    let request = b"GET /openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    let mut sent = 0;
    while sent < 2_000 {
        match tokio::time::timeout(Duration::from_millis(200), stream.write_all(request)).await {
            Ok(Ok(())) => sent += 1,
            _ => break, // the server stopped reading: its answers are stuck
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut answers = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answers)).await;
    let answered = String::from_utf8_lossy(&answers).matches("HTTP/1.1 200").count();
    assert!(
        matches!(read, Ok(Err(_)) | Ok(Ok(_))) && answered < sent,
        "{answered} of {sent} pipelined requests answered: the server waited for a client that did not read"
    );
}

/// A flood of connections that never finish their headers takes every
/// slot; while it lasts, those that sent no request head within a second
/// make room, so `/health` still answers within about a second (per
/// `max_connections` slow clients queued ahead of it) rather than after the
/// header timeout.
#[tokio::test]
async fn health_answers_through_a_flood_of_slow_connections() {
    let app = spawn_app_with(|config| {
        config.max_connections = 32;
        config.header_read_timeout_ms = 30_000;
    })
    .await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut flood = Vec::new();
    for _ in 0..60 {
        let mut stream = TcpStream::connect(&address).await.unwrap();
        stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            .await
            .unwrap();
        flood.push(stream);
    }
    let started = Instant::now();
    let health = tokio::time::timeout(Duration::from_secs(10), app.get("/health")).await;
    let took = started.elapsed();
    assert!(
        matches!(&health, Ok(response) if response.status().is_success()),
        "no answer from /health within 10 s of a flood: {health:?}"
    );
    assert!(
        took < Duration::from_secs(3),
        "/health took {took:?} under the flood"
    );
    drop(flood);
}

#[tokio::test]
async fn a_shutdown_is_not_held_up_by_a_half_open_connection() {
    let mut config = Config::defaults();
    config.port = 0;
    config.shutdown_deadline_ms = 1_000;
    let app = Application::build(&config).await.expect("the application starts");
    let address = format!("127.0.0.1:{}", app.port());
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    // A request under way: its headers are complete, its body never comes.
    let mut half_open = TcpStream::connect(&address).await.unwrap();
    let request = "POST /orders HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n";
    half_open.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    stop.send(()).unwrap();
    let finished = tokio::time::timeout(Duration::from_secs(8), server).await;
    assert!(finished.is_ok(), "the server was still stopping after 8 s");
    assert!(started.elapsed() < Duration::from_secs(8));
}
