//! No NUL in what the API is asked. PostgreSQL text holds no NUL character (SQLite's does), so a
//! NUL in a path or a query (`%00`, its only spelling in a URI) would reach the database as a
//! failure, a 500 on one backend and an answer on the other; it is refused here, the same on
//! both, with a 400 that says why. The document's string parameters say so with a pattern.

use crate::ApiError;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Whether a URI's path and query hold a NUL: `%00` (a raw NUL byte is no URI at all).
fn holds_nul(path_and_query: &str) -> bool {
    path_and_query.contains("%00")
}

pub(crate) async fn refuse_nul(request: Request, next: Next) -> Response {
    let uri = request.uri();
    if uri.path_and_query().is_some_and(|pq| holds_nul(pq.as_str())) {
        return ApiError::bad_request("a NUL character (%00) is not allowed in a path or query").into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_encoded_nul_is_one() {
        assert!(holds_nul("/api/v1/stations/%00"));
        assert!(holds_nul("/api/v1/faults?station_id=a%00b"));
        assert!(!holds_nul("/api/v1/faults?station_id=%2500"));
        assert!(!holds_nul("/api/v1/faults?limit=100"));
    }
}
