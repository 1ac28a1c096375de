//! The browser demo at `/`: `index.html`, `demo.css` and `dist/*.js`, nothing else of
//! `web/` (its sources, tests and package files stay private). Built into the binary, so
//! `pqcall serve --dev` serves it from any directory; `--web-dir` reads it from a
//! folder instead (for development: a rebuilt bundle shows without rebuilding the
//! server). Under a Content-Security-Policy that allows only the page's own scripts,
//! styles and connections.

use std::path::Path;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

/// The demo's files, as built into the binary (read from `web/` at run time in debug
/// builds).
#[derive(rust_embed::Embed)]
#[folder = "web/"]
#[include = "index.html"]
#[include = "demo.css"]
#[include = "dist/*.js"]
struct Built;

/// The demo's Content-Security-Policy: its own files only, no plugins, no framing.
const DEMO_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; worker-src 'self'; media-src 'self'; \
    object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The demo's routes: the built-in copy, or the files of `web_dir`.
pub(crate) fn demo(web_dir: Option<&Path>) -> Router {
    let files = match web_dir {
        Some(web) => {
            let index = ServeFile::new(web.join("index.html"));
            Router::new()
                .route_service("/", index.clone())
                .route_service("/index.html", index)
                .route_service("/demo.css", ServeFile::new(web.join("demo.css")))
                .nest_service("/dist", ServeDir::new(web.join("dist")))
        }
        None => Router::new()
            .route("/", get(built))
            .route("/index.html", get(built))
            .route("/demo.css", get(built))
            .route("/dist/{*file}", get(built)),
    };
    // Browsers ask for it whatever the page says.
    let files = files.route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }));
    let header =
        |name, value| SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value));
    files
        .layer(header(header::CONTENT_SECURITY_POLICY, DEMO_CSP))
        .layer(header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header(header::REFERRER_POLICY, "no-referrer"))
}

/// A built-in file, by its path.
async fn built(uri: Uri) -> Response {
    let path = match uri.path().trim_start_matches('/') {
        "" => "index.html",
        p => p,
    };
    let Some(file) = Built::get(path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mime = match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        _ => "application/octet-stream",
    };
    ([(header::CONTENT_TYPE, mime)], file.data).into_response()
}
