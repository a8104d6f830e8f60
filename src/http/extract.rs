//! [`ApiJson`]: axum's `Json` extractor with our error shape and rules;
//! [`SkuPath`]: a route's `{sku}`, parsed, with the same;
//! [`After`]: the ledger page's `?after=` cursor, with the same.
//!
//! Plain `Json<T>` rejects a bad body with a plain-text message and a 400 or
//! 422 depending on the kind of mistake, and — since serde lets a struct be
//! written as an array — takes `["sku", 2]` for `{"sku": "sku", "quantity":
//! 2}`. Clients of this API get one rule instead: the body is a JSON object
//! declared as JSON (else 415), no larger than axum's 2 MiB default (else
//! 413), and of the expected shape (else 422, whose message names the field:
//! axum uses `serde_path_to_error`, so it says `quantity: invalid type …`).
//! Every rejection has the usual `{"error", "message"}` shape.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;
use stocklock_api::ErrorCode;

use crate::domain::{ParseError, Sku};
use crate::error::Error;

pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !declares_json(&request) {
            return Err(Error::UnsupportedMediaType(
                "the body must be JSON, with `Content-Type: application/json`".to_owned(),
            ));
        }
        let body = Bytes::from_request(request, state).await.map_err(body_error)?;
        if body.trim_ascii_start().first() != Some(&b'{') {
            return Err(Error::invalid(
                ErrorCode::InvalidBody,
                "the body must be a JSON object",
            ));
        }
        match axum::Json::<T>::from_bytes(&body) {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_error(rejection)),
        }
    }
}

/// `application/json`, or any `application/…+json`, as axum's own check.
fn declares_json(request: &Request) -> bool {
    let Some(declared) = request.headers().get(header::CONTENT_TYPE) else {
        return false;
    };
    let essence = declared
        .to_str()
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence.starts_with("application/") && essence.ends_with("+json")
}

fn body_error(rejection: BytesRejection) -> Error {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Error::PayloadTooLarge("the body is larger than 2 MiB".to_owned())
    } else {
        Error::invalid(ErrorCode::InvalidBody, rejection.body_text())
    }
}

fn json_error(rejection: JsonRejection) -> Error {
    Error::invalid(ErrorCode::InvalidBody, rejection.body_text())
}

/// The `{sku}` of a route, parsed as [`Sku`]. axum's own `Path` refuses a
/// segment that is not UTF-8 after percent-decoding (`/products/%FF`) with
/// a plain-text 400; here that is what it is, an invalid SKU: 422
/// `invalid_sku` in the usual shape.
pub struct SkuPath(pub Sku);

impl<S: Send + Sync> FromRequestParts<S> for SkuPath {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(raw)) => Ok(SkuPath(Sku::parse(&raw)?)),
            Err(_) => Err(ParseError::SkuAlphabet.into()),
        }
    }
}

/// The query of `GET /admin/ledger/{sku}`: `after=N`, a whole number ≥ 0,
/// or nothing (0). Anything else — another parameter, `after` twice, a
/// value that is not a whole number — is a 422 `invalid_query` naming it,
/// rather than a page silently read from somewhere else.
pub struct After(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for After {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parse_after(parts.uri.query().unwrap_or_default()).map(After)
    }
}

fn parse_after(query: &str) -> Result<i64, Error> {
    let mut after = None;
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if name != "after" {
            return Err(invalid_query(format!(
                "unknown query parameter `{name}`: only `after` is known"
            )));
        }
        if after.is_some() {
            return Err(invalid_query("`after` is given twice".to_owned()));
        }
        let parsed = value
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0 && value.bytes().all(|b| b.is_ascii_digit()));
        after = Some(parsed.ok_or_else(|| {
            invalid_query(format!(
                "`after` must be a whole number from 0 (the `next` of the previous page), not `{value}`"
            ))
        })?);
    }
    Ok(after.unwrap_or(0))
}

fn invalid_query(message: String) -> Error {
    Error::invalid(ErrorCode::InvalidQuery, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_is_a_whole_number_from_zero_and_nothing_else() {
        assert_eq!(parse_after("").ok(), Some(0));
        assert_eq!(parse_after("after=0").ok(), Some(0));
        assert_eq!(parse_after("after=7421").ok(), Some(7421));
        for bad in [
            "after=-1",
            "after=+1",
            "after=",
            "after=1.5",
            "after=x",
            "after=1&after=2",
            "from=1",
            "after",
        ] {
            assert!(parse_after(bad).is_err(), "{bad}");
        }
    }
}
