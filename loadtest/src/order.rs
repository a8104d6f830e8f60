//! One order on the wire: the request, built once and sent as often as it
//! takes — the same body and the same `Idempotency-Key` on every attempt —
//! and what each answer to it means for the books.
//!
//! Why the key: an attempt that got no answer may still have been recorded
//! (the service finishes an order after its client gave up). Sent again
//! without a key, the same order could be deducted twice; with it, the
//! service answers the retry with the first order, marked
//! `Idempotent-Replayed: true`, instead of placing a second one
//! (`docs/api.md#retrying-an-order`). When to retry is `retry.rs`'s call.
//!
//! [`classify`] is a pure function of the answer, so every status and error
//! code is tested here without a server.

use bytes::Bytes;
use hyper::StatusCode;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use stocklock_api::{
    ErrorBody, ErrorCode, IDEMPOTENCY_KEY_HEADER, IDEMPOTENT_REPLAYED_HEADER, Order, PlaceOrder,
};
use uuid::Uuid;

use crate::stats::{Ack, Outcome};

/// The request header that names one order across all its attempts.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static(IDEMPOTENCY_KEY_HEADER);
/// The answer header that says a 201 is an earlier attempt's order.
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static(IDEMPOTENT_REPLAYED_HEADER);

/// One order, ready to be sent as often as needed.
#[derive(Debug, Clone)]
pub struct OrderRequest {
    pub sku: String,
    /// The quantity asked for: what the books compare with, not the echo.
    pub quantity: i64,
    /// The JSON body, serialised once for every attempt.
    pub body: Bytes,
    /// A fresh UUID v4 per order, the same for all its attempts: that is
    /// what lets the service tell a retry from a second order.
    pub key: HeaderValue,
}

impl OrderRequest {
    /// An order for `quantity` units of `sku`, under a key of its own.
    pub fn new(sku: &str, quantity: i64) -> Self {
        let body = PlaceOrder {
            sku: sku.to_owned(),
            quantity,
        };
        let key = Uuid::new_v4().hyphenated().to_string();
        OrderRequest {
            sku: sku.to_owned(),
            quantity,
            body: Bytes::from(serde_json::to_vec(&body).expect("an order serialises")),
            key: HeaderValue::from_str(&key).expect("a UUID is printable ASCII"),
        }
    }

    /// The headers every attempt carries.
    pub fn headers(&self) -> [(HeaderName, HeaderValue); 1] {
        [(IDEMPOTENCY_KEY, self.key.clone())]
    }
}

/// What one attempt at an order came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The service answered. `ack` comes with a 201; `replayed` says the
    /// 201 is an earlier attempt's order, not a new one.
    Http {
        outcome: Outcome,
        ack: Option<Ack>,
        replayed: bool,
    },
    /// No HTTP answer at all: no connection (`may_have_arrived: false`, the
    /// request never reached the service), or a timeout or a reset after
    /// it was sent (it may have been recorded).
    Transport { may_have_arrived: bool },
}

impl Answer {
    /// This attempt's outcome, and the ack of its 201.
    pub fn into_parts(self) -> (Outcome, Option<Ack>) {
        match self {
            Answer::Http { outcome, ack, .. } => (outcome, ack),
            Answer::Transport { may_have_arrived } => match may_have_arrived {
                true => (Outcome::NoAnswer, None),
                false => (Outcome::NotSent, None),
            },
        }
    }
}

/// What an HTTP answer to `order` means.
pub fn classify(order: &OrderRequest, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Answer {
    let outcome = match status {
        StatusCode::CREATED => return created(order, headers, body),
        StatusCode::CONFLICT => match error_code(body) {
            Some(ErrorCode::LockLost) => Outcome::LockLost,
            _ => Outcome::SoldOut,
        },
        // 503 is also the answer to an unreachable database, a switch in
        // progress, or a full instance: the lock's own refusals and
        // admission control's are each counted as such.
        StatusCode::SERVICE_UNAVAILABLE => match error_code(body) {
            Some(ErrorCode::LockUnavailable) => Outcome::LockUnavailable,
            Some(ErrorCode::Overloaded) => Outcome::Overloaded,
            Some(ErrorCode::CommitOutcomeUnknown) => Outcome::NoAnswer,
            _ => Outcome::OtherUnavailable,
        },
        StatusCode::UNAUTHORIZED => Outcome::Unauthorized,
        // A 500 promises nothing about what changed: as good as no answer.
        StatusCode::INTERNAL_SERVER_ERROR => Outcome::NoAnswer,
        _ => Outcome::OtherError,
    };
    Answer::Http {
        outcome,
        ack: None,
        replayed: false,
    }
}

/// A 201: the order as the client *asked* for it, and whether the answer
/// echoed it.
fn created(order: &OrderRequest, headers: &HeaderMap, body: &[u8]) -> Answer {
    let Ok(placed) = serde_json::from_slice::<Order>(body) else {
        // A 201 we could not read: its fate is unknown to us.
        return Answer::Http {
            outcome: Outcome::NoAnswer,
            ack: None,
            replayed: false,
        };
    };
    let ack = Ack {
        order_id: placed.order_id,
        sku: order.sku.clone(),
        quantity: order.quantity,
        echo_matches: placed.sku == order.sku && placed.quantity == order.quantity,
    };
    let replayed = headers
        .get(IDEMPOTENT_REPLAYED)
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"true"));
    Answer::Http {
        outcome: Outcome::Created,
        ack: Some(ack),
        replayed,
    }
}

