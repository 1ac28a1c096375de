//! pqcall's router merged into an existing axum application that has its own login.
//! The app issues the JWTs (HS256 with a secret it shares with pqcall) and publishes
//! app events to its users through pqcall's resumable streams.
//!
//! ```sh
//! cargo run --example embed_router
//! # then: curl -XPOST 'localhost:3000/login?user=alice'   (prints a token)
//! #       curl -XPOST localhost:3000/orders/42/pay -H "Authorization: Bearer <token>"
//! ```

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use pqcall::{AppState, Config};
use serde_json::json;

const SHARED_SECRET: &[u8] = b"the secret the app and pqcall share, 32+ bytes";

#[derive(Clone)]
struct App {
    pqcall: AppState,
}

#[derive(serde::Deserialize)]
struct Login {
    user: String,
}

/// The app's own login (a stand-in for a real one): returns a token pqcall accepts.
async fn login(
    State(app): State<App>,
    Query(q): Query<Login>,
) -> Result<Json<serde_json::Value>, StatusCode> {
    let token = app
        .pqcall
        .mint_token(&q.user, 3600)
        .map_err(|_| StatusCode::BAD_REQUEST)?;
    Ok(Json(json!({ "token": token })))
}

/// An app action that notifies the user's devices through pqcall.
async fn pay(
    State(app): State<App>,
    headers: HeaderMap,
    Path(order): Path<u64>,
) -> Result<Json<serde_json::Value>, StatusCode> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(StatusCode::UNAUTHORIZED)?;
    let user = app
        .pqcall
        .verify_token(token)
        .map_err(|_| StatusCode::UNAUTHORIZED)?;
    let n = pqcall::publish_app_event(
        &app.pqcall,
        vec![user],
        "app.order_paid",
        json!({ "order": order }),
    )
    .await
    .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?;
    Ok(Json(json!({ "notified_users": n })))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let pqcall = AppState::new(Config::default(), SHARED_SECRET);
    let app = Router::new()
        .route("/login", post(login))
        .route("/orders/{id}/pay", post(pay))
        .route("/hello", get(|| async { "the host application" }))
        .with_state(App {
            pqcall: pqcall.clone(),
        })
        .merge(pqcall::api_router(pqcall.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = tokio::signal::ctrl_c().await;
            // pqcall's streams end themselves, so the server can stop.
            pqcall.shutdown_token().cancel();
        })
        .await?;
    Ok(())
}
