//! The operator dashboard: a page and its scripts and styles, plain files under
//! `crates/csms-api/dashboard/` embedded in the binary, so `strom serve` serves it at `/` with no
//! build step, nothing to install and nothing fetched from elsewhere (it works offline). The
//! files need no token: they hold no data; the page asks for an API token and sends it with
//! every call it makes to `/api/v1`, which decides what the token may see and do.

use crate::ApiError;
use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};

/// Scripts only from this origin, as files (no inline script, no `eval`), styles likewise, and
/// requests only to this origin: a value that reaches the page cannot run as code, and the page
/// cannot be framed by another site (clickjacking of the command buttons).
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of the dashboard but the page itself: (name under `/ui/`, content type, content).
const ASSETS: &[(&str, &str, &str)] = &[
    ("app.js", JS, include_str!("../dashboard/app.js")),
    ("api.js", JS, include_str!("../dashboard/api.js")),
    ("live.js", JS, include_str!("../dashboard/live.js")),
    ("dom.js", JS, include_str!("../dashboard/dom.js")),
    ("overview.js", JS, include_str!("../dashboard/overview.js")),
    ("stations.js", JS, include_str!("../dashboard/stations.js")),
    ("commands.js", JS, include_str!("../dashboard/commands.js")),
    ("trace.js", JS, include_str!("../dashboard/trace.js")),
    ("faults.js", JS, include_str!("../dashboard/faults.js")),
    ("transactions.js", JS, include_str!("../dashboard/transactions.js")),
    ("chart.js", JS, include_str!("../dashboard/chart.js")),
    ("tokens.js", JS, include_str!("../dashboard/tokens.js")),
    ("availability.js", JS, include_str!("../dashboard/availability.js")),
    ("style.css", "text/css; charset=utf-8", include_str!("../dashboard/style.css")),
    ("icon.svg", "image/svg+xml", include_str!("../dashboard/icon.svg")),
];

const INDEX: &str = include_str!("../dashboard/index.html");

/// The dashboard's routes: `/` and `/ui/{file}`, without a token.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|headers: HeaderMap| async move { serve(&headers, "text/html; charset=utf-8", INDEX) }))
        .route("/ui/{file}", get(asset))
}

async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, body)) => serve(&headers, content_type, body),
        None => ApiError::not_found("dashboard file").into_response(),
    }
}

/// A file with its validator: browsers keep it but ask every time whether it changed (`no-cache`
/// with an ETag), so a new Ström binary's dashboard is used at once and an unchanged one costs a
/// 304.
fn serve(request: &HeaderMap, content_type: &'static str, body: &'static str) -> Response {
    let etag = format!("\"{}\"", &hex::encode(Sha256::digest(body.as_bytes()))[..32]);
    let unchanged = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == etag || tag.trim() == "*"));
    let status = if unchanged { StatusCode::NOT_MODIFIED } else { StatusCode::OK };
    let mut response = if unchanged { status.into_response() } else { (status, body).into_response() };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower_service::Service;

    async fn get(path: &str, if_none_match: Option<&str>) -> Response {
        let mut request = Request::get(path);
        if let Some(tag) = if_none_match {
            request = request.header(header::IF_NONE_MATCH, tag);
        }
        routes::<()>().call(request.body(Body::empty()).expect("request")).await.expect("answer")
    }

    fn header_of(response: &Response, name: header::HeaderName) -> &str {
        response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    #[tokio::test]
    async fn every_file_is_served_with_its_type_policy_and_validator() {
        let page = get("/", None).await;
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(header_of(&page, header::CONTENT_TYPE), "text/html; charset=utf-8");
        assert_eq!(header_of(&page, header::CONTENT_SECURITY_POLICY), CONTENT_SECURITY_POLICY);
        assert_eq!(header_of(&page, header::CACHE_CONTROL), "no-cache");
        for (name, content_type, body) in ASSETS {
            let response = get(&format!("/ui/{name}"), None).await;
            assert_eq!(response.status(), StatusCode::OK, "{name}");
            assert_eq!(header_of(&response, header::CONTENT_TYPE), *content_type, "{name}");
            assert_eq!(header_of(&response, header::X_CONTENT_TYPE_OPTIONS), "nosniff", "{name}");
            assert!(header_of(&response, header::CONTENT_SECURITY_POLICY).contains("script-src 'self'"), "{name}");
            let etag = header_of(&response, header::ETAG).to_string();
            assert!(etag.starts_with('"') && etag.len() == 34, "{name}: {etag}");
            let again = get(&format!("/ui/{name}"), Some(&etag)).await;
            assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{name}");
            assert!(body.len() < 40_000, "{name} is {} bytes: split it", body.len());
        }
    }

    #[tokio::test]
    async fn an_unknown_file_is_a_404() {
        for path in ["/ui/nope.js", "/ui/..%2Fsrc%2Flib.rs", "/ui/index.html"] {
            assert_eq!(get(path, None).await.status(), StatusCode::NOT_FOUND, "{path}");
        }
    }

    /// The policy forbids inline script, so the page must have none, and every module the page
    /// or a module imports must be one that is served.
    #[test]
    fn the_page_has_no_inline_script_and_every_import_is_served() {
        assert!(!INDEX.contains("<script>"), "inline script in index.html");
        // No inline event handler either (an attribute ` onclick=`, ` onload=`, …).
        let handler = INDEX.match_indices(" on").any(|(at, _)| {
            let rest = &INDEX[at + 3..];
            let name_len = rest.chars().take_while(char::is_ascii_lowercase).count();
            name_len > 0 && rest[name_len..].starts_with('=')
        });
        assert!(!handler, "an inline event handler in index.html");
        let served = |file: &str| ASSETS.iter().any(|(name, _, _)| *name == file);
        for (name, _, body) in ASSETS.iter().filter(|(name, _, _)| name.ends_with(".js")) {
            for line in body.lines().filter(|l| l.starts_with("import ")) {
                let target = line.rsplit("\"./").next().and_then(|rest| rest.split('"').next()).unwrap_or_default();
                assert!(served(target), "{name} imports {target}, which is not served");
            }
        }
        for reference in ["/ui/app.js", "/ui/style.css", "/ui/icon.svg"] {
            assert!(INDEX.contains(reference) && served(&reference[4..]), "{reference}");
        }
    }
}
