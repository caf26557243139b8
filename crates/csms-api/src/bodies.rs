//! The one door for request bodies: the API reads JSON only, and only when the request says it
//! is JSON (`Content-Type: application/json`). A browser sends a cross-origin form or `fetch`
//! without a preflight only as a "simple" request, whose content type can never be
//! `application/json` (Fetch standard, CORS-safelisted request headers); so insisting on it, and
//! sending no CORS approval (the API has none), keeps a web page from commanding stations
//! through an operator's browser, even with `--api-open`.

use crate::ApiError;
use axum::body::HttpBody;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;

/// Whether a `Content-Type` declares JSON: `application/json`, in any letter case, with at most
/// a `charset` parameter, which must be UTF-8 (RFC 8259 §8.1: JSON between systems is UTF-8).
pub(crate) fn declares_json(value: Option<&HeaderValue>) -> bool {
    let Some(text) = value.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mut parts = text.split(';');
    let media_type = parts.next().unwrap_or_default().trim();
    if !media_type.eq_ignore_ascii_case("application/json") {
        return false;
    }
    parts.all(|parameter| match parameter.split_once('=') {
        Some((name, value)) => {
            name.trim().eq_ignore_ascii_case("charset") && value.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
        }
        None => false,
    })
}

/// Refuses, with 415, any request to a method a path serves that carries a body not declared
/// as JSON (`json_only` puts it on every route). A request carries a body unless its framing
/// says it ends at once (no `Content-Length`, or 0, and no chunks), whatever its method.
pub(crate) async fn require_json(request: Request, next: Next) -> Response {
    let has_body = !request.body().is_end_stream();
    if has_body && !declares_json(request.headers().get(header::CONTENT_TYPE)) {
        return ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "a request body must be JSON, sent with Content-Type: application/json",
        )
        .into_response();
    }
    next.run(request).await
}

/// `methods` with their bodies checked by `require_json`. Only the methods a path serves are
/// checked: any other is answered 405 (with Allow) whatever its body, as for a request without
/// one, since no handler would read it (a fuzzer found PATCH with a text body answered 415).
pub(crate) fn json_only<S>(methods: MethodRouter<S>) -> MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    methods.route_layer(axum::middleware::from_fn(require_json))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_json_content_types_are_json() {
        let cases = [
            ("application/json", true),
            ("Application/JSON", true),
            ("application/json; charset=utf-8", true),
            ("application/json;charset=\"UTF-8\"", true),
            ("application/json; charset=iso-8859-1", false),
            ("application/json; boundary=x", false),
            ("application/json;", false),
            ("text/plain", false),
            ("text/plain; application/json", false),
            ("application/x-www-form-urlencoded", false),
            ("multipart/form-data; boundary=x", false),
            ("application/jsonp", false),
            ("application/json-seq", false),
            ("", false),
        ];
        for (text, json) in cases {
            assert_eq!(declares_json(Some(&HeaderValue::from_static(text))), json, "{text:?}");
        }
        assert!(!declares_json(None));
    }
}
