//! [`ApiJson`]: axum's `Json` extractor with our error shape.
//!
//! Plain `Json<T>` rejects a bad body with a plain-text message and a 400 or
//! 422 depending on the kind of mistake. Clients of this API get one rule
//! instead: any body that is not the expected JSON is a 422 in the usual
//! `{"error", "message"}` shape, and the message names the field (axum uses
//! `serde_path_to_error`, so it says `quantity: invalid type: string …`).

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;
use stocklock_api::ErrorCode;

use crate::error::Error;

pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(rejection_to_error(rejection)),
        }
    }
}

fn rejection_to_error(rejection: JsonRejection) -> Error {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => Error::UnsupportedMediaType(
            "the body must be JSON, with `Content-Type: application/json`".to_owned(),
        ),
        other => Error::invalid(ErrorCode::InvalidBody, other.body_text()),
    }
}
