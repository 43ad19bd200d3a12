//! `/dashboard`: the operator's web dashboard, served from files compiled into the binary (no
//! CDN, works offline) by every process that serves the API, so it is there in the embedded
//! mode and on any process of a cluster.
//!
//! The server renders one HTML shell; a small hand-written script draws every page in the
//! browser from the public JSON API, with the token the user signed in with as
//! `Authorization: Bearer`. The dashboard has no API of its own and reads nothing the API does
//! not let that token read. Its pages are not API routes, so they are not in the OpenAPI
//! document; a path under `/dashboard/` that is not an asset is the API's problem+json `404`.
//!
//! The assets' URLs carry a hash of their content, so a browser may keep them for good and
//! still fetches a new build's at once; the shell itself is never cached.

use std::sync::LazyLock;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::AppState;

const SHELL: &str = include_str!("../assets/dashboard/index.html");
const SCRIPT: &str = include_str!("../assets/dashboard/app.js");
const STYLE: &str = include_str!("../assets/dashboard/app.css");
const ICON: &str = include_str!("../assets/dashboard/icon.svg");

/// Only this origin's script, style and API; no inline script, no framing.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/dashboard") }))
        .route("/dashboard", get(shell))
        .route(
            "/dashboard/",
            get(|| async { Redirect::permanent("/dashboard") }),
        )
        .route("/dashboard/app.js", get(script))
        .route("/dashboard/app.css", get(style))
        .route("/dashboard/icon.svg", get(icon))
}

/// The shell, with the assets' versioned URLs filled in.
static RENDERED_SHELL: LazyLock<String> = LazyLock::new(|| {
    SHELL
        .replace(
            "{{script}}",
            &format!("/dashboard/app.js?v={}", version(SCRIPT)),
        )
        .replace(
            "{{style}}",
            &format!("/dashboard/app.css?v={}", version(STYLE)),
        )
});

/// `text` as the value of a double-quoted HTML attribute.
fn escape_attribute(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A short hash of an asset's content (FNV-1a), stable across builds of the same content.
fn version(content: &str) -> String {
    let hash = content
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        });
    format!("{:012x}", hash & 0xffff_ffff_ffff)
}

fn security_headers() -> [(HeaderName, HeaderValue); 3] {
    [
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
    ]
}

async fn shell(State(state): State<AppState>) -> Response {
    shell_page(state.trace_url.as_deref())
}

/// The shell, naming the trace viewer (if any) the order page links to.
fn shell_page(trace_url: Option<&str>) -> Response {
    let trace_url = trace_url.map_or_else(String::new, escape_attribute);
    (
        security_headers(),
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        RENDERED_SHELL.replace("{{trace_url}}", &trace_url),
    )
        .into_response()
}

/// `?v=<hash>` as the shell writes it.
#[derive(Deserialize)]
struct AssetVersion {
    v: Option<String>,
}

/// An asset; kept for a year when asked for by the version the shell names, revalidated
/// otherwise.
fn asset(content: &'static str, content_type: &'static str, asked: Option<&str>) -> Response {
    let cache = if asked == Some(version(content).as_str()) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    (
        security_headers(),
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, cache),
        ],
        content,
    )
        .into_response()
}

async fn script(Query(asked): Query<AssetVersion>) -> Response {
    asset(SCRIPT, "text/javascript; charset=utf-8", asked.v.as_deref())
}

async fn style(Query(asked): Query<AssetVersion>) -> Response {
    asset(STYLE, "text/css; charset=utf-8", asked.v.as_deref())
}

async fn icon(Query(asked): Query<AssetVersion>) -> Response {
    asset(ICON, "image/svg+xml", asked.v.as_deref())
}

#[cfg(test)]
mod tests {
    use axum::body::{Body, to_bytes};
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt as _;

    use super::*;

    const TRACE_VIEWER: &str = "http://viewer.example/t/{trace_id}?a=1&b=\"2\"";

    fn app() -> Router {
        Router::new()
            .route(
                "/dashboard",
                get(|| async { shell_page(Some(TRACE_VIEWER)) }),
            )
            .route("/dashboard/app.js", get(script))
            .route("/dashboard/app.css", get(style))
    }

    async fn get_text(app: Router, uri: &str) -> (StatusCode, axum::http::HeaderMap, String) {
        let response = app
            .oneshot(Request::get(uri).body(Body::empty()).expect("a request"))
            .await
            .expect("an answer");
        let status = response.status();
        let headers = response.headers().clone();
        let body = to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a body");
        (
            status,
            headers,
            String::from_utf8(body.to_vec()).expect("text"),
        )
    }

    #[tokio::test]
    async fn the_shell_names_its_assets_by_version_and_forbids_inline_script() {
        let (status, headers, html) = get_text(app(), "/dashboard").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert!(
            headers[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .expect("text")
                .contains("script-src 'self';")
        );
        let script = format!("/dashboard/app.js?v={}", version(SCRIPT));
        assert!(html.contains(&script), "{html}");
        assert!(!html.contains("{{"), "a placeholder left: {html}");
        assert!(!html.contains("<script>"), "inline script: {html}");
    }

    #[tokio::test]
    async fn the_shell_names_the_trace_viewer_escaped_for_its_attribute() {
        let (_, _, html) = get_text(app(), "/dashboard").await;
        assert!(
            html.contains(
                r#"<meta name="orderflow-trace-url" content="http://viewer.example/t/{trace_id}?a=1&amp;b=&quot;2&quot;">"#
            ),
            "{html}"
        );
    }

    #[tokio::test]
    async fn an_asset_asked_for_by_its_version_is_kept_and_any_other_is_revalidated() {
        let current = format!("/dashboard/app.js?v={}", version(SCRIPT));
        let (status, headers, body) = get_text(app(), &current).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, SCRIPT);
        assert!(
            headers[header::CACHE_CONTROL]
                .to_str()
                .expect("text")
                .contains("immutable")
        );
        let (_, headers, _) = get_text(app(), "/dashboard/app.css?v=old").await;
        assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
    }

    #[test]
    fn a_version_changes_with_the_content() {
        assert_ne!(version("a"), version("b"));
        assert_eq!(version("a").len(), 12);
    }
}
