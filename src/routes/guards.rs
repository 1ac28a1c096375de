//! Guards in front of the routes: development mode's `Host` check, and the rate per
//! client address of the routes that take no token (docs/PROTOCOL.md §1.5, §2.4).

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use pqcall_signaling::Error;

use crate::config::Config;
use crate::error::ApiError;
use crate::serve::client_of;
use crate::state::AppState;

/// In development mode (the layer is there only then), only requests addressed to this
/// machine by a loopback name (`localhost`, `*.localhost`, `127.0.0.0/8`, `[::1]`; with
/// `--force-dev`, also any IP address, as a LAN test reaches it) are served: a web page
/// the developer visits cannot reach the dev server by pointing its own host name at
/// this machine (DNS rebinding needs a name) and mint tokens. 403 otherwise.
pub async fn dev_host(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let config = &state.0.config;
    let host = req.uri().host().map(str::to_owned).or_else(|| {
        let h = req.headers().get(axum::http::header::HOST)?.to_str().ok()?;
        let authority: axum::http::uri::Authority = h.parse().ok()?;
        Some(authority.host().to_owned())
    });
    if host.is_some_and(|h| is_local_host(&h, config.force_dev)) {
        return next.run(req).await;
    }
    let refused = Error::Forbidden("development mode answers only requests addressed to localhost");
    ApiError(refused).into_response()
}

/// Whether `host` (from a URI: IPv6 in brackets) names this machine by loopback, or is
/// an IP address at all when `any_ip`.
fn is_local_host(host: &str, any_ip: bool) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host == "localhost" || host.ends_with(".localhost") {
        return true;
    }
    let ip = host.trim_start_matches('[').trim_end_matches(']');
    ip.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback() || any_ip)
}

/// The rate of the routes that need no token (health, metrics, the API document,
/// development tokens), per client address: with no user to charge, the address pays.
/// A layer of those routes only (see `api_router`).
pub(crate) struct OpenRoutes {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
}

impl OpenRoutes {
    /// `--ip-rate-per-sec` a second per address, `--ip-rate-burst` at once.
    pub fn new(config: &Config) -> Self {
        let nz = |n: u32| NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
        let quota =
            Quota::per_second(nz(config.ip_rate_per_sec)).allow_burst(nz(config.ip_rate_burst));
        OpenRoutes {
            limiter: RateLimiter::keyed(quota),
        }
    }

    /// Forgets addresses whose buckets are full again.
    pub fn prune(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// 429 `rate_limited` when the client's address has used up its requests to the routes
/// that need no token.
pub async fn open_routes(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let open = &state.0.open_routes;
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    if let Some(peer) = peer {
        if let Err(not_until) = open.limiter.check_key(&client_of(peer.ip())) {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let refused = Error::RateLimited {
                what: "requests per second from this address",
                retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
            };
            return ApiError(refused).into_response();
        }
    }
    next.run(req).await
}
