//! The error answers of the chat endpoints: 401 for unsigned or stale
//! requests, 400 for payloads that cannot be read (naming the problem),
//! 404 when the platform is not enabled. Nothing is stored for any of them.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::platform::answer::Malformed;
use crate::platform::signature::SignatureError;

/// A refused request: its status and the reason sent back.
#[derive(Debug)]
pub struct Rejection {
    pub status: StatusCode,
    pub reason: String,
}

impl Rejection {
    pub fn malformed(reason: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            reason: format!("malformed request: {}", reason.into()),
        }
    }

    pub fn disabled(platform: &str, key: &str) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            reason: format!("{platform} is not enabled here ({key} = false)"),
        }
    }
}

impl From<SignatureError> for Rejection {
    fn from(e: SignatureError) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            reason: format!("unauthorized: {e}"),
        }
    }
}

impl From<Malformed> for Rejection {
    fn from(e: Malformed) -> Self {
        Rejection::malformed(e.0)
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        if self.status == StatusCode::UNAUTHORIZED {
            metrics::counter!("shipmate_http_unauthorized_total").increment(1);
        }
        (self.status, format!("{}\n", self.reason)).into_response()
    }
}
