//! The retry policy's unit tests: the policy and the settling of an order
//! are pure functions; `place` runs against a stand-in server of a few
//! lines here (no service, no database), which records what each attempt
//! sent.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::*;
use crate::client::tests::target;

const LOST: Answer = Answer::Transport {
    may_have_arrived: true,
};
const REFUSED: Answer = Answer::Transport {
    may_have_arrived: false,
};
const AN_HOUR: Duration = Duration::from_secs(3600);

fn answered(outcome: Outcome) -> Answer {
    Answer::Http {
        outcome,
        ack: None,
        replayed: false,
    }
}

#[test]
fn only_an_attempt_without_any_http_answer_is_sent_again() {
    let policy = RetryPolicy::new(3);
    assert!(policy.pause_after(&LOST, 1, AN_HOUR, 0.5).is_some());
    assert!(policy.pause_after(&REFUSED, 1, AN_HOUR, 0.5).is_some());
    // The service's word ends the order, even when it promises nothing.
    for outcome in [
        Outcome::Created,
        Outcome::SoldOut,
        Outcome::LockUnavailable,
        Outcome::Overloaded,
    ] {
        assert_eq!(
            policy.pause_after(&answered(outcome), 1, AN_HOUR, 0.5),
            None,
            "{outcome:?}"
        );
    }
    assert_eq!(
        policy.pause_after(&answered(Outcome::NoAnswer), 1, AN_HOUR, 0.5),
        None
    );
}

#[test]
fn attempts_are_bounded_and_one_attempt_never_retries() {
    let policy = RetryPolicy::new(3);
    assert!(policy.pause_after(&LOST, 2, AN_HOUR, 0.0).is_some());
    assert_eq!(policy.pause_after(&LOST, 3, AN_HOUR, 0.0), None);
    assert_eq!(RetryPolicy::new(1).pause_after(&LOST, 1, AN_HOUR, 0.0), None);
}

#[test]
fn the_backoff_doubles_and_jitter_takes_up_to_half_off() {
    let policy = RetryPolicy::new(5);
    let ms = |attempt, jitter| {
        policy
            .pause_after(&LOST, attempt, AN_HOUR, jitter)
            .map(|d| d.as_millis())
    };
    assert_eq!(
        (ms(1, 1.0), ms(2, 1.0), ms(3, 1.0)),
        (Some(100), Some(200), Some(400))
    );
    assert_eq!((ms(1, 0.0), ms(2, 0.0)), (Some(50), Some(100)));
    assert_eq!(ms(1, 7.0), Some(100), "jitter is clamped");
}

#[test]
fn no_retry_starts_past_the_phases_deadline() {
    let policy = RetryPolicy::new(3);
    let left = Duration::from_millis(80);
    assert_eq!(
        policy.pause_after(&LOST, 1, left, 0.0),
        Some(Duration::from_millis(50))
    );
    assert_eq!(policy.pause_after(&LOST, 1, left, 1.0), None);
    assert_eq!(policy.pause_after(&LOST, 1, Duration::ZERO, 0.0), None);
}

#[test]
fn only_a_201_settles_an_attempt_that_went_unanswered() {
    assert_eq!(settle(Outcome::Created, true), Outcome::Created);
    // The retry was refused, but the first attempt may still commit.
    for last in [
        Outcome::SoldOut,
        Outcome::LockUnavailable,
        Outcome::NotSent,
        Outcome::NoAnswer,
    ] {
        assert_eq!(settle(last, true), Outcome::NoAnswer, "{last:?}");
    }
    // Nothing went unanswered: the last answer is the order's.
    for last in [Outcome::SoldOut, Outcome::Overloaded, Outcome::NotSent] {
        assert_eq!(settle(last, false), last);
    }
}