/// The `error` code of an error body, if it is one.
fn error_code(body: &[u8]) -> Option<ErrorCode> {
    serde_json::from_slice::<ErrorBody>(body).ok().map(|e| e.error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order() -> OrderRequest {
        OrderRequest::new("s", 2)
    }

    fn error(status: StatusCode, code: &str) -> Outcome {
        let body = format!(r#"{{"error":"{code}","message":"m"}}"#);
        classify(&order(), status, &HeaderMap::new(), body.as_bytes())
            .into_parts()
            .0
    }

    fn created_body(sku: &str, quantity: i64) -> Vec<u8> {
        let order_id = Uuid::nil();
        format!(
            r#"{{"order_id":"{order_id}","sku":"{sku}","quantity":{quantity},"remaining":3,"lock_backend":"redis"}}"#
        )
        .into_bytes()
    }

    #[test]
    fn every_order_has_a_key_of_its_own_and_its_body_once() {
        let (first, second) = (order(), order());
        assert_ne!(first.key, second.key);
        assert_eq!(first.key.len(), 36, "a hyphenated UUID");
        assert_eq!(&first.body[..], br#"{"sku":"s","quantity":2}"#);
        assert_eq!(first.headers(), [(IDEMPOTENCY_KEY, first.key.clone())]);
    }

    #[test]
    fn each_refusal_has_its_own_outcome() {
        use StatusCode as S;
        assert_eq!(error(S::CONFLICT, "out_of_stock"), Outcome::SoldOut);
        assert_eq!(error(S::CONFLICT, "lock_lost"), Outcome::LockLost);
        assert_eq!(
            error(S::SERVICE_UNAVAILABLE, "lock_unavailable"),
            Outcome::LockUnavailable
        );
        assert_eq!(error(S::SERVICE_UNAVAILABLE, "overloaded"), Outcome::Overloaded);
        assert_eq!(
            error(S::SERVICE_UNAVAILABLE, "switch_in_progress"),
            Outcome::OtherUnavailable
        );
        assert_eq!(
            error(S::SERVICE_UNAVAILABLE, "database_unavailable"),
            Outcome::OtherUnavailable
        );
        assert_eq!(error(S::UNAUTHORIZED, "unauthorized"), Outcome::Unauthorized);
        assert_eq!(
            error(S::UNPROCESSABLE_ENTITY, "idempotency_key_reused"),
            Outcome::OtherError
        );
    }

    #[test]
    fn answers_that_promise_nothing_are_no_answer() {
        use StatusCode as S;
        assert_eq!(
            error(S::SERVICE_UNAVAILABLE, "commit_outcome_unknown"),
            Outcome::NoAnswer
        );
        assert_eq!(error(S::INTERNAL_SERVER_ERROR, "internal"), Outcome::NoAnswer);
        let unreadable = classify(&order(), S::CREATED, &HeaderMap::new(), b"{");
        assert_eq!(unreadable.into_parts(), (Outcome::NoAnswer, None));
    }

    #[test]
    fn a_201_is_acked_as_asked_and_says_whether_it_was_replayed() {
        let order = order();
        let mut headers = HeaderMap::new();
        let first = classify(&order, StatusCode::CREATED, &headers, &created_body("s", 2));
        let Answer::Http {
            ack: Some(ack),
            replayed: false,
            ..
        } = first
        else {
            panic!("{first:?}")
        };
        assert_eq!(
            (ack.order_id, ack.quantity, ack.echo_matches),
            (Uuid::nil(), 2, true)
        );

        headers.insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
        let replay = classify(&order, StatusCode::CREATED, &headers, &created_body("s", 5));
        let Answer::Http {
            outcome,
            ack: Some(ack),
            replayed: true,
        } = replay
        else {
            panic!("{replay:?}")
        };
        // The quantity asked for is kept; a wrong echo is flagged.
        assert_eq!(
            (outcome, ack.quantity, ack.echo_matches),
            (Outcome::Created, 2, false)
        );
    }

    #[test]
    fn no_connection_is_not_sent_and_a_lost_exchange_is_no_answer() {
        let refused = Answer::Transport {
            may_have_arrived: false,
        };
        assert_eq!(refused.into_parts(), (Outcome::NotSent, None));
        let lost = Answer::Transport {
            may_have_arrived: true,
        };
        assert_eq!(lost.into_parts(), (Outcome::NoAnswer, None));
    }

    #[test]
    fn error_codes_are_read_from_error_bodies_only() {
        let body = br#"{"error":"lock_unavailable","message":"timed out"}"#;
        assert_eq!(error_code(body), Some(ErrorCode::LockUnavailable));
        assert_eq!(error_code(b"Service Unavailable"), None);
    }
}