/// The fix for what it guards against: the attempt that got no answer was
/// recorded, and the retry, with the same key and body, gets that order
/// back — one sale, not two.
#[tokio::test]
async fn a_retry_sends_the_same_key_and_body_and_its_replay_is_one_sale() {
    let order_id = Uuid::new_v4();
    let (address, seen) = stand_in(vec![None, Some(replayed_201(order_id))]).await;
    let request = OrderRequest::new("s", 1);
    let placed = place(&target(&address), &request, RetryPolicy::new(3), far()).await;

    assert_eq!(placed.outcome, Outcome::Created);
    assert_eq!(placed.ack.map(|a| a.order_id), Some(order_id));
    assert_eq!(placed.retries, Retries { sent: 1, replayed: 1 });
    let seen = seen.await.unwrap();
    let key = request.key.to_str().unwrap();
    for attempt in &seen {
        assert_eq!(
            header(attempt, "idempotency-key").as_deref(),
            Some(key),
            "{attempt}"
        );
        assert!(attempt.ends_with(r#"{"sku":"s","quantity":1}"#), "{attempt}");
    }
    assert_eq!(seen.len(), 2);
}

#[tokio::test]
async fn an_http_answer_is_never_sent_again() {
    let refusal = r#"{"error":"overloaded","message":"m"}"#;
    let (address, seen) = stand_in(vec![Some(answer("503 Service Unavailable", "", refusal))]).await;
    let request = OrderRequest::new("s", 1);
    let placed = place(&target(&address), &request, RetryPolicy::new(3), far()).await;
    assert_eq!(
        (placed.outcome, placed.retries),
        (Outcome::Overloaded, Retries::default())
    );
    assert_eq!(seen.await.unwrap().len(), 1);
}

#[tokio::test]
async fn an_order_that_never_connects_is_tried_three_times_and_never_sent() {
    let address = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    // The listener is dropped: every connection is refused.
    let placed = place(
        &target(&address.to_string()),
        &OrderRequest::new("s", 1),
        RetryPolicy::new(3),
        far(),
    )
    .await;
    assert_eq!(placed.outcome, Outcome::NotSent);
    assert_eq!(placed.retries, Retries { sent: 2, replayed: 0 });
}

/// A deadline no test reaches.
fn far() -> Instant {
    Instant::now() + AN_HOUR
}

/// A 201 for `order_id`, marked as a replay.
fn replayed_201(order_id: Uuid) -> String {
    let body = format!(
        r#"{{"order_id":"{order_id}","sku":"s","quantity":1,"remaining":0,"lock_backend":"postgres"}}"#
    );
    answer("201 Created", "idempotent-replayed: true\r\n", &body)
}

fn answer(status: &str, headers: &str, body: &str) -> String {
    let length = body.len();
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n{headers}content-length: {length}\r\n\r\n{body}"
    )
}

/// A stand-in server: one connection per entry of `script`, whose request
/// it reads and answers with the entry — or, for `None`, never, holding the
/// connection until the client gives up. Its task ends with every request
/// as read.
async fn stand_in(script: Vec<Option<String>>) -> (String, JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let task = tokio::spawn(async move {
        let mut seen = Vec::new();
        for reply in script {
            let (mut stream, _) = listener.accept().await.unwrap();
            seen.push(read_request(&mut stream).await);
            match reply {
                Some(reply) => stream.write_all(reply.as_bytes()).await.unwrap(),
                // Returns once the client hangs up.
                None => {
                    let _ = stream.read(&mut [0; 64]).await;
                }
            }
        }
        seen
    });
    (address, task)
}

/// One request, head and body.
async fn read_request(stream: &mut TcpStream) -> String {
    let mut bytes = Vec::new();
    let mut buffer = [0; 1024];
    loop {
        let read = stream.read(&mut buffer).await.unwrap();
        bytes.extend_from_slice(&buffer[..read]);
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let complete = text.find("\r\n\r\n").is_some_and(|end| {
            let length = header(&text, "content-length").map_or(0, |l| l.parse().unwrap());
            text.len() >= end + 4 + length
        });
        if complete || read == 0 {
            return text;
        }
    }
}

/// The value of header `name` in a request as read.
fn header(request: &str, name: &str) -> Option<String> {
    request.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim().to_owned())
    })
}
